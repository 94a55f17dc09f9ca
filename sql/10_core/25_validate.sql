-- Argument checks shared by every public function, and index resolution. Internal helpers
-- (name starts with "_") are not granted to anyone: only s3vl's SECURITY DEFINER functions call
-- them, so they carry no SET search_path of their own (it would cost a GUC save per call) and
-- qualify every object instead.

-- A vector argument: present, no NULL elements, 1..4096 long, finite (22000 as pgvector does),
-- and as long as the index dimension when that is known.
CREATE OR REPLACE FUNCTION s3vl._check_vector(caller text, param text, vec float8[],
                                              expected_dimension integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  n integer := pg_catalog.cardinality(vec);
BEGIN
  IF vec IS NULL OR n = 0 THEN
    RAISE EXCEPTION '%: % must be a non-empty array of numbers', caller, param
      USING ERRCODE = '22023', HINT = 'Pass e.g. ARRAY[0.1, 0.2, 0.3]::float8[].';
  END IF;
  IF pg_catalog.array_ndims(vec) <> 1 THEN
    RAISE EXCEPTION '%: % must be a one-dimensional array (got % dimensions)', caller, param,
      pg_catalog.array_ndims(vec) USING ERRCODE = '22023';
  END IF;
  IF pg_catalog.array_position(vec, NULL) IS NOT NULL THEN
    RAISE EXCEPTION '%: % must not contain NULL elements (element % is NULL)', caller, param,
      pg_catalog.array_position(vec, NULL) USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._check_range(caller, 'dimension', n);
  -- One pass: NaN sorts above every number in PostgreSQL, so this also catches NaN and
  -- Infinity; S3 Vectors stores float32, where a larger magnitude would become Infinity.
  IF EXISTS (SELECT 1 FROM pg_catalog.unnest(vec) AS x
             WHERE pg_catalog.abs(x) > s3vl._float32_max()) THEN
    IF 'NaN'::float8 = ANY (vec) OR 'Infinity'::float8 = ANY (vec)
       OR '-Infinity'::float8 = ANY (vec) THEN
      RAISE EXCEPTION '%: % must contain only finite numbers (NaN and Infinity are not allowed)',
        caller, param USING ERRCODE = '22000';
    END IF;
    RAISE EXCEPTION '%: % must contain only finite float32 values (|x| <= %)',
      caller, param, s3vl._float32_max()::float4 USING ERRCODE = '22000';
  END IF;
  IF expected_dimension IS NOT NULL AND n <> expected_dimension THEN
    RAISE EXCEPTION '%: % has dimension % but the index has dimension %', caller, param, n,
      expected_dimension
      USING ERRCODE = '22000',
            HINT = 'Use an embedding model with the index dimension; see s3vl.get_index_info().';
  END IF;
END
$$;

-- Splits an S3 Vectors index ARN of any partition; NULL when it is not one. The same pattern and
-- length limit as the function's (lambda/s3vl_lambda/index_ref.py): tests/index_arn_cases.json
-- holds the ARNs both accept and refuse.
CREATE OR REPLACE FUNCTION s3vl._parse_index_arn(arn text,
  OUT partition text, OUT region text, OUT account_id text, OUT bucket_name text,
  OUT index_name text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT m[1], m[2], m[3], m[4], m[5]
  FROM (SELECT pg_catalog.regexp_match(arn,
    '^arn:(aws|aws-cn|aws-us-gov):s3vectors:([a-z]{2}(?:-[a-z0-9]+)+-[0-9]+):([0-9]{12}):'
    'bucket/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])/index/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$') AS m
        WHERE pg_catalog.length(arn) <= s3vl._limit('index_arn_length')) s
$$;

CREATE OR REPLACE FUNCTION s3vl._check_index_arn(caller text, param text, arn text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF (s3vl._parse_index_arn(arn)).index_name IS NULL THEN
    RAISE EXCEPTION '%: % is not an S3 Vectors index ARN: %', caller, param,
      pg_catalog.left(coalesce(arn, 'NULL'), 200)
      USING ERRCODE = '22023',
            HINT = 'Expected arn:{aws|aws-cn|aws-us-gov}:s3vectors:<region>:<12-digit account>:'
                   'bucket/<bucket>/index/<index>.';
  END IF;
END
$$;

-- What the registry knows of a checked, canonical index ARN (dimension and metric, NULL when
-- unregistered): 42704 when its registration is deactivated, and when it came as index_name
-- without a registration.
CREATE OR REPLACE FUNCTION s3vl._resolve_by_arn(caller text, arn text, given_as_name boolean,
  OUT dimension integer, OUT distance_metric text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  reg record;
BEGIN
  SELECT r.index_name, r.dimension, r.distance_metric, r.is_active INTO reg
    FROM s3vl.index_registry r
    WHERE r.index_arn = arn
    ORDER BY r.is_active DESC, r.id LIMIT 1;
  IF NOT FOUND AND given_as_name THEN
    RAISE EXCEPTION '%: index % is not registered (an ARN given as the index name must be '
                    'a registered index; only reads that take index_arn accept others)',
      caller, pg_catalog.left(arn, 200)
      USING ERRCODE = '42704',
            HINT = 'An s3vl_admin registers it with SELECT s3vl.register_index(''<name>'', '
                   '''<index ARN>'').';
  END IF;
  IF FOUND AND NOT reg.is_active THEN
    RAISE EXCEPTION '%: index % is deactivated (registered as "%")', caller,
      pg_catalog.left(arn, 200), reg.index_name
      USING ERRCODE = '42704',
            HINT = format('Reactivate it with SELECT s3vl.activate_index(%L).', reg.index_name);
  END IF;
  dimension := reg.dimension;
  distance_metric := reg.distance_metric;
END
$$;

-- Which index a call is about: exactly one of index_name (a registry name) and index_arn.
-- Returns the ARN and, when the index is registered, its dimension and metric (so a wrong
-- dimension fails here, before any call). The registry is an access boundary:
-- - an ARN passed where a name is expected (index_name, as the reference sample allowed; the only
--   form put_vectors, delete_vectors, query_vectors_batch and set_cache take) resolves only
--   through the registry: it must be registered under an active name (42704 otherwise);
-- - an explicit index_arn of a registered index is refused when every name it has is
--   deactivated; an unregistered index_arn still reaches the function (whose allow-list,
--   S3VL_ALLOWED_INDEX_ARNS, and IAM policy decide).
CREATE OR REPLACE FUNCTION s3vl._resolve_index(caller text, p_index_name text, p_index_arn text,
  OUT index_arn text, OUT dimension integer, OUT distance_metric text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  reg record;
  by_arn_as_name boolean := false;
BEGIN
  IF p_index_name IS NULL AND p_index_arn IS NULL THEN
    RAISE EXCEPTION '%: either index_name or index_arn must be given', caller
      USING ERRCODE = '22023', HINT = 'List registered names with SELECT * FROM s3vl.list_indexes().';
  END IF;
  IF p_index_name IS NOT NULL AND p_index_arn IS NOT NULL THEN
    RAISE EXCEPTION '%: give either index_name or index_arn, not both', caller
      USING ERRCODE = '22023';
  END IF;
  IF p_index_arn IS NULL AND p_index_name LIKE 'arn:%' THEN
    p_index_arn := p_index_name;
    p_index_name := NULL;
    by_arn_as_name := true;
  END IF;
  IF p_index_arn IS NOT NULL THEN
    IF NOT s3vl._is_partitioned_id(p_index_arn) THEN  -- 27_partition_ids.sql
      PERFORM s3vl._check_index_arn(caller, 'index_arn', p_index_arn);
      -- Another account's (region's, partition's) spelling of a registered index: refused.
      p_index_arn := s3vl._canonical_index_arn(caller, p_index_arn);
    END IF;
    SELECT * INTO reg FROM s3vl._resolve_by_arn(caller, p_index_arn, by_arn_as_name);
    index_arn := p_index_arn;
    dimension := reg.dimension;
    distance_metric := reg.distance_metric;
    RETURN;
  END IF;
  SELECT r.index_arn, r.dimension, r.distance_metric, r.is_active INTO reg
    FROM s3vl.index_registry r WHERE r.index_name = p_index_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: index "%" is not registered', caller, pg_catalog.left(p_index_name, 100)
      USING ERRCODE = '42704',
            HINT = 'Register it with SELECT s3vl.register_index(''<name>'', ''<index ARN>''), '
                   'or pass index_arn.';
  END IF;
  IF NOT reg.is_active THEN
    RAISE EXCEPTION '%: index "%" is deactivated', caller, p_index_name
      USING ERRCODE = '42704',
            HINT = format('Reactivate it with SELECT s3vl.activate_index(%L).', p_index_name);
  END IF;
  index_arn := reg.index_arn;
  dimension := reg.dimension;
  distance_metric := reg.distance_metric;
END
$$;

-- Whether a value nests deeper than `depth` JSON levels (each object and each array counts one
-- level: {"a": 1} is 1, {"$and": [{"a": {"$eq": 1}}]} is 4). A container at level L (the root is
-- 0) is at depth L + 1, so one jsonpath question answers it, without recursion in SQL.
CREATE OR REPLACE FUNCTION s3vl._filter_deeper_than(value jsonb, depth integer)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.jsonb_path_exists(value, pg_catalog.format(
    'strict $.**{%s} ? (@.type() == "object" || @.type() == "array")', depth)::jsonpath)
$$;

-- 22023 naming max_filter_depth when a metadata_filter nests deeper than the limit (checked in
-- SQL before any invocation; the function and the emulator apply the same limit).
CREATE OR REPLACE FUNCTION s3vl._check_filter_depth(caller text, metadata_filter jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  max_depth constant integer := s3vl._limit('max_filter_depth');
BEGIN
  IF metadata_filter IS NOT NULL AND s3vl._filter_deeper_than(metadata_filter, max_depth) THEN
    RAISE EXCEPTION '%: metadata_filter nests deeper than max_filter_depth (%)', caller, max_depth
      USING ERRCODE = '22023',
            HINT = 'Each JSON object and array counts one level; flatten the $and/$or nesting. '
                   'See SELECT * FROM s3vl.limits().';
  END IF;
END
$$;

-- value::the type of like_value, or NULL when value is not valid for that type (sync's keys and
-- query_vectors_where's join to the caller's table).
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

-- A vector given as a string literal ('{0.1,0.2}' or '[0.1,0.2]'), for the forms that take two
-- literals; 22023 saying which forms to write when it is not one.
CREATE OR REPLACE FUNCTION s3vl._vector_literal(caller text, vector_text text, index_name text)
RETURNS float8[]
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  RETURN pg_catalog.translate(pg_catalog.btrim(vector_text), '[]', '{}')::float8[];
EXCEPTION WHEN data_exception THEN
  RAISE EXCEPTION '%: with two string literals the first is the index and the second the vector '
                  '(got %, %)', caller, pg_catalog.quote_literal(pg_catalog.left(index_name, 60)),
                  pg_catalog.quote_literal(pg_catalog.left(vector_text, 60))
    USING ERRCODE = '22023',
          HINT = pg_catalog.format('Write %s(''my-index'', ''{0.1,0.2}'') or %s(''{0.1,0.2}''::'
                                   'float8[], index_name => ''my-index'').', caller, caller);
END
$$;
