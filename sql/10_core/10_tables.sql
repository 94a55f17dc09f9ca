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
