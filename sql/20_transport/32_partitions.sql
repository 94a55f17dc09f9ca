-- Partitioned logical indexes (docs/partitions.md): the request rewrite s3vl._send_lambda runs
-- on every request, turning a partitioned name's identifier into the list of its partitions
-- (docs/protocol.md, "Partitioned requests"), pruned by the caller's policy on the partition key.

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

-- The partitions of a logical index a request names, in ordinal order: all of them, or (allowed
-- not NULL: the values a bound caller's policy allows) those with an allowed value, and the
-- default partition when an allowed value has no partition of its own.
CREATE OR REPLACE FUNCTION s3vl._partition_list(index_name text, allowed text[])
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'index_arn', ip.index_arn, 'ordinal', ip.ordinal, 'value', ip.partition_value)
           ORDER BY ip.ordinal), '[]'::jsonb)
    FROM s3vl.index_partitions ip
    WHERE ip.index_name = _partition_list.index_name
      AND (allowed IS NULL
           OR ip.partition_value = ANY (allowed)
           OR (ip.partition_value IS NULL AND EXISTS (
                 SELECT 1 FROM pg_catalog.unnest(allowed) a
                 WHERE NOT EXISTS (SELECT 1 FROM s3vl.index_partitions o
                                   WHERE o.index_name = _partition_list.index_name
                                     AND o.partition_value = a))))
$$;

-- What a request naming the partitioned identifier `logical` carries instead of its index_arn
-- (docs/protocol.md): {"partitions": [...], "partition_key": ...}; NULL when `logical` is not a
-- partitioned identifier. `bound` (s3vl._call_lambda, after the policy step): a caller bound by a
-- policy on the partition key gets only the partitions its values route to, so the function
-- never even learns the other partitions' ARNs. A put marks hash partitions as fixed. caller
-- only names the function in messages.
CREATE OR REPLACE FUNCTION s3vl._partition_fields(caller text, logical text, operation text,
  bound boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  pi record;
  allowed text[];
BEGIN
  IF NOT s3vl._is_partitioned_id(logical) THEN
    RETURN NULL;
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
  IF bound AND pi.partition_key IS NOT NULL
     AND EXISTS (SELECT 1 FROM s3vl.index_policies ip WHERE ip.index_arn = logical) THEN
    allowed := s3vl._policy_partition_values(s3vl._policy_filter(caller, logical),
                                             pi.partition_key);
  END IF;
  IF operation = 'put_vectors' AND NOT pi.vectors_written THEN
    UPDATE s3vl.partitioned_indexes SET vectors_written = true
      WHERE index_name = pi.index_name;
  END IF;
  RETURN pg_catalog.jsonb_build_object('partitions', s3vl._partition_list(pi.index_name, allowed),
                                       'partition_key', pi.partition_key);
END
$$;

-- A request whose index_arn is a partitioned identifier, with `partitions` + `partition_key`
-- (_partition_fields) in its place. s3vl._send_lambda expands what is left unbound: sync's
-- requests (80_sync.sql: not bound by its caller) and the policy checks' own reads of stored
-- vectors (which must see every partition, as they would see the whole of one index).
DROP FUNCTION IF EXISTS s3vl._partition_request(text, json);
CREATE OR REPLACE FUNCTION s3vl._partition_request(caller text, request json, bound boolean)
RETURNS json
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  fields jsonb;
BEGIN
  -- The common case costs one substring search over the request text.
  IF pg_catalog.strpos(request::text, 's3vl:partitioned:') = 0 THEN
    RETURN request;
  END IF;
  -- json, not jsonb: a put's vectors stay text (jsonb would turn every float into numeric and
  -- back). A bulk put that must not pay even for reading the request builds it with
  -- _partition_fields itself (s3vl._sync_put).
  fields := s3vl._partition_fields(caller, request ->> 'index_arn', request ->> 'operation',
                                   bound);
  IF fields IS NULL THEN
    RETURN request;
  END IF;
  RETURN ('{' || coalesce((SELECT pg_catalog.string_agg(pg_catalog.to_json(e.key)::text
                                                         || ':' || e.value::text || ',', '')
                           FROM pg_catalog.json_each(request) e
                           WHERE e.key NOT IN ('index_arn', 'partitions', 'partition_key')), '')
          || '"partitions":' || (fields -> 'partitions')::text
          || ',"partition_key":' || (fields -> 'partition_key')::text || '}')::json;
END
$$;

