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
