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
  -- Vector policies (59_policies.sql) decide what is sent and what comes back.
  RETURN s3vl._policy_answer(caller, request, s3vl._unwrap(caller, (SELECT c.payload
    FROM s3vl._call_lambda(caller, s3vl._policy_request(caller, request), 'RequestResponse')
         AS c)));
END
$$;
