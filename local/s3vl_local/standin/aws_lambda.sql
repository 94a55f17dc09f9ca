-- Local stand-in for Aurora PostgreSQL's aws_lambda extension (schemas aws_lambda, aws_commons).
-- Same four aws_lambda.invoke overloads, OUT columns and error texts as Aurora; calls the Lambda
-- Invoke API at the URL in aws_lambda.endpoint_override (the local Lambda endpoint), read only from
-- the database-level (ALTER DATABASE ... SET) or server-level (postgresql.conf, ALTER SYSTEM)
-- setting, as Aurora's static parameter: a session's SET, set_config, connection options or its
-- own ALTER ROLE ... SET can never redirect calls (a reader could otherwise answer for Lambda).
-- Needs plpython3u (runs the system python3: standard library only). Idempotent. Run as superuser,
-- through s3vl_local.standin.install, which fills in the Python code (this text alone is not valid).

DO $guard$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'aws_lambda') THEN
    RAISE EXCEPTION 'the aws_lambda extension is installed in database "%"; the s3vl local stand-in is not needed and will not replace it', current_database()
      USING ERRCODE = '42710',
            HINT = 'Use the real extension (Aurora/RDS); the stand-in is for local PostgreSQL only.';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'aws_lambda') THEN
    RAISE EXCEPTION 'this server ships the real aws_lambda extension; the s3vl local stand-in will not shadow it'
      USING ERRCODE = '42710',
            HINT = 'Run CREATE EXTENSION aws_lambda CASCADE instead.';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'aws_lambda')
     AND coalesce(obj_description((SELECT oid FROM pg_namespace WHERE nspname = 'aws_lambda'),
                                  'pg_namespace'), '') NOT LIKE 's3vl local stand-in%' THEN
    RAISE EXCEPTION 'schema aws_lambda already exists and was not created by the s3vl local stand-in'
      USING ERRCODE = '42P06',
            HINT = 'Drop it (or use another database) before installing the stand-in.';
  END IF;
END
$guard$;

CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE SCHEMA IF NOT EXISTS aws_commons;
CREATE SCHEMA IF NOT EXISTS aws_lambda;
COMMENT ON SCHEMA aws_lambda IS 's3vl local stand-in for the Aurora aws_lambda extension';
COMMENT ON SCHEMA aws_commons IS 's3vl local stand-in for the Aurora aws_commons extension';

DO $type$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE n.nspname = 'aws_commons' AND t.typname = '_lambda_function_arn_1') THEN
    CREATE TYPE aws_commons._lambda_function_arn_1 AS (function_name text, region text);
  END IF;
END
$type$;

CREATE OR REPLACE FUNCTION aws_commons.create_lambda_function_arn(
  function_name text, region text DEFAULT NULL)
RETURNS aws_commons._lambda_function_arn_1
LANGUAGE sql IMMUTABLE
AS $$ SELECT ROW($1, $2)::aws_commons._lambda_function_arn_1 $$;

-- The endpoint: the database-level value, else the server-level one, else NULL. Never the
-- session's value (current_setting would return it). SECURITY DEFINER to read pg_file_settings;
-- it returns one setting and takes no argument.
CREATE OR REPLACE FUNCTION aws_lambda._endpoint()
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(
    (SELECT pg_catalog.substr(c, pg_catalog.length('aws_lambda.endpoint_override=') + 1)
       FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) AS c
      WHERE s.setrole = 0
        AND s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d
                              WHERE d.datname = pg_catalog.current_database())
        AND c LIKE 'aws\_lambda.endpoint\_override=%'),
    (SELECT f.setting FROM pg_catalog.pg_file_settings f
      WHERE f.name = 'aws_lambda.endpoint_override' AND f.error IS NULL
      ORDER BY f.seqno DESC LIMIT 1))
$$;

-- The one place that talks HTTP: the code is local/s3vl_local/standin/http_invoke.py, which the
-- installer embeds in place of the placeholder below as a string literal (PostgreSQL's OS user may
-- not be able to read the checkout). The body runs it once per session into a module kept in SD and calls its run(),
-- handing it the only two readers of settings it may use. It never raises: failures come back as
-- error_* columns, which aws_lambda._invoke raises with Aurora's texts (a PL/Python raise would
-- prefix "plpy.Error: ").
CREATE OR REPLACE FUNCTION aws_lambda._http_invoke(
  fn_name text, fn_payload text, fn_region text, fn_invocation_type text, fn_log_type text,
  fn_context text, fn_qualifier text,
  OUT status_code int, OUT payload text, OUT executed_version text, OUT log_result text,
  OUT error_message text, OUT error_detail text, OUT error_hint text, OUT error_sqlstate text)
LANGUAGE plpython3u VOLATILE
AS $py$
module = SD.get("http_invoke")
if module is None:
    import types
    module = types.ModuleType("s3vl_standin_http_invoke")
    exec(compile(@HTTP_INVOKE_SOURCE@, "s3vl_local/standin/http_invoke.py", "exec"),
         module.__dict__)
    endpoint_plan = plpy.prepare("SELECT aws_lambda._endpoint() AS v")
    setting_plan = plpy.prepare("SELECT pg_catalog.current_setting($1, true) AS v", ["text"])
    SD["read_endpoint"] = lambda: endpoint_plan.execute()[0]["v"]
    SD["read_setting"] = lambda name: setting_plan.execute([name])[0]["v"]
    SD["http_invoke"] = module
return module.run(module.Call(fn_name, fn_payload, fn_region, fn_invocation_type, fn_log_type,
                              fn_context, fn_qualifier),
                  SD["read_endpoint"], SD["read_setting"])
$py$;

-- Raises what _http_invoke reports, with Aurora's message texts and no PL/Python prefix.
CREATE OR REPLACE FUNCTION aws_lambda._invoke(
  fn_name text, fn_payload text, fn_region text, fn_invocation_type text, fn_log_type text,
  fn_context text, fn_qualifier text,
  OUT status_code int, OUT response text, OUT executed_version text, OUT log_result text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  r record;
BEGIN
  SELECT * INTO r FROM aws_lambda._http_invoke(fn_name, fn_payload, fn_region,
    fn_invocation_type, fn_log_type, fn_context, fn_qualifier);
  IF r.error_message IS NOT NULL THEN
    IF r.error_hint IS NOT NULL THEN
      RAISE EXCEPTION USING MESSAGE = r.error_message, HINT = r.error_hint,
        ERRCODE = r.error_sqlstate;
    END IF;
    RAISE EXCEPTION USING MESSAGE = r.error_message, DETAIL = r.error_detail,
      ERRCODE = r.error_sqlstate;
  END IF;
  status_code := r.status_code;
  response := r.payload;
  executed_version := r.executed_version;
  log_result := r.log_result;
END
$$;

-- The four Aurora overloads. IN "payload" and OUT "payload" share a name as on Aurora, so the
-- bodies use positional references.
CREATE OR REPLACE FUNCTION aws_lambda.invoke(
  IN function_name text, IN payload json, IN region text DEFAULT NULL,
  IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
  IN context json DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
  OUT status_code int, OUT payload json, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$
  SELECT r.status_code, r.response::json, r.executed_version, r.log_result
  FROM aws_lambda._invoke($1, $2::text, $3, $4, $5, $6::text, $7::text) AS r
$$;

CREATE OR REPLACE FUNCTION aws_lambda.invoke(
  IN function_name text, IN payload jsonb, IN region text DEFAULT NULL,
  IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
  IN context jsonb DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
  OUT status_code int, OUT payload jsonb, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$
  SELECT r.status_code, r.response::jsonb, r.executed_version, r.log_result
  FROM aws_lambda._invoke($1, $2::text, $3, $4, $5, $6::text, $7::text) AS r
$$;

CREATE OR REPLACE FUNCTION aws_lambda.invoke(
  IN function_name aws_commons._lambda_function_arn_1, IN payload json,
  IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
  IN context json DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
  OUT status_code int, OUT payload json, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$
  SELECT r.status_code, r.response::json, r.executed_version, r.log_result
  FROM aws_lambda._invoke(($1).function_name, $2::text, ($1).region, $3, $4,
                          $5::text, $6::text) AS r
$$;

CREATE OR REPLACE FUNCTION aws_lambda.invoke(
  IN function_name aws_commons._lambda_function_arn_1, IN payload jsonb,
  IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
  IN context jsonb DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
  OUT status_code int, OUT payload jsonb, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$
  SELECT r.status_code, r.response::jsonb, r.executed_version, r.log_result
  FROM aws_lambda._invoke(($1).function_name, $2::text, ($1).region, $3, $4,
                          $5::text, $6::text) AS r
$$;

-- As on Aurora: only roles granted USAGE on aws_lambda and EXECUTE on its functions may call it.
REVOKE ALL ON SCHEMA aws_lambda FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda FROM PUBLIC;
GRANT USAGE ON SCHEMA aws_commons TO PUBLIC;
