-- s3vl 0.3.0, built by sql/build-extension.sh from sql/*.sql; do not edit.
\echo Use "CREATE EXTENSION s3vl" to load this file. \quit

-- ==== 00_schema.sql
-- s3vl: SQL over Amazon S3 Vectors through an AWS Lambda function (schema, version, prerequisites).
-- Every file in sql/ is idempotent: running it again upgrades in place and keeps configuration.

DO $requirements$
BEGIN
  -- The one hard prerequisite: aws_lambda.invoke (Aurora/RDS extension, or the local stand-in).
  -- s3vl calls its json overload (building json text is cheaper than building jsonb).
  IF to_regprocedure('aws_lambda.invoke(text,json,text,text,text,json,character varying)')
     IS NULL THEN
    RAISE EXCEPTION 's3vl install: function aws_lambda.invoke(text, json, ...) does not exist'
      USING ERRCODE = '55000',
            DETAIL = 's3vl calls its Lambda function through the aws_lambda extension.',
            HINT = 'On Aurora PostgreSQL / RDS run: CREATE EXTENSION IF NOT EXISTS aws_lambda '
                   'CASCADE; on a local server run: python -m s3vl_local.stack up (it installs '
                   'the local aws_lambda stand-in).';
  END IF;
END
$requirements$;

CREATE SCHEMA IF NOT EXISTS s3vl;
COMMENT ON SCHEMA s3vl IS 's3vl: SQL over Amazon S3 Vectors through an AWS Lambda function';

-- The version of these sources; sql/build-extension.sh reads it from this line.
CREATE OR REPLACE FUNCTION s3vl.version() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '0.3.0'::text $$;

-- ==== 10_tables.sql
-- Configuration (one row) and the index registry. Created if missing; columns added by later
-- versions are added with ADD COLUMN IF NOT EXISTS so an upgrade keeps every existing row.

CREATE TABLE IF NOT EXISTS s3vl.config (
  id serial PRIMARY KEY,
  lambda_arn text NOT NULL,
  aws_region text NOT NULL,
  timeout_seconds integer NOT NULL DEFAULT 30,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE s3vl.config ADD COLUMN IF NOT EXISTS last_validated_at timestamptz;
ALTER TABLE s3vl.config ADD COLUMN IF NOT EXISTS last_validation_status text;
COMMENT ON TABLE s3vl.config IS
  's3vl: the Lambda function to call (one row, written by s3vl.configure)';

CREATE TABLE IF NOT EXISTS s3vl.index_registry (
  id serial PRIMARY KEY,
  index_name text NOT NULL UNIQUE,
  index_arn text NOT NULL,
  description text,
  bucket_name text NOT NULL,
  region text NOT NULL,
  account_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  is_active boolean NOT NULL DEFAULT true
);
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS partition text NOT NULL DEFAULT 'aws';
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS s3_index_name text;
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS dimension integer;
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS distance_metric text;
CREATE INDEX IF NOT EXISTS index_registry_arn_idx ON s3vl.index_registry (index_arn);
COMMENT ON TABLE s3vl.index_registry IS
  's3vl: friendly index names mapped to S3 Vectors index ARNs, with dimension and metric';

-- Keeps updated_at honest whatever path changes a row.
CREATE OR REPLACE FUNCTION s3vl._touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

DO $triggers$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'config_touch_updated_at'
                 AND tgrelid = 's3vl.config'::regclass) THEN
    CREATE TRIGGER config_touch_updated_at BEFORE UPDATE ON s3vl.config
      FOR EACH ROW EXECUTE FUNCTION s3vl._touch_updated_at();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'index_registry_touch_updated_at'
                 AND tgrelid = 's3vl.index_registry'::regclass) THEN
    CREATE TRIGGER index_registry_touch_updated_at BEFORE UPDATE ON s3vl.index_registry
      FOR EACH ROW EXECUTE FUNCTION s3vl._touch_updated_at();
  END IF;
END
$triggers$;

-- ==== 15_migrate.sql
-- Upgrading in place: bring tables and functions left by an earlier s3vl version (or by the AWS
-- reference sample's schema) to this version's shape, keeping every row. Runs before any
-- function is (re)created, because CREATE OR REPLACE cannot change a function's result columns.

DO $migrate_tables$
DECLARE
  col record;
BEGIN
  -- timestamps become timestamptz (the sample used timestamp without time zone).
  FOR col IN
    SELECT c.table_name, c.column_name FROM information_schema.columns c
    WHERE c.table_schema = 's3vl' AND c.table_name IN ('config', 'index_registry')
      AND c.column_name IN ('created_at', 'updated_at')
      AND c.data_type = 'timestamp without time zone'
  LOOP
    EXECUTE format('ALTER TABLE s3vl.%I ALTER COLUMN %I TYPE timestamptz', col.table_name,
                   col.column_name);
  END LOOP;
  -- The sample accepted only the aws partition and hard-coded us-west-2; the checks now live in
  -- s3vl._check_index_arn / s3vl._check_registry_name (one rule each, all partitions).
  ALTER TABLE s3vl.index_registry DROP CONSTRAINT IF EXISTS valid_arn_format;
  ALTER TABLE s3vl.index_registry DROP CONSTRAINT IF EXISTS valid_index_name;
  ALTER TABLE s3vl.index_registry ALTER COLUMN region DROP DEFAULT;
  ALTER TABLE s3vl.config ALTER COLUMN aws_region DROP DEFAULT;
  UPDATE s3vl.config SET timeout_seconds = 30 WHERE timeout_seconds IS NULL;
  ALTER TABLE s3vl.config ALTER COLUMN timeout_seconds SET NOT NULL;
END
$migrate_tables$;

-- Functions whose arguments or result columns differ from this version's are dropped so the
-- files after this one can create them. Listed: every table-returning or renamed function, with
-- the argument list and result this version creates.
DO $migrate_functions$
DECLARE
  f record;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS signature
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 's3vl'
    JOIN (VALUES
      ('get_config', 'TABLE(lambda_arn text, aws_region text, timeout_seconds integer, '
                     'created_at timestamp with time zone, updated_at timestamp with time '
                     'zone, config_age_hours numeric, last_validation_status text)'),
      ('list_indexes', 'TABLE(index_name text, index_arn text, description text, bucket_name '
                       'text, region text, account_id text, created_at timestamp with time '
                       'zone, updated_at timestamp with time zone, is_active boolean, '
                       'dimension integer, distance_metric text)'),
      ('get_index_info', 'TABLE(index_name text, index_arn text, description text, '
                         'bucket_name text, region text, account_id text, created_at timestamp '
                         'with time zone, updated_at timestamp with time zone, is_active '
                         'boolean, dimension integer, distance_metric text)'),
      ('list_vectors', 'TABLE(vector_id text, vector_data double precision[], metadata jsonb, '
                       'response_next_token text, total_count integer)')
    ) AS expected(name, result) ON expected.name = p.proname
    WHERE pg_catalog.pg_get_function_result(p.oid) <> expected.result
       OR (p.proname = 'list_vectors' AND p.pronargs <> 8)
  LOOP
    EXECUTE format('DROP FUNCTION %s', f.signature);
  END LOOP;
  -- 0.1.0 built requests as jsonb; they are json now (internal helpers, no grants to keep).
  FOR f IN
    SELECT p.oid::regprocedure AS signature FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = 's3vl'::regnamespace
      AND ((p.proname IN ('_query_request', '_get_request', '_list_request',
                          '_get_index_request') AND p.prorettype = 'jsonb'::regtype)
           OR (p.proname = '_invoke' AND p.proargtypes[1] = 'jsonb'::regtype))
  LOOP
    EXECUTE format('DROP FUNCTION %s', f.signature);
  END LOOP;
END
$migrate_functions$;

-- ==== 20_limits.sql
-- Every limit the SQL side checks, in one place (the service facts are in
-- shared/reference/s3vectors-facts.md; the function's copy is lambda/s3vl_lambda/limits.py).

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
    ('timeout_seconds', 1,      900, 'Lambda call timeout (aws_lambda.request_timeout_ms / 1000)'),
    ('index_name_length', 1,     63, 'characters in a registry (friendly) index name'),
    ('metadata_keys',   0,       50, 'keys in one vector''s metadata'),
    ('metadata_bytes',  0,    40960, 'one vector''s metadata as compact UTF-8 JSON'),
    ('filterable_metadata_bytes', 0, 2048, 'one vector''s filterable metadata (keys not declared non-filterable)'),
    ('invoke_payload_bytes', 1, 6291456, 'one synchronous Lambda request payload (6 MB)'),
    ('event_payload_bytes', 1, 1048576, 'one asynchronous (Event) Lambda request payload (1 MB)'),
    ('batch_queries',   1,      100, 'query vectors per query_vectors_batch invocation'),
    ('cache_ttl_seconds', 1, 604800, 's3vl.set_cache time to live (up to 7 days)')
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

-- ==== 21_errors.sql
-- The SQLSTATE table (one source of truth, documented in docs/sql-reference.md) and the helpers
-- that raise errors in the one s3vl format: "<function>: <what is wrong>".

CREATE OR REPLACE FUNCTION s3vl.error_codes()
RETURNS TABLE (sqlstate text, error_type text, retryable boolean, meaning text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  VALUES
    ('22023', 'ValidationError', false, 'invalid argument (names the parameter and the limit)'),
    ('22000', 'ValidationError', false, 'NaN/Infinity in a vector, or dimension mismatch'),
    ('42704', 'NotFound',        false, 'unknown, deactivated or missing index'),
    ('55000', NULL,              false, 's3vl is not configured (run s3vl.configure)'),
    ('42501', 'AccessDenied',    false, 'IAM or the function allow-list refused the call'),
    ('SV001', 'Throttled',       true,  'S3 Vectors throttled the request (429)'),
    ('SV002', 'ServiceError',    NULL,  'S3 Vectors service error (5xx retryable, others not)'),
    ('SV003', 'Timeout',         true,  'the Lambda call or the service call timed out'),
    ('SV004', 'InternalError',   false, 'unexpected failure inside the Lambda function'),
    ('SV005', 'Conflict',        false, 'S3 Vectors ConflictException'),
    ('SV006', NULL,              true,  'aws_lambda.invoke failed (network, function crash)'),
    ('SV007', NULL,              false, 'the function answered something that is not an s3vl envelope')
$$;
COMMENT ON FUNCTION s3vl.error_codes() IS
  's3vl: the SQLSTATEs s3vl raises, with the protocol error type and whether a retry may help';

-- Protocol error type (docs/protocol.md) -> SQLSTATE. Unknown types are treated as SV004.
CREATE OR REPLACE FUNCTION s3vl._sqlstate_for(error_type text, field text DEFAULT NULL,
                                              message text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE
    -- The function's ValidationError covers both; pgvector's split is dimension/NaN -> 22000.
    WHEN error_type = 'ValidationError'
         AND message ~* '(\mdimension\M|\mnan\M|\minfinit|\mfinite\M)'
      THEN '22000'
    WHEN error_type = 'ValidationError' THEN '22023'
    WHEN error_type = 'NotFound' THEN '42704'
    WHEN error_type = 'AccessDenied' THEN '42501'
    WHEN error_type = 'Throttled' THEN 'SV001'
    WHEN error_type = 'ServiceError' THEN 'SV002'
    WHEN error_type = 'Timeout' THEN 'SV003'
    WHEN error_type = 'Conflict' THEN 'SV005'
    ELSE 'SV004'
  END
$$;

-- A query or key argument that must be present: raises 22023 naming the parameter.
CREATE OR REPLACE FUNCTION s3vl._require(caller text, param text, value anyelement)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '%: % must not be NULL', caller, param USING ERRCODE = '22023';
  END IF;
END
$$;

-- ==== 25_validate.sql
-- Argument checks shared by every public function, and index resolution. Internal helpers
-- (name starts with "_") are not granted to anyone: only s3vl's SECURITY DEFINER functions call
-- them, so they carry no SET search_path of their own (it would cost a GUC save per call) and
-- qualify every object instead.

-- A vector argument: present, no NULL elements, 1..4096 long, finite (22000 as pgvector does),
-- and as long as the index dimension when that is known.
CREATE OR REPLACE FUNCTION s3vl._check_vector(caller text, param text, vec float8[],
                                              expected_dimension integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  n integer := pg_catalog.cardinality(vec);
BEGIN
  IF vec IS NULL OR n = 0 THEN
    RAISE EXCEPTION '%: % must be a non-empty array of numbers', caller, param
      USING ERRCODE = '22023', HINT = 'Pass e.g. ARRAY[0.1, 0.2, 0.3]::float8[].';
  END IF;
  IF pg_catalog.array_ndims(vec) <> 1 THEN
    RAISE EXCEPTION '%: % must be a one-dimensional array (got % dimensions)', caller, param,
      pg_catalog.array_ndims(vec) USING ERRCODE = '22023';
  END IF;
  IF pg_catalog.array_position(vec, NULL) IS NOT NULL THEN
    RAISE EXCEPTION '%: % must not contain NULL elements (element % is NULL)', caller, param,
      pg_catalog.array_position(vec, NULL) USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._check_range(caller, 'dimension', n);
  -- One pass: NaN sorts above every number in PostgreSQL, so this also catches NaN and
  -- Infinity; S3 Vectors stores float32, where a larger magnitude would become Infinity.
  IF EXISTS (SELECT 1 FROM pg_catalog.unnest(vec) AS x
             WHERE pg_catalog.abs(x) > 3.4028234663852886e38) THEN
    IF 'NaN'::float8 = ANY (vec) OR 'Infinity'::float8 = ANY (vec)
       OR '-Infinity'::float8 = ANY (vec) THEN
      RAISE EXCEPTION '%: % must contain only finite numbers (NaN and Infinity are not allowed)',
        caller, param USING ERRCODE = '22000';
    END IF;
    RAISE EXCEPTION '%: % must contain only finite float32 values (|x| <= 3.4028235e38)',
      caller, param USING ERRCODE = '22000';
  END IF;
  IF expected_dimension IS NOT NULL AND n <> expected_dimension THEN
    RAISE EXCEPTION '%: % has dimension % but the index has dimension %', caller, param, n,
      expected_dimension
      USING ERRCODE = '22000',
            HINT = 'Use an embedding model with the index dimension; see s3vl.get_index_info().';
  END IF;
END
$$;

-- Splits an S3 Vectors index ARN of any partition; NULL when it is not one.
CREATE OR REPLACE FUNCTION s3vl._parse_index_arn(arn text,
  OUT partition text, OUT region text, OUT account_id text, OUT bucket_name text,
  OUT index_name text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT m[1], m[2], m[3], m[4], m[5]
  FROM (SELECT pg_catalog.regexp_match(arn,
    '^arn:(aws|aws-cn|aws-us-gov):s3vectors:([a-z0-9-]+):([0-9]{12}):'
    'bucket/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])/index/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$') AS m) s
$$;

CREATE OR REPLACE FUNCTION s3vl._check_index_arn(caller text, param text, arn text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF (s3vl._parse_index_arn(arn)).index_name IS NULL THEN
    RAISE EXCEPTION '%: % is not an S3 Vectors index ARN: %', caller, param,
      pg_catalog.left(coalesce(arn, 'NULL'), 200)
      USING ERRCODE = '22023',
            HINT = 'Expected arn:{aws|aws-cn|aws-us-gov}:s3vectors:<region>:<12-digit account>:'
                   'bucket/<bucket>/index/<index>.';
  END IF;
END
$$;

-- Which index a call is about: exactly one of index_name (a registry name, or an ARN as the
-- reference sample allowed) and index_arn. Returns the ARN and, when the index is registered,
-- its dimension and metric (so a wrong dimension fails here, before any call).
CREATE OR REPLACE FUNCTION s3vl._resolve_index(caller text, p_index_name text, p_index_arn text,
  OUT index_arn text, OUT dimension integer, OUT distance_metric text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  reg record;
BEGIN
  IF p_index_name IS NULL AND p_index_arn IS NULL THEN
    RAISE EXCEPTION '%: either index_name or index_arn must be given', caller
      USING ERRCODE = '22023', HINT = 'List registered names with SELECT * FROM s3vl.list_indexes().';
  END IF;
  IF p_index_name IS NOT NULL AND p_index_arn IS NOT NULL THEN
    RAISE EXCEPTION '%: give either index_name or index_arn, not both', caller
      USING ERRCODE = '22023';
  END IF;
  IF p_index_arn IS NULL AND p_index_name LIKE 'arn:%' THEN
    p_index_arn := p_index_name;
    p_index_name := NULL;
  END IF;
  IF p_index_arn IS NOT NULL THEN
    PERFORM s3vl._check_index_arn(caller, 'index_arn', p_index_arn);
    SELECT r.dimension, r.distance_metric INTO dimension, distance_metric
      FROM s3vl.index_registry r
      WHERE r.index_arn = p_index_arn AND r.is_active
      ORDER BY r.id LIMIT 1;
    index_arn := p_index_arn;
    RETURN;
  END IF;
  SELECT r.index_arn, r.dimension, r.distance_metric, r.is_active INTO reg
    FROM s3vl.index_registry r WHERE r.index_name = p_index_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: index "%" is not registered', caller, pg_catalog.left(p_index_name, 100)
      USING ERRCODE = '42704',
            HINT = 'Register it with SELECT s3vl.register_index(''<name>'', ''<index ARN>''), '
                   'or pass index_arn.';
  END IF;
  IF NOT reg.is_active THEN
    RAISE EXCEPTION '%: index "%" is deactivated', caller, p_index_name
      USING ERRCODE = '42704',
            HINT = format('Reactivate it with SELECT s3vl.activate_index(%L).', p_index_name);
  END IF;
  index_arn := reg.index_arn;
  dimension := reg.dimension;
  distance_metric := reg.distance_metric;
END
$$;

-- ==== 30_invoke.sql
-- THE one place that calls aws_lambda.invoke. It applies the configured timeout, checks the
-- envelope of docs/protocol.md, and turns every failure into an error with an s3vl SQLSTATE
-- (see s3vl.error_codes()). A failure never becomes zero rows.

CREATE OR REPLACE FUNCTION s3vl._config(caller text,
  OUT lambda_arn text, OUT aws_region text, OUT timeout_seconds integer)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  SELECT c.lambda_arn, c.aws_region, c.timeout_seconds
    INTO lambda_arn, aws_region, timeout_seconds
    FROM s3vl.config c ORDER BY c.updated_at DESC, c.id DESC LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: s3vl is not configured (no Lambda function set)', caller
      USING ERRCODE = '55000',
            HINT = 'An s3vl_admin runs SELECT s3vl.configure(''arn:aws:lambda:<region>:'
                   '<account>:function:<name>'').';
  END IF;
END
$$;

-- Raises the error carried by a failed envelope ({"success": false, "error": {...}}).
CREATE OR REPLACE FUNCTION s3vl._raise_envelope_error(caller text, response jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  err jsonb := response -> 'error';
  err_type text;
  err_message text;
  err_field text;
  state text;
  hint text;
  detail text;
BEGIN
  IF pg_catalog.jsonb_typeof(err) = 'object' THEN
    err_type := err ->> 'type';
    err_message := err ->> 'message';
    err_field := err ->> 'field';
  ELSIF pg_catalog.jsonb_typeof(err) = 'string' THEN
    err_message := err #>> '{}';  -- the reference sample's function sends a bare string
  END IF;
  state := s3vl._sqlstate_for(err_type, err_field, err_message);
  hint := CASE state
    WHEN 'SV001' THEN 'S3 Vectors throttled the index; retry with exponential backoff.'
    WHEN 'SV002' THEN CASE WHEN (err ->> 'retryable')::boolean
                           THEN 'A transient service error; retrying may succeed.'
                           ELSE 'Retrying the same request will not help.' END
    WHEN 'SV003' THEN 'Raise timeout_seconds with s3vl.configure(...) or retry.'
    WHEN '42501' THEN 'Check the function role''s IAM policy and S3VL_ALLOWED_INDEX_ARNS.'
    WHEN '42704' THEN 'Check the index ARN (SELECT * FROM s3vl.list_indexes()).'
    WHEN 'SV004' THEN 'A bug in the Lambda function; see its CloudWatch logs (request id above).'
    ELSE NULL END;
  err_message := caller || ': ' ||
    coalesce(err_message, 'the Lambda function reported a failure without a message');
  detail := format('error type: %s; code: %s; retryable: %s; field: %s; request id: %s',
                   coalesce(err_type, 'unknown'), coalesce(err ->> 'code', 'unknown'),
                   coalesce(err ->> 'retryable', 'unknown'), coalesce(err_field, 'none'),
                   coalesce(response ->> 'request_id', 'unknown'));
  IF hint IS NULL THEN
    RAISE EXCEPTION USING MESSAGE = err_message, ERRCODE = state, DETAIL = detail;
  END IF;
  RAISE EXCEPTION USING MESSAGE = err_message, ERRCODE = state, DETAIL = detail, HINT = hint;
END
$$;

-- Checks the envelope and returns its "result". caller names the public function for messages.
CREATE OR REPLACE FUNCTION s3vl._unwrap(caller text, response jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF response IS NULL OR pg_catalog.jsonb_typeof(response) = 'null' THEN
    RAISE EXCEPTION '%: the Lambda function returned a null payload', caller
      USING ERRCODE = 'SV007',
            HINT = 'Check that s3vl.config.lambda_arn is the s3vl function (s3vl.validate_config()).';
  END IF;
  IF pg_catalog.jsonb_typeof(response) <> 'object'
     OR pg_catalog.jsonb_typeof(response -> 'success') IS DISTINCT FROM 'boolean' THEN
    RAISE EXCEPTION '%: the Lambda function returned a response without a boolean "success" field',
      caller
      USING ERRCODE = 'SV007',
            DETAIL = 'response starts with: ' || pg_catalog.left(response::text, 200),
            HINT = 'Check that s3vl.config.lambda_arn is the s3vl function (s3vl.validate_config()).';
  END IF;
  IF NOT (response -> 'success')::boolean THEN
    PERFORM s3vl._raise_envelope_error(caller, response);
  END IF;
  IF NOT response ? 'result' THEN
    RAISE EXCEPTION '%: the Lambda function reported success without a "result"', caller
      USING ERRCODE = 'SV007';
  END IF;
  RETURN response -> 'result';
END
$$;

-- THE one place that calls aws_lambda.invoke: reads the configuration, applies the stored timeout,
-- and maps a failed call to an s3vl SQLSTATE. The request is json (built as text, the cheapest
-- form for long vectors); the answer is parsed once into jsonb (NULL for Event/DryRun).
CREATE OR REPLACE FUNCTION s3vl._call_lambda(caller text, request json, invocation_type text,
  OUT status_code integer, OUT payload jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cfg record;
  failed_state text;
  failed_message text;
  failed_detail text;
  state text;
BEGIN
  SELECT * INTO cfg FROM s3vl._config(caller);
  -- The stored timeout bounds the call; set for this call only (the SET clause above makes the
  -- change revert when this function returns).
  PERFORM pg_catalog.set_config('aws_lambda.request_timeout_ms',
                                (cfg.timeout_seconds * 1000)::text, true);
  BEGIN
    SELECT i.status_code, i.payload::jsonb INTO status_code, payload
      FROM aws_lambda.invoke(cfg.lambda_arn, request, cfg.aws_region,
                             invocation_type => _call_lambda.invocation_type) AS i;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS failed_state = RETURNED_SQLSTATE, failed_message = MESSAGE_TEXT,
                            failed_detail = PG_EXCEPTION_DETAIL;
    state := CASE
      WHEN failed_state = '42501' THEN '42501'
      WHEN failed_state LIKE '22P0%' THEN 'SV007'
      WHEN failed_detail ILIKE '%timeout%' OR failed_detail ILIKE '%timed out%'
           OR failed_message ILIKE '%timeout%' THEN 'SV003'
      ELSE 'SV006' END;
    RAISE EXCEPTION '%: calling the Lambda function failed: %', caller, failed_message
      USING ERRCODE = state,
            DETAIL = coalesce(failed_detail, '') ||
                     format(' (aws_lambda SQLSTATE %s; function %s; invocation type %s; '
                            'timeout %s s)', failed_state, cfg.lambda_arn, invocation_type,
                            cfg.timeout_seconds),
            HINT = CASE state
              WHEN 'SV003' THEN 'The call exceeded timeout_seconds; raise it with '
                                's3vl.configure(...) or retry.'
              WHEN 'SV007' THEN 'The function did not answer JSON; check that lambda_arn is the '
                                's3vl function.'
              WHEN '42501' THEN 'The s3vl owner needs USAGE on schema aws_lambda and EXECUTE on '
                                'aws_lambda.invoke.'
              ELSE 'Check s3vl.validate_config(), the function''s logs and the network path to '
                   'Lambda.' END;
  END;
END
$$;

-- Sends one protocol request synchronously and returns the operation result.
CREATE OR REPLACE FUNCTION s3vl._invoke(caller text, request json)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN s3vl._unwrap(caller, (SELECT c.payload
                               FROM s3vl._call_lambda(caller, request, 'RequestResponse') AS c));
END
$$;

-- ==== 40_config.sql
-- Configuration: which Lambda function s3vl calls, in which region, with which timeout.

-- Splits a Lambda function ARN (any partition, optional qualifier); NULLs when it is not one.
CREATE OR REPLACE FUNCTION s3vl._parse_lambda_arn(arn text,
  OUT partition text, OUT region text, OUT account_id text, OUT function_name text,
  OUT qualifier text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT m[1], m[2], m[3], m[4], m[5]
  FROM (SELECT pg_catalog.regexp_match(arn,
    '^arn:(aws|aws-cn|aws-us-gov):lambda:([a-z0-9-]+):([0-9]{12}):function:'
    '([A-Za-z0-9_-]{1,64})(?::([A-Za-z0-9$_-]{1,128}))?$') AS m) s
$$;

CREATE OR REPLACE FUNCTION s3vl.configure(
  lambda_arn text,
  aws_region text DEFAULT NULL,
  timeout_seconds integer DEFAULT 30)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.configure';
  parsed record;
  region text := nullif(btrim(aws_region), '');
  check_row record;
BEGIN
  IF lambda_arn IS NULL OR btrim(lambda_arn) = '' THEN
    RAISE EXCEPTION '%: lambda_arn must not be NULL or empty', caller
      USING ERRCODE = '22023',
            HINT = 'Pass the function ARN: arn:aws:lambda:<region>:<account>:function:<name>.';
  END IF;
  parsed := s3vl._parse_lambda_arn(lambda_arn);
  IF parsed.function_name IS NULL THEN
    IF lambda_arn !~ '^[A-Za-z0-9_-]{1,64}$' THEN
      RAISE EXCEPTION '%: lambda_arn is neither a Lambda function ARN nor a function name: %',
        caller, left(lambda_arn, 200)
        USING ERRCODE = '22023',
              HINT = 'Expected arn:{aws|aws-cn|aws-us-gov}:lambda:<region>:<12-digit account>:'
                     'function:<name>[:<alias>], or a name of 1-64 letters, digits, - and _.';
    END IF;
    IF region IS NULL THEN
      RAISE EXCEPTION '%: aws_region is required when lambda_arn is a function name', caller
        USING ERRCODE = '22023', HINT = 'Pass the full function ARN, or aws_region => ''us-east-1''.';
    END IF;
  ELSIF region IS NULL THEN
    region := parsed.region;
  ELSIF region <> parsed.region THEN
    RAISE EXCEPTION '%: aws_region "%" conflicts with the region "%" in lambda_arn', caller,
      region, parsed.region
      USING ERRCODE = '22023', HINT = 'Omit aws_region: it defaults to the region in the ARN.';
  END IF;
  IF region !~ '^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$' THEN
    RAISE EXCEPTION '%: aws_region is not an AWS region code: %', caller, left(region, 100)
      USING ERRCODE = '22023', HINT = 'For example us-east-1, eu-west-1, cn-north-1.';
  END IF;
  PERFORM s3vl._check_range(caller, 'timeout_seconds', timeout_seconds);

  -- One configuration row: update it in place (keeps created_at), or create it.
  UPDATE s3vl.config c
     SET lambda_arn = configure.lambda_arn, aws_region = region,
         timeout_seconds = configure.timeout_seconds,
         last_validated_at = NULL, last_validation_status = NULL;
  IF NOT FOUND THEN
    INSERT INTO s3vl.config (lambda_arn, aws_region, timeout_seconds)
    VALUES (configure.lambda_arn, region, configure.timeout_seconds);
  END IF;

  SELECT * INTO check_row FROM s3vl.validate_config();
  IF check_row.is_valid THEN
    RAISE NOTICE '%: saved; the function answered in % ms', caller, check_row.response_time_ms;
  ELSE
    RAISE WARNING '%: saved, but the function check failed: %', caller, check_row.error_message
      USING HINT = 'Fix the function or network, then run SELECT * FROM s3vl.validate_config().';
  END IF;
  RETURN true;
END
$$;

-- Calls the function's availability_check and reports; never raises for a failed call.
CREATE OR REPLACE FUNCTION s3vl.validate_config()
RETURNS TABLE (is_valid boolean, lambda_arn text, aws_region text, error_message text,
               response_time_ms integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.validate_config';
  cfg record;
  started timestamptz;
  answer jsonb;
BEGIN
  SELECT c.lambda_arn, c.aws_region INTO cfg
    FROM s3vl.config c ORDER BY c.updated_at DESC, c.id DESC LIMIT 1;
  IF NOT FOUND THEN
    RETURN QUERY SELECT false, NULL::text, NULL::text,
      (caller || ': s3vl is not configured; run s3vl.configure(...)')::text, NULL::integer;
    RETURN;
  END IF;
  started := clock_timestamp();
  BEGIN
    answer := s3vl._invoke(caller, '{"operation": "availability_check"}'::json);
    IF answer ->> 'status' IS DISTINCT FROM 'available' THEN
      RAISE EXCEPTION '%: availability_check answered status %', caller,
        coalesce(answer ->> 'status', 'NULL') USING ERRCODE = 'SV007';
    END IF;
    is_valid := true;
    error_message := NULL;
  EXCEPTION WHEN OTHERS THEN
    is_valid := false;
    error_message := SQLERRM || ' [SQLSTATE ' || SQLSTATE || ']';
  END;
  response_time_ms := round(extract(epoch FROM clock_timestamp() - started) * 1000)::integer;
  lambda_arn := cfg.lambda_arn;
  aws_region := cfg.aws_region;
  -- Remember the outcome for get_config, except on a read replica (read-only transaction).
  IF NOT current_setting('transaction_read_only')::boolean THEN
    UPDATE s3vl.config c SET last_validated_at = now(),
      last_validation_status = CASE WHEN is_valid THEN 'HEALTHY'
                                    ELSE 'ERROR: ' || left(error_message, 200) END;
  END IF;
  RETURN NEXT;
END
$$;

-- The stored configuration and the result of the last validate_config() (no function call).
CREATE OR REPLACE FUNCTION s3vl.get_config()
RETURNS TABLE (lambda_arn text, aws_region text, timeout_seconds integer,
               created_at timestamptz, updated_at timestamptz, config_age_hours numeric,
               last_validation_status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY
    SELECT c.lambda_arn, c.aws_region, c.timeout_seconds, c.created_at, c.updated_at,
           round((extract(epoch FROM now() - c.updated_at) / 3600)::numeric, 2),
           coalesce(c.last_validation_status, 'NOT VALIDATED')
    FROM s3vl.config c ORDER BY c.updated_at DESC, c.id DESC LIMIT 1;
  IF NOT FOUND THEN
    RAISE NOTICE 's3vl.get_config: s3vl is not configured'
      USING HINT = 'SELECT s3vl.configure(''arn:aws:lambda:<region>:<account>:function:<name>'');';
  END IF;
END
$$;

-- ==== 50_registry.sql
-- The index registry: friendly names for S3 Vectors index ARNs, with the dimension and distance
-- metric read from GetIndex at registration (so a wrong dimension fails in SQL, before a call).
-- Parameter names (index_name_param, ...) are the reference sample's, so its statements run as-is.

CREATE OR REPLACE FUNCTION s3vl._check_registry_name(caller text, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  PERFORM s3vl._require(caller, 'index_name', name);
  PERFORM s3vl._check_range(caller, 'index_name_length', pg_catalog.length(name));
  IF name !~ '^[A-Za-z][A-Za-z0-9_.-]*$' THEN
    RAISE EXCEPTION '%: index_name must start with a letter and contain only letters, digits, '
                    '".", "_" and "-" (got %)', caller, pg_catalog.quote_literal(name)
      USING ERRCODE = '22023';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION s3vl._get_index_request(index_arn text)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.json_build_object('operation', 'get_index', 'index_arn', index_arn) $$;

CREATE OR REPLACE FUNCTION s3vl.register_index(
  index_name_param text,
  index_arn_param text,
  description_param text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.register_index';
  arn record;
  info jsonb;
BEGIN
  PERFORM s3vl._check_registry_name(caller, index_name_param);
  PERFORM s3vl._check_index_arn(caller, 'index_arn', index_arn_param);
  arn := s3vl._parse_index_arn(index_arn_param);
  info := s3vl._invoke(caller, s3vl._get_index_request(index_arn_param));
  IF jsonb_typeof(info -> 'dimension') IS DISTINCT FROM 'number' THEN
    RAISE EXCEPTION '%: GetIndex answered without a dimension for %', caller, index_arn_param
      USING ERRCODE = 'SV007';
  END IF;
  INSERT INTO s3vl.index_registry AS r (index_name, index_arn, description, bucket_name, region,
      account_id, partition, s3_index_name, dimension, distance_metric, is_active)
  VALUES (index_name_param, index_arn_param, description_param, arn.bucket_name, arn.region,
      arn.account_id, arn.partition, arn.index_name, (info ->> 'dimension')::integer,
      info ->> 'distance_metric', true)
  ON CONFLICT (index_name) DO UPDATE SET
    index_arn = EXCLUDED.index_arn,
    description = coalesce(EXCLUDED.description, r.description),
    bucket_name = EXCLUDED.bucket_name, region = EXCLUDED.region,
    account_id = EXCLUDED.account_id, partition = EXCLUDED.partition,
    s3_index_name = EXCLUDED.s3_index_name, dimension = EXCLUDED.dimension,
    distance_metric = EXCLUDED.distance_metric, is_active = true;
  RAISE NOTICE '%: index "%" registered (dimension %, %)', caller, index_name_param,
    info ->> 'dimension', info ->> 'distance_metric';
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.resolve_index_arn(index_name_param text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.resolve_index_arn', 'index_name', index_name_param);
  RETURN (s3vl._resolve_index('s3vl.resolve_index_arn', index_name_param, NULL)).index_arn;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.list_indexes()
RETURNS TABLE (index_name text, index_arn text, description text, bucket_name text,
               region text, account_id text, created_at timestamptz, updated_at timestamptz,
               is_active boolean, dimension integer, distance_metric text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.index_name, r.index_arn, r.description, r.bucket_name, r.region, r.account_id,
         r.created_at, r.updated_at, r.is_active, r.dimension, r.distance_metric
  FROM s3vl.index_registry r
  ORDER BY r.is_active DESC, r.index_name
$$;

CREATE OR REPLACE FUNCTION s3vl.get_index_info(index_name_param text)
RETURNS TABLE (index_name text, index_arn text, description text, bucket_name text,
               region text, account_id text, created_at timestamptz, updated_at timestamptz,
               is_active boolean, dimension integer, distance_metric text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.get_index_info', 'index_name', index_name_param);
  RETURN QUERY SELECT l.* FROM s3vl.list_indexes() l WHERE l.index_name = index_name_param;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.get_index_info: index "%" is not registered', left(index_name_param, 100)
      USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_indexes() lists registered names.';
  END IF;
END
$$;

-- Shared by activate/deactivate/unregister: 42704 when the name is not registered.
CREATE OR REPLACE FUNCTION s3vl._registry_not_found(caller text, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  RAISE EXCEPTION '%: index "%" is not registered', caller, pg_catalog.left(name, 100)
    USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_indexes() lists registered names.';
END
$$;

CREATE OR REPLACE FUNCTION s3vl.activate_index(index_name_param text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.activate_index', 'index_name', index_name_param);
  UPDATE s3vl.index_registry SET is_active = true WHERE index_name = index_name_param;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.activate_index', index_name_param);
  END IF;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.deactivate_index(index_name_param text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.deactivate_index', 'index_name', index_name_param);
  UPDATE s3vl.index_registry SET is_active = false WHERE index_name = index_name_param;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.deactivate_index', index_name_param);
  END IF;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.unregister_index(index_name_param text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.unregister_index', 'index_name', index_name_param);
  DELETE FROM s3vl.index_registry WHERE index_name = index_name_param;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.unregister_index', index_name_param);
  END IF;
  RETURN true;
END
$$;

-- The live GetIndex answer for a registered name or an index ARN.
CREATE OR REPLACE FUNCTION s3vl.describe_index(index_name_param text DEFAULT NULL,
                                               index_arn_param text DEFAULT NULL)
RETURNS TABLE (index_name text, index_arn text, vector_bucket_name text, dimension integer,
               distance_metric text, data_type text, non_filterable_metadata_keys text[],
               creation_time timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.describe_index';
  target record;
  info jsonb;
BEGIN
  target := s3vl._resolve_index(caller, index_name_param, index_arn_param);
  info := s3vl._invoke(caller, s3vl._get_index_request(target.index_arn));
  RETURN QUERY SELECT
    info ->> 'index_name', coalesce(info ->> 'index_arn', target.index_arn),
    info ->> 'vector_bucket_name', (info ->> 'dimension')::integer, info ->> 'distance_metric',
    info ->> 'data_type',
    ARRAY(SELECT jsonb_array_elements_text(coalesce(info -> 'non_filterable_metadata_keys',
                                                    '[]'::jsonb))),
    nullif(info ->> 'creation_time', '')::timestamptz;
END
$$;

-- ==== 55_reads.sql
-- Reads: query_vectors, get_vectors, list_vectors, scan_vectors. Each checks its arguments,
-- builds the protocol request with a _*_request function (tested against docs/protocol.md),
-- calls s3vl._invoke once per page, and turns the result into rows with set-based SQL.

CREATE OR REPLACE FUNCTION s3vl._check_filter(caller text, metadata_filter jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF metadata_filter IS NOT NULL AND pg_catalog.jsonb_typeof(metadata_filter) <> 'object' THEN
    RAISE EXCEPTION '%: metadata_filter must be a JSON object (got a JSON %)', caller,
      pg_catalog.jsonb_typeof(metadata_filter)
      USING ERRCODE = '22023', HINT = 'For example ''{"category": {"$eq": "books"}}''::jsonb.';
  END IF;
END
$$;

-- A JSON array of numbers as float8[] (the text forms differ only in their brackets).
CREATE OR REPLACE FUNCTION s3vl._float8_array(numbers jsonb)
RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN pg_catalog.jsonb_typeof(numbers) = 'array'
              THEN pg_catalog.translate(numbers::text, '[]', '{}')::float8[] END
$$;

-- Request builders return json: array_to_json writes float8 text as is, where jsonb would
-- convert every element to numeric (3x slower for a 384-float vector).
CREATE OR REPLACE FUNCTION s3vl._query_request(index_arn text, query_vector float8[],
  top_k integer, return_metadata boolean, metadata_filter jsonb)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN metadata_filter IS NULL THEN
    pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
      'query_vector', pg_catalog.array_to_json(query_vector), 'top_k', top_k,
      'return_metadata', return_metadata)
  ELSE
    pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
      'query_vector', pg_catalog.array_to_json(query_vector), 'top_k', top_k,
      'return_metadata', return_metadata, 'metadata_filter', metadata_filter)
  END
$$;

CREATE OR REPLACE FUNCTION s3vl._get_request(index_arn text, vector_ids text[],
  include_vector_data boolean, include_metadata boolean)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'get_vectors', 'index_arn', index_arn,
           'vector_ids', pg_catalog.array_to_json(vector_ids),
           'include_vector_data', include_vector_data, 'include_metadata', include_metadata)
$$;

CREATE OR REPLACE FUNCTION s3vl._list_request(index_arn text, max_results integer,
  next_token text, return_data boolean, return_metadata boolean, segment_count integer,
  segment_index integer)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'operation', 'list_vectors', 'index_arn', index_arn, 'max_results', max_results,
           'next_token', next_token, 'return_data', return_data,
           'return_metadata', return_metadata, 'segment_count', segment_count,
           'segment_index', segment_index))
$$;

-- The array a successful operation must answer; SV007 otherwise.
CREATE OR REPLACE FUNCTION s3vl._expect_array(caller text, result jsonb, what text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF pg_catalog.jsonb_typeof(result) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION '%: the Lambda function answered % that is not a JSON array', caller, what
      USING ERRCODE = 'SV007', DETAIL = 'got: ' || pg_catalog.left(coalesce(result::text, 'NULL'), 200);
  END IF;
  RETURN result;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.query_vectors(
  query_vector float8[],
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  return_metadata boolean DEFAULT true,
  metadata_filter jsonb DEFAULT NULL)
RETURNS TABLE (vector_id text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.query_vectors';
  target record;
  answer jsonb;
BEGIN
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  SELECT * INTO target FROM s3vl._resolve_index(caller, query_vectors.index_name,
                                                query_vectors.index_arn);
  PERFORM s3vl._check_vector(caller, 'query_vector', query_vector, target.dimension);
  -- The result cache (sql/70_cache.sql) answers without an invocation on a hit.
  answer := s3vl._cache_get(target.index_arn, query_vector, top_k, metadata_filter,
                            return_metadata);
  IF answer IS NULL THEN
    answer := s3vl._expect_array(caller, s3vl._invoke(caller, s3vl._query_request(
      target.index_arn, query_vector, top_k, return_metadata, metadata_filter)), 'query results');
    PERFORM s3vl._cache_put(target.index_arn, query_vector, top_k, metadata_filter,
                            return_metadata, answer);
  END IF;
  BEGIN
    RETURN QUERY
      SELECT r.vector_id, r.distance, r.similarity_score, coalesce(r.metadata, '{}'::jsonb)
      FROM jsonb_to_recordset(answer) AS r(vector_id text, distance float8,
                                           similarity_score float8, metadata jsonb);
  EXCEPTION WHEN data_exception OR datatype_mismatch THEN
    -- A result entry of the wrong shape is the function's fault, not the caller's.
    RAISE EXCEPTION '%: the Lambda function answered a malformed query result: %', caller,
      SQLERRM USING ERRCODE = 'SV007';
  END;
END
$$;

-- Index-first positional form: s3vl.query_vectors('my-index', ARRAY[...]::float8[], 5).
-- Its parameter names differ from the form above so named calls are never ambiguous.
CREATE OR REPLACE FUNCTION s3vl.query_vectors(
  target_index text,
  target_vector float8[],
  k integer DEFAULT 10,
  with_metadata boolean DEFAULT true,
  filter jsonb DEFAULT NULL)
RETURNS TABLE (vector_id text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM s3vl.query_vectors(query_vector => target_vector, index_name => target_index,
                                   top_k => k, return_metadata => with_metadata,
                                   metadata_filter => filter)
$$;

CREATE OR REPLACE FUNCTION s3vl.get_vectors(
  vector_ids text[],
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  include_vector_data boolean DEFAULT true,
  include_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, embedding float8[], metadata jsonb, found boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.get_vectors';
  target record;
  answer jsonb;
  bad_position integer;
BEGIN
  IF vector_ids IS NULL OR cardinality(vector_ids) = 0 THEN
    RAISE EXCEPTION '%: vector_ids must be a non-empty array of keys', caller
      USING ERRCODE = '22023', HINT = 'For example ARRAY[''doc-1'', ''doc-2''].';
  END IF;
  SELECT o.n INTO bad_position FROM unnest(vector_ids) WITH ORDINALITY AS o(k, n)
    WHERE o.k IS NULL OR length(o.k) NOT BETWEEN 1 AND s3vl._limit('vector_id_length')
    LIMIT 1;
  IF bad_position IS NOT NULL THEN
    RAISE EXCEPTION '%: vector_ids element % must be a key of 1 to % characters (got %)', caller,
      bad_position, s3vl._limit('vector_id_length'),
      coalesce(length(vector_ids[bad_position])::text || ' characters', 'NULL')
      USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._require(caller, 'include_vector_data', include_vector_data);
  PERFORM s3vl._require(caller, 'include_metadata', include_metadata);
  SELECT * INTO target FROM s3vl._resolve_index(caller, get_vectors.index_name,
                                                get_vectors.index_arn);
  answer := s3vl._expect_array(caller, s3vl._invoke(caller, s3vl._get_request(
    target.index_arn, vector_ids, include_vector_data, include_metadata)), 'vectors');
  -- Exactly one row per requested id, in request order (a repeated id repeats its row; an id
  -- the function did not answer is not found).
  RETURN QUERY
    SELECT req.id, s3vl._float8_array(got.value -> 'embedding'),
           coalesce(got.value -> 'metadata', '{}'::jsonb),
           coalesce((got.value ->> 'found')::boolean, false)
    FROM unnest(vector_ids) WITH ORDINALITY AS req(id, n)
    LEFT JOIN (
      SELECT DISTINCT ON (e.value ->> 'vector_id') e.value ->> 'vector_id' AS id, e.value
      FROM jsonb_array_elements(answer) AS e(value)) AS got ON got.id = req.id
    ORDER BY req.n;
END
$$;

-- Segment arguments: both or neither, each in range, index below count.
CREATE OR REPLACE FUNCTION s3vl._check_segments(caller text, segment_count integer,
                                                segment_index integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF (segment_count IS NULL) <> (segment_index IS NULL) THEN
    RAISE EXCEPTION '%: segment_count and segment_index must be given together', caller
      USING ERRCODE = '22023', HINT = 'segment_count => 4, segment_index => 0 .. 3.';
  END IF;
  IF segment_count IS NOT NULL THEN
    PERFORM s3vl._check_range(caller, 'segment_count', segment_count);
    PERFORM s3vl._check_range(caller, 'segment_index', segment_index);
    IF segment_index >= segment_count THEN
      RAISE EXCEPTION '%: segment_index must be below segment_count (got % of %)', caller,
        segment_index, segment_count USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;

-- One ListVectors page as rows, plus its next token and count.
CREATE OR REPLACE FUNCTION s3vl._list_page(caller text, index_arn text, max_results integer,
  next_token text, return_data boolean, return_metadata boolean, segment_count integer,
  segment_index integer, OUT vectors jsonb, OUT page_next_token text, OUT page_count integer)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  answer jsonb;
BEGIN
  answer := s3vl._invoke(caller, s3vl._list_request(index_arn, max_results, next_token,
    return_data, return_metadata, segment_count, segment_index));
  IF pg_catalog.jsonb_typeof(answer) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION '%: the Lambda function answered a list page that is not a JSON object',
      caller USING ERRCODE = 'SV007';
  END IF;
  vectors := s3vl._expect_array(caller, answer -> 'vectors', 'list vectors');
  page_next_token := nullif(answer ->> 'next_token', '');
  page_count := coalesce((answer ->> 'total_count')::integer,
                         pg_catalog.jsonb_array_length(vectors));
  IF page_next_token IS NOT NULL AND page_next_token = next_token THEN
    RAISE EXCEPTION '%: ListVectors returned the token it was given; paging would not end',
      caller USING ERRCODE = 'SV007';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.list_vectors(
  index_arn text DEFAULT NULL,
  index_name text DEFAULT NULL,
  max_results integer DEFAULT 100,
  next_token text DEFAULT NULL,
  return_data boolean DEFAULT false,
  return_metadata boolean DEFAULT true,
  segment_count integer DEFAULT NULL,
  segment_index integer DEFAULT NULL)
RETURNS TABLE (vector_id text, vector_data float8[], metadata jsonb, response_next_token text,
               total_count integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.list_vectors';
  target record;
  page record;
BEGIN
  PERFORM s3vl._check_range(caller, 'max_results', max_results);
  PERFORM s3vl._require(caller, 'return_data', return_data);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_segments(caller, segment_count, segment_index);
  SELECT * INTO target FROM s3vl._resolve_index(caller, list_vectors.index_name,
                                                list_vectors.index_arn);
  SELECT * INTO page FROM s3vl._list_page(caller, target.index_arn, max_results, next_token,
    return_data, return_metadata, segment_count, segment_index);
  RETURN QUERY
    SELECT e.value ->> 'vector_id',
           CASE WHEN return_data THEN s3vl._float8_array(e.value -> 'vector_data') END,
           CASE WHEN return_metadata THEN coalesce(e.value -> 'metadata', '{}'::jsonb) END,
           page.page_next_token, page.page_count
    FROM jsonb_array_elements(page.vectors) WITH ORDINALITY AS e(value, n)
    ORDER BY e.n;
  -- An empty page that still has a token: one row without a vector carries the token.
  IF NOT FOUND AND page.page_next_token IS NOT NULL THEN
    RETURN QUERY SELECT NULL::text, NULL::float8[], NULL::jsonb, page.page_next_token, 0;
  END IF;
END
$$;

-- Every vector of an index, paging internally (ListVectors pages of page_size).
CREATE OR REPLACE FUNCTION s3vl.scan_vectors(
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  return_data boolean DEFAULT false,
  return_metadata boolean DEFAULT true,
  page_size integer DEFAULT 1000)
RETURNS TABLE (vector_id text, vector_data float8[], metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.scan_vectors';
  target record;
  page record;
  token text;
BEGIN
  PERFORM s3vl._check_range(caller, 'page_size', page_size, 'max_results');
  PERFORM s3vl._require(caller, 'return_data', return_data);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  SELECT * INTO target FROM s3vl._resolve_index(caller, scan_vectors.index_name,
                                                scan_vectors.index_arn);
  LOOP
    SELECT * INTO page FROM s3vl._list_page(caller, target.index_arn, page_size, token,
      return_data, return_metadata, NULL, NULL);
    RETURN QUERY
      SELECT e.value ->> 'vector_id',
             CASE WHEN return_data THEN s3vl._float8_array(e.value -> 'vector_data') END,
             CASE WHEN return_metadata THEN coalesce(e.value -> 'metadata', '{}'::jsonb) END
      FROM jsonb_array_elements(page.vectors) WITH ORDINALITY AS e(value, n)
      ORDER BY e.n;
    EXIT WHEN page.page_next_token IS NULL;
    token := page.page_next_token;
  END LOOP;
END
$$;

-- ==== 60_writes.sql
-- Writes: put_vectors, put_vector, delete_vectors. Every vector is validated here before the
-- first invocation (a large write is several invocations, so a bad vector found by the function
-- in a later one would leave earlier ones written). The input is split into invocations under the
-- Lambda payload limit; the function splits each one into PutVectors/DeleteVectors calls of 500.

-- Compact UTF-8 JSON size (how the function and S3 Vectors measure metadata): jsonb's text form
-- adds one space after every ':' and ',' outside strings; strings are kept as they are.
CREATE OR REPLACE FUNCTION s3vl._compact_json_bytes(value jsonb)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.octet_length(pg_catalog.regexp_replace(value::text,
           '("(?:[^"\\]|\\.)*")|[ ]', '\1', 'g'))
$$;

-- Payload budget of one invocation: the Lambda limit less room for the envelope and for the one
-- element that may cross the budget line (a vector of 4096 floats plus 40 KB metadata < 200 KB).
CREATE OR REPLACE FUNCTION s3vl._payload_budget(caller text, invocation_type text)
RETURNS integer
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF invocation_type IS NULL OR invocation_type NOT IN ('RequestResponse', 'Event') THEN
    RAISE EXCEPTION '%: invocation_type must be ''RequestResponse'' or ''Event'' (got %)', caller,
      coalesce(invocation_type, 'NULL')
      USING ERRCODE = '22023',
            HINT = 'Event is fire-and-forget: failures go to the function''s dead-letter queue.';
  END IF;
  RETURN s3vl._limit(CASE invocation_type WHEN 'Event' THEN 'event_payload_bytes'
                      ELSE 'invoke_payload_bytes' END) - 256 * 1024;
END
$$;

-- Vectors or keys per invocation, whatever their size: bounds the PutVectors calls (10 of 500)
-- one invocation makes, so it ends well inside the function's timeout.
CREATE OR REPLACE FUNCTION s3vl._items_per_invocation()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 5000 $$;

-- An asynchronous (Event) invocation: Lambda queues the request and answers 202 at once; a
-- failure inside the function lands in its dead-letter queue, never in SQL.
CREATE OR REPLACE FUNCTION s3vl._invoke_event(caller text, request json)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  status integer;
BEGIN
  SELECT c.status_code INTO status FROM s3vl._call_lambda(caller, request, 'Event') AS c;
  IF status IS DISTINCT FROM 202 THEN
    RAISE EXCEPTION '%: the asynchronous invocation answered status % (expected 202)', caller,
      coalesce(status::text, 'NULL') USING ERRCODE = 'SV006';
  END IF;
END
$$;

-- Dimension, metric and non-filterable metadata keys of an index, asking GetIndex only for
-- what the registry does not know (non-filterable keys are needed only for metadata > 2 KB).
CREATE OR REPLACE FUNCTION s3vl._index_shape(caller text, index_arn text, known_dimension integer,
  known_metric text, need_non_filterable boolean,
  OUT dimension integer, OUT distance_metric text, OUT non_filterable_keys text[])
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  info jsonb;
BEGIN
  dimension := known_dimension;
  distance_metric := known_metric;
  IF known_dimension IS NOT NULL AND known_metric IS NOT NULL AND NOT need_non_filterable THEN
    RETURN;
  END IF;
  info := s3vl._invoke(caller, s3vl._get_index_request(index_arn));
  dimension := coalesce(known_dimension, (info ->> 'dimension')::integer);
  distance_metric := coalesce(known_metric, info ->> 'distance_metric');
  non_filterable_keys := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(
    coalesce(info -> 'non_filterable_metadata_keys', '[]'::jsonb)));
END
$$;

-- Raises when a key stands twice in one write, naming both places; `label` names an element,
-- `%s` standing for its position: array position - 1 + first_position.
CREATE OR REPLACE FUNCTION s3vl._check_unique_keys(caller text, keys text[], label text,
  first_position integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  bad record;
BEGIN
  SELECT d.k, d.first_n, d.second_n INTO bad FROM (
    SELECT o.k, min(o.n) AS first_n, (array_agg(o.n ORDER BY o.n))[2] AS second_n
    FROM pg_catalog.unnest(keys) WITH ORDINALITY AS o(k, n)
    GROUP BY o.k HAVING count(*) > 1) AS d
    ORDER BY d.second_n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: % repeats the key "%" of %; keys must be unique in one call', caller,
      format(label, bad.second_n - 1 + first_position), bad.k,
      format(label, bad.first_n - 1 + first_position) USING ERRCODE = '22023';
  END IF;
END
$$;

-- Checks the metadata of a write (one jsonb object or NULL per key) and returns the index shape
-- (fetching the non-filterable keys only when some metadata is over 2 KB). `label` names an
-- element in messages, `%s` standing for its position: array position - 1 + first_position.
CREATE OR REPLACE FUNCTION s3vl._check_metadata_list(caller text, index_arn text, keys text[],
  metadata jsonb[], label text, first_position integer, known_dimension integer,
  known_metric text,
  OUT dimension integer, OUT distance_metric text, OUT non_filterable_keys text[])
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  max_keys constant integer := s3vl._limit('metadata_keys');
  max_bytes constant integer := s3vl._limit('metadata_bytes');
  max_filterable constant integer := s3vl._limit('filterable_metadata_bytes');
  bad record;
  shape record;
BEGIN
  IF metadata IS NOT NULL THEN
    -- unnest of both arrays side by side (subscripting a jsonb[] per row rescans it)
    SELECT o.n AS i, o.k, o.md INTO bad FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) NOT IN ('object', 'null')
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") must be a JSON object (got a JSON %)', caller,
        format(label, bad.i - 1 + first_position), bad.k, pg_catalog.jsonb_typeof(bad.md)
        USING ERRCODE = '22023';
    END IF;
    SELECT o.n AS i, o.k, (SELECT count(*) FROM pg_catalog.jsonb_object_keys(o.md)) AS key_count
      INTO bad FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND (SELECT count(*) FROM pg_catalog.jsonb_object_keys(o.md)) > max_keys
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") has % keys; at most % are allowed', caller,
        format(label, bad.i - 1 + first_position), bad.k, bad.key_count, max_keys
        USING ERRCODE = '22023';
    END IF;
    -- The text form is never shorter than the compact form: measure exactly only above the limit.
    SELECT o.n AS i, o.k, s3vl._compact_json_bytes(o.md) AS size INTO bad
      FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND pg_catalog.octet_length(o.md::text) > max_bytes
        AND s3vl._compact_json_bytes(o.md) > max_bytes
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") is % bytes; at most % bytes are allowed', caller,
        format(label, bad.i - 1 + first_position), bad.k, bad.size, max_bytes
        USING ERRCODE = '22023';
    END IF;
  END IF;

  SELECT * INTO shape FROM s3vl._index_shape(caller, index_arn, known_dimension, known_metric,
    metadata IS NOT NULL AND EXISTS (
      SELECT 1 FROM pg_catalog.unnest(metadata) AS o(md)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND pg_catalog.octet_length(o.md::text) > max_filterable));
  dimension := shape.dimension;
  distance_metric := shape.distance_metric;
  non_filterable_keys := shape.non_filterable_keys;

  IF metadata IS NOT NULL AND shape.non_filterable_keys IS NOT NULL THEN
    SELECT o.n AS i, o.k, s3vl._compact_json_bytes(o.md - shape.non_filterable_keys) AS size
      INTO bad FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND pg_catalog.octet_length(o.md::text) > max_filterable
        AND s3vl._compact_json_bytes(o.md - shape.non_filterable_keys) > max_filterable
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") has % bytes of filterable metadata; at most % bytes are '
        'allowed', caller, format(label, bad.i - 1 + first_position), bad.k, bad.size,
        max_filterable
        USING ERRCODE = '22023',
              DETAIL = format('non-filterable keys of this index: %s',
                              coalesce(nullif(array_to_string(shape.non_filterable_keys, ', '),
                                              ''), 'none')),
              HINT = 'Declare large fields in the index''s non-filterable metadata keys '
                     '(nonFilterableMetadataKeys when the index is created).';
    END IF;
  END IF;
END
$$;

-- A key array of a write: non-empty, one-dimensional, every key 1 to 1024 characters.
CREATE OR REPLACE FUNCTION s3vl._check_key_array(caller text, keys text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  max_key constant integer := s3vl._limit('vector_id_length');
  bad record;
BEGIN
  IF keys IS NULL OR pg_catalog.cardinality(keys) = 0 OR pg_catalog.array_ndims(keys) <> 1 THEN
    RAISE EXCEPTION '%: keys must be a non-empty one-dimensional array of keys', caller
      USING ERRCODE = '22023', HINT = 'For example ARRAY[''doc-1'', ''doc-2''] or '
                                      'array_agg(id::text ORDER BY id).';
  END IF;
  SELECT o.n AS i, o.k INTO bad FROM pg_catalog.unnest(keys) WITH ORDINALITY AS o(k, n)
    WHERE o.k IS NULL OR pg_catalog.length(o.k) NOT BETWEEN 1 AND max_key
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: keys element % must be a key of 1 to % characters (got %)', caller, bad.i,
      max_key, coalesce(pg_catalog.length(bad.k)::text || ' characters', 'NULL')
      USING ERRCODE = '22023';
  END IF;
END
$$;

-- Sends a write in as few invocations as the payload limit allows and returns the count the
-- function answers in `counted` ("written", "deleted"; for Event, the items queued). `items` are
-- the JSON texts of the request's `field` array, in order; each invocation's JSON stays under
-- `budget` bytes and holds at most _items_per_invocation() items. The index's cached answers are
-- dropped afterwards.
CREATE OR REPLACE FUNCTION s3vl._write_in_parts(caller text, operation text, index_arn text,
  field text, items text[], budget integer, invocation_type text, counted text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  part record;
  done bigint := 0;
BEGIN
  FOR part IN
    WITH placed AS (
      SELECT i.item, i.n,
             sum(pg_catalog.octet_length(i.item) + 1) OVER (ORDER BY i.n) / budget AS by_size,
             (i.n - 1) / s3vl._items_per_invocation() AS by_count
      FROM pg_catalog.unnest(items) WITH ORDINALITY AS i(item, n))
    SELECT ('{"operation":' || pg_catalog.to_json(operation)::text
            || ',"index_arn":' || pg_catalog.to_json(index_arn)::text
            || ',' || pg_catalog.to_json(field)::text || ':['
            || pg_catalog.string_agg(p.item, ',' ORDER BY p.n) || ']}')::json AS request,
           count(*) AS n
    FROM placed p GROUP BY p.by_size, p.by_count ORDER BY p.by_size, p.by_count
  LOOP
    IF invocation_type = 'Event' THEN
      PERFORM s3vl._invoke_event(caller, part.request);
      done := done + part.n;
    ELSE
      done := done + coalesce((s3vl._invoke(caller, part.request) ->> counted)::bigint, part.n);
    END IF;
  END LOOP;
  PERFORM s3vl._cache_invalidate(index_arn);
  RETURN done;
END
$$;

-- Raises the first problem of a put_vectors input (22023 shape/size, 22000 dimension/finite).
CREATE OR REPLACE FUNCTION s3vl._check_put_input(caller text, index_arn text, vectors jsonb,
  known_dimension integer, known_metric text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  max_key constant integer := s3vl._limit('vector_id_length');
  max_filterable constant integer := s3vl._limit('filterable_metadata_bytes');
  key_list text[];
  bad record;
  shape record;
  scan record;
BEGIN
  -- One pass answers "is anything wrong?" for the common, valid input; the passes below run
  -- only to find and name the first problem.
  SELECT pg_catalog.bool_or(
           pg_catalog.jsonb_typeof(o.v) <> 'object'
           OR pg_catalog.jsonb_typeof(o.v -> 'key') IS DISTINCT FROM 'string'
           OR pg_catalog.length(o.v ->> 'key') NOT BETWEEN 1 AND max_key
           OR pg_catalog.jsonb_typeof(d.data) IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@.type() != "number"
                || @ > 3.4028234663852886e38 || @ < -3.4028234663852886e38)')
           OR pg_catalog.jsonb_typeof(o.v -> 'metadata') NOT IN ('object', 'null')
           OR pg_catalog.jsonb_array_length(d.data) IS DISTINCT FROM known_dimension
           OR (known_metric = 'cosine'
               AND NOT pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)'))) AS suspect,
         pg_catalog.bool_or(pg_catalog.jsonb_typeof(o.v -> 'metadata') = 'object'
           AND pg_catalog.octet_length((o.v -> 'metadata')::text) > max_filterable) AS big_metadata,
         count(DISTINCT o.v ->> 'key') <> count(*) AS repeated
    INTO scan
    FROM pg_catalog.jsonb_array_elements(vectors) AS o(v),
    LATERAL (SELECT CASE pg_catalog.jsonb_typeof(o.v -> 'data')
      WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END AS data) AS d;
  IF NOT (scan.suspect OR scan.big_metadata OR scan.repeated) THEN
    RETURN;
  END IF;

  SELECT o.n - 1 AS i, o.v INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    WHERE pg_catalog.jsonb_typeof(o.v) <> 'object'
       OR pg_catalog.jsonb_typeof(o.v -> 'key') IS DISTINCT FROM 'string'
       OR pg_catalog.length(o.v ->> 'key') NOT BETWEEN 1 AND max_key
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%] must be an object whose "key" is a string of 1 to % characters',
      caller, bad.i, max_key
      USING ERRCODE = '22023', DETAIL = 'got: ' || pg_catalog.left(bad.v::text, 200),
            HINT = 'Each element: {"key": "doc-1", "data": [0.1, ...], "metadata": {...}}.';
  END IF;

  SELECT o.n - 1 AS i, o.v ->> 'key' AS k INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    WHERE pg_catalog.jsonb_typeof(CASE pg_catalog.jsonb_typeof(o.v -> 'data')
            WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END)
          IS DISTINCT FROM 'array'
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") must be an array of numbers or {"float32": [...]}',
      caller, bad.i, bad.k USING ERRCODE = '22023';
  END IF;

  -- A jsonpath test per vector finds the bad vector; only its elements are then unnested.
  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, e.n AS position, e.x INTO bad
    FROM (SELECT b.v, b.n FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS b(v, n)
          WHERE pg_catalog.jsonb_path_exists(CASE pg_catalog.jsonb_typeof(b.v -> 'data')
                  WHEN 'object' THEN b.v -> 'data' -> 'float32' ELSE b.v -> 'data' END,
                  '$[*] ? (@.type() != "number" || @ > 3.4028234663852886e38
                           || @ < -3.4028234663852886e38)')
          ORDER BY b.n LIMIT 1) AS o,
    LATERAL pg_catalog.jsonb_array_elements(CASE pg_catalog.jsonb_typeof(o.v -> 'data')
      WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END)
      WITH ORDINALITY AS e(x, n)
    WHERE pg_catalog.jsonb_typeof(e.x) <> 'number'
       OR pg_catalog.abs(e.x::numeric) > 3.4028234663852886e38
    ORDER BY e.n LIMIT 1;
  IF FOUND THEN
    IF pg_catalog.jsonb_typeof(bad.x) <> 'number' THEN
      RAISE EXCEPTION '%: vectors[%].data (key "%") element % must be a number (got %)', caller,
        bad.i, bad.k, bad.position, pg_catalog.left(bad.x::text, 50) USING ERRCODE = '22023';
    END IF;
    RAISE EXCEPTION '%: vectors[%].data (key "%") element % must be a finite float32 value '
      '(|x| <= 3.4028235e38, got %)', caller, bad.i, bad.k, bad.position,
      pg_catalog.left(bad.x::text, 50) USING ERRCODE = '22000';
  END IF;

  key_list := ARRAY(SELECT o.v ->> 'key' FROM pg_catalog.jsonb_array_elements(vectors)
                    WITH ORDINALITY AS o(v, n) ORDER BY o.n);
  -- Metadata: one checker for both write forms (it also reads the index shape).
  SELECT * INTO shape FROM s3vl._check_metadata_list(caller, index_arn, key_list,
    ARRAY(SELECT o.v -> 'metadata' FROM pg_catalog.jsonb_array_elements(vectors)
          WITH ORDINALITY AS o(v, n) ORDER BY o.n),
    'vectors[%s].metadata', 0, known_dimension, known_metric);

  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, pg_catalog.jsonb_array_length(d.data) AS dim,
         pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)') AS nonzero
    INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n),
    LATERAL (SELECT CASE pg_catalog.jsonb_typeof(o.v -> 'data')
      WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END AS data) AS d
    WHERE pg_catalog.jsonb_array_length(d.data) IS DISTINCT FROM shape.dimension
       OR (shape.distance_metric = 'cosine'
           AND NOT pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)'))
    ORDER BY o.n LIMIT 1;
  IF FOUND AND bad.dim IS DISTINCT FROM shape.dimension THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") has dimension % but the index has dimension %',
      caller, bad.i, bad.k, bad.dim, shape.dimension USING ERRCODE = '22000';
  ELSIF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") is all zeros, which a cosine index cannot store',
      caller, bad.i, bad.k USING ERRCODE = '22023';
  END IF;

  PERFORM s3vl._check_unique_keys(caller, key_list, 'vectors[%s]', 0);
END
$$;

-- Writes vectors (S3 Vectors shape, "data" as {"float32": [...]} or a plain array) and returns
-- how many were written (queued, for Event). Any count: split into invocations by payload size.
CREATE OR REPLACE FUNCTION s3vl.put_vectors(
  index_name text,
  vectors jsonb,
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.put_vectors';
  budget integer;
  target record;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  IF vectors IS NULL OR pg_catalog.jsonb_typeof(vectors) <> 'array' THEN
    RAISE EXCEPTION '%: vectors must be a JSON array of {"key", "data", "metadata"} objects '
      '(got %)', caller, coalesce('a JSON ' || pg_catalog.jsonb_typeof(vectors), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'The same shape as aws s3vectors put-vectors --vectors.';
  END IF;
  SELECT * INTO target FROM s3vl._resolve_index(caller, put_vectors.index_name, NULL);
  IF pg_catalog.jsonb_array_length(vectors) = 0 THEN
    RETURN 0;
  END IF;
  PERFORM s3vl._check_put_input(caller, target.index_arn, vectors, target.dimension,
                                target.distance_metric);
  RETURN s3vl._write_in_parts(caller, 'put_vectors', target.index_arn, 'vectors',
    ARRAY(SELECT pg_catalog.json_build_object('key', o.v ->> 'key',
                   'data', (CASE pg_catalog.jsonb_typeof(o.v -> 'data')
                     WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END)::json,
                   'metadata', coalesce(o.v -> 'metadata', '{}'::jsonb)::json)::text
          FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
          ORDER BY o.n),
    budget, invocation_type, 'written');
END
$$;

-- Raises the first problem of a put_vector_arrays input. The vectors are checked with array
-- operations (no per-number SQL); metadata as in _check_put_input.
CREATE OR REPLACE FUNCTION s3vl._check_put_arrays(caller text, index_arn text, keys text[],
  vectors float8[], metadata jsonb[], known_dimension integer, known_metric text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  n constant integer := pg_catalog.cardinality(keys);
  has_nan boolean;
  bad record;
  shape record;
BEGIN
  PERFORM s3vl._check_key_array(caller, keys);
  PERFORM s3vl._check_unique_keys(caller, keys, 'keys element %s', 1);

  IF vectors IS NULL OR pg_catalog.array_ndims(vectors) IS DISTINCT FROM 2 THEN
    RAISE EXCEPTION '%: vectors must be a two-dimensional float8[] array, one row per key (got %)',
      caller, coalesce(pg_catalog.array_ndims(vectors)::text || ' dimension(s)', 'NULL')
      USING ERRCODE = '22023',
            HINT = 'array_agg(embedding ORDER BY id) over float8[] rows gives one; '
                   'for one vector use s3vl.put_vector.';
  END IF;
  IF pg_catalog.array_length(vectors, 1) <> n THEN
    RAISE EXCEPTION '%: vectors has % rows but keys has % elements', caller,
      pg_catalog.array_length(vectors, 1), n USING ERRCODE = '22023';
  END IF;
  IF metadata IS NOT NULL AND (pg_catalog.array_ndims(metadata) IS DISTINCT FROM 1
                               OR pg_catalog.cardinality(metadata) <> n) THEN
    RAISE EXCEPTION '%: metadata must be NULL or a one-dimensional array with one element per key '
      '(got % elements for % keys)', caller, pg_catalog.cardinality(metadata), n
      USING ERRCODE = '22023';
  END IF;
  -- `x = ANY (array)` is NULL when nothing matches and an element is NULL.
  has_nan := 'NaN'::float8 = ANY (vectors);
  IF has_nan IS NULL THEN
    SELECT (o.n - 1) / pg_catalog.array_length(vectors, 2) + 1 AS i INTO bad
      FROM pg_catalog.unnest(vectors) WITH ORDINALITY AS o(x, n) WHERE o.x IS NULL
      ORDER BY o.n LIMIT 1;
    RAISE EXCEPTION '%: vectors row % (key "%") contains NULL', caller, bad.i, keys[bad.i]
      USING ERRCODE = '22023';
  END IF;
  IF has_nan OR 'Infinity'::float8 = ANY (vectors) OR '-Infinity'::float8 = ANY (vectors) THEN
    SELECT (o.n - 1) / pg_catalog.array_length(vectors, 2) + 1 AS i INTO bad
      FROM pg_catalog.unnest(vectors) WITH ORDINALITY AS o(x, n)
      WHERE o.x = 'NaN'::float8 OR o.x = 'Infinity'::float8 OR o.x = '-Infinity'::float8
      ORDER BY o.n LIMIT 1;
    RAISE EXCEPTION '%: vectors row % (key "%") must contain only finite numbers (NaN and '
      'Infinity are not allowed)', caller, bad.i, keys[bad.i] USING ERRCODE = '22000';
  END IF;
  -- The float4 cast checks every element in C; it also fails on values too small for float32,
  -- which S3 Vectors stores as 0, so only the exact test below decides.
  BEGIN
    PERFORM vectors::float4[];
  EXCEPTION WHEN numeric_value_out_of_range THEN
    SELECT (o.n - 1) / pg_catalog.array_length(vectors, 2) + 1 AS i INTO bad
      FROM pg_catalog.unnest(vectors) WITH ORDINALITY AS o(x, n)
      WHERE pg_catalog.abs(o.x) > 3.4028234663852886e38
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: vectors row % (key "%") must contain only finite float32 values '
        '(|x| <= 3.4028235e38)', caller, bad.i, keys[bad.i] USING ERRCODE = '22000';
    END IF;
  END;

  SELECT * INTO shape FROM s3vl._check_metadata_list(caller, index_arn, keys, metadata,
    'metadata element %s', 1, known_dimension, known_metric);
  IF pg_catalog.array_length(vectors, 2) <> shape.dimension THEN
    RAISE EXCEPTION '%: vectors has dimension % but the index has dimension %', caller,
      pg_catalog.array_length(vectors, 2), shape.dimension
      USING ERRCODE = '22000',
            HINT = 'Use an embedding model with the index dimension; see s3vl.get_index_info().';
  END IF;
  IF shape.distance_metric = 'cosine' THEN
    SELECT g.i INTO bad FROM pg_catalog.generate_subscripts(vectors, 1) AS g(i)
      WHERE 0 = ALL (vectors[g.i:g.i]) ORDER BY g.i LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: vectors row % (key "%") is all zeros, which a cosine index cannot store',
        caller, bad.i, keys[bad.i] USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;

-- Writes vectors given as parallel arrays, the form a table aggregates to:
--   SELECT s3vl.put_vector_arrays('my-index', array_agg(id ORDER BY id),
--            array_agg(embedding ORDER BY id), array_agg(meta ORDER BY id)) FROM docs;
-- keys text[], vectors a 2-D float8[] (one row per key), metadata jsonb[] or NULL. Same checks,
-- splitting and answer as put_vectors, without turning every number into jsonb: much faster for
-- large vectors. Returns how many were written (queued, for Event).
CREATE OR REPLACE FUNCTION s3vl.put_vector_arrays(
  index_name text,
  keys text[],
  vectors float8[],
  metadata jsonb[] DEFAULT NULL,
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 1
AS $$
DECLARE
  caller constant text := 's3vl.put_vector_arrays';
  matrix_text text;
  data_rows text[];
  budget integer;
  target record;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  SELECT * INTO target FROM s3vl._resolve_index(caller, put_vector_arrays.index_name, NULL);
  PERFORM s3vl._check_put_arrays(caller, target.index_arn, keys, vectors, metadata,
                                 target.dimension, target.distance_metric);
  -- The numbers go as float32 text (float4out, shortest exact form; extra_float_digits is pinned
  -- above): S3 Vectors stores float32, so nothing it keeps is lost, and the request is about
  -- half the size of float8 text. One to_json of the whole matrix is split into its rows (in a
  -- variable: inside the query below the split was several times slower).
  BEGIN
    matrix_text := pg_catalog.to_json(vectors::float4[])::text;
  EXCEPTION WHEN numeric_value_out_of_range THEN
    -- Values too small for float32 (S3 Vectors stores 0; validation has ruled out too large
    -- ones): this input goes as float8 text.
    matrix_text := pg_catalog.to_json(vectors)::text;
  END;
  data_rows := pg_catalog.string_to_array(
    pg_catalog.substr(matrix_text, 3, pg_catalog.length(matrix_text) - 4), '],[');
  matrix_text := NULL;
  -- unnest of several arrays walks them side by side (subscripting a jsonb[] or text[] per row
  -- would scan it from the start every time); multi-argument unnest is FROM-clause syntax, it
  -- cannot be schema-qualified.
  RETURN s3vl._write_in_parts(caller, 'put_vectors', target.index_arn, 'vectors',
    ARRAY(SELECT '{"key":' || pg_catalog.to_json(r.k)::text || ',"data":[' || r.t || ']'
                 || CASE WHEN r.md IS NULL OR pg_catalog.jsonb_typeof(r.md) = 'null'
                         THEN '' ELSE ',"metadata":' || r.md::text END
                 || '}'
          FROM unnest(keys, data_rows, coalesce(metadata, pg_catalog.array_fill(NULL::jsonb,
                        ARRAY[pg_catalog.cardinality(keys)]))) WITH ORDINALITY AS r(k, t, md, i)
          ORDER BY r.i),
    budget, invocation_type, 'written');
END
$$;

-- One vector: s3vl.put_vector('my-index', 'doc-1', ARRAY[...]::float8[], '{"genre": "news"}').
CREATE OR REPLACE FUNCTION s3vl.put_vector(
  index_name text,
  key text,
  vector float8[],
  metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.put_vector', 'key', key);
  PERFORM s3vl._check_vector('s3vl.put_vector', 'vector', vector);
  -- Metadata is added only when given (jsonb_strip_nulls would also drop null values inside it).
  RETURN s3vl.put_vectors(index_name, pg_catalog.jsonb_build_array(
    pg_catalog.jsonb_build_object('key', key, 'data', pg_catalog.to_jsonb(vector))
    || CASE WHEN metadata IS NULL THEN '{}'::jsonb
            ELSE pg_catalog.jsonb_build_object('metadata', metadata) END));
END
$$;

-- Deletes keys (any count; repeats are sent once) and returns how many distinct keys were sent
-- (S3 Vectors does not say which existed).
CREATE OR REPLACE FUNCTION s3vl.delete_vectors(
  index_name text,
  keys text[],
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.delete_vectors';
  budget integer;
  target record;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  PERFORM s3vl._check_key_array(caller, keys);
  SELECT * INTO target FROM s3vl._resolve_index(caller, delete_vectors.index_name, NULL);
  -- A key given twice is sent once, at its first position.
  RETURN s3vl._write_in_parts(caller, 'delete_vectors', target.index_arn, 'keys',
    ARRAY(SELECT pg_catalog.to_json(d.k)::text
          FROM (SELECT o.k, min(o.n) AS n FROM pg_catalog.unnest(keys) WITH ORDINALITY AS o(k, n)
                GROUP BY o.k) AS d
          ORDER BY d.n),
    budget, invocation_type, 'deleted');
END
$$;

-- ==== 65_batch.sql
-- query_vectors_batch: many similarity searches in one statement and as few invocations as the
-- batch limit (100 queries) and the payload limit allow; inside the function the QueryVectors
-- calls run concurrently. query_index is 1-based, as PostgreSQL arrays and WITH ORDINALITY are.
-- Cached answers (sql/70_cache.sql) are used per query; only the misses are sent.

-- Row i of a 2-D array as a 1-D array.
CREATE OR REPLACE FUNCTION s3vl._array_row(matrix float8[], i integer)
RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY(SELECT pg_catalog.unnest(matrix[i:i][:])) $$;

CREATE OR REPLACE FUNCTION s3vl._query_batch(caller text, index_name text,
  query_vectors float8[], query_ids text[], top_k integer, metadata_filter jsonb,
  return_metadata boolean)
RETURNS TABLE (query_index integer, query_id text, vector_id text, distance float8,
               similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  max_batch constant integer := s3vl._limit('batch_queries');
  budget constant integer := s3vl._payload_budget(caller, 'RequestResponse');
  target record;
  n integer;
  vec float8[];
  answers jsonb[];
  members integer[] := '{}';
  pieces text[] := '{}';
  piece text;
  piece_bytes bigint := 0;
  head text;
  answer jsonb;
  entry record;
  qi integer;
BEGIN
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  IF query_vectors IS NULL OR pg_catalog.array_ndims(query_vectors) <> 2 THEN
    RAISE EXCEPTION '%: query_vectors must be a two-dimensional array, one query vector per row '
      '(got %)', caller, coalesce(pg_catalog.array_ndims(query_vectors)::text || ' dimensions',
                                   'NULL')
      USING ERRCODE = '22023',
            HINT = 'For example ARRAY[[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]::float8[], or a jsonb '
                   'array of arrays.';
  END IF;
  n := pg_catalog.array_length(query_vectors, 1);
  IF query_ids IS NOT NULL AND (pg_catalog.cardinality(query_ids) <> n
                                OR pg_catalog.array_position(query_ids, NULL) IS NOT NULL) THEN
    RAISE EXCEPTION '%: query_ids must have one non-NULL id per query vector (% ids for % '
      'vectors)', caller, pg_catalog.cardinality(query_ids), n USING ERRCODE = '22023';
  END IF;
  SELECT * INTO target FROM s3vl._resolve_index(caller, index_name, NULL);
  answers := pg_catalog.array_fill(NULL::jsonb, ARRAY[n]);
  FOR i IN 1 .. n LOOP
    vec := s3vl._array_row(query_vectors, i);
    PERFORM s3vl._check_vector(caller, format('query_vectors[%s]', i), vec, target.dimension);
    answers[i] := s3vl._cache_get(target.index_arn, vec, top_k, metadata_filter,
                                  return_metadata);
  END LOOP;

  head := pg_catalog.json_build_object('operation', 'query_vectors_batch',
    'index_arn', target.index_arn, 'top_k', top_k, 'return_metadata', return_metadata,
    'metadata_filter', metadata_filter)::text;
  head := pg_catalog.left(head, -1) || ', "query_vectors": [';
  FOR i IN 1 .. n + 1 LOOP
    IF i <= n AND answers[i] IS NOT NULL THEN
      CONTINUE;
    END IF;
    IF i <= n THEN
      piece := pg_catalog.array_to_json(s3vl._array_row(query_vectors, i))::text;
    END IF;
    -- Send the pending queries when the batch is full, the payload would pass the budget, or
    -- every query has been seen.
    IF pg_catalog.cardinality(members) > 0
       AND (i > n OR pg_catalog.cardinality(members) = max_batch
            OR piece_bytes + pg_catalog.octet_length(piece) + 1 > budget) THEN
      answer := s3vl._expect_array(caller, s3vl._invoke(caller,
        (head || pg_catalog.array_to_string(pieces, ',') || ']}')::json), 'batch results');
      IF pg_catalog.jsonb_array_length(answer) <> pg_catalog.cardinality(members) THEN
        RAISE EXCEPTION '%: the Lambda function answered % batch entries for % queries', caller,
          pg_catalog.jsonb_array_length(answer), pg_catalog.cardinality(members)
          USING ERRCODE = 'SV007';
      END IF;
      FOR entry IN SELECT e.value, e.n FROM pg_catalog.jsonb_array_elements(answer)
                   WITH ORDINALITY AS e(value, n) LOOP
        qi := members[entry.n];
        IF NOT coalesce((entry.value ->> 'success')::boolean, false) THEN
          PERFORM s3vl._raise_envelope_error(format('%s: query_vectors[%s]', caller, qi),
            pg_catalog.jsonb_build_object('success', false, 'error', entry.value -> 'error'));
        END IF;
        answers[qi] := s3vl._expect_array(caller, entry.value -> 'results', 'query results');
        PERFORM s3vl._cache_put(target.index_arn, s3vl._array_row(query_vectors, qi), top_k,
                                metadata_filter, return_metadata, answers[qi]);
      END LOOP;
      members := '{}';
      pieces := '{}';
      piece_bytes := 0;
    END IF;
    EXIT WHEN i > n;
    members := members || i;
    pieces := pieces || piece;
    piece_bytes := piece_bytes + pg_catalog.octet_length(piece) + 1;
  END LOOP;

  BEGIN
    RETURN QUERY
      SELECT q.n::integer, query_ids[q.n], r.value ->> 'vector_id',
             (r.value ->> 'distance')::float8, (r.value ->> 'similarity_score')::float8,
             coalesce(r.value -> 'metadata', '{}'::jsonb)
      FROM pg_catalog.unnest(answers) WITH ORDINALITY AS q(a, n),
           LATERAL pg_catalog.jsonb_array_elements(q.a) WITH ORDINALITY AS r(value, k)
      ORDER BY q.n, r.k;
  EXCEPTION WHEN data_exception OR datatype_mismatch THEN
    RAISE EXCEPTION '%: the Lambda function answered a malformed query result: %', caller,
      SQLERRM USING ERRCODE = 'SV007';
  END;
END
$$;

-- Query vectors as the rows of a 2-D float8[], with optional ids echoed as query_id.
CREATE OR REPLACE FUNCTION s3vl.query_vectors_batch(
  index_name text,
  query_vectors float8[],
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true,
  query_ids text[] DEFAULT NULL)
RETURNS TABLE (query_index integer, query_id text, vector_id text, distance float8,
               similarity_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM s3vl._query_batch('s3vl.query_vectors_batch', index_name, query_vectors,
                                  query_ids, top_k, metadata_filter, return_metadata)
$$;

-- Query vectors as a jsonb array whose elements are number arrays or {"id": ..., "vector": [...]}.
CREATE OR REPLACE FUNCTION s3vl.query_vectors_batch(
  index_name text,
  query_vectors jsonb,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (query_index integer, query_id text, vector_id text, distance float8,
               similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.query_vectors_batch';
  bad record;
  matrix float8[];
  ids text[];
BEGIN
  IF query_vectors IS NULL OR pg_catalog.jsonb_typeof(query_vectors) <> 'array'
     OR pg_catalog.jsonb_array_length(query_vectors) = 0 THEN
    RAISE EXCEPTION '%: query_vectors must be a non-empty JSON array of vectors', caller
      USING ERRCODE = '22023',
            HINT = 'For example ''[[0.1, 0.2], [0.3, 0.4]]'' or ''[{"id": "a", "vector": [0.1, 0.2]}]''.';
  END IF;
  SELECT e.n, e.v INTO bad
    FROM pg_catalog.jsonb_array_elements(query_vectors) WITH ORDINALITY AS e(v, n)
    WHERE pg_catalog.jsonb_typeof(CASE pg_catalog.jsonb_typeof(e.v)
            WHEN 'object' THEN e.v -> 'vector' ELSE e.v END) IS DISTINCT FROM 'array'
       OR pg_catalog.jsonb_path_exists(CASE pg_catalog.jsonb_typeof(e.v)
            WHEN 'object' THEN e.v -> 'vector' ELSE e.v END, '$[*] ? (@.type() != "number")')
       OR pg_catalog.jsonb_typeof(e.v -> 'id') NOT IN ('string', 'number')
       OR pg_catalog.jsonb_array_length(CASE pg_catalog.jsonb_typeof(e.v)
            WHEN 'object' THEN e.v -> 'vector' ELSE e.v END)
          <> pg_catalog.jsonb_array_length(CASE pg_catalog.jsonb_typeof(query_vectors -> 0)
            WHEN 'object' THEN query_vectors -> 0 -> 'vector' ELSE query_vectors -> 0 END)
    ORDER BY e.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: query_vectors[%] must be an array of numbers (or {"id", "vector"}) as '
      'long as the first one', caller, bad.n
      USING ERRCODE = CASE WHEN pg_catalog.jsonb_typeof(bad.v) = 'array'
                            AND NOT pg_catalog.jsonb_path_exists(bad.v,
                                  '$[*] ? (@.type() != "number")')
                           THEN '22000' ELSE '22023' END,
            DETAIL = 'got: ' || pg_catalog.left(bad.v::text, 200);
  END IF;
  SELECT pg_catalog.array_agg(s3vl._float8_array(CASE pg_catalog.jsonb_typeof(e.v)
           WHEN 'object' THEN e.v -> 'vector' ELSE e.v END) ORDER BY e.n),
         pg_catalog.array_agg(e.v ->> 'id' ORDER BY e.n)
    INTO matrix, ids
    FROM pg_catalog.jsonb_array_elements(query_vectors) WITH ORDINALITY AS e(v, n);
  IF EXISTS (SELECT 1 FROM pg_catalog.unnest(ids) AS x(id) WHERE x.id IS NULL) THEN
    IF EXISTS (SELECT 1 FROM pg_catalog.unnest(ids) AS x(id) WHERE x.id IS NOT NULL) THEN
      RAISE EXCEPTION '%: give an "id" for every query vector or for none', caller
        USING ERRCODE = '22023';
    END IF;
    ids := NULL;
  END IF;
  RETURN QUERY SELECT * FROM s3vl._query_batch(caller, index_name, matrix, ids, top_k,
                                               metadata_filter, return_metadata);
END
$$;

-- ==== 70_cache.sql
-- Result cache for query_vectors and query_vectors_batch: opt-in per index with a time to live.
-- A hit answers without invoking the function. The key is a hash of every input that changes the
-- answer, and a hit also compares the full stored key, so two queries never share an answer.
-- The entries table is UNLOGGED: a cache needs no WAL and no crash safety (it is emptied after a
-- crash, which only costs misses); the settings are ordinary tables, kept like the configuration. Nothing here is granted: readers reach it through the SECURITY
-- DEFINER query functions. In a read-only transaction (a replica) the cache is bypassed.

CREATE TABLE IF NOT EXISTS s3vl.cache_settings (
  index_arn text PRIMARY KEY,
  ttl interval NOT NULL CHECK (ttl > interval '0'),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE s3vl.cache_settings IS 's3vl: indexes whose query results are cached (s3vl.set_cache)';

-- Size bounds (one row): entries and stored result bytes over all indexes.
CREATE TABLE IF NOT EXISTS s3vl.cache_limits (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  max_entries integer NOT NULL DEFAULT 10000 CHECK (max_entries > 0),
  max_bytes bigint NOT NULL DEFAULT 67108864 CHECK (max_bytes > 0)
);
INSERT INTO s3vl.cache_limits (id) VALUES (true) ON CONFLICT (id) DO NOTHING;

CREATE UNLOGGED TABLE IF NOT EXISTS s3vl.query_cache (
  key_hash bytea PRIMARY KEY,
  index_arn text NOT NULL,
  query_vector float8[] NOT NULL,
  top_k integer NOT NULL,
  metadata_filter jsonb,
  return_metadata boolean NOT NULL,
  result jsonb NOT NULL,
  result_bytes integer NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS query_cache_index_arn_idx ON s3vl.query_cache (index_arn);
CREATE INDEX IF NOT EXISTS query_cache_created_at_idx ON s3vl.query_cache (created_at);
COMMENT ON TABLE s3vl.query_cache IS 's3vl: cached query_vectors answers (see s3vl.cache_stats)';

-- Hit and miss counters are sequences: nextval never blocks another session and is not rolled
-- back, where a counter row would serialise every reader on one row lock.
CREATE SEQUENCE IF NOT EXISTS s3vl.cache_hits_seq;
CREATE SEQUENCE IF NOT EXISTS s3vl.cache_misses_seq;

-- The hash of the canonical serialisation of the full key: jsonb text has sorted keys, and the
-- vector goes in binary (array_send), exact whatever extra_float_digits a session uses.
CREATE OR REPLACE FUNCTION s3vl._cache_key(index_arn text, query_vector float8[], top_k integer,
  metadata_filter jsonb, return_metadata boolean)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.concat_ws(E'\x1f', index_arn,
           top_k::text, coalesce(metadata_filter::text, 'null'), return_metadata::text, ''),
           'UTF8') || pg_catalog.array_send(query_vector))
$$;

-- The TTL when caching applies to this index in this transaction, else NULL.
CREATE OR REPLACE FUNCTION s3vl._cache_ttl(index_arn text)
RETURNS interval
LANGUAGE sql STABLE
AS $$
  SELECT s.ttl FROM s3vl.cache_settings s
  WHERE s.index_arn = $1 AND pg_catalog.current_setting('transaction_read_only') = 'off'
$$;

-- A cached answer (the function's result array), or NULL on a miss. Counts hits and misses of
-- cached indexes only.
CREATE OR REPLACE FUNCTION s3vl._cache_get(index_arn text, query_vector float8[], top_k integer,
  metadata_filter jsonb, return_metadata boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
  ttl interval := s3vl._cache_ttl(index_arn);
  found_result jsonb;
BEGIN
  IF ttl IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT c.result INTO found_result FROM s3vl.query_cache c
  WHERE c.key_hash = s3vl._cache_key(index_arn, query_vector, top_k, metadata_filter,
                                     return_metadata)
    AND c.index_arn = _cache_get.index_arn AND c.query_vector = _cache_get.query_vector
    AND c.top_k = _cache_get.top_k
    AND c.metadata_filter IS NOT DISTINCT FROM _cache_get.metadata_filter
    AND c.return_metadata = _cache_get.return_metadata
    AND c.created_at > pg_catalog.clock_timestamp() - ttl;
  IF found_result IS NULL THEN
    PERFORM pg_catalog.nextval('s3vl.cache_misses_seq');
  ELSE
    PERFORM pg_catalog.nextval('s3vl.cache_hits_seq');
  END IF;
  RETURN found_result;
END
$$;

-- Stores an answer when the index is cached, then evicts expired entries and the oldest ones
-- beyond the size bounds (a miss already paid a Lambda round trip, so this scan is cheap).
CREATE OR REPLACE FUNCTION s3vl._cache_put(index_arn text, query_vector float8[], top_k integer,
  metadata_filter jsonb, return_metadata boolean, result jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
  bounds record;
BEGIN
  IF s3vl._cache_ttl(index_arn) IS NULL OR result IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO s3vl.query_cache AS c VALUES (
    s3vl._cache_key(index_arn, query_vector, top_k, metadata_filter, return_metadata),
    index_arn, query_vector, top_k, metadata_filter, return_metadata, result,
    pg_catalog.octet_length(result::text), pg_catalog.clock_timestamp())
  ON CONFLICT (key_hash) DO UPDATE SET index_arn = EXCLUDED.index_arn,
    query_vector = EXCLUDED.query_vector, top_k = EXCLUDED.top_k,
    metadata_filter = EXCLUDED.metadata_filter, return_metadata = EXCLUDED.return_metadata,
    result = EXCLUDED.result, result_bytes = EXCLUDED.result_bytes,
    created_at = EXCLUDED.created_at;
  -- One session evicts at a time (others skip it): concurrent evictions could deadlock.
  IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('s3vl.query_cache eviction'))
  THEN
    RETURN;
  END IF;
  SELECT * INTO bounds FROM s3vl.cache_limits;
  DELETE FROM s3vl.query_cache c USING (
    SELECT q.key_hash,
           row_number() OVER newest AS position,
           sum(q.result_bytes) OVER newest AS bytes_so_far,
           q.created_at <= pg_catalog.clock_timestamp() - coalesce(s.ttl, interval '0') AS expired
    FROM s3vl.query_cache q LEFT JOIN s3vl.cache_settings s ON s.index_arn = q.index_arn
    WINDOW newest AS (ORDER BY q.created_at DESC, q.key_hash)) AS ranked
  WHERE c.key_hash = ranked.key_hash
    AND (ranked.expired OR ranked.position > bounds.max_entries
         OR ranked.bytes_so_far > bounds.max_bytes);
END
$$;

-- Writes through s3vl drop the index's cached answers.
CREATE OR REPLACE FUNCTION s3vl._cache_invalidate(index_arn text)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
  DELETE FROM s3vl.query_cache c WHERE c.index_arn = $1
$$;

-- Turns caching on for an index (ttl > 0) or off (ttl NULL or 0, which also drops its entries).
CREATE OR REPLACE FUNCTION s3vl.set_cache(index_name text, ttl interval)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.set_cache';
  target record;
BEGIN
  SELECT * INTO target FROM s3vl._resolve_index(caller, set_cache.index_name, NULL);
  IF ttl IS NULL OR ttl = interval '0' THEN
    DELETE FROM s3vl.cache_settings s WHERE s.index_arn = target.index_arn;
    PERFORM s3vl._cache_invalidate(target.index_arn);
    RETURN;
  END IF;
  PERFORM s3vl._check_range(caller, 'ttl', pg_catalog.ceil(pg_catalog.date_part('epoch', ttl))::bigint,
                            'cache_ttl_seconds');
  INSERT INTO s3vl.cache_settings AS s (index_arn, ttl) VALUES (target.index_arn, ttl)
  ON CONFLICT (index_arn) DO UPDATE SET ttl = EXCLUDED.ttl, updated_at = now();
END
$$;

-- Size bounds for the whole cache; entries beyond them are evicted oldest first.
CREATE OR REPLACE FUNCTION s3vl.set_cache_limits(max_entries integer, max_bytes bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF max_entries IS NULL OR max_entries < 1 OR max_bytes IS NULL OR max_bytes < 1 THEN
    RAISE EXCEPTION 's3vl.set_cache_limits: max_entries and max_bytes must be at least 1 '
      '(got %, %)', coalesce(max_entries::text, 'NULL'), coalesce(max_bytes::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  UPDATE s3vl.cache_limits l SET max_entries = set_cache_limits.max_entries,
    max_bytes = set_cache_limits.max_bytes;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.cache_stats()
RETURNS TABLE (hits bigint, misses bigint, entries bigint, bytes bigint, max_entries integer,
               max_bytes bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT (SELECT CASE WHEN h.is_called THEN h.last_value ELSE 0 END FROM s3vl.cache_hits_seq h),
         (SELECT CASE WHEN m.is_called THEN m.last_value ELSE 0 END FROM s3vl.cache_misses_seq m),
         (SELECT count(*) FROM s3vl.query_cache),
         (SELECT coalesce(sum(c.result_bytes), 0)::bigint FROM s3vl.query_cache c),
         l.max_entries, l.max_bytes
  FROM s3vl.cache_limits l
$$;

-- Empties the cache and resets the counters; the per-index settings stay.
CREATE OR REPLACE FUNCTION s3vl.clear_cache()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  removed bigint;
BEGIN
  DELETE FROM s3vl.query_cache;
  GET DIAGNOSTICS removed = ROW_COUNT;
  PERFORM pg_catalog.setval('s3vl.cache_hits_seq', 1, false);
  PERFORM pg_catalog.setval('s3vl.cache_misses_seq', 1, false);
  RETURN removed;
END
$$;

-- ==== 80_sync.sql
-- Keeping S3 Vectors in step with PostgreSQL tables (docs/sync.md).
--
-- Triggers on a tracked table record the KEY of every changed row in s3vl.sync_outbox, in the
-- writer's transaction (one pending row per key: several changes to a key coalesce). s3vl.sync()
-- claims pending keys with FOR UPDATE SKIP LOCKED, reads each key's CURRENT row (present = put,
-- gone = delete), sends batches through the function and deletes the outbox rows only after the
-- function reported success. A writer that changes a claimed key waits for the claim to end and
-- then enqueues the key again, so a newer state is never overtaken by an older one and no change
-- is skipped; a crash between send and commit only re-sends an idempotent put/delete.

CREATE TABLE IF NOT EXISTS s3vl.sync_tables (
  source regclass PRIMARY KEY,
  key_column name NOT NULL,
  key_type text NOT NULL,
  embedding_column name NOT NULL,
  embedding_cast text NOT NULL,
  index_name text NOT NULL,
  metadata_columns text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE s3vl.sync_tables IS 's3vl: tables tracked by s3vl.track_table';

CREATE TABLE IF NOT EXISTS s3vl.sync_outbox (
  source regclass NOT NULL,
  key text NOT NULL,
  index_name text NOT NULL,
  changes integer NOT NULL DEFAULT 1,
  first_enqueued_at timestamptz NOT NULL DEFAULT now(),
  last_enqueued_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  last_error_at timestamptz,
  PRIMARY KEY (source, key)
);
CREATE INDEX IF NOT EXISTS sync_outbox_due ON s3vl.sync_outbox (source, next_attempt_at);
COMMENT ON TABLE s3vl.sync_outbox IS
  's3vl: keys changed since their last successful sync (one row per key)';

-- The version of each key last accepted by S3 Vectors (for s3vl.stale_rows).
CREATE TABLE IF NOT EXISTS s3vl.sync_state (
  source regclass NOT NULL,
  key text NOT NULL,
  version_hash text NOT NULL,
  synced_at timestamptz NOT NULL,
  PRIMARY KEY (source, key)
);

CREATE TABLE IF NOT EXISTS s3vl.sync_index_status (
  index_name text PRIMARY KEY,
  last_success timestamptz,
  last_error text,
  last_error_at timestamptz
);

-- Batch sizing (the one place for these numbers): PutVectors takes at most 500 vectors per call;
-- a synchronous Lambda request is at most 6 MB, so a put batch is also kept under ~4 MB of JSON
-- (about 22 bytes per float32 as text plus up to 2 KiB of metadata per vector).
CREATE OR REPLACE FUNCTION s3vl._sync_batch_size(dimension integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT greatest(1, least(500,
           4000000 / (coalesce(dimension, 4096) * 22 + 2048)))
$$;

-- Backoff after a failed attempt: 1 s, 2 s, 4 s ... capped at 5 minutes.
CREATE OR REPLACE FUNCTION s3vl._sync_backoff(attempts integer)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.make_interval(secs => least(300, 2 ^ least(attempts - 1, 20)))
$$;

-- SQL that returns (key text, vec float8[], meta jsonb) for the rows of a tracked table whose
-- key is in $1 (text[]), or of every row; rows with a NULL embedding count as absent.
DROP FUNCTION IF EXISTS s3vl._sync_row_sql(s3vl.sync_tables);  -- 1-argument first version
CREATE OR REPLACE FUNCTION s3vl._sync_row_sql(t s3vl.sync_tables, all_rows boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  meta text := '''{}''::jsonb';
BEGIN
  IF coalesce(pg_catalog.cardinality(t.metadata_columns), 0) > 0 THEN
    SELECT 'pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(' ||
           pg_catalog.string_agg(pg_catalog.format('%L, t.%I', c, c), ', ' ORDER BY o) || '))'
      INTO meta
      FROM pg_catalog.unnest(t.metadata_columns) WITH ORDINALITY AS u(c, o);
  END IF;
  RETURN pg_catalog.format(
    'SELECT t.%1$I::text AS key, (t.%2$I)%3$s AS vec, %4$s AS meta FROM %5$s t '
    'WHERE %6$s t.%2$I IS NOT NULL',
    t.key_column, t.embedding_column, t.embedding_cast, meta, t.source::text,
    CASE WHEN all_rows THEN ''
         ELSE pg_catalog.format('t.%I = ANY ($1::%s[]) AND', t.key_column, t.key_type) END);
END
$$;

CREATE OR REPLACE FUNCTION s3vl._sync_version(vec float8[], meta jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.md5(pg_catalog.array_to_json(vec)::text || '|' || coalesce(meta, '{}')::text) $$;

-- Statement-level capture: enqueues the keys a statement changed. TG_ARGV: key column, tracked
-- columns (text[] literal). Transition tables keep a bulk statement to one outbox statement.
CREATE OR REPLACE FUNCTION s3vl._sync_capture()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  key_col text := TG_ARGV[0];
  tracked text := (SELECT pg_catalog.string_agg(pg_catalog.format('%I', c), ', ')
                     FROM pg_catalog.unnest(TG_ARGV[1]::text[]) AS c);
  idx text := TG_ARGV[2];
  keys_sql text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    keys_sql := pg_catalog.format('SELECT %I::text FROM new_rows', key_col);
  ELSIF TG_OP = 'DELETE' THEN
    keys_sql := pg_catalog.format('SELECT %I::text FROM old_rows', key_col);
  ELSE
    -- Updated rows whose tracked columns changed, and old keys that no longer exist.
    keys_sql := pg_catalog.format(
      'SELECT %1$I::text FROM (SELECT %2$s FROM new_rows EXCEPT SELECT %2$s FROM old_rows) n '
      'UNION SELECT %1$I::text FROM (SELECT %1$I FROM old_rows EXCEPT SELECT %1$I FROM new_rows) o',
      key_col, tracked);
  END IF;
  EXECUTE pg_catalog.format(
    'INSERT INTO s3vl.sync_outbox AS o (source, key, index_name) '
    'SELECT $1, k, $2 FROM (%s) AS changed(k) WHERE k IS NOT NULL ORDER BY k '
    'ON CONFLICT (source, key) DO UPDATE SET changes = o.changes + 1, '
    'last_enqueued_at = pg_catalog.now(), next_attempt_at = pg_catalog.now()', keys_sql)
    USING TG_RELID::regclass, idx;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.untrack_table(source regclass)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  op text;
BEGIN
  PERFORM s3vl._require('s3vl.untrack_table', 'source', source);
  FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', 's3vl_sync_' || op, source);
  END LOOP;
  DELETE FROM s3vl.sync_outbox o WHERE o.source = untrack_table.source;
  DELETE FROM s3vl.sync_state s WHERE s.source = untrack_table.source;
  DELETE FROM s3vl.sync_tables t WHERE t.source = untrack_table.source;
  RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.track_table(
  source regclass,
  key_column name,
  embedding_column name,
  index_name text,
  metadata_columns text[] DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.track_table';
  key_type text;
  emb_type text;
  emb_cast text;
  col text;
  cols text[];
BEGIN
  PERFORM s3vl._require(caller, 'source', source);
  PERFORM s3vl._require(caller, 'key_column', key_column);
  PERFORM s3vl._require(caller, 'embedding_column', embedding_column);
  PERFORM s3vl._require(caller, 'index_name', index_name);
  PERFORM s3vl.resolve_index_arn(index_name);  -- 42704 unless registered and active
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO key_type
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF key_type IS NULL THEN
    RAISE EXCEPTION '%: key_column % does not exist in %', caller, key_column, source
      USING ERRCODE = '42703';
  END IF;
  -- The key must identify one row: a unique index on exactly that column.
  IF NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a
        ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = source AND i.indisunique AND i.indnkeyatts = 1
        AND i.indpred IS NULL AND a.attname = key_column) THEN
    RAISE EXCEPTION '%: key_column % of % has no unique index or primary key', caller,
      key_column, source USING ERRCODE = '42P10';
  END IF;
  SELECT pg_catalog.format_type(a.atttypid, NULL) INTO emb_type
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = embedding_column AND a.attnum > 0
      AND NOT a.attisdropped;
  emb_cast := CASE
    WHEN emb_type IS NULL THEN NULL
    WHEN emb_type IN ('double precision[]', 'real[]', 'numeric[]', 'integer[]') THEN '::float8[]'
    WHEN emb_type = 'vector' THEN '::real[]::float8[]'  -- pgvector
    ELSE NULL END;
  IF emb_cast IS NULL THEN
    RAISE EXCEPTION '%: embedding_column % of % must be real[], double precision[] or vector '
                    '(got %)', caller, embedding_column, source, coalesce(emb_type, 'no such column')
      USING ERRCODE = CASE WHEN emb_type IS NULL THEN '42703' ELSE '42804' END;
  END IF;
  FOREACH col IN ARRAY coalesce(metadata_columns, '{}') LOOP
    IF col IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
      RAISE EXCEPTION '%: metadata_columns: column % does not exist in %', caller,
        coalesce(pg_catalog.quote_literal(col), 'NULL'), source USING ERRCODE = '42703';
    END IF;
  END LOOP;
  IF pg_catalog.cardinality(metadata_columns) > 50 THEN
    RAISE EXCEPTION '%: metadata_columns: at most 50 columns (S3 Vectors metadata keys), got %',
      caller, pg_catalog.cardinality(metadata_columns) USING ERRCODE = '22023';
  END IF;

  PERFORM s3vl.untrack_table(source);
  INSERT INTO s3vl.sync_tables (source, key_column, key_type, embedding_column, embedding_cast,
                                index_name, metadata_columns)
  VALUES (source, key_column, key_type, embedding_column, emb_cast, index_name,
          coalesce(metadata_columns, '{}'));
  cols := ARRAY[key_column::text, embedding_column::text] || coalesce(metadata_columns, '{}');
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER s3vl_sync_insert AFTER INSERT ON %1$s REFERENCING NEW TABLE AS new_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_capture(%2$L, %3$L, %4$L)',
    source, key_column, cols::text, index_name);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER s3vl_sync_update AFTER UPDATE ON %1$s REFERENCING OLD TABLE AS old_rows '
    'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_capture(%2$L, %3$L, %4$L)',
    source, key_column, cols::text, index_name);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER s3vl_sync_delete AFTER DELETE ON %1$s REFERENCING OLD TABLE AS old_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_capture(%2$L, %3$L, %4$L)',
    source, key_column, cols::text, index_name);
  RETURN true;
END
$$;

-- Enqueues every existing row of a tracked table; returns how many keys were enqueued.
CREATE OR REPLACE FUNCTION s3vl.backfill(source regclass)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t s3vl.sync_tables;
  n bigint;
BEGIN
  PERFORM s3vl._require('s3vl.backfill', 'source', source);
  SELECT * INTO t FROM s3vl.sync_tables st WHERE st.source = backfill.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.backfill: source % is not tracked', source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  EXECUTE pg_catalog.format(
    'INSERT INTO s3vl.sync_outbox AS o (source, key, index_name) '
    'SELECT $1, t.%I::text, $2 FROM %s t '
    'ON CONFLICT (source, key) DO UPDATE SET changes = o.changes + 1, '
    'last_enqueued_at = pg_catalog.now(), next_attempt_at = pg_catalog.now()',
    t.key_column, t.source)
    USING t.source, t.index_name;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- Sends one claimed batch of keys. A batch the service refuses as invalid (one bad row makes
-- PutVectors refuse all) is split in halves until only the bad keys fail, so one bad row never
-- holds back the others; retryable failures keep the whole batch for a later attempt.
-- Its result columns grew after the first version: drop, then create (idempotent).
DROP FUNCTION IF EXISTS s3vl._sync_batch(s3vl.sync_tables, text, text[], text);
CREATE OR REPLACE FUNCTION s3vl._sync_batch(t s3vl.sync_tables, index_arn text, keys text[],
  row_sql text, OUT put_count integer, OUT delete_count integer, OUT failed_count integer,
  OUT error text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.sync';
  put_keys text[];
  put_hashes text[];
  put_request json;
  gone text[];
  state text;
  half integer;
  part record;
BEGIN
  put_count := 0; delete_count := 0; failed_count := 0;
  BEGIN
    -- The rows' current state, read after the claim: a later change is queued again.
    EXECUTE 'SELECT pg_catalog.array_agg(r.key), '
            'pg_catalog.array_agg(s3vl._sync_version(r.vec, r.meta)), '
            'pg_catalog.json_build_object(''operation'', ''put_vectors'', ''index_arn'', $2::text, '
            '''vectors'', pg_catalog.json_agg(pg_catalog.json_build_object(''key'', r.key, '
            '''data'', pg_catalog.array_to_json(r.vec), ''metadata'', r.meta))) '
            'FROM (' || row_sql || ') r'
      INTO put_keys, put_hashes, put_request USING keys, index_arn;
    SELECT pg_catalog.array_agg(k) INTO gone FROM pg_catalog.unnest(keys) k
      WHERE k <> ALL (coalesce(put_keys, '{}'));
    IF put_keys IS NOT NULL THEN
      PERFORM s3vl._invoke(caller, put_request);
    END IF;
    IF gone IS NOT NULL THEN
      PERFORM s3vl._invoke(caller, pg_catalog.json_build_object('operation', 'delete_vectors',
        'index_arn', index_arn, 'keys', pg_catalog.array_to_json(gone)));
    END IF;
  EXCEPTION WHEN OTHERS THEN
    state := SQLSTATE;
    error := pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, state);
  END;
  IF error IS NULL THEN
    put_count := coalesce(pg_catalog.cardinality(put_keys), 0);
    delete_count := coalesce(pg_catalog.cardinality(gone), 0);
    -- Accepted: the claimed rows are still ours (locked), so deleting them loses no newer change.
    DELETE FROM s3vl.sync_outbox o WHERE o.source = t.source AND o.key = ANY (keys);
    INSERT INTO s3vl.sync_state AS s (source, key, version_hash, synced_at)
      SELECT t.source, k, h, pg_catalog.clock_timestamp()
      FROM ROWS FROM (pg_catalog.unnest(put_keys), pg_catalog.unnest(put_hashes)) AS u(k, h)
    ON CONFLICT (source, key) DO UPDATE SET version_hash = EXCLUDED.version_hash,
      synced_at = EXCLUDED.synced_at;
    DELETE FROM s3vl.sync_state s WHERE s.source = t.source AND s.key = ANY (gone);
    RETURN;
  END IF;
  half := pg_catalog.cardinality(keys) / 2;
  IF half >= 1 AND state IN ('22023', '22000') THEN
    FOR part IN SELECT * FROM s3vl._sync_batch(t, index_arn, keys[1:half], row_sql)
                UNION ALL
                SELECT * FROM s3vl._sync_batch(t, index_arn, keys[half + 1:], row_sql) LOOP
      put_count := put_count + part.put_count;
      delete_count := delete_count + part.delete_count;
      failed_count := failed_count + part.failed_count;
      IF part.error IS NOT NULL THEN
        error := part.error;
      END IF;
    END LOOP;
    RETURN;
  END IF;
  failed_count := pg_catalog.cardinality(keys);
  UPDATE s3vl.sync_outbox o SET attempts = o.attempts + 1, last_error = error,
      last_error_at = pg_catalog.clock_timestamp(),
      next_attempt_at = pg_catalog.clock_timestamp() + s3vl._sync_backoff(o.attempts + 1)
    WHERE o.source = t.source AND o.key = ANY (keys);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.sync(
  index_name text DEFAULT NULL,
  max_rows integer DEFAULT 5000,
  retry_now boolean DEFAULT false)
RETURNS TABLE (synced_index text, upserted integer, deleted integer, failed integer,
               last_error text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.sync';
  t s3vl.sync_tables;
  idx record;
  row_sql text;
  batch_size integer;
  keys text[];
  tried text[] := '{}';
  res record;
  budget integer := max_rows;
  idx_name text;
BEGIN
  IF max_rows IS NULL OR max_rows < 1 OR max_rows > 1000000 THEN
    RAISE EXCEPTION '%: max_rows must be between 1 and 1000000 (got %)', caller,
      coalesce(max_rows::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF index_name IS NOT NULL THEN
    PERFORM s3vl._resolve_index(caller, index_name, NULL);
  END IF;
  FOR idx_name IN SELECT DISTINCT st.index_name FROM s3vl.sync_tables st
      WHERE sync.index_name IS NULL OR st.index_name = sync.index_name ORDER BY 1 LOOP
    synced_index := idx_name; upserted := 0; deleted := 0; failed := 0; last_error := NULL;
    SELECT * INTO idx FROM s3vl._resolve_index(caller, idx_name, NULL);
    batch_size := s3vl._sync_batch_size(idx.dimension);
    -- A dropped table's keys stay pending (visible in sync_status) until untrack_table.
    FOR t IN SELECT * FROM s3vl.sync_tables st WHERE st.index_name = idx_name
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = st.source)
             ORDER BY st.source LOOP
      row_sql := s3vl._sync_row_sql(t);
      LOOP
        EXIT WHEN budget <= 0;
        -- Claim due keys nobody else holds; keys that failed in this call wait for the next one.
        SELECT pg_catalog.array_agg(c.key) INTO keys FROM (
          SELECT o.key FROM s3vl.sync_outbox o
          WHERE o.source = t.source AND (retry_now OR o.next_attempt_at <= pg_catalog.now())
            AND o.key <> ALL (tried)
          ORDER BY o.next_attempt_at, o.first_enqueued_at
          LIMIT least(batch_size, budget)
          FOR UPDATE SKIP LOCKED) c;
        EXIT WHEN keys IS NULL;
        budget := budget - pg_catalog.cardinality(keys);
        res := s3vl._sync_batch(t, idx.index_arn, keys, row_sql);
        upserted := upserted + res.put_count;
        deleted := deleted + res.delete_count;
        IF res.error IS NOT NULL THEN
          failed := failed + res.failed_count;
          last_error := res.error;
          tried := tried || keys;
        END IF;
      END LOOP;
    END LOOP;
    IF upserted + deleted + failed > 0 THEN
      -- Last statement before commit: concurrent syncs wait here only briefly.
      INSERT INTO s3vl.sync_index_status AS s (index_name, last_success, last_error, last_error_at)
      VALUES (idx_name, CASE WHEN upserted + deleted > 0 THEN pg_catalog.now() END, last_error,
              CASE WHEN last_error IS NOT NULL THEN pg_catalog.now() END)
      ON CONFLICT ON CONSTRAINT sync_index_status_pkey DO UPDATE SET
        last_success = coalesce(EXCLUDED.last_success, s.last_success),
        last_error = coalesce(EXCLUDED.last_error, s.last_error),
        last_error_at = coalesce(EXCLUDED.last_error_at, s.last_error_at);
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.sync_status()
RETURNS TABLE (index_name text, pending bigint, oldest_pending_age interval, failed bigint,
               last_error text, last_success timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT i.index_name,
         (SELECT pg_catalog.count(*) FROM s3vl.sync_outbox o WHERE o.index_name = i.index_name),
         (SELECT pg_catalog.now() - pg_catalog.min(o.first_enqueued_at) FROM s3vl.sync_outbox o
            WHERE o.index_name = i.index_name),
         (SELECT pg_catalog.count(*) FROM s3vl.sync_outbox o
            WHERE o.index_name = i.index_name AND o.attempts > 0),
         coalesce((SELECT o.last_error FROM s3vl.sync_outbox o
                     WHERE o.index_name = i.index_name AND o.last_error IS NOT NULL
                     ORDER BY o.last_error_at DESC LIMIT 1), s.last_error),
         s.last_success
  FROM (SELECT DISTINCT st.index_name FROM s3vl.sync_tables st) i
  LEFT JOIN s3vl.sync_index_status s ON s.index_name = i.index_name
  ORDER BY i.index_name
$$;

-- value::the type of like_value, or NULL when value is not valid for that type.
CREATE OR REPLACE FUNCTION s3vl._sync_try_cast(value text, like_value anyelement)
RETURNS anyelement
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  EXECUTE pg_catalog.format('SELECT $1::%s', pg_catalog.pg_typeof(like_value)) INTO like_value
    USING value;
  RETURN like_value;
EXCEPTION WHEN data_exception THEN
  RETURN NULL;
END
$$;

-- Keys whose vector in S3 Vectors is not the row's current version: 'never synced', 'changed'
-- (embedding or metadata differ from what S3 Vectors accepted last) or 'deleted' (the row is
-- gone but its vector is still there). pending: a change is queued for the next sync.
CREATE OR REPLACE FUNCTION s3vl.stale_rows(source regclass)
RETURNS TABLE (key text, reason text, synced_at timestamptz, synced_version text,
               current_version text, pending boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t s3vl.sync_tables;
BEGIN
  PERFORM s3vl._require('s3vl.stale_rows', 'source', source);
  SELECT * INTO t FROM s3vl.sync_tables st WHERE st.source = stale_rows.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.stale_rows: source % is not tracked', source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  RETURN QUERY EXECUTE
    'SELECT coalesce(r.key, s.key), '
    '       CASE WHEN s.key IS NULL THEN ''never synced'' WHEN r.key IS NULL THEN ''deleted'' '
    '            ELSE ''changed'' END, '
    '       s.synced_at, s.version_hash, r.version, '
    '       EXISTS (SELECT 1 FROM s3vl.sync_outbox o WHERE o.source = $1 '
    '               AND o.key = coalesce(r.key, s.key)) '
    'FROM (SELECT x.key, s3vl._sync_version(x.vec, x.meta) AS version FROM ('
      || s3vl._sync_row_sql(t, true) || ') x) r '
    'FULL JOIN (SELECT * FROM s3vl.sync_state ss WHERE ss.source = $1) s ON s.key = r.key '
    'WHERE r.version IS DISTINCT FROM s.version_hash ORDER BY 1'
    USING source;
END
$$;

-- Nearest neighbours of the index a table is tracked into, restricted to keys that still exist
-- in the table (orphaned vectors never reach the caller). Fetches more than top_k, growing the
-- request until top_k existing keys are found or the index has no more results.
CREATE OR REPLACE FUNCTION s3vl.query_table(
  source regclass,
  key_column name,
  query_vector float8[],
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL)
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.query_table';
  idx text;
  key_type text;
  fetch_k integer;
  max_k constant integer := s3vl._limit('top_k');
  ids text[];
  distances float8[];
  scores float8[];
  metas jsonb[];
  got bigint;
  existing text[];
BEGIN
  PERFORM s3vl._require(caller, 'source', source);
  PERFORM s3vl._require(caller, 'key_column', key_column);
  PERFORM s3vl._require(caller, 'query_vector', query_vector);
  PERFORM s3vl._require(caller, 'top_k', top_k);
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO key_type
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF key_type IS NULL THEN
    RAISE EXCEPTION '%: key_column % does not exist in %', caller, key_column, source
      USING ERRCODE = '42703';
  END IF;
  SELECT st.index_name INTO idx FROM s3vl.sync_tables st WHERE st.source = query_table.source;
  IF idx IS NULL THEN
    RAISE EXCEPTION '%: source % is not tracked, so its index is unknown', caller, source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  fetch_k := least(max_k, greatest(top_k * 2, top_k + 10));
  LOOP
    SELECT pg_catalog.array_agg(q.vector_id ORDER BY q.n), pg_catalog.array_agg(q.distance ORDER BY q.n),
           pg_catalog.array_agg(q.similarity_score ORDER BY q.n),
           pg_catalog.array_agg(q.metadata ORDER BY q.n), pg_catalog.count(*)
      INTO ids, distances, scores, metas, got
      FROM s3vl.query_vectors(query_vector, index_name => idx, top_k => fetch_k,
                              metadata_filter => metadata_filter) WITH ORDINALITY AS q(
             vector_id, distance, similarity_score, metadata, n);
    -- Keys compared as the column's own type (its index is usable); an id that is not a valid
    -- value of that type cannot exist in the table.
    EXECUTE pg_catalog.format(
      'SELECT pg_catalog.array_agg(t.%1$I::text) FROM %2$s t WHERE t.%1$I = ANY (ARRAY('
      'SELECT s3vl._sync_try_cast(i, NULL::%3$s) FROM pg_catalog.unnest($1) i))',
      key_column, source, key_type) INTO existing USING ids;
    EXIT WHEN coalesce(pg_catalog.cardinality(existing), 0) >= top_k OR got < fetch_k
              OR fetch_k >= max_k;
    fetch_k := least(max_k, fetch_k * 4);
  END LOOP;
  RETURN QUERY
    SELECT h.i, h.d, h.s, h.m
    FROM ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(distances),
                    pg_catalog.unnest(scores), pg_catalog.unnest(metas)) WITH ORDINALITY
         AS h(i, d, s, m, n)
    WHERE h.i = ANY (coalesce(existing, '{}'))
    ORDER BY h.n
    LIMIT top_k;
END
$$;

-- ==== 90_grants.sql
-- Privileges. Nothing is granted to PUBLIC. Three group roles (cluster-wide, created once):
--   s3vl_reader  query_vectors, get_vectors, list_vectors, scan_vectors, describe_index,
--                list_indexes, get_index_info, resolve_index_arn, limits, error_codes, version
--   s3vl_writer  everything s3vl_reader has (writes are granted to it when they exist)
--   s3vl_admin   s3vl_writer + configure, validate_config, get_config and the registry writes
-- Functions that reach config or aws_lambda are SECURITY DEFINER with a fixed search_path, so
-- members need no privilege on aws_lambda or on the tables.

DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 's3vl_reader') THEN
    CREATE ROLE s3vl_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 's3vl_writer') THEN
    CREATE ROLE s3vl_writer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 's3vl_admin') THEN
    CREATE ROLE s3vl_admin NOLOGIN;
  END IF;
END
$roles$;
GRANT s3vl_reader TO s3vl_writer;
GRANT s3vl_writer TO s3vl_admin;

REVOKE ALL ON SCHEMA s3vl FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA s3vl FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA s3vl FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA s3vl FROM PUBLIC;
GRANT USAGE ON SCHEMA s3vl TO s3vl_reader;

GRANT EXECUTE ON FUNCTION
  s3vl.version(),
  s3vl.limits(),
  s3vl.error_codes(),
  s3vl.query_vectors(float8[], text, text, integer, boolean, jsonb),
  s3vl.query_vectors(text, float8[], integer, boolean, jsonb),
  s3vl.get_vectors(text[], text, text, boolean, boolean),
  s3vl.list_vectors(text, text, integer, text, boolean, boolean, integer, integer),
  s3vl.scan_vectors(text, text, boolean, boolean, integer),
  s3vl.describe_index(text, text),
  s3vl.list_indexes(),
  s3vl.get_index_info(text),
  s3vl.resolve_index_arn(text)
TO s3vl_reader;

GRANT EXECUTE ON FUNCTION
  s3vl.configure(text, text, integer),
  s3vl.validate_config(),
  s3vl.get_config(),
  s3vl.register_index(text, text, text),
  s3vl.activate_index(text),
  s3vl.deactivate_index(text),
  s3vl.unregister_index(text)
TO s3vl_admin;

-- Writes (60_writes.sql), batched queries (65_batch.sql) and the result cache (70_cache.sql).
GRANT EXECUTE ON FUNCTION
  s3vl.query_vectors_batch(text, float8[], integer, jsonb, boolean, text[]),
  s3vl.query_vectors_batch(text, jsonb, integer, jsonb, boolean),
  s3vl.cache_stats()
TO s3vl_reader;
GRANT EXECUTE ON FUNCTION
  s3vl.put_vectors(text, jsonb, text),
  s3vl.put_vector_arrays(text, text[], float8[], jsonb[], text),
  s3vl.put_vector(text, text, float8[], jsonb),
  s3vl.delete_vectors(text, text[], text)
TO s3vl_writer;
GRANT EXECUTE ON FUNCTION
  s3vl.set_cache(text, interval),
  s3vl.set_cache_limits(integer, bigint),
  s3vl.clear_cache()
TO s3vl_admin;

-- Sync (80_sync.sql). track/untrack/backfill run with the caller's rights (creating triggers
-- needs ownership of the table), so s3vl_admin gets the sync tables; stale_rows and query_table
-- read the source with the caller's rights too.
GRANT SELECT, INSERT, UPDATE, DELETE ON s3vl.sync_tables, s3vl.sync_outbox, s3vl.sync_state
  TO s3vl_admin;
GRANT SELECT ON s3vl.sync_tables, s3vl.sync_state TO s3vl_reader;
GRANT EXECUTE ON FUNCTION
  s3vl.track_table(regclass, name, name, text, text[]),
  s3vl.untrack_table(regclass),
  s3vl.backfill(regclass)
TO s3vl_admin;
GRANT EXECUTE ON FUNCTION
  s3vl.sync(text, integer, boolean),
  s3vl.sync_status()
TO s3vl_writer;
-- Helpers the invoker-rights sync functions call.
GRANT EXECUTE ON FUNCTION
  s3vl._require(text, text, anyelement),
  s3vl._sync_capture()
TO s3vl_admin;
GRANT SELECT ON s3vl.sync_outbox TO s3vl_reader;
GRANT EXECUTE ON FUNCTION
  s3vl.stale_rows(regclass),
  s3vl.query_table(regclass, name, float8[], integer, jsonb),
  s3vl._require(text, text, anyelement),
  s3vl._check_range(text, text, bigint, text),
  s3vl._limit(text),
  s3vl._sync_row_sql(s3vl.sync_tables, boolean),
  s3vl._sync_version(float8[], jsonb),
  s3vl._sync_try_cast(text, anyelement)
TO s3vl_reader;

-- pg_dump keeps the configuration and registry rows of an extension's tables.
SELECT pg_catalog.pg_extension_config_dump('s3vl.config', '');
SELECT pg_catalog.pg_extension_config_dump('s3vl.config_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('s3vl.index_registry', '');
SELECT pg_catalog.pg_extension_config_dump('s3vl.index_registry_id_seq', '');
