-- Full-text (BM25) and hybrid (vector + text, fused with Reciprocal Rank Fusion) search, and the
-- index administration they need (index mode, text search configurations). Requests are the
-- query_vectors operation with query_texts (docs/protocol.md); every call goes through the one
-- chokepoint s3vl._call_lambda (by s3vl._invoke, or by _call_lambda + _unwrap for searches).
-- Arguments are checked before any call; what only the service knows (a key that is not
-- searchable, a CLASSIC index, a BUILDING key) comes back as its ValidationError (22023).

-- The analyzer languages S3 Vectors accepts (botocore LanguageCode); NULL = standard analyzer.
CREATE OR REPLACE FUNCTION s3vl._text_search_languages()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY['en', 'fr', 'es', 'pt', 'it', 'de', 'nl', 'zh', 'ja', 'ko'] $$;

-- A searchable metadata key: 1 to metadata_key_length characters. what names it in messages.
CREATE OR REPLACE FUNCTION s3vl._check_text_key(caller text, what text, metadata_key text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  hi constant integer := s3vl._limit('metadata_key_length');
BEGIN
  IF metadata_key IS NULL OR pg_catalog.length(metadata_key) NOT BETWEEN 1 AND hi THEN
    RAISE EXCEPTION '%: % must be a metadata key of 1 to % characters (got %)', caller, what, hi,
      coalesce(pg_catalog.length(metadata_key)::text || ' characters', 'NULL')
      USING ERRCODE = '22023', HINT = 'See SELECT * FROM s3vl.limits() (metadata_key_length).';
  END IF;
END
$$;

-- One text argument: 1 to limit_name characters (s3vl.limits()), not only white space. The
-- full-text searches (_check_text) and the embeddings (_check_embed_text) check texts with it.
CREATE OR REPLACE FUNCTION s3vl._check_bounded_text(caller text, what text, value text,
  limit_name text, hint text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  hi constant integer := s3vl._limit(limit_name);
BEGIN
  IF value IS NULL OR pg_catalog.length(value) NOT BETWEEN 1 AND hi
     OR pg_catalog.btrim(value, E' \t\r\n\f\v') = '' THEN
    RAISE EXCEPTION '%: % must be a text of 1 to % characters, not blank (got %)', caller, what,
      hi, CASE WHEN value IS NULL THEN 'NULL'
               WHEN pg_catalog.length(value) BETWEEN 1 AND hi THEN 'only white space'
               ELSE pg_catalog.length(value)::text || ' characters' END
      USING ERRCODE = '22023', HINT = hint;
  END IF;
END
$$;

-- One full-text query string: 1 to query_text_length characters, not only white space.
CREATE OR REPLACE FUNCTION s3vl._check_text(caller text, what text, query_text text)
RETURNS void
LANGUAGE sql IMMUTABLE
AS $$
  SELECT s3vl._check_bounded_text(caller, what, query_text, 'query_text_length',
    'See SELECT * FROM s3vl.limits() (query_text_length).')
$$;

-- {metadata_key: text, ...}: an object of 1 to query_texts entries, each key and text valid.
CREATE OR REPLACE FUNCTION s3vl._check_query_texts(caller text, query_texts jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  hi constant integer := s3vl._limit('query_texts');
  n bigint;
  entry record;
BEGIN
  -- One scan accepts the usual, valid argument; the checks below find what is wrong otherwise.
  IF pg_catalog.jsonb_typeof(query_texts) = 'object'
     AND (SELECT count(*) BETWEEN 1 AND hi
                 AND bool_and(pg_catalog.length(e.key) BETWEEN 1 AND
                                s3vl._limit('metadata_key_length')
                              AND pg_catalog.jsonb_typeof(e.value) = 'string'
                              AND pg_catalog.length(e.value #>> '{}') BETWEEN 1 AND
                                s3vl._limit('query_text_length')
                              AND pg_catalog.btrim(e.value #>> '{}', E' \t\r\n\f\v') <> '')
          FROM pg_catalog.jsonb_each(query_texts) AS e) THEN
    RETURN;
  END IF;
  IF query_texts IS NULL OR pg_catalog.jsonb_typeof(query_texts) <> 'object' THEN
    RAISE EXCEPTION '%: query_texts must be a JSON object {metadata_key: text} (got %)', caller,
      coalesce('a JSON ' || pg_catalog.jsonb_typeof(query_texts), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'For example ''{"name": "trail shoes", "description": "waterproof"}''::jsonb.';
  END IF;
  SELECT count(*) INTO n FROM pg_catalog.jsonb_object_keys(query_texts);
  IF n NOT BETWEEN 1 AND hi THEN
    RAISE EXCEPTION '%: query_texts must have 1 to % metadata keys (got %)', caller, hi, n
      USING ERRCODE = '22023', HINT = 'See SELECT * FROM s3vl.limits() (query_texts).';
  END IF;
  FOR entry IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(query_texts) AS e ORDER BY e.key
  LOOP
    PERFORM s3vl._check_text_key(caller, 'query_texts key', entry.key);
    IF pg_catalog.jsonb_typeof(entry.value) <> 'string' THEN
      RAISE EXCEPTION '%: query_texts value of key "%" must be a JSON string (got a JSON %)',
        caller, entry.key, pg_catalog.jsonb_typeof(entry.value) USING ERRCODE = '22023';
    END IF;
    PERFORM s3vl._check_text(caller, format('query_texts value of key "%s"', entry.key),
                             entry.value #>> '{}');
  END LOOP;
END
$$;

-- The query_vectors request of a text-only (query_vector NULL) or hybrid query. Fields that are
-- NULL are left out; the filter is passed through unchanged (no json_strip_nulls inside it).
CREATE OR REPLACE FUNCTION s3vl._text_query_request(index_arn text, query_vector float8[],
  query_texts jsonb, top_k integer, return_metadata boolean, metadata_filter jsonb)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN query_vector IS NULL AND metadata_filter IS NULL THEN
      pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
        'query_texts', query_texts, 'top_k', top_k, 'return_metadata', return_metadata)
    WHEN query_vector IS NULL THEN
      pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
        'query_texts', query_texts, 'top_k', top_k, 'return_metadata', return_metadata,
        'metadata_filter', metadata_filter)
    WHEN metadata_filter IS NULL THEN
      pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
        'query_vector', pg_catalog.array_to_json(query_vector), 'query_texts', query_texts,
        'top_k', top_k, 'return_metadata', return_metadata)
    ELSE
      pg_catalog.json_build_object('operation', 'query_vectors', 'index_arn', index_arn,
        'query_vector', pg_catalog.array_to_json(query_vector), 'query_texts', query_texts,
        'top_k', top_k, 'return_metadata', return_metadata, 'metadata_filter', metadata_filter)
  END
$$;

-- The cache (20_transport/52_cache.sql) keys on (index, vector, top_k, filter, return_metadata).
-- A text query stores its texts with the filter under keys no filter can have ("$s3vl..." is not
-- a filter operator, so the service refuses such a filter and it is never cached) and an empty
-- vector for text-only (no vector query has one): text and vector entries never meet.
CREATE OR REPLACE FUNCTION s3vl._text_cache_filter(query_texts jsonb, metadata_filter jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.jsonb_build_object('$s3vl_query_texts', query_texts,
                                       '$s3vl_filter', metadata_filter)
$$;

-- Text-only or hybrid search: checks, resolves the index, answers the result array from the
-- cache or one invocation. text_param names the SQL argument that carried the texts.
CREATE OR REPLACE FUNCTION s3vl._search_answer(caller text, text_param text, hybrid boolean,
  query_vector float8[], query_texts jsonb, index_name text, index_arn text, top_k integer,
  return_metadata boolean, metadata_filter jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  target record;
  answer jsonb;
  response jsonb;
  cache_vector constant float8[] := coalesce(query_vector, '{}'::float8[]);
  cache_filter constant jsonb := s3vl._text_cache_filter(query_texts, metadata_filter);
BEGIN
  PERFORM s3vl._check_query_texts(caller, query_texts);
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  SELECT * INTO target FROM s3vl._resolve_index(caller, index_name, index_arn);
  IF hybrid THEN
    PERFORM s3vl._check_vector(caller, 'query_vector', query_vector, target.dimension);
  END IF;
  answer := s3vl._cache_get(caller, target.index_arn, cache_vector, top_k, cache_filter,
                            return_metadata);
  IF answer IS NOT NULL THEN
    RETURN answer;
  END IF;
  -- _call_lambda and _unwrap are what _invoke runs; split here so that only a failed answer
  -- pays for the subtransaction that renames the service's refusal.
  response := (SELECT c.payload FROM s3vl._call_lambda(caller, s3vl._text_query_request(
    target.index_arn, query_vector, query_texts, top_k, return_metadata, metadata_filter),
    'RequestResponse') AS c);
  IF response -> 'success' = 'false'::jsonb THEN
    PERFORM s3vl._raise_text_refusal(caller, text_param, query_texts, response);
  END IF;
  answer := s3vl._expect_array(caller, s3vl._unwrap(caller, response), 'query results');
  PERFORM s3vl._cache_put(caller, target.index_arn, cache_vector, top_k, cache_filter, return_metadata,
                          answer);
  RETURN answer;
END
$$;

-- Raises a failed answer's error (s3vl._unwrap). The service's refusal of a text query (a key
-- without text search, a CLASSIC index, a BUILDING key) keeps its SQLSTATE 22023 but is named
-- after the SQL argument and says where to look and what to run.
CREATE OR REPLACE FUNCTION s3vl._raise_text_refusal(caller text, text_param text,
  query_texts jsonb, response jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  err constant jsonb := response -> 'error';
  failed_message text;
  failed_detail text;
BEGIN
  PERFORM s3vl._unwrap(caller, response);
EXCEPTION WHEN SQLSTATE '22023' THEN
  -- Which refusal it is comes from the envelope itself, not from the text _unwrap made of it.
  GET STACKED DIAGNOSTICS failed_detail = PG_EXCEPTION_DETAIL;
  failed_message := coalesce(s3vl._service_message(CASE pg_catalog.jsonb_typeof(err)
                               WHEN 'object' THEN err ->> 'message'
                               WHEN 'string' THEN err #>> '{}' END, err ->> 'field'),
                             'the Lambda function reported a failure without a message');
  IF failed_message !~* '(text|search|classic|enhanced|building|index mode)'
     OR (pg_catalog.jsonb_typeof(err) = 'object'
         AND err ->> 'field' IN ('metadata_filter', 'top_k', 'query_vector', 'return_metadata'))
  THEN
    RAISE;
  END IF;
  RAISE EXCEPTION USING ERRCODE = '22023',
    MESSAGE = caller || ': ' || text_param || ' ' || s3vl._describe_texts(query_texts) || ': '
              || failed_message,
    DETAIL = coalesce(failed_detail, ''),
    HINT = 'Each searched key needs an ACTIVE text search configuration on an ENHANCED index: '
           'see SELECT index_mode, text_search FROM s3vl.describe_index(...); an s3vl_admin '
           'changes them with s3vl.set_index_mode and s3vl.add_text_search.';
END
$$;

-- The searched keys for messages: "name" or "name", "description".
CREATE OR REPLACE FUNCTION s3vl._describe_texts(query_texts jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.string_agg(pg_catalog.format('"%s"', k), ', ' ORDER BY k)
  FROM pg_catalog.jsonb_object_keys(query_texts) AS k
$$;

-- {metadata_key: query_text} after checking both under their own names.
CREATE OR REPLACE FUNCTION s3vl._one_text(caller text, query_text text, metadata_key text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  PERFORM s3vl._check_text_key(caller, 'metadata_key', metadata_key);
  PERFORM s3vl._check_text(caller, 'query_text', query_text);
  RETURN pg_catalog.jsonb_build_object(metadata_key, query_text);
END
$$;

-- The one implementation of the four public forms below (thin SQL wrappers): the answer first
-- (argument errors are raised there, outside the block below), then rows; a malformed entry is
-- SV007. text_param names the SQL argument that carried the texts; query_vector is NULL for a
-- text-only search.
CREATE OR REPLACE FUNCTION s3vl._search(caller text, text_param text, hybrid boolean,
  query_vector float8[], query_texts jsonb, index_name text, index_arn text, top_k integer,
  metadata_filter jsonb, return_metadata boolean)
RETURNS TABLE (vector_id text, fused_score float8, distance float8, text_score float8,
               metadata jsonb)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  answer constant jsonb := s3vl._search_answer(caller, text_param, hybrid, query_vector,
    query_texts, index_name, index_arn, top_k, return_metadata, metadata_filter);
BEGIN
  RETURN QUERY
    SELECT r.vector_id, r.fused_score, r.distance, r.text_score, coalesce(r.metadata, '{}'::jsonb)
    FROM pg_catalog.jsonb_to_recordset(answer) AS r(vector_id text, fused_score float8,
                                                    distance float8, text_score float8,
                                                    metadata jsonb);
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed(caller, SQLERRM);
END
$$;

-- Full-text search on one key; text_score = BM25.
CREATE OR REPLACE FUNCTION s3vl.search_text(
  query_text text,
  metadata_key text,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, text_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.vector_id, s.text_score, s.metadata
  FROM s3vl._search('s3vl.search_text', 'metadata_key', false, NULL,
                    s3vl._one_text('s3vl.search_text', query_text, metadata_key), index_name,
                    index_arn, top_k, metadata_filter, return_metadata) AS s
$$;
COMMENT ON FUNCTION s3vl.search_text(text,text,text,text,integer,jsonb,boolean) IS
  's3vl: the top_k vectors whose metadata_key best matches query_text (BM25 text_score)';

-- Full-text search on several keys ({"name": "trail shoes", "description": "waterproof"});
-- text_score = the sum of the per-key BM25 scores.
CREATE OR REPLACE FUNCTION s3vl.search_text(
  query_texts jsonb,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, text_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.vector_id, s.text_score, s.metadata
  FROM s3vl._search('s3vl.search_text', 'query_texts', false, NULL, query_texts, index_name,
                    index_arn, top_k, metadata_filter, return_metadata) AS s
$$;
COMMENT ON FUNCTION s3vl.search_text(jsonb,text,text,integer,jsonb,boolean) IS
  's3vl: the top_k vectors best matching query_texts {metadata_key: text} (summed BM25 text_score)';

-- Hybrid search: the vector ranking and the text ranking fused by the service (RRF).
CREATE OR REPLACE FUNCTION s3vl.hybrid_search(
  query_vector float8[],
  query_text text,
  metadata_key text,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, fused_score float8, distance float8, text_score float8,
               metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM s3vl._search('s3vl.hybrid_search', 'metadata_key', true, query_vector,
                             s3vl._one_text('s3vl.hybrid_search', query_text, metadata_key),
                             index_name, index_arn, top_k, metadata_filter, return_metadata)
$$;
COMMENT ON FUNCTION s3vl.hybrid_search(double precision[],text,text,text,text,integer,jsonb,boolean) IS
  's3vl: the top_k vectors by vector and text rank fused (fused_score, distance, text_score)';

CREATE OR REPLACE FUNCTION s3vl.hybrid_search(
  query_vector float8[],
  query_texts jsonb,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, fused_score float8, distance float8, text_score float8,
               metadata jsonb)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM s3vl._search('s3vl.hybrid_search', 'query_texts', true, query_vector,
                             query_texts, index_name, index_arn, top_k, metadata_filter,
                             return_metadata)
$$;
COMMENT ON FUNCTION s3vl.hybrid_search(double precision[],jsonb,text,text,integer,jsonb,boolean) IS
  's3vl: the top_k vectors by vector and query_texts rank fused (fused_score, distance, text_score)';

-- Index administration (s3vl_admin). Each sends one request, the function answers the index's
-- get_index result after the change, and the index's cached answers are dropped (a mode or a
-- searchable key changes what queries answer).
CREATE OR REPLACE FUNCTION s3vl._index_mode_request(index_arn text, index_mode text)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'update_index_mode', 'index_arn', index_arn,
                                      'index_mode', index_mode)
$$;

-- Builders take arrays (the protocol allows 1-10 keys per request); the SQL functions send one.
CREATE OR REPLACE FUNCTION s3vl._add_text_search_request(index_arn text, metadata_keys text[],
  languages text[])
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'add_text_search', 'index_arn', index_arn,
           'text_search', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                                    'metadata_key', k.key, 'language', k.language) ORDER BY k.n)
                           FROM unnest(metadata_keys, languages) WITH ORDINALITY
                             AS k(key, language, n)))
$$;

CREATE OR REPLACE FUNCTION s3vl._drop_text_search_request(index_arn text, metadata_keys text[])
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'drop_text_search', 'index_arn', index_arn,
           'metadata_keys', pg_catalog.array_to_json(metadata_keys))
$$;

-- Sends one administration request; an AccessDenied says how the deployment allows it.
CREATE OR REPLACE FUNCTION s3vl._administer(caller text, index_name text, request_for text,
  index_mode text DEFAULT NULL, metadata_key text DEFAULT NULL, language text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  target record;
  request json;
  failed_message text;
  failed_detail text;
BEGIN
  SELECT * INTO target FROM s3vl._resolve_index(caller, index_name, NULL);
  request := CASE request_for
    WHEN 'mode' THEN s3vl._index_mode_request(target.index_arn, index_mode)
    WHEN 'add' THEN s3vl._add_text_search_request(target.index_arn, ARRAY[metadata_key],
                                                  ARRAY[language])
    ELSE s3vl._drop_text_search_request(target.index_arn, ARRAY[metadata_key]) END;
  BEGIN
    PERFORM s3vl._invoke(caller, request);
  EXCEPTION WHEN insufficient_privilege THEN
    GET STACKED DIAGNOSTICS failed_message = MESSAGE_TEXT, failed_detail = PG_EXCEPTION_DETAIL;
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = failed_message,
      DETAIL = coalesce(failed_detail, ''),
      HINT = 'Index administration from SQL needs the function deployed with the CloudFormation '
             'parameter AllowIndexAdministration=true (environment S3VL_ALLOW_INDEX_ADMIN=true); '
             'otherwise run the AWS CLI command the message names.';
  END;
  PERFORM s3vl._cache_invalidate(target.index_arn);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.set_index_mode(index_name text, index_mode text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.set_index_mode';
  mode constant text := pg_catalog.upper(index_mode);
BEGIN
  IF mode IS NULL OR mode NOT IN ('CLASSIC', 'ENHANCED') THEN
    RAISE EXCEPTION '%: index_mode must be CLASSIC or ENHANCED (got %)', caller,
      coalesce(pg_catalog.quote_literal(index_mode), 'NULL')
      USING ERRCODE = '22023',
            HINT = 'ENHANCED allows text and hybrid search; CLASSIC only in buckets created '
                   'before 2026-09-30.';
  END IF;
  PERFORM s3vl._administer(caller, set_index_mode.index_name, 'mode', index_mode => mode);
END
$$;
COMMENT ON FUNCTION s3vl.set_index_mode(text,text) IS
  's3vl: nothing; switches the index to CLASSIC or ENHANCED';

CREATE OR REPLACE FUNCTION s3vl.add_text_search(index_name text, metadata_key text,
                                                language text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.add_text_search';
  lang constant text := pg_catalog.lower(language);
BEGIN
  PERFORM s3vl._check_text_key(caller, 'metadata_key', metadata_key);
  IF language IS NOT NULL AND NOT lang = ANY (s3vl._text_search_languages()) THEN
    RAISE EXCEPTION '%: language must be one of % or NULL for the standard analyzer (got %)',
      caller, pg_catalog.array_to_string(s3vl._text_search_languages(), ', '),
      pg_catalog.quote_literal(language)
      USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._administer(caller, add_text_search.index_name, 'add',
                           metadata_key => add_text_search.metadata_key, language => lang);
  RAISE NOTICE '%: metadata key "%" is BUILDING while the service indexes the existing vectors, '
               'and searchable once ACTIVE', caller, metadata_key
    USING HINT = pg_catalog.format('SELECT text_search FROM s3vl.describe_index(%L) shows its '
                                   'status.', add_text_search.index_name);
END
$$;
COMMENT ON FUNCTION s3vl.add_text_search(text,text,text) IS
  's3vl: nothing; starts building a text search configuration for metadata_key (BUILDING until ACTIVE)';

CREATE OR REPLACE FUNCTION s3vl.drop_text_search(index_name text, metadata_key text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.drop_text_search';
BEGIN
  PERFORM s3vl._check_text_key(caller, 'metadata_key', metadata_key);
  PERFORM s3vl._administer(caller, drop_text_search.index_name, 'drop',
                           metadata_key => drop_text_search.metadata_key);
END
$$;
COMMENT ON FUNCTION s3vl.drop_text_search(text,text) IS
  's3vl: nothing; removes metadata_key''s text search configuration';
