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
