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
