-- Writes: put_vectors, put_vector, delete_vectors. Every vector is validated here before the
-- first invocation (a large write is several invocations, so a bad vector found by the function
-- in a later one would leave earlier ones written). The input is split into invocations under the
-- Lambda payload limit; the function splits each one into PutVectors/DeleteVectors calls of 500.

-- Compact UTF-8 JSON size (how the function and S3 Vectors measure metadata): jsonb's text form
-- adds one space after every ':' and ',' outside strings; strings are kept as they are.
CREATE OR REPLACE FUNCTION s3vl._compact_json_bytes(value jsonb)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.octet_length(pg_catalog.regexp_replace(value::text,
           '("(?:[^"\\]|\\.)*")|[ ]', '\1', 'g'))
$$;

-- Payload budget of one invocation: the Lambda limit less room for the envelope and for the one
-- element that may cross the budget line (a vector of 4096 floats plus 40 KB metadata < 200 KB).
CREATE OR REPLACE FUNCTION s3vl._payload_budget(caller text, invocation_type text)
RETURNS integer
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF invocation_type IS NULL OR invocation_type NOT IN ('RequestResponse', 'Event') THEN
    RAISE EXCEPTION '%: invocation_type must be ''RequestResponse'' or ''Event'' (got %)', caller,
      coalesce(invocation_type, 'NULL')
      USING ERRCODE = '22023',
            HINT = 'Event is fire-and-forget: failures go to the function''s dead-letter queue.';
  END IF;
  RETURN (SELECT l.max_value FROM s3vl.limits() l
          WHERE l.name = CASE invocation_type WHEN 'Event' THEN 'event_payload_bytes'
                              ELSE 'invoke_payload_bytes' END) - 256 * 1024;
END
$$;

-- Vectors or keys per invocation, whatever their size: bounds the PutVectors calls (10 of 500)
-- one invocation makes, so it ends well inside the function's timeout.
CREATE OR REPLACE FUNCTION s3vl._items_per_invocation()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 5000 $$;

-- An asynchronous (Event) invocation: Lambda queues the request and answers 202 at once; a
-- failure inside the function lands in its dead-letter queue, never in SQL.
CREATE OR REPLACE FUNCTION s3vl._invoke_event(caller text, request json)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  status integer;
BEGIN
  SELECT c.status_code INTO status FROM s3vl._call_lambda(caller, request, 'Event') AS c;
  IF status IS DISTINCT FROM 202 THEN
    RAISE EXCEPTION '%: the asynchronous invocation answered status % (expected 202)', caller,
      coalesce(status::text, 'NULL') USING ERRCODE = 'SV006';
  END IF;
END
$$;

-- Dimension, metric and non-filterable metadata keys of an index, asking GetIndex only for
-- what the registry does not know (non-filterable keys are needed only for metadata > 2 KB).
CREATE OR REPLACE FUNCTION s3vl._index_shape(caller text, index_arn text, known_dimension integer,
  known_metric text, need_non_filterable boolean,
  OUT dimension integer, OUT distance_metric text, OUT non_filterable_keys text[])
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  info jsonb;
BEGIN
  dimension := known_dimension;
  distance_metric := known_metric;
  IF known_dimension IS NOT NULL AND known_metric IS NOT NULL AND NOT need_non_filterable THEN
    RETURN;
  END IF;
  info := s3vl._invoke(caller, s3vl._get_index_request(index_arn));
  dimension := coalesce(known_dimension, (info ->> 'dimension')::integer);
  distance_metric := coalesce(known_metric, info ->> 'distance_metric');
  non_filterable_keys := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(
    coalesce(info -> 'non_filterable_metadata_keys', '[]'::jsonb)));
END
$$;

-- Raises the first problem of a put_vectors input (22023 shape/size, 22000 dimension/finite).
CREATE OR REPLACE FUNCTION s3vl._check_put_input(caller text, index_arn text, vectors jsonb,
  known_dimension integer, known_metric text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  max_key constant integer := (SELECT l.max_value FROM s3vl.limits() l
                               WHERE l.name = 'vector_id_length');
  max_keys constant integer := (SELECT l.max_value FROM s3vl.limits() l
                                WHERE l.name = 'metadata_keys');
  max_bytes constant integer := (SELECT l.max_value FROM s3vl.limits() l
                                 WHERE l.name = 'metadata_bytes');
  max_filterable constant integer := (SELECT l.max_value FROM s3vl.limits() l
                                      WHERE l.name = 'filterable_metadata_bytes');
  bad record;
  shape record;
  scan record;
BEGIN
  -- One pass answers "is anything wrong?" for the common, valid input; the passes below run
  -- only to find and name the first problem.
  SELECT pg_catalog.bool_or(
           pg_catalog.jsonb_typeof(o.v) <> 'object'
           OR pg_catalog.jsonb_typeof(o.v -> 'key') IS DISTINCT FROM 'string'
           OR pg_catalog.length(o.v ->> 'key') NOT BETWEEN 1 AND max_key
           OR pg_catalog.jsonb_typeof(d.data) IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@.type() != "number"
                || @ > 3.4028234663852886e38 || @ < -3.4028234663852886e38)')
           OR pg_catalog.jsonb_typeof(o.v -> 'metadata') NOT IN ('object', 'null')
           OR pg_catalog.jsonb_array_length(d.data) IS DISTINCT FROM known_dimension
           OR (known_metric = 'cosine'
               AND NOT pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)'))) AS suspect,
         pg_catalog.bool_or(pg_catalog.jsonb_typeof(o.v -> 'metadata') = 'object'
           AND pg_catalog.octet_length((o.v -> 'metadata')::text) > max_filterable) AS big_metadata,
         count(DISTINCT o.v ->> 'key') <> count(*) AS repeated
    INTO scan
    FROM pg_catalog.jsonb_array_elements(vectors) AS o(v),
    LATERAL (SELECT CASE pg_catalog.jsonb_typeof(o.v -> 'data')
      WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END AS data) AS d;
  IF NOT (scan.suspect OR scan.big_metadata OR scan.repeated) THEN
    RETURN;
  END IF;

  SELECT o.n - 1 AS i, o.v INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    WHERE pg_catalog.jsonb_typeof(o.v) <> 'object'
       OR pg_catalog.jsonb_typeof(o.v -> 'key') IS DISTINCT FROM 'string'
       OR pg_catalog.length(o.v ->> 'key') NOT BETWEEN 1 AND max_key
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%] must be an object whose "key" is a string of 1 to % characters',
      caller, bad.i, max_key
      USING ERRCODE = '22023', DETAIL = 'got: ' || pg_catalog.left(bad.v::text, 200),
            HINT = 'Each element: {"key": "doc-1", "data": [0.1, ...], "metadata": {...}}.';
  END IF;

  SELECT o.n - 1 AS i, o.v ->> 'key' AS k INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    WHERE pg_catalog.jsonb_typeof(CASE pg_catalog.jsonb_typeof(o.v -> 'data')
            WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END)
          IS DISTINCT FROM 'array'
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") must be an array of numbers or {"float32": [...]}',
      caller, bad.i, bad.k USING ERRCODE = '22023';
  END IF;

  -- A jsonpath test per vector finds the bad vector; only its elements are then unnested.
  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, e.n AS position, e.x INTO bad
    FROM (SELECT b.v, b.n FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS b(v, n)
          WHERE pg_catalog.jsonb_path_exists(CASE pg_catalog.jsonb_typeof(b.v -> 'data')
                  WHEN 'object' THEN b.v -> 'data' -> 'float32' ELSE b.v -> 'data' END,
                  '$[*] ? (@.type() != "number" || @ > 3.4028234663852886e38
                           || @ < -3.4028234663852886e38)')
          ORDER BY b.n LIMIT 1) AS o,
    LATERAL pg_catalog.jsonb_array_elements(CASE pg_catalog.jsonb_typeof(o.v -> 'data')
      WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END)
      WITH ORDINALITY AS e(x, n)
    WHERE pg_catalog.jsonb_typeof(e.x) <> 'number'
       OR pg_catalog.abs(e.x::numeric) > 3.4028234663852886e38
    ORDER BY e.n LIMIT 1;
  IF FOUND THEN
    IF pg_catalog.jsonb_typeof(bad.x) <> 'number' THEN
      RAISE EXCEPTION '%: vectors[%].data (key "%") element % must be a number (got %)', caller,
        bad.i, bad.k, bad.position, pg_catalog.left(bad.x::text, 50) USING ERRCODE = '22023';
    END IF;
    RAISE EXCEPTION '%: vectors[%].data (key "%") element % must be a finite float32 value '
      '(|x| <= 3.4028235e38, got %)', caller, bad.i, bad.k, bad.position,
      pg_catalog.left(bad.x::text, 50) USING ERRCODE = '22000';
  END IF;

  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, o.v -> 'metadata' AS md INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    WHERE pg_catalog.jsonb_typeof(o.v -> 'metadata') NOT IN ('object', 'null')
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].metadata (key "%") must be a JSON object (got a JSON %)',
      caller, bad.i, bad.k, pg_catalog.jsonb_typeof(bad.md) USING ERRCODE = '22023';
  END IF;

  SELECT o.n - 1 AS i, o.v ->> 'key' AS k,
         (SELECT count(*) FROM pg_catalog.jsonb_object_keys(o.v -> 'metadata')) AS key_count
    INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    WHERE pg_catalog.jsonb_typeof(o.v -> 'metadata') = 'object'
      AND (SELECT count(*) FROM pg_catalog.jsonb_object_keys(o.v -> 'metadata')) > max_keys
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].metadata (key "%") has % keys; at most % are allowed', caller,
      bad.i, bad.k, bad.key_count, max_keys USING ERRCODE = '22023';
  END IF;

  -- The text form is never shorter than the compact form: measure exactly only above the limit.
  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, s3vl._compact_json_bytes(o.v -> 'metadata') AS size
    INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    WHERE pg_catalog.jsonb_typeof(o.v -> 'metadata') = 'object'
      AND pg_catalog.octet_length((o.v -> 'metadata')::text) > max_bytes
      AND s3vl._compact_json_bytes(o.v -> 'metadata') > max_bytes
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].metadata (key "%") is % bytes; at most % bytes are allowed',
      caller, bad.i, bad.k, bad.size, max_bytes USING ERRCODE = '22023';
  END IF;

  SELECT * INTO shape FROM s3vl._index_shape(caller, index_arn, known_dimension, known_metric,
    EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(vectors) AS o(v)
            WHERE pg_catalog.jsonb_typeof(o.v -> 'metadata') = 'object'
              AND pg_catalog.octet_length((o.v -> 'metadata')::text) > max_filterable));

  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, pg_catalog.jsonb_array_length(d.data) AS dim,
         pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)') AS nonzero
    INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n),
    LATERAL (SELECT CASE pg_catalog.jsonb_typeof(o.v -> 'data')
      WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END AS data) AS d
    WHERE pg_catalog.jsonb_array_length(d.data) IS DISTINCT FROM shape.dimension
       OR (shape.distance_metric = 'cosine'
           AND NOT pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)'))
    ORDER BY o.n LIMIT 1;
  IF FOUND AND bad.dim IS DISTINCT FROM shape.dimension THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") has dimension % but the index has dimension %',
      caller, bad.i, bad.k, bad.dim, shape.dimension USING ERRCODE = '22000';
  ELSIF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") is all zeros, which a cosine index cannot store',
      caller, bad.i, bad.k USING ERRCODE = '22023';
  END IF;

  IF shape.non_filterable_keys IS NOT NULL THEN
    SELECT o.n - 1 AS i, o.v ->> 'key' AS k,
           s3vl._compact_json_bytes((o.v -> 'metadata') - shape.non_filterable_keys) AS size
      INTO bad
      FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
      WHERE pg_catalog.jsonb_typeof(o.v -> 'metadata') = 'object'
        AND pg_catalog.octet_length((o.v -> 'metadata')::text) > max_filterable
        AND s3vl._compact_json_bytes((o.v -> 'metadata') - shape.non_filterable_keys)
            > max_filterable
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: vectors[%].metadata (key "%") has % bytes of filterable metadata; at '
        'most % bytes are allowed', caller, bad.i, bad.k, bad.size, max_filterable
        USING ERRCODE = '22023',
              DETAIL = format('non-filterable keys of this index: %s',
                              coalesce(nullif(array_to_string(shape.non_filterable_keys, ', '),
                                              ''), 'none')),
              HINT = 'Declare large fields in the index''s non-filterable metadata keys '
                     '(nonFilterableMetadataKeys when the index is created).';
    END IF;
  END IF;

  SELECT d.k, d.first_i, d.second_i INTO bad FROM (
    SELECT o.v ->> 'key' AS k, min(o.n) - 1 AS first_i,
           (array_agg(o.n - 1 ORDER BY o.n))[2] AS second_i
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
    GROUP BY o.v ->> 'key' HAVING count(*) > 1) AS d
    ORDER BY d.second_i LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%] repeats the key "%" of vectors[%]; keys must be unique in '
      'one call', caller, bad.second_i, bad.k, bad.first_i USING ERRCODE = '22023';
  END IF;
END
$$;

-- Writes vectors (S3 Vectors shape, "data" as {"float32": [...]} or a plain array) and returns
-- how many were written (queued, for Event). Any count: split into invocations by payload size.
CREATE OR REPLACE FUNCTION s3vl.put_vectors(
  index_name text,
  vectors jsonb,
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.put_vectors';
  budget integer;
  target record;
  part record;
  written bigint := 0;
  answer jsonb;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  IF vectors IS NULL OR pg_catalog.jsonb_typeof(vectors) <> 'array' THEN
    RAISE EXCEPTION '%: vectors must be a JSON array of {"key", "data", "metadata"} objects '
      '(got %)', caller, coalesce('a JSON ' || pg_catalog.jsonb_typeof(vectors), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'The same shape as aws s3vectors put-vectors --vectors.';
  END IF;
  SELECT * INTO target FROM s3vl._resolve_index(caller, put_vectors.index_name, NULL);
  IF pg_catalog.jsonb_array_length(vectors) = 0 THEN
    RETURN 0;
  END IF;
  PERFORM s3vl._check_put_input(caller, target.index_arn, vectors, target.dimension,
                                target.distance_metric);
  FOR part IN
    WITH items AS (
      SELECT o.n, pg_catalog.json_build_object('key', o.v ->> 'key',
               'data', (CASE pg_catalog.jsonb_typeof(o.v -> 'data')
                 WHEN 'object' THEN o.v -> 'data' -> 'float32' ELSE o.v -> 'data' END)::json,
               'metadata', coalesce(o.v -> 'metadata', '{}'::jsonb)::json) AS item
      FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)),
    placed AS (
      SELECT i.n, i.item,
             sum(pg_catalog.octet_length(i.item::text) + 1) OVER (ORDER BY i.n) / budget AS by_size,
             (i.n - 1) / s3vl._items_per_invocation() AS by_count
      FROM items i)
    SELECT pg_catalog.json_build_object('operation', 'put_vectors', 'index_arn', target.index_arn,
             'vectors', pg_catalog.json_agg(p.item ORDER BY p.n)) AS request,
           count(*) AS n
    FROM placed p GROUP BY p.by_size, p.by_count ORDER BY p.by_size, p.by_count
  LOOP
    IF invocation_type = 'Event' THEN
      PERFORM s3vl._invoke_event(caller, part.request);
      written := written + part.n;
    ELSE
      answer := s3vl._invoke(caller, part.request);
      written := written + coalesce((answer ->> 'written')::bigint, part.n);
    END IF;
  END LOOP;
  PERFORM s3vl._cache_invalidate(target.index_arn);
  RETURN written;
END
$$;

-- One vector: s3vl.put_vector('my-index', 'doc-1', ARRAY[...]::float8[], '{"genre": "news"}').
CREATE OR REPLACE FUNCTION s3vl.put_vector(
  index_name text,
  key text,
  vector float8[],
  metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.put_vector', 'key', key);
  PERFORM s3vl._check_vector('s3vl.put_vector', 'vector', vector);
  -- Metadata is added only when given (jsonb_strip_nulls would also drop null values inside it).
  RETURN s3vl.put_vectors(index_name, pg_catalog.jsonb_build_array(
    pg_catalog.jsonb_build_object('key', key, 'data', pg_catalog.to_jsonb(vector))
    || CASE WHEN metadata IS NULL THEN '{}'::jsonb
            ELSE pg_catalog.jsonb_build_object('metadata', metadata) END));
END
$$;

-- Deletes keys (any count; repeats are sent once) and returns how many distinct keys were sent
-- (S3 Vectors does not say which existed).
CREATE OR REPLACE FUNCTION s3vl.delete_vectors(
  index_name text,
  keys text[],
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.delete_vectors';
  max_key constant integer := (SELECT l.max_value FROM s3vl.limits() l
                               WHERE l.name = 'vector_id_length');
  budget integer;
  target record;
  part record;
  bad_position integer;
  deleted bigint := 0;
  answer jsonb;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  IF keys IS NULL OR pg_catalog.cardinality(keys) = 0 OR pg_catalog.array_ndims(keys) <> 1 THEN
    RAISE EXCEPTION '%: keys must be a non-empty one-dimensional array of keys', caller
      USING ERRCODE = '22023', HINT = 'For example ARRAY[''doc-1'', ''doc-2''].';
  END IF;
  SELECT o.n INTO bad_position FROM pg_catalog.unnest(keys) WITH ORDINALITY AS o(k, n)
    WHERE o.k IS NULL OR pg_catalog.length(o.k) NOT BETWEEN 1 AND max_key
    ORDER BY o.n LIMIT 1;
  IF bad_position IS NOT NULL THEN
    RAISE EXCEPTION '%: keys element % must be a key of 1 to % characters (got %)', caller,
      bad_position, max_key,
      coalesce(pg_catalog.length(keys[bad_position])::text || ' characters', 'NULL')
      USING ERRCODE = '22023';
  END IF;
  SELECT * INTO target FROM s3vl._resolve_index(caller, delete_vectors.index_name, NULL);
  FOR part IN
    WITH distinct_keys AS (
      SELECT d.k, min(d.n) AS n FROM pg_catalog.unnest(keys) WITH ORDINALITY AS d(k, n)
      GROUP BY d.k),
    numbered AS (
      SELECT d.k, row_number() OVER (ORDER BY d.n) AS n FROM distinct_keys d),
    placed AS (
      SELECT x.k, x.n,
             sum(pg_catalog.octet_length(pg_catalog.to_json(x.k)::text) + 1)
               OVER (ORDER BY x.n) / budget AS by_size,
             (x.n - 1) / s3vl._items_per_invocation() AS by_count
      FROM numbered x)
    SELECT pg_catalog.json_build_object('operation', 'delete_vectors',
             'index_arn', target.index_arn,
             'keys', pg_catalog.json_agg(p.k ORDER BY p.n)) AS request, count(*) AS n
    FROM placed p GROUP BY p.by_size, p.by_count ORDER BY p.by_size, p.by_count
  LOOP
    IF invocation_type = 'Event' THEN
      PERFORM s3vl._invoke_event(caller, part.request);
      deleted := deleted + part.n;
    ELSE
      answer := s3vl._invoke(caller, part.request);
      deleted := deleted + coalesce((answer ->> 'deleted')::bigint, part.n);
    END IF;
  END LOOP;
  PERFORM s3vl._cache_invalidate(target.index_arn);
  RETURN deleted;
END
$$;
