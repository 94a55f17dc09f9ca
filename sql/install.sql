-- Install or upgrade the s3vl schema in the current database: psql -d <db> -f sql/install.sql
-- Works from any directory (\ir is relative to this file) and is idempotent: running it again
-- upgrades in place and keeps the configuration and the index registry.
-- Needs aws_lambda.invoke (Aurora/RDS: CREATE EXTENSION aws_lambda CASCADE; locally the stand-in).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
BEGIN;

DO $not_extension$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 's3vl') THEN
    RAISE EXCEPTION 's3vl install: s3vl is installed as an extension in this database'
      USING ERRCODE = '55000', HINT = 'Upgrade it with ALTER EXTENSION s3vl UPDATE instead.';
  END IF;
END
$not_extension$;

\ir 00_schema.sql
\ir 10_tables.sql
\ir 15_migrate.sql
\ir 20_limits.sql
\ir 21_errors.sql
\ir 25_validate.sql
\ir 30_invoke.sql
\ir 40_config.sql
\ir 50_registry.sql
\ir 52_cache.sql
\ir 55_reads.sql
\ir 57_search.sql
\ir 58_where.sql
\ir 60_writes.sql
\ir 65_batch.sql
\ir 68_partitions.sql
\ir 80_sync.sql
\ir 85_policies.sql
\ir 90_grants.sql

COMMIT;
RESET client_min_messages;
