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
  -- 1.1.0: schedule_sync gained workers, the job procedure a worker number (an overload beside
  -- the old one would make the jobs' CALL text ambiguous).
  DROP FUNCTION IF EXISTS s3vl.schedule_sync(interval);
  DROP PROCEDURE IF EXISTS s3vl._sync_job(interval, interval);
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
