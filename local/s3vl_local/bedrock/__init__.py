"""A local Amazon Bedrock Runtime (InvokeModel for Titan Text Embeddings V2) that embeds with a
real sentence-embedding model shipped on PyPI (all-MiniLM-L6-v2), offline, on the CPU."""
