-- The canonical form of an index ARN (issue 19 item 5). S3 Vectors (and the emulator) find an
-- index by its bucket and name, while policies, grants, cache settings and the registry compare
-- ARN text: an ARN naming a registered index's bucket and name under another partition, region or
-- account would reach that index without its rules. Every ARN a caller passes goes through here
-- (s3vl._resolve_index, and again in s3vl._policy_request before a policy is applied): the
-- registered ARN comes back unchanged, an unregistered bucket/name passes (the function's
-- allow-list and IAM decide), and another spelling of a registered index is refused.
CREATE OR REPLACE FUNCTION s3vl._canonical_index_arn(caller text, arn text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  wanted record;
  registered record;
BEGIN
  IF arn IS NULL OR EXISTS (SELECT 1 FROM s3vl.index_registry r WHERE r.index_arn = arn) THEN
    RETURN arn;
  END IF;
  wanted := s3vl._parse_index_arn(arn);
  SELECT r.index_name, r.index_arn INTO registered
    FROM s3vl.index_registry r
    WHERE (s3vl._parse_index_arn(r.index_arn)).bucket_name = wanted.bucket_name
      AND (s3vl._parse_index_arn(r.index_arn)).index_name = wanted.index_name
    ORDER BY r.is_active DESC, r.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%: index_arn % names bucket % index % in another partition, region or '
                    'account than the registered index "%"', caller, pg_catalog.left(arn, 200),
      wanted.bucket_name, wanted.index_name, registered.index_name
      USING ERRCODE = '22023',
            DETAIL = 'registered as ' || registered.index_arn,
            HINT = 'Use the registered name or its registered ARN (s3vl.list_indexes()).';
  END IF;
  RETURN arn;
END
$$;
