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

-- Payload budget of one invocation: the Lambda limit less payload_margin_bytes, room for the
-- envelope and for the one element that may cross the budget line (a vector of 4096 floats plus
-- 40 KB metadata < 200 KB).
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
  RETURN s3vl._limit(CASE invocation_type WHEN 'Event' THEN 'event_payload_bytes'
                      ELSE 'invoke_payload_bytes' END) - s3vl._limit('payload_margin_bytes');
END
$$;

-- Vectors or keys per invocation, whatever their size (invocation_items): bounds the PutVectors
-- calls (10 of 500) one invocation makes, so it ends well inside the function's timeout.
CREATE OR REPLACE FUNCTION s3vl._items_per_invocation()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT s3vl._limit('invocation_items') $$;

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

-- Raises when a key stands twice in one write, naming both places; `label` names an element,
-- `%s` standing for its position: array position - 1 + first_position.
CREATE OR REPLACE FUNCTION s3vl._check_unique_keys(caller text, keys text[], label text,
  first_position integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  bad record;
BEGIN
  SELECT d.k, d.first_n, d.second_n INTO bad FROM (
    SELECT o.k, min(o.n) AS first_n, (array_agg(o.n ORDER BY o.n))[2] AS second_n
    FROM pg_catalog.unnest(keys) WITH ORDINALITY AS o(k, n)
    GROUP BY o.k HAVING count(*) > 1) AS d
    ORDER BY d.second_n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: % repeats the key "%" of %; keys must be unique in one call', caller,
      format(label, bad.second_n - 1 + first_position), bad.k,
      format(label, bad.first_n - 1 + first_position) USING ERRCODE = '22023';
  END IF;
END
$$;

-- Checks the metadata of a write (one jsonb object or NULL per key) and returns the index shape
-- (fetching the non-filterable keys only when some metadata is over 2 KB). `label` names an
-- element in messages, `%s` standing for its position: array position - 1 + first_position.
-- Each metadata element of a write: an object (or NULL) with at most metadata_keys keys and
-- metadata_bytes of compact JSON. `label` names an element, %s standing for its position.
CREATE OR REPLACE FUNCTION s3vl._check_metadata_values(caller text, keys text[],
  metadata jsonb[], label text, first_position integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  max_keys constant integer := s3vl._limit('metadata_keys');
  max_bytes constant integer := s3vl._limit('metadata_bytes');
  bad record;
BEGIN
  IF metadata IS NOT NULL THEN
    -- unnest of both arrays side by side (subscripting a jsonb[] per row rescans it)
    SELECT o.n AS i, o.k, o.md INTO bad FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) NOT IN ('object', 'null')
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") must be a JSON object (got a JSON %)', caller,
        format(label, bad.i - 1 + first_position), bad.k, pg_catalog.jsonb_typeof(bad.md)
        USING ERRCODE = '22023';
    END IF;
    SELECT o.n AS i, o.k, (SELECT count(*) FROM pg_catalog.jsonb_object_keys(o.md)) AS key_count
      INTO bad FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND (SELECT count(*) FROM pg_catalog.jsonb_object_keys(o.md)) > max_keys
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") has % keys; at most % are allowed', caller,
        format(label, bad.i - 1 + first_position), bad.k, bad.key_count, max_keys
        USING ERRCODE = '22023';
    END IF;
    -- The text form is never shorter than the compact form: measure exactly only above the limit.
    SELECT o.n AS i, o.k, s3vl._compact_json_bytes(o.md) AS size INTO bad
      FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND pg_catalog.octet_length(o.md::text) > max_bytes
        AND s3vl._compact_json_bytes(o.md) > max_bytes
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") is % bytes; at most % bytes are allowed', caller,
        format(label, bad.i - 1 + first_position), bad.k, bad.size, max_bytes
        USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION s3vl._check_metadata_list(caller text, index_arn text, keys text[],
  metadata jsonb[], label text, first_position integer, known_dimension integer,
  known_metric text,
  OUT dimension integer, OUT distance_metric text, OUT non_filterable_keys text[])
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  max_filterable constant integer := s3vl._limit('filterable_metadata_bytes');
  bad record;
  shape record;
BEGIN
  PERFORM s3vl._check_metadata_values(caller, keys, metadata, label, first_position);

  SELECT * INTO shape FROM s3vl._index_shape(caller, index_arn, known_dimension, known_metric,
    metadata IS NOT NULL AND EXISTS (
      SELECT 1 FROM pg_catalog.unnest(metadata) AS o(md)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND pg_catalog.octet_length(o.md::text) > max_filterable));
  dimension := shape.dimension;
  distance_metric := shape.distance_metric;
  non_filterable_keys := shape.non_filterable_keys;

  IF metadata IS NOT NULL AND shape.non_filterable_keys IS NOT NULL THEN
    SELECT o.n AS i, o.k, s3vl._compact_json_bytes(o.md - shape.non_filterable_keys) AS size
      INTO bad FROM unnest(keys, metadata) WITH ORDINALITY AS o(k, md, n)
      WHERE pg_catalog.jsonb_typeof(o.md) = 'object'
        AND pg_catalog.octet_length(o.md::text) > max_filterable
        AND s3vl._compact_json_bytes(o.md - shape.non_filterable_keys) > max_filterable
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: % (key "%") has % bytes of filterable metadata; at most % bytes are '
        'allowed', caller, format(label, bad.i - 1 + first_position), bad.k, bad.size,
        max_filterable
        USING ERRCODE = '22023',
              DETAIL = format('non-filterable keys of this index: %s',
                              coalesce(nullif(array_to_string(shape.non_filterable_keys, ', '),
                                              ''), 'none')),
              HINT = 'Declare large fields in the index''s non-filterable metadata keys '
                     '(nonFilterableMetadataKeys when the index is created).';
    END IF;
  END IF;
END
$$;

-- A key array of a write: non-empty, one-dimensional, every key 1 to 1024 characters.
CREATE OR REPLACE FUNCTION s3vl._check_key_array(caller text, keys text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  max_key constant integer := s3vl._limit('vector_id_length');
  bad record;
BEGIN
  IF keys IS NULL OR pg_catalog.cardinality(keys) = 0 OR pg_catalog.array_ndims(keys) <> 1 THEN
    RAISE EXCEPTION '%: vector_ids must be a non-empty one-dimensional array of keys', caller
      USING ERRCODE = '22023', HINT = 'For example ARRAY[''doc-1'', ''doc-2''] or '
                                      'array_agg(id::text ORDER BY id).';
  END IF;
  SELECT o.n AS i, o.k INTO bad FROM pg_catalog.unnest(keys) WITH ORDINALITY AS o(k, n)
    WHERE o.k IS NULL OR pg_catalog.length(o.k) NOT BETWEEN 1 AND max_key
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vector_ids element % must be a key of 1 to % characters (got %)', caller, bad.i,
      max_key, coalesce(pg_catalog.length(bad.k)::text || ' characters', 'NULL')
      USING ERRCODE = '22023';
  END IF;
END
$$;

-- Sends a write in as few invocations as the payload limit allows and returns the count the
-- function answers in `counted` ("written", "deleted"; for Event, the items queued). `items` are
-- the JSON texts of the request's `field` array, in order; each invocation's JSON stays under
-- `budget` bytes and holds at most _items_per_invocation() items. The index's cached answers are
-- dropped afterwards.
CREATE OR REPLACE FUNCTION s3vl._write_in_parts(caller text, operation text, index_arn text,
  field text, items text[], budget integer, invocation_type text, counted text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  part record;
  done bigint := 0;
BEGIN
  -- Under a vector policy (20_transport/45_policies.sql) a write of several invocations is checked whole
  -- before its first part (a single invocation is checked on its way out, in _call_lambda).
  IF EXISTS (SELECT 1 FROM s3vl.index_policies)
     AND (pg_catalog.cardinality(items) > s3vl._items_per_invocation()
          OR (SELECT sum(pg_catalog.octet_length(i) + 1) FROM pg_catalog.unnest(items) i)
             >= budget) THEN
    PERFORM s3vl._policy_request(caller, ('{"operation":' || pg_catalog.to_json(operation)::text
      || ',"index_arn":' || pg_catalog.to_json(index_arn)::text || ','
      || pg_catalog.to_json(field)::text || ':[' || pg_catalog.array_to_string(items, ',')
      || ']}')::json);
  END IF;
  FOR part IN
    WITH placed AS (
      SELECT i.item, i.n,
             sum(pg_catalog.octet_length(i.item) + 1) OVER (ORDER BY i.n) / budget AS by_size,
             (i.n - 1) / s3vl._items_per_invocation() AS by_count
      FROM pg_catalog.unnest(items) WITH ORDINALITY AS i(item, n))
    SELECT ('{"operation":' || pg_catalog.to_json(operation)::text
            || ',"index_arn":' || pg_catalog.to_json(index_arn)::text
            || ',' || pg_catalog.to_json(field)::text || ':['
            || pg_catalog.string_agg(p.item, ',' ORDER BY p.n) || ']}')::json AS request,
           count(*) AS n
    FROM placed p GROUP BY p.by_size, p.by_count ORDER BY p.by_size, p.by_count
  LOOP
    IF invocation_type = 'Event' THEN
      PERFORM s3vl._invoke_event(caller, part.request);
      done := done + part.n;
    ELSE
      done := done + coalesce((s3vl._invoke(caller, part.request) ->> counted)::bigint, part.n);
    END IF;
  END LOOP;
  PERFORM s3vl._cache_invalidate(index_arn);
  RETURN done;
END
$$;

-- The number array of one put_vectors element: "data" is [...] or {"float32": [...]}.
CREATE OR REPLACE FUNCTION s3vl._put_data(element jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE pg_catalog.jsonb_typeof(element -> 'data') WHEN 'object'
              THEN element -> 'data' -> 'float32' ELSE element -> 'data' END
$$;

-- Whether a put_vectors input may be wrong: one pass answers "is anything wrong?" for the common,
-- valid input (true also when some metadata needs the index's non-filterable keys, or a key
-- repeats); the checks after it run only to find and name the first problem.
CREATE OR REPLACE FUNCTION s3vl._put_input_suspect(vectors jsonb, known_dimension integer,
  known_metric text)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  max_key constant integer := s3vl._limit('vector_id_length');
  max_filterable constant integer := s3vl._limit('filterable_metadata_bytes');
  scan record;
BEGIN
  SELECT pg_catalog.bool_or(
           pg_catalog.jsonb_typeof(o.v) <> 'object'
           OR pg_catalog.jsonb_typeof(o.v -> 'key') IS DISTINCT FROM 'string'
           OR pg_catalog.length(o.v ->> 'key') NOT BETWEEN 1 AND max_key
           OR pg_catalog.jsonb_typeof(d.data) IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@.type() != "number"
                || @ > $max || @ < -$max)', s3vl._float32_bound())
           OR pg_catalog.jsonb_typeof(o.v -> 'metadata') NOT IN ('object', 'null')
           OR pg_catalog.jsonb_array_length(d.data) IS DISTINCT FROM known_dimension
           OR (known_metric = 'cosine'
               AND NOT pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)'))) AS suspect,
         pg_catalog.bool_or(pg_catalog.jsonb_typeof(o.v -> 'metadata') = 'object'
           AND pg_catalog.octet_length((o.v -> 'metadata')::text) > max_filterable) AS big_metadata,
         count(DISTINCT o.v ->> 'key') <> count(*) AS repeated
    INTO scan
    FROM pg_catalog.jsonb_array_elements(vectors) AS o(v),
    LATERAL (SELECT s3vl._put_data(o.v) AS data) AS d;
  RETURN scan.suspect OR scan.big_metadata OR scan.repeated;
END
$$;

-- The first element of a put_vectors input that is not {"key": 1-1024 characters, "data": an
-- array of finite float32 numbers} (22023; 22000 for a value beyond float32).
CREATE OR REPLACE FUNCTION s3vl._check_put_elements(caller text, vectors jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  max_key constant integer := s3vl._limit('vector_id_length');
  bad record;
BEGIN
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
    WHERE pg_catalog.jsonb_typeof(s3vl._put_data(o.v))
          IS DISTINCT FROM 'array'
    ORDER BY o.n LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: vectors[%].data (key "%") must be an array of numbers or {"float32": [...]}',
      caller, bad.i, bad.k USING ERRCODE = '22023';
  END IF;

  -- A jsonpath test per vector finds the bad vector; only its elements are then unnested.
  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, e.n AS position, e.x INTO bad
    FROM (SELECT b.v, b.n FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS b(v, n)
          WHERE pg_catalog.jsonb_path_exists(s3vl._put_data(b.v),
                  '$[*] ? (@.type() != "number" || @ > $max || @ < -$max)',
                  s3vl._float32_bound())
          ORDER BY b.n LIMIT 1) AS o,
    LATERAL pg_catalog.jsonb_array_elements(s3vl._put_data(o.v))
      WITH ORDINALITY AS e(x, n)
    WHERE pg_catalog.jsonb_typeof(e.x) <> 'number'
       OR pg_catalog.abs(e.x::numeric) > s3vl._float32_max()
    ORDER BY e.n LIMIT 1;
  IF FOUND THEN
    IF pg_catalog.jsonb_typeof(bad.x) <> 'number' THEN
      RAISE EXCEPTION '%: vectors[%].data (key "%") element % must be a number (got %)', caller,
        bad.i, bad.k, bad.position, pg_catalog.left(bad.x::text, 50) USING ERRCODE = '22023';
    END IF;
    RAISE EXCEPTION '%: vectors[%].data (key "%") element % must be a finite float32 value '
      '(|x| <= %, got %)', caller, bad.i, bad.k, bad.position, s3vl._float32_max()::float4,
      pg_catalog.left(bad.x::text, 50) USING ERRCODE = '22000';
  END IF;
END
$$;

-- Raises the first problem of a put_vectors input (22023 shape/size, 22000 dimension/finite).
CREATE OR REPLACE FUNCTION s3vl._check_put_input(caller text, index_arn text, vectors jsonb,
  known_dimension integer, known_metric text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  key_list text[];
  bad record;
  shape record;
BEGIN
  IF NOT s3vl._put_input_suspect(vectors, known_dimension, known_metric) THEN
    RETURN;
  END IF;
  PERFORM s3vl._check_put_elements(caller, vectors);
  key_list := ARRAY(SELECT o.v ->> 'key' FROM pg_catalog.jsonb_array_elements(vectors)
                    WITH ORDINALITY AS o(v, n) ORDER BY o.n);
  -- Metadata: one checker for both write forms (it also reads the index shape).
  SELECT * INTO shape FROM s3vl._check_metadata_list(caller, index_arn, key_list,
    ARRAY(SELECT o.v -> 'metadata' FROM pg_catalog.jsonb_array_elements(vectors)
          WITH ORDINALITY AS o(v, n) ORDER BY o.n),
    'vectors[%s].metadata', 0, known_dimension, known_metric);

  SELECT o.n - 1 AS i, o.v ->> 'key' AS k, pg_catalog.jsonb_array_length(d.data) AS dim,
         pg_catalog.jsonb_path_exists(d.data, '$[*] ? (@ != 0)') AS nonzero
    INTO bad
    FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n),
    LATERAL (SELECT s3vl._put_data(o.v) AS data) AS d
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

  PERFORM s3vl._check_unique_keys(caller, key_list, 'vectors[%s]', 0);
END
$$;

-- Writes vectors (S3 Vectors shape, "data" as {"float32": [...]} or a plain array) and returns
-- how many were written (queued, for Event). Any count: split into invocations by payload size.
CREATE OR REPLACE FUNCTION s3vl._put_vectors(caller text, vectors jsonb, index_name text,
  invocation_type text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  budget integer;
  target record;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  IF vectors IS NULL OR pg_catalog.jsonb_typeof(vectors) <> 'array' THEN
    RAISE EXCEPTION '%: vectors must be a JSON array of {"key", "data", "metadata"} objects '
      '(got %)', caller, coalesce('a JSON ' || pg_catalog.jsonb_typeof(vectors), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'The same shape as aws s3vectors put-vectors --vectors.';
  END IF;
  SELECT * INTO target FROM s3vl._resolve_index(caller, _put_vectors.index_name, NULL);
  IF pg_catalog.jsonb_array_length(vectors) = 0 THEN
    RETURN 0;
  END IF;
  PERFORM s3vl._check_put_input(caller, target.index_arn, vectors, target.dimension,
                                target.distance_metric);
  RETURN s3vl._write_in_parts(caller, 'put_vectors', target.index_arn, 'vectors',
    ARRAY(SELECT pg_catalog.json_build_object('key', o.v ->> 'key',
                   'data', s3vl._put_data(o.v)::json,
                   'metadata', coalesce(o.v -> 'metadata', '{}'::jsonb)::json)::text
          FROM pg_catalog.jsonb_array_elements(vectors) WITH ORDINALITY AS o(v, n)
          ORDER BY o.n),
    budget, invocation_type, 'written');
END
$$;

CREATE OR REPLACE FUNCTION s3vl.put_vectors(
  vectors jsonb,
  index_name text,
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT s3vl._put_vectors('s3vl.put_vectors', vectors, index_name, invocation_type) $$;
COMMENT ON FUNCTION s3vl.put_vectors(jsonb,text,text) IS
  's3vl: the number of vectors written (queued, for Event)';

-- The numbers of a 2-D write matrix: no NULL (22023), finite and within float32 (22000), naming
-- the row and its key. Array operations, no per-number SQL.
CREATE OR REPLACE FUNCTION s3vl._check_array_numbers(caller text, keys text[], vectors float8[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  has_nan boolean;
  bad record;
BEGIN
  -- `x = ANY (array)` is NULL when nothing matches and an element is NULL.
  has_nan := 'NaN'::float8 = ANY (vectors);
  IF has_nan IS NULL THEN
    SELECT (o.n - 1) / pg_catalog.array_length(vectors, 2) + 1 AS i INTO bad
      FROM pg_catalog.unnest(vectors) WITH ORDINALITY AS o(x, n) WHERE o.x IS NULL
      ORDER BY o.n LIMIT 1;
    RAISE EXCEPTION '%: vectors row % (key "%") contains NULL', caller, bad.i, keys[bad.i]
      USING ERRCODE = '22023';
  END IF;
  IF has_nan OR 'Infinity'::float8 = ANY (vectors) OR '-Infinity'::float8 = ANY (vectors) THEN
    SELECT (o.n - 1) / pg_catalog.array_length(vectors, 2) + 1 AS i INTO bad
      FROM pg_catalog.unnest(vectors) WITH ORDINALITY AS o(x, n)
      WHERE o.x = 'NaN'::float8 OR o.x = 'Infinity'::float8 OR o.x = '-Infinity'::float8
      ORDER BY o.n LIMIT 1;
    RAISE EXCEPTION '%: vectors row % (key "%") must contain only finite numbers (NaN and '
      'Infinity are not allowed)', caller, bad.i, keys[bad.i] USING ERRCODE = '22000';
  END IF;
  -- The float4 cast checks every element in C; it also fails on values too small for float32,
  -- which S3 Vectors stores as 0, so only the exact test below decides.
  BEGIN
    PERFORM vectors::float4[];
  EXCEPTION WHEN numeric_value_out_of_range THEN
    SELECT (o.n - 1) / pg_catalog.array_length(vectors, 2) + 1 AS i INTO bad
      FROM pg_catalog.unnest(vectors) WITH ORDINALITY AS o(x, n)
      WHERE pg_catalog.abs(o.x) > s3vl._float32_max()
      ORDER BY o.n LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: vectors row % (key "%") must contain only finite float32 values '
        '(|x| <= %)', caller, bad.i, keys[bad.i], s3vl._float32_max()::float4
        USING ERRCODE = '22000';
    END IF;
  END;
END
$$;

-- Raises the first problem of a put_vector_arrays input. The vectors are checked with array
-- operations (no per-number SQL); metadata as in _check_put_input.
CREATE OR REPLACE FUNCTION s3vl._check_put_arrays(caller text, index_arn text, keys text[],
  vectors float8[], metadata jsonb[], known_dimension integer, known_metric text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  n constant integer := pg_catalog.cardinality(keys);
  bad record;
  shape record;
BEGIN
  PERFORM s3vl._check_key_array(caller, keys);
  PERFORM s3vl._check_unique_keys(caller, keys, 'vector_ids element %s', 1);

  IF vectors IS NULL OR pg_catalog.array_ndims(vectors) IS DISTINCT FROM 2 THEN
    RAISE EXCEPTION '%: vectors must be a two-dimensional float8[] array, one row per key (got %)',
      caller, coalesce(pg_catalog.array_ndims(vectors)::text || ' dimension(s)', 'NULL')
      USING ERRCODE = '22023',
            HINT = 'array_agg(embedding ORDER BY id) over float8[] rows gives one; '
                   'for one vector use s3vl.put_vector.';
  END IF;
  IF pg_catalog.array_length(vectors, 1) <> n THEN
    RAISE EXCEPTION '%: vectors has % rows but vector_ids has % elements', caller,
      pg_catalog.array_length(vectors, 1), n USING ERRCODE = '22023';
  END IF;
  IF metadata IS NOT NULL AND (pg_catalog.array_ndims(metadata) IS DISTINCT FROM 1
                               OR pg_catalog.cardinality(metadata) <> n) THEN
    RAISE EXCEPTION '%: metadata must be NULL or a one-dimensional array with one element per key '
      '(got % elements for % keys)', caller, pg_catalog.cardinality(metadata), n
      USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._check_array_numbers(caller, keys, vectors);

  SELECT * INTO shape FROM s3vl._check_metadata_list(caller, index_arn, keys, metadata,
    'metadata element %s', 1, known_dimension, known_metric);
  IF pg_catalog.array_length(vectors, 2) <> shape.dimension THEN
    RAISE EXCEPTION '%: vectors has dimension % but the index has dimension %', caller,
      pg_catalog.array_length(vectors, 2), shape.dimension
      USING ERRCODE = '22000',
            HINT = 'Use an embedding model with the index dimension; see s3vl.get_index_info().';
  END IF;
  IF shape.distance_metric = 'cosine' THEN
    SELECT g.i INTO bad FROM pg_catalog.generate_subscripts(vectors, 1) AS g(i)
      WHERE 0 = ALL (vectors[g.i:g.i]) ORDER BY g.i LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: vectors row % (key "%") is all zeros, which a cosine index cannot store',
        caller, bad.i, keys[bad.i] USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;

-- Writes vectors given as parallel arrays, the form a table aggregates to:
--   SELECT s3vl.put_vector_arrays(array_agg(id ORDER BY id), array_agg(embedding ORDER BY id),
--            'my-index', array_agg(meta ORDER BY id)) FROM docs;
-- vector_ids text[], vectors a 2-D float8[] (one row per key), metadata jsonb[] or NULL. Same checks,
-- splitting and answer as put_vectors, without turning every number into jsonb: much faster for
-- large vectors. Returns how many were written (queued, for Event).
CREATE OR REPLACE FUNCTION s3vl.put_vector_arrays(
  vector_ids text[],
  vectors float8[],
  index_name text,
  metadata jsonb[] DEFAULT NULL,
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 1
AS $$
DECLARE
  caller constant text := 's3vl.put_vector_arrays';
  matrix_text text;
  data_rows text[];
  budget integer;
  target record;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  SELECT * INTO target FROM s3vl._resolve_index(caller, put_vector_arrays.index_name, NULL);
  PERFORM s3vl._check_put_arrays(caller, target.index_arn, vector_ids, vectors, metadata,
                                 target.dimension, target.distance_metric);
  -- The numbers go as float32 text (float4out, shortest exact form; extra_float_digits is pinned
  -- above): S3 Vectors stores float32, so nothing it keeps is lost, and the request is about
  -- half the size of float8 text. One to_json of the whole matrix is split into its rows (in a
  -- variable: inside the query below the split was several times slower).
  BEGIN
    matrix_text := pg_catalog.to_json(vectors::float4[])::text;
  EXCEPTION WHEN numeric_value_out_of_range THEN
    -- Values too small for float32 (S3 Vectors stores 0; validation has ruled out too large
    -- ones): this input goes as float8 text.
    matrix_text := pg_catalog.to_json(vectors)::text;
  END;
  data_rows := pg_catalog.string_to_array(
    pg_catalog.substr(matrix_text, 3, pg_catalog.length(matrix_text) - 4), '],[');
  matrix_text := NULL;
  -- unnest of several arrays walks them side by side (subscripting a jsonb[] or text[] per row
  -- would scan it from the start every time); multi-argument unnest is FROM-clause syntax, it
  -- cannot be schema-qualified.
  RETURN s3vl._write_in_parts(caller, 'put_vectors', target.index_arn, 'vectors',
    ARRAY(SELECT '{"key":' || pg_catalog.to_json(r.k)::text || ',"data":[' || r.t || ']'
                 || CASE WHEN r.md IS NULL OR pg_catalog.jsonb_typeof(r.md) = 'null'
                         THEN '' ELSE ',"metadata":' || r.md::text END
                 || '}'
          FROM unnest(vector_ids, data_rows, coalesce(metadata, pg_catalog.array_fill(
                        NULL::jsonb, ARRAY[pg_catalog.cardinality(vector_ids)])))
                 WITH ORDINALITY AS r(k, t, md, i)
          ORDER BY r.i),
    budget, invocation_type, 'written');
END
$$;
COMMENT ON FUNCTION s3vl.put_vector_arrays(text[],double precision[],text,jsonb[],text) IS
  's3vl: the number of vectors written from parallel arrays (queued, for Event)';

-- One vector: s3vl.put_vector('doc-1', ARRAY[...]::float8[], 'my-index', '{"genre": "news"}').
CREATE OR REPLACE FUNCTION s3vl.put_vector(
  vector_id text,
  vector float8[],
  index_name text,
  metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.put_vector', 'vector_id', vector_id);
  PERFORM s3vl._check_range('s3vl.put_vector', 'vector_id length', pg_catalog.length(vector_id),
                            'vector_id_length');
  PERFORM s3vl._check_vector('s3vl.put_vector', 'vector', vector);
  IF pg_catalog.jsonb_typeof(metadata) NOT IN ('object', 'null') THEN
    RAISE EXCEPTION 's3vl.put_vector: metadata must be a JSON object (got a JSON %)',
      pg_catalog.jsonb_typeof(metadata) USING ERRCODE = '22023';
  END IF;
  -- Metadata is added only when given (jsonb_strip_nulls would also drop null values inside it).
  RETURN s3vl._put_vectors('s3vl.put_vector', pg_catalog.jsonb_build_array(
    pg_catalog.jsonb_build_object('key', vector_id, 'data', pg_catalog.to_jsonb(vector))
    || CASE WHEN metadata IS NULL THEN '{}'::jsonb
            ELSE pg_catalog.jsonb_build_object('metadata', metadata) END),
    index_name, 'RequestResponse');
END
$$;
COMMENT ON FUNCTION s3vl.put_vector(text,double precision[],text,jsonb) IS
  's3vl: 1 once the vector is written';

-- Deletes keys (any count; repeats are sent once) and returns how many distinct keys were sent
-- (S3 Vectors does not say which existed).
CREATE OR REPLACE FUNCTION s3vl.delete_vectors(
  vector_ids text[],
  index_name text,
  invocation_type text DEFAULT 'RequestResponse')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.delete_vectors';
  budget integer;
  target record;
BEGIN
  budget := s3vl._payload_budget(caller, invocation_type);
  PERFORM s3vl._check_key_array(caller, vector_ids);
  SELECT * INTO target FROM s3vl._resolve_index(caller, delete_vectors.index_name, NULL);
  -- A key given twice is sent once, at its first position.
  RETURN s3vl._write_in_parts(caller, 'delete_vectors', target.index_arn, 'keys',
    ARRAY(SELECT pg_catalog.to_json(d.k)::text
          FROM (SELECT o.k, min(o.n) AS n
                FROM pg_catalog.unnest(vector_ids) WITH ORDINALITY AS o(k, n)
                GROUP BY o.k) AS d
          ORDER BY d.n),
    budget, invocation_type, 'deleted');
END
$$;
COMMENT ON FUNCTION s3vl.delete_vectors(text[],text,text) IS
  's3vl: the number of distinct keys sent for deletion';
