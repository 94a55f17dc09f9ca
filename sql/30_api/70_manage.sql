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
