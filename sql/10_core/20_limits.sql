-- Every limit the SQL side checks, in one place. Service limits come from botocore's s3vectors
-- model and https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-limitations.html,
-- Lambda's from https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html. The
-- function's copy is lambda/s3vl_lambda/limits.py, the emulator's
-- s3vectors_emulator/constants.py; tests/sql/test_facts_tie.py ties every row to them (or
-- records that only SQL has it), so a new row needs an entry there.

CREATE OR REPLACE FUNCTION s3vl.limits()
RETURNS TABLE (name text, min_value integer, max_value integer, description text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  VALUES
    ('dimension',       1,     4096, 'length of a vector (S3 Vectors index dimension)'),
    ('top_k',           1,    10000, 'query_vectors results per query (service maximum)'),
    ('max_results',     1,     1000, 'list_vectors vectors per page'),
    ('segment_count',   1,       16, 'list_vectors parallel segments'),
    ('segment_index',   0,       15, 'list_vectors segment number, below segment_count'),
    ('vector_id_length', 1,    1024, 'characters in a vector key'),
    ('index_arn_length', 1,    2048, 'characters in an index ARN'),
    ('query_texts',     1,       10, 'metadata keys searched by one text or hybrid query'),
    ('query_text_length', 1,   1024, 'characters in one full-text query string'),
    ('metadata_key_length', 1,     63, 'characters in a searchable (text search) metadata key'),
    ('timeout_seconds', 1,      900, 'Lambda call timeout (aws_lambda.request_timeout_ms / 1000)'),
    ('index_name_length', 1,     63, 'characters in a registry (friendly) index name'),
    ('metadata_keys',   0,       50, 'keys in one vector''s metadata'),
    ('metadata_bytes',  0,    40960, 'one vector''s metadata as compact UTF-8 JSON'),
    ('filterable_metadata_bytes', 0, 2048, 'one vector''s filterable metadata (keys not declared non-filterable)'),
    ('invoke_payload_bytes', 1, 6291456, 'one synchronous Lambda request payload (6 MB)'),
    ('event_payload_bytes', 1, 1048576, 'one asynchronous (Event) Lambda request payload (1 MB)'),
    ('batch_queries',   1,      100, 'query vectors per query_vectors_batch invocation'),
    ('cache_ttl_seconds', 1, 604800, 's3vl.set_cache time to live (up to 7 days)'),
    ('max_candidates',  1,    10000, 'query_vectors_where/query_table neighbours examined (QueryVectors topK)'),
    ('pages_per_call',  1,      100, 'QueryVectors pages one paged invocation reads (also at most timeout_seconds)'),
    ('page_token_length', 1,   4096, 'characters in a QueryVectors page token'),
    ('max_attempts',    1,     1000, 'attempts per Lambda invocation when Lambda throttles or fails with 5xx (a safety cap: retries stop at timeout_seconds)'),
    ('invoke_concurrency', 1,    1000, 'Lambda invocations in flight at once under admission control (s3vl.set_invoke_concurrency; NULL or 0: off)'),
    ('max_filter_depth', 1,      32, 'JSON nesting depth of a metadata_filter (each object and array counts one)'),
    ('filter_constraints', 1,   100, 'compared values in one metadata_filter (an $in list of 3 counts 3)'),
    ('put_vectors_per_call', 1,   500, 'vectors per PutVectors call (S3 Vectors; sync batches at most this many)'),
    ('invocation_items', 1,      5000, 'vectors or keys one write invocation carries (10 PutVectors calls of 500)'),
    ('payload_margin_bytes', 0, 262144, 'room a write or batch invocation leaves below its payload limit (envelope, one element past the line)'),
    ('sync_batch_bytes', 1,   4000000, 'estimated JSON of one s3vl.sync put batch (under invoke_payload_bytes)'),
    ('sync_max_rows',   1,    1000000, 'rows one s3vl.sync run handles (its max_rows)'),
    ('sync_backoff_seconds', 1,   300, 'longest pause before s3vl.sync retries a failed key (1 s doubling)'),
    ('sync_workers',    1,       16, 'pg_cron jobs s3vl.schedule_sync runs at once (each run claims its own keys)'),
    ('partitions',      1,     1000, 'partitions (S3 Vectors indexes) of one partitioned logical index'),
    ('partition_concurrency', 1,   16, 'service calls the function runs at once across partitions (and prefilter GetVectors) in one invocation'),
    ('prefilter_max_keys', 1,  50000, 'qualifying keys query_vectors_where/query_table rank with strategy prefilter'),
    ('prefilter_auto_keys', 1,  2000, 'cap of the qualifying keys up to which strategy auto runs the prefilter plan (bound sqrt(0.5 top_k rows), bench/bench_where.py)'),
    ('embed_text_length', 1,  50000, 'characters in one text to embed (Titan Text Embeddings V2)'),
    ('embed_texts',     1,      100, 'texts one s3vl.embed invocation embeds')
$$;
COMMENT ON FUNCTION s3vl.limits() IS 's3vl: every limit the SQL functions check before a call';

-- Raises 22023 naming the caller, the parameter and the limit when value is NULL or out of range.
-- limit_name defaults to param (scan_vectors' page_size is checked against max_results).
CREATE OR REPLACE FUNCTION s3vl._check_range(caller text, param text, value bigint,
                                             limit_name text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  lo integer;
  hi integer;
BEGIN
  SELECT l.min_value, l.max_value INTO lo, hi FROM s3vl.limits() l WHERE l.name = coalesce(limit_name, param);
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl._check_range: unknown limit "%"', coalesce(limit_name, param) USING ERRCODE = 'XX000';
  END IF;
  IF value IS NULL OR value < lo OR value > hi THEN
    RAISE EXCEPTION '%: % must be between % and % (got %)', caller, param, lo, hi,
      coalesce(value::text, 'NULL')
      USING ERRCODE = '22023',
            HINT = format('%s accepts %s..%s; see SELECT * FROM s3vl.limits().', param, lo, hi);
  END IF;
END
$$;

-- One limit by name (the max_value column); an unknown name is a bug here, so it raises.
CREATE OR REPLACE FUNCTION s3vl._limit(limit_name text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  found integer;
BEGIN
  SELECT l.max_value INTO found FROM s3vl.limits() l WHERE l.name = limit_name;
  IF found IS NULL THEN
    RAISE EXCEPTION 's3vl._limit: no limit named %', limit_name USING ERRCODE = 'XX000';
  END IF;
  RETURN found;
END
$$;

-- The largest finite float32 (S3 Vectors stores float32; a larger magnitude would be Infinity):
-- the one copy of this bound in SQL (the function's is s3vl_lambda.limits.FLOAT32_MAX). Printed
-- in messages as float4 (3.4028235e+38). _float32_bound() is the same for jsonpath's $max.
CREATE OR REPLACE FUNCTION s3vl._float32_max()
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 3.4028234663852886e38::float8 $$;

CREATE OR REPLACE FUNCTION s3vl._float32_bound()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.jsonb_build_object('max', s3vl._float32_max()) $$;
