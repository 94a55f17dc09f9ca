-- Partitioned logical indexes (docs/partitions.md): one registered name over several S3 Vectors
-- indexes. The name is registered in s3vl.index_registry with a logical identifier
-- ('s3vl:partitioned:<name>') in place of an index ARN, so every function that resolves an index
-- name (reads, writes, search, where, batch, sync, policies, grants, the cache) resolves it as
-- usual; s3vl._send_lambda, the one place that calls the function, turns a request for that
-- identifier into a request naming the partitions (docs/protocol.md, "Partitioned requests").
-- The function fans out, routes and merges.

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
  's3vl: nothing; registers index_name as a logical index spread over partitions (by key hash, '
  'or by the value of partition_key)';

-- The checks of add_partition before GetIndex: a partition value only for value partitions,
-- none added to hash partitions written through, no index twice, one partition per value, at
-- most the partitions limit.
CREATE OR REPLACE FUNCTION s3vl._check_new_partition(caller text,
  target s3vl.partitioned_indexes, index_arn text, partition_value text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM s3vl._check_index_arn(caller, 'index_arn', index_arn);
  IF target.partition_key IS NULL AND partition_value IS NOT NULL THEN
    RAISE EXCEPTION '%: "%" is hash-partitioned; its partitions take no partition_value', caller,
      target.index_name USING ERRCODE = '22023';
  END IF;
  IF partition_value IS NOT NULL AND pg_catalog.length(partition_value) = 0 THEN
    RAISE EXCEPTION '%: partition_value must not be empty (NULL adds the default partition)',
      caller USING ERRCODE = '22023';
  END IF;
  IF target.partition_key IS NULL AND target.vectors_written THEN
    RAISE EXCEPTION '%: the hash partitions of "%" are fixed: vectors were written through it',
      caller, target.index_name USING ERRCODE = '55000',
      HINT = 'Adding a partition would move keys to other partitions. Re-spread instead: create '
             'a new partitioned index with the partitions you want, copy the vectors into it '
             '(s3vl.scan_vectors + s3vl.put_vectors, or s3vl.track_table + s3vl.sync), then use '
             'the new name. See docs/partitions.md.';
  END IF;
  IF EXISTS (SELECT 1 FROM s3vl.index_partitions p
             WHERE p.index_name = target.index_name
               AND p.index_arn = _check_new_partition.index_arn) THEN
    RAISE EXCEPTION '%: index % is already a partition of "%"', caller, index_arn,
      target.index_name USING ERRCODE = '42710';
  END IF;
  IF target.partition_key IS NOT NULL AND EXISTS (
       SELECT 1 FROM s3vl.index_partitions p
       WHERE p.index_name = target.index_name
         AND p.partition_value IS NOT DISTINCT FROM _check_new_partition.partition_value) THEN
    RAISE EXCEPTION '%: "%" already has a % partition', caller, target.index_name,
      coalesce('"' || partition_value || '"', 'default') USING ERRCODE = '42710';
  END IF;
  IF (SELECT pg_catalog.count(*) FROM s3vl.index_partitions p
      WHERE p.index_name = target.index_name) >= s3vl._limit('partitions') THEN
    RAISE EXCEPTION '%: "%" has % partitions already, the most one logical index may have',
      caller, target.index_name, s3vl._limit('partitions') USING ERRCODE = '22023',
      HINT = 'See SELECT * FROM s3vl.limits().';
  END IF;
END
$$;

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
  PERFORM s3vl._check_new_partition(caller, target, index_arn, partition_value);
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
  's3vl: the ordinal of index_arn, added as a partition of index_name (same dimension and '
  'metric, checked with GetIndex)';

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
  's3vl: nothing; removes index_arn from the partitions of index_name (its vectors stay in that '
  'index)';

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
  's3vl: one row per partition of index_name: index ARN, partition value (NULL: default or '
  'hash), ordinal';
