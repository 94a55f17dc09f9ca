"""The blog's product-catalogue demo on the local stack (`make demo`)."""
