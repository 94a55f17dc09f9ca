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
  s3vl.schedule_sync(interval, integer),
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
