-- Partitioned logical indexes (docs/partitions.md): one registered name over several S3 Vectors
-- indexes. The name is registered in s3vl.index_registry with a logical identifier
-- ('s3vl:partitioned:<name>') in place of an index ARN, so every function that resolves an index
-- name (reads, writes, search, where, batch, sync, policies, grants, the cache) resolves it as
-- usual; s3vl._send_lambda, the one place that calls the function, turns a request for that
-- identifier into a request naming the partitions (docs/protocol.md, "Partitioned requests").
-- The function fans out, routes and merges.

CREATE TABLE IF NOT EXISTS s3vl.partitioned_indexes (
  index_name text PRIMARY KEY,
  partition_key text,                      -- NULL: hash partitions
  vectors_written boolean NOT NULL DEFAULT false,  -- a write was sent: hash partitions are fixed
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE s3vl.partitioned_indexes IS
  's3vl: partitioned logical indexes (s3vl.create_partitioned_index)';

CREATE TABLE IF NOT EXISTS s3vl.index_partitions (
  index_name text NOT NULL REFERENCES s3vl.partitioned_indexes (index_name) ON DELETE CASCADE,
  index_arn text NOT NULL,
  partition_value text,                    -- value partitions: the value; NULL: default / hash
  ordinal integer NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (index_name, index_arn),
  CONSTRAINT index_partitions_ordinal UNIQUE (index_name, ordinal) DEFERRABLE INITIALLY DEFERRED
);
COMMENT ON TABLE s3vl.index_partitions IS
  's3vl: the physical indexes of each partitioned logical index (s3vl.add_partition)';

-- The identifier a partitioned name stands for wherever an index ARN is expected.
CREATE OR REPLACE FUNCTION s3vl._partitioned_id(index_name text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 's3vl:partitioned:' || index_name $$;

CREATE OR REPLACE FUNCTION s3vl._is_partitioned_id(index_arn text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(pg_catalog.starts_with(index_arn, 's3vl:partitioned:'), false) $$;

-- The text a partition key value routes by, as the function computes it: a string as itself,
-- true/false, a number in its shortest form (5 and 5.0 are '5'); NULL for anything else.
CREATE OR REPLACE FUNCTION s3vl._partition_value_text(value jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE pg_catalog.jsonb_typeof(value)
    WHEN 'string' THEN value #>> '{}'
    WHEN 'boolean' THEN value #>> '{}'
    WHEN 'number' THEN pg_catalog.trim_scale((value #>> '{}')::numeric)::text
  END
$$;

-- The values of `partition_key` a resolved policy filter ({"$and": [{k: {"$eq"|"$in": ..}}]})
-- allows, as routing text; NULL when the policy does not constrain that key.
CREATE OR REPLACE FUNCTION s3vl._policy_partition_values(policy jsonb, partition_key text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  part jsonb;
  cond jsonb;
  vals text[];
  pinned text[];
BEGIN
  FOR part IN SELECT pg_catalog.jsonb_array_elements(policy -> '$and') LOOP
    cond := part -> partition_key;
    CONTINUE WHEN cond IS NULL;
    vals := ARRAY(SELECT s3vl._partition_value_text(x)
                  FROM pg_catalog.jsonb_array_elements(CASE WHEN cond ? '$in' THEN cond -> '$in'
                         ELSE pg_catalog.jsonb_build_array(cond -> '$eq') END) x);
    pinned := CASE WHEN pinned IS NULL THEN vals
                   ELSE ARRAY(SELECT pg_catalog.unnest(pinned)
                              INTERSECT SELECT pg_catalog.unnest(vals)) END;
  END LOOP;
  RETURN pinned;
END
$$;

-- The hook s3vl._send_lambda runs on every request: a request whose index_arn is a partitioned
-- identifier is sent with `partitions` + `partition_key` instead (docs/protocol.md). A caller
-- bound by a policy on the partition key gets only the partitions its values route to (so the
-- function never even learns the other partitions' ARNs); s3vl.sync is not bound by its caller
-- (80_sync.sql). A put marks hash partitions as fixed.
CREATE OR REPLACE FUNCTION s3vl._partition_request(caller text, request json)
RETURNS json
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  req jsonb;
  logical text;
  pi record;
  policy jsonb;
  allowed text[];
  parts jsonb;
BEGIN
  -- The common case costs one substring search over the request text.
  IF pg_catalog.strpos(request::text, 's3vl:partitioned:') = 0 THEN
    RETURN request;
  END IF;
  req := request::jsonb;
  logical := req ->> 'index_arn';
  IF NOT s3vl._is_partitioned_id(logical) THEN
    RETURN request;
  END IF;
  SELECT p.index_name, p.partition_key, p.vectors_written INTO pi
    FROM s3vl.partitioned_indexes p
    JOIN s3vl.index_registry r ON r.index_name = p.index_name AND r.index_arn = logical;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: index % is not a partitioned index', caller,
      pg_catalog.left(logical, 200) USING ERRCODE = '42704',
      HINT = 'SELECT * FROM s3vl.list_indexes() lists registered names.';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM s3vl.index_partitions ip WHERE ip.index_name = pi.index_name) THEN
    RAISE EXCEPTION '%: partitioned index "%" has no partitions yet', caller, pi.index_name
      USING ERRCODE = '55000',
            HINT = 'An s3vl_admin adds one with SELECT s3vl.add_partition(<index_name>, '
                   '<index ARN>, <partition_value>).';
  END IF;
  IF pi.partition_key IS NOT NULL AND caller <> 's3vl.sync'
     AND EXISTS (SELECT 1 FROM s3vl.index_policies ip WHERE ip.index_arn = logical) THEN
    policy := s3vl._policy_filter(caller, logical);
    allowed := s3vl._policy_partition_values(policy, pi.partition_key);
  END IF;
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'index_arn', ip.index_arn, 'ordinal', ip.ordinal, 'value', ip.partition_value)
           ORDER BY ip.ordinal), '[]'::jsonb)
    INTO parts
    FROM s3vl.index_partitions ip
    WHERE ip.index_name = pi.index_name
      AND (allowed IS NULL
           OR ip.partition_value = ANY (allowed)
           OR (ip.partition_value IS NULL AND EXISTS (
                 SELECT 1 FROM pg_catalog.unnest(allowed) a
                 WHERE NOT EXISTS (SELECT 1 FROM s3vl.index_partitions o
                                   WHERE o.index_name = pi.index_name
                                     AND o.partition_value = a))));
  IF req ->> 'operation' = 'put_vectors' AND NOT pi.vectors_written THEN
    UPDATE s3vl.partitioned_indexes SET vectors_written = true
      WHERE index_name = pi.index_name;
  END IF;
  RETURN ((req - 'index_arn') || pg_catalog.jsonb_build_object(
            'partitions', parts, 'partition_key', pi.partition_key))::json;
END
$$;

-- The partitioned index a public function names (locked for the change), or 42704.
CREATE OR REPLACE FUNCTION s3vl._partitioned_target(caller text, index_name text)
RETURNS s3vl.partitioned_indexes
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  chosen s3vl.partitioned_indexes;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  SELECT p.* INTO chosen FROM s3vl.partitioned_indexes p
    JOIN s3vl.index_registry r ON r.index_name = p.index_name
                              AND r.index_arn = s3vl._partitioned_id(p.index_name)
    WHERE p.index_name = _partitioned_target.index_name
    FOR UPDATE OF p;
  IF NOT FOUND THEN
    RAISE EXCEPTION '%: "%" is not a partitioned index', caller,
      pg_catalog.left(index_name, 100) USING ERRCODE = '42704',
      HINT = 'Create one with SELECT s3vl.create_partitioned_index(<index_name>).';
  END IF;
  RETURN chosen;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.create_partitioned_index(index_name text,
  partition_key text DEFAULT NULL, description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.create_partitioned_index';
BEGIN
  PERFORM s3vl._check_registry_name(caller, index_name);
  IF partition_key IS NOT NULL AND (pg_catalog.length(partition_key) NOT BETWEEN 1 AND
       s3vl._limit('metadata_key_length') OR partition_key LIKE '$%') THEN
    RAISE EXCEPTION '%: partition_key must be a metadata key of 1 to % characters, not an '
                    'operator (got %)', caller, s3vl._limit('metadata_key_length'),
      pg_catalog.to_jsonb(partition_key) USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM s3vl.index_registry r
             WHERE r.index_name = create_partitioned_index.index_name) THEN
    RAISE EXCEPTION '%: index "%" is already registered', caller, index_name
      USING ERRCODE = '42710', HINT = 'Pick another name, or s3vl.unregister_index it first.';
  END IF;
  -- A logical index unregistered earlier leaves its partition list behind: start afresh.
  DELETE FROM s3vl.partitioned_indexes p WHERE p.index_name = create_partitioned_index.index_name;
  INSERT INTO s3vl.partitioned_indexes (index_name, partition_key)
    VALUES (create_partitioned_index.index_name, create_partitioned_index.partition_key);
  INSERT INTO s3vl.index_registry (index_name, index_arn, description, bucket_name, region,
                                   account_id, is_active)
    VALUES (create_partitioned_index.index_name,
            s3vl._partitioned_id(create_partitioned_index.index_name),
            create_partitioned_index.description, '', '', '', true);
END
$$;
COMMENT ON FUNCTION s3vl.create_partitioned_index(text, text, text) IS
  's3vl: registers a logical index spread over partitions (by key hash, or by the value of '
  'partition_key); returns nothing';

CREATE OR REPLACE FUNCTION s3vl.add_partition(index_name text, index_arn text,
  partition_value text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.add_partition';
  target s3vl.partitioned_indexes;
  reg record;
  info jsonb;
  next_ordinal integer;
BEGIN
  target := s3vl._partitioned_target(caller, index_name);
  PERFORM s3vl._check_index_arn(caller, 'index_arn', index_arn);
  IF target.partition_key IS NULL AND partition_value IS NOT NULL THEN
    RAISE EXCEPTION '%: "%" is hash-partitioned; its partitions take no partition_value', caller,
      index_name USING ERRCODE = '22023';
  END IF;
  IF partition_value IS NOT NULL AND pg_catalog.length(partition_value) = 0 THEN
    RAISE EXCEPTION '%: partition_value must not be empty (NULL adds the default partition)',
      caller USING ERRCODE = '22023';
  END IF;
  IF target.partition_key IS NULL AND target.vectors_written THEN
    RAISE EXCEPTION '%: the hash partitions of "%" are fixed: vectors were written through it',
      caller, index_name USING ERRCODE = '55000',
      HINT = 'Adding a partition would move keys to other partitions. Re-spread instead: create '
             'a new partitioned index with the partitions you want, copy the vectors into it '
             '(s3vl.scan_vectors + s3vl.put_vectors, or s3vl.track_table + s3vl.sync), then use '
             'the new name. See docs/partitions.md.';
  END IF;
  IF EXISTS (SELECT 1 FROM s3vl.index_partitions p
             WHERE p.index_name = add_partition.index_name AND p.index_arn = add_partition.index_arn)
  THEN
    RAISE EXCEPTION '%: index % is already a partition of "%"', caller, index_arn, index_name
      USING ERRCODE = '42710';
  END IF;
  IF target.partition_key IS NOT NULL AND EXISTS (
       SELECT 1 FROM s3vl.index_partitions p
       WHERE p.index_name = add_partition.index_name
         AND p.partition_value IS NOT DISTINCT FROM add_partition.partition_value) THEN
    RAISE EXCEPTION '%: "%" already has a % partition', caller, index_name,
      coalesce('"' || partition_value || '"', 'default') USING ERRCODE = '42710';
  END IF;
  IF (SELECT pg_catalog.count(*) FROM s3vl.index_partitions p
      WHERE p.index_name = add_partition.index_name) >= s3vl._limit('partitions') THEN
    RAISE EXCEPTION '%: "%" has % partitions already, the most one logical index may have',
      caller, index_name, s3vl._limit('partitions') USING ERRCODE = '22023',
      HINT = 'See SELECT * FROM s3vl.limits().';
  END IF;
  info := s3vl._invoke(caller, s3vl._get_index_request(index_arn));
  SELECT r.dimension, r.distance_metric INTO reg FROM s3vl.index_registry r
    WHERE r.index_name = add_partition.index_name;
  IF reg.dimension IS NOT NULL AND ((info ->> 'dimension')::integer IS DISTINCT FROM reg.dimension
       OR info ->> 'distance_metric' IS DISTINCT FROM reg.distance_metric) THEN
    RAISE EXCEPTION '%: index % has dimension % and metric %, but the partitions of "%" have '
                    'dimension % and metric %', caller, index_arn, info ->> 'dimension',
      info ->> 'distance_metric', index_name, reg.dimension, reg.distance_metric
      USING ERRCODE = '22023', HINT = 'Every partition needs the same dimension and metric.';
  END IF;
  SELECT coalesce(max(p.ordinal) + 1, 0) INTO next_ordinal FROM s3vl.index_partitions p
    WHERE p.index_name = add_partition.index_name;
  INSERT INTO s3vl.index_partitions (index_name, index_arn, partition_value, ordinal)
    VALUES (add_partition.index_name, add_partition.index_arn, add_partition.partition_value,
            next_ordinal);
  UPDATE s3vl.index_registry r SET dimension = (info ->> 'dimension')::integer,
                                  distance_metric = info ->> 'distance_metric'
    WHERE r.index_name = add_partition.index_name AND r.dimension IS NULL;
  PERFORM s3vl._cache_invalidate(s3vl._partitioned_id(index_name));
  RETURN next_ordinal;
END
$$;
COMMENT ON FUNCTION s3vl.add_partition(text, text, text) IS
  's3vl: adds an S3 Vectors index as a partition (same dimension and metric, checked with '
  'GetIndex); returns its ordinal';

CREATE OR REPLACE FUNCTION s3vl.drop_partition(index_name text, index_arn text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.drop_partition';
  target s3vl.partitioned_indexes;
  dropped integer;
BEGIN
  target := s3vl._partitioned_target(caller, index_name);
  PERFORM s3vl._require(caller, 'index_arn', index_arn);
  IF target.partition_key IS NULL AND target.vectors_written THEN
    RAISE EXCEPTION '%: the hash partitions of "%" are fixed: vectors were written through it',
      caller, index_name USING ERRCODE = '55000',
      HINT = 'Dropping one would lose its keys and move others. Re-spread into a new '
             'partitioned index instead (docs/partitions.md).';
  END IF;
  DELETE FROM s3vl.index_partitions p
    WHERE p.index_name = drop_partition.index_name AND p.index_arn = drop_partition.index_arn
    RETURNING p.ordinal INTO dropped;
  IF dropped IS NULL THEN
    RAISE EXCEPTION '%: index % is not a partition of "%"', caller,
      pg_catalog.left(index_arn, 200), index_name USING ERRCODE = '42704',
      HINT = pg_catalog.format('SELECT * FROM s3vl.list_partitions(%L) lists them.', index_name);
  END IF;
  IF target.partition_key IS NULL THEN
    -- Hash partitions stay numbered 0..n-1 (the function routes by key hash modulo n).
    UPDATE s3vl.index_partitions p SET ordinal = p.ordinal - 1
      WHERE p.index_name = drop_partition.index_name AND p.ordinal > dropped;
  END IF;
  PERFORM s3vl._cache_invalidate(s3vl._partitioned_id(index_name));
END
$$;
COMMENT ON FUNCTION s3vl.drop_partition(text, text) IS
  's3vl: removes a partition from a logical index (its vectors stay in the S3 Vectors index); '
  'returns nothing';

CREATE OR REPLACE FUNCTION s3vl.list_partitions(index_name text)
RETURNS TABLE (index_arn text, partition_value text, ordinal integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.list_partitions', 'index_name', index_name);
  IF NOT EXISTS (SELECT 1 FROM s3vl.partitioned_indexes p
                 WHERE p.index_name = list_partitions.index_name) THEN
    RAISE EXCEPTION 's3vl.list_partitions: "%" is not a partitioned index',
      pg_catalog.left(index_name, 100) USING ERRCODE = '42704';
  END IF;
  RETURN QUERY SELECT p.index_arn, p.partition_value, p.ordinal
    FROM s3vl.index_partitions p WHERE p.index_name = list_partitions.index_name
    ORDER BY p.ordinal;
END
$$;
COMMENT ON FUNCTION s3vl.list_partitions(text) IS
  's3vl: the partitions of a logical index: index ARN, partition value (NULL: default or hash), '
  'ordinal';
