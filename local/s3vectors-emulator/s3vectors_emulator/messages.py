"""The message texts the emulator answers with, where the service's own text is known.

Verbatim from a public test suite run against the real service (docs/emulator.md, "Message
texts", lists which texts are the service's and which are the emulator's own). The constraint
form (`1 validation error detected. ...`) is built by exceptions.constraint_error.
"""

from __future__ import annotations

BUCKET_NOT_FOUND = "The specified vector bucket could not be found"
# Also when the bucket itself is missing: the service names the index, not the bucket.
INDEX_NOT_FOUND = "The specified index could not be found"
BUCKET_EXISTS = "A vector bucket with the specified name already exists"
BUCKET_NOT_EMPTY = "The specified vector bucket is not empty"
POLICY_NOT_FOUND = "The specified vector bucket policy could not be found"
INVALID_BUCKET_NAME = "Invalid vector bucket name"
INDEX_FORMS = "Must specify either indexArn or both vectorBucketName and indexName"
# Known as "...vectorBucketName or vectorBucketArn but not both"; the start follows INDEX_FORMS.
BUCKET_FORMS = "Must specify either vectorBucketName or vectorBucketArn but not both"

# The emulator's own texts, in the form of the service's nearest known one.
INDEX_EXISTS = "An index with the specified name already exists"
INVALID_INDEX_NAME = "Invalid index name"
RESOURCE_NOT_FOUND = "The specified resource could not be found"
# AWS documents the 429 TooManyRequestsException of PutVectors/DeleteVectors, not its text.
THROTTLED = "Rate exceeded"


def invalid_record(key: str, reason: str) -> str:
    """`Invalid record for key 'k': <reason>`: the service's form for a bad vector in PutVectors."""
    return f"Invalid record for key '{key}': {reason}"


def wrong_length(key: str, dimension: int, length: int) -> str:
    """The service's text for a vector whose length is not the index dimension."""
    return invalid_record(key, f"vector must have length {dimension}, but has length {length}")
