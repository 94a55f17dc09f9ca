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
