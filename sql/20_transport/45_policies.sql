-- Tenant boundaries for vectors (row-level-security-style policies) and index grants.
--
-- Enforcement lives in ONE place: s3vl._call_lambda (20_transport/30_invoke.sql), the chokepoint every read,
-- search, write and sync passes through, runs s3vl._policy_request (what may be sent) before and
-- s3vl._policy_answer (what may come back) after every invocation. A caller bound by a policy
-- gets the policy's filter ANDed to every query's metadata_filter, sees only matching vectors
-- from get/list, may write only matching metadata over keys that are absent or already match,
-- and may delete only matching vectors. s3vl.sync is not bound by its caller (it sends what a
-- tracked table holds, checked against the tracker's privileges at every run) through its own
-- path, s3vl._sync_invoke, which only the owner may execute. The result cache keys a bound caller's query by the
-- filter actually sent (policy ANDed in, settings resolved: s3vl._policy_cache_filter), so no
-- answer crosses tenants.
--
-- Who is bound: the session's login role (session_user) and the current role (read as
-- s3vl._invoker() reads it, the trusted source sync's tracked_by uses: definer functions cannot
-- SET ROLE and a session can SET ROLE only to its own roles), each with every role it is a
-- member of, at any depth. A superuser and the s3vl owner are bound by nothing (as with
-- BYPASSRLS); a superuser session that SET ROLE to an ordinary role is that role. Several policies binding one caller on one
-- index all apply (AND). Policies and grants name roles by OID (regrole): renaming a role keeps
-- them, and pg_dump writes the name.

-- The tables (index_policies, index_grants) are in 10_core/10_tables.sql.

-- The roles whose memberships decide what this call may do (see the header); empty for a
-- superuser or the s3vl owner. The current role is read as s3vl._invoker() (40_sync/80_sync.sql) reads
-- it, inlined here: that function's SET clause costs ~60 us a call, on every invocation.
CREATE OR REPLACE FUNCTION s3vl._policy_roles()
RETURNS oid[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  current_name constant name := NULLIF(pg_catalog.current_setting('role'), 'none');
BEGIN
  -- SET ROLE keeps a name: renamed or dropped since, it no longer says who the caller is.
  IF current_name IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = current_name) THEN
    RAISE EXCEPTION 's3vl: the current role % no longer exists under that name; SET ROLE again',
      current_name USING ERRCODE = '42501';
  END IF;
  RETURN ARRAY(
    SELECT r.oid FROM pg_catalog.pg_roles r
    WHERE r.rolname IN (session_user, coalesce(current_name, session_user)) AND NOT r.rolsuper
      AND r.oid <> (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = 's3vl')
    ORDER BY r.rolname = session_user DESC);
END
$$;

-- A policy value is a scalar, or {"$setting": "<name>"} read with current_setting at call time.
CREATE OR REPLACE FUNCTION s3vl._check_policy_value(caller text, path text, value jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF pg_catalog.jsonb_typeof(value) = 'number' THEN
    -- S3 Vectors compares numbers as 64-bit floats, get_vectors' check compares exact JSON
    -- numbers: a value the float cannot hold exactly (beyond 15 significant digits, e.g. above
    -- 2^53) would match other vectors on one path than on the other.
    BEGIN
      IF (value::text::numeric) = (value::text::float8)::numeric THEN
        RETURN;
      END IF;
    EXCEPTION WHEN numeric_value_out_of_range THEN
      NULL;
    END;
    RAISE EXCEPTION '%: filter % is the number %, which a 64-bit float does not hold exactly; '
                    'S3 Vectors would compare it differently from s3vl', caller, path,
      pg_catalog.left(value::text, 100)
      USING ERRCODE = '22023',
            HINT = 'Use at most 15 significant digits, or a string value.';
  END IF;
  IF pg_catalog.jsonb_typeof(value) IN ('string', 'boolean') THEN
    RETURN;
  END IF;
  IF pg_catalog.jsonb_typeof(value) = 'object' AND (SELECT pg_catalog.array_agg(k)
       FROM pg_catalog.jsonb_object_keys(value) k) = ARRAY['$setting']
     AND pg_catalog.jsonb_typeof(value -> '$setting') = 'string'
     AND value ->> '$setting' ~ '^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z0-9_.$]+$' THEN
    RETURN;
  END IF;
  RAISE EXCEPTION '%: metadata_filter % must be a string, number or boolean, or {"$setting": '
                  '"<prefix>.<name>"} (got %)', caller, path, pg_catalog.left(value::text, 100)
    USING ERRCODE = '22023';
END
$$;

-- A policy filter: {"key": value | {"$eq": value} | {"$in": [value, ...]}, ...}, 1-50 keys.
CREATE OR REPLACE FUNCTION s3vl._check_policy_filter(caller text, filter jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  k text;
  spec jsonb;
  op text;
BEGIN
  IF filter IS NULL OR pg_catalog.jsonb_typeof(filter) <> 'object' OR filter = '{}' THEN
    RAISE EXCEPTION '%: metadata_filter must be a non-empty JSON object of metadata keys', caller
      USING ERRCODE = '22023', HINT = 'For example ''{"tenant": {"$setting": "app.tenant_id"}}''.';
  END IF;
  IF (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(filter))
     > s3vl._limit('metadata_keys') THEN
    RAISE EXCEPTION '%: metadata_filter has more than % keys', caller, s3vl._limit('metadata_keys')
      USING ERRCODE = '22023';
  END IF;
  FOR k, spec IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(filter) e LOOP
    IF k LIKE '$%' OR pg_catalog.length(k) NOT BETWEEN 1 AND 63 THEN
      RAISE EXCEPTION '%: metadata_filter key % must be a metadata key of 1 to 63 characters (only '
                      'equality and $in on keys are allowed, no $and/$or/$not)', caller,
        pg_catalog.to_jsonb(k) USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.jsonb_typeof(spec) = 'object' AND NOT spec ? '$setting' THEN
      IF (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(spec)) <> 1 THEN
        RAISE EXCEPTION '%: metadata_filter.% must have exactly one operator ($eq or $in)', caller, k
          USING ERRCODE = '22023';
      END IF;
      op := (SELECT o FROM pg_catalog.jsonb_object_keys(spec) o);
      IF op = '$eq' THEN
        PERFORM s3vl._check_policy_value(caller, k || '.$eq', spec -> '$eq');
      ELSIF op = '$in' THEN
        IF pg_catalog.jsonb_typeof(spec -> '$in') <> 'array'
           OR pg_catalog.jsonb_array_length(spec -> '$in') = 0 THEN
          RAISE EXCEPTION '%: metadata_filter.%.$in must be a non-empty array', caller, k
            USING ERRCODE = '22023';
        END IF;
        FOR i IN 0 .. pg_catalog.jsonb_array_length(spec -> '$in') - 1 LOOP
          PERFORM s3vl._check_policy_value(caller, pg_catalog.format('%s.$in[%s]', k, i),
                                           spec -> '$in' -> i);
        END LOOP;
      ELSE
        RAISE EXCEPTION '%: metadata_filter.% uses operator %; a policy allows only $eq and $in', caller,
          k, op USING ERRCODE = '22023';
      END IF;
    ELSE
      PERFORM s3vl._check_policy_value(caller, k, spec);
    END IF;
  END LOOP;
END
$$;

-- A policy value with its setting read now; a missing or empty setting refuses the call.
CREATE OR REPLACE FUNCTION s3vl._policy_value(caller text, index_name text, role_name text,
                                              value jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  setting text;
BEGIN
  IF pg_catalog.jsonb_typeof(value) <> 'object' THEN
    RETURN value;
  END IF;
  setting := pg_catalog.current_setting(value ->> '$setting', true);
  IF setting IS NULL OR pg_catalog.btrim(setting) = '' THEN
    RAISE EXCEPTION '%: the policy of role % on index % needs the setting % and it is not set',
      caller, role_name, index_name, value ->> '$setting'
      USING ERRCODE = '42501',
            HINT = pg_catalog.format('SET %s = ''<value>'' in the session first.',
                                     value ->> '$setting');
  END IF;
  RETURN pg_catalog.to_jsonb(setting);
END
$$;

-- The filter every policy binding this caller on index_arn imposes, settings resolved, in the
-- S3 Vectors filter language ({"$and": [...]}); NULL when no policy binds the caller. Also
-- refuses (42501) a caller without a grant on an index that has grants.
CREATE OR REPLACE FUNCTION s3vl._policy_filter(caller text, index_arn text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN s3vl._policy_filter_for(caller, index_arn, s3vl._policy_roles());
END
$$;

-- The same for the roles _policy_roles() gave (computed once per request by the caller).
CREATE OR REPLACE FUNCTION s3vl._policy_filter_for(caller text, index_arn text, roles oid[])
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  parts jsonb := '[]'::jsonb;
  p record;
  k text;
  spec jsonb;
BEGIN
  IF index_arn IS NULL THEN
    RETURN NULL;
  END IF;
  IF pg_catalog.cardinality(roles) = 0 THEN
    RETURN NULL;  -- a superuser or the s3vl owner
  END IF;
  IF EXISTS (SELECT 1 FROM s3vl.index_grants g WHERE g.index_arn = _policy_filter_for.index_arn)
     AND NOT EXISTS (
       SELECT 1 FROM pg_catalog.unnest(roles) r
       WHERE pg_catalog.pg_has_role(r, 's3vl_admin', 'MEMBER')
          OR EXISTS (SELECT 1 FROM s3vl.index_grants g
                     WHERE g.index_arn = _policy_filter_for.index_arn
                       AND pg_catalog.pg_has_role(r, g.role_name::oid, 'MEMBER'))) THEN
    RAISE EXCEPTION '%: role % has no grant on index %', caller,
      roles[pg_catalog.cardinality(roles)]::regrole, pg_catalog.left(index_arn, 200)
      USING ERRCODE = '42501', HINT = 'An s3vl_admin runs s3vl.grant_index(<index>, <role>).';
  END IF;
  FOR p IN SELECT ip.index_name, ip.role_name::text AS role_name, ip.filter
           FROM s3vl.index_policies ip
           WHERE ip.index_arn = _policy_filter_for.index_arn
             AND EXISTS (SELECT 1 FROM pg_catalog.unnest(roles) r
                         WHERE pg_catalog.pg_has_role(r, ip.role_name::oid, 'MEMBER'))
           ORDER BY ip.index_name, ip.role_name LOOP
    FOR k, spec IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p.filter) e LOOP
      IF pg_catalog.jsonb_typeof(spec) = 'object' AND spec ? '$in' THEN
        parts := parts || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(k,
          pg_catalog.jsonb_build_object('$in', (
            SELECT pg_catalog.jsonb_agg(s3vl._policy_value(caller, p.index_name, p.role_name, v))
            FROM pg_catalog.jsonb_array_elements(spec -> '$in') v))));
      ELSE
        parts := parts || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(k,
          pg_catalog.jsonb_build_object('$eq', s3vl._policy_value(caller, p.index_name,
            p.role_name, CASE WHEN pg_catalog.jsonb_typeof(spec) = 'object' AND spec ? '$eq'
                              THEN spec -> '$eq' ELSE spec END))));
      END IF;
    END LOOP;
  END LOOP;
  IF parts = '[]' THEN
    RETURN NULL;
  END IF;
  RETURN pg_catalog.jsonb_build_object('$and', parts);
END
$$;

-- A caller's metadata_filter with a resolved policy ANDed in: what a bound caller's query sends.
CREATE OR REPLACE FUNCTION s3vl._policy_and(policy jsonb, metadata_filter jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN policy IS NULL THEN metadata_filter
              WHEN metadata_filter IS NULL OR metadata_filter = 'null' THEN policy
              ELSE pg_catalog.jsonb_build_object('$and',
                     pg_catalog.jsonb_build_array(policy, metadata_filter)) END
$$;

-- The filter a cached query is keyed by (20_transport/52_cache.sql): the one _policy_request will send, so a
-- cached answer is only ever the answer to the very request this caller would send.
CREATE OR REPLACE FUNCTION s3vl._policy_cache_filter(caller text, index_arn text,
  metadata_filter jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM s3vl.index_policies)
     AND NOT EXISTS (SELECT 1 FROM s3vl.index_grants) THEN
    RETURN metadata_filter;
  END IF;
  RETURN s3vl._policy_and(s3vl._policy_filter(caller, index_arn),
                          metadata_filter);
END
$$;

-- Whether stored metadata satisfies a resolved policy filter ({"$and": [{"k": {"$eq"|"$in": ..}}]}).
-- An array value matches when one of its elements does, as S3 Vectors' $eq does.
CREATE OR REPLACE FUNCTION s3vl._policy_matches(metadata jsonb, policy jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  part jsonb;
  k text;
  cond jsonb;
  have jsonb;
  want jsonb;
  ok boolean;
BEGIN
  FOR part IN SELECT pg_catalog.jsonb_array_elements(policy -> '$and') LOOP
    FOR k, cond IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(part) e LOOP
      have := metadata -> k;
      IF have IS NULL THEN
        RETURN false;
      END IF;
      ok := false;
      FOR want IN SELECT pg_catalog.jsonb_array_elements(CASE WHEN cond ? '$in'
                    THEN cond -> '$in' ELSE pg_catalog.jsonb_build_array(cond -> '$eq') END) LOOP
        IF have = want OR (pg_catalog.jsonb_typeof(have) = 'array'
                           AND have @> pg_catalog.jsonb_build_array(want)) THEN
          ok := true;
          EXIT;
        END IF;
      END LOOP;
      IF NOT ok THEN
        RETURN false;
      END IF;
    END LOOP;
  END LOOP;
  RETURN true;
END
$$;

-- Whether a bound caller may write this metadata: every policy key holds a single value the
-- policy names. Stricter than _policy_matches: an array value ({"tenant": ["a", "b"]}) would match
-- several tenants' filters and put a vector into another tenant's view.
CREATE OR REPLACE FUNCTION s3vl._policy_admits(metadata jsonb, policy jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  part jsonb;
  k text;
  cond jsonb;
  have jsonb;
BEGIN
  FOR part IN SELECT pg_catalog.jsonb_array_elements(policy -> '$and') LOOP
    FOR k, cond IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(part) e LOOP
      have := metadata -> k;
      -- A scalar is contained in an array holding it (1 and 1.0 are equal numbers).
      IF have IS NULL OR pg_catalog.jsonb_typeof(have) IN ('array', 'object')
         OR NOT have <@ (CASE WHEN cond ? '$in' THEN cond -> '$in'
                              ELSE pg_catalog.jsonb_build_array(cond -> '$eq') END) THEN
        RETURN false;
      END IF;
    END LOOP;
  END LOOP;
  RETURN true;
END
$$;

-- The first of keys stored in the index whose metadata the policy does not match, or NULL. Reads
-- straight from the function (s3vl._send_lambda): the answer must not be filtered by the policy.
-- 100 keys per invocation: with at most 40 KB of metadata each, an answer stays under Lambda's
-- 6 MB response limit.
CREATE OR REPLACE FUNCTION s3vl._policy_stored_outside(caller text, index_arn text, keys jsonb,
                                                       policy jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  chunk jsonb;
  stored jsonb;
  bad text;
BEGIN
  IF pg_catalog.jsonb_typeof(keys) IS DISTINCT FROM 'array' THEN
    RETURN NULL;
  END IF;
  FOR chunk IN SELECT pg_catalog.jsonb_agg(k.value ORDER BY k.n)
               FROM pg_catalog.jsonb_array_elements(keys) WITH ORDINALITY AS k(value, n)
               GROUP BY (k.n - 1) / 100 ORDER BY (k.n - 1) / 100 LOOP
    stored := s3vl._expect_array(caller, s3vl._unwrap(caller, (SELECT c.payload
      FROM s3vl._send_lambda(caller, pg_catalog.json_build_object('operation', 'get_vectors',
        'index_arn', index_arn, 'vector_ids', chunk, 'include_vector_data', false,
        'include_metadata', true), 'RequestResponse') AS c)), 'vectors');
    SELECT v ->> 'vector_id' INTO bad FROM pg_catalog.jsonb_array_elements(stored) v
      WHERE coalesce((v ->> 'found')::boolean, true)
        AND NOT s3vl._policy_matches(coalesce(v -> 'metadata', '{}'), policy)
      LIMIT 1;
    IF bad IS NOT NULL THEN
      RETURN bad;
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

-- A write of a caller bound by `policy`: every vector it puts must carry metadata inside the
-- policy and replace only a stored vector inside it; a metadata patch may not touch a key the
-- policy binds; a patch or a delete reaches only vectors inside it (42501, nothing written).
CREATE OR REPLACE FUNCTION s3vl._policy_check_write(caller text, req jsonb, policy jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  bad text;
BEGIN
  IF req ->> 'operation' = 'put_vectors' THEN
    SELECT v ->> 'key' INTO bad FROM pg_catalog.jsonb_array_elements(req -> 'vectors') v
      WHERE NOT s3vl._policy_admits(coalesce(v -> 'metadata', '{}'), policy) LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: vector % has metadata outside this role''s policy; nothing was written',
        caller, pg_catalog.to_jsonb(bad) USING ERRCODE = '42501',
        DETAIL = 'policy: ' || policy::text;
    END IF;
    -- A put replaces a stored vector of the same key: that one must be inside the policy too.
    bad := s3vl._policy_stored_outside(caller, req ->> 'index_arn',
      (SELECT pg_catalog.jsonb_agg(v -> 'key') FROM pg_catalog.jsonb_array_elements(
         req -> 'vectors') v), policy);
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION '%: vector % exists outside this role''s policy; nothing was written',
        caller, pg_catalog.to_jsonb(bad) USING ERRCODE = '42501';
    END IF;
  ELSIF req ->> 'operation' = 'update_metadata' THEN
    -- The patch may not touch a key the policy binds, and every vector must be inside it.
    SELECT k INTO bad FROM pg_catalog.jsonb_object_keys(req -> 'patch') k
      WHERE k IN (SELECT pg_catalog.jsonb_object_keys(part)
                  FROM pg_catalog.jsonb_array_elements(policy -> '$and') part)
      LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%: the patch changes key %, which this role''s policy binds; nothing was '
                      'written', caller, pg_catalog.to_jsonb(bad) USING ERRCODE = '42501';
    END IF;
    bad := s3vl._policy_stored_outside(caller, req ->> 'index_arn', req -> 'vector_ids', policy);
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION '%: vector % is outside this role''s policy; nothing was written', caller,
        pg_catalog.to_jsonb(bad) USING ERRCODE = '42501';
    END IF;
  ELSE
    bad := s3vl._policy_stored_outside(caller, req ->> 'index_arn', req -> 'keys', policy);
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION '%: vector % is outside this role''s policy; nothing was deleted', caller,
        pg_catalog.to_jsonb(bad) USING ERRCODE = '42501';
    END IF;
  END IF;
END
$$;

-- What may be sent: the request, with the caller's policy applied (see the header). Operations
-- it does not know are refused for a bound caller (fail closed).
CREATE OR REPLACE FUNCTION s3vl._policy_request(caller text, request json)
RETURNS json
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  req jsonb;
  policy jsonb;
  op text;
  roles oid[];
BEGIN
  -- No policy and no grant anywhere (the default): nothing to parse.
  IF NOT EXISTS (SELECT 1 FROM s3vl.index_policies)
     AND NOT EXISTS (SELECT 1 FROM s3vl.index_grants) THEN
    RETURN request;
  END IF;
  -- A superuser or the owner: no rules, and no parse of a large write. caller only names the
  -- function in messages: no text an argument carries decides whether a policy applies (sync
  -- sends through s3vl._sync_invoke, which no reader or writer may execute).
  roles := s3vl._policy_roles();
  IF pg_catalog.cardinality(roles) = 0 THEN
    RETURN request;
  END IF;
  req := request::jsonb;
  op := req ->> 'operation';
  -- Policies and grants name indexes by ARN; s3vl never sends the bucket+name form.
  IF req ->> 'index_arn' IS NULL AND req ? 'vector_bucket_name' THEN
    RAISE EXCEPTION '%: with vector policies or index grants defined, requests must name the '
                    'index by index_arn', caller USING ERRCODE = '42501';
  END IF;
  -- Rules are stored by the registered ARN: another spelling of that index is refused first.
  PERFORM s3vl._canonical_index_arn(caller, req ->> 'index_arn');
  policy := s3vl._policy_filter_for(caller, req ->> 'index_arn', roles);
  IF policy IS NULL THEN
    RETURN request;
  END IF;
  -- filter_vectors (30_api/70_manage.sql) counts, lists and deletes only what its filter matches;
  -- rank_vectors (30_api/58_where.sql) ranks only what it matches.
  IF op IN ('query_vectors', 'query_vectors_batch', 'filter_vectors', 'rank_vectors') THEN
    RETURN (req || pg_catalog.jsonb_build_object('metadata_filter',
                     s3vl._policy_and(policy, req -> 'metadata_filter')))::json;
  ELSIF op = 'get_vectors' THEN
    RETURN (req || '{"include_metadata": true}')::json;
  ELSIF op = 'list_vectors' THEN
    RETURN (req || '{"return_metadata": true}')::json;
  ELSIF op IN ('put_vectors', 'delete_vectors', 'update_metadata') THEN
    PERFORM s3vl._policy_check_write(caller, req, policy);
    RETURN request;
  ELSIF op IN ('get_index', 'embed') THEN
    RETURN request;  -- the index's shape, or text made into vectors: no stored vectors
  END IF;
  RAISE EXCEPTION '%: operation % is not allowed for a role bound by a vector policy', caller,
    pg_catalog.to_jsonb(op) USING ERRCODE = '42501';
END
$$;

-- The result of a get/list answer as a caller bound by `policy` may see it: get_vectors rows
-- outside the policy become not found, list pages keep only the vectors inside it; metadata only
-- where the request asked for it (the policy needed it to decide).
CREATE OR REPLACE FUNCTION s3vl._policy_visible(op text, request json, answer jsonb,
  policy jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  want_metadata boolean;
  kept jsonb;
BEGIN
  IF op = 'get_vectors' THEN
    IF pg_catalog.jsonb_typeof(answer) IS DISTINCT FROM 'array' THEN
      RETURN answer;  -- _expect_array reports it
    END IF;
    want_metadata := coalesce((request ->> 'include_metadata')::boolean, true);
    RETURN (
      SELECT coalesce(pg_catalog.jsonb_agg(CASE
        WHEN NOT coalesce((v ->> 'found')::boolean, true) THEN v
        WHEN NOT s3vl._policy_matches(coalesce(v -> 'metadata', '{}'), policy)
          THEN pg_catalog.jsonb_build_object('vector_id', v -> 'vector_id', 'embedding', NULL,
                                             'metadata', '{}'::jsonb, 'found', false)
        WHEN want_metadata THEN v
        ELSE v || '{"metadata": {}}' END ORDER BY n), '[]')
      FROM pg_catalog.jsonb_array_elements(answer) WITH ORDINALITY AS a(v, n));
  END IF;
  IF pg_catalog.jsonb_typeof(answer -> 'vectors') IS DISTINCT FROM 'array' THEN
    RETURN answer;
  END IF;
  want_metadata := coalesce((request ->> 'return_metadata')::boolean, true);
  SELECT coalesce(pg_catalog.jsonb_agg(CASE WHEN want_metadata THEN v
                                            ELSE v - 'metadata' END ORDER BY n), '[]')
    INTO kept
    FROM pg_catalog.jsonb_array_elements(answer -> 'vectors') WITH ORDINALITY AS a(v, n)
    WHERE s3vl._policy_matches(coalesce(v -> 'metadata', '{}'), policy);
  RETURN answer || pg_catalog.jsonb_build_object('vectors', kept,
                                                 'total_count', pg_catalog.jsonb_array_length(kept));
END
$$;

-- What may come back: the envelope of a get/list answer without the vectors the caller's policy
-- hides (a hidden key reads as not found; a list page counts only what it returns) and without
-- metadata the caller did not ask for. request is the caller's, before _policy_request.
CREATE OR REPLACE FUNCTION s3vl._policy_answer(caller text, request json, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  op text;
  policy jsonb;
  answer jsonb;
  roles oid[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM s3vl.index_policies) OR payload IS NULL
     OR payload -> 'success' IS DISTINCT FROM 'true'::jsonb THEN
    RETURN payload;
  END IF;
  -- Only arrays (get answers; query answers, filtered by the service) and objects with vectors
  -- (list pages; paged queries) can carry vectors: writes' counts are passed without parsing
  -- their (large) requests.
  answer := payload -> 'result';
  IF pg_catalog.jsonb_typeof(answer) IS DISTINCT FROM 'array' AND NOT (
       pg_catalog.jsonb_typeof(answer) = 'object' AND answer ? 'vectors') THEN
    RETURN payload;
  END IF;
  op := request ->> 'operation';
  IF op IS NULL OR op NOT IN ('get_vectors', 'list_vectors') THEN
    RETURN payload;
  END IF;
  roles := s3vl._policy_roles();
  IF pg_catalog.cardinality(roles) = 0 THEN
    RETURN payload;
  END IF;
  policy := s3vl._policy_filter_for(caller, request ->> 'index_arn', roles);
  IF policy IS NULL THEN
    RETURN payload;
  END IF;
  RETURN pg_catalog.jsonb_set(payload, '{result}',
                               s3vl._policy_visible(op, request, answer, policy));
END
$$;

-- The ARN of a registered index and the OID of an existing role, for the five admin functions.
CREATE OR REPLACE FUNCTION s3vl._policy_target(caller text, index_name text, role_name name,
  OUT index_arn text, OUT role_oid regrole)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  PERFORM s3vl._require(caller, 'role_name', role_name);
  SELECT r.oid INTO role_oid FROM pg_catalog.pg_roles r WHERE r.rolname = role_name;
  IF role_oid IS NULL THEN
    RAISE EXCEPTION '%: role_name % is not a role', caller, pg_catalog.quote_ident(role_name)
      USING ERRCODE = '42704';
  END IF;
  index_arn := (SELECT t.index_arn FROM s3vl._resolve_index(caller, index_name, NULL) t);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.create_policy(index_name text, role_name name,
                                              metadata_filter jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.create_policy';
  target record;
  bad_key text;
BEGIN
  SELECT * INTO target FROM s3vl._policy_target(caller, index_name, role_name);
  PERFORM s3vl._check_policy_filter(caller, metadata_filter);
  -- S3 Vectors filters only on filterable keys: a policy on another key would hide everything.
  SELECT k INTO bad_key FROM pg_catalog.jsonb_object_keys(metadata_filter) k
    WHERE k = ANY ((SELECT x.non_filterable_keys FROM s3vl._index_shape(caller,
                     target.index_arn, NULL, NULL, true) x)::text[])
    LIMIT 1;
  IF bad_key IS NOT NULL THEN
    RAISE EXCEPTION '%: metadata_filter key % is declared non-filterable on index %', caller,
      pg_catalog.to_jsonb(bad_key), pg_catalog.to_jsonb(index_name)
      USING ERRCODE = '22023', HINT = 'A policy can only use filterable metadata keys.';
  END IF;
  INSERT INTO s3vl.index_policies AS p (index_name, index_arn, role_name, filter)
  VALUES (create_policy.index_name, target.index_arn, target.role_oid,
          create_policy.metadata_filter)
  ON CONFLICT ON CONSTRAINT index_policies_pkey DO UPDATE SET filter = EXCLUDED.filter,
    index_arn = EXCLUDED.index_arn, created_at = pg_catalog.now();
END
$$;
COMMENT ON FUNCTION s3vl.create_policy(text,name,jsonb) IS
  's3vl: nothing; binds role_name to metadata_filter on index_name for every later call';

-- The role a drop_policy/revoke_index names: an existing role, or the OID that list_policies
-- shows for a dropped one (so its rows can still be removed).
CREATE OR REPLACE FUNCTION s3vl._policy_role_oid(role_name name)
RETURNS oid
LANGUAGE sql STABLE
AS $$
  SELECT coalesce((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $1),
                  CASE WHEN $1 ~ '^[0-9]{1,10}$' AND $1::text::bigint <= 4294967295
                       THEN $1::text::oid END)
$$;

CREATE OR REPLACE FUNCTION s3vl.drop_policy(index_name text, role_name name)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.drop_policy', 'index_name', index_name);
  PERFORM s3vl._require('s3vl.drop_policy', 'role_name', role_name);
  DELETE FROM s3vl.index_policies p
    WHERE p.index_name = drop_policy.index_name
      AND p.role_name = s3vl._policy_role_oid(drop_policy.role_name);
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.drop_policy: no policy for role % on index %',
      pg_catalog.quote_ident(role_name), pg_catalog.to_jsonb(index_name)
      USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_policies() lists them.';
  END IF;
END
$$;
COMMENT ON FUNCTION s3vl.drop_policy(text,name) IS
  's3vl: nothing; removes role_name''s policy on index_name';

-- Role names as pg_roles spells them (a dropped role's rows show its OID until dropped here).
CREATE OR REPLACE FUNCTION s3vl.list_policies()
RETURNS TABLE (index_name text, role_name name, metadata_filter jsonb)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT p.index_name, coalesce(r.rolname, p.role_name::oid::text::name), p.filter
  FROM s3vl.index_policies p LEFT JOIN pg_catalog.pg_roles r ON r.oid = p.role_name
  ORDER BY 1, 2
$$;
COMMENT ON FUNCTION s3vl.list_policies() IS
  's3vl: one row per vector policy: index_name, role_name, metadata_filter';

CREATE OR REPLACE FUNCTION s3vl.grant_index(index_name text, role_name name)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  target record;
BEGIN
  SELECT * INTO target FROM s3vl._policy_target('s3vl.grant_index', index_name, role_name);
  INSERT INTO s3vl.index_grants (index_name, index_arn, role_name)
  VALUES (grant_index.index_name, target.index_arn, target.role_oid)
  ON CONFLICT ON CONSTRAINT index_grants_pkey DO UPDATE SET index_arn = EXCLUDED.index_arn;
END
$$;
COMMENT ON FUNCTION s3vl.grant_index(text,name) IS
  's3vl: nothing; lets role_name use index_name once the index has grants';

CREATE OR REPLACE FUNCTION s3vl.revoke_index(index_name text, role_name name)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM s3vl._require('s3vl.revoke_index', 'index_name', index_name);
  PERFORM s3vl._require('s3vl.revoke_index', 'role_name', role_name);
  DELETE FROM s3vl.index_grants g
    WHERE g.index_name = revoke_index.index_name
      AND g.role_name = s3vl._policy_role_oid(revoke_index.role_name);
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.revoke_index: role % has no grant on index %',
      pg_catalog.quote_ident(role_name), pg_catalog.to_jsonb(index_name)
      USING ERRCODE = '42704';
  END IF;
END
$$;
COMMENT ON FUNCTION s3vl.revoke_index(text,name) IS
  's3vl: nothing; removes role_name''s grant on index_name';
