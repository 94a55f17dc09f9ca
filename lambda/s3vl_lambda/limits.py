"""Every Amazon S3 Vectors and AWS Lambda limit the function enforces, in one place.

Sources: botocore's s3vectors model (tests/unit/test_lambda_limits.py checks it), the S3 Vectors
limitations page
https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-limitations.html
and Lambda's quotas https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html.
The protocol defaults (docs/protocol.md) live here too so the doc, the validators and the tests
agree. SQL's copy is s3vl.limits() (sql/10_core/20_limits.sql) and the emulator's
local/s3vectors-emulator/s3vectors_emulator/constants.py; tests/sql/test_facts_tie.py ties every
shared value.
"""

from __future__ import annotations

# Vectors
MIN_DIMENSION = 1
MAX_DIMENSION = 4096
FLOAT32_MAX = 3.4028234663852886e38  # larger magnitudes overflow to infinity in float32

# Keys and names
MIN_KEY_LENGTH = 1
MAX_KEY_LENGTH = 1024
MIN_NAME_LENGTH = 3  # vector bucket and index names
MAX_NAME_LENGTH = 63
MAX_ARN_LENGTH = 2048

# Metadata (per vector)
MAX_METADATA_BYTES = 40 * 1024
MAX_FILTERABLE_METADATA_BYTES = 2 * 1024
MAX_METADATA_KEYS = 50

# QueryVectors
MIN_TOP_K = 1
MAX_TOP_K = 10_000  # service maximum since 2026-06 (results paged through nextToken)
DEFAULT_TOP_K = 10
MAX_QUERY_PAGES = 1_000  # guard against a service that keeps returning tokens
MIN_MAX_PAGES = 1  # query_vectors max_pages (page by page); at most MAX_QUERY_PAGES
MIN_NEXT_TOKEN_LENGTH = 1  # QueryVectorsNextToken, the page_token a caller hands back
MAX_NEXT_TOKEN_LENGTH = 4096

# Full-text and hybrid search (queryTexts) and text search configurations
MIN_QUERY_TEXTS = 1
MAX_QUERY_TEXTS = 10
MIN_QUERY_TEXT_LENGTH = 1
MAX_QUERY_TEXT_LENGTH = 1024
MIN_METADATA_KEY_LENGTH = 1
MAX_METADATA_KEY_LENGTH = 63
MIN_TEXT_SEARCH_CONFIGS = 1  # per add_text_search / drop_text_search request
MAX_TEXT_SEARCH_CONFIGS = 10
TEXT_SEARCH_LANGUAGES = ("en", "fr", "es", "pt", "it", "de", "nl", "zh", "ja", "ko")
INDEX_MODES = ("CLASSIC", "ENHANCED")

# metadata_filter nesting (each object and array one level): a project limit, not the
# service's (AWS documents none); SQL calls it max_filter_depth.
MAX_FILTER_DEPTH = 32
# Values one filter compares (an $in list of 3 counts 3): the service's QueryVectors limit, applied
# to the filters the function evaluates itself too (operations/manage.py).
MAX_FILTER_CONSTRAINTS = 100

# query_vectors_batch (a protocol limit: bounds one synchronous invocation)
MAX_BATCH_QUERIES = 100
BATCH_CONCURRENCY = 8
# put_vectors/delete_vectors calls in flight at once within one invocation
WRITE_CONCURRENCY = 4

# Per-call limits; larger requests are split into several calls
MAX_PUT_VECTORS_PER_CALL = 500
MAX_DELETE_KEYS_PER_CALL = 500
MAX_GET_KEYS_PER_CALL = 100
MAX_REQUEST_BYTES = 20 * 1024 * 1024
REQUEST_BYTES_HEADROOM = 64 * 1024  # envelope around the vectors in one PutVectors body

# ListVectors
MIN_LIST_MAX_RESULTS = 1
MAX_LIST_MAX_RESULTS = 1000
DEFAULT_LIST_MAX_RESULTS = 100
MIN_SEGMENT_COUNT = 1
MAX_SEGMENT_COUNT = 16

DISTANCE_METRICS = ("cosine", "euclidean")

# Management by filter (count, list, delete: operations/manage.py)
DEFAULT_MANAGE_SEGMENTS = 8  # ListVectors segments read in parallel
MIN_TIME_BUDGET_MS = 100  # time_budget_ms: no new page starts after this long
MAX_TIME_BUDGET_MS = 900_000  # Lambda's longest timeout
MAX_RESUME_TOKEN_LENGTH = 65_536  # up to 16 segments' ListVectors tokens, base64
DEFAULT_LIST_MATCHES = 1000  # list: matching vectors one answer carries
MAX_LIST_MATCHES = 10_000
LIST_ANSWER_BYTES = 4 * 1024 * 1024  # list: metadata bytes one answer carries, under 6 MB
# update_metadata: vector ids one invocation patches (SQL sends at most this many)
MAX_UPDATE_IDS = 5000

# Lambda's payload limits: a synchronous (RequestResponse) request or response is at most 6 MB, an
# asynchronous (Event) request 1 MB. The local Lambda endpoint enforces these too.
MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_EVENT_PAYLOAD_BYTES = 1024 * 1024
# A bigger answer would reach SQL only as an opaque invocation failure, so the handler returns a
# ValidationError instead.
MAX_RESPONSE_BYTES = MAX_INVOKE_PAYLOAD_BYTES
RESPONSE_BYTES_HEADROOM = 1024  # request_id, execution_time_ms and the JSON around the result

# Partitioned logical indexes (docs/protocol.md, "Partitioned requests"): physical indexes one
# request may name, and service calls one invocation runs at once across them (also rank_vectors'
# parallel GetVectors calls). SQL's copies: max_partitions and partition_concurrency.
MAX_PARTITIONS = 1000
PARTITION_CONCURRENCY = 16
MAX_PARTITION_TOKEN_LENGTH = 1024 * 1024  # the function's own cross-partition page token
# rank_vectors (the prefilter plan): keys one request may rank. SQL's prefilter_max_keys is lower.
MAX_RANK_KEYS = 100_000
# Embeddings (Amazon Bedrock, Titan Text Embeddings V2): the model's limits and this protocol's.
TITAN_TEXT_EMBEDDINGS_V2 = "amazon.titan-embed-text-v2:0"
EMBEDDING_MODEL_DIMENSIONS = {TITAN_TEXT_EMBEDDINGS_V2: (256, 512, 1024)}
MIN_EMBED_TEXT_LENGTH = 1
MAX_EMBED_TEXT_LENGTH = 50_000  # characters; Titan V2 also stops at 8,192 tokens
MIN_EMBED_TEXTS = 1
MAX_EMBED_TEXTS = 100  # per embed request: 100 x 1024 floats stays far under the 6 MB answer
EMBED_CONCURRENCY = 8  # InvokeModel calls in flight at once within one invocation
