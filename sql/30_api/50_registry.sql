-- The index registry: friendly names for S3 Vectors index ARNs, with the dimension and distance
-- metric read from GetIndex at registration (so a wrong dimension fails in SQL, before a call).
-- Parameter names (index_name_param, ...) are the reference sample's, so its statements run as-is.

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

CREATE OR REPLACE FUNCTION s3vl.register_index(
  index_name_param text,
  index_arn_param text,
  description_param text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.register_index';
  arn record;
  info jsonb;
BEGIN
  PERFORM s3vl._check_registry_name(caller, index_name_param);
  PERFORM s3vl._check_index_arn(caller, 'index_arn', index_arn_param);
  arn := s3vl._parse_index_arn(index_arn_param);
  -- Policies and grants are enforced by the ARN they were made for: re-pointing the name would
  -- leave them on the old ARN and its bound roles unbound on the new one.
  IF EXISTS (SELECT 1 FROM s3vl.index_registry r WHERE r.index_name = index_name_param
             AND r.index_arn <> index_arn_param)
     AND (EXISTS (SELECT 1 FROM s3vl.index_policies p WHERE p.index_name = index_name_param)
          OR EXISTS (SELECT 1 FROM s3vl.index_grants g WHERE g.index_name = index_name_param))
  THEN
    RAISE EXCEPTION '%: index "%" has vector policies or index grants; re-pointing it at another '
                    'ARN would leave them on the old one', caller, index_name_param
      USING ERRCODE = '55006',
            HINT = 'Drop them first (SELECT * FROM s3vl.list_policies(); s3vl.drop_policy, '
                   's3vl.revoke_index) and create them again for the new ARN, or register the '
                   'new ARN under another name.';
  END IF;
  info := s3vl._invoke(caller, s3vl._get_index_request(index_arn_param));
  IF jsonb_typeof(info -> 'dimension') IS DISTINCT FROM 'number' THEN
    RAISE EXCEPTION '%: GetIndex answered without a dimension for %', caller, index_arn_param
      USING ERRCODE = 'SV007';
  END IF;
  INSERT INTO s3vl.index_registry AS r (index_name, index_arn, description, bucket_name, region,
      account_id, partition, s3_index_name, dimension, distance_metric, is_active)
  VALUES (index_name_param, index_arn_param, description_param, arn.bucket_name, arn.region,
      arn.account_id, arn.partition, arn.index_name, (info ->> 'dimension')::integer,
      info ->> 'distance_metric', true)
  ON CONFLICT (index_name) DO UPDATE SET
    index_arn = EXCLUDED.index_arn,
    description = coalesce(EXCLUDED.description, r.description),
    bucket_name = EXCLUDED.bucket_name, region = EXCLUDED.region,
    account_id = EXCLUDED.account_id, partition = EXCLUDED.partition,
    s3_index_name = EXCLUDED.s3_index_name, dimension = EXCLUDED.dimension,
    distance_metric = EXCLUDED.distance_metric, is_active = true;
  RAISE NOTICE '%: index "%" registered (dimension %, %)', caller, index_name_param,
    info ->> 'dimension', info ->> 'distance_metric';
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.resolve_index_arn(index_name_param text)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.resolve_index_arn', 'index_name', index_name_param);
  RETURN (s3vl._resolve_index('s3vl.resolve_index_arn', index_name_param, NULL)).index_arn;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.list_indexes()
RETURNS TABLE (index_name text, index_arn text, description text, bucket_name text,
               region text, account_id text, created_at timestamptz, updated_at timestamptz,
               is_active boolean, dimension integer, distance_metric text,
               embedding_model text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r.index_name, r.index_arn, r.description, r.bucket_name, r.region, r.account_id,
         r.created_at, r.updated_at, r.is_active, r.dimension, r.distance_metric,
         r.embedding_model
  FROM s3vl.index_registry r
  ORDER BY r.is_active DESC, r.index_name
$$;

CREATE OR REPLACE FUNCTION s3vl.get_index_info(index_name_param text)
RETURNS TABLE (index_name text, index_arn text, description text, bucket_name text,
               region text, account_id text, created_at timestamptz, updated_at timestamptz,
               is_active boolean, dimension integer, distance_metric text,
               embedding_model text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.get_index_info', 'index_name', index_name_param);
  RETURN QUERY SELECT l.* FROM s3vl.list_indexes() l WHERE l.index_name = index_name_param;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.get_index_info: index "%" is not registered', left(index_name_param, 100)
      USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_indexes() lists registered names.';
  END IF;
END
$$;

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

CREATE OR REPLACE FUNCTION s3vl.activate_index(index_name_param text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.activate_index', 'index_name', index_name_param);
  UPDATE s3vl.index_registry SET is_active = true WHERE index_name = index_name_param;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.activate_index', index_name_param);
  END IF;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.deactivate_index(index_name_param text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.deactivate_index', 'index_name', index_name_param);
  UPDATE s3vl.index_registry SET is_active = false WHERE index_name = index_name_param;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.deactivate_index', index_name_param);
  END IF;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.unregister_index(index_name_param text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.unregister_index', 'index_name', index_name_param);
  DELETE FROM s3vl.index_registry WHERE index_name = index_name_param;
  IF NOT FOUND THEN
    PERFORM s3vl._registry_not_found('s3vl.unregister_index', index_name_param);
  END IF;
  RETURN true;
END
$$;

-- The live GetIndex answer for a registered name or an index ARN.
CREATE OR REPLACE FUNCTION s3vl.describe_index(index_name_param text DEFAULT NULL,
                                               index_arn_param text DEFAULT NULL)
RETURNS TABLE (index_name text, index_arn text, vector_bucket_name text, dimension integer,
               distance_metric text, data_type text, non_filterable_metadata_keys text[],
               creation_time timestamptz, index_mode text, text_search jsonb,
               embedding_model text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.describe_index';
  target record;
  info jsonb;
BEGIN
  target := s3vl._resolve_index(caller, index_name_param, index_arn_param);
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
     ORDER BY r.index_name = index_name_param DESC, r.is_active DESC, r.id LIMIT 1)
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(info -> 'partitions') = 'array'
                                 THEN info -> 'partitions' ELSE jsonb_build_array(info) END)
       WITH ORDINALITY AS p(i, n)
  ORDER BY p.n;
END
$$;
