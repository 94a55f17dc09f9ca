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

-- The region configure stores: aws_region, or the region of lambda_arn (which must then agree);
-- 22023 for a lambda_arn that is neither a function ARN nor a name, or a malformed region.
CREATE OR REPLACE FUNCTION s3vl._configure_region(caller text, lambda_arn text, aws_region text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  parsed record;
  region text := nullif(btrim(aws_region), '');
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
  RETURN region;
END
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
  region text;
  check_row record;
BEGIN
  region := s3vl._configure_region(caller, lambda_arn, aws_region);
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
COMMENT ON FUNCTION s3vl.configure(text,text,integer) IS
  's3vl: true once the Lambda function ARN, region and timeout are stored';

-- Calls the function's availability_check (and checks the protocol version it answers with) and
-- reports; never raises for a failed call.
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
    PERFORM s3vl._check_protocol(caller, answer);
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
COMMENT ON FUNCTION s3vl.validate_config() IS
  's3vl: one row: whether a test invocation of the configured function succeeded, and how long it took';

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
COMMENT ON FUNCTION s3vl.get_config() IS
  's3vl: the stored configuration, its age and the last validation status';
