-- s3vl 0.2.0, built by sql/build-extension.sh from sql/*.sql; do not edit.
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
AS $$ SELECT '0.2.0'::text $$;

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
    ('index_name_length', 1,     63, 'characters in a registry (friendly) index name')
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

-- Sends one protocol request and returns the operation result. The request is json (built as
-- text, the cheapest form for long vectors); the answer is parsed once into jsonb.
CREATE OR REPLACE FUNCTION s3vl._invoke(caller text, request json)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cfg record;
  response jsonb;
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
    SELECT i.payload::jsonb INTO response
      FROM aws_lambda.invoke(cfg.lambda_arn, request, cfg.aws_region) AS i;
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
                     format(' (aws_lambda SQLSTATE %s; function %s; timeout %s s)', failed_state,
                            cfg.lambda_arn, cfg.timeout_seconds),
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
  RETURN s3vl._unwrap(caller, response);
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
  answer := s3vl._expect_array(caller, s3vl._invoke(caller, s3vl._query_request(
    target.index_arn, query_vector, top_k, return_metadata, metadata_filter)), 'query results');
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
    WHERE o.k IS NULL OR length(o.k) NOT BETWEEN 1 AND
      (SELECT l.max_value FROM s3vl.limits() l WHERE l.name = 'vector_id_length')
    LIMIT 1;
  IF bad_position IS NOT NULL THEN
    RAISE EXCEPTION '%: vector_ids element % must be a key of 1 to % characters (got %)', caller,
      bad_position, (SELECT l.max_value FROM s3vl.limits() l WHERE l.name = 'vector_id_length'),
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

-- pg_dump keeps the configuration and registry rows of an extension's tables.
SELECT pg_catalog.pg_extension_config_dump('s3vl.config', '');
SELECT pg_catalog.pg_extension_config_dump('s3vl.config_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('s3vl.index_registry', '');
SELECT pg_catalog.pg_extension_config_dump('s3vl.index_registry_id_seq', '');
