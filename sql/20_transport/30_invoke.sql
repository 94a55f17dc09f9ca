-- THE one place that calls aws_lambda.invoke. It applies the configured timeout, checks the
-- envelope of docs/protocol.md, and turns every failure into an error with an s3vl SQLSTATE
-- (see s3vl.error_codes()). A failure never becomes zero rows.

CREATE OR REPLACE FUNCTION s3vl._config(caller text,
  OUT lambda_arn text, OUT aws_region text, OUT timeout_seconds integer,
  OUT max_attempts integer)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  SELECT c.lambda_arn, c.aws_region, c.timeout_seconds, c.max_attempts
    INTO lambda_arn, aws_region, timeout_seconds, max_attempts
    FROM s3vl.config c ORDER BY c.updated_at DESC, c.id DESC LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: s3vl is not configured (no Lambda function set)', caller
      USING ERRCODE = '55000',
            HINT = 'An s3vl_admin runs SELECT s3vl.configure(''arn:aws:lambda:<region>:'
                   '<account>:function:<name>'').';
  END IF;
END
$$;

-- The names the function puts before its messages: its protocol operations and the S3 Vectors
-- (boto3) calls it makes (tied to s3vl_lambda by tests/sql/test_facts_tie.py).
CREATE OR REPLACE FUNCTION s3vl._service_operations()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT ARRAY['availability_check', 'get_index', 'query_vectors', 'query_vectors_batch',
               'get_vectors', 'list_vectors', 'put_vectors', 'delete_vectors',
               'update_index_mode', 'add_text_search', 'drop_text_search',
               'update_metadata_configuration', 'filter_vectors', 'update_metadata', 'embed',
               'rank_vectors']
$$;

-- The message of a failed answer without the operation name the function puts first
-- ("query_vectors: filter.price: ..."): the SQL caller's name replaces it, so it is said once. A
-- prefix naming the error's field ("top_k: must be ...") stays.
CREATE OR REPLACE FUNCTION s3vl._service_message(message text, field text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN (pg_catalog.regexp_match(message, '^([a-z_]+): '))[1]
                   = ANY (s3vl._service_operations())
               AND (pg_catalog.regexp_match(message, '^([a-z_]+): '))[1]
                   IS DISTINCT FROM field
              THEN pg_catalog.substr(message, pg_catalog.strpos(message, ': ') + 2)
              ELSE message END
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
  hint := s3vl._error_hint('function', state, err ->> 'retryable' = 'true');
  err_message := caller || ': ' || coalesce(s3vl._service_message(err_message, err_field),
                                            'the Lambda function reported a failure without a message');
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

-- The version of the JSON protocol (docs/protocol.md) these SQL functions speak; the function
-- reports its own on every answer and in availability_check (s3vl_lambda.PROTOCOL_VERSION, tied
-- by tests/sql/test_facts_tie.py).
CREATE OR REPLACE FUNCTION s3vl._protocol_version() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1 $$;

-- Raises SV007 naming both versions unless an availability_check answer reports the protocol
-- version SQL speaks (an older or newer function would misread or be misread by every request).
CREATE OR REPLACE FUNCTION s3vl._check_protocol(caller text, answer jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  theirs text := answer ->> 'protocol_version';
  ours constant integer := s3vl._protocol_version();
BEGIN
  IF theirs IS DISTINCT FROM ours::text THEN
    RAISE EXCEPTION '%: the Lambda function speaks protocol version %, this s3vl % speaks '
                    'protocol version %', caller, coalesce(theirs, '(none reported)'),
      s3vl.version(), ours
      USING ERRCODE = 'SV007',
            HINT = 'Deploy the function of the same s3vl release as the SQL functions '
                   '(see s3vl.version() and the function''s package_version).';
  END IF;
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
  -- Every answer of the function carries its protocol version (docs/protocol.md); one of
  -- another version is refused before its result or error is read.
  IF response ? 'protocol_version'
     AND response ->> 'protocol_version' IS DISTINCT FROM s3vl._protocol_version()::text THEN
    PERFORM s3vl._check_protocol(caller, response);
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

-- Which failures of aws_lambda.invoke a retry may cure: 'throttled' (Lambda's 429
-- TooManyRequestsException, a reserved or account concurrency limit), 'server' (Lambda's 5xx), or
-- NULL (anything else: a bad request, the function's own error, a timeout, no route).
CREATE OR REPLACE FUNCTION s3vl._retryable_failure(message text, detail text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN coalesce(message, '') || ' ' || coalesce(detail, '')
         ~* '(TooManyRequests|Rate Exceeded|Throttl|EC2ThrottledException)' THEN 'throttled'
    WHEN message = 'invoke API failed'
         AND coalesce(detail, '') ~ '(ServiceException|EC2UnexpectedException|ResourceNotReady|ENILimitReached|SubnetIPAddressLimitReached|HTTP 5[0-9][0-9])'
      THEN 'server'
    ELSE NULL END
$$;

-- Drops the function's name and ARN from text a caller will see (aws_lambda quotes the function
-- in some errors); the full text goes to the server log instead.
CREATE OR REPLACE FUNCTION s3vl._without_function(text_in text, lambda_arn text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.regexp_replace(
           pg_catalog.replace(text_in, lambda_arn, '<function>'),
           'arn:[a-z-]+:lambda:[^"'' ,;)]*', '<function>', 'g')
$$;

-- Raises an aws_lambda.invoke failure (after the retries) with s3vl's SQLSTATE and without the
-- function's name; the full text, with the name, goes to the server log for the operator only.
CREATE OR REPLACE FUNCTION s3vl._raise_invoke_failure(caller text, lambda_arn text,
  invocation_type text, timeout_seconds integer, attempt integer, failure_kind text,
  failed_state text, failed_message text, failed_detail text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  state text;
BEGIN
  state := CASE
    WHEN failed_state = '42501' THEN '42501'
    WHEN failed_state LIKE '22P0%' THEN 'SV007'
    WHEN failure_kind = 'throttled' THEN 'SV001'
    WHEN failed_detail ILIKE '%timeout%' OR failed_detail ILIKE '%timed out%'
         OR failed_message ILIKE '%timeout%' THEN 'SV003'
    ELSE 'SV006' END;
  -- The full text, with the function, for the operator only: client_min_messages is pinned
  -- for this (aborting) transaction so a session asking for LOG messages does not get it.
  IF pg_catalog.current_setting('client_min_messages') IN ('debug5', 'debug4', 'debug3', 'debug2',
                                                          'debug1', 'debug', 'log') THEN
    PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
  END IF;
  RAISE LOG '%: calling the Lambda function % (invocation type %) failed after % attempt(s): % (%; aws_lambda SQLSTATE %)',
    caller, lambda_arn, invocation_type, attempt, failed_message,
    coalesce(failed_detail, ''), failed_state;
  RAISE EXCEPTION '%: calling the Lambda function failed: %', caller,
    s3vl._without_function(failed_message, lambda_arn)
    USING ERRCODE = state,
          DETAIL = pg_catalog.ltrim(s3vl._without_function(coalesce(failed_detail, ''),
                                                           lambda_arn) ||
                   format(' (aws_lambda SQLSTATE %s; invocation type %s; timeout %s s; %s attempt%s)',
                          failed_state, invocation_type, timeout_seconds, attempt,
                          CASE WHEN attempt = 1 THEN '' ELSE 's' END)),
          HINT = s3vl._error_hint('invoke', state);
END
$$;

-- THE one place that calls aws_lambda.invoke: reads the configuration, bounds every attempt by
-- what is left of the configured timeout, retries a throttled (429) or 5xx invocation until that
-- deadline with capped exponential backoff and full jitter (a random pause up to 100 ms doubling,
-- capped at 1 s; max_attempts is only a safety cap), and maps a failed call to an s3vl SQLSTATE. The request is json (built as
-- text, the cheapest form for long vectors); the answer is parsed once into jsonb (NULL for
-- Event/DryRun). A caller's error never names the function (readers need not learn the ARN): the
-- server log gets it with RAISE LOG. Only s3vl._call_lambda (below) and the policy checks' own
-- reads of stored metadata (20_transport/45_policies.sql) call it.
-- One call of aws_lambda.invoke: outcome 'ok' with the answer, or 'failed' with the error. With
-- admission control (slots not NULL) the call holds one of `slots` rows of s3vl.invoke_slots,
-- locked for this invocation only: the block ends by raising, which releases the lock whatever
-- the caller's transaction does next (the OUT variables keep the answer); no role but the owner
-- can lock these rows. Every slot busy: outcome 'busy'. An empty table (UNLOGGED: a crash empties
-- it until set_invoke_concurrency or an install refills it) fails open: no admission control.
CREATE OR REPLACE FUNCTION s3vl._invoke_attempt(lambda_arn text, request json, aws_region text,
  invocation_type text, slots integer, OUT outcome text, OUT status_code integer,
  OUT payload jsonb, OUT failed_state text, OUT failed_message text, OUT failed_detail text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  slot integer;
BEGIN
  BEGIN
    IF slots IS NOT NULL THEN
      SELECT s.slot INTO slot FROM s3vl.invoke_slots s WHERE s.slot <= slots
        ORDER BY s.slot LIMIT 1 FOR UPDATE SKIP LOCKED;
      IF slot IS NULL AND EXISTS (SELECT 1 FROM s3vl.invoke_slots) THEN
        outcome := 'busy';
        RETURN;
      END IF;
    END IF;
    BEGIN
      SELECT i.status_code, i.payload::jsonb INTO status_code, payload
        FROM aws_lambda.invoke(lambda_arn, request, aws_region,
                               invocation_type => _invoke_attempt.invocation_type) AS i;
      outcome := 'ok';
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS failed_state = RETURNED_SQLSTATE, failed_message = MESSAGE_TEXT,
                              failed_detail = PG_EXCEPTION_DETAIL;
      outcome := 'failed';
    END;
    IF slot IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'SVSLT';
    END IF;
  EXCEPTION WHEN SQLSTATE 'SVSLT' THEN
    NULL;  -- the slot is free again
  END;
END
$$;

-- The admission control setting (NULL: off unless an admin set it); off in a read-only
-- transaction (a hot standby), where a slot cannot be locked.
CREATE OR REPLACE FUNCTION s3vl._invoke_slots()
RETURNS integer
LANGUAGE sql STABLE
AS $$
  SELECT CASE WHEN pg_catalog.current_setting('transaction_read_only') = 'off' THEN
    (SELECT c.max_concurrent_invocations FROM s3vl.config c
     ORDER BY c.updated_at DESC, c.id DESC LIMIT 1) END
$$;

-- Full jitter: sleeps a random time up to cap_ms, leaving 100 ms of the left_ms before the
-- deadline for a final attempt.
CREATE OR REPLACE FUNCTION s3vl._jitter_sleep(cap_ms double precision, left_ms bigint)
RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT pg_catalog.pg_sleep(LEAST(pg_catalog.random() * cap_ms, left_ms - 100) / 1000.0) $$;

-- Invokes the configured function: retries a throttled or failing invocation with jittered
-- backoff until the call's deadline (timeout_seconds; max_attempts is a safety cap), waits for a
-- free invocation slot under admission control (20_transport/31_admission.sql), and raises the
-- last failure with s3vl's SQLSTATE. A partitioned name not expanded yet (sync's and the policy
-- checks' own reads) becomes all of its partitions (32_partitions.sql).
CREATE OR REPLACE FUNCTION s3vl._send_lambda(caller text, request json, invocation_type text,
  OUT status_code integer, OUT payload jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cfg record;
  try record;
  failure_kind text;
  attempt integer := 0;
  deadline timestamptz;
  left_ms bigint;
  slots integer;
  waits integer := 0;
BEGIN
  request := s3vl._partition_request(caller, request, false);
  SELECT * INTO cfg FROM s3vl._config(caller);  -- 55000 with a hint when not configured
  deadline := pg_catalog.clock_timestamp() + cfg.timeout_seconds * interval '1 second';
  slots := s3vl._invoke_slots();
  LOOP
    attempt := attempt + 1;
    left_ms := CASE WHEN attempt = 1 THEN cfg.timeout_seconds * 1000
                    ELSE pg_catalog.floor(1000 * pg_catalog.date_part('epoch',
                           deadline - pg_catalog.clock_timestamp())) END;
    -- A local set_config lasts to the end of the transaction (a function's SET clause restores
    -- only the settings it names), so every attempt sets it anew.
    PERFORM pg_catalog.set_config('aws_lambda.request_timeout_ms',
                                  GREATEST(left_ms, 1)::text, true);
    try := s3vl._invoke_attempt(cfg.lambda_arn, request, cfg.aws_region, invocation_type, slots);
    IF try.outcome = 'ok' THEN
      status_code := try.status_code;
      payload := try.payload;
      RETURN;
    END IF;
    left_ms := pg_catalog.floor(1000 * pg_catalog.date_part('epoch',
                                                            deadline - pg_catalog.clock_timestamp()));
    IF try.outcome = 'busy' THEN
      -- Every slot busy: wait (not an attempt) with a short jittered pause, until the deadline.
      attempt := attempt - 1;
      waits := waits + 1;
      IF left_ms < 150 THEN
        PERFORM s3vl._raise_invoke_failure(caller, cfg.lambda_arn, invocation_type,
          cfg.timeout_seconds, attempt, 'throttled', 'SV001', pg_catalog.format(
            'no invocation slot free (admission control: %s at once) before the deadline',
            slots), NULL);
      END IF;
      PERFORM s3vl._jitter_sleep(LEAST(100, 5 * 2 ^ LEAST(waits - 1, 10)), left_ms);
      CONTINUE;
    END IF;
    failure_kind := s3vl._retryable_failure(try.failed_message, try.failed_detail);
    -- Full jitter: a random pause up to 100 ms * 2^(attempt-1), capped at 1 s; the budget is the
    -- deadline, so the last pause is cut to leave 100 ms for a final attempt.
    EXIT WHEN failure_kind IS NULL OR attempt >= cfg.max_attempts OR left_ms < 150;
    PERFORM s3vl._jitter_sleep(LEAST(1000, 100 * 2 ^ LEAST(attempt - 1, 20)), left_ms);
  END LOOP;
  PERFORM s3vl._raise_invoke_failure(caller, cfg.lambda_arn, invocation_type,
    cfg.timeout_seconds, attempt, failure_kind, try.failed_state, try.failed_message,
    try.failed_detail);
END
$$;

-- THE chokepoint every read, write, search and sync passes through on its way to the function:
-- vector policies and index grants (20_transport/45_policies.sql) decide what may be sent (a bound caller's
-- queries get the policy ANDed into their filter, its writes and deletes are checked, a role
-- without a grant is refused) and what may come back (get/list answers lose the vectors the
-- policy hides). With no policy and no grant defined, both steps return at once.
CREATE OR REPLACE FUNCTION s3vl._call_lambda(caller text, request json, invocation_type text,
  OUT status_code integer, OUT payload jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- A partitioned name becomes the partitions the caller's policy allows (32_partitions.sql).
  SELECT s.status_code, s.payload INTO status_code, payload
    FROM s3vl._send_lambda(caller, s3vl._partition_request(caller,
           s3vl._policy_request(caller, request), true), invocation_type) AS s;
  payload := s3vl._policy_answer(caller, request, payload);
END
$$;

-- The most attempts an invocation gets when Lambda throttles it (429) or fails with a 5xx
-- (1 = no retry; default 100, a safety cap: retries stop at timeout_seconds in any case).
-- Returns the stored value.
CREATE OR REPLACE FUNCTION s3vl.set_invoke_retries(max_attempts integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._check_range('s3vl.set_invoke_retries', 'max_attempts', max_attempts);
  PERFORM s3vl._config('s3vl.set_invoke_retries'::text);  -- 55000 when not configured
  UPDATE s3vl.config c SET max_attempts = set_invoke_retries.max_attempts;
  RETURN max_attempts;
END
$$;
COMMENT ON FUNCTION s3vl.set_invoke_retries(integer) IS
  's3vl: the new max_attempts: invocations tried per call when the function is throttled or fails';

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
