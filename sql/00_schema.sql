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
