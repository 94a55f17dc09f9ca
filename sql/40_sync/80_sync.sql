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
-- One job per worker (s3vl-sync, s3vl-sync-2, ...), owned by the s3vl owner (these functions
-- are SECURITY DEFINER, so the jobs run as the owner, whatever role scheduled them). Their
-- commands are built here from a checked interval and worker number. pg_cron's finest schedule
-- before 1.5 is a minute, so a shorter interval is a job that starts every minute and syncs
-- every `every` within it (committing after each run); overlapping runs are safe (sync claims
-- keys with SKIP LOCKED).

-- The pg_cron job name of sync worker `worker` (1: s3vl-sync, n > 1: s3vl-sync-n).
CREATE OR REPLACE FUNCTION s3vl._sync_job_name(worker integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN worker = 1 THEN 's3vl-sync' ELSE 's3vl-sync-' || worker END
$$;

-- Runs sync every `every` until `run_for` has passed (once when run_for is zero), or until the
-- job is unscheduled or rescheduled. A procedure, so that each run commits; not SECURITY DEFINER
-- (that forbids COMMIT): only the owner runs it.
-- One scheduled run of sync worker `worker`: several workers run at once, each run claiming its
-- own keys, so a partitioned index takes more than one session's rate. Each index is synced
-- and committed on its own: an index's outcome row stays locked until commit, and a worker
-- syncing every index in one transaction would hold the others up at each index it passed.
CREATE OR REPLACE PROCEDURE s3vl._sync_job(every interval, run_for interval,
                                           worker integer DEFAULT 1)
LANGUAGE plpgsql
AS $$
DECLARE
  stop_at constant timestamptz := pg_catalog.clock_timestamp() + run_for;
  next_at timestamptz;
  tracked text;
BEGIN
  LOOP
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    next_at := pg_catalog.clock_timestamp() + every;
    FOR tracked IN SELECT DISTINCT st.index_name FROM s3vl.sync_tables st ORDER BY 1 LOOP
      PERFORM * FROM s3vl.sync(tracked);
      COMMIT;
      PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    END LOOP;
    COMMIT;
    -- Unscheduled or rescheduled meanwhile: stop now rather than at the end of the minute.
    EXIT WHEN next_at >= stop_at OR s3vl._sync_schedule() IS DISTINCT FROM every
      OR NOT s3vl._sync_worker_scheduled(worker);
    PERFORM pg_catalog.pg_sleep(pg_catalog.date_part('epoch',
      pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) next_at) OPERATOR(pg_catalog.*) -1);
  END LOOP;
END
$$;
REVOKE ALL ON PROCEDURE s3vl._sync_job(interval, interval, integer) FROM PUBLIC;

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

-- This role's sync jobs: s3vl-sync and s3vl-sync-<n> (jobid, worker number, active), n as
-- _sync_job_name writes it (2 and up, no leading zero, within integer).
CREATE OR REPLACE FUNCTION s3vl._sync_jobs()
RETURNS TABLE (jobid bigint, worker integer, active boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_catalog.to_regclass('cron.job') IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE
    'SELECT j.jobid, CASE WHEN j.jobname = ''s3vl-sync'' THEN 1 '
    '  ELSE pg_catalog.substring(j.jobname, 11)::integer END, j.active '  -- after ''s3vl-sync-''
    'FROM cron.job j WHERE j.username = current_user '
    '  AND (j.jobname = ''s3vl-sync'' OR j.jobname ~ ''^s3vl-sync-([2-9]|[1-9][0-9]{1,8})$'') '
    'ORDER BY 2';
END
$$;

-- Whether this role's job of sync worker `worker` is still scheduled (a reschedule to fewer
-- workers removes the others).
CREATE OR REPLACE FUNCTION s3vl._sync_worker_scheduled(worker integer)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM s3vl._sync_jobs() j WHERE j.worker = $1 AND j.active)
$$;

-- The cron schedule of a sync interval: a minute or more is */N minutes (0 * * * * for an hour);
-- shorter intervals start each minute and loop inside the run.
CREATE OR REPLACE FUNCTION s3vl._sync_cron(every interval)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN every < interval '1 minute' THEN '* * * * *'
              WHEN every = interval '1 hour' THEN '0 * * * *'
              ELSE pg_catalog.format('*/%s * * * *',
                                     pg_catalog.date_part('epoch', every)::integer / 60) END
$$;

CREATE OR REPLACE FUNCTION s3vl.schedule_sync(every interval DEFAULT '1 minute',
                                              workers integer DEFAULT 1)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.schedule_sync';
  cron text;
  run_for interval := interval '0';
  first_job bigint;
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
  PERFORM s3vl._check_range(caller, 'workers', workers, 'sync_workers');
  PERFORM s3vl._require_pg_cron(caller);
  cron := s3vl._sync_cron(every);
  IF every < interval '1 minute' THEN
    run_for := interval '55 seconds';  -- each run syncs every `every` for 55 seconds
  END IF;
  -- The same names replace this owner's earlier jobs; workers past the new count go.
  FOR w IN 1..workers LOOP
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job USING s3vl._sync_job_name(w), cron,
      CASE WHEN w = 1 THEN pg_catalog.format('CALL s3vl._sync_job(%L, %L)', every, run_for)
           ELSE pg_catalog.format('CALL s3vl._sync_job(%L, %L, %s)', every, run_for, w) END;
    first_job := coalesce(first_job, job);
  END LOOP;
  FOR job IN SELECT j.jobid FROM s3vl._sync_jobs() j WHERE j.worker > workers LOOP
    EXECUTE 'SELECT cron.unschedule($1)' USING job;
  END LOOP;
  RETURN first_job;
END
$$;
COMMENT ON FUNCTION s3vl.schedule_sync(interval, integer) IS
  's3vl: the pg_cron job id that runs sync every interval (workers: jobs at once)';

CREATE OR REPLACE FUNCTION s3vl.unschedule_sync()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job bigint;
  removed boolean := false;
BEGIN
  PERFORM s3vl._require_pg_cron('s3vl.unschedule_sync');
  FOR job IN SELECT j.jobid FROM s3vl._sync_jobs() j LOOP
    EXECUTE 'SELECT cron.unschedule($1)' USING job;
    removed := true;
  END LOOP;
  RETURN removed;
END
$$;
COMMENT ON FUNCTION s3vl.unschedule_sync() IS 's3vl: true once the pg_cron sync jobs are removed';

-- The jobs belong to the owner of schedule_sync and are found through the owner of
-- unschedule_sync (each is SECURITY DEFINER; pg_cron files a job under current_user). An upgrade
-- that had to drop and re-create schedule_sync or _sync_job (1.1.0 added workers) made them
-- the upgrading role's, which may be another superuser than the one owning the rest: they go
-- back to unschedule_sync's owner, so both functions see the same jobs.
DO $sync_job_owner$
DECLARE
  owner constant regrole := (SELECT p.proowner::regrole FROM pg_catalog.pg_proc p
                             WHERE p.oid = 's3vl.unschedule_sync()'::regprocedure);
BEGIN
  EXECUTE pg_catalog.format('ALTER FUNCTION s3vl.schedule_sync(interval, integer) OWNER TO %s',
                            owner);
  EXECUTE pg_catalog.format(
    'ALTER PROCEDURE s3vl._sync_job(interval, interval, integer) OWNER TO %s', owner);
END
$sync_job_owner$;

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
