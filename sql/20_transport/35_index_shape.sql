-- What s3vl knows of an index beyond its ARN: the GetIndex request and the shape (dimension,
-- metric, non-filterable keys) the registry holds or GetIndex answers. Used by the registry
-- functions, writes and the policy checks of writes, so it sits below all of them.

-- The GetIndex request (docs/protocol.md).
CREATE OR REPLACE FUNCTION s3vl._get_index_request(index_arn text)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.json_build_object('operation', 'get_index', 'index_arn', index_arn) $$;

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
