-- The index registry: friendly names for S3 Vectors index ARNs, with the dimension and distance
-- metric read from GetIndex at registration (so a wrong dimension fails in SQL, before a call).
-- Parameters follow the 1.0 convention (docs/sql-reference.md); the sample's positional calls
-- run as before. Functions returning index_name/index_arn columns and taking index_name/index_arn
-- arguments return a composite type (10_core/10_tables.sql): an OUT column cannot share an
-- argument's name.

CREATE OR REPLACE FUNCTION s3vl._check_registry_name(caller text, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  PERFORM s3vl._require(caller, 'index_name', name);
  PERFORM s3vl._check_range(caller, 'index_name_length', pg_catalog.length(name));
  IF name !~ '^[A-Za-z][A-Za-z0-9_.-]*$' THEN
    RAISE EXCEPTION '%: index_name must start with a letter and contain only letters, digits, '
                    '".", "_" and "-" (got %)', caller, pg_catalog.quote_literal(name)
      USING ERRCODE = '22023';
  END IF;
END
$$;

-- Policies and grants are enforced by the ARN they were made for: re-pointing a name that has
-- some at another ARN would leave them on the old ARN and its bound roles unbound on the new one.
CREATE OR REPLACE FUNCTION s3vl._check_repoint(caller text, index_name text, index_arn text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM s3vl.index_registry r WHERE r.index_name = _check_repoint.index_name
             AND r.index_arn <> _check_repoint.index_arn)
     AND (EXISTS (SELECT 1 FROM s3vl.index_policies p
                  WHERE p.index_name = _check_repoint.index_name)
          OR EXISTS (SELECT 1 FROM s3vl.index_grants g
                     WHERE g.index_name = _check_repoint.index_name))
  THEN
    RAISE EXCEPTION '%: index "%" has vector policies or index grants; re-pointing it at another '
                    'ARN would leave them on the old one', caller, index_name
      USING ERRCODE = '55006',
            HINT = 'Drop them first (SELECT * FROM s3vl.list_policies(); s3vl.drop_policy, '
                   's3vl.revoke_index) and create them again for the new ARN, or register the '
                   'new ARN under another name.';
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.register_index(
  index_name text,
  index_arn text,
  description text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  caller constant text := 's3vl.register_index';
  arn record;
  info jsonb;
BEGIN
  PERFORM s3vl._check_registry_name(caller, register_index.index_name);
  PERFORM s3vl._check_index_arn(caller, 'index_arn', register_index.index_arn);
  arn := s3vl._parse_index_arn(register_index.index_arn);
  PERFORM s3vl._check_repoint(caller, register_index.index_name, register_index.index_arn);
  info := s3vl._invoke(caller, s3vl._get_index_request(register_index.index_arn));
  IF jsonb_typeof(info -> 'dimension') IS DISTINCT FROM 'number' THEN
    RAISE EXCEPTION '%: GetIndex answered without a dimension for %', caller,
      register_index.index_arn USING ERRCODE = 'SV007';
  END IF;
  INSERT INTO s3vl.index_registry AS r (index_name, index_arn, description, bucket_name, region,
      account_id, partition, s3_index_name, dimension, distance_metric, is_active)
  VALUES (register_index.index_name, register_index.index_arn, register_index.description, arn.bucket_name, arn.region,
      arn.account_id, arn.partition, arn.index_name, (info ->> 'dimension')::integer,
      info ->> 'distance_metric', true)
  ON CONFLICT (index_name) DO UPDATE SET
    index_arn = EXCLUDED.index_arn,
    description = coalesce(EXCLUDED.description, r.description),
    bucket_name = EXCLUDED.bucket_name, region = EXCLUDED.region,
    account_id = EXCLUDED.account_id, partition = EXCLUDED.partition,
    s3_index_name = EXCLUDED.s3_index_name, dimension = EXCLUDED.dimension,
    distance_metric = EXCLUDED.distance_metric, is_active = true;
  RAISE NOTICE '%: index "%" registered (dimension %, %)', caller, register_index.index_name,
    info ->> 'dimension', info ->> 'distance_metric';
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.register_index(text,text,text) IS
  's3vl: true once index_name names index_arn (dimension and metric read from GetIndex)';

CREATE OR REPLACE FUNCTION s3vl.resolve_index_arn(index_name text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM s3vl._require('s3vl.resolve_index_arn', 'index_name', resolve_index_arn.index_name);
  RETURN (s3vl._resolve_index('s3vl.resolve_index_arn', resolve_index_arn.index_name,
                              NULL)).index_arn;
END
$$;
COMMENT ON FUNCTION s3vl.resolve_index_arn(text) IS
  's3vl: the index ARN a registered, active index_name stands for';

CREATE OR REPLACE FUNCTION s3vl.list_indexes()
RETURNS SETOF s3vl.index_entry
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.index_name, r.index_arn, r.description, r.bucket_name, r.region, r.account_id,
         r.created_at, r.updated_at, r.is_active, r.dimension, r.distance_metric,
         r.embedding_model
  FROM s3vl.index_registry r
  ORDER BY r.is_active DESC, r.index_name
$$;
COMMENT ON FUNCTION s3vl.list_indexes() IS 's3vl: one row per registered index';

CREATE OR REPLACE FUNCTION s3vl.get_index_info(index_name text)
RETURNS SETOF s3vl.index_entry
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.get_index_info', 'index_name', index_name);
  RETURN QUERY SELECT l.* FROM s3vl.list_indexes() l WHERE l.index_name = get_index_info.index_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.get_index_info: index "%" is not registered', left(index_name, 100)
      USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_indexes() lists registered names.';
  END IF;
END
$$;
COMMENT ON FUNCTION s3vl.get_index_info(text) IS 's3vl: the registry row of index_name';

-- Shared by activate/deactivate/unregister: 42704 when the name is not registered.
CREATE OR REPLACE FUNCTION s3vl._registry_not_found(caller text, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  RAISE EXCEPTION '%: index "%" is not registered', caller, pg_catalog.left(name, 100)
    USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_indexes() lists registered names.';
END
$$;

CREATE OR REPLACE FUNCTION s3vl.activate_index(index_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM s3vl._require('s3vl.activate_index', 'index_name', activate_index.index_name);
  UPDATE s3vl.index_registry SET is_active = true WHERE index_name = activate_index.index_name;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.activate_index', activate_index.index_name);
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.activate_index(text) IS 's3vl: true once index_name is active again';

CREATE OR REPLACE FUNCTION s3vl.deactivate_index(index_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM s3vl._require('s3vl.deactivate_index', 'index_name', deactivate_index.index_name);
  UPDATE s3vl.index_registry SET is_active = false WHERE index_name = deactivate_index.index_name;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.deactivate_index', deactivate_index.index_name);
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.deactivate_index(text) IS
  's3vl: true once index_name is deactivated (calls naming it fail with 42704)';

CREATE OR REPLACE FUNCTION s3vl.unregister_index(index_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM s3vl._require('s3vl.unregister_index', 'index_name', unregister_index.index_name);
  DELETE FROM s3vl.index_registry WHERE index_name = unregister_index.index_name;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.unregister_index', unregister_index.index_name);
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.unregister_index(text) IS
  's3vl: true once index_name is removed from the registry';

-- The live GetIndex answer for a registered name or an index ARN.
CREATE OR REPLACE FUNCTION s3vl.describe_index(index_name text DEFAULT NULL,
                                               index_arn text DEFAULT NULL)
RETURNS SETOF s3vl.index_description
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.describe_index';
  target record;
  info jsonb;
BEGIN
  target := s3vl._resolve_index(caller, describe_index.index_name, describe_index.index_arn);
  info := s3vl._invoke(caller, s3vl._get_index_request(target.index_arn));
  -- A partitioned index (30_api/68_partitions.sql): one row per partition, in ordinal order.
  RETURN QUERY SELECT
    i ->> 'index_name', coalesce(i ->> 'index_arn', target.index_arn),
    i ->> 'vector_bucket_name', (i ->> 'dimension')::integer, i ->> 'distance_metric',
    i ->> 'data_type',
    ARRAY(SELECT jsonb_array_elements_text(coalesce(i -> 'non_filterable_metadata_keys',
                                                    '[]'::jsonb))),
    nullif(i ->> 'creation_time', '')::timestamptz, i ->> 'index_mode',
    coalesce(i -> 'text_search', '[]'::jsonb),
    (SELECT r.embedding_model FROM s3vl.index_registry r WHERE r.index_arn = target.index_arn
     ORDER BY r.index_name = describe_index.index_name DESC, r.is_active DESC, r.id LIMIT 1)
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(info -> 'partitions') = 'array'
                                 THEN info -> 'partitions' ELSE jsonb_build_array(info) END)
       WITH ORDINALITY AS p(i, n)
  ORDER BY p.n;
END
$$;
COMMENT ON FUNCTION s3vl.describe_index(text,text) IS
  's3vl: the live GetIndex answer (shape, mode, text search keys): one row, one per partition';
