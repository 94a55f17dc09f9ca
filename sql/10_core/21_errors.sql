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
    ('SV001', 'Throttled',       true,  'S3 Vectors or Lambda throttled the request (429), after s3vl''s retries'),
    ('SV002', 'ServiceError',    NULL,  'S3 Vectors service error (5xx retryable, others not)'),
    ('SV003', 'Timeout',         true,  'the Lambda call or the service call timed out'),
    ('SV004', 'InternalError',   false, 'unexpected failure inside the Lambda function'),
    ('SV005', 'Conflict',        false, 'S3 Vectors ConflictException'),
    ('SV006', NULL,              true,  'aws_lambda.invoke failed (network, function crash)'),
    ('SV007', NULL,              false, 'the function answered something that is not an s3vl envelope')
$$;
COMMENT ON FUNCTION s3vl.error_codes() IS
  's3vl: the SQLSTATEs s3vl raises, with the protocol error type and whether a retry may help';

-- Protocol error type (docs/protocol.md) -> SQLSTATE, read from s3vl.error_codes(); an unknown
-- type is treated as InternalError. ValidationError has two rows: as pgvector does, a dimension
-- or NaN/infinity problem is 22000 (data exception), any other 22023.
CREATE OR REPLACE FUNCTION s3vl._sqlstate_for(error_type text, field text DEFAULT NULL,
                                              message text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT e.sqlstate FROM s3vl.error_codes() e
  WHERE e.error_type IN (_sqlstate_for.error_type, 'InternalError')
  ORDER BY e.error_type IS DISTINCT FROM _sqlstate_for.error_type,
           (e.sqlstate = '22000') IS DISTINCT FROM
             (coalesce(_sqlstate_for.message, '') ~* '(\mdimension\M|\mnan\M|\minfinit|\mfinite\M)')
  LIMIT 1
$$;

-- The HINT of an s3vl error, by where it came from: 'function' (an error the function reported
-- in its envelope; SV002 splits on its retryable flag) or 'invoke' (aws_lambda.invoke itself
-- failed; the row with a NULL sqlstate covers every other state). Every sqlstate here is a row of
-- s3vl.error_codes() (tests/sql/test_facts_tie.py).
CREATE OR REPLACE FUNCTION s3vl._error_hints()
RETURNS TABLE (origin text, sqlstate text, retryable boolean, hint text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  VALUES
    ('function', 'SV001', NULL, 'S3 Vectors throttled the index; retry with exponential backoff.'),
    ('function', 'SV002', true, 'A transient service error; retrying may succeed.'),
    ('function', 'SV002', false, 'Retrying the same request will not help.'),
    ('function', 'SV003', NULL, 'Raise timeout_seconds with s3vl.configure(...) or retry.'),
    ('function', '42501', NULL, 'Check the function role''s IAM policy and S3VL_ALLOWED_INDEX_ARNS.'),
    ('function', '42704', NULL, 'Check the index ARN (SELECT * FROM s3vl.list_indexes()).'),
    ('function', 'SV004', NULL, 'A bug in the Lambda function; see its CloudWatch logs (request id above).'),
    ('invoke', 'SV001', NULL, 'Lambda throttled the invocation (its concurrency limit); this is '
                              'retryable: retry later with backoff, lower the concurrency of '
                              'callers, or raise the function''s reserved concurrency. s3vl '
                              'already retried (s3vl.set_invoke_retries sets the attempts).'),
    ('invoke', 'SV003', NULL, 'The call exceeded timeout_seconds; raise it with '
                              's3vl.configure(...) or retry.'),
    ('invoke', 'SV007', NULL, 'The function did not answer JSON; check that lambda_arn is the '
                              's3vl function.'),
    ('invoke', '42501', NULL, 'The s3vl owner needs USAGE on schema aws_lambda and EXECUTE on '
                              'aws_lambda.invoke.'),
    ('invoke', NULL, NULL, 'Check s3vl.validate_config(), the function''s logs and the network path '
                           'to Lambda.')
$$;

-- One hint of s3vl._error_hints(), or NULL when there is none.
CREATE OR REPLACE FUNCTION s3vl._error_hint(origin text, state text, retryable boolean DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT h.hint FROM s3vl._error_hints() h
  WHERE h.origin = _error_hint.origin AND (h.sqlstate = _error_hint.state OR h.sqlstate IS NULL)
    AND (h.retryable IS NULL OR h.retryable = coalesce(_error_hint.retryable, false))
  ORDER BY h.sqlstate IS NULL
  LIMIT 1
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
