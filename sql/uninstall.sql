-- Remove everything sql/install.sql created in this database: psql -d <db> -f sql/uninstall.sql
-- The group roles are cluster-wide: they are dropped only when no other database still uses them.
\set ON_ERROR_STOP on
BEGIN;
DO $not_extension$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 's3vl') THEN
    RAISE EXCEPTION 's3vl uninstall: s3vl is installed as an extension in this database'
      USING ERRCODE = '55000', HINT = 'Remove it with DROP EXTENSION s3vl instead.';
  END IF;
END
$not_extension$;
SET LOCAL client_min_messages = warning;  -- not one NOTICE per dropped object
-- The pg_cron job of s3vl.schedule_sync would otherwise fail every minute from now on.
DO $cron$
BEGIN
  IF to_regprocedure('s3vl.unschedule_sync()') IS NOT NULL
     AND to_regprocedure('cron.schedule(text,text,text)') IS NOT NULL THEN
    PERFORM s3vl.unschedule_sync();
  END IF;
END
$cron$;
DROP SCHEMA IF EXISTS s3vl CASCADE;
COMMIT;

DO $roles$
DECLARE
  role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['s3vl_admin', 's3vl_writer', 's3vl_reader'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
      BEGIN
        EXECUTE format('DROP ROLE %I', role_name);
      EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN
        RAISE NOTICE 's3vl uninstall: kept role % (%)', role_name, SQLERRM;
      END;
    END IF;
  END LOOP;
END
$roles$;
