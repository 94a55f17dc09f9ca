-- Keeping S3 Vectors in step with PostgreSQL tables (docs/sync.md).
--
-- Triggers on a tracked table record the KEY of every changed row in s3vl.sync_outbox, in the
-- writer's transaction (one pending row per key: several changes to a key coalesce). s3vl.sync()
-- claims pending keys with FOR UPDATE SKIP LOCKED, reads each key's CURRENT row (present = put,
-- gone = delete), sends batches through the function and deletes the outbox rows only after the
-- function reported success. A writer that changes a claimed key waits for the claim to end and
-- then enqueues the key again, so a newer state is never overtaken by an older one and no change
-- is skipped; a crash between send and commit only re-sends an idempotent put/delete.

CREATE TABLE IF NOT EXISTS s3vl.sync_tables (
  source regclass PRIMARY KEY,
  key_column name NOT NULL,
  key_type text NOT NULL,
  embedding_column name NOT NULL,
  embedding_cast text NOT NULL,
  index_name text NOT NULL,
  metadata_columns text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE s3vl.sync_tables IS 's3vl: tables tracked by s3vl.track_table';

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

CREATE TABLE IF NOT EXISTS s3vl.sync_index_status (
  index_name text PRIMARY KEY,
  last_success timestamptz,
  last_error text,
  last_error_at timestamptz
);

-- Batch sizing (the one place for these numbers): PutVectors takes at most 500 vectors per call;
-- a synchronous Lambda request is at most 6 MB, so a put batch is also kept under ~4 MB of JSON
-- (about 22 bytes per float32 as text plus up to 2 KiB of metadata per vector).
CREATE OR REPLACE FUNCTION s3vl._sync_batch_size(dimension integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT greatest(1, least(500,
           4000000 / (coalesce(dimension, 4096) * 22 + 2048)))
$$;

-- Backoff after a failed attempt: 1 s, 2 s, 4 s ... capped at 5 minutes.
CREATE OR REPLACE FUNCTION s3vl._sync_backoff(attempts integer)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.make_interval(secs => least(300, 2 ^ least(attempts - 1, 20)))
$$;

-- SQL that returns (key text, vec float8[], meta jsonb) for the rows of a tracked table whose
-- key is in $1 (text[]), or of every row; rows with a NULL embedding count as absent.
DROP FUNCTION IF EXISTS s3vl._sync_row_sql(s3vl.sync_tables);  -- 1-argument first version
CREATE OR REPLACE FUNCTION s3vl._sync_row_sql(t s3vl.sync_tables, all_rows boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  meta text := '''{}''::jsonb';
BEGIN
  IF coalesce(pg_catalog.cardinality(t.metadata_columns), 0) > 0 THEN
    SELECT 'pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(' ||
           pg_catalog.string_agg(pg_catalog.format('%L, t.%I', c, c), ', ' ORDER BY o) || '))'
      INTO meta
      FROM pg_catalog.unnest(t.metadata_columns) WITH ORDINALITY AS u(c, o);
  END IF;
  RETURN pg_catalog.format(
    'SELECT t.%1$I::text AS key, (t.%2$I)%3$s AS vec, %4$s AS meta FROM %5$s t '
    'WHERE %6$s t.%2$I IS NOT NULL',
    t.key_column, t.embedding_column, t.embedding_cast, meta, t.source::text,
    CASE WHEN all_rows THEN ''
         ELSE pg_catalog.format('t.%I = ANY ($1::%s[]) AND', t.key_column, t.key_type) END);
END
$$;

CREATE OR REPLACE FUNCTION s3vl._sync_version(vec float8[], meta jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.md5(pg_catalog.array_to_json(vec)::text || '|' || coalesce(meta, '{}')::text) $$;

-- Statement-level capture: enqueues the keys a statement changed. TG_ARGV: key column, tracked
-- columns (text[] literal). Transition tables keep a bulk statement to one outbox statement.
CREATE OR REPLACE FUNCTION s3vl._sync_capture()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  key_col text := TG_ARGV[0];
  tracked text := (SELECT pg_catalog.string_agg(pg_catalog.format('%I', c), ', ')
                     FROM pg_catalog.unnest(TG_ARGV[1]::text[]) AS c);
  idx text := TG_ARGV[2];
  keys_sql text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    keys_sql := pg_catalog.format('SELECT %I::text FROM new_rows', key_col);
  ELSIF TG_OP = 'DELETE' THEN
    keys_sql := pg_catalog.format('SELECT %I::text FROM old_rows', key_col);
  ELSE
    -- Updated rows whose tracked columns changed, and old keys that no longer exist.
    keys_sql := pg_catalog.format(
      'SELECT %1$I::text FROM (SELECT %2$s FROM new_rows EXCEPT SELECT %2$s FROM old_rows) n '
      'UNION SELECT %1$I::text FROM (SELECT %1$I FROM old_rows EXCEPT SELECT %1$I FROM new_rows) o',
      key_col, tracked);
  END IF;
  EXECUTE pg_catalog.format(
    'INSERT INTO s3vl.sync_outbox AS o (source, key, index_name) '
    'SELECT $1, k, $2 FROM (%s) AS changed(k) WHERE k IS NOT NULL ORDER BY k '
    'ON CONFLICT (source, key) DO UPDATE SET changes = o.changes + 1, '
    'last_enqueued_at = pg_catalog.now(), next_attempt_at = pg_catalog.now()', keys_sql)
    USING TG_RELID::regclass, idx;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.untrack_table(source regclass)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  op text;
BEGIN
  PERFORM s3vl._require('s3vl.untrack_table', 'source', source);
  FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', 's3vl_sync_' || op, source);
  END LOOP;
  DELETE FROM s3vl.sync_outbox o WHERE o.source = untrack_table.source;
  DELETE FROM s3vl.sync_state s WHERE s.source = untrack_table.source;
  DELETE FROM s3vl.sync_tables t WHERE t.source = untrack_table.source;
  RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.track_table(
  source regclass,
  key_column name,
  embedding_column name,
  index_name text,
  metadata_columns text[] DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.track_table';
  key_type text;
  emb_type text;
  emb_cast text;
  col text;
  cols text[];
BEGIN
  PERFORM s3vl._require(caller, 'source', source);
  PERFORM s3vl._require(caller, 'key_column', key_column);
  PERFORM s3vl._require(caller, 'embedding_column', embedding_column);
  PERFORM s3vl._require(caller, 'index_name', index_name);
  PERFORM s3vl.resolve_index_arn(index_name);  -- 42704 unless registered and active
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO key_type
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF key_type IS NULL THEN
    RAISE EXCEPTION '%: key_column % does not exist in %', caller, key_column, source
      USING ERRCODE = '42703';
  END IF;
  -- The key must identify one row: a unique index on exactly that column.
  IF NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a
        ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = source AND i.indisunique AND i.indnkeyatts = 1
        AND i.indpred IS NULL AND a.attname = key_column) THEN
    RAISE EXCEPTION '%: key_column % of % has no unique index or primary key', caller,
      key_column, source USING ERRCODE = '42P10';
  END IF;
  SELECT pg_catalog.format_type(a.atttypid, NULL) INTO emb_type
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = embedding_column AND a.attnum > 0
      AND NOT a.attisdropped;
  emb_cast := CASE
    WHEN emb_type IS NULL THEN NULL
    WHEN emb_type IN ('double precision[]', 'real[]', 'numeric[]', 'integer[]') THEN '::float8[]'
    WHEN emb_type = 'vector' THEN '::real[]::float8[]'  -- pgvector
    ELSE NULL END;
  IF emb_cast IS NULL THEN
    RAISE EXCEPTION '%: embedding_column % of % must be real[], double precision[] or vector '
                    '(got %)', caller, embedding_column, source, coalesce(emb_type, 'no such column')
      USING ERRCODE = CASE WHEN emb_type IS NULL THEN '42703' ELSE '42804' END;
  END IF;
  FOREACH col IN ARRAY coalesce(metadata_columns, '{}') LOOP
    IF col IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
      RAISE EXCEPTION '%: metadata_columns: column % does not exist in %', caller,
        coalesce(pg_catalog.quote_literal(col), 'NULL'), source USING ERRCODE = '42703';
    END IF;
  END LOOP;
  IF pg_catalog.cardinality(metadata_columns) > 50 THEN
    RAISE EXCEPTION '%: metadata_columns: at most 50 columns (S3 Vectors metadata keys), got %',
      caller, pg_catalog.cardinality(metadata_columns) USING ERRCODE = '22023';
  END IF;

  PERFORM s3vl.untrack_table(source);
  INSERT INTO s3vl.sync_tables (source, key_column, key_type, embedding_column, embedding_cast,
                                index_name, metadata_columns)
  VALUES (source, key_column, key_type, embedding_column, emb_cast, index_name,
          coalesce(metadata_columns, '{}'));
  cols := ARRAY[key_column::text, embedding_column::text] || coalesce(metadata_columns, '{}');
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER s3vl_sync_insert AFTER INSERT ON %1$s REFERENCING NEW TABLE AS new_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_capture(%2$L, %3$L, %4$L)',
    source, key_column, cols::text, index_name);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER s3vl_sync_update AFTER UPDATE ON %1$s REFERENCING OLD TABLE AS old_rows '
    'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_capture(%2$L, %3$L, %4$L)',
    source, key_column, cols::text, index_name);
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER s3vl_sync_delete AFTER DELETE ON %1$s REFERENCING OLD TABLE AS old_rows '
    'FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_capture(%2$L, %3$L, %4$L)',
    source, key_column, cols::text, index_name);
  RETURN true;
END
$$;

-- Enqueues every existing row of a tracked table; returns how many keys were enqueued.
CREATE OR REPLACE FUNCTION s3vl.backfill(source regclass)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t s3vl.sync_tables;
  n bigint;
BEGIN
  PERFORM s3vl._require('s3vl.backfill', 'source', source);
  SELECT * INTO t FROM s3vl.sync_tables st WHERE st.source = backfill.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.backfill: source % is not tracked', source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  EXECUTE pg_catalog.format(
    'INSERT INTO s3vl.sync_outbox AS o (source, key, index_name) '
    'SELECT $1, t.%I::text, $2 FROM %s t '
    'ON CONFLICT (source, key) DO UPDATE SET changes = o.changes + 1, '
    'last_enqueued_at = pg_catalog.now(), next_attempt_at = pg_catalog.now()',
    t.key_column, t.source)
    USING t.source, t.index_name;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- Sends one claimed batch of keys. A batch the service refuses as invalid (one bad row makes
-- PutVectors refuse all) is split in halves until only the bad keys fail, so one bad row never
-- holds back the others; retryable failures keep the whole batch for a later attempt.
-- Its result columns grew after the first version: drop, then create (idempotent).
DROP FUNCTION IF EXISTS s3vl._sync_batch(s3vl.sync_tables, text, text[], text);
CREATE OR REPLACE FUNCTION s3vl._sync_batch(t s3vl.sync_tables, index_arn text, keys text[],
  row_sql text, OUT put_count integer, OUT delete_count integer, OUT failed_count integer,
  OUT error text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.sync';
  put_keys text[];
  put_hashes text[];
  put_request json;
  gone text[];
  state text;
  half integer;
  part record;
BEGIN
  put_count := 0; delete_count := 0; failed_count := 0;
  BEGIN
    -- The rows' current state, read after the claim: a later change is queued again.
    EXECUTE 'SELECT pg_catalog.array_agg(r.key), '
            'pg_catalog.array_agg(s3vl._sync_version(r.vec, r.meta)), '
            'pg_catalog.json_build_object(''operation'', ''put_vectors'', ''index_arn'', $2::text, '
            '''vectors'', pg_catalog.json_agg(pg_catalog.json_build_object(''key'', r.key, '
            '''data'', pg_catalog.array_to_json(r.vec), ''metadata'', r.meta))) '
            'FROM (' || row_sql || ') r'
      INTO put_keys, put_hashes, put_request USING keys, index_arn;
    SELECT pg_catalog.array_agg(k) INTO gone FROM pg_catalog.unnest(keys) k
      WHERE k <> ALL (coalesce(put_keys, '{}'));
    IF put_keys IS NOT NULL THEN
      PERFORM s3vl._invoke(caller, put_request);
    END IF;
    IF gone IS NOT NULL THEN
      PERFORM s3vl._invoke(caller, pg_catalog.json_build_object('operation', 'delete_vectors',
        'index_arn', index_arn, 'keys', pg_catalog.array_to_json(gone)));
    END IF;
  EXCEPTION WHEN OTHERS THEN
    state := SQLSTATE;
    error := pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, state);
  END;
  IF error IS NULL THEN
    put_count := coalesce(pg_catalog.cardinality(put_keys), 0);
    delete_count := coalesce(pg_catalog.cardinality(gone), 0);
    -- Accepted: the claimed rows are still ours (locked), so deleting them loses no newer change.
    DELETE FROM s3vl.sync_outbox o WHERE o.source = t.source AND o.key = ANY (keys);
    INSERT INTO s3vl.sync_state AS s (source, key, version_hash, synced_at)
      SELECT t.source, k, h, pg_catalog.clock_timestamp()
      FROM ROWS FROM (pg_catalog.unnest(put_keys), pg_catalog.unnest(put_hashes)) AS u(k, h)
    ON CONFLICT (source, key) DO UPDATE SET version_hash = EXCLUDED.version_hash,
      synced_at = EXCLUDED.synced_at;
    DELETE FROM s3vl.sync_state s WHERE s.source = t.source AND s.key = ANY (gone);
    RETURN;
  END IF;
  half := pg_catalog.cardinality(keys) / 2;
  IF half >= 1 AND state IN ('22023', '22000') THEN
    FOR part IN SELECT * FROM s3vl._sync_batch(t, index_arn, keys[1:half], row_sql)
                UNION ALL
                SELECT * FROM s3vl._sync_batch(t, index_arn, keys[half + 1:], row_sql) LOOP
      put_count := put_count + part.put_count;
      delete_count := delete_count + part.delete_count;
      failed_count := failed_count + part.failed_count;
      IF part.error IS NOT NULL THEN
        error := part.error;
      END IF;
    END LOOP;
    RETURN;
  END IF;
  failed_count := pg_catalog.cardinality(keys);
  UPDATE s3vl.sync_outbox o SET attempts = o.attempts + 1, last_error = error,
      last_error_at = pg_catalog.clock_timestamp(),
      next_attempt_at = pg_catalog.clock_timestamp() + s3vl._sync_backoff(o.attempts + 1)
    WHERE o.source = t.source AND o.key = ANY (keys);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.sync(
  index_name text DEFAULT NULL,
  max_rows integer DEFAULT 5000,
  retry_now boolean DEFAULT false)
RETURNS TABLE (synced_index text, upserted integer, deleted integer, failed integer,
               last_error text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.sync';
  t s3vl.sync_tables;
  idx record;
  row_sql text;
  batch_size integer;
  keys text[];
  tried text[] := '{}';
  res record;
  budget integer := max_rows;
  idx_name text;
BEGIN
  IF max_rows IS NULL OR max_rows < 1 OR max_rows > 1000000 THEN
    RAISE EXCEPTION '%: max_rows must be between 1 and 1000000 (got %)', caller,
      coalesce(max_rows::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF index_name IS NOT NULL THEN
    PERFORM s3vl._resolve_index(caller, index_name, NULL);
  END IF;
  FOR idx_name IN SELECT DISTINCT st.index_name FROM s3vl.sync_tables st
      WHERE sync.index_name IS NULL OR st.index_name = sync.index_name ORDER BY 1 LOOP
    synced_index := idx_name; upserted := 0; deleted := 0; failed := 0; last_error := NULL;
    SELECT * INTO idx FROM s3vl._resolve_index(caller, idx_name, NULL);
    batch_size := s3vl._sync_batch_size(idx.dimension);
    -- A dropped table's keys stay pending (visible in sync_status) until untrack_table.
    FOR t IN SELECT * FROM s3vl.sync_tables st WHERE st.index_name = idx_name
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = st.source)
             ORDER BY st.source LOOP
      row_sql := s3vl._sync_row_sql(t);
      LOOP
        EXIT WHEN budget <= 0;
        -- Claim due keys nobody else holds; keys that failed in this call wait for the next one.
        SELECT pg_catalog.array_agg(c.key) INTO keys FROM (
          SELECT o.key FROM s3vl.sync_outbox o
          WHERE o.source = t.source AND (retry_now OR o.next_attempt_at <= pg_catalog.now())
            AND o.key <> ALL (tried)
          ORDER BY o.next_attempt_at, o.first_enqueued_at
          LIMIT least(batch_size, budget)
          FOR UPDATE SKIP LOCKED) c;
        EXIT WHEN keys IS NULL;
        budget := budget - pg_catalog.cardinality(keys);
        res := s3vl._sync_batch(t, idx.index_arn, keys, row_sql);
        upserted := upserted + res.put_count;
        deleted := deleted + res.delete_count;
        IF res.error IS NOT NULL THEN
          failed := failed + res.failed_count;
          last_error := res.error;
          tried := tried || keys;
        END IF;
      END LOOP;
    END LOOP;
    IF upserted + deleted + failed > 0 THEN
      -- Last statement before commit: concurrent syncs wait here only briefly.
      INSERT INTO s3vl.sync_index_status AS s (index_name, last_success, last_error, last_error_at)
      VALUES (idx_name, CASE WHEN upserted + deleted > 0 THEN pg_catalog.now() END, last_error,
              CASE WHEN last_error IS NOT NULL THEN pg_catalog.now() END)
      ON CONFLICT ON CONSTRAINT sync_index_status_pkey DO UPDATE SET
        last_success = coalesce(EXCLUDED.last_success, s.last_success),
        last_error = coalesce(EXCLUDED.last_error, s.last_error),
        last_error_at = coalesce(EXCLUDED.last_error_at, s.last_error_at);
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.sync_status()
RETURNS TABLE (index_name text, pending bigint, oldest_pending_age interval, failed bigint,
               last_error text, last_success timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT i.index_name,
         (SELECT pg_catalog.count(*) FROM s3vl.sync_outbox o WHERE o.index_name = i.index_name),
         (SELECT pg_catalog.now() - pg_catalog.min(o.first_enqueued_at) FROM s3vl.sync_outbox o
            WHERE o.index_name = i.index_name),
         (SELECT pg_catalog.count(*) FROM s3vl.sync_outbox o
            WHERE o.index_name = i.index_name AND o.attempts > 0),
         coalesce((SELECT o.last_error FROM s3vl.sync_outbox o
                     WHERE o.index_name = i.index_name AND o.last_error IS NOT NULL
                     ORDER BY o.last_error_at DESC LIMIT 1), s.last_error),
         s.last_success
  FROM (SELECT DISTINCT st.index_name FROM s3vl.sync_tables st) i
  LEFT JOIN s3vl.sync_index_status s ON s.index_name = i.index_name
  ORDER BY i.index_name
$$;

-- value::the type of like_value, or NULL when value is not valid for that type.
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

-- Keys whose vector in S3 Vectors is not the row's current version: 'never synced', 'changed'
-- (embedding or metadata differ from what S3 Vectors accepted last) or 'deleted' (the row is
-- gone but its vector is still there). pending: a change is queued for the next sync.
CREATE OR REPLACE FUNCTION s3vl.stale_rows(source regclass)
RETURNS TABLE (key text, reason text, synced_at timestamptz, synced_version text,
               current_version text, pending boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t s3vl.sync_tables;
BEGIN
  PERFORM s3vl._require('s3vl.stale_rows', 'source', source);
  SELECT * INTO t FROM s3vl.sync_tables st WHERE st.source = stale_rows.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.stale_rows: source % is not tracked', source
      USING ERRCODE = '42704', HINT = 'Run s3vl.track_table(...) first.';
  END IF;
  RETURN QUERY EXECUTE
    'SELECT coalesce(r.key, s.key), '
    '       CASE WHEN s.key IS NULL THEN ''never synced'' WHEN r.key IS NULL THEN ''deleted'' '
    '            ELSE ''changed'' END, '
    '       s.synced_at, s.version_hash, r.version, '
    '       EXISTS (SELECT 1 FROM s3vl.sync_outbox o WHERE o.source = $1 '
    '               AND o.key = coalesce(r.key, s.key)) '
    'FROM (SELECT x.key, s3vl._sync_version(x.vec, x.meta) AS version FROM ('
      || s3vl._sync_row_sql(t, true) || ') x) r '
    'FULL JOIN (SELECT * FROM s3vl.sync_state ss WHERE ss.source = $1) s ON s.key = r.key '
    'WHERE r.version IS DISTINCT FROM s.version_hash ORDER BY 1'
    USING source;
END
$$;

-- Nearest neighbours of the index a table is tracked into, restricted to keys that still exist
-- in the table (orphaned vectors never reach the caller) and, optionally, to rows passing
-- predicate: s3vl.query_vectors_where (sql/58_where.sql) on the tracked index, so exactly top_k
-- rows whenever max_candidates neighbours hold that many.
DROP FUNCTION IF EXISTS s3vl.query_table(regclass, name, float8[], integer, jsonb);
CREATE OR REPLACE FUNCTION s3vl.query_table(
  source regclass,
  key_column name,
  query_vector float8[],
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  predicate text DEFAULT NULL,
  max_candidates integer DEFAULT 10000)
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
  RETURN QUERY SELECT * FROM s3vl._query_where(caller, query_vector, source, key_column,
    predicate, top_k, idx, NULL, metadata_filter, max_candidates);
END
$$;
