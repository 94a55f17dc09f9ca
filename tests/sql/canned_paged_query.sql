-- Added to a canned database (after canned_aws_lambda.sql): query_vectors requests that carry
-- page_token or max_pages are answered from canned.neighbours exactly as docs/protocol.md says
-- (result {"vectors", "next_token"}, pages of canned.paging.page_size, a token valid only for the
-- same query_vector/top_k/metadata_filter/return_metadata). Every served key is logged in
-- canned.served with its call, so tests can see what was fetched and how often.
CREATE TABLE IF NOT EXISTS canned.neighbours (
  key text PRIMARY KEY,
  distance float8 NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS canned.paging (
  page_size integer NOT NULL,
  legacy boolean NOT NULL DEFAULT false  -- answer like a function without page_token support
);
INSERT INTO canned.paging VALUES (100, false);
CREATE TABLE IF NOT EXISTS canned.served (call_id bigint NOT NULL, key text NOT NULL);

ALTER FUNCTION canned.respond(text, json, text) RENAME TO respond_fixed;

CREATE FUNCTION canned.validation_error(field text, message text)
RETURNS json
LANGUAGE sql IMMUTABLE
AS $$
  SELECT json_build_object('success', false, 'request_id', 'canned', 'error', json_build_object(
    'type', 'ValidationError', 'code', 'ValidationError', 'retryable', false, 'field', field,
    'message', field || ': ' || message))
$$;

CREATE FUNCTION canned.respond(fn text, req json, fn_region text)
RETURNS json
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  r jsonb := req::jsonb;
  cfg canned.paging;
  call_id bigint;
  fingerprint text;
  token_parts text[];
  start integer := 0;
  total integer;
  take integer;
  page jsonb;
  next_token text;
BEGIN
  SELECT * INTO cfg FROM canned.paging LIMIT 1;
  IF r ->> 'operation' IS DISTINCT FROM 'query_vectors'
     OR NOT (r ? 'page_token' OR r ? 'max_pages' OR cfg.legacy) THEN
    RETURN canned.respond_fixed(fn, req, fn_region);
  END IF;
  INSERT INTO canned.calls (function_name, region, request, request_timeout_ms)
  VALUES (fn, fn_region, r, current_setting('aws_lambda.request_timeout_ms', true))
  RETURNING id INTO call_id;
  IF r ? 'max_pages' AND (jsonb_typeof(r -> 'max_pages') <> 'number'
                          OR (r ->> 'max_pages')::numeric < 1
                          OR (r ->> 'max_pages')::numeric <> trunc((r ->> 'max_pages')::numeric)) THEN
    RETURN canned.validation_error('max_pages', 'must be an integer of at least 1');
  END IF;
  IF r ? 'page_token' AND jsonb_typeof(r -> 'page_token') <> 'null'
     AND (jsonb_typeof(r -> 'page_token') <> 'string'
          OR length(r ->> 'page_token') NOT BETWEEN 1 AND 4096) THEN
    RETURN canned.validation_error('page_token', 'must be a string of 1 to 4096 characters');
  END IF;
  fingerprint := md5(concat_ws('|', r -> 'query_vector', r -> 'top_k', r -> 'metadata_filter',
                               r -> 'return_metadata'));
  IF r ->> 'page_token' IS NOT NULL THEN
    token_parts := regexp_match(r ->> 'page_token', '^tok\.([0-9]+)\.([0-9a-f]{32})$');
    IF token_parts IS NULL THEN
      RETURN canned.validation_error('page_token', 'unknown or expired query token');
    END IF;
    IF token_parts[2] <> fingerprint THEN
      RETURN canned.validation_error('page_token', 'was issued for a different query');
    END IF;
    start := token_parts[1]::integer;
  END IF;
  SELECT least(count(*), (r ->> 'top_k')::integer) INTO total FROM canned.neighbours n
    WHERE n.metadata @> coalesce(r -> 'metadata_filter', '{}');
  take := CASE WHEN cfg.legacy OR r ->> 'max_pages' IS NULL THEN total - start
               ELSE least(total - start, (r ->> 'max_pages')::integer * cfg.page_size) END;
  SELECT coalesce(jsonb_agg(jsonb_build_object('vector_id', s.key, 'distance', s.distance,
                                               'similarity_score', 1 - s.distance,
                                               'metadata', s.metadata) ORDER BY s.distance, s.key),
                  '[]')
    INTO page
    FROM (SELECT * FROM canned.neighbours n WHERE n.metadata @> coalesce(r -> 'metadata_filter', '{}')
          ORDER BY n.distance, n.key OFFSET start LIMIT take) s;
  INSERT INTO canned.served SELECT call_id, e ->> 'vector_id' FROM jsonb_array_elements(page) e;
  IF cfg.legacy THEN
    RETURN json_build_object('success', true, 'request_id', 'canned', 'result', page);
  END IF;
  IF start + take < total THEN
    next_token := format('tok.%s.%s', start + take, fingerprint);
  END IF;
  RETURN json_build_object('success', true, 'request_id', 'canned',
                           'result', json_build_object('vectors', page, 'next_token', next_token));
END
$$;
