-- Text in, rows out: embeddings made by the Lambda function with the index's Amazon Bedrock model
-- (docs/embeddings.md). An s3vl_admin sets the model of an index (s3vl.set_embedding_model);
-- s3vl.embed turns texts into vectors (one invocation, the `embed` operation), semantic_search and
-- semantic_hybrid_search send the phrase itself (`query_text` on query_vectors: embedded and
-- queried in the same invocation). Every request passes the chokepoint s3vl._call_lambda, so
-- policies and index grants apply; single-text embeddings and semantic searches use the cache.

-- The embedding models s3vl knows and the dimensions each produces (Titan Text Embeddings V2:
-- 256, 512 or 1024, normalized). Which of them the deployment allows is the function's setting.
CREATE OR REPLACE FUNCTION s3vl._embedding_models()
RETURNS TABLE (model_id text, dimensions integer[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ VALUES ('amazon.titan-embed-text-v2:0', ARRAY[256, 512, 1024]) $$;

-- One text to embed: not NULL, not blank, at most embed_text_length characters.
CREATE OR REPLACE FUNCTION s3vl._check_embed_text(caller text, what text, input_text text)
RETURNS void
LANGUAGE sql IMMUTABLE
AS $$
  SELECT s3vl._check_bounded_text(caller, what, input_text, 'embed_text_length',
    'The embedding model (Titan Text Embeddings V2) takes at most 50,000 characters; see '
    'SELECT * FROM s3vl.limits() (embed_text_length).')
$$;

-- The index, its dimension and its embedding model; 55000 naming the command when it has none.
CREATE OR REPLACE FUNCTION s3vl._embedding_target(caller text, index_name text,
  OUT index_arn text, OUT dimension integer, OUT model_id text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  target record;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  target := s3vl._resolve_index(caller, index_name, NULL);
  index_arn := target.index_arn;
  SELECT r.embedding_model, r.dimension INTO model_id, dimension
    FROM s3vl.index_registry r
    WHERE r.index_name = _embedding_target.index_name
       OR r.index_arn = _embedding_target.index_name
    ORDER BY r.index_name = _embedding_target.index_name DESC, r.is_active DESC, r.id
    LIMIT 1;
  IF model_id IS NULL OR dimension IS NULL THEN
    RAISE EXCEPTION '%: index "%" has no embedding model', caller,
      pg_catalog.left(index_name, 200)
      USING ERRCODE = '55000',
            HINT = format('An s3vl_admin sets one with SELECT s3vl.set_embedding_model(%L, '
                          '''amazon.titan-embed-text-v2:0''); the index dimension must be one '
                          'the model produces (256, 512 or 1024).', index_name);
  END IF;
END
$$;

-- Request builders (docs/protocol.md, `embed` and query_vectors with `query_text`).
CREATE OR REPLACE FUNCTION s3vl._embed_request(index_arn text, model_id text, dimensions integer,
  texts text[])
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_build_object('operation', 'embed', 'index_arn', index_arn,
           'model_id', model_id, 'dimensions', dimensions,
           'texts', pg_catalog.array_to_json(texts))
$$;

-- query_texts NULL: semantic search; given: semantic hybrid search. NULL fields are left out; the
-- filter is passed through unchanged.
CREATE OR REPLACE FUNCTION s3vl._semantic_query_request(index_arn text, query_text text,
  model_id text, dimensions integer, query_texts jsonb, top_k integer, return_metadata boolean,
  metadata_filter jsonb)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT (pg_catalog.jsonb_build_object('operation', 'query_vectors', 'index_arn', index_arn,
            'query_text', query_text, 'model_id', model_id, 'dimensions', dimensions,
            'top_k', top_k, 'return_metadata', return_metadata)
          || CASE WHEN query_texts IS NULL THEN '{}'::jsonb
                  ELSE pg_catalog.jsonb_build_object('query_texts', query_texts) END
          || CASE WHEN metadata_filter IS NULL THEN '{}'::jsonb
                  ELSE pg_catalog.jsonb_build_object('metadata_filter', metadata_filter) END
         )::json
$$;

-- Raises a failed answer (s3vl._unwrap's SQLSTATEs); an error about the model (the function
-- names field model_id: not allowed, not served, throttled past the retries) gets a HINT about
-- embeddings instead of the one about indexes.
CREATE OR REPLACE FUNCTION s3vl._raise_embedding_error(caller text, response jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  err constant jsonb := response -> 'error';
  state text;
BEGIN
  IF pg_catalog.jsonb_typeof(err) IS DISTINCT FROM 'object'
     OR (err ->> 'field' IS DISTINCT FROM 'model_id'
         AND err ->> 'type' IS DISTINCT FROM 'Throttled') THEN
    PERFORM s3vl._unwrap(caller, response);
    RETURN;
  END IF;
  state := s3vl._sqlstate_for(err ->> 'type', err ->> 'field', err ->> 'message');
  RAISE EXCEPTION USING ERRCODE = state,
    MESSAGE = caller || ': ' || coalesce(err ->> 'message', 'the embedding model failed'),
    DETAIL = format('error type: %s; code: %s; retryable: %s; field: %s; request id: %s',
                    err ->> 'type', coalesce(err ->> 'code', 'unknown'),
                    coalesce(err ->> 'retryable', 'unknown'), err ->> 'field',
                    coalesce(response ->> 'request_id', 'unknown')),
    HINT = CASE state
      WHEN '42501' THEN 'The models the function may call are its CloudFormation parameter '
                        'AllowedEmbeddingModels (environment S3VL_EMBEDDING_MODELS), which also '
                        'scopes its bedrock:InvokeModel permission.'
      WHEN 'SV001' THEN 'Bedrock throttled InvokeModel past the function''s retries; retry '
                        'later, send fewer texts at once, or raise the Bedrock quota.'
      WHEN '42704' THEN 'Bedrock does not serve this model in the function''s region, or the '
                        'account has no access to it (Bedrock console, Model access).'
      ELSE 'See docs/embeddings.md (errors).' END;
END
$$;

-- Embeds texts with the index's model in one invocation: [{"ordinal", "embedding",
-- "input_tokens"}]. A single text is answered from the cache when it holds it.
-- single_param: the SQL argument that carried a single text (its errors name it).
CREATE OR REPLACE FUNCTION s3vl._embed(caller text, input_texts text[], index_name text,
  single_param text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  target record;
  hi constant integer := s3vl._limit('embed_texts');
  n constant integer := coalesce(pg_catalog.cardinality(input_texts), 0);
  cache_filter jsonb;
  answer jsonb;
  response jsonb;
BEGIN
  IF input_texts IS NULL OR n > hi THEN
    RAISE EXCEPTION '%: input_texts must be an array of at most % texts (got %)', caller, hi,
      coalesce(n::text || ' texts', 'NULL')
      USING ERRCODE = '22023', HINT = 'Call s3vl.embed once per ' || hi || ' texts; see SELECT * '
                                      'FROM s3vl.limits() (embed_texts).';
  END IF;
  FOR i IN 1 .. n LOOP
    PERFORM s3vl._check_embed_text(caller, coalesce(single_param, format('input_texts[%s]', i)),
                                   input_texts[pg_catalog.array_lower(input_texts, 1) + i - 1]);
  END LOOP;
  target := s3vl._embedding_target(caller, index_name);
  IF n = 0 THEN
    RETURN '[]'::jsonb;
  END IF;
  IF n = 1 THEN
    cache_filter := pg_catalog.jsonb_build_object('$s3vl_embed', pg_catalog.jsonb_build_object(
      'text', input_texts[pg_catalog.array_lower(input_texts, 1)], 'model', target.model_id,
      'dimensions', target.dimension));
    answer := s3vl._cache_get(caller, target.index_arn, '{}'::float8[], 1, cache_filter, false);
    IF answer IS NOT NULL THEN
      RETURN answer;
    END IF;
  END IF;
  response := (SELECT c.payload FROM s3vl._call_lambda(caller, s3vl._embed_request(
    target.index_arn, target.model_id, target.dimension, input_texts), 'RequestResponse') AS c);
  IF response -> 'success' = 'false'::jsonb THEN
    PERFORM s3vl._raise_embedding_error(caller, response);
  END IF;
  answer := s3vl._expect_array(caller, s3vl._unwrap(caller, response), 'embeddings');
  IF pg_catalog.jsonb_array_length(answer) <> n THEN
    PERFORM s3vl._raise_malformed(caller, format('%s embeddings for %s texts',
                                                 pg_catalog.jsonb_array_length(answer), n));
  END IF;
  IF n = 1 THEN
    PERFORM s3vl._cache_put(caller, target.index_arn, '{}'::float8[], 1, cache_filter, false, answer);
  END IF;
  RETURN answer;
END
$$;

-- Semantic (query_texts NULL) or semantic hybrid search: checks, the index's model, the answer
-- from the cache or one invocation that embeds query_text and queries.
CREATE OR REPLACE FUNCTION s3vl._semantic_answer(caller text, query_text text, query_texts jsonb,
  index_name text, top_k integer, metadata_filter jsonb, return_metadata boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  target record;
  cache_filter jsonb;
  answer jsonb;
  response jsonb;
BEGIN
  PERFORM s3vl._check_embed_text(caller, 'query_text', query_text);
  IF query_texts IS NOT NULL THEN
    PERFORM s3vl._check_query_texts(caller, query_texts);
  END IF;
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._require(caller, 'return_metadata', return_metadata);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  target := s3vl._embedding_target(caller, index_name);
  -- "$s3vl..." keys are no filter operator: these entries never meet a vector or text query's.
  cache_filter := pg_catalog.jsonb_build_object(
    '$s3vl_semantic', pg_catalog.jsonb_build_object('text', query_text, 'model', target.model_id,
                                                    'dimensions', target.dimension),
    '$s3vl_query_texts', query_texts, '$s3vl_filter', metadata_filter);
  answer := s3vl._cache_get(caller, target.index_arn, '{}'::float8[], top_k, cache_filter,
                            return_metadata);
  IF answer IS NOT NULL THEN
    RETURN answer;
  END IF;
  response := (SELECT c.payload FROM s3vl._call_lambda(caller, s3vl._semantic_query_request(
    target.index_arn, query_text, target.model_id, target.dimension, query_texts, top_k,
    return_metadata, metadata_filter), 'RequestResponse') AS c);
  IF response -> 'success' = 'false'::jsonb THEN
    IF query_texts IS NOT NULL THEN
      PERFORM s3vl._raise_text_refusal(caller, 'metadata_key', query_texts, response);
    END IF;
    PERFORM s3vl._raise_embedding_error(caller, response);
  END IF;
  answer := s3vl._expect_array(caller, s3vl._unwrap(caller, response), 'query results');
  PERFORM s3vl._cache_put(caller, target.index_arn, '{}'::float8[], top_k, cache_filter,
                          return_metadata, answer);
  RETURN answer;
END
$$;

-- ---- public functions -----------------------------------------------------------------------

-- The index's embedding model (admin). model_id NULL removes it. The index's dimension (read
-- from the service) must be one the model produces.
CREATE OR REPLACE FUNCTION s3vl.set_embedding_model(index_name text, model_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.set_embedding_model';
  target record;
  produced integer[];
  live_dimension integer;
BEGIN
  PERFORM s3vl._require(caller, 'index_name', index_name);
  target := s3vl._resolve_index(caller, index_name, NULL);
  IF model_id IS NOT NULL THEN
    SELECT m.dimensions INTO produced FROM s3vl._embedding_models() m
      WHERE m.model_id = set_embedding_model.model_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION '%: model_id must be one of % (got %)', caller,
        (SELECT pg_catalog.string_agg(m.model_id, ', ') FROM s3vl._embedding_models() m),
        pg_catalog.quote_literal(pg_catalog.left(model_id, 200))
        USING ERRCODE = '22023', HINT = 'NULL removes the index''s model.';
    END IF;
    live_dimension := coalesce(target.dimension, (s3vl._invoke(caller,
      s3vl._get_index_request(target.index_arn)) ->> 'dimension')::integer);
    IF NOT live_dimension = ANY (produced) THEN
      RAISE EXCEPTION '%: index "%" has dimension %, which % does not produce (it produces %)',
        caller, index_name, live_dimension, model_id,
        pg_catalog.array_to_string(produced, ', ')
        USING ERRCODE = '22023',
              HINT = 'Create an index of one of those dimensions for embedded text.';
    END IF;
  END IF;
  UPDATE s3vl.index_registry r
     SET embedding_model = set_embedding_model.model_id,
         dimension = coalesce(r.dimension, live_dimension)
   WHERE r.index_name = set_embedding_model.index_name
      OR (set_embedding_model.index_name LIKE 'arn:%'
          AND r.index_arn = set_embedding_model.index_name);
END
$$;

-- One text -> its vector (the index's model and dimension).
CREATE OR REPLACE FUNCTION s3vl.embed(input_text text, index_name text)
RETURNS float8[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- Argument errors are raised here, outside the block below (22023 is a data_exception).
  answer constant jsonb := s3vl._embed('s3vl.embed', ARRAY[input_text], index_name,
                                       'input_text');
BEGIN
  RETURN s3vl._float8_array(answer -> 0 -> 'embedding');
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed('s3vl.embed', SQLERRM);
  RETURN NULL;  -- not reached: _raise_malformed raises
END
$$;

-- Several texts -> one row each (ordinal = position in input_texts, from 1), one invocation.
CREATE OR REPLACE FUNCTION s3vl.embed(input_texts text[], index_name text)
RETURNS TABLE (ordinal integer, embedding float8[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  answer constant jsonb := s3vl._embed('s3vl.embed', input_texts, index_name);
BEGIN
  RETURN QUERY
    SELECT (e.value ->> 'ordinal')::integer, s3vl._float8_array(e.value -> 'embedding')
    FROM pg_catalog.jsonb_array_elements(answer) AS e(value)
    ORDER BY (e.value ->> 'ordinal')::integer;
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed('s3vl.embed', SQLERRM);
END
$$;

-- Text in, rows out: query_text embedded by the index's model and searched, one invocation.
CREATE OR REPLACE FUNCTION s3vl.semantic_search(
  query_text text,
  index_name text,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  answer constant jsonb := s3vl._semantic_answer('s3vl.semantic_search', query_text, NULL,
    index_name, top_k, metadata_filter, return_metadata);
BEGIN
  RETURN QUERY
    SELECT r.vector_id, r.distance, r.similarity_score, coalesce(r.metadata, '{}'::jsonb)
    FROM pg_catalog.jsonb_to_recordset(answer) AS r(vector_id text, distance float8,
                                                    similarity_score float8, metadata jsonb)
    ORDER BY r.distance;
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed('s3vl.semantic_search', SQLERRM);
END
$$;

-- The same phrase drives both halves: its embedding (vector ranking) and BM25 on metadata_key,
-- fused by the service (RRF).
CREATE OR REPLACE FUNCTION s3vl.semantic_hybrid_search(
  query_text text,
  metadata_key text,
  index_name text,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  return_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, fused_score float8, distance float8, text_score float8,
               metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller constant text := 's3vl.semantic_hybrid_search';
  -- The BM25 half takes the phrase as a full-text query: at most query_text_length characters
  -- (s3vl._one_text checks both arguments). Raised here, outside the block below.
  answer constant jsonb := s3vl._semantic_answer(caller, query_text,
    s3vl._one_text(caller, query_text, metadata_key), index_name, top_k, metadata_filter,
    return_metadata);
BEGIN
  RETURN QUERY
    SELECT r.vector_id, r.fused_score, r.distance, r.text_score, coalesce(r.metadata, '{}'::jsonb)
    FROM pg_catalog.jsonb_to_recordset(answer) AS r(vector_id text, fused_score float8,
                                                    distance float8, text_score float8,
                                                    metadata jsonb);
EXCEPTION WHEN data_exception OR datatype_mismatch THEN
  PERFORM s3vl._raise_malformed('s3vl.semantic_hybrid_search', SQLERRM);
END
$$;

-- The phrase of query_vectors_where / query_table embedded (cached) for their invoker-rights
-- text forms; errors name the public function (one of those two, nothing else: the name is
-- also what the chokepoint sees as the caller).
CREATE OR REPLACE FUNCTION s3vl._embed_for(public_function text, query_text text,
                                           index_name text)
RETURNS float8[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  answer jsonb;
BEGIN
  IF public_function IS NULL
     OR public_function NOT IN ('s3vl.query_vectors_where', 's3vl.query_table') THEN
    RAISE EXCEPTION 's3vl._embed_for: not for %', public_function USING ERRCODE = '42501';
  END IF;
  answer := s3vl._embed(public_function, ARRAY[query_text], index_name, 'query_text');
  RETURN s3vl._float8_array(answer -> 0 -> 'embedding');
END
$$;

COMMENT ON FUNCTION s3vl.set_embedding_model(text, text) IS
  's3vl: sets (or with NULL removes) the Bedrock embedding model of a registered index';
COMMENT ON FUNCTION s3vl.embed(text, text) IS
  's3vl: the embedding of one text by the index''s model (float8[])';
COMMENT ON FUNCTION s3vl.embed(text[], text) IS
  's3vl: one row (ordinal, embedding) per text, embedded by the index''s model in one invocation';
COMMENT ON FUNCTION s3vl.semantic_search(text, text, integer, jsonb, boolean) IS
  's3vl: the top_k vectors nearest to a phrase (embedded and searched in one invocation)';
COMMENT ON FUNCTION s3vl.semantic_hybrid_search(text, text, text, integer, jsonb, boolean) IS
  's3vl: vector (embedded phrase) and BM25 (same phrase on metadata_key) rankings fused by RRF';
