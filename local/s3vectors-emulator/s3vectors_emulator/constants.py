"""Service limits and fixed values of Amazon S3 Vectors, as the emulator enforces them.

The one place in the emulator where a limit is written down. Sources: botocore's s3vectors model
and https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-limitations.html
(docs/emulator.md says which rule comes from where). tests/sql/test_facts_tie.py ties the values
that the function (lambda/s3vl_lambda/limits.py) and SQL (s3vl.limits()) also hold.
"""

from __future__ import annotations

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# Names
BUCKET_NAME_MIN, BUCKET_NAME_MAX = 3, 63
INDEX_NAME_MIN, INDEX_NAME_MAX = 3, 63
VECTOR_KEY_MIN, VECTOR_KEY_MAX = 1, 1024

# Index shape
DIMENSION_MIN, DIMENSION_MAX = 1, 4096
DATA_TYPES = ("float32",)
DISTANCE_METRICS = ("cosine", "euclidean")
NON_FILTERABLE_KEYS_MAX = 10
METADATA_KEY_NAME_MIN, METADATA_KEY_NAME_MAX = 1, 63

# Per-call batch sizes
PUT_VECTORS_MAX = 500
GET_VECTORS_MAX = 100
DELETE_VECTORS_MAX = 500

# Metadata per vector (sizes are UTF-8 bytes of the compact JSON encoding, see docs/emulator.md)
METADATA_TOTAL_BYTES_MAX = 40 * 1024
METADATA_FILTERABLE_BYTES_MAX = 2 * 1024
METADATA_KEYS_MAX = 50

# Listing
LIST_VECTORS_MAX_RESULTS_MIN, LIST_VECTORS_MAX_RESULTS_MAX = 1, 1000
LIST_VECTORS_MAX_RESULTS_DEFAULT = 500
LIST_SEGMENT_COUNT_MIN, LIST_SEGMENT_COUNT_MAX = 1, 16
LIST_BUCKETS_MAX_RESULTS_MIN, LIST_BUCKETS_MAX_RESULTS_MAX = 1, 500
LIST_BUCKETS_MAX_RESULTS_DEFAULT = 500
NEXT_TOKEN_MAX = 2048
# List tokens are random ids kept on the server (backend/pagetokens.py): the newest this many.
LIST_TOKEN_CACHE_MAX = 100_000

# QueryVectors
TOP_K_MIN, TOP_K_MAX = 1, 10_000
# Results above this many are returned in pages linked by nextToken: 100, the page size that
# clients of the service report (Spice.ai's QUERY_VECTORS_PAGE_SIZE; AWS publishes none), so paging
# runs on every topK > 100.
QUERY_PAGE_SIZE_DEFAULT = 100
QUERY_TOKEN_TTL_SECONDS = 300.0
QUERY_TOKEN_CACHE_MAX = 1000
FILTER_CONSTRAINTS_MAX = 100
# JSON nesting depth of a filter (each object and array counts one level): a project choice, AWS
# documents none (docs/protocol.md). Deeper is a ValidationException, never a deep recursion.
FILTER_DEPTH_MAX = 32

# Index modes. Buckets created before this instant may hold CLASSIC indexes (UpdateIndexMode doc);
# the emulator's --classic-buckets switch dates new buckets one day before it.
INDEX_MODES = ("CLASSIC", "ENHANCED")
CLASSIC_CUTOFF_EPOCH = 1790726400.0  # 2026-09-30T00:00:00Z
# CLASSIC applies the filter during the search: the emulator takes this many times topK nearest
# vectors, unfiltered, and keeps those that pass (a project choice; AWS publishes no figure).
CLASSIC_CANDIDATE_FACTOR = 2

# Full-text search
TEXT_SEARCH_CONFIGS_MAX = 10
TEXT_BUILD_SECONDS_DEFAULT = 1.0  # how long a configuration added to an index stays BUILDING
# A configuration added to an index is backfilled this many vectors at a time: the first slice
# inside the request, the rest by a background thread, each slice under the write lock, so
# other requests are served in between (as AWS keeps serving while it builds).
TEXT_BACKFILL_SLICE = 5_000

# Write throughput per index (PutVectors + DeleteVectors), enforced only when asked for
# (--write-limits): past either the service answers 429 TooManyRequestsException.
WRITE_REQUESTS_PER_SECOND = 1_000.0
WRITE_VECTORS_PER_SECOND = 2_500.0

# Whole request
REQUEST_PAYLOAD_MAX_BYTES = 20 * 1024 * 1024
