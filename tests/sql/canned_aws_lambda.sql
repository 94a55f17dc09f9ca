-- A zero-latency aws_lambda.invoke whose answers are rows of canned.answers (per operation, '*'
-- for any). Used where the real function cannot produce the case under test (malformed
-- envelopes, aws_lambda errors, timeouts) and by bench/bench_sql.py. Calls are logged in
-- canned.calls unless the setting canned.log is 'off'.
CREATE SCHEMA IF NOT EXISTS aws_lambda;
CREATE SCHEMA IF NOT EXISTS canned;
CREATE TABLE IF NOT EXISTS canned.answers (
  operation text PRIMARY KEY,
  response json,  -- json: the json overload hands it out as is (no conversion in the floor)
  raise_sqlstate text,
  raise_message text,
  raise_detail text
);
CREATE TABLE IF NOT EXISTS canned.calls (
  id bigserial PRIMARY KEY,
  function_name text,
  region text,
  request jsonb,
  request_timeout_ms text
);

CREATE OR REPLACE FUNCTION canned.respond(fn text, req json, fn_region text)
RETURNS json
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  a record;
BEGIN
  IF coalesce(current_setting('canned.log', true), 'on') <> 'off' THEN
    INSERT INTO canned.calls (function_name, region, request, request_timeout_ms)
    VALUES (fn, fn_region, req::jsonb, current_setting('aws_lambda.request_timeout_ms', true));
  END IF;
  SELECT * INTO a FROM canned.answers WHERE operation = req ->> 'operation';
  IF NOT FOUND THEN
    SELECT * INTO a FROM canned.answers WHERE operation = '*';
  END IF;
  IF a.raise_message IS NOT NULL THEN
    RAISE EXCEPTION USING MESSAGE = a.raise_message, DETAIL = coalesce(a.raise_detail, ''),
      ERRCODE = coalesce(a.raise_sqlstate, 'XX000');
  END IF;
  RETURN a.response;
END
$$;

CREATE OR REPLACE FUNCTION aws_lambda.invoke(
  IN function_name text, IN payload jsonb, IN region text DEFAULT NULL,
  IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
  IN context jsonb DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
  OUT status_code int, OUT payload jsonb, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$ SELECT 200, canned.respond($1, $2::json, $3)::jsonb, '$LATEST'::text, NULL::text $$;

CREATE OR REPLACE FUNCTION aws_lambda.invoke(
  IN function_name text, IN payload json, IN region text DEFAULT NULL,
  IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
  IN context json DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
  OUT status_code int, OUT payload json, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$ SELECT 200, canned.respond($1, $2, $3), '$LATEST'::text, NULL::text $$;

REVOKE ALL ON SCHEMA aws_lambda FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda FROM PUBLIC;
