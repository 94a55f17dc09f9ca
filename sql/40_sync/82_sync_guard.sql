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
