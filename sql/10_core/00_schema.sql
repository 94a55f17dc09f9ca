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

-- A schema s3vl made by someone else first is refused: the owner's SECURITY DEFINER functions
-- would call helpers (and read tables) whose owner could change them and so run code as the s3vl
-- owner. Objects owned by the installing role or by a superuser are fine (an upgrade, or a
-- superuser who could do anything anyway). pg_shdepend records every owner but the bootstrap
-- superuser, so this sees objects of every kind.
DO $owners$
DECLARE
  me constant oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user);
  foreign_objects text;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.format('%s (owner %s)', o.what, o.owner::regrole), ', '
                               ORDER BY o.what)
    INTO foreign_objects
    FROM (SELECT 'schema s3vl' AS what, n.nspowner AS owner FROM pg_catalog.pg_namespace n
          WHERE n.nspname = 's3vl'
          UNION ALL
          SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), d.refobjid
          FROM pg_catalog.pg_shdepend d
          WHERE d.deptype = 'o' AND d.dbid = (SELECT db.oid FROM pg_catalog.pg_database db
                                              WHERE db.datname = pg_catalog.current_database())
            AND (pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid)).schema = 's3vl'
         ) o
    JOIN pg_catalog.pg_roles r ON r.oid = o.owner
    WHERE o.owner <> me AND NOT r.rolsuper;
  IF foreign_objects IS NOT NULL THEN
    RAISE EXCEPTION 's3vl install: schema s3vl already exists with objects owned by another role: %',
      foreign_objects USING ERRCODE = '42501',
      DETAIL = pg_catalog.format('Installing as %s. The owner of an object in s3vl could run code '
                                 'as the s3vl owner through its SECURITY DEFINER functions.',
                                 current_user),
      HINT = 'Find out who created them; drop them (or, if trusted, ALTER ... OWNER TO the '
             'installing role), then install again.';
  END IF;
END
$owners$;

CREATE SCHEMA IF NOT EXISTS s3vl;
COMMENT ON SCHEMA s3vl IS 's3vl: SQL over Amazon S3 Vectors through an AWS Lambda function';

-- The version of these sources; sql/build-extension.sh reads it from this line.
CREATE OR REPLACE FUNCTION s3vl.version() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '1.1.0'::text $$;
COMMENT ON FUNCTION s3vl.version() IS 's3vl: the installed s3vl version';
