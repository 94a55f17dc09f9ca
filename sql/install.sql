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

-- The layers, in install order (sql/README.md): 10_core (schema, tables, migrations, limits,
-- errors, argument checks) -> 20_transport (invoke, envelope, config, policies, cache) -> 30_api
-- (the public functions by area) -> 40_sync -> 50_roles (grants). 10_core/00_requirements.sql
-- comes first: it stops on a server s3vl does not support before anything is created. A file calls only functions of
-- its own layer or a lower one (tests/sql/test_layers.py). sql/build-extension.sh reads this list.
\ir 10_core/00_requirements.sql
\ir 10_core/00_schema.sql
\ir 10_core/10_tables.sql
\ir 10_core/15_migrate.sql
\ir 10_core/20_limits.sql
\ir 10_core/21_errors.sql
\ir 10_core/25_validate.sql
\ir 10_core/26_index_identity.sql
\ir 10_core/27_partition_ids.sql
\ir 20_transport/30_invoke.sql
\ir 20_transport/31_admission.sql
\ir 20_transport/32_partitions.sql
\ir 20_transport/35_index_shape.sql
\ir 20_transport/40_config.sql
\ir 20_transport/45_policies.sql
\ir 20_transport/52_cache.sql
\ir 30_api/50_registry.sql
\ir 30_api/55_reads.sql
\ir 30_api/56_bound_paging.sql
\ir 30_api/57_search.sql
\ir 30_api/58_where.sql
\ir 30_api/60_writes.sql
\ir 30_api/65_batch.sql
\ir 30_api/68_partitions.sql
\ir 30_api/70_manage.sql
\ir 30_api/72_embeddings.sql
\ir 40_sync/80_sync.sql
\ir 40_sync/82_sync_guard.sql
\ir 50_roles/90_grants.sql

COMMIT;
RESET client_min_messages;
