-- Partitioned logical indexes (docs/partitions.md): the identifier a partitioned name is
-- registered under in place of an index ARN ('s3vl:partitioned:<name>'), which _resolve_index
-- accepts, and the routing text of a partition key value (the function's rule, docs/protocol.md).

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

