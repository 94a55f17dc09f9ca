-- s3vl 1.0.1, built by sql/build-extension.sh from the sql/ files install.sql lists; do not edit.
\echo Use "CREATE EXTENSION s3vl" to load this file. \quit
SELECT pg_catalog.set_config('s3vl.extension_script', 'on', true);

-- ==== 10_core/00_requirements.sql
-- What s3vl needs from the server, checked before anything is created (install.sql and the
-- extension script both run this file first). The minimum PostgreSQL version is written here
-- once for SQL; scripts/lib/steps.sh (MIN_AURORA_PG_VERSION) and the docs state the same
-- number, and tests/infra/test_versions.py keeps them equal.
DO $requirements$
DECLARE
  minimum constant integer := 13;  -- PostgreSQL / Aurora PostgreSQL major version
  running integer := current_setting('server_version_num')::integer;
BEGIN
  IF running < minimum * 10000 THEN
    RAISE EXCEPTION 's3vl install: PostgreSQL % is too old; s3vl needs PostgreSQL % or later',
      current_setting('server_version'), minimum
      USING ERRCODE = '0A000',
            HINT = format('On Aurora, upgrade the cluster to Aurora PostgreSQL %s or later.',
                          minimum);
  END IF;
END
$requirements$;

-- ==== 10_core/00_schema.sql
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
AS $$ SELECT '1.0.1'::text $$;
COMMENT ON FUNCTION s3vl.version() IS 's3vl: the installed s3vl version';

-- ==== 10_core/10_tables.sql
-- Configuration (one row) and the index registry. Created if missing; columns added by later
-- versions are added with ADD COLUMN IF NOT EXISTS so an upgrade keeps every existing row.

CREATE TABLE IF NOT EXISTS s3vl.config (
  id serial PRIMARY KEY,
  lambda_arn text NOT NULL,
  aws_region text NOT NULL,
  timeout_seconds integer NOT NULL DEFAULT 30,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE s3vl.config ADD COLUMN IF NOT EXISTS last_validated_at timestamptz;
ALTER TABLE s3vl.config ADD COLUMN IF NOT EXISTS last_validation_status text;
-- Attempts per Lambda invocation when Lambda throttles (429) or fails (5xx): s3vl.set_invoke_retries.
-- Since 0.5.0 a safety cap: retries run until the call's deadline (timeout_seconds). An install
-- still at 0.4.0's default of 10 (a budget throttling used up long before the deadline) is
-- raised to the new default once; the column comment marks that it was.
ALTER TABLE s3vl.config ADD COLUMN IF NOT EXISTS max_attempts integer NOT NULL DEFAULT 100;
DO $attempts_cap$
BEGIN
  IF pg_catalog.col_description('s3vl.config'::regclass, (SELECT a.attnum
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = 's3vl.config'::regclass
         AND a.attname = 'max_attempts')) IS DISTINCT FROM 's3vl: safety cap (0.5.0)' THEN
    ALTER TABLE s3vl.config ALTER COLUMN max_attempts SET DEFAULT 100;
    UPDATE s3vl.config SET max_attempts = 100 WHERE max_attempts = 10;
    COMMENT ON COLUMN s3vl.config.max_attempts IS 's3vl: safety cap (0.5.0)';
  END IF;
END
$attempts_cap$;
COMMENT ON TABLE s3vl.config IS
  's3vl: the Lambda function to call (one row, written by s3vl.configure)';

CREATE TABLE IF NOT EXISTS s3vl.index_registry (
  id serial PRIMARY KEY,
  index_name text NOT NULL UNIQUE,
  index_arn text NOT NULL,
  description text,
  bucket_name text NOT NULL,
  region text NOT NULL,
  account_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  is_active boolean NOT NULL DEFAULT true
);
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS partition text NOT NULL DEFAULT 'aws';
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS s3_index_name text;
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS dimension integer;
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS distance_metric text;
-- The Bedrock model that embeds text for this index (s3vl.set_embedding_model, 30_api/72_embeddings.sql).
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS embedding_model text;
CREATE INDEX IF NOT EXISTS index_registry_arn_idx ON s3vl.index_registry (index_arn);
COMMENT ON TABLE s3vl.index_registry IS
  's3vl: friendly index names mapped to S3 Vectors index ARNs, with dimension and metric';

-- Keeps updated_at honest whatever path changes a row.
CREATE OR REPLACE FUNCTION s3vl._touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

DO $triggers$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'config_touch_updated_at'
                 AND tgrelid = 's3vl.config'::regclass) THEN
    CREATE TRIGGER config_touch_updated_at BEFORE UPDATE ON s3vl.config
      FOR EACH ROW EXECUTE FUNCTION s3vl._touch_updated_at();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'index_registry_touch_updated_at'
                 AND tgrelid = 's3vl.index_registry'::regclass) THEN
    CREATE TRIGGER index_registry_touch_updated_at BEFORE UPDATE ON s3vl.index_registry
      FOR EACH ROW EXECUTE FUNCTION s3vl._touch_updated_at();
  END IF;
END
$triggers$;

-- Sync (40_sync/80_sync.sql, docs/sync.md). Only the s3vl owner writes these tables, through the checked
-- SECURITY DEFINER functions of 40_sync/80_sync.sql; nothing here is SQL text: column names are looked up
-- in pg_attribute each time they are used.
CREATE TABLE IF NOT EXISTS s3vl.sync_tables (
  source regclass PRIMARY KEY,
  key_column name NOT NULL,
  embedding_column name NOT NULL,
  index_name text NOT NULL,
  metadata_columns text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
-- The role that ran track_table (NULL: tracked before 0.4.0, not synced until tracked again).
-- Every sync checks this role's privileges on the table and its columns.
ALTER TABLE s3vl.sync_tables ADD COLUMN IF NOT EXISTS tracked_by regrole;
-- Sync that embeds (30_api/72_embeddings.sql): the text column the function embeds, instead of an
-- embedding column (exactly one of the two is set).
ALTER TABLE s3vl.sync_tables ADD COLUMN IF NOT EXISTS text_column name;
ALTER TABLE s3vl.sync_tables ALTER COLUMN embedding_column DROP NOT NULL;
COMMENT ON TABLE s3vl.sync_tables IS 's3vl: tables tracked by s3vl.track_table';
-- The owner of the table when it was tracked (issue 19): every read of it checks it still is.
ALTER TABLE s3vl.sync_tables ADD COLUMN IF NOT EXISTS source_owner regrole;
COMMENT ON COLUMN s3vl.sync_tables.source_owner IS
  's3vl: the owner of the table when it was tracked; sync stops if the table changes hands';
-- Tracked before 0.5.0: the owner it has now.
UPDATE s3vl.sync_tables st SET source_owner = c.relowner::regrole
  FROM pg_catalog.pg_class c WHERE c.oid = st.source AND st.source_owner IS NULL;

CREATE TABLE IF NOT EXISTS s3vl.sync_outbox (
  source regclass NOT NULL,
  key text NOT NULL,
  index_name text NOT NULL,
  changes integer NOT NULL DEFAULT 1,
  first_enqueued_at timestamptz NOT NULL DEFAULT now(),
  last_enqueued_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  last_error_at timestamptz,
  PRIMARY KEY (source, key)
);
CREATE INDEX IF NOT EXISTS sync_outbox_due ON s3vl.sync_outbox (source, next_attempt_at);
COMMENT ON TABLE s3vl.sync_outbox IS
  's3vl: keys changed since their last successful sync (one row per key)';

-- The version of each key last accepted by S3 Vectors (for s3vl.stale_rows).
CREATE TABLE IF NOT EXISTS s3vl.sync_state (
  source regclass NOT NULL,
  key text NOT NULL,
  version_hash text NOT NULL,
  synced_at timestamptz NOT NULL,
  PRIMARY KEY (source, key)
);
-- Text-tracked tables: md5 of model, dimension and text embedded last (a metadata-only change
-- keeps the stored vector instead of embedding again).
ALTER TABLE s3vl.sync_state ADD COLUMN IF NOT EXISTS text_hash text;
COMMENT ON TABLE s3vl.sync_state IS 's3vl: the version of each key S3 Vectors accepted last';

CREATE TABLE IF NOT EXISTS s3vl.sync_index_status (
  index_name text PRIMARY KEY,
  last_success timestamptz,
  last_error text,
  last_error_at timestamptz
);
COMMENT ON TABLE s3vl.sync_index_status IS 's3vl: last success and error of sync per index';

-- Result cache (20_transport/52_cache.sql). The entries table is UNLOGGED: a cache needs no
-- WAL and no crash safety (emptied after a crash, which only costs misses); the settings are
-- ordinary tables, kept like the configuration.
CREATE TABLE IF NOT EXISTS s3vl.cache_settings (
  index_arn text PRIMARY KEY,
  ttl interval NOT NULL CHECK (ttl > interval '0'),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE s3vl.cache_settings IS 's3vl: indexes whose query results are cached (s3vl.set_cache)';

-- Size bounds (one row): entries and stored result bytes over all indexes.
CREATE TABLE IF NOT EXISTS s3vl.cache_limits (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  max_entries integer NOT NULL DEFAULT 10000 CHECK (max_entries > 0),
  max_bytes bigint NOT NULL DEFAULT 67108864 CHECK (max_bytes > 0)
);
INSERT INTO s3vl.cache_limits (id) VALUES (true) ON CONFLICT (id) DO NOTHING;

CREATE UNLOGGED TABLE IF NOT EXISTS s3vl.query_cache (
  key_hash bytea PRIMARY KEY,
  index_arn text NOT NULL,
  query_vector float8[] NOT NULL,
  top_k integer NOT NULL,
  metadata_filter jsonb,
  return_metadata boolean NOT NULL,
  result jsonb NOT NULL,
  result_bytes integer NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS query_cache_index_arn_idx ON s3vl.query_cache (index_arn);
CREATE INDEX IF NOT EXISTS query_cache_created_at_idx ON s3vl.query_cache (created_at);
COMMENT ON TABLE s3vl.query_cache IS 's3vl: cached query_vectors answers (see s3vl.cache_stats)';

-- Admission control (20_transport/31_admission.sql): the optional bound, and one row per slot
-- (UNLOGGED: no user state; a crash empties it, set_invoke_concurrency refills it, and an empty
-- table means no admission control rather than no invocation).
ALTER TABLE s3vl.config ADD COLUMN IF NOT EXISTS max_concurrent_invocations integer;
COMMENT ON COLUMN s3vl.config.max_concurrent_invocations IS
  's3vl: admission control, invocations in flight at once (NULL: off); set_invoke_concurrency';

CREATE UNLOGGED TABLE IF NOT EXISTS s3vl.invoke_slots (slot integer PRIMARY KEY);
COMMENT ON TABLE s3vl.invoke_slots IS
  's3vl: one row per admission-control slot (locked during one invocation)';
INSERT INTO s3vl.invoke_slots (slot)
  SELECT g FROM pg_catalog.generate_series(1, 1000) g ON CONFLICT (slot) DO NOTHING;

-- Hit and miss counters are sequences: nextval never blocks another session and is not rolled
-- back, where a counter row would serialise every reader on one row lock.
CREATE SEQUENCE IF NOT EXISTS s3vl.cache_hits_seq;
CREATE SEQUENCE IF NOT EXISTS s3vl.cache_misses_seq;

-- Vector policies and index grants (20_transport/45_policies.sql).
CREATE TABLE IF NOT EXISTS s3vl.index_policies (
  index_name text NOT NULL,
  index_arn text NOT NULL,
  role_name regrole NOT NULL,
  filter jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (index_name, role_name)
);
CREATE INDEX IF NOT EXISTS index_policies_arn ON s3vl.index_policies (index_arn);
COMMENT ON TABLE s3vl.index_policies IS 's3vl: vector policies (s3vl.create_policy)';

CREATE TABLE IF NOT EXISTS s3vl.index_grants (
  index_name text NOT NULL,
  index_arn text NOT NULL,
  role_name regrole NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (index_name, role_name)
);
CREATE INDEX IF NOT EXISTS index_grants_arn ON s3vl.index_grants (index_arn);
COMMENT ON TABLE s3vl.index_grants IS
  's3vl: once an index has a grant, only granted roles (and s3vl_admin) may use it';

-- Row types of the functions that take index_name/index_arn and also return them (an OUT column
-- cannot share an argument's name): list_indexes/get_index_info and describe_index.
DO $row_types$
BEGIN
  IF pg_catalog.to_regtype('s3vl.index_entry') IS NULL THEN
    CREATE TYPE s3vl.index_entry AS (index_name text, index_arn text, description text,
      bucket_name text, region text, account_id text, created_at timestamptz,
      updated_at timestamptz, is_active boolean, dimension integer, distance_metric text,
      embedding_model text);
  END IF;
  IF pg_catalog.to_regtype('s3vl.index_description') IS NULL THEN
    CREATE TYPE s3vl.index_description AS (index_name text, index_arn text,
      vector_bucket_name text, dimension integer, distance_metric text, data_type text,
      non_filterable_metadata_keys text[], creation_time timestamptz, index_mode text,
      text_search jsonb, embedding_model text);
  END IF;
  -- Columns added after a type was created (the functions returning it follow).
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = (SELECT t.typrelid FROM pg_catalog.pg_type t
                                     WHERE t.oid = 's3vl.index_entry'::regtype)
                   AND a.attname = 'embedding_model') THEN
    ALTER TYPE s3vl.index_entry ADD ATTRIBUTE embedding_model text;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = (SELECT t.typrelid FROM pg_catalog.pg_type t
                                     WHERE t.oid = 's3vl.index_description'::regtype)
                   AND a.attname = 'embedding_model') THEN
    ALTER TYPE s3vl.index_description ADD ATTRIBUTE embedding_model text;
  END IF;
END
$row_types$;

-- Partitioned logical indexes (30_api/68_partitions.sql, docs/partitions.md).
CREATE TABLE IF NOT EXISTS s3vl.partitioned_indexes (
  index_name text PRIMARY KEY,
  partition_key text,                      -- NULL: hash partitions
  vectors_written boolean NOT NULL DEFAULT false,  -- a write was sent: hash partitions are fixed
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE s3vl.partitioned_indexes IS
  's3vl: partitioned logical indexes (s3vl.create_partitioned_index)';

CREATE TABLE IF NOT EXISTS s3vl.index_partitions (
  index_name text NOT NULL REFERENCES s3vl.partitioned_indexes (index_name) ON DELETE CASCADE,
  index_arn text NOT NULL,
  partition_value text,                    -- value partitions: the value; NULL: default / hash
  ordinal integer NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (index_name, index_arn),
  CONSTRAINT index_partitions_ordinal UNIQUE (index_name, ordinal) DEFERRABLE INITIALLY DEFERRED
);
COMMENT ON TABLE s3vl.index_partitions IS
  's3vl: the physical indexes of each partitioned logical index (s3vl.add_partition)';

-- ==== 10_core/15_migrate.sql
-- Upgrading in place: bring tables and functions left by an earlier s3vl version (or by the AWS
-- reference sample's schema) to this version's shape, keeping every row. Runs before any
-- function is (re)created, because CREATE OR REPLACE cannot change a function's result columns.

DO $migrate_tables$
DECLARE
  col record;
BEGIN
  -- timestamps become timestamptz (the sample used timestamp without time zone).
  FOR col IN
    SELECT c.table_name, c.column_name FROM information_schema.columns c
    WHERE c.table_schema = 's3vl' AND c.table_name IN ('config', 'index_registry')
      AND c.column_name IN ('created_at', 'updated_at')
      AND c.data_type = 'timestamp without time zone'
  LOOP
    EXECUTE format('ALTER TABLE s3vl.%I ALTER COLUMN %I TYPE timestamptz', col.table_name,
                   col.column_name);
  END LOOP;
  -- The sample accepted only the aws partition and hard-coded us-west-2; the checks now live in
  -- s3vl._check_index_arn / s3vl._check_registry_name (one rule each, all partitions).
  ALTER TABLE s3vl.index_registry DROP CONSTRAINT IF EXISTS valid_arn_format;
  ALTER TABLE s3vl.index_registry DROP CONSTRAINT IF EXISTS valid_index_name;
  ALTER TABLE s3vl.index_registry ALTER COLUMN region DROP DEFAULT;
  ALTER TABLE s3vl.config ALTER COLUMN aws_region DROP DEFAULT;
  UPDATE s3vl.config SET timeout_seconds = 30 WHERE timeout_seconds IS NULL;
  ALTER TABLE s3vl.config ALTER COLUMN timeout_seconds SET NOT NULL;
  -- 0.3.0 stored SQL fragments (key_type, embedding_cast) that sync pasted into SQL; 0.4.0 derives
  -- everything from pg_attribute. Functions taking the old row type go first.
  DROP FUNCTION IF EXISTS s3vl._sync_row_sql(s3vl.sync_tables, boolean);
  DROP FUNCTION IF EXISTS s3vl._sync_row_sql(s3vl.sync_tables);
  DROP FUNCTION IF EXISTS s3vl._sync_batch(s3vl.sync_tables, text, text[], text);
  ALTER TABLE s3vl.sync_tables DROP COLUMN IF EXISTS key_type;
  ALTER TABLE s3vl.sync_tables DROP COLUMN IF EXISTS embedding_cast;
  -- track_table and _sync_register gained text_column (sync that embeds).
  DROP FUNCTION IF EXISTS s3vl.track_table(regclass, name, name, text, text[]);
  DROP FUNCTION IF EXISTS s3vl._sync_register(regclass, name, name, text, text[]);
END
$migrate_tables$;

-- Functions whose arguments or result columns differ from this version's are dropped so the
-- files after this one can create them. Listed: every table-returning or renamed function, with
-- the argument list and result this version creates.
DO $migrate_functions$
DECLARE
  f record;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS signature
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 's3vl'
    JOIN (VALUES
      ('get_config', 'TABLE(lambda_arn text, aws_region text, timeout_seconds integer, '
                     'created_at timestamp with time zone, updated_at timestamp with time '
                     'zone, config_age_hours numeric, last_validation_status text)'),
      ('list_indexes', 'SETOF s3vl.index_entry'),
      ('get_index_info', 'SETOF s3vl.index_entry'),
      ('list_policies', 'TABLE(index_name text, role_name name, metadata_filter jsonb)'),
      ('list_vectors', 'TABLE(vector_id text, embedding double precision[], metadata jsonb, '
                       'response_next_token text, total_count integer)'),
      ('sync_status', 'TABLE(index_name text, pending bigint, oldest_pending_age interval, '
                      'failed bigint, last_error text, last_success timestamp with time zone, '
                      'sync_every interval, last_error_at timestamp with time zone)'),
      ('describe_index', 'SETOF s3vl.index_description')
    ) AS expected(name, result) ON expected.name = p.proname
    WHERE pg_catalog.pg_get_function_result(p.oid) <> expected.result
       OR (p.proname = 'list_vectors' AND p.pronargs <> 8)
  LOOP
    EXECUTE format('DROP FUNCTION %s', f.signature);
  END LOOP;
  -- 0.1.0 built requests as jsonb; they are json now (internal helpers, no grants to keep). And
  -- internal helpers whose OUT parameters changed.
  FOR f IN
    SELECT p.oid::regprocedure AS signature FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = 's3vl'::regnamespace
      AND ((p.proname IN ('_query_request', '_get_request', '_list_request',
                          '_get_index_request') AND p.prorettype = 'jsonb'::regtype)
           OR (p.proname = '_invoke' AND p.proargtypes[1] = 'jsonb'::regtype)
           -- 0.4.0: _config also reports max_attempts (a new OUT parameter)
           OR (p.proname = '_config' AND pg_catalog.cardinality(p.proallargtypes) <> 5)
           -- 1.0.0: the cache helpers take the caller's name (errors name the public function)
           OR p.oid IN (pg_catalog.to_regprocedure(
                          's3vl._cache_get(text, float8[], integer, jsonb, boolean)'),
                        pg_catalog.to_regprocedure(
                          's3vl._cache_put(text, float8[], integer, jsonb, boolean, jsonb)'),
                        pg_catalog.to_regprocedure('s3vl._policy_cache_filter(text, jsonb)'),
                        pg_catalog.to_regprocedure('s3vl._service_message(text)'),
                        -- 1.0.0: the filtered search takes strategy (its plan)
                        pg_catalog.to_regprocedure('s3vl._query_where(text, float8[], regclass, '
                          'name, text, integer, text, text, jsonb, integer)'))
           -- 1.0.0: the batch's position column is ordinal (it was query_index)
           OR (p.proname = '_query_batch'
               AND pg_catalog.pg_get_function_result(p.oid) LIKE '%query_index%'))
  LOOP
    EXECUTE format('DROP FUNCTION %s', f.signature);
  END LOOP;
END
$migrate_functions$;

-- 1.0.0 renamed and reordered public parameters (sql/CHANGELOG.md). CREATE OR REPLACE can change
-- neither, and a reordered signature would stay beside the new one as a second overload: every
-- form of these functions whose arguments (names and types, in order) are not one this version
-- creates is dropped here and created again by the files after this one (grants too).
DO $migrate_signatures$
DECLARE
  f record;
BEGIN
  FOR f IN
    WITH expected(name, arguments) AS (VALUES
      ('activate_index', 'index_name text'),
      ('create_policy', 'index_name text, role_name name, metadata_filter jsonb'),
      ('deactivate_index', 'index_name text'),
      ('delete_vectors', 'vector_ids text[], index_name text, invocation_type text'),
      ('describe_index', 'index_name text, index_arn text'),
      ('get_index_info', 'index_name text'),
      ('hybrid_search', 'query_vector double precision[], query_text text, metadata_key text, index_name text, index_arn text, top_k integer, metadata_filter jsonb, return_metadata boolean'),
      ('hybrid_search', 'query_vector double precision[], query_texts jsonb, index_name text, index_arn text, top_k integer, metadata_filter jsonb, return_metadata boolean'),
      ('list_vectors', 'index_name text, index_arn text, return_metadata boolean, return_data boolean, max_results integer, next_token text, segment_count integer, segment_index integer'),
      ('put_vector_arrays', 'vector_ids text[], vectors double precision[], index_name text, metadata jsonb[], invocation_type text'),
      ('put_vectors', 'vectors jsonb, index_name text, invocation_type text'),
      ('put_vector', 'vector_id text, vector double precision[], index_name text, metadata jsonb'),
      ('query_table', 'query_vector double precision[], source regclass, key_column name, predicate text, top_k integer, metadata_filter jsonb, max_candidates integer, strategy text'),
      ('query_vectors_batch', 'query_vectors double precision[], index_name text, top_k integer, metadata_filter jsonb, return_metadata boolean, query_ids text[]'),
      ('query_vectors_batch', 'query_vectors jsonb, index_name text, top_k integer, metadata_filter jsonb, return_metadata boolean'),
      ('query_vectors_where', 'query_vector double precision[], source regclass, key_column name, predicate text, index_name text, index_arn text, top_k integer, metadata_filter jsonb, max_candidates integer, strategy text'),
      ('query_vectors', 'query_vector double precision[], index_name text, index_arn text, top_k integer, return_metadata boolean, metadata_filter jsonb'),
      ('query_vectors', 'text, double precision[], top_k integer, return_metadata boolean, metadata_filter jsonb'),
      ('query_vectors', 'text, text, top_k integer, return_metadata boolean, metadata_filter jsonb'),
      ('register_index', 'index_name text, index_arn text, description text'),
      ('resolve_index_arn', 'index_name text'),
      ('scan_vectors', 'index_name text, index_arn text, return_metadata boolean, return_data boolean, page_size integer'),
      ('search_text', 'query_text text, metadata_key text, index_name text, index_arn text, top_k integer, metadata_filter jsonb, return_metadata boolean'),
      ('search_text', 'query_texts jsonb, index_name text, index_arn text, top_k integer, metadata_filter jsonb, return_metadata boolean'),
      ('unregister_index', 'index_name text'),
      ('update_metadata', 'vector_ids text[], patch jsonb, index_name text'),
      ('query_table', 'query_text text, source regclass, key_column name, predicate text, '
                      'top_k integer, metadata_filter jsonb, max_candidates integer, '
                      'strategy text'),
      ('query_vectors_where', 'query_text text, source regclass, key_column name, predicate '
                              'text, index_name text, top_k integer, metadata_filter jsonb, '
                              'max_candidates integer, strategy text'))
    SELECT p.oid::regprocedure AS signature FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = 's3vl'::regnamespace
      AND p.proname IN (SELECT e.name FROM expected e)
      AND (p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
          NOT IN (SELECT e.name, e.arguments FROM expected e)
  LOOP
    EXECUTE format('DROP FUNCTION %s', f.signature);
  END LOOP;
END
$migrate_signatures$;

-- A development build named roles by name; OIDs follow renames (rows of dropped roles go).
DO $role_oids$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['index_policies', 'index_grants'] LOOP
    IF (SELECT a.atttypid FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = ('s3vl.' || t)::regclass AND a.attname = 'role_name')
       = 'name'::regtype THEN
      EXECUTE format('DELETE FROM s3vl.%I WHERE pg_catalog.to_regrole('
                     'pg_catalog.quote_ident(role_name)) IS NULL', t);
      EXECUTE format('ALTER TABLE s3vl.%I ALTER COLUMN role_name TYPE regrole USING '
                     'pg_catalog.to_regrole(pg_catalog.quote_ident(role_name))', t);
    END IF;
  END LOOP;
END
$role_oids$;

-- ==== 10_core/20_limits.sql
-- Every limit the SQL side checks, in one place. Service limits come from botocore's s3vectors
-- model and https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-limitations.html,
-- Lambda's from https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html. The
-- function's copy is lambda/s3vl_lambda/limits.py, the emulator's
-- s3vectors_emulator/constants.py; tests/sql/test_facts_tie.py ties every row to them (or
-- records that only SQL has it), so a new row needs an entry there.

CREATE OR REPLACE FUNCTION s3vl.limits()
RETURNS TABLE (name text, min_value integer, max_value integer, description text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  VALUES
    ('dimension',       1,     4096, 'length of a vector (S3 Vectors index dimension)'),
    ('top_k',           1,    10000, 'query_vectors results per query (service maximum)'),
    ('max_results',     1,     1000, 'list_vectors vectors per page'),
    ('segment_count',   1,       16, 'list_vectors parallel segments'),
    ('segment_index',   0,       15, 'list_vectors segment number, below segment_count'),
    ('vector_id_length', 1,    1024, 'characters in a vector key'),
    ('index_arn_length', 1,    2048, 'characters in an index ARN'),
    ('query_texts',     1,       10, 'metadata keys searched by one text or hybrid query'),
    ('query_text_length', 1,   1024, 'characters in one full-text query string'),
    ('metadata_key_length', 1,     63, 'characters in a searchable (text search) metadata key'),
    ('timeout_seconds', 1,      900, 'Lambda call timeout (aws_lambda.request_timeout_ms / 1000)'),
    ('index_name_length', 1,     63, 'characters in a registry (friendly) index name'),
    ('metadata_keys',   0,       50, 'keys in one vector''s metadata'),
    ('metadata_bytes',  0,    40960, 'one vector''s metadata as compact UTF-8 JSON'),
    ('filterable_metadata_bytes', 0, 2048, 'one vector''s filterable metadata (keys not declared non-filterable)'),
    ('invoke_payload_bytes', 1, 6291456, 'one synchronous Lambda request payload (6 MB)'),
    ('event_payload_bytes', 1, 1048576, 'one asynchronous (Event) Lambda request payload (1 MB)'),
    ('batch_queries',   1,      100, 'query vectors per query_vectors_batch invocation'),
    ('cache_ttl_seconds', 1, 604800, 's3vl.set_cache time to live (up to 7 days)'),
    ('max_candidates',  1,    10000, 'query_vectors_where/query_table neighbours examined (QueryVectors topK)'),
    ('pages_per_call',  1,      100, 'QueryVectors pages one paged invocation reads (also at most timeout_seconds)'),
    ('page_token_length', 1,   4096, 'characters in a QueryVectors page token'),
    ('max_attempts',    1,     1000, 'attempts per Lambda invocation when Lambda throttles or fails with 5xx (a safety cap: retries stop at timeout_seconds)'),
    ('invoke_concurrency', 1,    1000, 'Lambda invocations in flight at once under admission control (s3vl.set_invoke_concurrency; NULL or 0: off)'),
    ('max_filter_depth', 1,      32, 'JSON nesting depth of a metadata_filter (each object and array counts one)'),
    ('filter_constraints', 1,   100, 'compared values in one metadata_filter (an $in list of 3 counts 3)'),
    ('put_vectors_per_call', 1,   500, 'vectors per PutVectors call (S3 Vectors; sync batches at most this many)'),
    ('invocation_items', 1,      5000, 'vectors or keys one write invocation carries (10 PutVectors calls of 500)'),
    ('payload_margin_bytes', 0, 262144, 'room a write or batch invocation leaves below its payload limit (envelope, one element past the line)'),
    ('sync_batch_bytes', 1,   4000000, 'estimated JSON of one s3vl.sync put batch (under invoke_payload_bytes)'),
    ('sync_max_rows',   1,    1000000, 'rows one s3vl.sync run handles (its max_rows)'),
    ('sync_backoff_seconds', 1,   300, 'longest pause before s3vl.sync retries a failed key (1 s doubling)'),
    ('partitions',      1,     1000, 'partitions (S3 Vectors indexes) of one partitioned logical index'),
    ('partition_concurrency', 1,   16, 'service calls the function runs at once across partitions (and prefilter GetVectors) in one invocation'),
    ('prefilter_max_keys', 1,  50000, 'qualifying keys query_vectors_where/query_table rank with strategy prefilter'),
    ('prefilter_auto_keys', 1,  2000, 'cap of the qualifying keys up to which strategy auto runs the prefilter plan (bound sqrt(0.5 top_k rows), bench/bench_where.py)'),
    ('embed_text_length', 1,  50000, 'characters in one text to embed (Titan Text Embeddings V2)'),
    ('embed_texts',     1,      100, 'texts one s3vl.embed invocation embeds')
$$;
COMMENT ON FUNCTION s3vl.limits() IS 's3vl: every limit the SQL functions check before a call';

-- Raises 22023 naming the caller, the parameter and the limit when value is NULL or out of range.
-- limit_name defaults to param (scan_vectors' page_size is checked against max_results).
CREATE OR REPLACE FUNCTION s3vl._check_range(caller text, param text, value bigint,
                                             limit_name text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  lo integer;
  hi integer;
BEGIN
  SELECT l.min_value, l.max_value INTO lo, hi FROM s3vl.limits() l WHERE l.name = coalesce(limit_name, param);
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl._check_range: unknown limit "%"', coalesce(limit_name, param) USING ERRCODE = 'XX000';
  END IF;
  IF value IS NULL OR value < lo OR value > hi THEN
    RAISE EXCEPTION '%: % must be between % and % (got %)', caller, param, lo, hi,
      coalesce(value::text, 'NULL')
      USING ERRCODE = '22023',
            HINT = format('%s accepts %s..%s; see SELECT * FROM s3vl.limits().', param, lo, hi);
  END IF;
END
$$;

-- One limit by name (the max_value column); an unknown name is a bug here, so it raises.
CREATE OR REPLACE FUNCTION s3vl._limit(limit_name text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  found integer;
BEGIN
  SELECT l.max_value INTO found FROM s3vl.limits() l WHERE l.name = limit_name;
  IF found IS NULL THEN
    RAISE EXCEPTION 's3vl._limit: no limit named %', limit_name USING ERRCODE = 'XX000';
  END IF;
  RETURN found;
END
$$;

-- The largest finite float32 (S3 Vectors stores float32; a larger magnitude would be Infinity):
-- the one copy of this bound in SQL (the function's is s3vl_lambda.limits.FLOAT32_MAX). Printed
-- in messages as float4 (3.4028235e+38). _float32_bound() is the same for jsonpath's $max.
CREATE OR REPLACE FUNCTION s3vl._float32_max()
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 3.4028234663852886e38::float8 $$;

CREATE OR REPLACE FUNCTION s3vl._float32_bound()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.jsonb_build_object('max', s3vl._float32_max()) $$;

-- ==== 10_core/21_errors.sql
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

-- ==== 10_core/25_validate.sql
-- Argument checks shared by every public function, and index resolution. Internal helpers
-- (name starts with "_") are not granted to anyone: only s3vl's SECURITY DEFINER functions call
-- them, so they carry no SET search_path of their own (it would cost a GUC save per call) and
-- qualify every object instead.

-- A vector argument: present, no NULL elements, 1..4096 long, finite (22000 as pgvector does),
-- and as long as the index dimension when that is known.
CREATE OR REPLACE FUNCTION s3vl._check_vector(caller text, param text, vec float8[],
                                              expected_dimension integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  n integer := pg_catalog.cardinality(vec);
BEGIN
  IF vec IS NULL OR n = 0 THEN
    RAISE EXCEPTION '%: % must be a non-empty array of numbers', caller, param
      USING ERRCODE = '22023', HINT = 'Pass e.g. ARRAY[0.1, 0.2, 0.3]::float8[].';
  END IF;
  IF pg_catalog.array_ndims(vec) <> 1 THEN
    RAISE EXCEPTION '%: % must be a one-dimensional array (got % dimensions)', caller, param,
      pg_catalog.array_ndims(vec) USING ERRCODE = '22023';
  END IF;
  IF pg_catalog.array_position(vec, NULL) IS NOT NULL THEN
    RAISE EXCEPTION '%: % must not contain NULL elements (element % is NULL)', caller, param,
      pg_catalog.array_position(vec, NULL) USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._check_range(caller, 'dimension', n);
  -- One pass: NaN sorts above every number in PostgreSQL, so this also catches NaN and
  -- Infinity; S3 Vectors stores float32, where a larger magnitude would become Infinity.
  IF EXISTS (SELECT 1 FROM pg_catalog.unnest(vec) AS x
             WHERE pg_catalog.abs(x) > s3vl._float32_max()) THEN
    IF 'NaN'::float8 = ANY (vec) OR 'Infinity'::float8 = ANY (vec)
       OR '-Infinity'::float8 = ANY (vec) THEN
      RAISE EXCEPTION '%: % must contain only finite numbers (NaN and Infinity are not allowed)',
        caller, param USING ERRCODE = '22000';
    END IF;
    RAISE EXCEPTION '%: % must contain only finite float32 values (|x| <= %)',
      caller, param, s3vl._float32_max()::float4 USING ERRCODE = '22000';
  END IF;
  IF expected_dimension IS NOT NULL AND n <> expected_dimension THEN
    RAISE EXCEPTION '%: % has dimension % but the index has dimension %', caller, param, n,
      expected_dimension
      USING ERRCODE = '22000',
            HINT = 'Use an embedding model with the index dimension; see s3vl.get_index_info().';
  END IF;
END
$$;

-- Splits an S3 Vectors index ARN of any partition; NULL when it is not one. The same pattern and
-- length limit as the function's (lambda/s3vl_lambda/index_ref.py): tests/index_arn_cases.json
-- holds the ARNs both accept and refuse.
CREATE OR REPLACE FUNCTION s3vl._parse_index_arn(arn text,
  OUT partition text, OUT region text, OUT account_id text, OUT bucket_name text,
  OUT index_name text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT m[1], m[2], m[3], m[4], m[5]
  FROM (SELECT pg_catalog.regexp_match(arn,
    '^arn:(aws|aws-cn|aws-us-gov):s3vectors:([a-z]{2}(?:-[a-z0-9]+)+-[0-9]+):([0-9]{12}):'
    'bucket/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])/index/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$') AS m
        WHERE pg_catalog.length(arn) <= s3vl._limit('index_arn_length')) s
$$;

CREATE OR REPLACE FUNCTION s3vl._check_index_arn(caller text, param text, arn text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF (s3vl._parse_index_arn(arn)).index_name IS NULL THEN
    RAISE EXCEPTION '%: % is not an S3 Vectors index ARN: %', caller, param,
      pg_catalog.left(coalesce(arn, 'NULL'), 200)
      USING ERRCODE = '22023',
            HINT = 'Expected arn:{aws|aws-cn|aws-us-gov}:s3vectors:<region>:<12-digit account>:'
                   'bucket/<bucket>/index/<index>.';
  END IF;
END
$$;

-- What the registry knows of a checked, canonical index ARN (dimension and metric, NULL when
-- unregistered): 42704 when its registration is deactivated, and when it came as index_name
-- without a registration.
CREATE OR REPLACE FUNCTION s3vl._resolve_by_arn(caller text, arn text, given_as_name boolean,
  OUT dimension integer, OUT distance_metric text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  reg record;
BEGIN
  SELECT r.index_name, r.dimension, r.distance_metric, r.is_active INTO reg
    FROM s3vl.index_registry r
    WHERE r.index_arn = arn
    ORDER BY r.is_active DESC, r.id LIMIT 1;
  IF NOT FOUND AND given_as_name THEN
    RAISE EXCEPTION '%: index % is not registered (an ARN given as the index name must be '
                    'a registered index; only reads that take index_arn accept others)',
      caller, pg_catalog.left(arn, 200)
      USING ERRCODE = '42704',
            HINT = 'An s3vl_admin registers it with SELECT s3vl.register_index(''<name>'', '
                   '''<index ARN>'').';
  END IF;
  IF FOUND AND NOT reg.is_active THEN
    RAISE EXCEPTION '%: index % is deactivated (registered as "%")', caller,
      pg_catalog.left(arn, 200), reg.index_name
      USING ERRCODE = '42704',
            HINT = format('Reactivate it with SELECT s3vl.activate_index(%L).', reg.index_name);
  END IF;
  dimension := reg.dimension;
  distance_metric := reg.distance_metric;
END
$$;

-- Which index a call is about: exactly one of index_name (a registry name) and index_arn.
-- Returns the ARN and, when the index is registered, its dimension and metric (so a wrong
-- dimension fails here, before any call). The registry is an access boundary:
-- - an ARN passed where a name is expected (index_name, as the reference sample allowed; the only
--   form put_vectors, delete_vectors, query_vectors_batch and set_cache take) resolves only
--   through the registry: it must be registered under an active name (42704 otherwise);
-- - an explicit index_arn of a registered index is refused when every name it has is
--   deactivated; an unregistered index_arn still reaches the function (whose allow-list,
--   S3VL_ALLOWED_INDEX_ARNS, and IAM policy decide).
CREATE OR REPLACE FUNCTION s3vl._resolve_index(caller text, p_index_name text, p_index_arn text,
  OUT index_arn text, OUT dimension integer, OUT distance_metric text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  reg record;
  by_arn_as_name boolean := false;
BEGIN
  IF p_index_name IS NULL AND p_index_arn IS NULL THEN
    RAISE EXCEPTION '%: either index_name or index_arn must be given', caller
      USING ERRCODE = '22023', HINT = 'List registered names with SELECT * FROM s3vl.list_indexes().';
  END IF;
  IF p_index_name IS NOT NULL AND p_index_arn IS NOT NULL THEN
    RAISE EXCEPTION '%: give either index_name or index_arn, not both', caller
      USING ERRCODE = '22023';
  END IF;
  IF p_index_arn IS NULL AND p_index_name LIKE 'arn:%' THEN
    p_index_arn := p_index_name;
    p_index_name := NULL;
    by_arn_as_name := true;
  END IF;
  IF p_index_arn IS NOT NULL THEN
    IF NOT s3vl._is_partitioned_id(p_index_arn) THEN  -- 27_partition_ids.sql
      PERFORM s3vl._check_index_arn(caller, 'index_arn', p_index_arn);
      -- Another account's (region's, partition's) spelling of a registered index: refused.
      p_index_arn := s3vl._canonical_index_arn(caller, p_index_arn);
    END IF;
    SELECT * INTO reg FROM s3vl._resolve_by_arn(caller, p_index_arn, by_arn_as_name);
    index_arn := p_index_arn;
    dimension := reg.dimension;
    distance_metric := reg.distance_metric;
    RETURN;
  END IF;
  SELECT r.index_arn, r.dimension, r.distance_metric, r.is_active INTO reg
    FROM s3vl.index_registry r WHERE r.index_name = p_index_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: index "%" is not registered', caller, pg_catalog.left(p_index_name, 100)
      USING ERRCODE = '42704',
            HINT = 'Register it with SELECT s3vl.register_index(''<name>'', ''<index ARN>''), '
                   'or pass index_arn.';
  END IF;
  IF NOT reg.is_active THEN
    RAISE EXCEPTION '%: index "%" is deactivated', caller, p_index_name
      USING ERRCODE = '42704',
            HINT = format('Reactivate it with SELECT s3vl.activate_index(%L).', p_index_name);
  END IF;
  index_arn := reg.index_arn;
  dimension := reg.dimension;
  distance_metric := reg.distance_metric;
END
$$;

-- Whether a value nests deeper than `depth` JSON levels (each object and each array counts one
-- level: {"a": 1} is 1, {"$and": [{"a": {"$eq": 1}}]} is 4). A container at level L (the root is
-- 0) is at depth L + 1, so one jsonpath question answers it, without recursion in SQL.
CREATE OR REPLACE FUNCTION s3vl._filter_deeper_than(value jsonb, depth integer)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.jsonb_path_exists(value, pg_catalog.format(
    'strict $.**{%s} ? (@.type() == "object" || @.type() == "array")', depth)::jsonpath)
$$;

-- 22023 naming max_filter_depth when a metadata_filter nests deeper than the limit (checked in
-- SQL before any invocation; the function and the emulator apply the same limit).
CREATE OR REPLACE FUNCTION s3vl._check_filter_depth(caller text, metadata_filter jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  max_depth constant integer := s3vl._limit('max_filter_depth');
BEGIN
  IF metadata_filter IS NOT NULL AND s3vl._filter_deeper_than(metadata_filter, max_depth) THEN
    RAISE EXCEPTION '%: metadata_filter nests deeper than max_filter_depth (%)', caller, max_depth
      USING ERRCODE = '22023',
            HINT = 'Each JSON object and array counts one level; flatten the $and/$or nesting. '
                   'See SELECT * FROM s3vl.limits().';
  END IF;
END
$$;

-- value::the type of like_value, or NULL when value is not valid for that type (sync's keys and
-- query_vectors_where's join to the caller's table).
CREATE OR REPLACE FUNCTION s3vl._sync_try_cast(value text, like_value anyelement)
RETURNS anyelement
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  EXECUTE pg_catalog.format('SELECT $1::%s', pg_catalog.pg_typeof(like_value)) INTO like_value
    USING value;
  RETURN like_value;
EXCEPTION WHEN data_exception THEN
  RETURN NULL;
END
$$;

-- A vector given as a string literal ('{0.1,0.2}' or '[0.1,0.2]'), for the forms that take two
-- literals; 22023 saying which forms to write when it is not one.
CREATE OR REPLACE FUNCTION s3vl._vector_literal(caller text, vector_text text, index_name text)
RETURNS float8[]
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  RETURN pg_catalog.translate(pg_catalog.btrim(vector_text), '[]', '{}')::float8[];
EXCEPTION WHEN data_exception THEN
  RAISE EXCEPTION '%: with two string literals the first is the index and the second the vector '
                  '(got %, %)', caller, pg_catalog.quote_literal(pg_catalog.left(index_name, 60)),
                  pg_catalog.quote_literal(pg_catalog.left(vector_text, 60))
    USING ERRCODE = '22023',
          HINT = pg_catalog.format('Write %s(''my-index'', ''{0.1,0.2}'') or %s(''{0.1,0.2}''::'
                                   'float8[], index_name => ''my-index'').', caller, caller);
END
$$;

-- ==== 10_core/26_index_identity.sql
-- The canonical form of an index ARN (issue 19 item 5). S3 Vectors (and the emulator) find an
-- index by its bucket and name, while policies, grants, cache settings and the registry compare
-- ARN text: an ARN naming a registered index's bucket and name under another partition, region or
-- account would reach that index without its rules. Every ARN a caller passes goes through here
-- (s3vl._resolve_index, and again in s3vl._policy_request before a policy is applied): the
-- registered ARN comes back unchanged, an unregistered bucket/name passes (the function's
-- allow-list and IAM decide), and another spelling of a registered index is refused.
CREATE OR REPLACE FUNCTION s3vl._canonical_index_arn(caller text, arn text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  wanted record;
  registered record;
BEGIN
  IF arn IS NULL OR EXISTS (SELECT 1 FROM s3vl.index_registry r WHERE r.index_arn = arn) THEN
    RETURN arn;
  END IF;
  wanted := s3vl._parse_index_arn(arn);
  SELECT r.index_name, r.index_arn INTO registered
    FROM s3vl.index_registry r
    WHERE (s3vl._parse_index_arn(r.index_arn)).bucket_name = wanted.bucket_name
      AND (s3vl._parse_index_arn(r.index_arn)).index_name = wanted.index_name
    ORDER BY r.is_active DESC, r.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: index_arn % names bucket % index % in another partition, region or '
                    'account than the registered index "%"', caller, pg_catalog.left(arn, 200),
      wanted.bucket_name, wanted.index_name, registered.index_name
      USING ERRCODE = '22023',
            DETAIL = 'registered as ' || registered.index_arn,
            HINT = 'Use the registered name or its registered ARN (s3vl.list_indexes()).';
  END IF;
  RETURN arn;
END
$$;

-- ==== 10_core/27_partition_ids.sql
-- Partitioned logical indexes (docs/partitions.md): the identifier a partitioned name is
-- registered under in place of an index ARN ('s3vl:partitioned:<name>'), which _resolve_index
-- accepts, and the routing text of a partition key value (the function's rule, docs/protocol.md).

-- The identifier a partitioned name stands for wherever an index ARN is expected.
CREATE OR REPLACE FUNCTION s3vl._partitioned_id(index_name text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 's3vl:partitioned:' || index_name $$;

CREATE OR REPLACE FUNCTION s3vl._is_partitioned_id(index_arn text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(pg_catalog.starts_with(index_arn, 's3vl:partitioned:'), false) $$;

-- The text a partition key value routes by, as the function computes it: a string as itself,
-- true/false, a number in its shortest form (5 and 5.0 are '5'); NULL for anything else.
CREATE OR REPLACE FUNCTION s3vl._partition_value_text(value jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE pg_catalog.jsonb_typeof(value)
    WHEN 'string' THEN value #>> '{}'
    WHEN 'boolean' THEN value #>> '{}'
    WHEN 'number' THEN pg_catalog.trim_scale((value #>> '{}')::numeric)::text
  END
$$;


-- ==== 20_transport/30_invoke.sql
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

-- ==== 20_transport/31_admission.sql
-- Admission control for Lambda invocations (issue 19): at most N invocations of this database
-- in flight at once, so that sessions queue in the database instead of being throttled by
-- Lambda (429) and retrying. Off by default (retries until the deadline, 30_invoke.sql, are the
-- default); an admin turns it on with s3vl.set_invoke_concurrency(N), N no more than the
-- function's reserved concurrency. A slot is a row of s3vl.invoke_slots that s3vl._send_lambda
-- locks (FOR UPDATE SKIP LOCKED) for one invocation only, inside a block that always ends by
-- rolling back, so the lock is released when the invocation ends, whatever the caller's
-- transaction does afterwards. Only the owner may lock the rows: no role can hold a slot, or
-- block the others, beyond one invocation of its own. bench/bench_load.py measures it against
-- retries alone (docs/security.md).

CREATE OR REPLACE FUNCTION s3vl.set_invoke_concurrency(max_concurrent integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF max_concurrent IS NOT NULL AND max_concurrent <> 0 THEN
    PERFORM s3vl._check_range('s3vl.set_invoke_concurrency', 'max_concurrent', max_concurrent,
                              'invoke_concurrency');
  END IF;
  PERFORM s3vl._config('s3vl.set_invoke_concurrency'::text);  -- 55000 when not configured
  -- The slots (UNLOGGED, so a crash empties them; the install fills them too).
  INSERT INTO s3vl.invoke_slots (slot)
    SELECT g FROM pg_catalog.generate_series(1, s3vl._limit('invoke_concurrency')) g
    ON CONFLICT (slot) DO NOTHING;
  UPDATE s3vl.config c SET max_concurrent_invocations = NULLIF(set_invoke_concurrency.max_concurrent, 0);
  RETURN NULLIF(max_concurrent, 0);
END
$$;
COMMENT ON FUNCTION s3vl.set_invoke_concurrency(integer) IS
  's3vl: admission control: at most max_concurrent Lambda invocations in flight (NULL or 0: off)';

-- ==== 20_transport/32_partitions.sql
-- Partitioned logical indexes (docs/partitions.md): the request rewrite s3vl._send_lambda runs
-- on every request, turning a partitioned name's identifier into the list of its partitions
-- (docs/protocol.md, "Partitioned requests"), pruned by the caller's policy on the partition key.

-- The values of `partition_key` a resolved policy filter ({"$and": [{k: {"$eq"|"$in": ..}}]})
-- allows, as routing text; NULL when the policy does not constrain that key.
CREATE OR REPLACE FUNCTION s3vl._policy_partition_values(policy jsonb, partition_key text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  part jsonb;
  cond jsonb;
  vals text[];
  pinned text[];
BEGIN
  FOR part IN SELECT pg_catalog.jsonb_array_elements(policy -> '$and') LOOP
    cond := part -> partition_key;
    CONTINUE WHEN cond IS NULL;
    vals := ARRAY(SELECT s3vl._partition_value_text(x)
                  FROM pg_catalog.jsonb_array_elements(CASE WHEN cond ? '$in' THEN cond -> '$in'
                         ELSE pg_catalog.jsonb_build_array(cond -> '$eq') END) x);
    pinned := CASE WHEN pinned IS NULL THEN vals
                   ELSE ARRAY(SELECT pg_catalog.unnest(pinned)
                              INTERSECT SELECT pg_catalog.unnest(vals)) END;
  END LOOP;
  RETURN pinned;
END
$$;

-- The partitions of a logical index a request names, in ordinal order: all of them, or (allowed
-- not NULL: the values a bound caller's policy allows) those with an allowed value, and the
-- default partition when an allowed value has no partition of its own.
CREATE OR REPLACE FUNCTION s3vl._partition_list(index_name text, allowed text[])
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'index_arn', ip.index_arn, 'ordinal', ip.ordinal, 'value', ip.partition_value)
           ORDER BY ip.ordinal), '[]'::jsonb)
    FROM s3vl.index_partitions ip
    WHERE ip.index_name = _partition_list.index_name
      AND (allowed IS NULL
           OR ip.partition_value = ANY (allowed)
           OR (ip.partition_value IS NULL AND EXISTS (
                 SELECT 1 FROM pg_catalog.unnest(allowed) a
                 WHERE NOT EXISTS (SELECT 1 FROM s3vl.index_partitions o
                                   WHERE o.index_name = _partition_list.index_name
                                     AND o.partition_value = a))))
$$;

-- What a request naming the partitioned identifier `logical` carries instead of its index_arn
-- (docs/protocol.md): {"partitions": [...], "partition_key": ...}; NULL when `logical` is not a
-- partitioned identifier. `bound` (s3vl._call_lambda, after the policy step): a caller bound by a
-- policy on the partition key gets only the partitions its values route to, so the function
-- never even learns the other partitions' ARNs. A put marks hash partitions as fixed. caller
-- only names the function in messages.
CREATE OR REPLACE FUNCTION s3vl._partition_fields(caller text, logical text, operation text,
  bound boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  pi record;
  allowed text[];
BEGIN
  IF NOT s3vl._is_partitioned_id(logical) THEN
    RETURN NULL;
  END IF;
  SELECT p.index_name, p.partition_key, p.vectors_written INTO pi
    FROM s3vl.partitioned_indexes p
    JOIN s3vl.index_registry r ON r.index_name = p.index_name AND r.index_arn = logical;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: index % is not a partitioned index', caller,
      pg_catalog.left(logical, 200) USING ERRCODE = '42704',
      HINT = 'SELECT * FROM s3vl.list_indexes() lists registered names.';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM s3vl.index_partitions ip WHERE ip.index_name = pi.index_name) THEN
    RAISE EXCEPTION '%: partitioned index "%" has no partitions yet', caller, pi.index_name
      USING ERRCODE = '55000',
            HINT = 'An s3vl_admin adds one with SELECT s3vl.add_partition(<index_name>, '
                   '<index ARN>, <partition_value>).';
  END IF;
  IF bound AND pi.partition_key IS NOT NULL
     AND EXISTS (SELECT 1 FROM s3vl.index_policies ip WHERE ip.index_arn = logical) THEN
    allowed := s3vl._policy_partition_values(s3vl._policy_filter(caller, logical),
                                             pi.partition_key);
  END IF;
  IF operation = 'put_vectors' AND NOT pi.vectors_written THEN
    UPDATE s3vl.partitioned_indexes SET vectors_written = true
      WHERE index_name = pi.index_name;
  END IF;
  RETURN pg_catalog.jsonb_build_object('partitions', s3vl._partition_list(pi.index_name, allowed),
                                       'partition_key', pi.partition_key);
END
$$;

-- A request whose index_arn is a partitioned identifier, with `partitions` + `partition_key`
-- (_partition_fields) in its place. s3vl._send_lambda expands what is left unbound: sync's
-- requests (80_sync.sql: not bound by its caller) and the policy checks' own reads of stored
-- vectors (which must see every partition, as they would see the whole of one index).
DROP FUNCTION IF EXISTS s3vl._partition_request(text, json);
CREATE OR REPLACE FUNCTION s3vl._partition_request(caller text, request json, bound boolean)
RETURNS json
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  fields jsonb;
BEGIN
  -- The common case costs one substring search over the request text.
  IF pg_catalog.strpos(request::text, 's3vl:partitioned:') = 0 THEN
    RETURN request;
  END IF;
  -- json, not jsonb: a put's vectors stay text (jsonb would turn every float into numeric and
  -- back). A bulk put that must not pay even for reading the request builds it with
  -- _partition_fields itself (s3vl._sync_put).
  fields := s3vl._partition_fields(caller, request ->> 'index_arn', request ->> 'operation',
                                   bound);
  IF fields IS NULL THEN
    RETURN request;
  END IF;
  RETURN ('{' || coalesce((SELECT pg_catalog.string_agg(pg_catalog.to_json(e.key)::text
                                                         || ':' || e.value::text || ',', '')
                           FROM pg_catalog.json_each(request) e
                           WHERE e.key NOT IN ('index_arn', 'partitions', 'partition_key')), '')
          || '"partitions":' || (fields -> 'partitions')::text
          || ',"partition_key":' || (fields -> 'partition_key')::text || '}')::json;
END
$$;


-- ==== 20_transport/35_index_shape.sql
-- What s3vl knows of an index beyond its ARN: the GetIndex request and the shape (dimension,
-- metric, non-filterable keys) the registry holds or GetIndex answers. Used by the registry
-- functions, writes and the policy checks of writes, so it sits below all of them.

-- The GetIndex request (docs/protocol.md).
CREATE OR REPLACE FUNCTION s3vl._get_index_request(index_arn text)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.json_build_object('operation', 'get_index', 'index_arn', index_arn) $$;

-- Dimension, metric and non-filterable metadata keys of an index, asking GetIndex only for
-- what the registry does not know (non-filterable keys are needed only for metadata > 2 KB).
CREATE OR REPLACE FUNCTION s3vl._index_shape(caller text, index_arn text, known_dimension integer,
  known_metric text, need_non_filterable boolean,
  OUT dimension integer, OUT distance_metric text, OUT non_filterable_keys text[])
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  info jsonb;
BEGIN
  dimension := known_dimension;
  distance_metric := known_metric;
  IF known_dimension IS NOT NULL AND known_metric IS NOT NULL AND NOT need_non_filterable THEN
    RETURN;
  END IF;
  info := s3vl._invoke(caller, s3vl._get_index_request(index_arn));
  dimension := coalesce(known_dimension, (info ->> 'dimension')::integer);
  distance_metric := coalesce(known_metric, info ->> 'distance_metric');
  non_filterable_keys := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(
    coalesce(info -> 'non_filterable_metadata_keys', '[]'::jsonb)));
END
$$;

-- ==== 20_transport/40_config.sql
-- Configuration: which Lambda function s3vl calls, in which region, with which timeout.

-- Splits a Lambda function ARN (any partition, optional qualifier); NULLs when it is not one.
CREATE OR REPLACE FUNCTION s3vl._parse_lambda_arn(arn text,
  OUT partition text, OUT region text, OUT account_id text, OUT function_name text,
  OUT qualifier text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT m[1], m[2], m[3], m[4], m[5]
  FROM (SELECT pg_catalog.regexp_match(arn,
    '^arn:(aws|aws-cn|aws-us-gov):lambda:([a-z0-9-]+):([0-9]{12}):function:'
    '([A-Za-z0-9_-]{1,64})(?::([A-Za-z0-9$_-]{1,128}))?$') AS m) s
$$;

-- The region configure stores: aws_region, or the region of lambda_arn (which must then agree);
-- 22023 for a lambda_arn that is neither a function ARN nor a name, or a malformed region.
CREATE OR REPLACE FUNCTION s3vl._configure_region(caller text, lambda_arn text, aws_region text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  parsed record;
  region text := nullif(btrim(aws_region), '');
BEGIN
  IF lambda_arn IS NULL OR btrim(lambda_arn) = '' THEN
    RAISE EXCEPTION '%: lambda_arn must not be NULL or empty', caller
      USING ERRCODE = '22023',
            HINT = 'Pass the function ARN: arn:aws:lambda:<region>:<account>:function:<name>.';
  END IF;
  parsed := s3vl._parse_lambda_arn(lambda_arn);
  IF parsed.function_name IS NULL THEN
    IF lambda_arn !~ '^[A-Za-z0-9_-]{1,64}$' THEN
      RAISE EXCEPTION '%: lambda_arn is neither a Lambda function ARN nor a function name: %',
        caller, left(lambda_arn, 200)
        USING ERRCODE = '22023',
              HINT = 'Expected arn:{aws|aws-cn|aws-us-gov}:lambda:<region>:<12-digit account>:'
                     'function:<name>[:<alias>], or a name of 1-64 letters, digits, - and _.';
    END IF;
    IF region IS NULL THEN
      RAISE EXCEPTION '%: aws_region is required when lambda_arn is a function name', caller
        USING ERRCODE = '22023', HINT = 'Pass the full function ARN, or aws_region => ''us-east-1''.';
    END IF;
  ELSIF region IS NULL THEN
    region := parsed.region;
  ELSIF region <> parsed.region THEN
    RAISE EXCEPTION '%: aws_region "%" conflicts with the region "%" in lambda_arn', caller,
      region, parsed.region
      USING ERRCODE = '22023', HINT = 'Omit aws_region: it defaults to the region in the ARN.';
  END IF;
  IF region !~ '^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$' THEN
    RAISE EXCEPTION '%: aws_region is not an AWS region code: %', caller, left(region, 100)
      USING ERRCODE = '22023', HINT = 'For example us-east-1, eu-west-1, cn-north-1.';
  END IF;
  RETURN region;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.configure(
  lambda_arn text,
  aws_region text DEFAULT NULL,
  timeout_seconds integer DEFAULT 30)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.configure';
  region text;
  check_row record;
BEGIN
  region := s3vl._configure_region(caller, lambda_arn, aws_region);
  PERFORM s3vl._check_range(caller, 'timeout_seconds', timeout_seconds);

  -- One configuration row: update it in place (keeps created_at), or create it.
  UPDATE s3vl.config c
     SET lambda_arn = configure.lambda_arn, aws_region = region,
         timeout_seconds = configure.timeout_seconds,
         last_validated_at = NULL, last_validation_status = NULL;
  IF NOT FOUND THEN
    INSERT INTO s3vl.config (lambda_arn, aws_region, timeout_seconds)
    VALUES (configure.lambda_arn, region, configure.timeout_seconds);
  END IF;

  SELECT * INTO check_row FROM s3vl.validate_config();
  IF check_row.is_valid THEN
    RAISE NOTICE '%: saved; the function answered in % ms', caller, check_row.response_time_ms;
  ELSE
    RAISE WARNING '%: saved, but the function check failed: %', caller, check_row.error_message
      USING HINT = 'Fix the function or network, then run SELECT * FROM s3vl.validate_config().';
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.configure(text,text,integer) IS
  's3vl: true once the Lambda function ARN, region and timeout are stored';

-- Calls the function's availability_check (and checks the protocol version it answers with) and
-- reports; never raises for a failed call.
CREATE OR REPLACE FUNCTION s3vl.validate_config()
RETURNS TABLE (is_valid boolean, lambda_arn text, aws_region text, error_message text,
               response_time_ms integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.validate_config';
  cfg record;
  started timestamptz;
  answer jsonb;
BEGIN
  SELECT c.lambda_arn, c.aws_region INTO cfg
    FROM s3vl.config c ORDER BY c.updated_at DESC, c.id DESC LIMIT 1;
  IF NOT FOUND THEN
    RETURN QUERY SELECT false, NULL::text, NULL::text,
      (caller || ': s3vl is not configured; run s3vl.configure(...)')::text, NULL::integer;
    RETURN;
  END IF;
  started := clock_timestamp();
  BEGIN
    answer := s3vl._invoke(caller, '{"operation": "availability_check"}'::json);
    IF answer ->> 'status' IS DISTINCT FROM 'available' THEN
      RAISE EXCEPTION '%: availability_check answered status %', caller,
        coalesce(answer ->> 'status', 'NULL') USING ERRCODE = 'SV007';
    END IF;
    PERFORM s3vl._check_protocol(caller, answer);
    is_valid := true;
    error_message := NULL;
  EXCEPTION WHEN OTHERS THEN
    is_valid := false;
    error_message := SQLERRM || ' [SQLSTATE ' || SQLSTATE || ']';
  END;
  response_time_ms := round(extract(epoch FROM clock_timestamp() - started) * 1000)::integer;
  lambda_arn := cfg.lambda_arn;
  aws_region := cfg.aws_region;
  -- Remember the outcome for get_config, except on a read replica (read-only transaction).
  IF NOT current_setting('transaction_read_only')::boolean THEN
    UPDATE s3vl.config c SET last_validated_at = now(),
      last_validation_status = CASE WHEN is_valid THEN 'HEALTHY'
                                    ELSE 'ERROR: ' || left(error_message, 200) END;
  END IF;
  RETURN NEXT;
END
$$;
COMMENT ON FUNCTION s3vl.validate_config() IS
  's3vl: one row: whether a test invocation of the configured function succeeded, and how long it took';

-- The stored configuration and the result of the last validate_config() (no function call).
CREATE OR REPLACE FUNCTION s3vl.get_config()
RETURNS TABLE (lambda_arn text, aws_region text, timeout_seconds integer,
               created_at timestamptz, updated_at timestamptz, config_age_hours numeric,
               last_validation_status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY
    SELECT c.lambda_arn, c.aws_region, c.timeout_seconds, c.created_at, c.updated_at,
           round((extract(epoch FROM now() - c.updated_at) / 3600)::numeric, 2),
           coalesce(c.last_validation_status, 'NOT VALIDATED')
    FROM s3vl.config c ORDER BY c.updated_at DESC, c.id DESC LIMIT 1;
  IF NOT FOUND THEN
    RAISE NOTICE 's3vl.get_config: s3vl is not configured'
      USING HINT = 'SELECT s3vl.configure(''arn:aws:lambda:<region>:<account>:function:<name>'');';
  END IF;
END
$$;
COMMENT ON FUNCTION s3vl.get_config() IS
  's3vl: the stored configuration, its age and the last validation status';

-- ==== 20_transport/45_policies.sql
-- Tenant boundaries for vectors (row-level-security-style policies) and index grants.
--
-- Enforcement lives in ONE place: s3vl._call_lambda (20_transport/30_invoke.sql), the chokepoint every read,
-- search, write and sync passes through, runs s3vl._policy_request (what may be sent) before and
-- s3vl._policy_answer (what may come back) after every invocation. A caller bound by a policy
-- gets the policy's filter ANDed to every query's metadata_filter, sees only matching vectors
-- from get/list, may write only matching metadata over keys that are absent or already match,
-- and may delete only matching vectors. s3vl.sync is not bound by its caller (it sends what a
-- tracked table holds, checked against the tracker's privileges at every run) through its own
-- path, s3vl._sync_invoke, which only the owner may execute. The result cache keys a bound caller's query by the
-- filter actually sent (policy ANDed in, settings resolved: s3vl._policy_cache_filter), so no
-- answer crosses tenants.
--
-- Who is bound: the session's login role (session_user) and the current role (read as
-- s3vl._invoker() reads it, the trusted source sync's tracked_by uses: definer functions cannot
-- SET ROLE and a session can SET ROLE only to its own roles), each with every role it is a
-- member of, at any depth. A superuser and the s3vl owner are bound by nothing (as with
-- BYPASSRLS); a superuser session that SET ROLE to an ordinary role is that role. Several policies binding one caller on one
-- index all apply (AND). Policies and grants name roles by OID (regrole): renaming a role keeps
-- them, and pg_dump writes the name.

-- The tables (index_policies, index_grants) are in 10_core/10_tables.sql.

-- The roles whose memberships decide what this call may do (see the header); empty for a
-- superuser or the s3vl owner. The current role is read as s3vl._invoker() (40_sync/80_sync.sql) reads
-- it, inlined here: that function's SET clause costs ~60 us a call, on every invocation.
CREATE OR REPLACE FUNCTION s3vl._policy_roles()
RETURNS oid[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  current_name constant name := NULLIF(pg_catalog.current_setting('role'), 'none');
BEGIN
  -- SET ROLE keeps a name: renamed or dropped since, it no longer says who the caller is.
  IF current_name IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = current_name) THEN
    RAISE EXCEPTION 's3vl: the current role % no longer exists under that name; SET ROLE again',
      current_name USING ERRCODE = '42501';
  END IF;
  RETURN ARRAY(
    SELECT r.oid FROM pg_catalog.pg_roles r
    WHERE r.rolname IN (session_user, coalesce(current_name, session_user)) AND NOT r.rolsuper
      AND r.oid <> (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = 's3vl')
    ORDER BY r.rolname = session_user DESC);
END
$$;

-- A policy value is a scalar, or {"$setting": "<name>"} read with current_setting at call time.
CREATE OR REPLACE FUNCTION s3vl._check_policy_value(caller text, path text, value jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF pg_catalog.jsonb_typeof(value) = 'number' THEN
    -- S3 Vectors compares numbers as 64-bit floats, get_vectors' check compares exact JSON
    -- numbers: a value the float cannot hold exactly (beyond 15 significant digits, e.g. above
    -- 2^53) would match other vectors on one path than on the other.
    BEGIN
      IF (value::text::numeric) = (value::text::float8)::numeric THEN
        RETURN;
      END IF;
    EXCEPTION WHEN numeric_value_out_of_range THEN
      NULL;
    END;
    RAISE EXCEPTION '%: filter % is the number %, which a 64-bit float does not hold exactly; '
                    'S3 Vectors would compare it differently from s3vl', caller, path,
      pg_catalog.left(value::text, 100)
      USING ERRCODE = '22023',
            HINT = 'Use at most 15 significant digits, or a string value.';
  END IF;
  IF pg_catalog.jsonb_typeof(value) IN ('string', 'boolean') THEN
    RETURN;
  END IF;
  IF pg_catalog.jsonb_typeof(value) = 'object' AND (SELECT pg_catalog.array_agg(k)
       FROM pg_catalog.jsonb_object_keys(value) k) = ARRAY['$setting']
     AND pg_catalog.jsonb_typeof(value -> '$setting') = 'string'
     AND value ->> '$setting' ~ '^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z0-9_.$]+$' THEN
    RETURN;
  END IF;
  RAISE EXCEPTION '%: metadata_filter % must be a string, number or boolean, or {"$setting": '
                  '"<prefix>.<name>"} (got %)', caller, path, pg_catalog.left(value::text, 100)
    USING ERRCODE = '22023';
END
$$;

-- A policy filter: {"key": value | {"$eq": value} | {"$in": [value, ...]}, ...}, 1-50 keys.
CREATE OR REPLACE FUNCTION s3vl._check_policy_filter(caller text, filter jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  k text;
  spec jsonb;
  op text;
BEGIN
  IF filter IS NULL OR pg_catalog.jsonb_typeof(filter) <> 'object' OR filter = '{}' THEN
    RAISE EXCEPTION '%: metadata_filter must be a non-empty JSON object of metadata keys', caller
      USING ERRCODE = '22023', HINT = 'For example ''{"tenant": {"$setting": "app.tenant_id"}}''.';
  END IF;
  IF (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(filter))
     > s3vl._limit('metadata_keys') THEN
    RAISE EXCEPTION '%: metadata_filter has more than % keys', caller, s3vl._limit('metadata_keys')
      USING ERRCODE = '22023';
  END IF;
  FOR k, spec IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(filter) e LOOP
    IF k LIKE '$%' OR pg_catalog.length(k) NOT BETWEEN 1 AND 63 THEN
      RAISE EXCEPTION '%: metadata_filter key % must be a metadata key of 1 to 63 characters (only '
                      'equality and $in on keys are allowed, no $and/$or/$not)', caller,
        pg_catalog.to_jsonb(k) USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.jsonb_typeof(spec) = 'object' AND NOT spec ? '$setting' THEN
      IF (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(spec)) <> 1 THEN
        RAISE EXCEPTION '%: metadata_filter.% must have exactly one operator ($eq or $in)', caller, k
          USING ERRCODE = '22023';
      END IF;
      op := (SELECT o FROM pg_catalog.jsonb_object_keys(spec) o);
      IF op = '$eq' THEN
        PERFORM s3vl._check_policy_value(caller, k || '.$eq', spec -> '$eq');
      ELSIF op = '$in' THEN
        IF pg_catalog.jsonb_typeof(spec -> '$in') <> 'array'
           OR pg_catalog.jsonb_array_length(spec -> '$in') = 0 THEN
          RAISE EXCEPTION '%: metadata_filter.%.$in must be a non-empty array', caller, k
            USING ERRCODE = '22023';
        END IF;
        FOR i IN 0 .. pg_catalog.jsonb_array_length(spec -> '$in') - 1 LOOP
          PERFORM s3vl._check_policy_value(caller, pg_catalog.format('%s.$in[%s]', k, i),
                                           spec -> '$in' -> i);
        END LOOP;
      ELSE
        RAISE EXCEPTION '%: metadata_filter.% uses operator %; a policy allows only $eq and $in', caller,
          k, op USING ERRCODE = '22023';
      END IF;
    ELSE
      PERFORM s3vl._check_policy_value(caller, k, spec);
    END IF;
  END LOOP;
END
$$;

-- A policy value with its setting read now; a missing or empty setting refuses the call.
CREATE OR REPLACE FUNCTION s3vl._policy_value(caller text, index_name text, role_name text,
                                              value jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  setting text;
BEGIN
  IF pg_catalog.jsonb_typeof(value) <> 'object' THEN
    RETURN value;
  END IF;
  setting := pg_catalog.current_setting(value ->> '$setting', true);
  IF setting IS NULL OR pg_catalog.btrim(setting) = '' THEN
    RAISE EXCEPTION '%: the policy of role % on index % needs the setting % and it is not set',
      caller, role_name, index_name, value ->> '$setting'
      USING ERRCODE = '42501',
            HINT = pg_catalog.format('SET %s = ''<value>'' in the session first.',
                                     value ->> '$setting');
  END IF;
  RETURN pg_catalog.to_jsonb(setting);
END
$$;

-- The filter every policy binding this caller on index_arn imposes, settings resolved, in the
-- S3 Vectors filter language ({"$and": [...]}); NULL when no policy binds the caller. Also
-- refuses (42501) a caller without a grant on an index that has grants.
CREATE OR REPLACE FUNCTION s3vl._policy_filter(caller text, index_arn text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN s3vl._policy_filter_for(caller, index_arn, s3vl._policy_roles());
END
$$;

-- The same for the roles _policy_roles() gave (computed once per request by the caller).
CREATE OR REPLACE FUNCTION s3vl._policy_filter_for(caller text, index_arn text, roles oid[])
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  parts jsonb := '[]'::jsonb;
  p record;
  k text;
  spec jsonb;
BEGIN
  IF index_arn IS NULL THEN
    RETURN NULL;
  END IF;
  IF pg_catalog.cardinality(roles) = 0 THEN
    RETURN NULL;  -- a superuser or the s3vl owner
  END IF;
  IF EXISTS (SELECT 1 FROM s3vl.index_grants g WHERE g.index_arn = _policy_filter_for.index_arn)
     AND NOT EXISTS (
       SELECT 1 FROM pg_catalog.unnest(roles) r
       WHERE pg_catalog.pg_has_role(r, 's3vl_admin', 'MEMBER')
          OR EXISTS (SELECT 1 FROM s3vl.index_grants g
                     WHERE g.index_arn = _policy_filter_for.index_arn
                       AND pg_catalog.pg_has_role(r, g.role_name::oid, 'MEMBER'))) THEN
    RAISE EXCEPTION '%: role % has no grant on index %', caller,
      roles[pg_catalog.cardinality(roles)]::regrole, pg_catalog.left(index_arn, 200)
      USING ERRCODE = '42501', HINT = 'An s3vl_admin runs s3vl.grant_index(<index>, <role>).';
  END IF;
  FOR p IN SELECT ip.index_name, ip.role_name::text AS role_name, ip.filter
           FROM s3vl.index_policies ip
           WHERE ip.index_arn = _policy_filter_for.index_arn
             AND EXISTS (SELECT 1 FROM pg_catalog.unnest(roles) r
                         WHERE pg_catalog.pg_has_role(r, ip.role_name::oid, 'MEMBER'))
           ORDER BY ip.index_name, ip.role_name LOOP
    FOR k, spec IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p.filter) e LOOP
      IF pg_catalog.jsonb_typeof(spec) = 'object' AND spec ? '$in' THEN
        parts := parts || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(k,
          pg_catalog.jsonb_build_object('$in', (
            SELECT pg_catalog.jsonb_agg(s3vl._policy_value(caller, p.index_name, p.role_name, v))
            FROM pg_catalog.jsonb_array_elements(spec -> '$in') v))));
      ELSE
        parts := parts || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(k,
          pg_catalog.jsonb_build_object('$eq', s3vl._policy_value(caller, p.index_name,
            p.role_name, CASE WHEN pg_catalog.jsonb_typeof(spec) = 'object' AND spec ? '$eq'
                              THEN spec -> '$eq' ELSE spec END))));
      END IF;
    END LOOP;
  END LOOP;
  IF parts = '[]' THEN
    RETURN NULL;
  END IF;
  RETURN pg_catalog.jsonb_build_object('$and', parts);
END
$$;

-- A caller's metadata_filter with a resolved policy ANDed in: what a bound caller's query sends.
CREATE OR REPLACE FUNCTION s3vl._policy_and(policy jsonb, metadata_filter jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN policy IS NULL THEN metadata_filter
              WHEN metadata_filter IS NULL OR metadata_filter = 'null' THEN policy
              ELSE pg_catalog.jsonb_build_object('$and',
                     pg_catalog.jsonb_build_array(policy, metadata_filter)) END
$$;

-- The filter a cached query is keyed by (20_transport/52_cache.sql): the one _policy_request will send, so a
-- cached answer is only ever the answer to the very request this caller would send.
CREATE OR REPLACE FUNCTION s3vl._policy_cache_filter(caller text, index_arn text,
  metadata_filter jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM s3vl.index_policies)
     AND NOT EXISTS (SELECT 1 FROM s3vl.index_grants) THEN
    RETURN metadata_filter;
  END IF;
  RETURN s3vl._policy_and(s3vl._policy_filter(caller, index_arn),
                          metadata_filter);
END
$$;

-- Whether stored metadata satisfies a resolved policy filter ({"$and": [{"k": {"$eq"|"$in": ..}}]}).
-- An array value matches when one of its elements does, as S3 Vectors' $eq does.
CREATE OR REPLACE FUNCTION s3vl._policy_matches(metadata jsonb, policy jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  part jsonb;
  k text;
  cond jsonb;
  have jsonb;
  want jsonb;
  ok boolean;
BEGIN
  FOR part IN SELECT pg_catalog.jsonb_array_elements(policy -> '$and') LOOP
    FOR k, cond IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(part) e LOOP
      have := metadata -> k;
      IF have IS NULL THEN
        RETURN false;
      END IF;
      ok := false;
      FOR want IN SELECT pg_catalog.jsonb_array_elements(CASE WHEN cond ? '$in'
                    THEN cond -> '$in' ELSE pg_catalog.jsonb_build_array(cond -> '$eq') END) LOOP
        IF have = want OR (pg_catalog.jsonb_typeof(have) = 'array'
                           AND have @> pg_catalog.jsonb_build_array(want)) THEN
          ok := true;
          EXIT;
        END IF;
      END LOOP;
      IF NOT ok THEN
        RETURN false;
      END IF;
    END LOOP;
  END LOOP;
  RETURN true;
END
$$;

-- Whether a bound caller may write this metadata: every policy key holds a single value the
-- policy names. Stricter than _policy_matches: an array value ({"tenant": ["a", "b"]}) would match
-- several tenants' filters and put a vector into another tenant's view.
CREATE OR REPLACE FUNCTION s3vl._policy_admits(metadata jsonb, policy jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  part jsonb;
  k text;
  cond jsonb;
  have jsonb;
BEGIN
  FOR part IN SELECT pg_catalog.jsonb_array_elements(policy -> '$and') LOOP
    FOR k, cond IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(part) e LOOP
      have := metadata -> k;
      -- A scalar is contained in an array holding it (1 and 1.0 are equal numbers).
      IF have IS NULL OR pg_catalog.jsonb_typeof(have) IN ('array', 'object')
         OR NOT have <@ (CASE WHEN cond ? '$in' THEN cond -> '$in'
                              ELSE pg_catalog.jsonb_build_array(cond -> '$eq') END) THEN
        RETURN false;
      END IF;
    END LOOP;
  END LOOP;
  RETURN true;
END
$$;

-- The first of keys stored in the index whose metadata the policy does not match, or NULL. Reads
-- straight from the function (s3vl._send_lambda): the answer must not be filtered by the policy.
-- 100 keys per invocation: with at most 40 KB of metadata each, an answer stays under Lambda's
-- 6 MB response limit.
CREATE OR REPLACE FUNCTION s3vl._policy_stored_outside(caller text, index_arn text, keys jsonb,
                                                       policy jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  chunk jsonb;
  stored jsonb;
  bad text;
BEGIN
  IF pg_catalog.jsonb_typeof(keys) IS DISTINCT FROM 'array' THEN
    RETURN NULL;
  END IF;
  FOR chunk IN SELECT pg_catalog.jsonb_agg(k.value ORDER BY k.n)
               FROM pg_catalog.jsonb_array_elements(keys) WITH ORDINALITY AS k(value, n)
               GROUP BY (k.n - 1) / 100 ORDER BY (k.n - 1) / 100 LOOP
    stored := s3vl._expect_array(caller, s3vl._unwrap(caller, (SELECT c.payload
      FROM s3vl._send_lambda(caller, pg_catalog.json_build_object('operation', 'get_vectors',
        'index_arn', index_arn, 'vector_ids', chunk, 'include_vector_data', false,
        'include_metadata', true), 'RequestResponse') AS c)), 'vectors');
    SELECT v ->> 'vector_id' INTO bad FROM pg_catalog.jsonb_array_elements(stored) v
      WHERE coalesce((v ->> 'found')::boolean, true)
        AND NOT s3vl._policy_matches(coalesce(v -> 'metadata', '{}'), policy)
      LIMIT 1;
    IF bad IS NOT NULL THEN
      RETURN bad;
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

-- A write of a caller bound by `policy`: every vector it puts must carry metadata inside the
-- policy and replace only a stored vector inside it; a metadata patch may not touch a key the
-- policy binds; a patch or a delete reaches only vectors inside it (42501, nothing written).
CREATE OR REPLACE FUNCTION s3vl._policy_check_write(caller text, req jsonb, policy jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  bad text;
BEGIN
  IF req ->> 'operation' = 'put_vectors' THEN
    SELECT v ->> 'key' INTO bad FROM pg_catalog.jsonb_array_elements(req -> 'vectors') v
      WHERE NOT s3vl._policy_admits(coalesce(v -> 'metadata', '{}'), policy) LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: vector % has metadata outside this role''s policy; nothing was written',
        caller, pg_catalog.to_jsonb(bad) USING ERRCODE = '42501',
        DETAIL = 'policy: ' || policy::text;
    END IF;
    -- A put replaces a stored vector of the same key: that one must be inside the policy too.
    bad := s3vl._policy_stored_outside(caller, req ->> 'index_arn',
      (SELECT pg_catalog.jsonb_agg(v -> 'key') FROM pg_catalog.jsonb_array_elements(
         req -> 'vectors') v), policy);
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION '%: vector % exists outside this role''s policy; nothing was written',
        caller, pg_catalog.to_jsonb(bad) USING ERRCODE = '42501';
    END IF;
  ELSIF req ->> 'operation' = 'update_metadata' THEN
    -- The patch may not touch a key the policy binds, and every vector must be inside it.
    SELECT k INTO bad FROM pg_catalog.jsonb_object_keys(req -> 'patch') k
      WHERE k IN (SELECT pg_catalog.jsonb_object_keys(part)
                  FROM pg_catalog.jsonb_array_elements(policy -> '$and') part)
      LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: the patch changes key %, which this role''s policy binds; nothing was '
                      'written', caller, pg_catalog.to_jsonb(bad) USING ERRCODE = '42501';
    END IF;
    bad := s3vl._policy_stored_outside(caller, req ->> 'index_arn', req -> 'vector_ids', policy);
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION '%: vector % is outside this role''s policy; nothing was written', caller,
        pg_catalog.to_jsonb(bad) USING ERRCODE = '42501';
    END IF;
  ELSE
    bad := s3vl._policy_stored_outside(caller, req ->> 'index_arn', req -> 'keys', policy);
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION '%: vector % is outside this role''s policy; nothing was deleted', caller,
        pg_catalog.to_jsonb(bad) USING ERRCODE = '42501';
    END IF;
  END IF;
END
$$;

-- What may be sent: the request, with the caller's policy applied (see the header). Operations
-- it does not know are refused for a bound caller (fail closed).
CREATE OR REPLACE FUNCTION s3vl._policy_request(caller text, request json)
RETURNS json
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  req jsonb;
  policy jsonb;
  op text;
  roles oid[];
BEGIN
  -- No policy and no grant anywhere (the default): nothing to parse.
  IF NOT EXISTS (SELECT 1 FROM s3vl.index_policies)
     AND NOT EXISTS (SELECT 1 FROM s3vl.index_grants) THEN
    RETURN request;
  END IF;
  -- A superuser or the owner: no rules, and no parse of a large write. caller only names the
  -- function in messages: no text an argument carries decides whether a policy applies (sync
  -- sends through s3vl._sync_invoke, which no reader or writer may execute).
  roles := s3vl._policy_roles();
  IF pg_catalog.cardinality(roles) = 0 THEN
    RETURN request;
  END IF;
  req := request::jsonb;
  op := req ->> 'operation';
  -- Policies and grants name indexes by ARN; s3vl never sends the bucket+name form.
  IF req ->> 'index_arn' IS NULL AND req ? 'vector_bucket_name' THEN
    RAISE EXCEPTION '%: with vector policies or index grants defined, requests must name the '
                    'index by index_arn', caller USING ERRCODE = '42501';
  END IF;
  -- Rules are stored by the registered ARN: another spelling of that index is refused first.
  PERFORM s3vl._canonical_index_arn(caller, req ->> 'index_arn');
  policy := s3vl._policy_filter_for(caller, req ->> 'index_arn', roles);
  IF policy IS NULL THEN
    RETURN request;
  END IF;
  -- filter_vectors (30_api/70_manage.sql) counts, lists and deletes only what its filter matches;
  -- rank_vectors (30_api/58_where.sql) ranks only what it matches.
  IF op IN ('query_vectors', 'query_vectors_batch', 'filter_vectors', 'rank_vectors') THEN
    RETURN (req || pg_catalog.jsonb_build_object('metadata_filter',
                     s3vl._policy_and(policy, req -> 'metadata_filter')))::json;
  ELSIF op = 'get_vectors' THEN
    RETURN (req || '{"include_metadata": true}')::json;
  ELSIF op = 'list_vectors' THEN
    RETURN (req || '{"return_metadata": true}')::json;
  ELSIF op IN ('put_vectors', 'delete_vectors', 'update_metadata') THEN
    PERFORM s3vl._policy_check_write(caller, req, policy);
    RETURN request;
  ELSIF op IN ('get_index', 'embed') THEN
    RETURN request;  -- the index's shape, or text made into vectors: no stored vectors
  END IF;
  RAISE EXCEPTION '%: operation % is not allowed for a role bound by a vector policy', caller,
    pg_catalog.to_jsonb(op) USING ERRCODE = '42501';
END
$$;

-- The result of a get/list answer as a caller bound by `policy` may see it: get_vectors rows
-- outside the policy become not found, list pages keep only the vectors inside it; metadata only
-- where the request asked for it (the policy needed it to decide).
CREATE OR REPLACE FUNCTION s3vl._policy_visible(op text, request json, answer jsonb,
  policy jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  want_metadata boolean;
  kept jsonb;
BEGIN
  IF op = 'get_vectors' THEN
    IF pg_catalog.jsonb_typeof(answer) IS DISTINCT FROM 'array' THEN
      RETURN answer;  -- _expect_array reports it
    END IF;
    want_metadata := coalesce((request ->> 'include_metadata')::boolean, true);
    RETURN (
      SELECT coalesce(pg_catalog.jsonb_agg(CASE
        WHEN NOT coalesce((v ->> 'found')::boolean, true) THEN v
        WHEN NOT s3vl._policy_matches(coalesce(v -> 'metadata', '{}'), policy)
          THEN pg_catalog.jsonb_build_object('vector_id', v -> 'vector_id', 'embedding', NULL,
                                             'metadata', '{}'::jsonb, 'found', false)
        WHEN want_metadata THEN v
        ELSE v || '{"metadata": {}}' END ORDER BY n), '[]')
      FROM pg_catalog.jsonb_array_elements(answer) WITH ORDINALITY AS a(v, n));
  END IF;
  IF pg_catalog.jsonb_typeof(answer -> 'vectors') IS DISTINCT FROM 'array' THEN
    RETURN answer;
  END IF;
  want_metadata := coalesce((request ->> 'return_metadata')::boolean, true);
  SELECT coalesce(pg_catalog.jsonb_agg(CASE WHEN want_metadata THEN v
                                            ELSE v - 'metadata' END ORDER BY n), '[]')
    INTO kept
    FROM pg_catalog.jsonb_array_elements(answer -> 'vectors') WITH ORDINALITY AS a(v, n)
    WHERE s3vl._policy_matches(coalesce(v -> 'metadata', '{}'), policy);
  RETURN answer || pg_catalog.jsonb_build_object('vectors', kept,
                                                 'total_count', pg_catalog.jsonb_array_length(kept));
END
$$;

-- What may come back: the envelope of a get/list answer without the vectors the caller's policy
-- hides (a hidden key reads as not found; a list page counts only what it returns) and without
-- metadata the caller did not ask for. request is the caller's, before _policy_request.
CREATE OR REPLACE FUNCTION s3vl._policy_answer(caller text, request json, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  op text;
  policy jsonb;
  answer jsonb;
  roles oid[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM s3vl.index_policies) OR payload IS NULL
     OR payload -> 'success' IS DISTINCT FROM 'true'::jsonb THEN
    RETURN payload;
  END IF;
  -- Only arrays (get answers; query answers, filtered by the service) and objects with vectors
  -- (list pages; paged queries) can carry vectors: writes' counts are passed without parsing
  -- their (large) requests.
  answer := payload -> 'result';
  IF pg_catalog.jsonb_typeof(answer) IS DISTINCT FROM 'array' AND NOT (
       pg_catalog.jsonb_typeof(answer) = 'object' AND answer ? 'vectors') THEN
    RETURN payload;
  END IF;
  op := request ->> 'operation';
  IF op IS NULL OR op NOT IN ('get_vectors', 'list_vectors') THEN
    RETURN payload;
  END IF;
  roles := s3vl._policy_roles();
  IF pg_catalog.cardinality(roles) = 0 THEN
    RETURN payload;
  END IF;
  policy := s3vl._policy_filter_for(caller, request ->> 'index_arn', roles);
  IF policy IS NULL THEN
    RETURN payload;
  END IF;
  RETURN pg_catalog.jsonb_set(payload, '{result}',
                               s3vl._policy_visible(op, request, answer, policy));
END
$$;

-- The ARN of a registered index and the OID of an existing role, for the five admin functions.
CREATE OR REPLACE FUNCTION s3vl._policy_target(caller text, index_name text, role_name name,
  OUT index_arn text, OUT role_oid regrole)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  PERFORM s3vl._require(caller, 'role_name', role_name);
  SELECT r.oid INTO role_oid FROM pg_catalog.pg_roles r WHERE r.rolname = role_name;
  IF role_oid IS NULL THEN
    RAISE EXCEPTION '%: role_name % is not a role', caller, pg_catalog.quote_ident(role_name)
      USING ERRCODE = '42704';
  END IF;
  index_arn := (SELECT t.index_arn FROM s3vl._resolve_index(caller, index_name, NULL) t);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.create_policy(index_name text, role_name name,
                                              metadata_filter jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.create_policy';
  target record;
  bad_key text;
BEGIN
  SELECT * INTO target FROM s3vl._policy_target(caller, index_name, role_name);
  PERFORM s3vl._check_policy_filter(caller, metadata_filter);
  -- S3 Vectors filters only on filterable keys: a policy on another key would hide everything.
  SELECT k INTO bad_key FROM pg_catalog.jsonb_object_keys(metadata_filter) k
    WHERE k = ANY ((SELECT x.non_filterable_keys FROM s3vl._index_shape(caller,
                     target.index_arn, NULL, NULL, true) x)::text[])
    LIMIT 1;
  IF bad_key IS NOT NULL THEN
    RAISE EXCEPTION '%: metadata_filter key % is declared non-filterable on index %', caller,
      pg_catalog.to_jsonb(bad_key), pg_catalog.to_jsonb(index_name)
      USING ERRCODE = '22023', HINT = 'A policy can only use filterable metadata keys.';
  END IF;
  INSERT INTO s3vl.index_policies AS p (index_name, index_arn, role_name, filter)
  VALUES (create_policy.index_name, target.index_arn, target.role_oid,
          create_policy.metadata_filter)
  ON CONFLICT ON CONSTRAINT index_policies_pkey DO UPDATE SET filter = EXCLUDED.filter,
    index_arn = EXCLUDED.index_arn, created_at = pg_catalog.now();
END
$$;
COMMENT ON FUNCTION s3vl.create_policy(text,name,jsonb) IS
  's3vl: nothing; binds role_name to metadata_filter on index_name for every later call';

-- The role a drop_policy/revoke_index names: an existing role, or the OID that list_policies
-- shows for a dropped one (so its rows can still be removed).
CREATE OR REPLACE FUNCTION s3vl._policy_role_oid(role_name name)
RETURNS oid
LANGUAGE sql STABLE
AS $$
  SELECT coalesce((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $1),
                  CASE WHEN $1 ~ '^[0-9]{1,10}$' AND $1::text::bigint <= 4294967295
                       THEN $1::text::oid END)
$$;

CREATE OR REPLACE FUNCTION s3vl.drop_policy(index_name text, role_name name)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.drop_policy', 'index_name', index_name);
  PERFORM s3vl._require('s3vl.drop_policy', 'role_name', role_name);
  DELETE FROM s3vl.index_policies p
    WHERE p.index_name = drop_policy.index_name
      AND p.role_name = s3vl._policy_role_oid(drop_policy.role_name);
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.drop_policy: no policy for role % on index %',
      pg_catalog.quote_ident(role_name), pg_catalog.to_jsonb(index_name)
      USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_policies() lists them.';
  END IF;
END
$$;
COMMENT ON FUNCTION s3vl.drop_policy(text,name) IS
  's3vl: nothing; removes role_name''s policy on index_name';

-- Role names as pg_roles spells them (a dropped role's rows show its OID until dropped here).
CREATE OR REPLACE FUNCTION s3vl.list_policies()
RETURNS TABLE (index_name text, role_name name, metadata_filter jsonb)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT p.index_name, coalesce(r.rolname, p.role_name::oid::text::name), p.filter
  FROM s3vl.index_policies p LEFT JOIN pg_catalog.pg_roles r ON r.oid = p.role_name
  ORDER BY 1, 2
$$;
COMMENT ON FUNCTION s3vl.list_policies() IS
  's3vl: one row per vector policy: index_name, role_name, metadata_filter';

CREATE OR REPLACE FUNCTION s3vl.grant_index(index_name text, role_name name)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  target record;
BEGIN
  SELECT * INTO target FROM s3vl._policy_target('s3vl.grant_index', index_name, role_name);
  INSERT INTO s3vl.index_grants (index_name, index_arn, role_name)
  VALUES (grant_index.index_name, target.index_arn, target.role_oid)
  ON CONFLICT ON CONSTRAINT index_grants_pkey DO UPDATE SET index_arn = EXCLUDED.index_arn;
END
$$;
COMMENT ON FUNCTION s3vl.grant_index(text,name) IS
  's3vl: nothing; lets role_name use index_name once the index has grants';

CREATE OR REPLACE FUNCTION s3vl.revoke_index(index_name text, role_name name)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.revoke_index', 'index_name', index_name);
  PERFORM s3vl._require('s3vl.revoke_index', 'role_name', role_name);
  DELETE FROM s3vl.index_grants g
    WHERE g.index_name = revoke_index.index_name
      AND g.role_name = s3vl._policy_role_oid(revoke_index.role_name);
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.revoke_index: role % has no grant on index %',
      pg_catalog.quote_ident(role_name), pg_catalog.to_jsonb(index_name)
      USING ERRCODE = '42704';
  END IF;
END
$$;
COMMENT ON FUNCTION s3vl.revoke_index(text,name) IS
  's3vl: nothing; removes role_name''s grant on index_name';

-- ==== 20_transport/52_cache.sql
-- Result cache for query_vectors and query_vectors_batch: opt-in per index with a time to live.
-- A hit answers without invoking the function. The key is a hash of every input that changes the
-- answer, and a hit also compares the full stored key, so two queries never share an answer.
-- Nothing here is granted: readers reach it through the SECURITY DEFINER query functions. In a
-- read-only transaction (a replica) the cache is bypassed.

-- The tables (settings, limits, the UNLOGGED entries, hit/miss sequences) are in
-- 10_core/10_tables.sql.

-- The hash of the canonical serialisation of the full key: jsonb text has sorted keys, and the
-- vector goes in binary (array_send), exact whatever extra_float_digits a session uses.
CREATE OR REPLACE FUNCTION s3vl._cache_key(index_arn text, query_vector float8[], top_k integer,
  metadata_filter jsonb, return_metadata boolean)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.concat_ws(E'\x1f', index_arn,
           top_k::text, coalesce(metadata_filter::text, 'null'), return_metadata::text, ''),
           'UTF8') || pg_catalog.array_send(query_vector))
$$;

-- The TTL when caching applies to this index in this transaction, else NULL.
CREATE OR REPLACE FUNCTION s3vl._cache_ttl(index_arn text)
RETURNS interval
LANGUAGE sql STABLE
AS $$
  SELECT s.ttl FROM s3vl.cache_settings s
  WHERE s.index_arn = $1 AND pg_catalog.current_setting('transaction_read_only') = 'off'
$$;

-- True when this session runs with an aws_lambda.* parameter it set itself (SET, set_config,
-- connection options, role settings) rather than the database's or the server's: an answer
-- obtained then may come from an endpoint the session chose, so it is never stored for everyone.
-- aws_lambda.request_timeout_ms is the exception: s3vl._call_lambda sets it for every call, so a
-- session's own value never applies to an s3vl call. Where the parameters are real settings
-- (Aurora, once the extension is loaded) pg_settings says where each value came from; a
-- placeholder (the local stand-in) is compared with the database-level value.
CREATE OR REPLACE FUNCTION s3vl._aws_lambda_session_override()
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  -- With the extension (Aurora) the parameters are real settings once its library is loaded (an
  -- invoke loads it, and _cache_put runs after one): pg_settings says where each value came from.
  -- It lists every setting on each read (~0.7 ms), so it is read only then.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname = 'aws_lambda') THEN
    RETURN EXISTS (
      SELECT 1 FROM pg_catalog.pg_settings s
      WHERE s.name LIKE 'aws\_lambda.%' AND s.name <> 'aws_lambda.request_timeout_ms'
        AND s.source NOT IN ('default', 'override', 'environment variable',
                             'configuration file', 'command line', 'global', 'database'));
  END IF;
  -- Placeholders (the local stand-in): the value must be the database-level one.
  RETURN EXISTS (
    SELECT 1
    FROM (VALUES ('aws_lambda.endpoint_override'), ('aws_lambda.connect_timeout_ms')) AS g(name)
    WHERE coalesce(pg_catalog.current_setting(g.name, true), '') IS DISTINCT FROM coalesce(
        (SELECT pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1)
           FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) AS c
          WHERE d.setrole = 0
            AND d.setdatabase = (SELECT b.oid FROM pg_catalog.pg_database b
                                  WHERE b.datname = pg_catalog.current_database())
            AND pg_catalog.split_part(c, '=', 1) = g.name), ''));
END
$$;

-- A cached answer (the function's result array), or NULL on a miss. Counts hits and misses of
-- cached indexes only.
CREATE OR REPLACE FUNCTION s3vl._cache_get(caller text, index_arn text, query_vector float8[],
  top_k integer, metadata_filter jsonb, return_metadata boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
  ttl interval := s3vl._cache_ttl(index_arn);
  found_result jsonb;
BEGIN
  IF ttl IS NULL THEN
    RETURN NULL;
  END IF;
  -- Keyed by the filter actually sent: a policy-bound caller's with its policy ANDed in and its
  -- settings resolved (20_transport/45_policies.sql), so no answer crosses tenants.
  metadata_filter := s3vl._policy_cache_filter(caller, index_arn, metadata_filter);
  SELECT c.result INTO found_result FROM s3vl.query_cache c
  WHERE c.key_hash = s3vl._cache_key(index_arn, query_vector, top_k, metadata_filter,
                                     return_metadata)
    AND c.index_arn = _cache_get.index_arn AND c.query_vector = _cache_get.query_vector
    AND c.top_k = _cache_get.top_k
    AND c.metadata_filter IS NOT DISTINCT FROM _cache_get.metadata_filter
    AND c.return_metadata = _cache_get.return_metadata
    AND c.created_at > pg_catalog.clock_timestamp() - ttl;
  IF found_result IS NULL THEN
    PERFORM pg_catalog.nextval('s3vl.cache_misses_seq');
  ELSE
    PERFORM pg_catalog.nextval('s3vl.cache_hits_seq');
  END IF;
  RETURN found_result;
END
$$;

-- Stores an answer when the index is cached, then evicts expired entries and the oldest ones
-- beyond the size bounds (a miss already paid a Lambda round trip, so this scan is cheap).
-- Eviction takes no lock another session could hold to switch it off (the old public advisory
-- key could be taken by any role): every store evicts, and each session deletes only the victims
-- it can lock at once (SKIP LOCKED), so concurrent evictions never wait on each other nor
-- deadlock, and the bounds hold while another session evicts or keeps its transaction open.
CREATE OR REPLACE FUNCTION s3vl._cache_put(caller text, index_arn text, query_vector float8[],
  top_k integer, metadata_filter jsonb, return_metadata boolean, result jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
  bounds record;
  key bytea;
  saved_lock_timeout text;
BEGIN
  IF s3vl._cache_ttl(index_arn) IS NULL OR result IS NULL
     OR s3vl._aws_lambda_session_override() THEN
    RETURN;
  END IF;
  metadata_filter := s3vl._policy_cache_filter(caller, index_arn, metadata_filter);  -- as _cache_get
  key := s3vl._cache_key(index_arn, query_vector, top_k, metadata_filter, return_metadata);
  -- A store never waits for another session: one that stored the same key and left its
  -- transaction open would otherwise hold every identical query (any tenant's) until its
  -- statement timeout. Stores of one key take a transaction lock on it without waiting (held:
  -- skip, the answer is returned anyway); any other row lock (an open eviction) is given at most
  -- lock_timeout = 1 ms, then the store is skipped.
  IF NOT pg_catalog.pg_try_advisory_xact_lock(
           ('x' || pg_catalog.encode(pg_catalog.substr(key, 1, 8), 'hex'))::bit(64)::bigint) THEN
    RETURN;
  END IF;
  saved_lock_timeout := pg_catalog.current_setting('lock_timeout');
  PERFORM pg_catalog.set_config('lock_timeout', '1ms', true);
  BEGIN
    INSERT INTO s3vl.query_cache AS c VALUES (
      key, index_arn, query_vector, top_k, metadata_filter, return_metadata, result,
      pg_catalog.octet_length(result::text), pg_catalog.clock_timestamp())
    ON CONFLICT (key_hash) DO UPDATE SET index_arn = EXCLUDED.index_arn,
      query_vector = EXCLUDED.query_vector, top_k = EXCLUDED.top_k,
      metadata_filter = EXCLUDED.metadata_filter, return_metadata = EXCLUDED.return_metadata,
      result = EXCLUDED.result, result_bytes = EXCLUDED.result_bytes,
      created_at = EXCLUDED.created_at;
  EXCEPTION WHEN lock_not_available THEN
    PERFORM pg_catalog.set_config('lock_timeout', saved_lock_timeout, true);
    RETURN;
  END;
  PERFORM pg_catalog.set_config('lock_timeout', saved_lock_timeout, true);
  SELECT * INTO bounds FROM s3vl.cache_limits;
  DELETE FROM s3vl.query_cache c
  WHERE c.key_hash IN (
    SELECT v.key_hash FROM s3vl.query_cache v
    WHERE v.key_hash IN (
      SELECT ranked.key_hash FROM (
        SELECT q.key_hash,
               row_number() OVER newest AS position,
               sum(q.result_bytes) OVER newest AS bytes_so_far,
               q.created_at <= pg_catalog.clock_timestamp() - coalesce(s.ttl, interval '0')
                 AS expired
        FROM s3vl.query_cache q LEFT JOIN s3vl.cache_settings s ON s.index_arn = q.index_arn
        WINDOW newest AS (ORDER BY q.created_at DESC, q.key_hash)) AS ranked
      WHERE ranked.expired OR ranked.position > bounds.max_entries
            OR ranked.bytes_so_far > bounds.max_bytes)
    FOR UPDATE OF v SKIP LOCKED);
END
$$;

-- Writes through s3vl drop the index's cached answers.
CREATE OR REPLACE FUNCTION s3vl._cache_invalidate(index_arn text)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
  DELETE FROM s3vl.query_cache c WHERE c.index_arn = $1
$$;

-- Turns caching on for an index (ttl > 0) or off (ttl NULL or 0, which also drops its entries).
CREATE OR REPLACE FUNCTION s3vl.set_cache(index_name text, ttl interval)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.set_cache';
  target record;
BEGIN
  SELECT * INTO target FROM s3vl._resolve_index(caller, set_cache.index_name, NULL);
  IF ttl IS NULL OR ttl = interval '0' THEN
    DELETE FROM s3vl.cache_settings s WHERE s.index_arn = target.index_arn;
    PERFORM s3vl._cache_invalidate(target.index_arn);
    RETURN;
  END IF;
  PERFORM s3vl._check_range(caller, 'ttl', pg_catalog.ceil(pg_catalog.date_part('epoch', ttl))::bigint,
                            'cache_ttl_seconds');
  INSERT INTO s3vl.cache_settings AS s (index_arn, ttl) VALUES (target.index_arn, ttl)
  ON CONFLICT (index_arn) DO UPDATE SET ttl = EXCLUDED.ttl, updated_at = now();
END
$$;
COMMENT ON FUNCTION s3vl.set_cache(text,interval) IS
  's3vl: nothing; caches index_name''s query results for ttl (NULL or 0 stops caching)';

-- Size bounds for the whole cache; entries beyond them are evicted oldest first.
CREATE OR REPLACE FUNCTION s3vl.set_cache_limits(max_entries integer, max_bytes bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF max_entries IS NULL OR max_entries < 1 OR max_bytes IS NULL OR max_bytes < 1 THEN
    RAISE EXCEPTION 's3vl.set_cache_limits: max_entries and max_bytes must be at least 1 '
      '(got %, %)', coalesce(max_entries::text, 'NULL'), coalesce(max_bytes::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  UPDATE s3vl.cache_limits l SET max_entries = set_cache_limits.max_entries,
    max_bytes = set_cache_limits.max_bytes;
END
$$;
COMMENT ON FUNCTION s3vl.set_cache_limits(integer,bigint) IS
  's3vl: nothing; bounds the result cache to max_entries and max_bytes';

CREATE OR REPLACE FUNCTION s3vl.cache_stats()
RETURNS TABLE (hits bigint, misses bigint, entries bigint, bytes bigint, max_entries integer,
               max_bytes bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT (SELECT CASE WHEN h.is_called THEN h.last_value ELSE 0 END FROM s3vl.cache_hits_seq h),
         (SELECT CASE WHEN m.is_called THEN m.last_value ELSE 0 END FROM s3vl.cache_misses_seq m),
         (SELECT count(*) FROM s3vl.query_cache),
         (SELECT coalesce(sum(c.result_bytes), 0)::bigint FROM s3vl.query_cache c),
         l.max_entries, l.max_bytes
  FROM s3vl.cache_limits l
$$;
COMMENT ON FUNCTION s3vl.cache_stats() IS
  's3vl: one row: cache hits, misses, entries, bytes and their bounds';

-- Empties the cache and resets the counters; the per-index settings stay.
CREATE OR REPLACE FUNCTION s3vl.clear_cache()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  removed bigint;
BEGIN
  DELETE FROM s3vl.query_cache;
  GET DIAGNOSTICS removed = ROW_COUNT;
  PERFORM pg_catalog.setval('s3vl.cache_hits_seq', 1, false);
  PERFORM pg_catalog.setval('s3vl.cache_misses_seq', 1, false);
  RETURN removed;
END
$$;
COMMENT ON FUNCTION s3vl.clear_cache() IS 's3vl: the number of cached answers removed';

-- ==== 30_api/50_registry.sql
-- The index registry: friendly names for S3 Vectors index ARNs, with the dimension and distance
-- metric read from GetIndex at registration (so a wrong dimension fails in SQL, before a call).
-- Parameters follow the 1.0 convention (docs/sql-reference.md); the sample's positional calls
-- run as before. Functions returning index_name/index_arn columns and taking index_name/index_arn
-- arguments return a composite type (10_core/10_tables.sql): an OUT column cannot share an
-- argument's name.

CREATE OR REPLACE FUNCTION s3vl._check_registry_name(caller text, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  PERFORM s3vl._require(caller, 'index_name', name);
  PERFORM s3vl._check_range(caller, 'index_name_length', pg_catalog.length(name));
  IF name !~ '^[A-Za-z][A-Za-z0-9_.-]*$' THEN
    RAISE EXCEPTION '%: index_name must start with a letter and contain only letters, digits, '
                    '".", "_" and "-" (got %)', caller, pg_catalog.quote_literal(name)
      USING ERRCODE = '22023';
  END IF;
END
$$;

-- Policies and grants are enforced by the ARN they were made for: re-pointing a name that has
-- some at another ARN would leave them on the old ARN and its bound roles unbound on the new one.
CREATE OR REPLACE FUNCTION s3vl._check_repoint(caller text, index_name text, index_arn text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM s3vl.index_registry r WHERE r.index_name = _check_repoint.index_name
             AND r.index_arn <> _check_repoint.index_arn)
     AND (EXISTS (SELECT 1 FROM s3vl.index_policies p
                  WHERE p.index_name = _check_repoint.index_name)
          OR EXISTS (SELECT 1 FROM s3vl.index_grants g
                     WHERE g.index_name = _check_repoint.index_name))
  THEN
    RAISE EXCEPTION '%: index "%" has vector policies or index grants; re-pointing it at another '
                    'ARN would leave them on the old one', caller, index_name
      USING ERRCODE = '55006',
            HINT = 'Drop them first (SELECT * FROM s3vl.list_policies(); s3vl.drop_policy, '
                   's3vl.revoke_index) and create them again for the new ARN, or register the '
                   'new ARN under another name.';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.register_index(
  index_name text,
  index_arn text,
  description text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  caller constant text := 's3vl.register_index';
  arn record;
  info jsonb;
BEGIN
  PERFORM s3vl._check_registry_name(caller, register_index.index_name);
  PERFORM s3vl._check_index_arn(caller, 'index_arn', register_index.index_arn);
  arn := s3vl._parse_index_arn(register_index.index_arn);
  PERFORM s3vl._check_repoint(caller, register_index.index_name, register_index.index_arn);
  info := s3vl._invoke(caller, s3vl._get_index_request(register_index.index_arn));
  IF jsonb_typeof(info -> 'dimension') IS DISTINCT FROM 'number' THEN
    RAISE EXCEPTION '%: GetIndex answered without a dimension for %', caller,
      register_index.index_arn USING ERRCODE = 'SV007';
  END IF;
  INSERT INTO s3vl.index_registry AS r (index_name, index_arn, description, bucket_name, region,
      account_id, partition, s3_index_name, dimension, distance_metric, is_active)
  VALUES (register_index.index_name, register_index.index_arn, register_index.description, arn.bucket_name, arn.region,
      arn.account_id, arn.partition, arn.index_name, (info ->> 'dimension')::integer,
      info ->> 'distance_metric', true)
  ON CONFLICT (index_name) DO UPDATE SET
    index_arn = EXCLUDED.index_arn,
    description = coalesce(EXCLUDED.description, r.description),
    bucket_name = EXCLUDED.bucket_name, region = EXCLUDED.region,
    account_id = EXCLUDED.account_id, partition = EXCLUDED.partition,
    s3_index_name = EXCLUDED.s3_index_name, dimension = EXCLUDED.dimension,
    distance_metric = EXCLUDED.distance_metric, is_active = true;
  RAISE NOTICE '%: index "%" registered (dimension %, %)', caller, register_index.index_name,
    info ->> 'dimension', info ->> 'distance_metric';
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.register_index(text,text,text) IS
  's3vl: true once index_name names index_arn (dimension and metric read from GetIndex)';

CREATE OR REPLACE FUNCTION s3vl.resolve_index_arn(index_name text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM s3vl._require('s3vl.resolve_index_arn', 'index_name', resolve_index_arn.index_name);
  RETURN (s3vl._resolve_index('s3vl.resolve_index_arn', resolve_index_arn.index_name,
                              NULL)).index_arn;
END
$$;
COMMENT ON FUNCTION s3vl.resolve_index_arn(text) IS
  's3vl: the index ARN a registered, active index_name stands for';

CREATE OR REPLACE FUNCTION s3vl.list_indexes()
RETURNS SETOF s3vl.index_entry
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.index_name, r.index_arn, r.description, r.bucket_name, r.region, r.account_id,
         r.created_at, r.updated_at, r.is_active, r.dimension, r.distance_metric,
         r.embedding_model
  FROM s3vl.index_registry r
  ORDER BY r.is_active DESC, r.index_name
$$;
COMMENT ON FUNCTION s3vl.list_indexes() IS 's3vl: one row per registered index';

CREATE OR REPLACE FUNCTION s3vl.get_index_info(index_name text)
RETURNS SETOF s3vl.index_entry
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.get_index_info', 'index_name', index_name);
  RETURN QUERY SELECT l.* FROM s3vl.list_indexes() l WHERE l.index_name = get_index_info.index_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.get_index_info: index "%" is not registered', left(index_name, 100)
      USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_indexes() lists registered names.';
  END IF;
END
$$;
COMMENT ON FUNCTION s3vl.get_index_info(text) IS 's3vl: the registry row of index_name';

-- Shared by activate/deactivate/unregister: 42704 when the name is not registered.
CREATE OR REPLACE FUNCTION s3vl._registry_not_found(caller text, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  RAISE EXCEPTION '%: index "%" is not registered', caller, pg_catalog.left(name, 100)
    USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_indexes() lists registered names.';
END
$$;

CREATE OR REPLACE FUNCTION s3vl.activate_index(index_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM s3vl._require('s3vl.activate_index', 'index_name', activate_index.index_name);
  UPDATE s3vl.index_registry SET is_active = true WHERE index_name = activate_index.index_name;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.activate_index', activate_index.index_name);
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.activate_index(text) IS 's3vl: true once index_name is active again';

CREATE OR REPLACE FUNCTION s3vl.deactivate_index(index_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM s3vl._require('s3vl.deactivate_index', 'index_name', deactivate_index.index_name);
  UPDATE s3vl.index_registry SET is_active = false WHERE index_name = deactivate_index.index_name;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.deactivate_index', deactivate_index.index_name);
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.deactivate_index(text) IS
  's3vl: true once index_name is deactivated (calls naming it fail with 42704)';

CREATE OR REPLACE FUNCTION s3vl.unregister_index(index_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM s3vl._require('s3vl.unregister_index', 'index_name', unregister_index.index_name);
  DELETE FROM s3vl.index_registry WHERE index_name = unregister_index.index_name;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.unregister_index', unregister_index.index_name);
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.unregister_index(text) IS
  's3vl: true once index_name is removed from the registry';

-- The live GetIndex answer for a registered name or an index ARN.
CREATE OR REPLACE FUNCTION s3vl.describe_index(index_name text DEFAULT NULL,
                                               index_arn text DEFAULT NULL)
RETURNS SETOF s3vl.index_description
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.describe_index';
  target record;
  info jsonb;
BEGIN
  target := s3vl._resolve_index(caller, describe_index.index_name, describe_index.index_arn);
  info := s3vl._invoke(caller, s3vl._get_index_request(target.index_arn));
  -- A partitioned index (30_api/68_partitions.sql): one row per partition, in ordinal order.
  RETURN QUERY SELECT
    i ->> 'index_name', coalesce(i ->> 'index_arn', target.index_arn),
    i ->> 'vector_bucket_name', (i ->> 'dimension')::integer, i ->> 'distance_metric',
    i ->> 'data_type',
    ARRAY(SELECT jsonb_array_elements_text(coalesce(i -> 'non_filterable_metadata_keys',
                                                    '[]'::jsonb))),
    nullif(i ->> 'creation_time', '')::timestamptz, i ->> 'index_mode',
    coalesce(i -> 'text_search', '[]'::jsonb),
    (SELECT r.embedding_model FROM s3vl.index_registry r WHERE r.index_arn = target.index_arn
     ORDER BY r.index_name = describe_index.index_name DESC, r.is_active DESC, r.id LIMIT 1)
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(info -> 'partitions') = 'array'
                                 THEN info -> 'partitions' ELSE jsonb_build_array(info) END)
       WITH ORDINALITY AS p(i, n)
  ORDER BY p.n;
END
$$;
COMMENT ON FUNCTION s3vl.describe_index(text,text) IS
  's3vl: the live GetIndex answer (shape, mode, text search keys): one row, one per partition';

-- ==== 30_api/55_reads.sql
-- Reads: query_vectors, get_vectors, list_vectors, scan_vectors. Each checks its arguments,
-- builds the protocol request with a _*_request function (tested against docs/protocol.md),
-- calls s3vl._invoke once per page, and turns the result into rows with set-based SQL.

-- A metadata_filter checked before any invocation (22023, nothing sent): a JSON object in the
-- S3 Vectors filter language, known operators with operands of their type, at most
-- max_filter_depth levels and filter_constraints compared values (the emulator's rules).
CREATE OR REPLACE FUNCTION s3vl._check_filter(caller text, metadata_filter jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  most constant integer := s3vl._limit('filter_constraints');
  counted integer;
BEGIN
  IF metadata_filter IS NULL THEN
    RETURN;
  END IF;
  IF pg_catalog.jsonb_typeof(metadata_filter) <> 'object' THEN
    RAISE EXCEPTION '%: metadata_filter must be a JSON object (got a JSON %)', caller,
      pg_catalog.jsonb_typeof(metadata_filter)
      USING ERRCODE = '22023', HINT = 'For example ''{"category": {"$eq": "books"}}''::jsonb.';
  END IF;
  PERFORM s3vl._check_filter_depth(caller, metadata_filter);
  counted := s3vl._check_filter_document(caller, metadata_filter, 'metadata_filter');
  IF counted > most THEN
    RAISE EXCEPTION '%: metadata_filter compares % values; at most filter_constraints (%) are '
                    'allowed', caller, counted, most
      USING ERRCODE = '22023', HINT = 'Each compared value counts one (an $in list of 3 counts '
                                      '3). See SELECT * FROM s3vl.limits().';
  END IF;
END
$$;

-- One filter object of the S3 Vectors filter language ({key: value | {op: operand}, $and/$or:
-- [...]}); returns how many values it compares. `path` names it in messages.
CREATE OR REPLACE FUNCTION s3vl._check_filter_document(caller text, document jsonb, path text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  entry record;
  op record;
  counted integer := 0;
BEGIN
  IF pg_catalog.jsonb_typeof(document) IS DISTINCT FROM 'object' OR document = '{}' THEN
    RAISE EXCEPTION '%: % must be a non-empty JSON object (got %)', caller, path,
      pg_catalog.left(coalesce(document::text, 'NULL'), 60) USING ERRCODE = '22023';
  END IF;
  FOR entry IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(document) AS e LOOP
    IF entry.key IN ('$and', '$or') THEN
      IF pg_catalog.jsonb_typeof(entry.value) IS DISTINCT FROM 'array'
         OR entry.value = '[]' THEN
        RAISE EXCEPTION '%: %.% needs a non-empty array of filters', caller, path, entry.key
          USING ERRCODE = '22023';
      END IF;
      FOR i IN 0 .. pg_catalog.jsonb_array_length(entry.value) - 1 LOOP
        counted := counted + s3vl._check_filter_document(caller, entry.value -> i,
                                                         format('%s.%s[%s]', path, entry.key, i));
      END LOOP;
    ELSIF entry.key LIKE '$%' THEN
      RAISE EXCEPTION '%: %: unknown operator ''%'' (logical operators: $and, $or)', caller, path,
        entry.key USING ERRCODE = '22023';
    ELSIF pg_catalog.jsonb_typeof(entry.value) IN ('string', 'number', 'boolean') THEN
      counted := counted + 1;  -- {key: value} is {key: {"$eq": value}}
    ELSIF pg_catalog.jsonb_typeof(entry.value) = 'object' AND entry.value <> '{}' THEN
      FOR op IN SELECT o.key, o.value FROM pg_catalog.jsonb_each(entry.value) AS o LOOP
        counted := counted + s3vl._check_filter_operand(caller,
          format('%s.%s', path, entry.key), op.key, op.value);
      END LOOP;
    ELSE
      RAISE EXCEPTION '%: %.% must be a string, number, boolean or a non-empty operator object '
        '(got %)', caller, path, entry.key, pg_catalog.left(entry.value::text, 60)
        USING ERRCODE = '22023';
    END IF;
  END LOOP;
  RETURN counted;
END
$$;

-- One {op: operand} of a key: a known operator with an operand of its type; returns how many
-- values it compares.
CREATE OR REPLACE FUNCTION s3vl._check_filter_operand(caller text, path text, op text,
  operand jsonb)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  kind constant text := pg_catalog.jsonb_typeof(operand);
  wanted text;
BEGIN
  wanted := CASE
    WHEN op IN ('$eq', '$ne') AND kind NOT IN ('string', 'number', 'boolean')
      THEN 'a string, number or boolean'
    WHEN op IN ('$gt', '$gte', '$lt', '$lte') AND kind <> 'number' THEN 'a number'
    WHEN op IN ('$in', '$nin') AND (kind <> 'array' OR operand = '[]'
         OR pg_catalog.jsonb_path_exists(operand, 'strict $[*] ? (@.type() == "object" || '
                                                   '@.type() == "array" || @.type() == "null")'))
      THEN 'a non-empty array of strings, numbers or booleans'
    WHEN op = '$exists' AND kind <> 'boolean' THEN 'a boolean'
    WHEN op = '$startsWith' AND kind <> 'string' THEN 'a string' END;
  IF op NOT IN ('$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists',
                '$startsWith') THEN
    RAISE EXCEPTION '%: %: unknown operator ''%'' (supported: $eq, $ne, $gt, $gte, $lt, $lte, '
      '$in, $nin, $exists, $startsWith)', caller, path, op USING ERRCODE = '22023';
  ELSIF wanted IS NOT NULL THEN
    RAISE EXCEPTION '%: %.% needs % (got %)', caller, path, op, wanted,
      pg_catalog.left(operand::text, 60) USING ERRCODE = '22023';
  END IF;
  RETURN CASE WHEN kind = 'array' THEN pg_catalog.jsonb_array_length(operand) ELSE 1 END;
END
$$;

-- A JSON array of numbers as float8[] (the text forms differ only in their brackets).
CREATE OR REPLACE FUNCTION s3vl._float8_array(numbers jsonb)
RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN pg_catalog.jsonb_typeof(numbers) = 'array'
              THEN pg_catalog.translate(numbers::text, '[]', '{}')::float8[] END
$$;

-- Request builders return json: array_to_json writes float8 text as is, where jsonb would
-- convert every element to numeric (3x slower for a 384-float vector).
CREATE OR REPLACE FUNCTION s3vl._query_request(index_arn text, query_vector float8[],
  top_k integer, return_metadata boolean, metadata_filter jsonb)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN metadata_filter IS NULL THEN
    pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
      'query_vector', pg_catalog.array_to_json(query_vector), 'top_k', top_k,
      'return_metadata', return_metadata)
  ELSE
    pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
      'query_vector', pg_catalog.array_to_json(query_vector), 'top_k', top_k,
      'return_metadata', return_metadata, 'metadata_filter', metadata_filter)
  END
$$;

CREATE OR REPLACE FUNCTION s3vl._get_request(index_arn text, vector_ids text[],
  include_vector_data boolean, include_metadata boolean)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'get_vectors', 'index_arn', index_arn,
           'vector_ids', pg_catalog.array_to_json(vector_ids),
           'include_vector_data', include_vector_data, 'include_metadata', include_metadata)
$$;

CREATE OR REPLACE FUNCTION s3vl._list_request(index_arn text, max_results integer,
  next_token text, return_data boolean, return_metadata boolean, segment_count integer,
  segment_index integer)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'operation', 'list_vectors', 'index_arn', index_arn, 'max_results', max_results,
           'next_token', next_token, 'return_data', return_data,
           'return_metadata', return_metadata, 'segment_count', segment_count,
           'segment_index', segment_index))
$$;

-- A result entry of the wrong shape is the function's fault, not the caller's.
CREATE OR REPLACE FUNCTION s3vl._raise_malformed(caller text, problem text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  RAISE EXCEPTION '%: the Lambda function answered a malformed query result: %', caller, problem
    USING ERRCODE = 'SV007';
END
$$;

CREATE OR REPLACE FUNCTION s3vl.query_vectors(
  query_vector float8[],
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  return_metadata boolean DEFAULT true,
  metadata_filter jsonb DEFAULT NULL)
RETURNS TABLE (vector_id text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.query_vectors';
  target record;
  answer jsonb;
BEGIN
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  SELECT * INTO target FROM s3vl._resolve_index(caller, query_vectors.index_name,
                                                query_vectors.index_arn);
  PERFORM s3vl._check_vector(caller, 'query_vector', query_vector, target.dimension);
  -- The result cache (sql/20_transport/52_cache.sql) answers without an invocation on a hit.
  answer := s3vl._cache_get(caller, target.index_arn, query_vector, top_k, metadata_filter,
                            return_metadata);
  IF answer IS NULL THEN
    answer := s3vl._expect_array(caller, s3vl._invoke(caller, s3vl._query_request(
      target.index_arn, query_vector, top_k, return_metadata, metadata_filter)), 'query results');
    PERFORM s3vl._cache_put(caller, target.index_arn, query_vector, top_k, metadata_filter,
                            return_metadata, answer);
  END IF;
  BEGIN
    RETURN QUERY
      SELECT r.vector_id, r.distance, r.similarity_score, coalesce(r.metadata, '{}'::jsonb)
      FROM jsonb_to_recordset(answer) AS r(vector_id text, distance float8,
                                           similarity_score float8, metadata jsonb);
  EXCEPTION WHEN data_exception OR datatype_mismatch THEN
    PERFORM s3vl._raise_malformed(caller, SQLERRM);
  END;
END
$$;
COMMENT ON FUNCTION s3vl.query_vectors(double precision[],text,text,integer,boolean,jsonb) IS
  's3vl: the top_k nearest vectors: vector_id, distance, similarity_score, metadata';

-- Index-first positional form: s3vl.query_vectors('my-index', ARRAY[...]::float8[], 5). Its first
-- two parameters have no names, so a named call always picks the form above; the options have
-- the same names (query_vectors('my-index', v, metadata_filter => '{...}')).
CREATE OR REPLACE FUNCTION s3vl.query_vectors(
  text,
  float8[],
  top_k integer DEFAULT 10,
  return_metadata boolean DEFAULT true,
  metadata_filter jsonb DEFAULT NULL)
RETURNS TABLE (vector_id text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM s3vl.query_vectors($2, $1, NULL, top_k, return_metadata, metadata_filter)
$$;
COMMENT ON FUNCTION s3vl.query_vectors(text,double precision[],integer,boolean,jsonb) IS
  's3vl: the top_k nearest vectors, index first (positional form of query_vectors)';

-- Two string literals, query_vectors('my-index', '{0.1,0.2}'): without this form PostgreSQL finds
-- both forms above equally good ("not unique"). The second literal is the vector; anything else
-- fails saying which form to write.
CREATE OR REPLACE FUNCTION s3vl.query_vectors(
  text,
  text,
  top_k integer DEFAULT 10,
  return_metadata boolean DEFAULT true,
  metadata_filter jsonb DEFAULT NULL)
RETURNS TABLE (vector_id text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM s3vl.query_vectors(s3vl._vector_literal('s3vl.query_vectors', $2, $1), $1, NULL,
                                   top_k, return_metadata, metadata_filter)
$$;
COMMENT ON FUNCTION s3vl.query_vectors(text,text,integer,boolean,jsonb) IS
  's3vl: the top_k nearest vectors for two string literals: the index, then the vector';

CREATE OR REPLACE FUNCTION s3vl.get_vectors(
  vector_ids text[],
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  include_vector_data boolean DEFAULT true,
  include_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, embedding float8[], metadata jsonb, found boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.get_vectors';
  target record;
  answer jsonb;
  bad_position integer;
BEGIN
  IF vector_ids IS NULL OR cardinality(vector_ids) = 0 THEN
    RAISE EXCEPTION '%: vector_ids must be a non-empty array of keys', caller
      USING ERRCODE = '22023', HINT = 'For example ARRAY[''doc-1'', ''doc-2''].';
  END IF;
  SELECT o.n INTO bad_position FROM unnest(vector_ids) WITH ORDINALITY AS o(k, n)
    WHERE o.k IS NULL OR length(o.k) NOT BETWEEN 1 AND s3vl._limit('vector_id_length')
    LIMIT 1;
  IF bad_position IS NOT NULL THEN
    RAISE EXCEPTION '%: vector_ids element % must be a key of 1 to % characters (got %)', caller,
      bad_position, s3vl._limit('vector_id_length'),
      coalesce(length(vector_ids[bad_position])::text || ' characters', 'NULL')
      USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._require(caller, 'include_vector_data', include_vector_data);
  PERFORM s3vl._require(caller, 'include_metadata', include_metadata);
  SELECT * INTO target FROM s3vl._resolve_index(caller, get_vectors.index_name,
                                                get_vectors.index_arn);
  answer := s3vl._expect_array(caller, s3vl._invoke(caller, s3vl._get_request(
    target.index_arn, vector_ids, include_vector_data, include_metadata)), 'vectors');
  -- Exactly one row per requested id, in request order (a repeated id repeats its row; an id
  -- the function did not answer is not found).
  RETURN QUERY
    SELECT req.id, s3vl._float8_array(got.value -> 'embedding'),
           coalesce(got.value -> 'metadata', '{}'::jsonb),
           coalesce((got.value ->> 'found')::boolean, false)
    FROM unnest(vector_ids) WITH ORDINALITY AS req(id, n)
    LEFT JOIN (
      SELECT DISTINCT ON (e.value ->> 'vector_id') e.value ->> 'vector_id' AS id, e.value
      FROM jsonb_array_elements(answer) AS e(value)) AS got ON got.id = req.id
    ORDER BY req.n;
END
$$;
COMMENT ON FUNCTION s3vl.get_vectors(text[],text,text,boolean,boolean) IS
  's3vl: one row per requested id, in order: vector_id, embedding, metadata, found';

-- Segment arguments: both or neither, each in range, index below count.
CREATE OR REPLACE FUNCTION s3vl._check_segments(caller text, segment_count integer,
                                                segment_index integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF (segment_count IS NULL) <> (segment_index IS NULL) THEN
    RAISE EXCEPTION '%: segment_count and segment_index must be given together', caller
      USING ERRCODE = '22023', HINT = 'segment_count => 4, segment_index => 0 .. 3.';
  END IF;
  IF segment_count IS NOT NULL THEN
    PERFORM s3vl._check_range(caller, 'segment_count', segment_count);
    PERFORM s3vl._check_range(caller, 'segment_index', segment_index);
    IF segment_index >= segment_count THEN
      RAISE EXCEPTION '%: segment_index must be below segment_count (got % of %)', caller,
        segment_index, segment_count USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;

-- One ListVectors page as rows, plus its next token and count.
CREATE OR REPLACE FUNCTION s3vl._list_page(caller text, index_arn text, max_results integer,
  next_token text, return_data boolean, return_metadata boolean, segment_count integer,
  segment_index integer, OUT vectors jsonb, OUT page_next_token text, OUT page_count integer)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  answer jsonb;
BEGIN
  answer := s3vl._invoke(caller, s3vl._list_request(index_arn, max_results, next_token,
    return_data, return_metadata, segment_count, segment_index));
  IF pg_catalog.jsonb_typeof(answer) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION '%: the Lambda function answered a list page that is not a JSON object',
      caller USING ERRCODE = 'SV007';
  END IF;
  vectors := s3vl._expect_array(caller, answer -> 'vectors', 'list vectors');
  page_next_token := nullif(answer ->> 'next_token', '');
  page_count := coalesce((answer ->> 'total_count')::integer,
                         pg_catalog.jsonb_array_length(vectors));
  IF page_next_token IS NOT NULL AND page_next_token = next_token THEN
    RAISE EXCEPTION '%: ListVectors returned the token it was given; paging would not end',
      caller USING ERRCODE = 'SV007';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.list_vectors(
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  return_metadata boolean DEFAULT true,
  return_data boolean DEFAULT false,
  max_results integer DEFAULT 100,
  next_token text DEFAULT NULL,
  segment_count integer DEFAULT NULL,
  segment_index integer DEFAULT NULL)
RETURNS TABLE (vector_id text, embedding float8[], metadata jsonb, response_next_token text,
               total_count integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.list_vectors';
  target record;
  page record;
BEGIN
  PERFORM s3vl._check_range(caller, 'max_results', max_results);
  PERFORM s3vl._require(caller, 'return_data', return_data);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_segments(caller, segment_count, segment_index);
  SELECT * INTO target FROM s3vl._resolve_index(caller, list_vectors.index_name,
                                                list_vectors.index_arn);
  IF s3vl._policy_filter(caller, target.index_arn) IS NULL THEN
    SELECT * INTO page FROM s3vl._list_page(caller, target.index_arn, max_results, next_token,
      return_data, return_metadata, segment_count, segment_index);
  ELSE
    page := s3vl._list_bound_page(caller, target.index_arn, max_results, next_token,
      return_data, return_metadata, segment_count, segment_index);
  END IF;
  RETURN QUERY
    SELECT e.value ->> 'vector_id',
           CASE WHEN return_data THEN s3vl._float8_array(e.value -> 'vector_data') END,
           CASE WHEN return_metadata THEN coalesce(e.value -> 'metadata', '{}'::jsonb) END,
           page.page_next_token, page.page_count
    FROM jsonb_array_elements(page.vectors) WITH ORDINALITY AS e(value, n)
    ORDER BY e.n;
  -- An empty page that still has a token: one row without a vector carries the token.
  IF NOT FOUND AND page.page_next_token IS NOT NULL THEN
    RETURN QUERY SELECT NULL::text, NULL::float8[], NULL::jsonb, page.page_next_token, 0;
  END IF;
END
$$;
COMMENT ON FUNCTION s3vl.list_vectors(text,text,boolean,boolean,integer,text,integer,integer) IS
  's3vl: one ListVectors page: vector_id, embedding, metadata, and the token of the next page';

-- Every vector of an index, paging internally (ListVectors pages of page_size).
CREATE OR REPLACE FUNCTION s3vl.scan_vectors(
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  return_metadata boolean DEFAULT true,
  return_data boolean DEFAULT false,
  page_size integer DEFAULT 1000)
RETURNS TABLE (vector_id text, embedding float8[], metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.scan_vectors';
  target record;
  page record;
  token text;
BEGIN
  PERFORM s3vl._check_range(caller, 'page_size', page_size, 'max_results');
  PERFORM s3vl._require(caller, 'return_data', return_data);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  SELECT * INTO target FROM s3vl._resolve_index(caller, scan_vectors.index_name,
                                                scan_vectors.index_arn);
  LOOP
    SELECT * INTO page FROM s3vl._list_page(caller, target.index_arn, page_size, token,
      return_data, return_metadata, NULL, NULL);
    RETURN QUERY
      SELECT e.value ->> 'vector_id',
             CASE WHEN return_data THEN s3vl._float8_array(e.value -> 'vector_data') END,
             CASE WHEN return_metadata THEN coalesce(e.value -> 'metadata', '{}'::jsonb) END
      FROM jsonb_array_elements(page.vectors) WITH ORDINALITY AS e(value, n)
      ORDER BY e.n;
    EXIT WHEN page.page_next_token IS NULL;
    token := page.page_next_token;
  END LOOP;
END
$$;
COMMENT ON FUNCTION s3vl.scan_vectors(text,text,boolean,boolean,integer) IS
  's3vl: every vector of the index (all ListVectors pages)';

-- ==== 30_api/56_bound_paging.sql
-- list_vectors for a caller bound by a vector policy (issue 19 items 6 and 7). The policy hides
-- vectors after the service paged them, so a plain page could be short or empty and still carry
-- a token (its count of missing rows is the number of hidden vectors), and its token continues
-- after the page's last key, which may be a hidden one (a token that encodes it, as the
-- emulator's did, would show it). So a bound caller's page is filled internally: each ListVectors
-- call asks for exactly the rows still missing, until max_results matching vectors are in hand or
-- the listing ends. A page then has max_results rows, or fewer only when it is the last (no
-- token), and the token handed out always continues after a vector the caller sees (the last
-- call's rows all matched). The price is more invocations for a caller that sees few vectors of
-- a large index; one page is bounded by timeout_seconds (SV003 beyond).
CREATE OR REPLACE FUNCTION s3vl._list_bound_page(caller text, index_arn text, max_results integer,
  next_token text, return_data boolean, return_metadata boolean, segment_count integer,
  segment_index integer, OUT vectors jsonb, OUT page_next_token text, OUT page_count integer)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  deadline constant timestamptz := pg_catalog.clock_timestamp()
    + (s3vl._config(caller)).timeout_seconds * interval '1 second';
  part record;
  calls integer := 0;
BEGIN
  vectors := '[]'::jsonb;
  page_next_token := next_token;
  LOOP
    SELECT * INTO part FROM s3vl._list_page(caller, index_arn,
      max_results - pg_catalog.jsonb_array_length(vectors), page_next_token, return_data,
      return_metadata, segment_count, segment_index);
    calls := calls + 1;
    vectors := vectors || part.vectors;
    page_next_token := part.page_next_token;
    EXIT WHEN page_next_token IS NULL OR pg_catalog.jsonb_array_length(vectors) >= max_results;
    IF pg_catalog.clock_timestamp() > deadline THEN
      RAISE EXCEPTION '%: filling a page of % vectors this role may see took more than '
                      'timeout_seconds (% ListVectors calls)', caller, max_results, calls
        USING ERRCODE = 'SV003',
              HINT = 'Most vectors of this index are outside the role''s policy; an index per '
                     'tenant avoids scanning them (docs/security.md).';
    END IF;
  END LOOP;
  page_count := pg_catalog.jsonb_array_length(vectors);
END
$$;

-- ==== 30_api/57_search.sql
-- Full-text (BM25) and hybrid (vector + text, fused with Reciprocal Rank Fusion) search, and the
-- index administration they need (index mode, text search configurations). Requests are the
-- query_vectors operation with query_texts (docs/protocol.md); every call goes through the one
-- chokepoint s3vl._call_lambda (by s3vl._invoke, or by _call_lambda + _unwrap for searches).
-- Arguments are checked before any call; what only the service knows (a key that is not
-- searchable, a CLASSIC index, a BUILDING key) comes back as its ValidationError (22023).

-- The analyzer languages S3 Vectors accepts (botocore LanguageCode); NULL = standard analyzer.
CREATE OR REPLACE FUNCTION s3vl._text_search_languages()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY['en', 'fr', 'es', 'pt', 'it', 'de', 'nl', 'zh', 'ja', 'ko'] $$;

-- A searchable metadata key: 1 to metadata_key_length characters. what names it in messages.
CREATE OR REPLACE FUNCTION s3vl._check_text_key(caller text, what text, metadata_key text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  hi constant integer := s3vl._limit('metadata_key_length');
BEGIN
  IF metadata_key IS NULL OR pg_catalog.length(metadata_key) NOT BETWEEN 1 AND hi THEN
    RAISE EXCEPTION '%: % must be a metadata key of 1 to % characters (got %)', caller, what, hi,
      coalesce(pg_catalog.length(metadata_key)::text || ' characters', 'NULL')
      USING ERRCODE = '22023', HINT = 'See SELECT * FROM s3vl.limits() (metadata_key_length).';
  END IF;
END
$$;

-- One text argument: 1 to limit_name characters (s3vl.limits()), not only white space. The
-- full-text searches (_check_text) and the embeddings (_check_embed_text) check texts with it.
CREATE OR REPLACE FUNCTION s3vl._check_bounded_text(caller text, what text, value text,
  limit_name text, hint text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  hi constant integer := s3vl._limit(limit_name);
BEGIN
  IF value IS NULL OR pg_catalog.length(value) NOT BETWEEN 1 AND hi
     OR pg_catalog.btrim(value, E' \t\r\n\f\v') = '' THEN
    RAISE EXCEPTION '%: % must be a text of 1 to % characters, not blank (got %)', caller, what,
      hi, CASE WHEN value IS NULL THEN 'NULL'
               WHEN pg_catalog.length(value) BETWEEN 1 AND hi THEN 'only white space'
               ELSE pg_catalog.length(value)::text || ' characters' END
      USING ERRCODE = '22023', HINT = hint;
  END IF;
END
$$;

-- One full-text query string: 1 to query_text_length characters, not only white space.
CREATE OR REPLACE FUNCTION s3vl._check_text(caller text, what text, query_text text)
RETURNS void
LANGUAGE sql IMMUTABLE
AS $$
  SELECT s3vl._check_bounded_text(caller, what, query_text, 'query_text_length',
    'See SELECT * FROM s3vl.limits() (query_text_length).')
$$;

-- {metadata_key: text, ...}: an object of 1 to query_texts entries, each key and text valid.
CREATE OR REPLACE FUNCTION s3vl._check_query_texts(caller text, query_texts jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  hi constant integer := s3vl._limit('query_texts');
  n bigint;
  entry record;
BEGIN
  -- One scan accepts the usual, valid argument; the checks below find what is wrong otherwise.
  IF pg_catalog.jsonb_typeof(query_texts) = 'object'
     AND (SELECT count(*) BETWEEN 1 AND hi
                 AND bool_and(pg_catalog.length(e.key) BETWEEN 1 AND
                                s3vl._limit('metadata_key_length')
                              AND pg_catalog.jsonb_typeof(e.value) = 'string'
                              AND pg_catalog.length(e.value #>> '{}') BETWEEN 1 AND
                                s3vl._limit('query_text_length')
                              AND pg_catalog.btrim(e.value #>> '{}', E' \t\r\n\f\v') <> '')
          FROM pg_catalog.jsonb_each(query_texts) AS e) THEN
    RETURN;
  END IF;
  IF query_texts IS NULL OR pg_catalog.jsonb_typeof(query_texts) <> 'object' THEN
    RAISE EXCEPTION '%: query_texts must be a JSON object {metadata_key: text} (got %)', caller,
      coalesce('a JSON ' || pg_catalog.jsonb_typeof(query_texts), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'For example ''{"name": "trail shoes", "description": "waterproof"}''::jsonb.';
  END IF;
  SELECT count(*) INTO n FROM pg_catalog.jsonb_object_keys(query_texts);
  IF n NOT BETWEEN 1 AND hi THEN
    RAISE EXCEPTION '%: query_texts must have 1 to % metadata keys (got %)', caller, hi, n
      USING ERRCODE = '22023', HINT = 'See SELECT * FROM s3vl.limits() (query_texts).';
  END IF;
  FOR entry IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(query_texts) AS e ORDER BY e.key
  LOOP
    PERFORM s3vl._check_text_key(caller, 'query_texts key', entry.key);
    IF pg_catalog.jsonb_typeof(entry.value) <> 'string' THEN
      RAISE EXCEPTION '%: query_texts value of key "%" must be a JSON string (got a JSON %)',
        caller, entry.key, pg_catalog.jsonb_typeof(entry.value) USING ERRCODE = '22023';
    END IF;
    PERFORM s3vl._check_text(caller, format('query_texts value of key "%s"', entry.key),
                             entry.value #>> '{}');
  END LOOP;
END
$$;

-- The query_vectors request of a text-only (query_vector NULL) or hybrid query. Fields that are
-- NULL are left out; the filter is passed through unchanged (no json_strip_nulls inside it).
CREATE OR REPLACE FUNCTION s3vl._text_query_request(index_arn text, query_vector float8[],
  query_texts jsonb, top_k integer, return_metadata boolean, metadata_filter jsonb)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN query_vector IS NULL AND metadata_filter IS NULL THEN
      pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
        'query_texts', query_texts, 'top_k', top_k, 'return_metadata', return_metadata)
    WHEN query_vector IS NULL THEN
      pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
        'query_texts', query_texts, 'top_k', top_k, 'return_metadata', return_metadata,
        'metadata_filter', metadata_filter)
    WHEN metadata_filter IS NULL THEN
      pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
        'query_vector', pg_catalog.array_to_json(query_vector), 'query_texts', query_texts,
        'top_k', top_k, 'return_metadata', return_metadata)
    ELSE
      pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
        'query_vector', pg_catalog.array_to_json(query_vector), 'query_texts', query_texts,
        'top_k', top_k, 'return_metadata', return_metadata, 'metadata_filter', metadata_filter)
  END
$$;

-- The cache (20_transport/52_cache.sql) keys on (index, vector, top_k, filter, return_metadata).
-- A text query stores its texts with the filter under keys no filter can have ("$s3vl..." is not
-- a filter operator, so the service refuses such a filter and it is never cached) and an empty
-- vector for text-only (no vector query has one): text and vector entries never meet.
CREATE OR REPLACE FUNCTION s3vl._text_cache_filter(query_texts jsonb, metadata_filter jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.jsonb_build_object('$s3vl_query_texts', query_texts,
                                       '$s3vl_filter', metadata_filter)
$$;

-- Text-only or hybrid search: checks, resolves the index, answers the result array from the
-- cache or one invocation. text_param names the SQL argument that carried the texts.
CREATE OR REPLACE FUNCTION s3vl._search_answer(caller text, text_param text, hybrid boolean,
  query_vector float8[], query_texts jsonb, index_name text, index_arn text, top_k integer,
  return_metadata boolean, metadata_filter jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  target record;
  answer jsonb;
  response jsonb;
  cache_vector constant float8[] := coalesce(query_vector, '{}'::float8[]);
  cache_filter constant jsonb := s3vl._text_cache_filter(query_texts, metadata_filter);
BEGIN
  PERFORM s3vl._check_query_texts(caller, query_texts);
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  SELECT * INTO target FROM s3vl._resolve_index(caller, index_name, index_arn);
  IF hybrid THEN
    PERFORM s3vl._check_vector(caller, 'query_vector', query_vector, target.dimension);
  END IF;
  answer := s3vl._cache_get(caller, target.index_arn, cache_vector, top_k, cache_filter,
                            return_metadata);
  IF answer IS NOT NULL THEN
    RETURN answer;
  END IF;
  -- _call_lambda and _unwrap are what _invoke runs; split here so that only a failed answer
  -- pays for the subtransaction that renames the service's refusal.
  response := (SELECT c.payload FROM s3vl._call_lambda(caller, s3vl._text_query_request(
    target.index_arn, query_vector, query_texts, top_k, return_metadata, metadata_filter),
    'RequestResponse') AS c);
  IF response -> 'success' = 'false'::jsonb THEN
    PERFORM s3vl._raise_text_refusal(caller, text_param, query_texts, response);
  END IF;
  answer := s3vl._expect_array(caller, s3vl._unwrap(caller, response), 'query results');
  PERFORM s3vl._cache_put(caller, target.index_arn, cache_vector, top_k, cache_filter, return_metadata,
                          answer);
  RETURN answer;
END
$$;

-- Raises a failed answer's error (s3vl._unwrap). The service's refusal of a text query (a key
-- without text search, a CLASSIC index, a BUILDING key) keeps its SQLSTATE 22023 but is named
-- after the SQL argument and says where to look and what to run.
CREATE OR REPLACE FUNCTION s3vl._raise_text_refusal(caller text, text_param text,
  query_texts jsonb, response jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  err constant jsonb := response -> 'error';
  failed_message text;
  failed_detail text;
BEGIN
  PERFORM s3vl._unwrap(caller, response);
EXCEPTION WHEN SQLSTATE '22023' THEN
  -- Which refusal it is comes from the envelope itself, not from the text _unwrap made of it.
  GET STACKED DIAGNOSTICS failed_detail = PG_EXCEPTION_DETAIL;
  failed_message := coalesce(s3vl._service_message(CASE pg_catalog.jsonb_typeof(err)
                               WHEN 'object' THEN err ->> 'message'
                               WHEN 'string' THEN err #>> '{}' END, err ->> 'field'),
                             'the Lambda function reported a failure without a message');
  IF failed_message !~* '(text|search|classic|enhanced|building|index mode)'
     OR (pg_catalog.jsonb_typeof(err) = 'object'
         AND err ->> 'field' IN ('metadata_filter', 'top_k', 'query_vector', 'return_metadata'))
  THEN
    RAISE;
  END IF;
  RAISE EXCEPTION USING ERRCODE = '22023',
    MESSAGE = caller || ': ' || text_param || ' ' || s3vl._describe_texts(query_texts) || ': '
              || failed_message,
    DETAIL = coalesce(failed_detail, ''),
    HINT = 'Each searched key needs an ACTIVE text search configuration on an ENHANCED index: '
           'see SELECT index_mode, text_search FROM s3vl.describe_index(...); an s3vl_admin '
           'changes them with s3vl.set_index_mode and s3vl.add_text_search.';
END
$$;

-- The searched keys for messages: "name" or "name", "description".
CREATE OR REPLACE FUNCTION s3vl._describe_texts(query_texts jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.string_agg(pg_catalog.format('"%s"', k), ', ' ORDER BY k)
  FROM pg_catalog.jsonb_object_keys(query_texts) AS k
$$;

-- {metadata_key: query_text} after checking both under their own names.
CREATE OR REPLACE FUNCTION s3vl._one_text(caller text, query_text text, metadata_key text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  PERFORM s3vl._check_text_key(caller, 'metadata_key', metadata_key);
  PERFORM s3vl._check_text(caller, 'query_text', query_text);
  RETURN pg_catalog.jsonb_build_object(metadata_key, query_text);
END
$$;

-- The one implementation of the four public forms below (thin SQL wrappers): the answer first
-- (argument errors are raised there, outside the block below), then rows; a malformed entry is
-- SV007. text_param names the SQL argument that carried the texts; query_vector is NULL for a
-- text-only search.
CREATE OR REPLACE FUNCTION s3vl._search(caller text, text_param text, hybrid boolean,
  query_vector float8[], query_texts jsonb, index_name text, index_arn text, top_k integer,
  metadata_filter jsonb, return_metadata boolean)
RETURNS TABLE (vector_id text, fused_score float8, distance float8, text_score float8,
               metadata jsonb)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  answer constant jsonb := s3vl._search_answer(caller, text_param, hybrid, query_vector,
    query_texts, index_name, index_arn, top_k, return_metadata, metadata_filter);
BEGIN
  RETURN QUERY
    SELECT r.vector_id, r.fused_score, r.distance, r.text_score, coalesce(r.metadata, '{}'::jsonb)
    FROM pg_catalog.jsonb_to_recordset(answer) AS r(vector_id text, fused_score float8,
                                                    distance float8, text_score float8,
                                                    metadata jsonb);
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed(caller, SQLERRM);
END
$$;

-- Full-text search on one key; text_score = BM25.
CREATE OR REPLACE FUNCTION s3vl.search_text(
  query_text text,
  metadata_key text,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, text_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.vector_id, s.text_score, s.metadata
  FROM s3vl._search('s3vl.search_text', 'metadata_key', false, NULL,
                    s3vl._one_text('s3vl.search_text', query_text, metadata_key), index_name,
                    index_arn, top_k, metadata_filter, return_metadata) AS s
$$;
COMMENT ON FUNCTION s3vl.search_text(text,text,text,text,integer,jsonb,boolean) IS
  's3vl: the top_k vectors whose metadata_key best matches query_text (BM25 text_score)';

-- Full-text search on several keys ({"name": "trail shoes", "description": "waterproof"});
-- text_score = the sum of the per-key BM25 scores.
CREATE OR REPLACE FUNCTION s3vl.search_text(
  query_texts jsonb,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, text_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.vector_id, s.text_score, s.metadata
  FROM s3vl._search('s3vl.search_text', 'query_texts', false, NULL, query_texts, index_name,
                    index_arn, top_k, metadata_filter, return_metadata) AS s
$$;
COMMENT ON FUNCTION s3vl.search_text(jsonb,text,text,integer,jsonb,boolean) IS
  's3vl: the top_k vectors best matching query_texts {metadata_key: text} (summed BM25 text_score)';

-- Hybrid search: the vector ranking and the text ranking fused by the service (RRF).
CREATE OR REPLACE FUNCTION s3vl.hybrid_search(
  query_vector float8[],
  query_text text,
  metadata_key text,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, fused_score float8, distance float8, text_score float8,
               metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM s3vl._search('s3vl.hybrid_search', 'metadata_key', true, query_vector,
                             s3vl._one_text('s3vl.hybrid_search', query_text, metadata_key),
                             index_name, index_arn, top_k, metadata_filter, return_metadata)
$$;
COMMENT ON FUNCTION s3vl.hybrid_search(double precision[],text,text,text,text,integer,jsonb,boolean) IS
  's3vl: the top_k vectors by vector and text rank fused (fused_score, distance, text_score)';

CREATE OR REPLACE FUNCTION s3vl.hybrid_search(
  query_vector float8[],
  query_texts jsonb,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, fused_score float8, distance float8, text_score float8,
               metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM s3vl._search('s3vl.hybrid_search', 'query_texts', true, query_vector,
                             query_texts, index_name, index_arn, top_k, metadata_filter,
                             return_metadata)
$$;
COMMENT ON FUNCTION s3vl.hybrid_search(double precision[],jsonb,text,text,integer,jsonb,boolean) IS
  's3vl: the top_k vectors by vector and query_texts rank fused (fused_score, distance, text_score)';

-- Index administration (s3vl_admin). Each sends one request, the function answers the index's
-- get_index result after the change, and the index's cached answers are dropped (a mode or a
-- searchable key changes what queries answer).
CREATE OR REPLACE FUNCTION s3vl._index_mode_request(index_arn text, index_mode text)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'update_index_mode', 'index_arn', index_arn,
                                      'index_mode', index_mode)
$$;

-- Builders take arrays (the protocol allows 1-10 keys per request); the SQL functions send one.
CREATE OR REPLACE FUNCTION s3vl._add_text_search_request(index_arn text, metadata_keys text[],
  languages text[])
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'add_text_search', 'index_arn', index_arn,
           'text_search', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                                    'metadata_key', k.key, 'language', k.language) ORDER BY k.n)
                           FROM unnest(metadata_keys, languages) WITH ORDINALITY
                             AS k(key, language, n)))
$$;

CREATE OR REPLACE FUNCTION s3vl._drop_text_search_request(index_arn text, metadata_keys text[])
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'drop_text_search', 'index_arn', index_arn,
           'metadata_keys', pg_catalog.array_to_json(metadata_keys))
$$;

-- Sends one administration request; an AccessDenied says how the deployment allows it.
CREATE OR REPLACE FUNCTION s3vl._administer(caller text, index_name text, request_for text,
  index_mode text DEFAULT NULL, metadata_key text DEFAULT NULL, language text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  target record;
  request json;
  failed_message text;
  failed_detail text;
BEGIN
  SELECT * INTO target FROM s3vl._resolve_index(caller, index_name, NULL);
  request := CASE request_for
    WHEN 'mode' THEN s3vl._index_mode_request(target.index_arn, index_mode)
    WHEN 'add' THEN s3vl._add_text_search_request(target.index_arn, ARRAY[metadata_key],
                                                  ARRAY[language])
    ELSE s3vl._drop_text_search_request(target.index_arn, ARRAY[metadata_key]) END;
  BEGIN
    PERFORM s3vl._invoke(caller, request);
  EXCEPTION WHEN insufficient_privilege THEN
    GET STACKED DIAGNOSTICS failed_message = MESSAGE_TEXT, failed_detail = PG_EXCEPTION_DETAIL;
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = failed_message,
      DETAIL = coalesce(failed_detail, ''),
      HINT = 'Index administration from SQL needs the function deployed with the CloudFormation '
             'parameter AllowIndexAdministration=true (environment S3VL_ALLOW_INDEX_ADMIN=true); '
             'otherwise run the AWS CLI command the message names.';
  END;
  PERFORM s3vl._cache_invalidate(target.index_arn);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.set_index_mode(index_name text, index_mode text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.set_index_mode';
  mode constant text := pg_catalog.upper(index_mode);
BEGIN
  IF mode IS NULL OR mode NOT IN ('CLASSIC', 'ENHANCED') THEN
    RAISE EXCEPTION '%: index_mode must be CLASSIC or ENHANCED (got %)', caller,
      coalesce(pg_catalog.quote_literal(index_mode), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'ENHANCED allows text and hybrid search; CLASSIC only in buckets created '
                   'before 2026-09-30.';
  END IF;
  PERFORM s3vl._administer(caller, set_index_mode.index_name, 'mode', index_mode => mode);
END
$$;
COMMENT ON FUNCTION s3vl.set_index_mode(text,text) IS
  's3vl: nothing; switches the index to CLASSIC or ENHANCED';

CREATE OR REPLACE FUNCTION s3vl.add_text_search(index_name text, metadata_key text,
                                                language text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.add_text_search';
  lang constant text := pg_catalog.lower(language);
BEGIN
  PERFORM s3vl._check_text_key(caller, 'metadata_key', metadata_key);
  IF language IS NOT NULL AND NOT lang = ANY (s3vl._text_search_languages()) THEN
    RAISE EXCEPTION '%: language must be one of % or NULL for the standard analyzer (got %)',
      caller, pg_catalog.array_to_string(s3vl._text_search_languages(), ', '),
      pg_catalog.quote_literal(language)
      USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._administer(caller, add_text_search.index_name, 'add',
                           metadata_key => add_text_search.metadata_key, language => lang);
  RAISE NOTICE '%: metadata key "%" is BUILDING while the service indexes the existing vectors, '
               'and searchable once ACTIVE', caller, metadata_key
    USING HINT = pg_catalog.format('SELECT text_search FROM s3vl.describe_index(%L) shows its '
                                   'status.', add_text_search.index_name);
END
$$;
COMMENT ON FUNCTION s3vl.add_text_search(text,text,text) IS
  's3vl: nothing; starts building a text search configuration for metadata_key (BUILDING until ACTIVE)';

CREATE OR REPLACE FUNCTION s3vl.drop_text_search(index_name text, metadata_key text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.drop_text_search';
BEGIN
  PERFORM s3vl._check_text_key(caller, 'metadata_key', metadata_key);
  PERFORM s3vl._administer(caller, drop_text_search.index_name, 'drop',
                           metadata_key => drop_text_search.metadata_key);
END
$$;
COMMENT ON FUNCTION s3vl.drop_text_search(text,text) IS
  's3vl: nothing; removes metadata_key''s text search configuration';

-- ==== 30_api/58_where.sql
-- Filtered search that fills k (docs/sql-reference.md, "Filtered search"; the plans in
-- docs/partitions.md, "Filtered search plans"). strategy picks one of two plans:
-- - prefilter: the keys of the rows of a table passing a caller-written SQL predicate are read
--   first and ranked exactly by the function (rank_vectors, one invocation);
-- - iterative: an iterative scan in the manner of pgvector 0.8's iterative HNSW scans. The
--   nearest neighbours are read page by page through one QueryVectors (the function hands back
--   the service's nextToken as next_token, see docs/protocol.md), each page's keys are checked
--   against the table and the predicate, and reading stops as soon as top_k keys qualify or
--   max_candidates were examined;
-- - auto: prefilter while few enough rows pass for it to be the cheaper one, iterative otherwise.
--
-- Privileges: the scan and the predicate run with the CALLER's rights (SECURITY INVOKER, no
-- search_path of its own, so the predicate means what it means in the caller's session). Only the
-- helpers that reach s3vl.config and aws_lambda are SECURITY DEFINER; they take values, never
-- SQL text, and check every argument themselves because readers may call them.

-- Which index a paged query reads, and how many service pages one invocation may fetch: at most
-- the pages_per_call limit and at most timeout_seconds (a warm page takes ~0.3 s, so one second of
-- budget per page leaves room for a cold start).
CREATE OR REPLACE FUNCTION s3vl._query_page_target(caller text, query_vector float8[],
  index_name text, index_arn text, metadata_filter jsonb,
  OUT target_arn text, OUT max_pages integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  target record;
BEGIN
  PERFORM s3vl._check_vector(caller, 'query_vector', query_vector);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  SELECT * INTO target FROM s3vl._resolve_index(caller, index_name, index_arn);
  PERFORM s3vl._check_vector(caller, 'query_vector', query_vector, target.dimension);
  target_arn := target.index_arn;
  max_pages := least(s3vl._limit('pages_per_call'), (s3vl._config(caller)).timeout_seconds);
END
$$;

-- The protocol request for one paged QueryVectors step (docs/protocol.md, page_token/max_pages).
CREATE OR REPLACE FUNCTION s3vl._query_page_request(index_arn text, query_vector float8[],
  top_k integer, return_metadata boolean, metadata_filter jsonb, page_token text,
  max_pages integer)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'operation', 'query_vectors', 'index_arn', index_arn,
           'query_vector', pg_catalog.array_to_json(query_vector), 'top_k', top_k,
           'return_metadata', return_metadata, 'metadata_filter', metadata_filter,
           'page_token', page_token, 'max_pages', max_pages))
$$;

-- One invocation: up to max_pages service pages of the query whose results total top_k,
-- continuing at page_token. Returns {"vectors": [rows], "next_token": text|null}.
CREATE OR REPLACE FUNCTION s3vl._query_page(caller text, query_vector float8[], index_arn text,
  top_k integer, metadata_filter jsonb, page_token text, max_pages integer)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  target record;
  answer jsonb;
BEGIN
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  SELECT * INTO target FROM s3vl._query_page_target(caller, query_vector, NULL, index_arn,
                                                    metadata_filter);
  -- A partitioned index's token is the function's own (docs/protocol.md), longer than the
  -- service's.
  IF page_token IS NOT NULL AND NOT s3vl._is_partitioned_id(target.target_arn) THEN
    PERFORM s3vl._check_range(caller, 'page_token length', length(page_token),
                              'page_token_length');
  END IF;
  IF max_pages IS NULL OR max_pages < 1 OR max_pages > target.max_pages THEN
    RAISE EXCEPTION '%: max_pages must be between 1 and % (got %)', caller, target.max_pages,
      coalesce(max_pages::text, 'NULL')
      USING ERRCODE = '22023',
            HINT = 'At most pages_per_call (s3vl.limits()) and at most timeout_seconds pages.';
  END IF;
  answer := s3vl._invoke(caller, s3vl._query_page_request(target.target_arn, query_vector,
                                                           top_k, true, metadata_filter,
                                                           page_token, max_pages));
  -- A function older than page_token/max_pages ignores both and answers the whole top_k as an
  -- array: the same candidates in one invocation (correct, only not incremental).
  IF pg_catalog.jsonb_typeof(answer) = 'array' THEN
    answer := pg_catalog.jsonb_build_object('vectors', answer, 'next_token', NULL);
  END IF;
  IF pg_catalog.jsonb_typeof(answer) IS DISTINCT FROM 'object'
     OR pg_catalog.jsonb_typeof(answer -> 'vectors') IS DISTINCT FROM 'array'
     OR pg_catalog.jsonb_typeof(answer -> 'next_token') NOT IN ('string', 'null')
     OR NOT answer ? 'next_token' THEN
    RAISE EXCEPTION '%: the Lambda function answered a paged query result that is not '
                    '{"vectors": [...], "next_token": ...}', caller
      USING ERRCODE = 'SV007',
            DETAIL = 'got: ' || pg_catalog.left(coalesce(answer::text, 'NULL'), 200);
  END IF;
  IF answer ->> 'next_token' = page_token THEN
    RAISE EXCEPTION '%: QueryVectors returned the token it was given; paging would not end',
      caller USING ERRCODE = 'SV007';
  END IF;
  RETURN answer;
END
$$;

-- The statement that keeps the candidates of one page ($1, a JSON array of result rows) whose
-- key (key_expr: the vector_id as a value of the key column's type) is the key of a row of
-- source passing predicate, in page order, without keys in $2 (already kept) or repeats.
CREATE OR REPLACE FUNCTION s3vl._where_sql(source regclass, key_column name, predicate text,
                                           key_expr text)
RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT pg_catalog.format(
    'SELECT pg_catalog.jsonb_agg(s3vl_c.v ORDER BY s3vl_c.n) FROM ('
    'SELECT DISTINCT ON (s3vl_p.v ->> ''vector_id'') s3vl_p.v, s3vl_p.n '
    'FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS s3vl_p(v, n) '
    'WHERE NOT (s3vl_p.v ->> ''vector_id'') = ANY ($2) AND EXISTS (SELECT 1 FROM %1$s '
    'WHERE %1$s.%2$I = %4$s AND (%3$s)) '
    'ORDER BY s3vl_p.v ->> ''vector_id'', s3vl_p.n) AS s3vl_c',
    source, key_column, coalesce(predicate, 'true'), key_expr)
$$;

-- kept (the candidates kept so far) with the candidates of one page that pass (the statement of
-- _where_sql), run with the caller's rights. The fast form casts a page's keys in one go; the
-- safe form is for a page with keys that are not values of the key column's type (they cannot
-- match).
CREATE OR REPLACE FUNCTION s3vl._where_passed(source regclass, key_column name, predicate text,
  key_type text, page jsonb, kept jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  kept_keys constant text[] := ARRAY(SELECT e ->> 'vector_id'
                                     FROM pg_catalog.jsonb_array_elements(kept) e);
  passed jsonb;
BEGIN
  BEGIN
    EXECUTE s3vl._where_sql(source, key_column, predicate,
      pg_catalog.format('(s3vl_p.v ->> ''vector_id'')::%s', key_type))
      INTO passed USING page, kept_keys;
  EXCEPTION WHEN data_exception THEN
    EXECUTE s3vl._where_sql(source, key_column, predicate,
      pg_catalog.format('s3vl._sync_try_cast(s3vl_p.v ->> ''vector_id'', NULL::%s)', key_type))
      INTO passed USING page, kept_keys;
  END;
  RETURN kept || coalesce(passed, '[]'::jsonb);
END
$$;

-- The arguments of a filtered search that are about the local table, checked before anything is
-- read or invoked; returns the key column's type. The predicate is SQL the caller wrote: it is
-- planned and permission-checked here with the caller's rights (syntax, type, privileges).
CREATE OR REPLACE FUNCTION s3vl._where_check(caller text, source regclass, key_column name,
  predicate text, top_k integer, max_candidates integer, strategy text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  key_type text;
  err_state text;
  err_text text;
BEGIN
  IF strategy IS NULL OR strategy NOT IN ('auto', 'prefilter', 'iterative') THEN
    RAISE EXCEPTION '%: strategy must be ''auto'', ''prefilter'' or ''iterative'' (got %)',
      caller, coalesce(pg_catalog.quote_literal(strategy), 'NULL') USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._check_range(caller, 'max_candidates', max_candidates);
  IF max_candidates < top_k THEN
    RAISE EXCEPTION '%: max_candidates must be at least top_k (got max_candidates % < top_k %)',
      caller, max_candidates, top_k USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._require(caller, 'source', source);
  PERFORM s3vl._require(caller, 'key_column', key_column);
  SELECT pg_catalog.format_type(a.atttypid, NULL) INTO key_type
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF key_type IS NULL THEN
    RAISE EXCEPTION '%: key_column % does not exist in %', caller,
      pg_catalog.quote_ident(key_column), source
      USING ERRCODE = '42703', HINT = 'key_column names the column that holds the vector keys.';
  END IF;
  IF predicate IS NOT NULL AND pg_catalog.btrim(predicate) = '' THEN
    RAISE EXCEPTION '%: predicate must be a boolean SQL expression or NULL (got an empty string)',
      caller USING ERRCODE = '22023', HINT = 'For example predicate => ''stock > 0''.';
  END IF;
  BEGIN
    EXECUTE pg_catalog.format('SELECT 1 FROM %s WHERE (%s) LIMIT 0', source,
                              coalesce(predicate, 'true'));
  EXCEPTION WHEN syntax_error_or_access_rule_violation OR data_exception THEN
    -- Same SQLSTATE, with the argument named: the parser's own text alone does not say which
    -- argument it is about.
    GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_text = MESSAGE_TEXT;
    RAISE EXCEPTION '%: predicate is not a boolean expression over % that you may run: %',
      caller, source, err_text USING ERRCODE = err_state,
      HINT = 'predicate is SQL you write, run with your privileges over source''s columns, '
             'e.g. predicate => ''stock > 0 AND price < 500''.';
  END;
  RETURN key_type;
END
$$;

-- How many service pages the next invocation asks for: as many as the pass rate seen so far
-- says are still needed (the first call: enough for top_k if every candidate passed), plus the
-- `skip` rows a restarted query returns again first, within the per-call bound and
-- max_candidates.
CREATE OR REPLACE FUNCTION s3vl._where_pages(top_k integer, kept integer, examined integer,
  skip integer, per_page integer, max_pages integer, max_candidates integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT least(greatest(1, ceil((CASE WHEN examined = 0 THEN top_k::numeric
                                      ELSE (top_k - kept)::numeric * examined / greatest(kept, 1)
                                 END + skip) / per_page))::integer,
               max_pages,
               greatest(1, ceil((max_candidates - examined + skip)::numeric
                                / per_page))::integer)
$$;

-- The rows of one answer of the iterative plan without its first `skip` (a restarted query
-- returns the candidates examined already first); SV007 for an empty page with a next token.
CREATE OR REPLACE FUNCTION s3vl._where_page(caller text, answer jsonb, examined integer,
  skip integer)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF answer ->> 'next_token' IS NOT NULL
     AND pg_catalog.jsonb_array_length(answer -> 'vectors') = 0 THEN
    RAISE EXCEPTION '%: QueryVectors answered an empty page with a next token after % '
                    'candidates', caller, examined USING ERRCODE = 'SV007';
  END IF;
  IF skip = 0 THEN
    RETURN answer -> 'vectors';
  END IF;
  RETURN (SELECT coalesce(pg_catalog.jsonb_agg(x.e ORDER BY x.n), '[]'::jsonb)
          FROM pg_catalog.jsonb_array_elements(answer -> 'vectors') WITH ORDINALITY AS x(e, n)
          WHERE x.n > skip);
END
$$;

-- How many passing keys the prefilter plan ranks at most: prefilter_max_keys for 'prefilter';
-- for 'auto' the point where it stops being the cheaper plan. Prefilter costs about one
-- GetVectors row per passing key, iterative about one page row per candidate, k / pass rate of
-- them; with pass rate = keys / rows, prefilter is cheaper while keys^2 < ratio * k * rows.
-- ratio 0.5: a ranked key costs about twice a paged candidate (bench/bench_where.py). Rows: the
-- planner's estimate of source; capped by prefilter_auto_keys (the whole cap when source was
-- never analyzed). NULL for 'iterative'.
CREATE OR REPLACE FUNCTION s3vl._where_key_bound(source regclass, top_k integer, strategy text)
RETURNS integer
LANGUAGE sql STABLE
AS $$
  SELECT CASE strategy
    WHEN 'prefilter' THEN s3vl._limit('prefilter_max_keys')
    WHEN 'auto' THEN least(s3vl._limit('prefilter_auto_keys'), coalesce((
      SELECT greatest(top_k, pg_catalog.ceil(pg_catalog.sqrt(0.5 * top_k * c.reltuples)))::integer
      FROM pg_catalog.pg_class c WHERE c.oid = source AND c.reltuples >= 0),
      s3vl._limit('prefilter_auto_keys'))) END
$$;

-- The plan: the keys of the rows that pass when the prefilter plan runs, read here with the
-- caller's rights (columns of source are in scope unqualified or qualified by the table's name;
-- identifiers s3vl adds are quoted); NULL when the iterative plan runs. 'auto' reads at most its
-- bound + 1 keys and runs prefilter when they are all there are; 'prefilter' refuses more than
-- prefilter_max_keys.
CREATE OR REPLACE FUNCTION s3vl._where_plan_keys(caller text, source regclass, key_column name,
  predicate text, top_k integer, strategy text)
RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  key_bound constant integer := s3vl._where_key_bound(source, top_k, strategy);
  plan_keys text[];
BEGIN
  IF key_bound IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE pg_catalog.format(
    'SELECT pg_catalog.array_agg(s3vl_k) FROM (SELECT %1$s.%2$I::text AS s3vl_k FROM %1$s '
    'WHERE (%3$s) AND %1$s.%2$I IS NOT NULL LIMIT %4$s) AS s3vl_q', source, key_column,
    coalesce(predicate, 'true'), key_bound + 1) INTO plan_keys;
  plan_keys := coalesce(plan_keys, '{}'::text[]);
  IF pg_catalog.cardinality(plan_keys) <= key_bound THEN
    RETURN plan_keys;
  END IF;
  IF strategy = 'prefilter' THEN
    RAISE EXCEPTION '%: more than prefilter_max_keys (%) rows of % pass the predicate', caller,
      key_bound, source USING ERRCODE = '22023',
      HINT = 'Narrow the predicate, or use strategy => ''iterative'' (or ''auto'', which picks '
             'it for predicates this wide).';
  END IF;
  RAISE DEBUG '%: plan iterative: more than % rows pass (auto''s bound for this table and '
              'top_k)', caller, key_bound;
  RETURN NULL;
END
$$;

-- Says why a filtered search returns fewer than top_k rows (and, at DEBUG, what it cost).
CREATE OR REPLACE FUNCTION s3vl._where_report(caller text, kept integer, top_k integer,
  examined integer, max_candidates integer, calls integer, exhausted boolean)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  -- For tuning and benchmarks (SET client_min_messages = debug1): what the answer cost.
  RAISE DEBUG '%: plan iterative: % rows from % candidates in % invocations', caller,
    least(kept, top_k), examined, calls;
  IF kept >= top_k THEN
    RETURN;
  END IF;
  IF exhausted AND examined < max_candidates THEN
    RAISE NOTICE '%: % of top_k % rows qualify; all % neighbours the index returned were '
                 'examined (% invocations)', caller, kept, top_k, examined, calls;
  ELSE
    RAISE NOTICE '%: % of top_k % rows qualify among the % candidates examined '
                 '(max_candidates % reached, % invocations)', caller, kept, top_k, examined,
                 max_candidates, calls
      USING HINT = pg_catalog.format('Raise max_candidates (at most %s) to examine more '
                                     'neighbours, or move part of the predicate into '
                                     'metadata_filter.', s3vl._limit('max_candidates'));
  END IF;
END
$$;

-- The kept candidates as rows, nearest first (ties in page order), at most top_k.
CREATE OR REPLACE FUNCTION s3vl._where_rows(kept jsonb, top_k integer)
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE sql IMMUTABLE
AS $$
  SELECT r.v ->> 'vector_id', (r.v ->> 'distance')::float8,
         (r.v ->> 'similarity_score')::float8, coalesce(r.v -> 'metadata', '{}'::jsonb)
  FROM pg_catalog.jsonb_array_elements(kept) WITH ORDINALITY AS r(v, n)
  ORDER BY (r.v ->> 'distance')::float8, r.n
  LIMIT top_k
$$;

-- The scan behind query_vectors_where and query_table; caller names the public function.
-- Arguments first (nothing is read or invoked before they are all valid), then the plan: the
-- prefilter plan's one invocation, or the iterative plan page by page. Its first query asks the
-- service for few neighbours (4 x top_k, whole pages): a topK of max_candidates makes the
-- service rank that many even when one page is enough (at a 50 % pass rate it cost 131 ms of 161;
-- bench/bench_where.py). When that query runs dry before top_k pass, it is asked again with topK
-- max_candidates, skipping the candidates already examined: one page re-read at most. The page
-- size is S3 Vectors' 100 until an answer shows it: full pages show it, an answer cut short by
-- the function's deadline shows less, so the largest seen is kept.
CREATE OR REPLACE FUNCTION s3vl._query_where(caller text, query_vector float8[],
  source regclass, key_column name, predicate text, top_k integer, index_name text,
  index_arn text, metadata_filter jsonb, max_candidates integer, strategy text)
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  key_type constant text := s3vl._where_check(caller, source, key_column, predicate, top_k,
                                              max_candidates, strategy);
  target record;
  plan_keys text[];
  answer jsonb;
  page jsonb;
  token text;
  kept jsonb := '[]'::jsonb;
  examined integer := 0;
  got integer;
  pages integer;
  seen_page integer;  -- the largest page size an answer showed (at least 1)
  calls integer := 0;
  query_top_k integer := least(max_candidates, (ceil(4.0 * top_k / 100) * 100)::integer);
  skip_left integer := 0;
BEGIN
  SELECT * INTO target FROM s3vl._query_page_target(caller, query_vector, index_name, index_arn,
                                                    metadata_filter);
  plan_keys := s3vl._where_plan_keys(caller, source, key_column, predicate, top_k, strategy);
  IF plan_keys IS NOT NULL THEN
    RETURN QUERY SELECT * FROM s3vl._query_prefilter(caller, query_vector, target.target_arn,
                                                     top_k, metadata_filter, plan_keys);
    RETURN;
  END IF;
  LOOP
    pages := s3vl._where_pages(top_k, pg_catalog.jsonb_array_length(kept), examined, skip_left,
      coalesce(seen_page, 100), target.max_pages, max_candidates);
    answer := s3vl._query_page(caller, query_vector, target.target_arn, query_top_k,
                               metadata_filter, token, pages);
    calls := calls + 1;
    token := answer ->> 'next_token';
    page := s3vl._where_page(caller, answer, examined, skip_left);
    got := pg_catalog.jsonb_array_length(answer -> 'vectors');
    seen_page := CASE WHEN token IS NULL THEN seen_page
                      ELSE greatest(1, seen_page, got / pages) END;
    skip_left := greatest(skip_left - got, 0);
    examined := examined + pg_catalog.jsonb_array_length(page);
    kept := s3vl._where_passed(source, key_column, predicate, key_type, page, kept);
    IF pg_catalog.jsonb_array_length(kept) < top_k AND token IS NULL
       AND query_top_k < max_candidates AND examined >= query_top_k THEN
      -- The short query ran dry (it returned all its topK): ask again, wider.
      skip_left := examined;
      query_top_k := max_candidates;
      CONTINUE;
    END IF;
    EXIT WHEN pg_catalog.jsonb_array_length(kept) >= top_k OR token IS NULL
              OR examined >= max_candidates;
  END LOOP;
  PERFORM s3vl._where_report(caller, pg_catalog.jsonb_array_length(kept), top_k, examined,
                             max_candidates, calls, token IS NULL);
  RETURN QUERY SELECT * FROM s3vl._where_rows(kept, top_k);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.query_vectors_where(
  query_vector float8[],
  source regclass,
  key_column name,
  predicate text DEFAULT NULL,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  max_candidates integer DEFAULT 10000,
  strategy text DEFAULT 'auto')
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY INVOKER
AS $$
  SELECT * FROM s3vl._query_where('s3vl.query_vectors_where', query_vector, source, key_column,
                                  predicate, top_k, index_name, index_arn, metadata_filter,
                                  max_candidates, strategy)
$$;
COMMENT ON FUNCTION s3vl.query_vectors_where(float8[], regclass, name, text, text, text, integer,
                                             jsonb, integer, text) IS
  's3vl: the top_k nearest vectors whose key is a row of source passing predicate (caller''s '
  'rights; strategy: prefilter, iterative or auto)';

-- One rank_vectors invocation (docs/protocol.md): the exact top_k among keys, by the index's
-- metric, with metadata_filter applied by the function.
CREATE OR REPLACE FUNCTION s3vl._rank_request(index_arn text, query_vector float8[],
  vector_ids text[], top_k integer, return_metadata boolean, metadata_filter jsonb)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'operation', 'rank_vectors', 'index_arn', index_arn,
           'query_vector', pg_catalog.array_to_json(query_vector),
           'vector_ids', pg_catalog.array_to_json(vector_ids), 'top_k', top_k,
           'return_metadata', return_metadata, 'metadata_filter', metadata_filter))
$$;

-- The prefilter plan's invocation (definer: it reaches aws_lambda). Takes values only; keys
-- that cannot be vector keys (empty, too long) cannot match and are left out.
CREATE OR REPLACE FUNCTION s3vl._query_prefilter(caller text, query_vector float8[],
  index_arn text, top_k integer, metadata_filter jsonb, vector_ids text[])
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  target record;
  ids text[];
  answer jsonb;
BEGIN
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  SELECT * INTO target FROM s3vl._query_page_target(caller, query_vector, NULL, index_arn,
                                                    metadata_filter);
  ids := ARRAY(SELECT DISTINCT k FROM pg_catalog.unnest(vector_ids) k
               WHERE pg_catalog.length(k) BETWEEN 1 AND s3vl._limit('vector_id_length'));
  IF pg_catalog.cardinality(ids) > s3vl._limit('prefilter_max_keys') THEN
    RAISE EXCEPTION '%: more than prefilter_max_keys (%) keys to rank', caller,
      s3vl._limit('prefilter_max_keys') USING ERRCODE = '22023';
  END IF;
  IF pg_catalog.cardinality(ids) = 0 THEN
    RAISE DEBUG '%: plan prefilter: 0 keys pass, no invocation', caller;
    RETURN;
  END IF;
  answer := s3vl._invoke(caller, s3vl._rank_request(target.target_arn, query_vector, ids, top_k,
                                                    true, metadata_filter));
  IF pg_catalog.jsonb_typeof(answer -> 'vectors') IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION '%: the Lambda function answered a rank_vectors result that is not '
                    '{"vectors": [...]}', caller USING ERRCODE = 'SV007',
      DETAIL = 'got: ' || pg_catalog.left(coalesce(answer::text, 'NULL'), 200);
  END IF;
  RAISE DEBUG '%: plan prefilter: % rows from % keys (% found) with % GetVectors calls in 1 '
              'invocation', caller, pg_catalog.jsonb_array_length(answer -> 'vectors'),
    pg_catalog.cardinality(ids), answer ->> 'examined', answer ->> 'calls';
  RETURN QUERY
    SELECT r.v ->> 'vector_id', (r.v ->> 'distance')::float8,
           (r.v ->> 'similarity_score')::float8, coalesce(r.v -> 'metadata', '{}'::jsonb)
    FROM pg_catalog.jsonb_array_elements(answer -> 'vectors') WITH ORDINALITY AS r(v, n)
    ORDER BY r.n;
END
$$;


-- query_vectors_where with a phrase (text in, rows out; docs/embeddings.md): embedded once with
-- the index's model (s3vl._embed_for, 30_api/72_embeddings.sql; cached), then the vector form
-- with the caller's rights (its predicate runs as the caller). plpgsql: _embed_for is created
-- after this file.
CREATE OR REPLACE FUNCTION s3vl.query_vectors_where(
  query_text text,
  source regclass,
  key_column name,
  predicate text DEFAULT NULL,
  index_name text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  max_candidates integer DEFAULT 10000,
  strategy text DEFAULT 'auto')
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
BEGIN
  RETURN QUERY SELECT * FROM s3vl.query_vectors_where(
    s3vl._embed_for('s3vl.query_vectors_where', query_text, index_name), source, key_column,
    predicate, index_name, NULL::text, top_k, metadata_filter, max_candidates, strategy);
END
$$;

COMMENT ON FUNCTION s3vl.query_vectors_where(text, regclass, name, text, text, integer, jsonb,
                                             integer, text) IS
  's3vl: the top_k nearest to a phrase among rows of source that satisfy predicate';

-- ==== 30_api/60_writes.sql
-- Writes: put_vectors, put_vector, delete_vectors. Every vector is validated here before the
-- first invocation (a large write is several invocations, so a bad vector found by the function
-- in a later one would leave earlier ones written). The input is split into invocations under the
-- Lambda payload limit; the function splits each one into PutVectors/DeleteVectors calls of 500.

-- Compact UTF-8 JSON size (how the function and S3 Vectors measure metadata): jsonb's text form
-- adds one space after every ':' and ',' outside strings; strings are kept as they are.
CREATE OR REPLACE FUNCTION s3vl._compact_json_bytes(value jsonb)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.octet_length(pg_catalog.regexp_replace(value::text,
           '("(?:[^"\\]|\\.)*")|[ ]', '\1', 'g'))
$$;

-- Payload budget of one invocation: the Lambda limit less payload_margin_bytes, room for the
-- envelope and for the one element that may cross the budget line (a vector of 4096 floats plus
-- 40 KB metadata < 200 KB).
CREATE OR REPLACE FUNCTION s3vl._payload_budget(caller text, invocation_type text)
RETURNS integer
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF invocation_type IS NULL OR invocation_type NOT IN ('RequestResponse', 'Event') THEN
    RAISE EXCEPTION '%: invocation_type must be ''RequestResponse'' or ''Event'' (got %)', caller,
      coalesce(invocation_type, 'NULL')
      USING ERRCODE = '22023',
            HINT = 'Event is fire-and-forget: failures go to the function''s dead-letter queue.';
  END IF;
  RETURN s3vl._limit(CASE invocation_type WHEN 'Event' THEN 'event_payload_bytes'
                      ELSE 'invoke_payload_bytes' END) - s3vl._limit('payload_margin_bytes');
END
$$;

-- Vectors or keys per invocation, whatever their size (invocation_items): bounds the PutVectors
-- calls (10 of 500) one invocation makes, so it ends well inside the function's timeout.
CREATE OR REPLACE FUNCTION s3vl._items_per_invocation()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT s3vl._limit('invocation_items') $$;

-- An asynchronous (Event) invocation: Lambda queues the request and answers 202 at once; a
-- failure inside the function lands in its dead-letter queue, never in SQL.
CREATE OR REPLACE FUNCTION s3vl._invoke_event(caller text, request json)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  status integer;
BEGIN
  SELECT c.status_code INTO status FROM s3vl._call_lambda(caller, request, 'Event') AS c;
  IF status IS DISTINCT FROM 202 THEN
    RAISE EXCEPTION '%: the asynchronous invocation answered status % (expected 202)', caller,
      coalesce(status::text, 'NULL') USING ERRCODE = 'SV006';
  END IF;
END
$$;

-- Raises when a key stands twice in one write, naming both places; `label` names an element,
-- `%s` standing for its position: array position - 1 + first_position.
CREATE OR REPLACE FUNCTION s3vl._check_unique_keys(caller text, keys text[], label text,
  first_position integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  bad record;
BEGIN
  SELECT d.k, d.first_n, d.second_n INTO bad FROM (
    SELECT o.k, min(o.n) AS first_n, (array_agg(o.n ORDER BY o.n))[2] AS second_n
    FROM pg_catalog.unnest(keys) WITH ORDINALITY AS o(k, n)
    GROUP BY o.k HAVING count(*) > 1) AS d
    ORDER BY d.second_n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: % repeats the key "%" of %; keys must be unique in one call', caller,
      format(label, bad.second_n - 1 + first_position), bad.k,
      format(label, bad.first_n - 1 + first_position) USING ERRCODE = '22023';
  END IF;
END
$$;

-- Checks the metadata of a write (one jsonb object or NULL per key) and returns the index shape
-- (fetching the non-filterable keys only when some metadata is over 2 KB). `label` names an
-- element in messages, `%s` standing for its position: array position - 1 + first_position.
-- Each metadata element of a write: an object (or NULL) with at most metadata_keys keys and
-- metadata_bytes of compact JSON. `label` names an element, %s standing for its position.
CREATE OR REPLACE FUNCTION s3vl._check_metadata_values(caller text, keys text[],
  metadata jsonb[], label text, first_position integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  max_keys constant integer := s3vl._limit('metadata_keys');
  max_bytes constant integer := s3vl._limit('metadata_bytes');
  bad record;
BEGIN
  IF metadata IS NOT NULL THEN
    -- unnest of both arrays side by side (subscripting a jsonb[] per row rescans it)
    SELECT o.n AS i, o.k, o.md INTO bad FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) NOT IN ('object', 'null')
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") must be a JSON object (got a JSON %)', caller,
        format(label, bad.i - 1 + first_position), bad.k, pg_catalog.jsonb_typeof(bad.md)
        USING ERRCODE = '22023';
    END IF;
    SELECT o.n AS i, o.k, (SELECT count(*) FROM pg_catalog.jsonb_object_keys(o.md)) AS key_count
      INTO bad FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND (SELECT count(*) FROM pg_catalog.jsonb_object_keys(o.md)) > max_keys
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") has % keys; at most % are allowed', caller,
        format(label, bad.i - 1 + first_position), bad.k, bad.key_count, max_keys
        USING ERRCODE = '22023';
    END IF;
    -- The text form is never shorter than the compact form: measure exactly only above the limit.
    SELECT o.n AS i, o.k, s3vl._compact_json_bytes(o.md) AS size INTO bad
      FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND pg_catalog.octet_length(o.md::text) > max_bytes
        AND s3vl._compact_json_bytes(o.md) > max_bytes
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") is % bytes; at most % bytes are allowed', caller,
        format(label, bad.i - 1 + first_position), bad.k, bad.size, max_bytes
        USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION s3vl._check_metadata_list(caller text, index_arn text, keys text[],
  metadata jsonb[], label text, first_position integer, known_dimension integer,
  known_metric text,
  OUT dimension integer, OUT distance_metric text, OUT non_filterable_keys text[])
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  max_filterable constant integer := s3vl._limit('filterable_metadata_bytes');
  bad record;
  shape record;
BEGIN
  PERFORM s3vl._check_metadata_values(caller, keys, metadata, label, first_position);

  SELECT * INTO shape FROM s3vl._index_shape(caller, index_arn, known_dimension, known_metric,
    metadata IS NOT NULL AND EXISTS (
      SELECT 1 FROM pg_catalog.unnest(metadata) AS o(md)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND pg_catalog.octet_length(o.md::text) > max_filterable));
  dimension := shape.dimension;
  distance_metric := shape.distance_metric;
  non_filterable_keys := shape.non_filterable_keys;

  IF metadata IS NOT NULL AND shape.non_filterable_keys IS NOT NULL THEN
    SELECT o.n AS i, o.k, s3vl._compact_json_bytes(o.md - shape.non_filterable_keys) AS size
      INTO bad FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND pg_catalog.octet_length(o.md::text) > max_filterable
        AND s3vl._compact_json_bytes(o.md - shape.non_filterable_keys) > max_filterable
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") has % bytes of filterable metadata; at most % bytes are '
        'allowed', caller, format(label, bad.i - 1 + first_position), bad.k, bad.size,
        max_filterable
        USING ERRCODE = '22023',
              DETAIL = format('non-filterable keys of this index: %s',
                              coalesce(nullif(array_to_string(shape.non_filterable_keys, ', '),
                                              ''), 'none')),
              HINT = 'Declare large fields in the index''s non-filterable metadata keys '
                     '(nonFilterableMetadataKeys when the index is created).';
    END IF;
  END IF;
END
$$;

-- A key array of a write: non-empty, one-dimensional, every key 1 to 1024 characters.
CREATE OR REPLACE FUNCTION s3vl._check_key_array(caller text, keys text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  max_key constant integer := s3vl._limit('vector_id_length');
  bad record;
BEGIN
  IF keys IS NULL OR pg_catalog.cardinality(keys) = 0 OR pg_catalog.array_ndims(keys) <> 1 THEN
    RAISE EXCEPTION '%: vector_ids must be a non-empty one-dimensional array of keys', caller
      USING ERRCODE = '22023', HINT = 'For example ARRAY[''doc-1'', ''doc-2''] or '
                                      'array_agg(id::text ORDER BY id).';
  END IF;
  SELECT o.n AS i, o.k INTO bad FROM pg_catalog.unnest(keys) WITH ORDINALITY AS o(k, n)
    WHERE o.k IS NULL OR pg_catalog.length(o.k) NOT BETWEEN 1 AND max_key
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vector_ids element % must be a key of 1 to % characters (got %)', caller, bad.i,
      max_key, coalesce(pg_catalog.length(bad.k)::text || ' characters', 'NULL')
      USING ERRCODE = '22023';
  END IF;
END
$$;

-- Sends a write in as few invocations as the payload limit allows and returns the count the
-- function answers in `counted` ("written", "deleted"; for Event, the items queued). `items` are
-- the JSON texts of the request's `field` array, in order; each invocation's JSON stays under
-- `budget` bytes and holds at most _items_per_invocation() items. The index's cached answers are
-- dropped afterwards.
CREATE OR REPLACE FUNCTION s3vl._write_in_parts(caller text, operation text, index_arn text,
  field text, items text[], budget integer, invocation_type text, counted text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  part record;
  done bigint := 0;
BEGIN
  -- Under a vector policy (20_transport/45_policies.sql) a write of several invocations is checked whole
  -- before its first part (a single invocation is checked on its way out, in _call_lambda).
  IF EXISTS (SELECT 1 FROM s3vl.index_policies)
     AND (pg_catalog.cardinality(items) > s3vl._items_per_invocation()
          OR (SELECT sum(pg_catalog.octet_length(i) + 1) FROM pg_catalog.unnest(items) i)
             >= budget) THEN
    PERFORM s3vl._policy_request(caller, ('{"operation":' || pg_catalog.to_json(operation)::text
      || ',"index_arn":' || pg_catalog.to_json(index_arn)::text || ','
      || pg_catalog.to_json(field)::text || ':[' || pg_catalog.array_to_string(items, ',')
      || ']}')::json);
  END IF;
  FOR part IN
    WITH placed AS (
      SELECT i.item, i.n,
             sum(pg_catalog.octet_length(i.item) + 1) OVER (ORDER BY i.n) / budget AS by_size,
             (i.n - 1) / s3vl._items_per_invocation() AS by_count
      FROM pg_catalog.unnest(items) WITH ORDINALITY AS i(item, n))
    SELECT ('{"operation":' || pg_catalog.to_json(operation)::text
            || ',"index_arn":' || pg_catalog.to_json(index_arn)::text
            || ',' || pg_catalog.to_json(field)::text || ':['
            || pg_catalog.string_agg(p.item, ',' ORDER BY p.n) || ']}')::json AS request,
           count(*) AS n
    FROM placed p GROUP BY p.by_size, p.by_count ORDER BY p.by_size, p.by_count
  LOOP
    IF invocation_type = 'Event' THEN
      PERFORM s3vl._invoke_event(caller, part.request);
      done := done + part.n;
    ELSE
      done := done + coalesce((s3vl._invoke(caller, part.request) ->> counted)::bigint, part.n);
    END IF;
  END LOOP;
  PERFORM s3vl._cache_invalidate(index_arn);
  RETURN done;
END
$$;

-- The number array of one put_vectors element: "data" is [...] or {"float32": [...]}.
CREATE OR REPLACE FUNCTION s3vl._put_data(element jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE pg_catalog.jsonb_typeof(element -> 'data') WHEN 'object'
              THEN element -> 'data' -> 'float32' ELSE element -> 'data' END
$$;

-- Whether a put_vectors input may be wrong: one pass answers "is anything wrong?" for the common,
-- valid input (true also when some metadata needs the index's non-filterable keys, or a key
-- repeats); the checks after it run only to find and name the first problem.
CREATE OR REPLACE FUNCTION s3vl._put_input_suspect(vectors jsonb, known_dimension integer,
  known_metric text)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  max_key constant integer := s3vl._limit('vector_id_length');
  max_filterable constant integer := s3vl._limit('filterable_metadata_bytes');
  scan record;
BEGIN
  SELECT pg_catalog.bool_or(
           pg_catalog.jsonb_typeof(o.v) <> 'object'
           OR pg_catalog.jsonb_typeof(o.v -> 'key') IS DISTINCT FROM 'string'
           OR pg_catalog.length(o.v ->> 'key') NOT BETWEEN 1 AND max_key
           OR pg_catalog.jsonb_typeof(d.data) IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@.type() != "number"
                || @ > $max || @ < -$max)', s3vl._float32_bound())
           OR pg_catalog.jsonb_typeof(o.v -> 'metadata') NOT IN ('object', 'null')
           OR pg_catalog.jsonb_array_length(d.data) IS DISTINCT FROM known_dimension
           OR (known_metric = 'cosine'
               AND NOT pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)'))) AS suspect,
         pg_catalog.bool_or(pg_catalog.jsonb_typeof(o.v -> 'metadata') = 'object'
           AND pg_catalog.octet_length((o.v -> 'metadata')::text) > max_filterable) AS big_metadata,
         count(DISTINCT o.v ->> 'key') <> count(*) AS repeated
    INTO scan
    FROM pg_catalog.jsonb_array_elements(vectors) AS o(v),
    LATERAL (SELECT s3vl._put_data(o.v) AS data) AS d;
  RETURN scan.suspect OR scan.big_metadata OR scan.repeated;
END
$$;

-- The first element of a put_vectors input that is not {"key": 1-1024 characters, "data": an
-- array of finite float32 numbers} (22023; 22000 for a value beyond float32).
CREATE OR REPLACE FUNCTION s3vl._check_put_elements(caller text, vectors jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  max_key constant integer := s3vl._limit('vector_id_length');
  bad record;
BEGIN
  SELECT o.n - 1 AS i, o.v INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    WHERE pg_catalog.jsonb_typeof(o.v) <> 'object'
       OR pg_catalog.jsonb_typeof(o.v -> 'key') IS DISTINCT FROM 'string'
       OR pg_catalog.length(o.v ->> 'key') NOT BETWEEN 1 AND max_key
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%] must be an object whose "key" is a string of 1 to % characters',
      caller, bad.i, max_key
      USING ERRCODE = '22023', DETAIL = 'got: ' || pg_catalog.left(bad.v::text, 200),
            HINT = 'Each element: {"key": "doc-1", "data": [0.1, ...], "metadata": {...}}.';
  END IF;

  SELECT o.n - 1 AS i, o.v ->> 'key' AS k INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    WHERE pg_catalog.jsonb_typeof(s3vl._put_data(o.v))
          IS DISTINCT FROM 'array'
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") must be an array of numbers or {"float32": [...]}',
      caller, bad.i, bad.k USING ERRCODE = '22023';
  END IF;

  -- A jsonpath test per vector finds the bad vector; only its elements are then unnested.
  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, e.n AS position, e.x INTO bad
    FROM (SELECT b.v, b.n FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS b(v, n)
          WHERE pg_catalog.jsonb_path_exists(s3vl._put_data(b.v),
                  '$[*] ? (@.type() != "number" || @ > $max || @ < -$max)',
                  s3vl._float32_bound())
          ORDER BY b.n LIMIT 1) AS o,
    LATERAL pg_catalog.jsonb_array_elements(s3vl._put_data(o.v))
      WITH ORDINALITY AS e(x, n)
    WHERE pg_catalog.jsonb_typeof(e.x) <> 'number'
       OR pg_catalog.abs(e.x::numeric) > s3vl._float32_max()
    ORDER BY e.n LIMIT 1;
  IF FOUND THEN
    IF pg_catalog.jsonb_typeof(bad.x) <> 'number' THEN
      RAISE EXCEPTION '%: vectors[%].data (key "%") element % must be a number (got %)', caller,
        bad.i, bad.k, bad.position, pg_catalog.left(bad.x::text, 50) USING ERRCODE = '22023';
    END IF;
    RAISE EXCEPTION '%: vectors[%].data (key "%") element % must be a finite float32 value '
      '(|x| <= %, got %)', caller, bad.i, bad.k, bad.position, s3vl._float32_max()::float4,
      pg_catalog.left(bad.x::text, 50) USING ERRCODE = '22000';
  END IF;
END
$$;

-- Raises the first problem of a put_vectors input (22023 shape/size, 22000 dimension/finite).
CREATE OR REPLACE FUNCTION s3vl._check_put_input(caller text, index_arn text, vectors jsonb,
  known_dimension integer, known_metric text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  key_list text[];
  bad record;
  shape record;
BEGIN
  IF NOT s3vl._put_input_suspect(vectors, known_dimension, known_metric) THEN
    RETURN;
  END IF;
  PERFORM s3vl._check_put_elements(caller, vectors);
  key_list := ARRAY(SELECT o.v ->> 'key' FROM pg_catalog.jsonb_array_elements(vectors)
                    WITH ORDINALITY AS o(v, n) ORDER BY o.n);
  -- Metadata: one checker for both write forms (it also reads the index shape).
  SELECT * INTO shape FROM s3vl._check_metadata_list(caller, index_arn, key_list,
    ARRAY(SELECT o.v -> 'metadata' FROM pg_catalog.jsonb_array_elements(vectors)
          WITH ORDINALITY AS o(v, n) ORDER BY o.n),
    'vectors[%s].metadata', 0, known_dimension, known_metric);

  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, pg_catalog.jsonb_array_length(d.data) AS dim,
         pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)') AS nonzero
    INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n),
    LATERAL (SELECT s3vl._put_data(o.v) AS data) AS d
    WHERE pg_catalog.jsonb_array_length(d.data) IS DISTINCT FROM shape.dimension
       OR (shape.distance_metric = 'cosine'
           AND NOT pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)'))
    ORDER BY o.n LIMIT 1;
  IF FOUND AND bad.dim IS DISTINCT FROM shape.dimension THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") has dimension % but the index has dimension %',
      caller, bad.i, bad.k, bad.dim, shape.dimension USING ERRCODE = '22000';
  ELSIF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") is all zeros, which a cosine index cannot store',
      caller, bad.i, bad.k USING ERRCODE = '22023';
  END IF;

  PERFORM s3vl._check_unique_keys(caller, key_list, 'vectors[%s]', 0);
END
$$;

-- Writes vectors (S3 Vectors shape, "data" as {"float32": [...]} or a plain array) and returns
-- how many were written (queued, for Event). Any count: split into invocations by payload size.
CREATE OR REPLACE FUNCTION s3vl._put_vectors(caller text, vectors jsonb, index_name text,
  invocation_type text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  budget integer;
  target record;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  IF vectors IS NULL OR pg_catalog.jsonb_typeof(vectors) <> 'array' THEN
    RAISE EXCEPTION '%: vectors must be a JSON array of {"key", "data", "metadata"} objects '
      '(got %)', caller, coalesce('a JSON ' || pg_catalog.jsonb_typeof(vectors), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'The same shape as aws s3vectors put-vectors --vectors.';
  END IF;
  SELECT * INTO target FROM s3vl._resolve_index(caller, _put_vectors.index_name, NULL);
  IF pg_catalog.jsonb_array_length(vectors) = 0 THEN
    RETURN 0;
  END IF;
  PERFORM s3vl._check_put_input(caller, target.index_arn, vectors, target.dimension,
                                target.distance_metric);
  RETURN s3vl._write_in_parts(caller, 'put_vectors', target.index_arn, 'vectors',
    ARRAY(SELECT pg_catalog.json_build_object('key', o.v ->> 'key',
                   'data', s3vl._put_data(o.v)::json,
                   'metadata', coalesce(o.v -> 'metadata', '{}'::jsonb)::json)::text
          FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
          ORDER BY o.n),
    budget, invocation_type, 'written');
END
$$;

CREATE OR REPLACE FUNCTION s3vl.put_vectors(
  vectors jsonb,
  index_name text,
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT s3vl._put_vectors('s3vl.put_vectors', vectors, index_name, invocation_type) $$;
COMMENT ON FUNCTION s3vl.put_vectors(jsonb,text,text) IS
  's3vl: the number of vectors written (queued, for Event)';

-- The numbers of a 2-D write matrix: no NULL (22023), finite and within float32 (22000), naming
-- the row and its key. Array operations, no per-number SQL.
CREATE OR REPLACE FUNCTION s3vl._check_array_numbers(caller text, keys text[], vectors float8[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  has_nan boolean;
  bad record;
BEGIN
  -- `x = ANY (array)` is NULL when nothing matches and an element is NULL.
  has_nan := 'NaN'::float8 = ANY (vectors);
  IF has_nan IS NULL THEN
    SELECT (o.n - 1) / pg_catalog.array_length(vectors, 2) + 1 AS i INTO bad
      FROM pg_catalog.unnest(vectors) WITH ORDINALITY AS o(x, n) WHERE o.x IS NULL
      ORDER BY o.n LIMIT 1;
    RAISE EXCEPTION '%: vectors row % (key "%") contains NULL', caller, bad.i, keys[bad.i]
      USING ERRCODE = '22023';
  END IF;
  IF has_nan OR 'Infinity'::float8 = ANY (vectors) OR '-Infinity'::float8 = ANY (vectors) THEN
    SELECT (o.n - 1) / pg_catalog.array_length(vectors, 2) + 1 AS i INTO bad
      FROM pg_catalog.unnest(vectors) WITH ORDINALITY AS o(x, n)
      WHERE o.x = 'NaN'::float8 OR o.x = 'Infinity'::float8 OR o.x = '-Infinity'::float8
      ORDER BY o.n LIMIT 1;
    RAISE EXCEPTION '%: vectors row % (key "%") must contain only finite numbers (NaN and '
      'Infinity are not allowed)', caller, bad.i, keys[bad.i] USING ERRCODE = '22000';
  END IF;
  -- The float4 cast checks every element in C; it also fails on values too small for float32,
  -- which S3 Vectors stores as 0, so only the exact test below decides.
  BEGIN
    PERFORM vectors::float4[];
  EXCEPTION WHEN numeric_value_out_of_range THEN
    SELECT (o.n - 1) / pg_catalog.array_length(vectors, 2) + 1 AS i INTO bad
      FROM pg_catalog.unnest(vectors) WITH ORDINALITY AS o(x, n)
      WHERE pg_catalog.abs(o.x) > s3vl._float32_max()
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: vectors row % (key "%") must contain only finite float32 values '
        '(|x| <= %)', caller, bad.i, keys[bad.i], s3vl._float32_max()::float4
        USING ERRCODE = '22000';
    END IF;
  END;
END
$$;

-- Raises the first problem of a put_vector_arrays input. The vectors are checked with array
-- operations (no per-number SQL); metadata as in _check_put_input.
CREATE OR REPLACE FUNCTION s3vl._check_put_arrays(caller text, index_arn text, keys text[],
  vectors float8[], metadata jsonb[], known_dimension integer, known_metric text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  n constant integer := pg_catalog.cardinality(keys);
  bad record;
  shape record;
BEGIN
  PERFORM s3vl._check_key_array(caller, keys);
  PERFORM s3vl._check_unique_keys(caller, keys, 'vector_ids element %s', 1);

  IF vectors IS NULL OR pg_catalog.array_ndims(vectors) IS DISTINCT FROM 2 THEN
    RAISE EXCEPTION '%: vectors must be a two-dimensional float8[] array, one row per key (got %)',
      caller, coalesce(pg_catalog.array_ndims(vectors)::text || ' dimension(s)', 'NULL')
      USING ERRCODE = '22023',
            HINT = 'array_agg(embedding ORDER BY id) over float8[] rows gives one; '
                   'for one vector use s3vl.put_vector.';
  END IF;
  IF pg_catalog.array_length(vectors, 1) <> n THEN
    RAISE EXCEPTION '%: vectors has % rows but vector_ids has % elements', caller,
      pg_catalog.array_length(vectors, 1), n USING ERRCODE = '22023';
  END IF;
  IF metadata IS NOT NULL AND (pg_catalog.array_ndims(metadata) IS DISTINCT FROM 1
                               OR pg_catalog.cardinality(metadata) <> n) THEN
    RAISE EXCEPTION '%: metadata must be NULL or a one-dimensional array with one element per key '
      '(got % elements for % keys)', caller, pg_catalog.cardinality(metadata), n
      USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._check_array_numbers(caller, keys, vectors);

  SELECT * INTO shape FROM s3vl._check_metadata_list(caller, index_arn, keys, metadata,
    'metadata element %s', 1, known_dimension, known_metric);
  IF pg_catalog.array_length(vectors, 2) <> shape.dimension THEN
    RAISE EXCEPTION '%: vectors has dimension % but the index has dimension %', caller,
      pg_catalog.array_length(vectors, 2), shape.dimension
      USING ERRCODE = '22000',
            HINT = 'Use an embedding model with the index dimension; see s3vl.get_index_info().';
  END IF;
  IF shape.distance_metric = 'cosine' THEN
    SELECT g.i INTO bad FROM pg_catalog.generate_subscripts(vectors, 1) AS g(i)
      WHERE 0 = ALL (vectors[g.i:g.i]) ORDER BY g.i LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: vectors row % (key "%") is all zeros, which a cosine index cannot store',
        caller, bad.i, keys[bad.i] USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;

-- Writes vectors given as parallel arrays, the form a table aggregates to:
--   SELECT s3vl.put_vector_arrays(array_agg(id ORDER BY id), array_agg(embedding ORDER BY id),
--            'my-index', array_agg(meta ORDER BY id)) FROM docs;
-- vector_ids text[], vectors a 2-D float8[] (one row per key), metadata jsonb[] or NULL. Same checks,
-- splitting and answer as put_vectors, without turning every number into jsonb: much faster for
-- large vectors. Returns how many were written (queued, for Event).
CREATE OR REPLACE FUNCTION s3vl.put_vector_arrays(
  vector_ids text[],
  vectors float8[],
  index_name text,
  metadata jsonb[] DEFAULT NULL,
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 1
AS $$
DECLARE
  caller constant text := 's3vl.put_vector_arrays';
  matrix_text text;
  data_rows text[];
  budget integer;
  target record;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  SELECT * INTO target FROM s3vl._resolve_index(caller, put_vector_arrays.index_name, NULL);
  PERFORM s3vl._check_put_arrays(caller, target.index_arn, vector_ids, vectors, metadata,
                                 target.dimension, target.distance_metric);
  -- The numbers go as float32 text (float4out, shortest exact form; extra_float_digits is pinned
  -- above): S3 Vectors stores float32, so nothing it keeps is lost, and the request is about
  -- half the size of float8 text. One to_json of the whole matrix is split into its rows (in a
  -- variable: inside the query below the split was several times slower).
  BEGIN
    matrix_text := pg_catalog.to_json(vectors::float4[])::text;
  EXCEPTION WHEN numeric_value_out_of_range THEN
    -- Values too small for float32 (S3 Vectors stores 0; validation has ruled out too large
    -- ones): this input goes as float8 text.
    matrix_text := pg_catalog.to_json(vectors)::text;
  END;
  data_rows := pg_catalog.string_to_array(
    pg_catalog.substr(matrix_text, 3, pg_catalog.length(matrix_text) - 4), '],[');
  matrix_text := NULL;
  -- unnest of several arrays walks them side by side (subscripting a jsonb[] or text[] per row
  -- would scan it from the start every time); multi-argument unnest is FROM-clause syntax, it
  -- cannot be schema-qualified.
  RETURN s3vl._write_in_parts(caller, 'put_vectors', target.index_arn, 'vectors',
    ARRAY(SELECT '{"key":' || pg_catalog.to_json(r.k)::text || ',"data":[' || r.t || ']'
                 || CASE WHEN r.md IS NULL OR pg_catalog.jsonb_typeof(r.md) = 'null'
                         THEN '' ELSE ',"metadata":' || r.md::text END
                 || '}'
          FROM unnest(vector_ids, data_rows, coalesce(metadata, pg_catalog.array_fill(
                        NULL::jsonb, ARRAY[pg_catalog.cardinality(vector_ids)])))
                 WITH ORDINALITY AS r(k, t, md, i)
          ORDER BY r.i),
    budget, invocation_type, 'written');
END
$$;
COMMENT ON FUNCTION s3vl.put_vector_arrays(text[],double precision[],text,jsonb[],text) IS
  's3vl: the number of vectors written from parallel arrays (queued, for Event)';

-- One vector: s3vl.put_vector('doc-1', ARRAY[...]::float8[], 'my-index', '{"genre": "news"}').
CREATE OR REPLACE FUNCTION s3vl.put_vector(
  vector_id text,
  vector float8[],
  index_name text,
  metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.put_vector', 'vector_id', vector_id);
  PERFORM s3vl._check_range('s3vl.put_vector', 'vector_id length', pg_catalog.length(vector_id),
                            'vector_id_length');
  PERFORM s3vl._check_vector('s3vl.put_vector', 'vector', vector);
  IF pg_catalog.jsonb_typeof(metadata) NOT IN ('object', 'null') THEN
    RAISE EXCEPTION 's3vl.put_vector: metadata must be a JSON object (got a JSON %)',
      pg_catalog.jsonb_typeof(metadata) USING ERRCODE = '22023';
  END IF;
  -- Metadata is added only when given (jsonb_strip_nulls would also drop null values inside it).
  RETURN s3vl._put_vectors('s3vl.put_vector', pg_catalog.jsonb_build_array(
    pg_catalog.jsonb_build_object('key', vector_id, 'data', pg_catalog.to_jsonb(vector))
    || CASE WHEN metadata IS NULL THEN '{}'::jsonb
            ELSE pg_catalog.jsonb_build_object('metadata', metadata) END),
    index_name, 'RequestResponse');
END
$$;
COMMENT ON FUNCTION s3vl.put_vector(text,double precision[],text,jsonb) IS
  's3vl: 1 once the vector is written';

-- Deletes keys (any count; repeats are sent once) and returns how many distinct keys were sent
-- (S3 Vectors does not say which existed).
CREATE OR REPLACE FUNCTION s3vl.delete_vectors(
  vector_ids text[],
  index_name text,
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.delete_vectors';
  budget integer;
  target record;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  PERFORM s3vl._check_key_array(caller, vector_ids);
  SELECT * INTO target FROM s3vl._resolve_index(caller, delete_vectors.index_name, NULL);
  -- A key given twice is sent once, at its first position.
  RETURN s3vl._write_in_parts(caller, 'delete_vectors', target.index_arn, 'keys',
    ARRAY(SELECT pg_catalog.to_json(d.k)::text
          FROM (SELECT o.k, min(o.n) AS n
                FROM pg_catalog.unnest(vector_ids) WITH ORDINALITY AS o(k, n)
                GROUP BY o.k) AS d
          ORDER BY d.n),
    budget, invocation_type, 'deleted');
END
$$;
COMMENT ON FUNCTION s3vl.delete_vectors(text[],text,text) IS
  's3vl: the number of distinct keys sent for deletion';

-- ==== 30_api/65_batch.sql
-- query_vectors_batch: many similarity searches in one statement and as few invocations as the
-- batch limit (100 queries) and the payload limit allow; inside the function the QueryVectors
-- calls run concurrently. ordinal is 1-based, as PostgreSQL arrays and WITH ORDINALITY are.
-- Cached answers (sql/20_transport/52_cache.sql) are used per query; only the misses are sent.

-- Row i of a 2-D array as a 1-D array.
CREATE OR REPLACE FUNCTION s3vl._array_row(matrix float8[], i integer)
RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY(SELECT pg_catalog.unnest(matrix[i:i][:])) $$;

-- The arguments of a batch apart from the vectors' values; returns the number of queries.
CREATE OR REPLACE FUNCTION s3vl._batch_check(caller text, query_vectors float8[],
  query_ids text[], top_k integer, metadata_filter jsonb, return_metadata boolean)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  n integer;
BEGIN
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  IF query_vectors IS NULL OR pg_catalog.array_ndims(query_vectors) <> 2 THEN
    RAISE EXCEPTION '%: query_vectors must be a two-dimensional array, one query vector per row '
      '(got %)', caller, coalesce(pg_catalog.array_ndims(query_vectors)::text || ' dimensions',
                                   'NULL')
      USING ERRCODE = '22023',
            HINT = 'For example ARRAY[[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]::float8[], or a jsonb '
                   'array of arrays.';
  END IF;
  n := pg_catalog.array_length(query_vectors, 1);
  IF query_ids IS NOT NULL AND (pg_catalog.cardinality(query_ids) <> n
                                OR pg_catalog.array_position(query_ids, NULL) IS NOT NULL) THEN
    RAISE EXCEPTION '%: query_ids must have one non-NULL id per query vector (% ids for % '
      'vectors)', caller, pg_catalog.cardinality(query_ids), n USING ERRCODE = '22023';
  END IF;
  RETURN n;
END
$$;

-- Sends one invocation of the queries `members` (positions in query_vectors; `request` their
-- JSON) and returns `answers` with theirs filled in and cached. A failed query fails the call.
CREATE OR REPLACE FUNCTION s3vl._batch_send(caller text, index_arn text, request json,
  members integer[], query_vectors float8[], top_k integer, metadata_filter jsonb,
  return_metadata boolean, answers jsonb[])
RETURNS jsonb[]
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  answer constant jsonb := s3vl._expect_array(caller, s3vl._invoke(caller, request),
                                              'batch results');
  entry record;
  qi integer;
BEGIN
  IF pg_catalog.jsonb_array_length(answer) <> pg_catalog.cardinality(members) THEN
    RAISE EXCEPTION '%: the Lambda function answered % batch entries for % queries', caller,
      pg_catalog.jsonb_array_length(answer), pg_catalog.cardinality(members)
      USING ERRCODE = 'SV007';
  END IF;
  FOR entry IN SELECT e.value, e.n FROM pg_catalog.jsonb_array_elements(answer)
               WITH ORDINALITY AS e(value, n) LOOP
    qi := members[entry.n];
    IF NOT coalesce((entry.value ->> 'success')::boolean, false) THEN
      PERFORM s3vl._raise_envelope_error(format('%s: query_vectors[%s]', caller, qi),
        pg_catalog.jsonb_build_object('success', false, 'error', entry.value -> 'error'));
    END IF;
    answers[qi] := s3vl._expect_array(caller, entry.value -> 'results', 'query results');
    PERFORM s3vl._cache_put(caller, index_arn, s3vl._array_row(query_vectors, qi), top_k,
                            metadata_filter, return_metadata, answers[qi]);
  END LOOP;
  RETURN answers;
END
$$;

CREATE OR REPLACE FUNCTION s3vl._query_batch(caller text, index_name text,
  query_vectors float8[], query_ids text[], top_k integer, metadata_filter jsonb,
  return_metadata boolean)
RETURNS TABLE (ordinal integer, query_id text, vector_id text, distance float8,
               similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  n constant integer := s3vl._batch_check(caller, query_vectors, query_ids, top_k,
                                          metadata_filter, return_metadata);
  max_batch constant integer := s3vl._limit('batch_queries');
  budget constant integer := s3vl._payload_budget(caller, 'RequestResponse');
  target record;
  vec float8[];
  answers jsonb[];
  members integer[] := '{}'::integer[];
  pieces text[] := '{}'::text[];
  piece text;
  piece_bytes bigint := 0;
  head text;
BEGIN
  SELECT * INTO target FROM s3vl._resolve_index(caller, index_name, NULL);
  answers := pg_catalog.array_fill(NULL::jsonb, ARRAY[n]);
  FOR i IN 1 .. n LOOP
    vec := s3vl._array_row(query_vectors, i);
    PERFORM s3vl._check_vector(caller, format('query_vectors[%s]', i), vec, target.dimension);
    answers[i] := s3vl._cache_get(caller, target.index_arn, vec, top_k, metadata_filter,
                                  return_metadata);
  END LOOP;
  head := pg_catalog.json_build_object('operation', 'query_vectors_batch',
    'index_arn', target.index_arn, 'top_k', top_k, 'return_metadata', return_metadata,
    'metadata_filter', metadata_filter)::text;
  head := pg_catalog.left(head, -1) || ', "query_vectors": [';
  FOR i IN 1 .. n + 1 LOOP
    CONTINUE WHEN i <= n AND answers[i] IS NOT NULL;
    IF i <= n THEN
      piece := pg_catalog.array_to_json(s3vl._array_row(query_vectors, i))::text;
    END IF;
    -- Send the pending queries when the batch is full, the payload would pass the budget, or
    -- every query has been seen.
    IF pg_catalog.cardinality(members) > 0
       AND (i > n OR pg_catalog.cardinality(members) = max_batch
            OR piece_bytes + pg_catalog.octet_length(piece) + 1 > budget) THEN
      answers := s3vl._batch_send(caller, target.index_arn,
        (head || pg_catalog.array_to_string(pieces, ',') || ']}')::json, members, query_vectors,
        top_k, metadata_filter, return_metadata, answers);
      members := '{}';
      pieces := '{}';
      piece_bytes := 0;
    END IF;
    EXIT WHEN i > n;
    members := members || i;
    pieces := pieces || piece;
    piece_bytes := piece_bytes + pg_catalog.octet_length(piece) + 1;
  END LOOP;
  RETURN QUERY SELECT * FROM s3vl._batch_rows(caller, answers, query_ids);
END
$$;

-- The rows of a batch's answers, per query in the service's order; a malformed entry is SV007.
CREATE OR REPLACE FUNCTION s3vl._batch_rows(caller text, answers jsonb[], query_ids text[])
RETURNS TABLE (ordinal integer, query_id text, vector_id text, distance float8,
               similarity_score float8, metadata jsonb)
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  RETURN QUERY
    SELECT q.n::integer, query_ids[q.n], r.value ->> 'vector_id',
           (r.value ->> 'distance')::float8, (r.value ->> 'similarity_score')::float8,
           coalesce(r.value -> 'metadata', '{}'::jsonb)
    FROM pg_catalog.unnest(answers) WITH ORDINALITY AS q(a, n),
         LATERAL pg_catalog.jsonb_array_elements(q.a) WITH ORDINALITY AS r(value, k)
    ORDER BY q.n, r.k;
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  RAISE EXCEPTION '%: the Lambda function answered a malformed query result: %', caller,
    SQLERRM USING ERRCODE = 'SV007';
END
$$;

-- Query vectors as the rows of a 2-D float8[], with optional ids echoed as query_id.
CREATE OR REPLACE FUNCTION s3vl.query_vectors_batch(
  query_vectors float8[],
  index_name text,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true,
  query_ids text[] DEFAULT NULL)
RETURNS TABLE (ordinal integer, query_id text, vector_id text, distance float8,
               similarity_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM s3vl._query_batch('s3vl.query_vectors_batch', index_name, query_vectors,
                                  query_ids, top_k, metadata_filter, return_metadata)
$$;
COMMENT ON FUNCTION s3vl.query_vectors_batch(double precision[],text,integer,jsonb,boolean,text[]) IS
  's3vl: the top_k nearest vectors of each row of query_vectors, with its ordinal and query_id';

-- The vector of one element of a jsonb batch: a number array, or {"id": ..., "vector": [...]}.
CREATE OR REPLACE FUNCTION s3vl._batch_element_vector(element jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE pg_catalog.jsonb_typeof(element) WHEN 'object' THEN element -> 'vector'
              ELSE element END
$$;

-- A jsonb batch as the 2-D array and ids _query_batch takes, every element checked.
CREATE OR REPLACE FUNCTION s3vl._batch_matrix(caller text, query_vectors jsonb,
  OUT matrix float8[], OUT ids text[])
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  bad record;
BEGIN
  IF query_vectors IS NULL OR pg_catalog.jsonb_typeof(query_vectors) <> 'array'
     OR pg_catalog.jsonb_array_length(query_vectors) = 0 THEN
    RAISE EXCEPTION '%: query_vectors must be a non-empty JSON array of vectors', caller
      USING ERRCODE = '22023',
            HINT = 'For example ''[[0.1, 0.2], [0.3, 0.4]]'' or ''[{"id": "a", "vector": [0.1, 0.2]}]''.';
  END IF;
  SELECT e.n, e.v INTO bad
    FROM pg_catalog.jsonb_array_elements(query_vectors) WITH ORDINALITY AS e(v, n)
    WHERE pg_catalog.jsonb_typeof(s3vl._batch_element_vector(e.v)) IS DISTINCT FROM 'array'
       OR pg_catalog.jsonb_path_exists(s3vl._batch_element_vector(e.v),
                                       '$[*] ? (@.type() != "number")')
       OR pg_catalog.jsonb_typeof(e.v -> 'id') NOT IN ('string', 'number')
       OR pg_catalog.jsonb_array_length(s3vl._batch_element_vector(e.v))
          <> pg_catalog.jsonb_array_length(s3vl._batch_element_vector(query_vectors -> 0))
    ORDER BY e.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: query_vectors[%] must be an array of numbers (or {"id", "vector"}) as '
      'long as the first one', caller, bad.n
      USING ERRCODE = CASE WHEN pg_catalog.jsonb_typeof(bad.v) = 'array'
                            AND NOT pg_catalog.jsonb_path_exists(bad.v,
                                  '$[*] ? (@.type() != "number")')
                           THEN '22000' ELSE '22023' END,
            DETAIL = 'got: ' || pg_catalog.left(bad.v::text, 200);
  END IF;
  SELECT pg_catalog.array_agg(s3vl._float8_array(s3vl._batch_element_vector(e.v)) ORDER BY e.n),
         pg_catalog.array_agg(e.v ->> 'id' ORDER BY e.n)
    INTO matrix, ids
    FROM pg_catalog.jsonb_array_elements(query_vectors) WITH ORDINALITY AS e(v, n);
  IF EXISTS (SELECT 1 FROM pg_catalog.unnest(ids) AS x(id) WHERE x.id IS NULL) THEN
    IF EXISTS (SELECT 1 FROM pg_catalog.unnest(ids) AS x(id) WHERE x.id IS NOT NULL) THEN
      RAISE EXCEPTION '%: give an "id" for every query vector or for none', caller
        USING ERRCODE = '22023';
    END IF;
    ids := NULL;
  END IF;
END
$$;

-- Query vectors as a jsonb array whose elements are number arrays or {"id": ..., "vector": [...]}.
CREATE OR REPLACE FUNCTION s3vl.query_vectors_batch(
  query_vectors jsonb,
  index_name text,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (ordinal integer, query_id text, vector_id text, distance float8,
               similarity_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT q.* FROM s3vl._batch_matrix('s3vl.query_vectors_batch', query_vectors) AS m,
    LATERAL s3vl._query_batch('s3vl.query_vectors_batch', index_name, m.matrix, m.ids, top_k,
                              metadata_filter, return_metadata) AS q
$$;
COMMENT ON FUNCTION s3vl.query_vectors_batch(jsonb,text,integer,jsonb,boolean) IS
  's3vl: the top_k nearest vectors of each element of query_vectors, with its ordinal and id';

-- ==== 30_api/68_partitions.sql
-- Partitioned logical indexes (docs/partitions.md): one registered name over several S3 Vectors
-- indexes. The name is registered in s3vl.index_registry with a logical identifier
-- ('s3vl:partitioned:<name>') in place of an index ARN, so every function that resolves an index
-- name (reads, writes, search, where, batch, sync, policies, grants, the cache) resolves it as
-- usual; s3vl._send_lambda, the one place that calls the function, turns a request for that
-- identifier into a request naming the partitions (docs/protocol.md, "Partitioned requests").
-- The function fans out, routes and merges.

-- The partitioned index a public function names (locked for the change), or 42704.
CREATE OR REPLACE FUNCTION s3vl._partitioned_target(caller text, index_name text)
RETURNS s3vl.partitioned_indexes
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  chosen s3vl.partitioned_indexes;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  SELECT p.* INTO chosen FROM s3vl.partitioned_indexes p
    JOIN s3vl.index_registry r ON r.index_name = p.index_name
                              AND r.index_arn = s3vl._partitioned_id(p.index_name)
    WHERE p.index_name = _partitioned_target.index_name
    FOR UPDATE OF p;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: "%" is not a partitioned index', caller,
      pg_catalog.left(index_name, 100) USING ERRCODE = '42704',
      HINT = 'Create one with SELECT s3vl.create_partitioned_index(<index_name>).';
  END IF;
  RETURN chosen;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.create_partitioned_index(index_name text,
  partition_key text DEFAULT NULL, description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.create_partitioned_index';
BEGIN
  PERFORM s3vl._check_registry_name(caller, index_name);
  IF partition_key IS NOT NULL AND (pg_catalog.length(partition_key) NOT BETWEEN 1 AND
       s3vl._limit('metadata_key_length') OR partition_key LIKE '$%') THEN
    RAISE EXCEPTION '%: partition_key must be a metadata key of 1 to % characters, not an '
                    'operator (got %)', caller, s3vl._limit('metadata_key_length'),
      pg_catalog.to_jsonb(partition_key) USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM s3vl.index_registry r
             WHERE r.index_name = create_partitioned_index.index_name) THEN
    RAISE EXCEPTION '%: index "%" is already registered', caller, index_name
      USING ERRCODE = '42710', HINT = 'Pick another name, or s3vl.unregister_index it first.';
  END IF;
  -- A logical index unregistered earlier leaves its partition list behind: start afresh.
  DELETE FROM s3vl.partitioned_indexes p WHERE p.index_name = create_partitioned_index.index_name;
  INSERT INTO s3vl.partitioned_indexes (index_name, partition_key)
    VALUES (create_partitioned_index.index_name, create_partitioned_index.partition_key);
  INSERT INTO s3vl.index_registry (index_name, index_arn, description, bucket_name, region,
                                   account_id, is_active)
    VALUES (create_partitioned_index.index_name,
            s3vl._partitioned_id(create_partitioned_index.index_name),
            create_partitioned_index.description, '', '', '', true);
END
$$;
COMMENT ON FUNCTION s3vl.create_partitioned_index(text, text, text) IS
  's3vl: nothing; registers index_name as a logical index spread over partitions (by key hash, '
  'or by the value of partition_key)';

-- The checks of add_partition before GetIndex: a partition value only for value partitions,
-- none added to hash partitions written through, no index twice, one partition per value, at
-- most the partitions limit.
CREATE OR REPLACE FUNCTION s3vl._check_new_partition(caller text,
  target s3vl.partitioned_indexes, index_arn text, partition_value text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM s3vl._check_index_arn(caller, 'index_arn', index_arn);
  IF target.partition_key IS NULL AND partition_value IS NOT NULL THEN
    RAISE EXCEPTION '%: "%" is hash-partitioned; its partitions take no partition_value', caller,
      target.index_name USING ERRCODE = '22023';
  END IF;
  IF partition_value IS NOT NULL AND pg_catalog.length(partition_value) = 0 THEN
    RAISE EXCEPTION '%: partition_value must not be empty (NULL adds the default partition)',
      caller USING ERRCODE = '22023';
  END IF;
  IF target.partition_key IS NULL AND target.vectors_written THEN
    RAISE EXCEPTION '%: the hash partitions of "%" are fixed: vectors were written through it',
      caller, target.index_name USING ERRCODE = '55000',
      HINT = 'Adding a partition would move keys to other partitions. Re-spread instead: create '
             'a new partitioned index with the partitions you want, copy the vectors into it '
             '(s3vl.scan_vectors + s3vl.put_vectors, or s3vl.track_table + s3vl.sync), then use '
             'the new name. See docs/partitions.md.';
  END IF;
  IF EXISTS (SELECT 1 FROM s3vl.index_partitions p
             WHERE p.index_name = target.index_name
               AND p.index_arn = _check_new_partition.index_arn) THEN
    RAISE EXCEPTION '%: index % is already a partition of "%"', caller, index_arn,
      target.index_name USING ERRCODE = '42710';
  END IF;
  IF target.partition_key IS NOT NULL AND EXISTS (
       SELECT 1 FROM s3vl.index_partitions p
       WHERE p.index_name = target.index_name
         AND p.partition_value IS NOT DISTINCT FROM _check_new_partition.partition_value) THEN
    RAISE EXCEPTION '%: "%" already has a % partition', caller, target.index_name,
      coalesce('"' || partition_value || '"', 'default') USING ERRCODE = '42710';
  END IF;
  IF (SELECT pg_catalog.count(*) FROM s3vl.index_partitions p
      WHERE p.index_name = target.index_name) >= s3vl._limit('partitions') THEN
    RAISE EXCEPTION '%: "%" has % partitions already, the most one logical index may have',
      caller, target.index_name, s3vl._limit('partitions') USING ERRCODE = '22023',
      HINT = 'See SELECT * FROM s3vl.limits().';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.add_partition(index_name text, index_arn text,
  partition_value text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.add_partition';
  target s3vl.partitioned_indexes;
  reg record;
  info jsonb;
  next_ordinal integer;
BEGIN
  target := s3vl._partitioned_target(caller, index_name);
  PERFORM s3vl._check_new_partition(caller, target, index_arn, partition_value);
  info := s3vl._invoke(caller, s3vl._get_index_request(index_arn));
  SELECT r.dimension, r.distance_metric INTO reg FROM s3vl.index_registry r
    WHERE r.index_name = add_partition.index_name;
  IF reg.dimension IS NOT NULL AND ((info ->> 'dimension')::integer IS DISTINCT FROM reg.dimension
       OR info ->> 'distance_metric' IS DISTINCT FROM reg.distance_metric) THEN
    RAISE EXCEPTION '%: index % has dimension % and metric %, but the partitions of "%" have '
                    'dimension % and metric %', caller, index_arn, info ->> 'dimension',
      info ->> 'distance_metric', index_name, reg.dimension, reg.distance_metric
      USING ERRCODE = '22023', HINT = 'Every partition needs the same dimension and metric.';
  END IF;
  SELECT coalesce(max(p.ordinal) + 1, 0) INTO next_ordinal FROM s3vl.index_partitions p
    WHERE p.index_name = add_partition.index_name;
  INSERT INTO s3vl.index_partitions (index_name, index_arn, partition_value, ordinal)
    VALUES (add_partition.index_name, add_partition.index_arn, add_partition.partition_value,
            next_ordinal);
  UPDATE s3vl.index_registry r SET dimension = (info ->> 'dimension')::integer,
                                  distance_metric = info ->> 'distance_metric'
    WHERE r.index_name = add_partition.index_name AND r.dimension IS NULL;
  PERFORM s3vl._cache_invalidate(s3vl._partitioned_id(index_name));
  RETURN next_ordinal;
END
$$;
COMMENT ON FUNCTION s3vl.add_partition(text, text, text) IS
  's3vl: the ordinal of index_arn, added as a partition of index_name (same dimension and '
  'metric, checked with GetIndex)';

CREATE OR REPLACE FUNCTION s3vl.drop_partition(index_name text, index_arn text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.drop_partition';
  target s3vl.partitioned_indexes;
  dropped integer;
BEGIN
  target := s3vl._partitioned_target(caller, index_name);
  PERFORM s3vl._require(caller, 'index_arn', index_arn);
  IF target.partition_key IS NULL AND target.vectors_written THEN
    RAISE EXCEPTION '%: the hash partitions of "%" are fixed: vectors were written through it',
      caller, index_name USING ERRCODE = '55000',
      HINT = 'Dropping one would lose its keys and move others. Re-spread into a new '
             'partitioned index instead (docs/partitions.md).';
  END IF;
  DELETE FROM s3vl.index_partitions p
    WHERE p.index_name = drop_partition.index_name AND p.index_arn = drop_partition.index_arn
    RETURNING p.ordinal INTO dropped;
  IF dropped IS NULL THEN
    RAISE EXCEPTION '%: index % is not a partition of "%"', caller,
      pg_catalog.left(index_arn, 200), index_name USING ERRCODE = '42704',
      HINT = pg_catalog.format('SELECT * FROM s3vl.list_partitions(%L) lists them.', index_name);
  END IF;
  IF target.partition_key IS NULL THEN
    -- Hash partitions stay numbered 0..n-1 (the function routes by key hash modulo n).
    UPDATE s3vl.index_partitions p SET ordinal = p.ordinal - 1
      WHERE p.index_name = drop_partition.index_name AND p.ordinal > dropped;
  END IF;
  PERFORM s3vl._cache_invalidate(s3vl._partitioned_id(index_name));
END
$$;
COMMENT ON FUNCTION s3vl.drop_partition(text, text) IS
  's3vl: nothing; removes index_arn from the partitions of index_name (its vectors stay in that '
  'index)';

CREATE OR REPLACE FUNCTION s3vl.list_partitions(index_name text)
RETURNS TABLE (index_arn text, partition_value text, ordinal integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.list_partitions', 'index_name', index_name);
  IF NOT EXISTS (SELECT 1 FROM s3vl.partitioned_indexes p
                 WHERE p.index_name = list_partitions.index_name) THEN
    RAISE EXCEPTION 's3vl.list_partitions: "%" is not a partitioned index',
      pg_catalog.left(index_name, 100) USING ERRCODE = '42704';
  END IF;
  RETURN QUERY SELECT p.index_arn, p.partition_value, p.ordinal
    FROM s3vl.index_partitions p WHERE p.index_name = list_partitions.index_name
    ORDER BY p.ordinal;
END
$$;
COMMENT ON FUNCTION s3vl.list_partitions(text) IS
  's3vl: one row per partition of index_name: index ARN, partition value (NULL: default or '
  'hash), ordinal';

-- ==== 30_api/70_manage.sql
-- Vectors managed by filter (count_vectors, list_vectors_where, delete_vectors_where) and metadata
-- patched in place (update_metadata). S3 Vectors has no count, filtered list, delete by filter or
-- metadata-only update: the function does each in bounded invocations (docs/protocol.md,
-- filter_vectors and update_metadata) and these functions loop over them. Every invocation goes
-- through s3vl._invoke, so vector policies and index grants apply (20_transport/45_policies.sql):
-- a bound role's policy is ANDed into metadata_filter, and its patches are checked.

-- The filter_vectors request (docs/protocol.md).
CREATE OR REPLACE FUNCTION s3vl._filter_request(index_arn text, action text,
  metadata_filter jsonb, return_metadata boolean, segment_count integer, page_size integer,
  time_budget_ms integer, resume_token text)
RETURNS json
LANGUAGE sql IMMUTABLE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'filter_vectors', 'index_arn', index_arn,
    'action', action, 'metadata_filter', metadata_filter, 'return_metadata', return_metadata,
    'segment_count', segment_count, 'page_size', page_size, 'time_budget_ms', time_budget_ms,
    'resume_token', resume_token)
$$;

-- The update_metadata request (docs/protocol.md).
CREATE OR REPLACE FUNCTION s3vl._update_metadata_request(index_arn text, vector_ids text[],
                                                        patch jsonb)
RETURNS json
LANGUAGE sql IMMUTABLE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'update_metadata', 'index_arn', index_arn,
    'vector_ids', pg_catalog.to_json(vector_ids), 'patch', patch)
$$;

-- How long one filter_vectors invocation reads: a third of timeout_seconds (the page in flight,
-- its deletes and the answer must fit in the rest), at most 5 s so progress shows at that pace.
CREATE OR REPLACE FUNCTION s3vl._manage_budget_ms(caller text)
RETURNS integer
LANGUAGE sql STABLE
AS $$
  SELECT GREATEST(100, LEAST(5000, c.timeout_seconds * 1000 / 3))::integer
  FROM s3vl._config(caller) c
$$;

-- A metadata_filter for count/list/delete: NULL (every vector) or a non-empty object.
CREATE OR REPLACE FUNCTION s3vl._check_manage_filter(caller text, metadata_filter jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF metadata_filter = '{}'::jsonb THEN
    RAISE EXCEPTION '%: metadata_filter must not be an empty object', caller
      USING ERRCODE = '22023', HINT = 'Pass NULL for every vector.';
  END IF;
  PERFORM s3vl._check_filter(caller, metadata_filter);
END
$$;

-- Runs filter_vectors invocations until the index is read to its end, one answer (jsonb) per
-- invocation. Long runs report progress: one NOTICE per invocation that leaves work to do (at
-- most every _manage_budget_ms). segment_count, page_size and budget_ms are for tests and
-- benchmarks; the public functions use the defaults.
CREATE OR REPLACE FUNCTION s3vl._vectors_where(caller text, index_arn text, action text,
  metadata_filter jsonb, return_metadata boolean, segment_count integer DEFAULT 8,
  page_size integer DEFAULT 1000, budget_ms integer DEFAULT NULL)
RETURNS SETOF jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  answer jsonb;
  token text;
  started constant timestamptz := pg_catalog.clock_timestamp();
  examined bigint := 0;
  matched bigint := 0;
  deleted bigint := 0;
  seconds double precision;
BEGIN
  budget_ms := coalesce(budget_ms, s3vl._manage_budget_ms(caller));
  LOOP
    answer := s3vl._invoke(caller, s3vl._filter_request(index_arn, action, metadata_filter,
      return_metadata, segment_count, page_size, budget_ms, token));
    IF pg_catalog.jsonb_typeof(answer) IS DISTINCT FROM 'object'
       OR pg_catalog.jsonb_typeof(answer -> 'examined') IS DISTINCT FROM 'number' THEN
      RAISE EXCEPTION '%: the Lambda function answered filter_vectors without counts', caller
        USING ERRCODE = 'SV007';
    END IF;
    RETURN NEXT answer;
    EXIT WHEN answer ->> 'resume_token' IS NULL;
    IF (answer ->> 'examined')::bigint = 0 AND answer ->> 'resume_token' = token THEN
      RAISE EXCEPTION '%: the Lambda function made no progress (same resume token, nothing read)',
        caller USING ERRCODE = 'SV007';
    END IF;
    token := answer ->> 'resume_token';
    examined := examined + (answer ->> 'examined')::bigint;
    matched := matched + (answer ->> 'matched')::bigint;
    deleted := deleted + (answer ->> 'deleted')::bigint;
    seconds := GREATEST(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - started),
                        0.001);
    RAISE NOTICE '%: % vectors examined, % matched%, % vectors/s so far', caller, examined,
      matched, CASE WHEN action = 'delete' THEN ', ' || deleted || ' deleted' ELSE '' END,
      pg_catalog.round((examined / seconds)::numeric);
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.count_vectors(index_name text, metadata_filter jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.count_vectors';
  target record;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  PERFORM s3vl._check_manage_filter(caller, metadata_filter);
  SELECT * INTO target FROM s3vl._resolve_index(caller, count_vectors.index_name, NULL);
  RETURN (SELECT coalesce(sum((a ->> 'matched')::bigint), 0)
          FROM s3vl._vectors_where(caller, target.index_arn, 'count', metadata_filter, false) a);
END
$$;
COMMENT ON FUNCTION s3vl.count_vectors(text, jsonb) IS
  's3vl: how many vectors of the index match metadata_filter (every vector when NULL)';

CREATE OR REPLACE FUNCTION s3vl.list_vectors_where(index_name text, metadata_filter jsonb,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.list_vectors_where';
  target record;
  answer jsonb;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_manage_filter(caller, metadata_filter);
  SELECT * INTO target FROM s3vl._resolve_index(caller, list_vectors_where.index_name, NULL);
  FOR answer IN SELECT a FROM s3vl._vectors_where(caller, target.index_arn, 'list',
                                                  metadata_filter, return_metadata) a LOOP
    RETURN QUERY
      SELECT e.value ->> 'vector_id',
             CASE WHEN return_metadata THEN coalesce(e.value -> 'metadata', '{}'::jsonb) END
      FROM pg_catalog.jsonb_array_elements(s3vl._expect_array(caller, answer -> 'vectors',
                                                               'vectors')) AS e(value);
  END LOOP;
END
$$;
COMMENT ON FUNCTION s3vl.list_vectors_where(text, jsonb, boolean) IS
  's3vl: the vectors (vector_id, metadata) of the index that match metadata_filter, in no order';

CREATE OR REPLACE FUNCTION s3vl.delete_vectors_where(index_name text, metadata_filter jsonb,
  dry_run boolean DEFAULT true, delete_all boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.delete_vectors_where';
  target record;
  total bigint;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  PERFORM s3vl._require(caller, 'dry_run', dry_run);
  PERFORM s3vl._require(caller, 'delete_all', delete_all);
  IF NOT delete_all AND (metadata_filter IS NULL OR metadata_filter = '{}'::jsonb) THEN
    RAISE EXCEPTION '%: metadata_filter is required (NULL or {} would delete every vector)',
      caller USING ERRCODE = '22023',
      HINT = 'To delete every vector of the index, pass metadata_filter => NULL, '
             'delete_all => true.';
  END IF;
  IF delete_all AND metadata_filter IS NOT NULL AND metadata_filter <> '{}'::jsonb THEN
    RAISE EXCEPTION '%: give either a metadata_filter or delete_all => true, not both', caller
      USING ERRCODE = '22023';
  END IF;
  IF delete_all THEN
    metadata_filter := NULL;
  END IF;
  PERFORM s3vl._check_filter(caller, metadata_filter);
  SELECT * INTO target FROM s3vl._resolve_index(caller, delete_vectors_where.index_name, NULL);
  -- Deleting is idempotent: a run that was interrupted is finished by running it again.
  SELECT coalesce(sum((a ->> CASE WHEN dry_run THEN 'matched' ELSE 'deleted' END)::bigint), 0)
    INTO total
    FROM s3vl._vectors_where(caller, target.index_arn,
                             CASE WHEN dry_run THEN 'count' ELSE 'delete' END,
                             metadata_filter, false) a;
  IF NOT dry_run THEN
    PERFORM s3vl._cache_invalidate(target.index_arn);  -- cached answers may hold deleted vectors
  END IF;
  RETURN total;
END
$$;
COMMENT ON FUNCTION s3vl.delete_vectors_where(text, jsonb, boolean, boolean) IS
  's3vl: deletes the vectors that match metadata_filter (only counts them while dry_run) and '
  'returns how many';

CREATE OR REPLACE FUNCTION s3vl.update_metadata(vector_ids text[], patch jsonb, index_name text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.update_metadata';
  per_call constant integer := s3vl._limit('invocation_items');
  target record;
  ids text[];
  answer jsonb;
  updated integer := 0;
  missing jsonb := '[]'::jsonb;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  IF patch IS NULL OR pg_catalog.jsonb_typeof(patch) <> 'object' THEN
    RAISE EXCEPTION '%: patch must be a JSON object (an RFC 7396 merge patch; got %)', caller,
      coalesce(pg_catalog.jsonb_typeof(patch), 'NULL')
      USING ERRCODE = '22023', HINT = 'For example ''{"status": "done", "draft": null}''.';
  END IF;
  PERFORM s3vl._check_key_array(caller, vector_ids);
  SELECT * INTO target FROM s3vl._resolve_index(caller, update_metadata.index_name, NULL);
  -- A repeated id is patched once; invocation_items ids per invocation, each all or nothing.
  FOR ids IN SELECT pg_catalog.array_agg(d.k ORDER BY d.first)
             FROM (SELECT o.k, min(o.n) AS first
                   FROM pg_catalog.unnest(vector_ids) WITH ORDINALITY AS o(k, n) GROUP BY o.k) d
             GROUP BY (d.first - 1) / per_call ORDER BY (d.first - 1) / per_call LOOP
    answer := s3vl._invoke(caller, s3vl._update_metadata_request(target.index_arn, ids, patch));
    IF pg_catalog.jsonb_typeof(answer -> 'updated') IS DISTINCT FROM 'number' THEN
      RAISE EXCEPTION '%: the Lambda function answered update_metadata without a count', caller
        USING ERRCODE = 'SV007';
    END IF;
    updated := updated + (answer ->> 'updated')::integer;
    missing := missing || coalesce(answer -> 'missing', '[]'::jsonb);
  END LOOP;
  PERFORM s3vl._cache_invalidate(target.index_arn);  -- cached answers carry the old metadata
  IF pg_catalog.jsonb_array_length(missing) > 0 THEN
    RAISE NOTICE '%: % of the vector_ids are not in the index and were not patched (first: %)',
      caller, pg_catalog.jsonb_array_length(missing), missing -> 0;
  END IF;
  RETURN updated;
END
$$;
COMMENT ON FUNCTION s3vl.update_metadata(text[], jsonb, text) IS
  's3vl: applies a JSON merge patch (RFC 7396) to the metadata of the vectors; returns how many '
  'were patched';

-- ==== 30_api/72_embeddings.sql
-- Text in, rows out: embeddings made by the Lambda function with the index's Amazon Bedrock model
-- (docs/embeddings.md). An s3vl_admin sets the model of an index (s3vl.set_embedding_model);
-- s3vl.embed turns texts into vectors (one invocation, the `embed` operation), semantic_search and
-- semantic_hybrid_search send the phrase itself (`query_text` on query_vectors: embedded and
-- queried in the same invocation). Every request passes the chokepoint s3vl._call_lambda, so
-- policies and index grants apply; single-text embeddings and semantic searches use the cache.

-- The embedding models s3vl knows and the dimensions each produces (Titan Text Embeddings V2:
-- 256, 512 or 1024, normalized). Which of them the deployment allows is the function's setting.
CREATE OR REPLACE FUNCTION s3vl._embedding_models()
RETURNS TABLE (model_id text, dimensions integer[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ VALUES ('amazon.titan-embed-text-v2:0', ARRAY[256, 512, 1024]) $$;

-- One text to embed: not NULL, not blank, at most embed_text_length characters.
CREATE OR REPLACE FUNCTION s3vl._check_embed_text(caller text, what text, input_text text)
RETURNS void
LANGUAGE sql IMMUTABLE
AS $$
  SELECT s3vl._check_bounded_text(caller, what, input_text, 'embed_text_length',
    'The embedding model (Titan Text Embeddings V2) takes at most 50,000 characters; see '
    'SELECT * FROM s3vl.limits() (embed_text_length).')
$$;

-- The index, its dimension and its embedding model; 55000 naming the command when it has none.
CREATE OR REPLACE FUNCTION s3vl._embedding_target(caller text, index_name text,
  OUT index_arn text, OUT dimension integer, OUT model_id text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  target record;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  target := s3vl._resolve_index(caller, index_name, NULL);
  index_arn := target.index_arn;
  SELECT r.embedding_model, r.dimension INTO model_id, dimension
    FROM s3vl.index_registry r
    WHERE r.index_name = _embedding_target.index_name
       OR r.index_arn = _embedding_target.index_name
    ORDER BY r.index_name = _embedding_target.index_name DESC, r.is_active DESC, r.id
    LIMIT 1;
  IF model_id IS NULL OR dimension IS NULL THEN
    RAISE EXCEPTION '%: index "%" has no embedding model', caller,
      pg_catalog.left(index_name, 200)
      USING ERRCODE = '55000',
            HINT = format('An s3vl_admin sets one with SELECT s3vl.set_embedding_model(%L, '
                          '''amazon.titan-embed-text-v2:0''); the index dimension must be one '
                          'the model produces (256, 512 or 1024).', index_name);
  END IF;
END
$$;

-- Request builders (docs/protocol.md, `embed` and query_vectors with `query_text`).
CREATE OR REPLACE FUNCTION s3vl._embed_request(index_arn text, model_id text, dimensions integer,
  texts text[])
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'embed', 'index_arn', index_arn,
           'model_id', model_id, 'dimensions', dimensions,
           'texts', pg_catalog.array_to_json(texts))
$$;

-- query_texts NULL: semantic search; given: semantic hybrid search. NULL fields are left out; the
-- filter is passed through unchanged.
CREATE OR REPLACE FUNCTION s3vl._semantic_query_request(index_arn text, query_text text,
  model_id text, dimensions integer, query_texts jsonb, top_k integer, return_metadata boolean,
  metadata_filter jsonb)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT (pg_catalog.jsonb_build_object('operation', 'query_vectors', 'index_arn', index_arn,
            'query_text', query_text, 'model_id', model_id, 'dimensions', dimensions,
            'top_k', top_k, 'return_metadata', return_metadata)
          || CASE WHEN query_texts IS NULL THEN '{}'::jsonb
                  ELSE pg_catalog.jsonb_build_object('query_texts', query_texts) END
          || CASE WHEN metadata_filter IS NULL THEN '{}'::jsonb
                  ELSE pg_catalog.jsonb_build_object('metadata_filter', metadata_filter) END
         )::json
$$;

-- Raises a failed answer (s3vl._unwrap's SQLSTATEs); an error about the model (the function
-- names field model_id: not allowed, not served, throttled past the retries) gets a HINT about
-- embeddings instead of the one about indexes.
CREATE OR REPLACE FUNCTION s3vl._raise_embedding_error(caller text, response jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  err constant jsonb := response -> 'error';
  state text;
BEGIN
  IF pg_catalog.jsonb_typeof(err) IS DISTINCT FROM 'object'
     OR (err ->> 'field' IS DISTINCT FROM 'model_id'
         AND err ->> 'type' IS DISTINCT FROM 'Throttled') THEN
    PERFORM s3vl._unwrap(caller, response);
    RETURN;
  END IF;
  state := s3vl._sqlstate_for(err ->> 'type', err ->> 'field', err ->> 'message');
  RAISE EXCEPTION USING ERRCODE = state,
    MESSAGE = caller || ': ' || coalesce(err ->> 'message', 'the embedding model failed'),
    DETAIL = format('error type: %s; code: %s; retryable: %s; field: %s; request id: %s',
                    err ->> 'type', coalesce(err ->> 'code', 'unknown'),
                    coalesce(err ->> 'retryable', 'unknown'), err ->> 'field',
                    coalesce(response ->> 'request_id', 'unknown')),
    HINT = CASE state
      WHEN '42501' THEN 'The models the function may call are its CloudFormation parameter '
                        'AllowedEmbeddingModels (environment S3VL_EMBEDDING_MODELS), which also '
                        'scopes its bedrock:InvokeModel permission.'
      WHEN 'SV001' THEN 'Bedrock throttled InvokeModel past the function''s retries; retry '
                        'later, send fewer texts at once, or raise the Bedrock quota.'
      WHEN '42704' THEN 'Bedrock does not serve this model in the function''s region, or the '
                        'account has no access to it (Bedrock console, Model access).'
      ELSE 'See docs/embeddings.md (errors).' END;
END
$$;

-- Embeds texts with the index's model in one invocation: [{"ordinal", "embedding",
-- "input_tokens"}]. A single text is answered from the cache when it holds it.
-- single_param: the SQL argument that carried a single text (its errors name it).
CREATE OR REPLACE FUNCTION s3vl._embed(caller text, input_texts text[], index_name text,
  single_param text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  target record;
  hi constant integer := s3vl._limit('embed_texts');
  n constant integer := coalesce(pg_catalog.cardinality(input_texts), 0);
  cache_filter jsonb;
  answer jsonb;
  response jsonb;
BEGIN
  IF input_texts IS NULL OR n > hi THEN
    RAISE EXCEPTION '%: input_texts must be an array of at most % texts (got %)', caller, hi,
      coalesce(n::text || ' texts', 'NULL')
      USING ERRCODE = '22023', HINT = 'Call s3vl.embed once per ' || hi || ' texts; see SELECT * '
                                      'FROM s3vl.limits() (embed_texts).';
  END IF;
  FOR i IN 1 .. n LOOP
    PERFORM s3vl._check_embed_text(caller, coalesce(single_param, format('input_texts[%s]', i)),
                                   input_texts[pg_catalog.array_lower(input_texts, 1) + i - 1]);
  END LOOP;
  target := s3vl._embedding_target(caller, index_name);
  IF n = 0 THEN
    RETURN '[]'::jsonb;
  END IF;
  IF n = 1 THEN
    cache_filter := pg_catalog.jsonb_build_object('$s3vl_embed', pg_catalog.jsonb_build_object(
      'text', input_texts[pg_catalog.array_lower(input_texts, 1)], 'model', target.model_id,
      'dimensions', target.dimension));
    answer := s3vl._cache_get(caller, target.index_arn, '{}'::float8[], 1, cache_filter, false);
    IF answer IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  response := (SELECT c.payload FROM s3vl._call_lambda(caller, s3vl._embed_request(
    target.index_arn, target.model_id, target.dimension, input_texts), 'RequestResponse') AS c);
  IF response -> 'success' = 'false'::jsonb THEN
    PERFORM s3vl._raise_embedding_error(caller, response);
  END IF;
  answer := s3vl._expect_array(caller, s3vl._unwrap(caller, response), 'embeddings');
  IF pg_catalog.jsonb_array_length(answer) <> n THEN
    PERFORM s3vl._raise_malformed(caller, format('%s embeddings for %s texts',
                                                 pg_catalog.jsonb_array_length(answer), n));
  END IF;
  IF n = 1 THEN
    PERFORM s3vl._cache_put(caller, target.index_arn, '{}'::float8[], 1, cache_filter, false, answer);
  END IF;
  RETURN answer;
END
$$;

-- Semantic (query_texts NULL) or semantic hybrid search: checks, the index's model, the answer
-- from the cache or one invocation that embeds query_text and queries.
CREATE OR REPLACE FUNCTION s3vl._semantic_answer(caller text, query_text text, query_texts jsonb,
  index_name text, top_k integer, metadata_filter jsonb, return_metadata boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  target record;
  cache_filter jsonb;
  answer jsonb;
  response jsonb;
BEGIN
  PERFORM s3vl._check_embed_text(caller, 'query_text', query_text);
  IF query_texts IS NOT NULL THEN
    PERFORM s3vl._check_query_texts(caller, query_texts);
  END IF;
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  target := s3vl._embedding_target(caller, index_name);
  -- "$s3vl..." keys are no filter operator: these entries never meet a vector or text query's.
  cache_filter := pg_catalog.jsonb_build_object(
    '$s3vl_semantic', pg_catalog.jsonb_build_object('text', query_text, 'model', target.model_id,
                                                    'dimensions', target.dimension),
    '$s3vl_query_texts', query_texts, '$s3vl_filter', metadata_filter);
  answer := s3vl._cache_get(caller, target.index_arn, '{}'::float8[], top_k, cache_filter,
                            return_metadata);
  IF answer IS NOT NULL THEN
    RETURN answer;
  END IF;
  response := (SELECT c.payload FROM s3vl._call_lambda(caller, s3vl._semantic_query_request(
    target.index_arn, query_text, target.model_id, target.dimension, query_texts, top_k,
    return_metadata, metadata_filter), 'RequestResponse') AS c);
  IF response -> 'success' = 'false'::jsonb THEN
    IF query_texts IS NOT NULL THEN
      PERFORM s3vl._raise_text_refusal(caller, 'metadata_key', query_texts, response);
    END IF;
    PERFORM s3vl._raise_embedding_error(caller, response);
  END IF;
  answer := s3vl._expect_array(caller, s3vl._unwrap(caller, response), 'query results');
  PERFORM s3vl._cache_put(caller, target.index_arn, '{}'::float8[], top_k, cache_filter,
                          return_metadata, answer);
  RETURN answer;
END
$$;

-- ---- public functions -----------------------------------------------------------------------

-- The index's embedding model (admin). model_id NULL removes it. The index's dimension (read
-- from the service) must be one the model produces.
CREATE OR REPLACE FUNCTION s3vl.set_embedding_model(index_name text, model_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.set_embedding_model';
  target record;
  produced integer[];
  live_dimension integer;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  target := s3vl._resolve_index(caller, index_name, NULL);
  IF model_id IS NOT NULL THEN
    SELECT m.dimensions INTO produced FROM s3vl._embedding_models() m
      WHERE m.model_id = set_embedding_model.model_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION '%: model_id must be one of % (got %)', caller,
        (SELECT pg_catalog.string_agg(m.model_id, ', ') FROM s3vl._embedding_models() m),
        pg_catalog.quote_literal(pg_catalog.left(model_id, 200))
        USING ERRCODE = '22023', HINT = 'NULL removes the index''s model.';
    END IF;
    live_dimension := coalesce(target.dimension, (s3vl._invoke(caller,
      s3vl._get_index_request(target.index_arn)) ->> 'dimension')::integer);
    IF NOT live_dimension = ANY (produced) THEN
      RAISE EXCEPTION '%: index "%" has dimension %, which % does not produce (it produces %)',
        caller, index_name, live_dimension, model_id,
        pg_catalog.array_to_string(produced, ', ')
        USING ERRCODE = '22023',
              HINT = 'Create an index of one of those dimensions for embedded text.';
    END IF;
  END IF;
  UPDATE s3vl.index_registry r
     SET embedding_model = set_embedding_model.model_id,
         dimension = coalesce(r.dimension, live_dimension)
   WHERE r.index_name = set_embedding_model.index_name
      OR (set_embedding_model.index_name LIKE 'arn:%'
          AND r.index_arn = set_embedding_model.index_name);
END
$$;

-- One text -> its vector (the index's model and dimension).
CREATE OR REPLACE FUNCTION s3vl.embed(input_text text, index_name text)
RETURNS float8[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- Argument errors are raised here, outside the block below (22023 is a data_exception).
  answer constant jsonb := s3vl._embed('s3vl.embed', ARRAY[input_text], index_name,
                                       'input_text');
BEGIN
  RETURN s3vl._float8_array(answer -> 0 -> 'embedding');
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed('s3vl.embed', SQLERRM);
  RETURN NULL;  -- not reached: _raise_malformed raises
END
$$;

-- Several texts -> one row each (ordinal = position in input_texts, from 1), one invocation.
CREATE OR REPLACE FUNCTION s3vl.embed(input_texts text[], index_name text)
RETURNS TABLE (ordinal integer, embedding float8[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  answer constant jsonb := s3vl._embed('s3vl.embed', input_texts, index_name);
BEGIN
  RETURN QUERY
    SELECT (e.value ->> 'ordinal')::integer, s3vl._float8_array(e.value -> 'embedding')
    FROM pg_catalog.jsonb_array_elements(answer) AS e(value)
    ORDER BY (e.value ->> 'ordinal')::integer;
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed('s3vl.embed', SQLERRM);
END
$$;

-- Text in, rows out: query_text embedded by the index's model and searched, one invocation.
CREATE OR REPLACE FUNCTION s3vl.semantic_search(
  query_text text,
  index_name text,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  answer constant jsonb := s3vl._semantic_answer('s3vl.semantic_search', query_text, NULL,
    index_name, top_k, metadata_filter, return_metadata);
BEGIN
  RETURN QUERY
    SELECT r.vector_id, r.distance, r.similarity_score, coalesce(r.metadata, '{}'::jsonb)
    FROM pg_catalog.jsonb_to_recordset(answer) AS r(vector_id text, distance float8,
                                                    similarity_score float8, metadata jsonb)
    ORDER BY r.distance;
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed('s3vl.semantic_search', SQLERRM);
END
$$;

-- The same phrase drives both halves: its embedding (vector ranking) and BM25 on metadata_key,
-- fused by the service (RRF).
CREATE OR REPLACE FUNCTION s3vl.semantic_hybrid_search(
  query_text text,
  metadata_key text,
  index_name text,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, fused_score float8, distance float8, text_score float8,
               metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.semantic_hybrid_search';
  -- The BM25 half takes the phrase as a full-text query: at most query_text_length characters
  -- (s3vl._one_text checks both arguments). Raised here, outside the block below.
  answer constant jsonb := s3vl._semantic_answer(caller, query_text,
    s3vl._one_text(caller, query_text, metadata_key), index_name, top_k, metadata_filter,
    return_metadata);
BEGIN
  RETURN QUERY
    SELECT r.vector_id, r.fused_score, r.distance, r.text_score, coalesce(r.metadata, '{}'::jsonb)
    FROM pg_catalog.jsonb_to_recordset(answer) AS r(vector_id text, fused_score float8,
                                                    distance float8, text_score float8,
                                                    metadata jsonb);
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed('s3vl.semantic_hybrid_search', SQLERRM);
END
$$;

-- The phrase of query_vectors_where / query_table embedded (cached) for their invoker-rights
-- text forms; errors name the public function (one of those two, nothing else: the name is
-- also what the chokepoint sees as the caller).
CREATE OR REPLACE FUNCTION s3vl._embed_for(public_function text, query_text text,
                                           index_name text)
RETURNS float8[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  answer jsonb;
BEGIN
  IF public_function IS NULL
     OR public_function NOT IN ('s3vl.query_vectors_where', 's3vl.query_table') THEN
    RAISE EXCEPTION 's3vl._embed_for: not for %', public_function USING ERRCODE = '42501';
  END IF;
  answer := s3vl._embed(public_function, ARRAY[query_text], index_name, 'query_text');
  RETURN s3vl._float8_array(answer -> 0 -> 'embedding');
END
$$;

COMMENT ON FUNCTION s3vl.set_embedding_model(text, text) IS
  's3vl: sets (or with NULL removes) the Bedrock embedding model of a registered index';
COMMENT ON FUNCTION s3vl.embed(text, text) IS
  's3vl: the embedding of one text by the index''s model (float8[])';
COMMENT ON FUNCTION s3vl.embed(text[], text) IS
  's3vl: one row (ordinal, embedding) per text, embedded by the index''s model in one invocation';
COMMENT ON FUNCTION s3vl.semantic_search(text, text, integer, jsonb, boolean) IS
  's3vl: the top_k vectors nearest to a phrase (embedded and searched in one invocation)';
COMMENT ON FUNCTION s3vl.semantic_hybrid_search(text, text, text, integer, jsonb, boolean) IS
  's3vl: vector (embedded phrase) and BM25 (same phrase on metadata_key) rankings fused by RRF';

-- ==== 40_sync/80_sync.sql
-- Keeping S3 Vectors in step with PostgreSQL tables (docs/sync.md).
--
-- Triggers on a tracked table record the KEY of every changed row in s3vl.sync_outbox, in the
-- writer's transaction (one pending row per key: several changes to a key coalesce). s3vl.sync()
-- claims pending keys with FOR UPDATE SKIP LOCKED, reads each key's CURRENT row (present = put,
-- gone = delete), sends batches through the function and deletes the outbox rows only after the
-- function reported success. A writer that changes a claimed key waits for the claim to end and
-- then enqueues the key again, so a newer state is never overtaken by an older one and no change
-- is skipped; a crash between send and commit only re-sends an idempotent put/delete.

-- The tables live in 10_core/10_tables.sql. Security (docs/security.md): only the s3vl owner writes them,
-- through the SECURITY DEFINER functions below, which check the calling role; the SQL they run is
-- built from pg_attribute each time (never from stored text); tracked columns must have built-in
-- types, so converting or comparing their values as the owner runs no code a user wrote; and sync
-- reads a table only as far as the role that tracked it may.

-- Batch sizing (limits in s3vl.limits()): at most put_vectors_per_call vectors per partition
-- (the function splits a batch by partition and sends each part as one PutVectors), and under
-- sync_batch_bytes of JSON, well inside a synchronous Lambda request. The bytes are an estimate
-- (about 22 bytes per float32 as text plus 256 of key and metadata); a batch whose JSON is larger
-- after all is split in halves before it is sent (_sync_send, _sync_batch).
DROP FUNCTION IF EXISTS s3vl._sync_batch_size(integer);
CREATE OR REPLACE FUNCTION s3vl._sync_batch_size(dimension integer, partitions integer DEFAULT 1)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT greatest(1, least(s3vl._limit('put_vectors_per_call') * greatest(partitions, 1),
           s3vl._limit('sync_batch_bytes') / (coalesce(dimension, 4096) * 22 + 256)))
$$;

-- Backoff after a failed attempt: 1 s, 2 s, 4 s ... capped at sync_backoff_seconds (5 minutes).
CREATE OR REPLACE FUNCTION s3vl._sync_backoff(attempts integer)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.make_interval(secs => least(s3vl._limit('sync_backoff_seconds'),
                                                2 ^ least(attempts - 1, 20)))
$$;

-- The role that called into s3vl. Inside a SECURITY DEFINER function current_user is the owner;
-- the session's `role` setting is not changed by definer functions (they may not SET ROLE), and
-- PostgreSQL lets a session set it only to a role its session user may become.
CREATE OR REPLACE FUNCTION s3vl._invoker()
RETURNS regrole
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.oid::regrole FROM pg_catalog.pg_roles r
  WHERE r.rolname = CASE WHEN pg_catalog.current_setting('role') = 'none' THEN session_user
                         ELSE pg_catalog.current_setting('role') END
$$;

-- A tracked column as pg_attribute says now: its name, its base type and the SQL expression (over
-- alias t) that sync uses for its value. kind: 'key', 'embedding' or 'metadata'. Only built-in
-- types (or domains over them: PostgreSQL never uses a cast from a domain) are accepted, so every
-- conversion, comparison and JSON rendering of the value is PostgreSQL's own code, never a cast or
-- operator a user created that would run as the s3vl owner. Keys are limited to types whose text
-- form does not depend on session settings. pgvector's vector is read through its output function
-- (its text form is a JSON-style array), never through a cast.
-- kind 'text': sync that embeds (30_api/72_embeddings.sql); the function embeds the text with
-- the index's model.
CREATE OR REPLACE FUNCTION s3vl._sync_column(caller text, source regclass, param text, col text,
  kind text, OUT attname name, OUT base regtype, OUT expr text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  typ oid;
BEGIN
  SELECT a.attname, a.atttypid INTO attname, typ FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: % % does not exist in %', caller, param,
      coalesce(pg_catalog.quote_literal(col), 'NULL'), source USING ERRCODE = '42703';
  END IF;
  base := typ;
  WHILE (SELECT t.typtype = 'd' FROM pg_catalog.pg_type t WHERE t.oid = base) LOOP
    base := (SELECT t.typbasetype FROM pg_catalog.pg_type t WHERE t.oid = base);
  END LOOP;
  IF kind = 'key' THEN
    IF base NOT IN ('int2', 'int4', 'int8', 'numeric', 'text', 'varchar', 'bpchar', 'uuid') THEN
      RAISE EXCEPTION '%: % % of % has type %; a key must have a built-in type: smallint, '
                      'integer, bigint, numeric, text, varchar, char or uuid (or a domain over one)',
        caller, param, attname, source, typ::regtype USING ERRCODE = '42804';
    END IF;
    expr := pg_catalog.format('(t.%I)::pg_catalog.text', attname);
  ELSIF kind = 'text' THEN
    IF base NOT IN ('text', 'varchar', 'bpchar') THEN
      RAISE EXCEPTION '%: % % of % must be text, varchar or char (got %)', caller, param,
        attname, source, typ::regtype USING ERRCODE = '42804';
    END IF;
    expr := pg_catalog.format('(t.%I)::pg_catalog.text', attname);
  ELSIF kind = 'embedding' THEN
    IF base IN ('float4[]', 'float8[]', 'numeric[]', 'int4[]') THEN
      expr := pg_catalog.format('(t.%I)::pg_catalog.float8[]', attname);
    ELSIF EXISTS (
        SELECT 1 FROM pg_catalog.pg_type ty
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
          AND d.objid = ty.oid AND d.deptype = 'e'
        JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'vector'
        WHERE ty.oid = base AND ty.typname = 'vector') THEN
      expr := pg_catalog.format(
        'pg_catalog.translate(pg_catalog.format(''%%s'', t.%I), ''[]'', ''{}'')::pg_catalog.float8[]',
        attname);
    ELSE
      RAISE EXCEPTION '%: % % of % must be real[], double precision[], numeric[], integer[] or '
                      'pgvector vector (got %)', caller, param, attname, source, typ::regtype
        USING ERRCODE = '42804';
    END IF;
  ELSE
    -- FirstNormalObjectId: types with a lower oid were created by initdb.
    IF base::oid >= 16384 THEN
      RAISE EXCEPTION '%: % column % of % has type %; metadata columns must have built-in types '
                      '(or domains over them): casts of a user-defined type would run as the s3vl '
                      'owner', caller, param, attname, source, typ::regtype
        USING ERRCODE = '42804', HINT = 'Track a generated column of a built-in type instead.';
    END IF;
    expr := pg_catalog.format('t.%I', attname);
  END IF;
END
$$;

-- Every tracked column of a tracked table, checked as _sync_column does (raises otherwise).
CREATE OR REPLACE FUNCTION s3vl._sync_columns(caller text, source regclass)
RETURNS name[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  st record;
  cols name[];
  col text;
BEGIN
  SELECT * INTO st FROM s3vl.sync_tables x WHERE x.source = _sync_columns.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: source % is not tracked', caller, source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  cols := ARRAY[(s3vl._sync_column(caller, source, 'key_column', st.key_column, 'key')).attname,
                CASE WHEN st.text_column IS NOT NULL
                  THEN (s3vl._sync_column(caller, source, 'text_column', st.text_column,
                                          'text')).attname
                  ELSE (s3vl._sync_column(caller, source, 'embedding_column', st.embedding_column,
                                          'embedding')).attname END];
  FOREACH col IN ARRAY st.metadata_columns LOOP
    cols := cols || (s3vl._sync_column(caller, source, 'metadata_columns', col,
                                       'metadata')).attname;
  END LOOP;
  RETURN cols;
END
$$;

-- Raises 42501 unless role `who` may read `columns` of `source` the way sync reads them (as the
-- owner, all rows): SELECT on each column, and no row-level security that would hide rows from it.
CREATE OR REPLACE FUNCTION s3vl._sync_check_access(caller text, source regclass, who regrole,
                                                   columns name[])
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  col name;
  rel record;
BEGIN
  IF who IS NULL THEN
    RAISE EXCEPTION '%: % was tracked before s3vl 0.4.0, which did not record who tracked it; '
                    'run s3vl.track_table(...) again as a role that may read it (pending changes '
                    'are kept)', caller, source USING ERRCODE = '42501';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.oid = who) THEN
    RAISE EXCEPTION '%: the role that tracked % (oid %) no longer exists; run '
                    's3vl.track_table(...) again', caller, source, who::oid USING ERRCODE = '42501';
  END IF;
  FOREACH col IN ARRAY columns LOOP
    IF NOT pg_catalog.has_column_privilege(who, source, col::text, 'SELECT') THEN
      RAISE EXCEPTION '%: role % may not read column % of %', caller, who, col, source
        USING ERRCODE = '42501',
              HINT = 'sync reads a table with the privileges of the role that tracked it.';
    END IF;
  END LOOP;
  SELECT c.relrowsecurity, c.relforcerowsecurity, c.relowner, r.rolsuper, r.rolbypassrls
    INTO rel FROM pg_catalog.pg_class c, pg_catalog.pg_roles r
    WHERE c.oid = source AND r.oid = who;
  IF rel.relrowsecurity AND NOT (rel.rolsuper OR rel.rolbypassrls)
     AND NOT (rel.relowner = who AND NOT rel.relforcerowsecurity) THEN
    RAISE EXCEPTION '%: % has row-level security enabled, which would hide rows from role %; '
                    'sync cannot apply it', caller, source, who USING ERRCODE = '42501',
      HINT = 'Track it as its owner (without FORCE ROW LEVEL SECURITY) or as a BYPASSRLS role.';
  END IF;
END
$$;

-- SQL that returns (key text, vec float8[], meta jsonb, txt text) for the rows of a tracked table
-- whose key is in $1 (text[]), or of every row; rows with a NULL embedding count as absent. A
-- table tracked with a text_column has txt (the text the function embeds) and a NULL vec. Built from
-- pg_attribute now (names quoted, types checked by _sync_column); nothing stored is pasted in.
CREATE OR REPLACE FUNCTION s3vl._sync_row_sql(source regclass, all_rows boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.sync';
  st record;
  k record;
  e record;
  m record;
  col text;
  parts text[] := '{}'::text[];
  meta text := '''{}''::jsonb';
BEGIN
  SELECT * INTO st FROM s3vl.sync_tables x WHERE x.source = _sync_row_sql.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: source % is not tracked', caller, source USING ERRCODE = '42704';
  END IF;
  k := s3vl._sync_column(caller, source, 'key_column', st.key_column, 'key');
  IF st.text_column IS NOT NULL THEN
    e := s3vl._sync_column(caller, source, 'text_column', st.text_column, 'text');
  ELSE
    e := s3vl._sync_column(caller, source, 'embedding_column', st.embedding_column, 'embedding');
  END IF;
  FOREACH col IN ARRAY st.metadata_columns LOOP
    m := s3vl._sync_column(caller, source, 'metadata_columns', col, 'metadata');
    parts := parts || pg_catalog.format('%L, %s', m.attname, m.expr);
  END LOOP;
  IF pg_catalog.cardinality(parts) > 0 THEN
    meta := 'pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(' ||
            pg_catalog.array_to_string(parts, ', ') || '))';
  END IF;
  RETURN pg_catalog.format(
    'SELECT %1$s AS key, %2$s AS vec, %3$s AS meta, %7$s AS txt FROM %4$s t '
    'WHERE %5$s t.%6$I IS NOT NULL',
    k.expr, CASE WHEN st.text_column IS NULL THEN e.expr ELSE 'NULL::pg_catalog.float8[]' END,
    meta, source,
    CASE WHEN all_rows THEN ''
         ELSE pg_catalog.format('t.%I = ANY ($1::pg_catalog.%I[]) AND', k.attname,
                                (SELECT ty.typname FROM pg_catalog.pg_type ty
                                 WHERE ty.oid = k.base)) END,
    e.attname,
    CASE WHEN st.text_column IS NULL THEN 'NULL::pg_catalog.text' ELSE e.expr END);
END
$$;

-- The version of a row: a hash of its vector's JSON (as sent), its metadata, or for a row whose
-- text the function embeds (vector NULL) of its text. vec_json is array_to_json(vector), taken
-- as an argument so that a sync batch formats each vector once for the request and the hash.
CREATE OR REPLACE FUNCTION s3vl._sync_version_of(vec_json json, meta jsonb, txt text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN vec_json IS NULL AND txt IS NOT NULL
    THEN pg_catalog.md5('text:' || pg_catalog.md5(txt) || '|' || coalesce(meta, '{}')::text)
    ELSE pg_catalog.md5(vec_json::text || '|' || coalesce(meta, '{}')::text) END
$$;

CREATE OR REPLACE FUNCTION s3vl._sync_version(vec float8[], meta jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT s3vl._sync_version_of(pg_catalog.array_to_json(vec), meta, NULL) $$;

CREATE OR REPLACE FUNCTION s3vl._sync_version(vec float8[], meta jsonb, txt text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT s3vl._sync_version_of(pg_catalog.array_to_json(vec), meta, txt) $$;

-- Statement-level capture: enqueues the keys a statement changed. The tracked columns come from
-- s3vl.sync_tables and pg_attribute at every statement (trigger arguments, which whoever owns the
-- table could set, are ignored), and their types are checked again first: the comparison below
-- runs as the s3vl owner. Transition tables keep a bulk statement to one outbox statement.
CREATE OR REPLACE FUNCTION s3vl._sync_capture()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl sync capture';
  st record;
  k record;
  cols name[];
  tracked text;
  keys_sql text;
BEGIN
  SELECT * INTO st FROM s3vl.sync_tables x WHERE x.source = TG_RELID;
  IF NOT FOUND THEN
    RETURN NULL;  -- a trigger left behind or made by hand: nothing is tracked
  END IF;
  -- Still an ordinary table of its recorded owner (the statement holds its lock already).
  PERFORM s3vl._sync_source_guard(caller, TG_RELID, false, false);
  k := s3vl._sync_column(caller, TG_RELID, 'key_column', st.key_column, 'key');
  cols := s3vl._sync_columns(caller, TG_RELID);  -- a variable: the planner must not call it
  SELECT pg_catalog.string_agg(pg_catalog.format('%I', c), ', ') INTO tracked
    FROM pg_catalog.unnest(cols) AS c;
  IF TG_OP = 'INSERT' THEN
    keys_sql := pg_catalog.format('SELECT %s FROM new_rows t', k.expr);
  ELSIF TG_OP = 'DELETE' THEN
    keys_sql := pg_catalog.format('SELECT %s FROM old_rows t', k.expr);
  ELSE
    -- Updated rows whose tracked columns changed, and old keys that no longer exist.
    keys_sql := pg_catalog.format(
      'SELECT %1$s FROM (SELECT %2$s FROM new_rows EXCEPT SELECT %2$s FROM old_rows) t '
      'UNION SELECT %1$s FROM (SELECT %3$I FROM old_rows EXCEPT SELECT %3$I FROM new_rows) t',
      k.expr, tracked, k.attname);
  END IF;
  EXECUTE pg_catalog.format(
    'INSERT INTO s3vl.sync_outbox AS o (source, key, index_name) '
    'SELECT $1, k, $2 FROM (%s) AS changed(k) WHERE k IS NOT NULL ORDER BY k '
    'ON CONFLICT (source, key) DO UPDATE SET changes = o.changes + 1, '
    'last_enqueued_at = pg_catalog.now(), next_attempt_at = pg_catalog.now()', keys_sql)
    USING TG_RELID::regclass, st.index_name;
  RETURN NULL;
END
$$;

-- The columns track_table would track (key, embedding or text, metadata), each checked
-- (s3vl._sync_column), at most metadata_keys metadata columns, and a key with a unique index.
CREATE OR REPLACE FUNCTION s3vl._sync_tracked_columns(caller text, source regclass,
  key_column name, embedding_column name, metadata_columns text[], text_column name,
  index_name text)
RETURNS name[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k record;
  cols name[];
  col text;
BEGIN
  IF (embedding_column IS NULL) = (text_column IS NULL) THEN
    RAISE EXCEPTION '%: give exactly one of embedding_column and text_column (got %)', caller,
      CASE WHEN text_column IS NULL THEN 'neither' ELSE 'both' END
      USING ERRCODE = '22023',
            HINT = 'text_column: sync sends the text and the function embeds it with the '
                   'index''s model (s3vl.set_embedding_model).';
  END IF;
  k := s3vl._sync_column(caller, source, 'key_column', key_column, 'key');
  cols := ARRAY[k.attname, CASE WHEN text_column IS NOT NULL
    THEN (s3vl._sync_column(caller, source, 'text_column', text_column, 'text')).attname
    ELSE (s3vl._sync_column(caller, source, 'embedding_column', embedding_column,
                            'embedding')).attname END];
  IF text_column IS NOT NULL THEN
    PERFORM s3vl._embedding_target(caller, index_name);  -- 55000 until the index has a model
  END IF;
  FOREACH col IN ARRAY coalesce(metadata_columns, '{}') LOOP
    cols := cols || (s3vl._sync_column(caller, source, 'metadata_columns', col,
                                       'metadata')).attname;
  END LOOP;
  IF pg_catalog.cardinality(metadata_columns) > s3vl._limit('metadata_keys') THEN
    RAISE EXCEPTION '%: metadata_columns: at most % columns (S3 Vectors metadata keys), got %',
      caller, s3vl._limit('metadata_keys'), pg_catalog.cardinality(metadata_columns)
      USING ERRCODE = '22023';
  END IF;
  -- The key must identify one row: a unique index on exactly that column.
  IF NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a
        ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = source AND i.indisunique AND i.indnkeyatts = 1
        AND i.indpred IS NULL AND a.attname = k.attname) THEN
    RAISE EXCEPTION '%: key_column % of % has no unique index or primary key', caller,
      key_column, source USING ERRCODE = '42P10';
  END IF;
  RETURN cols;
END
$$;

-- Records a tracked table (the part of track_table that writes s3vl's tables). Checks everything
-- itself, since any s3vl_admin can call it: the columns and their types, the index, and that the
-- calling role may create triggers on the table and read every tracked column.
CREATE OR REPLACE FUNCTION s3vl._sync_register(source regclass, key_column name,
  embedding_column name, index_name text, metadata_columns text[],
  text_column name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.track_table';
  who constant regrole := s3vl._invoker();
  cols name[];
  old_index text;
BEGIN
  PERFORM s3vl._require(caller, 'source', source);
  PERFORM s3vl._require(caller, 'key_column', key_column);
  PERFORM s3vl._require(caller, 'index_name', index_name);
  IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = source) NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '%: % is not a table', caller, source USING ERRCODE = '42809';
  END IF;
  PERFORM s3vl.resolve_index_arn(index_name);  -- 42704 unless registered and active
  cols := s3vl._sync_tracked_columns(caller, source, key_column, embedding_column,
                                      metadata_columns, text_column, index_name);
  IF NOT pg_catalog.has_table_privilege(who, source, 'TRIGGER') THEN
    RAISE EXCEPTION '%: role % may not create triggers on %', caller, who, source
      USING ERRCODE = '42501';
  END IF;
  PERFORM s3vl._sync_check_access(caller, source, who, cols);
  IF EXISTS (SELECT 1 FROM (SELECT source::oid AS relid
                           UNION SELECT t.relid FROM pg_catalog.pg_partition_tree(source) t) p
             JOIN pg_catalog.pg_class c ON c.oid = p.relid
             WHERE c.relkind NOT IN ('r', 'p')
                OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid)) THEN
    RAISE EXCEPTION '%: % has rules or partitions that are not ordinary tables', caller, source
      USING ERRCODE = '42809';
  END IF;
  -- Tracked again into the same index: pending changes and versions stay valid.
  SELECT st.index_name INTO old_index FROM s3vl.sync_tables st
    WHERE st.source = _sync_register.source FOR UPDATE;
  IF old_index IS DISTINCT FROM index_name THEN
    DELETE FROM s3vl.sync_outbox o WHERE o.source = _sync_register.source;
    DELETE FROM s3vl.sync_state s WHERE s.source = _sync_register.source;
  END IF;
  INSERT INTO s3vl.sync_tables AS st (source, key_column, embedding_column, index_name,
                                      metadata_columns, tracked_by, source_owner, text_column)
  VALUES (source, key_column, embedding_column, index_name, coalesce(metadata_columns, '{}'),
          who, (SELECT c.relowner::regrole FROM pg_catalog.pg_class c WHERE c.oid = source),
          text_column)
  ON CONFLICT ON CONSTRAINT sync_tables_pkey DO UPDATE SET key_column = EXCLUDED.key_column,
    embedding_column = EXCLUDED.embedding_column, text_column = EXCLUDED.text_column,
    index_name = EXCLUDED.index_name,
    metadata_columns = EXCLUDED.metadata_columns, tracked_by = EXCLUDED.tracked_by,
    source_owner = EXCLUDED.source_owner,
    created_at = CASE WHEN st.index_name = EXCLUDED.index_name THEN st.created_at
                      ELSE pg_catalog.now() END;
  -- What every read will check (82_sync_guard.sql), now: a table sync could not read (row-level
  -- security that would apply to the s3vl owner) is refused here rather than at every sync.
  PERFORM s3vl._sync_source_guard(caller, source, false, true);
END
$$;

-- Forgets a tracked table: its outbox, versions and row. The calling role must be a member of the
-- table's owner or of the role that tracked it.
CREATE OR REPLACE FUNCTION s3vl._sync_unregister(source regclass)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  who constant regrole := s3vl._invoker();
  tracker regrole;
  table_owner oid;
BEGIN
  SELECT st.tracked_by INTO tracker FROM s3vl.sync_tables st
    WHERE st.source = _sync_unregister.source FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT c.relowner INTO table_owner FROM pg_catalog.pg_class c WHERE c.oid = source;
  IF NOT (coalesce(pg_catalog.pg_has_role(who, table_owner, 'USAGE'), false)
          OR coalesce(pg_catalog.pg_has_role(who, tracker, 'USAGE'), false)
          OR (table_owner IS NULL AND tracker IS NULL)) THEN
    RAISE EXCEPTION 's3vl.untrack_table: role % neither owns % nor tracked it', who, source
      USING ERRCODE = '42501';
  END IF;
  DELETE FROM s3vl.sync_outbox o WHERE o.source = _sync_unregister.source;
  DELETE FROM s3vl.sync_state s WHERE s.source = _sync_unregister.source;
  DELETE FROM s3vl.sync_tables t WHERE t.source = _sync_unregister.source;
  RETURN true;
END
$$;

-- Drops the capture triggers a table has (only those: DROP TRIGGER IF EXISTS would print a
-- NOTICE for each missing one). Runs with the caller's rights, as track/untrack_table do:
-- dropping the triggers needs ownership of the table.
CREATE OR REPLACE FUNCTION s3vl._sync_drop_triggers(source regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  trigger_name name;
BEGIN
  FOR trigger_name IN
    SELECT t.tgname FROM pg_catalog.pg_trigger t
    WHERE t.tgrelid = source AND NOT t.tgisinternal
      AND t.tgname IN ('s3vl_sync_insert', 's3vl_sync_update', 's3vl_sync_delete')
  LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trigger_name, source);
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.untrack_table(source regclass)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.untrack_table', 'source', source);
  PERFORM s3vl._sync_drop_triggers(source);
  RETURN s3vl._sync_unregister(source);
END
$$;
COMMENT ON FUNCTION s3vl.untrack_table(regclass) IS
  's3vl: true once source is no longer tracked (its vectors stay in the index)';

-- Runs with the caller's rights (creating triggers needs the TRIGGER privilege on the table);
-- _sync_register records the table after checking the caller's privileges.
CREATE OR REPLACE FUNCTION s3vl.track_table(
  source regclass,
  key_column name,
  embedding_column name,
  index_name text,
  metadata_columns text[] DEFAULT NULL,
  text_column name DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.track_table';
  cols name[];
  tracked text;
BEGIN
  PERFORM s3vl._sync_register(source, key_column, embedding_column, index_name,
                              metadata_columns, text_column);
  -- The update trigger compares old and new rows with EXCEPT: every tracked column needs
  -- equality. Planning the same comparison now turns a failure at every write into one here.
  -- (Through a variable: the planner may call a function in FROM while estimating, with a
  -- snapshot from before _sync_register.)
  cols := s3vl._sync_columns(caller, source);
  SELECT pg_catalog.string_agg(pg_catalog.format('%I', c), ', ') INTO tracked
    FROM pg_catalog.unnest(cols) AS c;
  BEGIN
    EXECUTE pg_catalog.format('SELECT %1$s FROM %2$s WHERE false EXCEPT '
                              'SELECT %1$s FROM %2$s WHERE false', tracked, source);
  EXCEPTION WHEN undefined_function THEN
    RAISE EXCEPTION '%: metadata_columns: %', caller, SQLERRM USING ERRCODE = '42804',
      HINT = 'Tracked columns need an equality operator; use jsonb instead of json.';
  END;
  PERFORM s3vl._sync_drop_triggers(source);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER s3vl_sync_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_capture()', source);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER s3vl_sync_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows '
    'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_capture()', source);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER s3vl_sync_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_capture()', source);
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.track_table(regclass,name,name,text,text[],name) IS
  's3vl: true once changes to source are captured for sync to index_name';

-- Enqueues every existing row of a tracked table; returns how many keys were enqueued. The
-- calling role must be allowed to read the key column.
CREATE OR REPLACE FUNCTION s3vl.backfill(source regclass)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET row_security = off
AS $$
DECLARE
  caller constant text := 's3vl.backfill';
  st record;
  k record;
  n bigint;
BEGIN
  PERFORM s3vl._require(caller, 'source', source);
  SELECT * INTO st FROM s3vl.sync_tables x WHERE x.source = backfill.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.backfill: source % is not tracked', source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  k := s3vl._sync_column(caller, source, 'key_column', st.key_column, 'key');
  PERFORM s3vl._sync_check_access(caller, source, s3vl._invoker(), ARRAY[k.attname]);
  PERFORM s3vl._sync_source_guard(caller, source, true, true);
  EXECUTE pg_catalog.format(
    'INSERT INTO s3vl.sync_outbox AS o (source, key, index_name) '
    'SELECT $1, %s, $2 FROM %s t WHERE t.%I IS NOT NULL '
    'ON CONFLICT (source, key) DO UPDATE SET changes = o.changes + 1, '
    'last_enqueued_at = pg_catalog.now(), next_attempt_at = pg_catalog.now()',
    k.expr, source, k.attname)
    USING source, st.index_name;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION s3vl.backfill(regclass) IS
  's3vl: the number of existing rows of source queued for sync';

-- A batch S3 Vectors accepted: the claimed rows are still ours (locked), so deleting them from
-- the outbox loses no newer change; the versions sent are recorded, deleted keys forgotten.
CREATE OR REPLACE FUNCTION s3vl._sync_accepted(source regclass, keys text[], put_keys text[],
  put_hashes text[], gone text[], put_text_hashes text[], text_index text)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  DELETE FROM s3vl.sync_outbox o WHERE o.source = $1 AND o.key = ANY ($2);
  INSERT INTO s3vl.sync_state AS s (source, key, version_hash, synced_at, text_hash)
    SELECT $1, u.k, u.h, pg_catalog.clock_timestamp(), CASE WHEN $7 IS NOT NULL THEN u.th END
    FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($6))
      AS u(k, h, th)
  ON CONFLICT ON CONSTRAINT sync_state_pkey DO UPDATE SET version_hash = EXCLUDED.version_hash,
    synced_at = EXCLUDED.synced_at, text_hash = EXCLUDED.text_hash;
  DELETE FROM s3vl.sync_state s WHERE s.source = $1 AND s.key = ANY ($5);
$$;

-- Keys whose sync failed (the outbox rows are claimed by this call): one more attempt counted,
-- the error kept, the next attempt backed off. Returns how many keys.
CREATE OR REPLACE FUNCTION s3vl._sync_failed(source regclass, keys text[], error text)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH failed AS (
    UPDATE s3vl.sync_outbox o SET attempts = o.attempts + 1, last_error = $3,
        last_error_at = pg_catalog.clock_timestamp(),
        next_attempt_at = pg_catalog.clock_timestamp() + s3vl._sync_backoff(o.attempts + 1)
      WHERE o.source = $1 AND o.key = ANY ($2)
      RETURNING 1)
  SELECT count(*)::integer FROM failed
$$;

-- One put_vectors request of a sync batch. A partitioned index's fields are put in here:
-- _send_lambda would read the whole request to find them. Null members are read as absent.
CREATE OR REPLACE FUNCTION s3vl._sync_put(index_arn text, vectors json, model_id text,
  dimensions integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  fields jsonb := s3vl._partition_fields('s3vl.sync', index_arn, 'put_vectors', false);
BEGIN
  PERFORM s3vl._sync_invoke(pg_catalog.json_build_object('operation', 'put_vectors',
    'index_arn', CASE WHEN fields IS NULL THEN index_arn END,
    'partitions', fields -> 'partitions', 'partition_key', fields -> 'partition_key',
    'model_id', model_id, 'dimensions', dimensions, 'vectors', vectors));
END
$$;

-- Sends one batch of claimed keys: the rows' current state (read after the claim: a later change
-- is queued again) as one put_vectors request, the keys without a row as one delete_vectors.
CREATE OR REPLACE FUNCTION s3vl._sync_send(source regclass, index_arn text, keys text[],
  row_sql text, OUT put_keys text[], OUT put_hashes text[], OUT put_text_hashes text[],
  OUT gone text[], OUT text_index text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  put_vectors json;
  model_id text;
  dimensions integer;
BEGIN
  -- A table tracked with a text_column: the function embeds each row's text with the index's
  -- model (55000 without one: the keys back off like any failure). text_hash (model,
  -- dimension, text) lets a row whose text did not change keep its stored vector.
  SELECT st.index_name INTO text_index FROM s3vl.sync_tables st
    WHERE st.source = _sync_send.source AND st.text_column IS NOT NULL;
  IF text_index IS NOT NULL THEN
    SELECT e.model_id, e.dimension INTO model_id, dimensions
      FROM s3vl._embedding_target('s3vl.sync', text_index) e;
  END IF;
  -- The rows' current state, read after the claim: a later change is queued again. Each
  -- vector is formatted once (OFFSET 0 keeps vj from being inlined into both uses).
  EXECUTE 'SELECT pg_catalog.array_agg(r.key), '
          'pg_catalog.array_agg(s3vl._sync_version_of(r.vj, r.meta, r.txt)), '
          'pg_catalog.array_agg(pg_catalog.md5($4 || '':'' || r.txt)), '
          'pg_catalog.json_agg(CASE WHEN r.txt IS NULL THEN pg_catalog.json_build_object('
          '''key'', r.key, ''data'', r.vj, ''metadata'', r.meta) '
          'ELSE pg_catalog.json_build_object(''key'', r.key, ''text'', r.txt, '
          '''metadata'', r.meta, ''reuse_data'', coalesce(s.text_hash = '
          'pg_catalog.md5($4 || '':'' || r.txt), false)) END) '
          'FROM (SELECT q.*, pg_catalog.array_to_json(q.vec) AS vj FROM (' || row_sql || ') q '
          'OFFSET 0) r '
          'LEFT JOIN s3vl.sync_state s ON s.source = $3 AND s.key = r.key'
    INTO put_keys, put_hashes, put_text_hashes, put_vectors
    USING keys, index_arn, source, coalesce(model_id || '/' || dimensions, '');
  -- A hashed anti-join: `<> ALL (put_keys)` would compare every pair.
  SELECT pg_catalog.array_agg(g.k) INTO gone FROM (
    SELECT pg_catalog.unnest(keys) AS k
    EXCEPT SELECT pg_catalog.unnest(coalesce(put_keys, '{}'))) g;
  IF pg_catalog.octet_length(put_vectors::text) > s3vl._limit('sync_batch_bytes')
     AND pg_catalog.cardinality(keys) > 1 THEN
    RAISE EXCEPTION 's3vl.sync: a batch of % rows is % bytes of JSON, over sync_batch_bytes (%)',
      pg_catalog.cardinality(keys), pg_catalog.octet_length(put_vectors::text),
      s3vl._limit('sync_batch_bytes') USING ERRCODE = '54000';
  END IF;
  IF put_keys IS NOT NULL THEN
    PERFORM s3vl._sync_put(index_arn, put_vectors, model_id, dimensions);
  END IF;
  IF gone IS NOT NULL THEN
    PERFORM s3vl._sync_invoke(pg_catalog.json_build_object('operation', 'delete_vectors',
      'index_arn', index_arn, 'keys', pg_catalog.array_to_json(gone)));
  END IF;
END
$$;

-- Sends one claimed batch of keys. A batch the service refuses as invalid (one bad row makes
-- PutVectors refuse all) is split in halves until only the bad keys fail, so one bad row never
-- holds back the others; so is a batch whose JSON came out over sync_batch_bytes (54000).
-- Retryable failures keep the whole batch for a later attempt.
CREATE OR REPLACE FUNCTION s3vl._sync_batch(source regclass, index_arn text, keys text[],
  row_sql text, OUT put_count integer, OUT delete_count integer, OUT failed_count integer,
  OUT error text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  sent record;
  state text;
  half integer;
  part record;
BEGIN
  put_count := 0; delete_count := 0; failed_count := 0;
  BEGIN
    sent := s3vl._sync_send(source, index_arn, keys, row_sql);
  EXCEPTION WHEN OTHERS THEN
    state := SQLSTATE;
    error := pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, state);
  END;
  IF error IS NULL THEN
    put_count := coalesce(pg_catalog.cardinality(sent.put_keys), 0);
    delete_count := coalesce(pg_catalog.cardinality(sent.gone), 0);
    PERFORM s3vl._sync_accepted(source, keys, sent.put_keys, sent.put_hashes, sent.gone,
                                sent.put_text_hashes, sent.text_index);
    RETURN;
  END IF;
  half := pg_catalog.cardinality(keys) / 2;
  IF half >= 1 AND state IN ('22023', '22000', '54000') THEN
    error := NULL;  -- only the halves' own failures count
    FOR part IN SELECT * FROM s3vl._sync_batch(source, index_arn, keys[1:half], row_sql)
                UNION ALL
                SELECT * FROM s3vl._sync_batch(source, index_arn, keys[half + 1:], row_sql) LOOP
      put_count := put_count + part.put_count;
      delete_count := delete_count + part.delete_count;
      failed_count := failed_count + part.failed_count;
      IF part.error IS NOT NULL THEN
        error := part.error;
      END IF;
    END LOOP;
    RETURN;
  END IF;
  failed_count := s3vl._sync_failed(source, keys, error);
END
$$;

-- The due keys of one table nobody else holds, claimed (locked) for this transaction, at most
-- `most`, the longest waiting first.
DROP FUNCTION IF EXISTS s3vl._sync_claim(regclass, boolean, text[], integer);
CREATE OR REPLACE FUNCTION s3vl._sync_claim(source regclass, retry_now boolean, most integer)
RETURNS text[]
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.array_agg(c.key) FROM (
    SELECT o.key FROM s3vl.sync_outbox o
    WHERE o.source = $1 AND ($2 OR o.next_attempt_at <= pg_catalog.now())
    ORDER BY o.next_attempt_at, o.first_enqueued_at
    LIMIT greatest($3, 0)
    FOR UPDATE SKIP LOCKED) c
$$;

-- Syncs the due keys of one tracked table, at most `budget`, in batches of batch_size. Checked at
-- every run: the tracker may still read every tracked column, and the columns still exist with
-- allowed types; a refusal fails the table's due keys. `claimed`: keys this run took. The keys
-- are claimed at once: every claim scans past the outbox rows this transaction already deleted,
-- so claiming batch by batch would cost time growing with the square of the run.
CREATE OR REPLACE FUNCTION s3vl._sync_table(source regclass, tracked_by regrole,
  index_arn text, batch_size integer, budget integer, retry_now boolean,
  OUT upserted integer, OUT deleted integer, OUT failed integer, OUT last_error text,
  OUT claimed integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.sync';
  row_sql text;
  keys text[];
  refusal text;
  first integer := 1;
  res record;
BEGIN
  upserted := 0; deleted := 0; failed := 0;
  -- Claimed after the checks: the guard's lock on the source comes first, in the order a writer
  -- (DDL included) takes the source and then the outbox rows.
  BEGIN
    PERFORM s3vl._sync_check_access(caller, source, tracked_by,
                                    s3vl._sync_columns(caller, source));
    PERFORM s3vl._sync_source_guard(caller, source, true, true);
    row_sql := s3vl._sync_row_sql(source);
  EXCEPTION WHEN OTHERS THEN
    refusal := pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, SQLSTATE);
  END;
  keys := s3vl._sync_claim(source, retry_now, budget);
  claimed := coalesce(pg_catalog.cardinality(keys), 0);
  IF refusal IS NOT NULL THEN
    failed := s3vl._sync_failed(source, keys, refusal);
    last_error := CASE WHEN failed > 0 THEN refusal END;
    RETURN;
  END IF;
  WHILE first <= claimed LOOP
    res := s3vl._sync_batch(source, index_arn, keys[first:first + batch_size - 1], row_sql);
    first := first + batch_size;
    upserted := upserted + res.put_count;
    deleted := deleted + res.delete_count;
    IF res.error IS NOT NULL THEN
      failed := failed + res.failed_count;
      last_error := res.error;
    END IF;
  END LOOP;
END
$$;

-- The last success and error of an index's sync. The last statement before commit: concurrent
-- syncs wait here only briefly.
CREATE OR REPLACE FUNCTION s3vl._sync_index_outcome(index_name text, succeeded boolean,
  last_error text)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO s3vl.sync_index_status AS s (index_name, last_success, last_error, last_error_at)
  VALUES ($1, CASE WHEN $2 THEN pg_catalog.now() END, $3,
          CASE WHEN $3 IS NOT NULL THEN pg_catalog.now() END)
  ON CONFLICT ON CONSTRAINT sync_index_status_pkey DO UPDATE SET
    last_success = coalesce(EXCLUDED.last_success, s.last_success),
    -- A run without errors that synced something clears the index's error.
    last_error = CASE WHEN EXCLUDED.last_error IS NOT NULL THEN EXCLUDED.last_error
                      WHEN EXCLUDED.last_success IS NOT NULL THEN NULL
                      ELSE s.last_error END,
    last_error_at = CASE WHEN EXCLUDED.last_error IS NOT NULL THEN EXCLUDED.last_error_at
                         WHEN EXCLUDED.last_success IS NOT NULL THEN NULL
                         ELSE s.last_error_at END;
$$;

CREATE OR REPLACE FUNCTION s3vl.sync(
  index_name text DEFAULT NULL,
  max_rows integer DEFAULT 5000,
  retry_now boolean DEFAULT false)
RETURNS TABLE (synced_index text, upserted integer, deleted integer, failed integer,
               last_error text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET row_security = off
AS $$
DECLARE
  caller constant text := 's3vl.sync';
  t record;
  idx record;
  res record;
  batch_size integer;
  budget integer := max_rows;
  idx_name text;
BEGIN
  PERFORM s3vl._check_range(caller, 'max_rows', max_rows, 'sync_max_rows');
  IF index_name IS NOT NULL THEN
    PERFORM s3vl._resolve_index(caller, index_name, NULL);
  END IF;
  FOR idx_name IN SELECT DISTINCT st.index_name FROM s3vl.sync_tables st
      WHERE sync.index_name IS NULL OR st.index_name = sync.index_name ORDER BY 1 LOOP
    synced_index := idx_name; upserted := 0; deleted := 0; failed := 0; last_error := NULL;
    SELECT * INTO idx FROM s3vl._resolve_index(caller, idx_name, NULL);
    batch_size := s3vl._sync_batch_size(idx.dimension, (SELECT pg_catalog.count(*)::integer
      FROM s3vl.index_partitions ip WHERE ip.index_name = idx_name));
    -- A text-tracked table's batch is embedded in one invocation: at most embed_texts texts.
    IF EXISTS (SELECT 1 FROM s3vl.sync_tables st WHERE st.index_name = idx_name
               AND st.text_column IS NOT NULL) THEN
      batch_size := least(batch_size, s3vl._limit('embed_texts'));
    END IF;
    -- A dropped table's keys stay pending (visible in sync_status) until untrack_table.
    FOR t IN SELECT st.source, st.tracked_by FROM s3vl.sync_tables st
             WHERE st.index_name = idx_name
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = st.source)
             ORDER BY st.source LOOP
      res := s3vl._sync_table(t.source, t.tracked_by, idx.index_arn, batch_size, budget,
                              retry_now);
      budget := budget - res.claimed;
      upserted := upserted + res.upserted;
      deleted := deleted + res.deleted;
      failed := failed + res.failed;
      last_error := coalesce(res.last_error, last_error);
    END LOOP;
    IF upserted + deleted + failed > 0 THEN
      PERFORM s3vl._sync_index_outcome(idx_name, upserted + deleted > 0, last_error);
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;
COMMENT ON FUNCTION s3vl.sync(text,integer,boolean) IS
  's3vl: one row per index synced: upserted, deleted, failed, last_error';

-- The sync bookkeeping of one tracked table: every key with a recorded version or a pending
-- change. Only for a role that may read the table's key column (readers get no direct access to
-- s3vl.sync_state or s3vl.sync_outbox, which hold the keys of every tracked table).
CREATE OR REPLACE FUNCTION s3vl._sync_state_rows(source regclass)
RETURNS TABLE (key text, version_hash text, synced_at timestamptz, pending boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.stale_rows';
  key_column name;
BEGIN
  PERFORM s3vl._require(caller, 'source', source);
  SELECT st.key_column INTO key_column FROM s3vl.sync_tables st
    WHERE st.source = _sync_state_rows.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: source % is not tracked', caller, source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  PERFORM s3vl._sync_check_access(caller, source, s3vl._invoker(),
    ARRAY[(s3vl._sync_column(caller, source, 'key_column', key_column, 'key')).attname]);
  RETURN QUERY
    SELECT coalesce(s.key, o.key), s.version_hash, s.synced_at, o.key IS NOT NULL
    FROM (SELECT x.key, x.version_hash, x.synced_at FROM s3vl.sync_state x
          WHERE x.source = _sync_state_rows.source) s
    FULL JOIN (SELECT y.key FROM s3vl.sync_outbox y WHERE y.source = _sync_state_rows.source) o
      ON o.key = s.key;
END
$$;

-- Keys whose vector in S3 Vectors is not the row's current version: 'never synced', 'changed'
-- (embedding or metadata differ from what S3 Vectors accepted last) or 'deleted' (the row is
-- gone but its vector is still there). pending: a change is queued for the next sync.
CREATE OR REPLACE FUNCTION s3vl.stale_rows(source regclass)
RETURNS TABLE (key text, reason text, synced_at timestamptz, synced_version text,
               current_version text, pending boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
-- Rows come from RETURN QUERY EXECUTE, never through the OUT variables, so plpgsql_check's
-- "OUT variable maybe unmodified" does not apply here:
-- @plpgsql_check_options: extra_warnings = false
BEGIN
  PERFORM s3vl._require('s3vl.stale_rows', 'source', source);
  IF NOT EXISTS (SELECT 1 FROM s3vl.sync_tables st WHERE st.source = stale_rows.source) THEN
    RAISE EXCEPTION 's3vl.stale_rows: source % is not tracked', source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  PERFORM s3vl._sync_source_guard('s3vl.stale_rows', source, true, false);
  RETURN QUERY EXECUTE
    'SELECT coalesce(r.key, s.key), '
    '       CASE WHEN s.version_hash IS NULL THEN ''never synced'' '
    '            WHEN r.key IS NULL THEN ''deleted'' ELSE ''changed'' END, '
    '       s.synced_at, s.version_hash, r.version, coalesce(s.pending, false) '
    'FROM (SELECT x.key, s3vl._sync_version(x.vec, x.meta, x.txt) AS version FROM ('
      || s3vl._sync_row_sql(source, true) || ') x) r '
    'FULL JOIN s3vl._sync_state_rows($1) s ON s.key = r.key '
    'WHERE r.version IS DISTINCT FROM s.version_hash ORDER BY 1'
    USING source;
END
$$;
COMMENT ON FUNCTION s3vl.stale_rows(regclass) IS
  's3vl: the keys of source whose vector in the index is missing, outdated or orphaned';

-- Nearest neighbours of the index a table is tracked into, restricted to keys that still exist
-- in the table (orphaned vectors never reach the caller) and, optionally, to rows passing
-- predicate: s3vl.query_vectors_where (sql/30_api/58_where.sql) on the tracked index, so exactly top_k
-- rows whenever max_candidates neighbours hold that many.
DROP FUNCTION IF EXISTS s3vl.query_table(regclass, name, float8[], integer, jsonb);
CREATE OR REPLACE FUNCTION s3vl.query_table(
  query_vector float8[],
  source regclass,
  key_column name,
  predicate text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  max_candidates integer DEFAULT 10000,
  strategy text DEFAULT 'auto')
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  caller constant text := 's3vl.query_table';
  idx text;
BEGIN
  PERFORM s3vl._require(caller, 'source', source);
  SELECT st.index_name INTO idx FROM s3vl.sync_tables st WHERE st.source = query_table.source;
  IF idx IS NULL THEN
    RAISE EXCEPTION '%: source % is not tracked, so its index is unknown', caller, source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  PERFORM s3vl._sync_source_guard(caller, source, true, false);
  RETURN QUERY SELECT * FROM s3vl._query_where(caller, query_vector, source, key_column,
    predicate, top_k, idx, NULL, metadata_filter, max_candidates, strategy);
END
$$;
COMMENT ON FUNCTION s3vl.query_table(double precision[],regclass,name,text,integer,jsonb,integer,
                                      text) IS
  's3vl: the top_k nearest rows of a tracked table passing predicate (key, distance, ...)';

-- ---- Sync that runs itself: pg_cron (docs/sync.md, Scheduling) --------------------------------
-- One job per database, named s3vl-sync, owned by the s3vl owner (these functions are SECURITY
-- DEFINER, so the job runs as the owner, whatever role scheduled it). Its command is built here
-- from a checked interval. pg_cron's finest schedule before 1.5 is a minute, so a shorter
-- interval is a job that starts every minute and syncs every `every` within it (committing
-- after each run); overlapping runs are safe (sync claims keys with SKIP LOCKED).

-- Runs sync every `every` until `run_for` has passed (once when run_for is zero), or until the
-- job is unscheduled or rescheduled. A procedure, so that each run commits; not SECURITY DEFINER
-- (that forbids COMMIT): only the owner runs it.
CREATE OR REPLACE PROCEDURE s3vl._sync_job(every interval, run_for interval)
LANGUAGE plpgsql
AS $$
DECLARE
  stop_at constant timestamptz := pg_catalog.clock_timestamp() + run_for;
  next_at timestamptz;
BEGIN
  LOOP
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    next_at := pg_catalog.clock_timestamp() + every;
    PERFORM * FROM s3vl.sync();
    COMMIT;
    -- Unscheduled or rescheduled meanwhile: stop now rather than at the end of the minute.
    EXIT WHEN next_at >= stop_at OR s3vl._sync_schedule() IS DISTINCT FROM every;
    PERFORM pg_catalog.pg_sleep(pg_catalog.date_part('epoch',
      pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) next_at) OPERATOR(pg_catalog.*) -1);
  END LOOP;
END
$$;
REVOKE ALL ON PROCEDURE s3vl._sync_job(interval, interval) FROM PUBLIC;

-- 55000 unless pg_cron is installed in this database.
CREATE OR REPLACE FUNCTION s3vl._require_pg_cron(caller text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cron_db text := pg_catalog.current_setting('cron.database_name', true);
BEGIN
  IF pg_catalog.to_regprocedure('cron.schedule(text,text,text)') IS NOT NULL THEN
    RETURN;
  END IF;
  RAISE EXCEPTION '%: pg_cron is not installed in database %', caller,
    pg_catalog.current_database() USING ERRCODE = '55000',
    DETAIL = CASE
      WHEN cron_db IS NULL THEN 'pg_cron is not loaded (not in shared_preload_libraries).'
      WHEN cron_db <> pg_catalog.current_database() THEN
        pg_catalog.format('pg_cron runs in database %s (cron.database_name).', cron_db)
      ELSE 'CREATE EXTENSION pg_cron has not been run here.' END,
    HINT = 'Add pg_cron to shared_preload_libraries and set cron.database_name to this database '
           '(Aurora: in the DB cluster parameter group, then reboot), then run CREATE EXTENSION '
           'pg_cron here as rds_superuser; see docs/deploy.md.';
END
$$;

-- The interval of this database's sync job, or NULL when none is scheduled.
CREATE OR REPLACE FUNCTION s3vl._sync_schedule()
RETURNS interval
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  command text;
BEGIN
  IF pg_catalog.to_regclass('cron.job') IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE 'SELECT j.command FROM cron.job j WHERE j.jobname = ''s3vl-sync'' AND j.active '
          'AND j.username = current_user'
    INTO command;
  RETURN pg_catalog.substring(command, 's3vl\._sync_job\(''([^'']+)''')::interval;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.schedule_sync(every interval DEFAULT '1 minute')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.schedule_sync';
  minutes integer;
  cron text;
  command text;
  job bigint;
BEGIN
  IF every IS NULL OR every < interval '1 second' OR every > interval '1 hour'
     OR pg_catalog.date_part('microseconds', every)::bigint % 1000000 <> 0 THEN
    RAISE EXCEPTION '%: every must be whole seconds between 1 second and 1 hour (got %)', caller,
      coalesce(every::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF every >= interval '1 minute' AND pg_catalog.date_part('epoch', every)::bigint % 60 <> 0 THEN
    RAISE EXCEPTION '%: every of a minute or more must be whole minutes (got %)', caller, every
      USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._require_pg_cron(caller);
  IF every < interval '1 minute' THEN
    cron := '* * * * *';  -- each run syncs every `every` for 55 seconds
    command := pg_catalog.format('CALL s3vl._sync_job(%L, %L)', every, interval '55 seconds');
  ELSE
    minutes := pg_catalog.date_part('epoch', every)::integer / 60;
    cron := CASE WHEN minutes = 60 THEN '0 * * * *'
                 ELSE pg_catalog.format('*/%s * * * *', minutes) END;
    command := pg_catalog.format('CALL s3vl._sync_job(%L, %L)', every, interval '0');
  END IF;
  -- The same name replaces this owner's earlier job.
  EXECUTE 'SELECT cron.schedule(''s3vl-sync'', $1, $2)' INTO job USING cron, command;
  RETURN job;
END
$$;
COMMENT ON FUNCTION s3vl.schedule_sync(interval) IS
  's3vl: the pg_cron job id that runs sync every interval';

CREATE OR REPLACE FUNCTION s3vl.unschedule_sync()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job bigint;
BEGIN
  PERFORM s3vl._require_pg_cron('s3vl.unschedule_sync');
  EXECUTE 'SELECT j.jobid FROM cron.job j WHERE j.jobname = ''s3vl-sync'' '
          'AND j.username = current_user' INTO job;
  IF job IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE 'SELECT cron.unschedule($1)' USING job;
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.unschedule_sync() IS 's3vl: true once the pg_cron sync job is removed';

-- sync_every: the interval of the pg_cron job (s3vl.schedule_sync), NULL when none.
-- last_error / last_error_at: the latest error among the index's keys still pending, and when it
-- happened; NULL once those keys synced (or were untracked), so a monitor does not alert forever.
CREATE OR REPLACE FUNCTION s3vl.sync_status()
RETURNS TABLE (index_name text, pending bigint, oldest_pending_age interval, failed bigint,
               last_error text, last_success timestamptz, sync_every interval,
               last_error_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT i.index_name,
         (SELECT pg_catalog.count(*) FROM s3vl.sync_outbox o WHERE o.index_name = i.index_name),
         (SELECT pg_catalog.now() - pg_catalog.min(o.first_enqueued_at) FROM s3vl.sync_outbox o
            WHERE o.index_name = i.index_name),
         (SELECT pg_catalog.count(*) FROM s3vl.sync_outbox o
            WHERE o.index_name = i.index_name AND o.attempts > 0),
         e.last_error,
         s.last_success,
         s3vl._sync_schedule(),
         e.last_error_at
  FROM (SELECT DISTINCT st.index_name FROM s3vl.sync_tables st) i
  LEFT JOIN s3vl.sync_index_status s ON s.index_name = i.index_name
  LEFT JOIN LATERAL (SELECT o.last_error, o.last_error_at FROM s3vl.sync_outbox o
                     WHERE o.index_name = i.index_name AND o.last_error IS NOT NULL
                     ORDER BY o.last_error_at DESC LIMIT 1) e ON true
  ORDER BY i.index_name
$$;
COMMENT ON FUNCTION s3vl.sync_status() IS
  's3vl: one row per synced index: pending and failed keys, last error and success';

-- query_table with a phrase (text in, rows out; docs/embeddings.md): the phrase is embedded with
-- the model of the index the table is tracked into (s3vl._embed_for, 30_api/72_embeddings.sql),
-- then the vector form runs with the caller's rights.
CREATE OR REPLACE FUNCTION s3vl.query_table(
  query_text text,
  source regclass,
  key_column name,
  predicate text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  max_candidates integer DEFAULT 10000,
  strategy text DEFAULT 'auto')
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  idx text;
BEGIN
  PERFORM s3vl._require('s3vl.query_table', 'source', source);
  SELECT st.index_name INTO idx FROM s3vl.sync_tables st WHERE st.source = query_table.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.query_table: table % is not tracked', source
      USING ERRCODE = '42704', HINT = 'Track it with s3vl.track_table(...).';
  END IF;
  RETURN QUERY SELECT * FROM s3vl.query_table(
    s3vl._embed_for('s3vl.query_table', query_text, idx), source, key_column, predicate, top_k,
    metadata_filter, max_candidates, strategy);
END
$$;

COMMENT ON FUNCTION s3vl.query_table(text, regclass, name, text, integer, jsonb, integer, text) IS
  's3vl: the top_k rows of a tracked table nearest to a phrase (no orphaned ids)';

-- ==== 40_sync/82_sync_guard.sql
-- Trust at the edges of sync (issue 19, items 1-3).
--
-- * Sync's own way to the function: s3vl._sync_invoke. s3vl.sync is not bound by its caller's
--   vector policy (it sends what a tracked table holds, checked against the tracker's privileges
--   at every run), and that exemption is this function, which no reader or writer may execute:
--   no text an argument carries ever decides whether a policy applies (_policy_request takes the
--   caller's identity from the session only).
-- * Before every read of a tracked table (capture, backfill, sync, stale_rows, query_table) the
--   table is locked (ACCESS SHARE: no ALTER, CREATE RULE, policy or owner change can happen until
--   the transaction ends) and checked again: still an ordinary or partitioned table (every
--   partition too), no rules, owned by the role that owned it when it was tracked, tracked columns
--   of built-in types. Otherwise the read stops with a clear error and reads nothing: a table
--   turned into a view (PostgreSQL 15 lets its owner add an ON SELECT rule to an empty table)
--   would run its owner's code as the s3vl owner.
-- * Sync and backfill read tracked tables as the s3vl owner with row_security = off: a
--   row-level security policy that would apply to the owner raises instead of running (its
--   USING expression is the table owner's code). The guard refuses such a table up front.

-- Sends one of sync's protocol requests (put_vectors / delete_vectors of a tracked table's rows)
-- without the caller's vector policy. Not granted to anyone: only s3vl.sync (SECURITY DEFINER)
-- reaches it.
CREATE OR REPLACE FUNCTION s3vl._sync_invoke(request json)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN s3vl._unwrap('s3vl.sync', (SELECT c.payload
    FROM s3vl._send_lambda('s3vl.sync', request, 'RequestResponse') AS c));
END
$$;

-- The table and every partition: an ordinary (or partitioned) table without rules (42809
-- otherwise). A foreign table or a view (a table given an ON SELECT rule) would run code its
-- owner wrote.
CREATE OR REPLACE FUNCTION s3vl._sync_check_relkind(caller text, source regclass)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  bad record;
BEGIN
  SELECT c.oid::regclass AS rel, c.relkind,
         EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid) AS has_rules
    INTO bad
    FROM (SELECT source::oid AS relid
          UNION SELECT t.relid FROM pg_catalog.pg_partition_tree(source) t) p
    JOIN pg_catalog.pg_class c ON c.oid = p.relid
    WHERE c.relkind NOT IN ('r', 'p')
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid)
    LIMIT 1;
  IF FOUND OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = source
                          AND c.relkind IN ('r', 'p')) THEN
    RAISE EXCEPTION '%: % is no longer an ordinary table without rules (%); nothing was read',
      caller, source,
      CASE WHEN bad.rel IS NULL THEN 'it is not a table'
           WHEN bad.relkind NOT IN ('r', 'p') THEN pg_catalog.format('%s has relkind %s',
                                                                     bad.rel, bad.relkind)
           ELSE pg_catalog.format('%s has rules', bad.rel) END
      USING ERRCODE = '42809',
            HINT = 'Reading it would run code its owner wrote as the s3vl owner; untrack it '
                   '(s3vl.untrack_table) or restore an ordinary table and track it again.';
  END IF;
END
$$;

-- Locks a tracked table (unless take_lock is false: a capture trigger's statement holds it
-- already) and checks it is still safe to read (see the header); raises otherwise. as_owner: the
-- read that follows runs as the s3vl owner (sync, backfill), so a row-level security policy that
-- would apply to the owner is refused too. SECURITY DEFINER so that the lock does not depend on
-- table-level privileges of the caller; a caller that reads with its own rights (as_owner false)
-- must hold some SELECT privilege on the table (sync and backfill check the tracker's).
CREATE OR REPLACE FUNCTION s3vl._sync_source_guard(caller text, source regclass,
                                                   take_lock boolean, as_owner boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  recorded regrole;
  rel record;
BEGIN
  SELECT st.source_owner INTO recorded FROM s3vl.sync_tables st
    WHERE st.source = _sync_source_guard.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: source % is not tracked', caller, source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  IF take_lock THEN
    IF NOT as_owner
       AND NOT pg_catalog.has_any_column_privilege(s3vl._invoker(), source, 'SELECT') THEN
      RAISE EXCEPTION '%: permission denied for table %', caller, source USING ERRCODE = '42501';
    END IF;
    -- Checked before the lock as well: LOCK on a view would lock what the view reads.
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = source) IN ('r', 'p') THEN
      EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS SHARE MODE', source);
    END IF;
  END IF;
  PERFORM s3vl._sync_check_relkind(caller, source);
  SELECT c.relowner, c.relrowsecurity, c.relforcerowsecurity INTO rel
    FROM pg_catalog.pg_class c WHERE c.oid = source;
  IF recorded IS NULL OR rel.relowner <> recorded::oid THEN
    RAISE EXCEPTION '%: % is owned by %, not by % who owned it when it was tracked; nothing '
                    'was read', caller, source, rel.relowner::regrole,
      coalesce(recorded::text, '(unknown)')
      USING ERRCODE = '42501',
            HINT = 'If the new owner is intended, track the table again (s3vl.track_table).';
  END IF;
  PERFORM s3vl._sync_columns(caller, source);  -- tracked columns of built-in types (42804)
  -- The read as the owner runs with row_security = off: a policy that applies to the owner
  -- would raise there; say why here instead.
  IF as_owner AND rel.relrowsecurity
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
                     AND (r.rolsuper OR r.rolbypassrls))
     AND (rel.relowner <> (SELECT r.oid FROM pg_catalog.pg_roles r
                           WHERE r.rolname = current_user) OR rel.relforcerowsecurity) THEN
    RAISE EXCEPTION '%: % has row-level security, which would apply to the s3vl owner %; '
                    'sync does not run a table''s policies as the s3vl owner', caller, source,
      current_user
      USING ERRCODE = '42501',
            HINT = 'Disable row-level security on the table, or give the s3vl owner BYPASSRLS.';
  END IF;
END
$$;

-- ==== 50_roles/90_grants.sql
-- Privileges. Nothing is granted to PUBLIC. Three group roles (cluster-wide, created once):
--   s3vl_reader  query_vectors, get_vectors, list_vectors, scan_vectors, describe_index,
--                list_indexes, get_index_info, resolve_index_arn, limits, error_codes, version
--   s3vl_writer  everything s3vl_reader has (writes are granted to it when they exist)
--   s3vl_admin   s3vl_writer + configure, validate_config, get_config and the registry writes
-- Functions that reach config or aws_lambda are SECURITY DEFINER with a fixed search_path, so
-- members need no privilege on aws_lambda or on the tables.

DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 's3vl_reader') THEN
    CREATE ROLE s3vl_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 's3vl_writer') THEN
    CREATE ROLE s3vl_writer NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 's3vl_admin') THEN
    CREATE ROLE s3vl_admin NOLOGIN;
  END IF;
END
$roles$;
GRANT s3vl_reader TO s3vl_writer;
GRANT s3vl_writer TO s3vl_admin;

REVOKE ALL ON SCHEMA s3vl FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA s3vl FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA s3vl FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA s3vl FROM PUBLIC;
-- Every function grant is made below: an upgrade drops what an earlier version granted and this
-- one does not (tests/sql/test_pgtle.py compares an upgraded catalog with a fresh one).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA s3vl FROM s3vl_reader, s3vl_writer, s3vl_admin;
GRANT USAGE ON SCHEMA s3vl TO s3vl_reader;

GRANT EXECUTE ON FUNCTION
  s3vl.version(),
  s3vl.limits(),
  s3vl.error_codes(),
  s3vl.query_vectors(float8[], text, text, integer, boolean, jsonb),
  s3vl.query_vectors(text, float8[], integer, boolean, jsonb),
  s3vl.query_vectors(text, text, integer, boolean, jsonb),
  s3vl.get_vectors(text[], text, text, boolean, boolean),
  s3vl.list_vectors(text, text, boolean, boolean, integer, text, integer, integer),
  s3vl.scan_vectors(text, text, boolean, boolean, integer),
  s3vl.describe_index(text, text),
  s3vl.list_indexes(),
  s3vl.get_index_info(text),
  s3vl.resolve_index_arn(text)
TO s3vl_reader;

GRANT EXECUTE ON FUNCTION
  s3vl.configure(text, text, integer),
  s3vl.validate_config(),
  s3vl.get_config(),
  s3vl.register_index(text, text, text),
  s3vl.activate_index(text),
  s3vl.deactivate_index(text),
  s3vl.unregister_index(text),
  -- Partitioned logical indexes (30_api/68_partitions.sql).
  s3vl.create_partitioned_index(text, text, text),
  s3vl.add_partition(text, text, text),
  s3vl.drop_partition(text, text),
  s3vl.list_partitions(text)
TO s3vl_admin;

-- Writes (30_api/60_writes.sql), batched queries (30_api/65_batch.sql) and the result cache (20_transport/52_cache.sql).
GRANT EXECUTE ON FUNCTION
  s3vl.query_vectors_batch(float8[], text, integer, jsonb, boolean, text[]),
  s3vl.query_vectors_batch(jsonb, text, integer, jsonb, boolean),
  s3vl.cache_stats()
TO s3vl_reader;
GRANT EXECUTE ON FUNCTION
  s3vl.put_vectors(jsonb, text, text),
  s3vl.put_vector_arrays(text[], float8[], text, jsonb[], text),
  s3vl.put_vector(text, float8[], text, jsonb),
  s3vl.delete_vectors(text[], text, text)
TO s3vl_writer;
-- Embeddings (30_api/72_embeddings.sql; the query_text forms in 58_where.sql and 80_sync.sql).
GRANT EXECUTE ON FUNCTION
  s3vl.embed(text, text),
  s3vl.embed(text[], text),
  s3vl.semantic_search(text, text, integer, jsonb, boolean),
  s3vl.semantic_hybrid_search(text, text, text, integer, jsonb, boolean),
  s3vl.query_vectors_where(text, regclass, name, text, text, integer, jsonb, integer, text),
  s3vl.query_table(text, regclass, name, text, integer, jsonb, integer, text),
  s3vl._embed_for(text, text, text)
TO s3vl_reader;
GRANT EXECUTE ON FUNCTION
  s3vl.set_embedding_model(text, text)
TO s3vl_admin;
GRANT EXECUTE ON FUNCTION
  s3vl.set_cache(text, interval),
  s3vl.set_cache_limits(integer, bigint),
  s3vl.clear_cache()
TO s3vl_admin;

-- Sync (40_sync/80_sync.sql). Nobody but the owner reads or writes the sync tables directly (they hold the
-- keys of every tracked table); the SECURITY DEFINER functions check the calling role.
-- track/untrack run with the caller's rights (triggers need the caller's privileges on the
-- table) and record through _sync_register/_sync_unregister; stale_rows and query_table read the
-- source with the caller's rights. Readers may see which tables are tracked (no keys).
REVOKE ALL ON s3vl.sync_tables, s3vl.sync_outbox, s3vl.sync_state, s3vl.sync_index_status
  FROM s3vl_reader, s3vl_writer, s3vl_admin;
GRANT SELECT ON s3vl.sync_tables TO s3vl_reader;
GRANT EXECUTE ON FUNCTION
  s3vl.track_table(regclass, name, name, text, text[], name),
  s3vl.untrack_table(regclass),
  s3vl.backfill(regclass),
  s3vl._sync_register(regclass, name, name, text, text[], name),
  s3vl._sync_drop_triggers(regclass),
  s3vl._sync_unregister(regclass),
  s3vl._sync_capture()
TO s3vl_admin;
GRANT EXECUTE ON FUNCTION
  s3vl.sync(text, integer, boolean),
  s3vl.sync_status()
TO s3vl_writer;
GRANT EXECUTE ON FUNCTION
  s3vl.schedule_sync(interval),
  s3vl.unschedule_sync()
TO s3vl_admin;
GRANT EXECUTE ON FUNCTION
  s3vl.stale_rows(regclass),
  s3vl.query_table(float8[], regclass, name, text, integer, jsonb, integer, text),
  s3vl._require(text, text, anyelement),
  s3vl._check_range(text, text, bigint, text),
  s3vl._limit(text),
  s3vl._sync_row_sql(regclass, boolean),
  s3vl._sync_column(text, regclass, text, text, text),
  s3vl._sync_columns(text, regclass),
  s3vl._sync_state_rows(regclass),
  s3vl._sync_version(float8[], jsonb),
  s3vl._sync_version(float8[], jsonb, text),
  s3vl._sync_version_of(json, jsonb, text),
  s3vl._sync_try_cast(text, anyelement),
  s3vl._sync_source_guard(text, regclass, boolean, boolean)
TO s3vl_reader;

-- Filtered search (30_api/58_where.sql): the scan runs with the caller's rights; the definer
-- helpers it calls check their own arguments.
GRANT EXECUTE ON FUNCTION
  s3vl.query_vectors_where(float8[], regclass, name, text, text, text, integer, jsonb, integer,
                           text),
  s3vl._query_where(text, float8[], regclass, name, text, integer, text, text, jsonb, integer,
                    text),
  s3vl._query_prefilter(text, float8[], text, integer, jsonb, text[]),
  s3vl._query_page_target(text, float8[], text, text, jsonb),
  s3vl._query_page(text, float8[], text, integer, jsonb, text, integer),
  s3vl._where_sql(regclass, name, text, text),
  s3vl._where_check(text, regclass, name, text, integer, integer, text),
  s3vl._where_passed(regclass, name, text, text, jsonb, jsonb),
  s3vl._where_pages(integer, integer, integer, integer, integer, integer, integer),
  s3vl._where_page(text, jsonb, integer, integer),
  s3vl._where_key_bound(regclass, integer, text),
  s3vl._where_plan_keys(text, regclass, name, text, integer, text),
  s3vl._where_report(text, integer, integer, integer, integer, integer, boolean),
  s3vl._where_rows(jsonb, integer)
TO s3vl_reader;

-- Vector policies and index grants (20_transport/45_policies.sql).
GRANT EXECUTE ON FUNCTION
  s3vl.create_policy(text, name, jsonb),
  s3vl.drop_policy(text, name),
  s3vl.list_policies(),
  s3vl.grant_index(text, name),
  s3vl.revoke_index(text, name)
TO s3vl_admin;

-- Full-text and hybrid search, index administration (30_api/57_search.sql).
GRANT EXECUTE ON FUNCTION
  s3vl.search_text(text, text, text, text, integer, jsonb, boolean),
  s3vl.search_text(jsonb, text, text, integer, jsonb, boolean),
  s3vl.hybrid_search(float8[], text, text, text, text, integer, jsonb, boolean),
  s3vl.hybrid_search(float8[], jsonb, text, text, integer, jsonb, boolean)
TO s3vl_reader;
GRANT EXECUTE ON FUNCTION
  s3vl.set_index_mode(text, text),
  s3vl.add_text_search(text, text, text),
  s3vl.drop_text_search(text, text)
TO s3vl_admin;
-- Invocation retries (20_transport/30_invoke.sql).
GRANT EXECUTE ON FUNCTION s3vl.set_invoke_retries(integer) TO s3vl_admin;
-- Admission control (20_transport/31_admission.sql); the slots table is the owner's alone.
GRANT EXECUTE ON FUNCTION s3vl.set_invoke_concurrency(integer) TO s3vl_admin;

-- Management by filter and metadata patches (30_api/70_manage.sql): readers count and list,
-- writers delete and patch.
GRANT EXECUTE ON FUNCTION
  s3vl.count_vectors(text, jsonb),
  s3vl.list_vectors_where(text, jsonb, boolean)
TO s3vl_reader;
GRANT EXECUTE ON FUNCTION
  s3vl.delete_vectors_where(text, jsonb, boolean, boolean),
  s3vl.update_metadata(text[], jsonb, text)
TO s3vl_writer;

-- ==== extension/dump.sql
-- Appended to the extension script by sql/build-extension.sh (extension installs only).
--
-- pg_dump keeps the rows of every table that holds user state: every permanent (logged) table of
-- the schema, and the sequences those tables own. UNLOGGED tables are caches (PostgreSQL empties
-- them after a crash anyway) and are left out. The list comes from the catalog, so a table added
-- by a later version is kept without anyone remembering to list it.
DO $config_dump$
DECLARE
  rel regclass;
BEGIN
  FOR rel IN
    SELECT c.oid::regclass FROM pg_catalog.pg_class c
    WHERE c.relnamespace = 's3vl'::regnamespace AND c.relkind = 'r' AND c.relpersistence = 'p'
    UNION ALL
    SELECT s.oid::regclass FROM pg_catalog.pg_class s
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass
      AND d.objid = s.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.deptype IN ('a', 'i')
    JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
    WHERE s.relkind = 'S' AND s.relnamespace = 's3vl'::regnamespace
      AND t.relkind = 'r' AND t.relpersistence = 'p'
  LOOP
    PERFORM pg_catalog.pg_extension_config_dump(rel, '');
  END LOOP;
END
$config_dump$;

-- s3vl.cache_limits has one row, inserted by the script. A restore runs CREATE EXTENSION (which
-- inserts it) and then copies the dumped row: that copy updates the row instead of failing on
-- the key. The script itself (an upgrade re-inserting the default) is left alone.
CREATE OR REPLACE FUNCTION s3vl._cache_limits_restore()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_catalog.current_setting('s3vl.extension_script', true) IS DISTINCT FROM 'on' THEN
    UPDATE s3vl.cache_limits l SET max_entries = NEW.max_entries, max_bytes = NEW.max_bytes
      WHERE l.id = NEW.id;
    IF FOUND THEN
      RETURN NULL;
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION s3vl._cache_limits_restore() FROM PUBLIC;
DO $restore_trigger$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgname = 'cache_limits_restore'
                 AND tgrelid = 's3vl.cache_limits'::regclass) THEN
    CREATE TRIGGER cache_limits_restore BEFORE INSERT ON s3vl.cache_limits
      FOR EACH ROW EXECUTE FUNCTION s3vl._cache_limits_restore();
  END IF;
END
$restore_trigger$;
SELECT pg_catalog.set_config('s3vl.extension_script', 'off', true);
