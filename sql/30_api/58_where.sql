-- Filtered search that fills k (docs/sql-reference.md, "Filtered search"; the plans in
-- docs/partitions.md, "Filtered search plans"). strategy picks one of two plans:
-- - prefilter: the keys of the rows of a table passing a caller-written SQL predicate are read
--   first and ranked exactly by the function (rank_vectors, one invocation);
-- - iterative: an iterative scan in the manner of pgvector 0.8's iterative HNSW scans. The
--   nearest neighbours are read page by page through one QueryVectors (the function hands back
--   the service's nextToken as next_token, see docs/protocol.md), each page's keys are checked
--   against the table and the predicate, and reading stops as soon as top_k keys qualify or
--   max_candidates were examined;
-- - auto: prefilter while few enough rows pass for it to be the cheaper one, iterative otherwise.
--
-- Privileges: the scan and the predicate run with the CALLER's rights (SECURITY INVOKER, no
-- search_path of its own, so the predicate means what it means in the caller's session). Only the
-- helpers that reach s3vl.config and aws_lambda are SECURITY DEFINER; they take values, never
-- SQL text, and check every argument themselves because readers may call them.

-- Which index a paged query reads, and how many service pages one invocation may fetch: at most
-- the pages_per_call limit and at most timeout_seconds (a warm page takes ~0.3 s, so one second of
-- budget per page leaves room for a cold start).
CREATE OR REPLACE FUNCTION s3vl._query_page_target(caller text, query_vector float8[],
  index_name text, index_arn text, metadata_filter jsonb,
  OUT target_arn text, OUT max_pages integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  target record;
BEGIN
  PERFORM s3vl._check_vector(caller, 'query_vector', query_vector);
  PERFORM s3vl._check_filter(caller, metadata_filter);
  SELECT * INTO target FROM s3vl._resolve_index(caller, index_name, index_arn);
  PERFORM s3vl._check_vector(caller, 'query_vector', query_vector, target.dimension);
  target_arn := target.index_arn;
  max_pages := least(s3vl._limit('pages_per_call'), (s3vl._config(caller)).timeout_seconds);
END
$$;

-- The protocol request for one paged QueryVectors step (docs/protocol.md, page_token/max_pages).
CREATE OR REPLACE FUNCTION s3vl._query_page_request(index_arn text, query_vector float8[],
  top_k integer, return_metadata boolean, metadata_filter jsonb, page_token text,
  max_pages integer)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'operation', 'query_vectors', 'index_arn', index_arn,
           'query_vector', pg_catalog.array_to_json(query_vector), 'top_k', top_k,
           'return_metadata', return_metadata, 'metadata_filter', metadata_filter,
           'page_token', page_token, 'max_pages', max_pages))
$$;

-- One invocation: up to max_pages service pages of the query whose results total top_k,
-- continuing at page_token. Returns {"vectors": [rows], "next_token": text|null}.
CREATE OR REPLACE FUNCTION s3vl._query_page(caller text, query_vector float8[], index_arn text,
  top_k integer, metadata_filter jsonb, page_token text, max_pages integer)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  target record;
  answer jsonb;
BEGIN
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  SELECT * INTO target FROM s3vl._query_page_target(caller, query_vector, NULL, index_arn,
                                                    metadata_filter);
  -- A partitioned index's token is the function's own (docs/protocol.md), longer than the
  -- service's.
  IF page_token IS NOT NULL AND NOT s3vl._is_partitioned_id(target.target_arn) THEN
    PERFORM s3vl._check_range(caller, 'page_token length', length(page_token),
                              'page_token_length');
  END IF;
  IF max_pages IS NULL OR max_pages < 1 OR max_pages > target.max_pages THEN
    RAISE EXCEPTION '%: max_pages must be between 1 and % (got %)', caller, target.max_pages,
      coalesce(max_pages::text, 'NULL')
      USING ERRCODE = '22023',
            HINT = 'At most pages_per_call (s3vl.limits()) and at most timeout_seconds pages.';
  END IF;
  answer := s3vl._invoke(caller, s3vl._query_page_request(target.target_arn, query_vector,
                                                           top_k, true, metadata_filter,
                                                           page_token, max_pages));
  -- A function older than page_token/max_pages ignores both and answers the whole top_k as an
  -- array: the same candidates in one invocation (correct, only not incremental).
  IF pg_catalog.jsonb_typeof(answer) = 'array' THEN
    answer := pg_catalog.jsonb_build_object('vectors', answer, 'next_token', NULL);
  END IF;
  IF pg_catalog.jsonb_typeof(answer) IS DISTINCT FROM 'object'
     OR pg_catalog.jsonb_typeof(answer -> 'vectors') IS DISTINCT FROM 'array'
     OR pg_catalog.jsonb_typeof(answer -> 'next_token') NOT IN ('string', 'null')
     OR NOT answer ? 'next_token' THEN
    RAISE EXCEPTION '%: the Lambda function answered a paged query result that is not '
                    '{"vectors": [...], "next_token": ...}', caller
      USING ERRCODE = 'SV007',
            DETAIL = 'got: ' || pg_catalog.left(coalesce(answer::text, 'NULL'), 200);
  END IF;
  IF answer ->> 'next_token' = page_token THEN
    RAISE EXCEPTION '%: QueryVectors returned the token it was given; paging would not end',
      caller USING ERRCODE = 'SV007';
  END IF;
  RETURN answer;
END
$$;

-- The statement that keeps the candidates of one page ($1, a JSON array of result rows) whose
-- key (key_expr: the vector_id as a value of the key column's type) is the key of a row of
-- source passing predicate, in page order, without keys in $2 (already kept) or repeats.
CREATE OR REPLACE FUNCTION s3vl._where_sql(source regclass, key_column name, predicate text,
                                           key_expr text)
RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT pg_catalog.format(
    'SELECT pg_catalog.jsonb_agg(s3vl_c.v ORDER BY s3vl_c.n) FROM ('
    'SELECT DISTINCT ON (s3vl_p.v ->> ''vector_id'') s3vl_p.v, s3vl_p.n '
    'FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS s3vl_p(v, n) '
    'WHERE NOT (s3vl_p.v ->> ''vector_id'') = ANY ($2) AND EXISTS (SELECT 1 FROM %1$s '
    'WHERE %1$s.%2$I = %4$s AND (%3$s)) '
    'ORDER BY s3vl_p.v ->> ''vector_id'', s3vl_p.n) AS s3vl_c',
    source, key_column, coalesce(predicate, 'true'), key_expr)
$$;

-- kept (the candidates kept so far) with the candidates of one page that pass (the statement of
-- _where_sql), run with the caller's rights. The fast form casts a page's keys in one go; the
-- safe form is for a page with keys that are not values of the key column's type (they cannot
-- match).
CREATE OR REPLACE FUNCTION s3vl._where_passed(source regclass, key_column name, predicate text,
  key_type text, page jsonb, kept jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  kept_keys constant text[] := ARRAY(SELECT e ->> 'vector_id'
                                     FROM pg_catalog.jsonb_array_elements(kept) e);
  passed jsonb;
BEGIN
  BEGIN
    EXECUTE s3vl._where_sql(source, key_column, predicate,
      pg_catalog.format('(s3vl_p.v ->> ''vector_id'')::%s', key_type))
      INTO passed USING page, kept_keys;
  EXCEPTION WHEN data_exception THEN
    EXECUTE s3vl._where_sql(source, key_column, predicate,
      pg_catalog.format('s3vl._sync_try_cast(s3vl_p.v ->> ''vector_id'', NULL::%s)', key_type))
      INTO passed USING page, kept_keys;
  END;
  RETURN kept || coalesce(passed, '[]'::jsonb);
END
$$;

-- The arguments of a filtered search that are about the local table, checked before anything is
-- read or invoked; returns the key column's type. The predicate is SQL the caller wrote: it is
-- planned and permission-checked here with the caller's rights (syntax, type, privileges).
CREATE OR REPLACE FUNCTION s3vl._where_check(caller text, source regclass, key_column name,
  predicate text, top_k integer, max_candidates integer, strategy text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  key_type text;
  err_state text;
  err_text text;
BEGIN
  IF strategy IS NULL OR strategy NOT IN ('auto', 'prefilter', 'iterative') THEN
    RAISE EXCEPTION '%: strategy must be ''auto'', ''prefilter'' or ''iterative'' (got %)',
      caller, coalesce(pg_catalog.quote_literal(strategy), 'NULL') USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  PERFORM s3vl._check_range(caller, 'max_candidates', max_candidates);
  IF max_candidates < top_k THEN
    RAISE EXCEPTION '%: max_candidates must be at least top_k (got max_candidates % < top_k %)',
      caller, max_candidates, top_k USING ERRCODE = '22023';
  END IF;
  PERFORM s3vl._require(caller, 'source', source);
  PERFORM s3vl._require(caller, 'key_column', key_column);
  SELECT pg_catalog.format_type(a.atttypid, NULL) INTO key_type
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = source AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF key_type IS NULL THEN
    RAISE EXCEPTION '%: key_column % does not exist in %', caller,
      pg_catalog.quote_ident(key_column), source
      USING ERRCODE = '42703', HINT = 'key_column names the column that holds the vector keys.';
  END IF;
  IF predicate IS NOT NULL AND pg_catalog.btrim(predicate) = '' THEN
    RAISE EXCEPTION '%: predicate must be a boolean SQL expression or NULL (got an empty string)',
      caller USING ERRCODE = '22023', HINT = 'For example predicate => ''stock > 0''.';
  END IF;
  BEGIN
    EXECUTE pg_catalog.format('SELECT 1 FROM %s WHERE (%s) LIMIT 0', source,
                              coalesce(predicate, 'true'));
  EXCEPTION WHEN syntax_error_or_access_rule_violation OR data_exception THEN
    -- Same SQLSTATE, with the argument named: the parser's own text alone does not say which
    -- argument it is about.
    GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_text = MESSAGE_TEXT;
    RAISE EXCEPTION '%: predicate is not a boolean expression over % that you may run: %',
      caller, source, err_text USING ERRCODE = err_state,
      HINT = 'predicate is SQL you write, run with your privileges over source''s columns, '
             'e.g. predicate => ''stock > 0 AND price < 500''.';
  END;
  RETURN key_type;
END
$$;

-- How many service pages the next invocation asks for: as many as the pass rate seen so far
-- says are still needed (the first call: enough for top_k if every candidate passed), plus the
-- `skip` rows a restarted query returns again first, within the per-call bound and
-- max_candidates.
CREATE OR REPLACE FUNCTION s3vl._where_pages(top_k integer, kept integer, examined integer,
  skip integer, per_page integer, max_pages integer, max_candidates integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT least(greatest(1, ceil((CASE WHEN examined = 0 THEN top_k::numeric
                                      ELSE (top_k - kept)::numeric * examined / greatest(kept, 1)
                                 END + skip) / per_page))::integer,
               max_pages,
               greatest(1, ceil((max_candidates - examined + skip)::numeric
                                / per_page))::integer)
$$;

-- The rows of one answer of the iterative plan without its first `skip` (a restarted query
-- returns the candidates examined already first); SV007 for an empty page with a next token.
CREATE OR REPLACE FUNCTION s3vl._where_page(caller text, answer jsonb, examined integer,
  skip integer)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF answer ->> 'next_token' IS NOT NULL
     AND pg_catalog.jsonb_array_length(answer -> 'vectors') = 0 THEN
    RAISE EXCEPTION '%: QueryVectors answered an empty page with a next token after % '
                    'candidates', caller, examined USING ERRCODE = 'SV007';
  END IF;
  IF skip = 0 THEN
    RETURN answer -> 'vectors';
  END IF;
  RETURN (SELECT coalesce(pg_catalog.jsonb_agg(x.e ORDER BY x.n), '[]'::jsonb)
          FROM pg_catalog.jsonb_array_elements(answer -> 'vectors') WITH ORDINALITY AS x(e, n)
          WHERE x.n > skip);
END
$$;

-- How many passing keys the prefilter plan ranks at most: prefilter_max_keys for 'prefilter';
-- for 'auto' the point where it stops being the cheaper plan. Prefilter costs about one
-- GetVectors row per passing key, iterative about one page row per candidate, k / pass rate of
-- them; with pass rate = keys / rows, prefilter is cheaper while keys^2 < ratio * k * rows.
-- ratio 0.5: a ranked key costs about twice a paged candidate (bench/bench_where.py). Rows: the
-- planner's estimate of source; capped by prefilter_auto_keys (the whole cap when source was
-- never analyzed). NULL for 'iterative'.
CREATE OR REPLACE FUNCTION s3vl._where_key_bound(source regclass, top_k integer, strategy text)
RETURNS integer
LANGUAGE sql STABLE
AS $$
  SELECT CASE strategy
    WHEN 'prefilter' THEN s3vl._limit('prefilter_max_keys')
    WHEN 'auto' THEN least(s3vl._limit('prefilter_auto_keys'), coalesce((
      SELECT greatest(top_k, pg_catalog.ceil(pg_catalog.sqrt(0.5 * top_k * c.reltuples)))::integer
      FROM pg_catalog.pg_class c WHERE c.oid = source AND c.reltuples >= 0),
      s3vl._limit('prefilter_auto_keys'))) END
$$;

-- The plan: the keys of the rows that pass when the prefilter plan runs, read here with the
-- caller's rights (columns of source are in scope unqualified or qualified by the table's name;
-- identifiers s3vl adds are quoted); NULL when the iterative plan runs. 'auto' reads at most its
-- bound + 1 keys and runs prefilter when they are all there are; 'prefilter' refuses more than
-- prefilter_max_keys.
CREATE OR REPLACE FUNCTION s3vl._where_plan_keys(caller text, source regclass, key_column name,
  predicate text, top_k integer, strategy text)
RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  key_bound constant integer := s3vl._where_key_bound(source, top_k, strategy);
  plan_keys text[];
BEGIN
  IF key_bound IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE pg_catalog.format(
    'SELECT pg_catalog.array_agg(s3vl_k) FROM (SELECT %1$s.%2$I::text AS s3vl_k FROM %1$s '
    'WHERE (%3$s) AND %1$s.%2$I IS NOT NULL LIMIT %4$s) AS s3vl_q', source, key_column,
    coalesce(predicate, 'true'), key_bound + 1) INTO plan_keys;
  plan_keys := coalesce(plan_keys, '{}'::text[]);
  IF pg_catalog.cardinality(plan_keys) <= key_bound THEN
    RETURN plan_keys;
  END IF;
  IF strategy = 'prefilter' THEN
    RAISE EXCEPTION '%: more than prefilter_max_keys (%) rows of % pass the predicate', caller,
      key_bound, source USING ERRCODE = '22023',
      HINT = 'Narrow the predicate, or use strategy => ''iterative'' (or ''auto'', which picks '
             'it for predicates this wide).';
  END IF;
  RAISE DEBUG '%: plan iterative: more than % rows pass (auto''s bound for this table and '
              'top_k)', caller, key_bound;
  RETURN NULL;
END
$$;

-- Says why a filtered search returns fewer than top_k rows (and, at DEBUG, what it cost).
CREATE OR REPLACE FUNCTION s3vl._where_report(caller text, kept integer, top_k integer,
  examined integer, max_candidates integer, calls integer, exhausted boolean)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  -- For tuning and benchmarks (SET client_min_messages = debug1): what the answer cost.
  RAISE DEBUG '%: plan iterative: % rows from % candidates in % invocations', caller,
    least(kept, top_k), examined, calls;
  IF kept >= top_k THEN
    RETURN;
  END IF;
  IF exhausted AND examined < max_candidates THEN
    RAISE NOTICE '%: % of top_k % rows qualify; all % neighbours the index returned were '
                 'examined (% invocations)', caller, kept, top_k, examined, calls;
  ELSE
    RAISE NOTICE '%: % of top_k % rows qualify among the % candidates examined '
                 '(max_candidates % reached, % invocations)', caller, kept, top_k, examined,
                 max_candidates, calls
      USING HINT = pg_catalog.format('Raise max_candidates (at most %s) to examine more '
                                     'neighbours, or move part of the predicate into '
                                     'metadata_filter.', s3vl._limit('max_candidates'));
  END IF;
END
$$;

-- The kept candidates as rows, nearest first (ties in page order), at most top_k.
CREATE OR REPLACE FUNCTION s3vl._where_rows(kept jsonb, top_k integer)
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE sql IMMUTABLE
AS $$
  SELECT r.v ->> 'vector_id', (r.v ->> 'distance')::float8,
         (r.v ->> 'similarity_score')::float8, coalesce(r.v -> 'metadata', '{}'::jsonb)
  FROM pg_catalog.jsonb_array_elements(kept) WITH ORDINALITY AS r(v, n)
  ORDER BY (r.v ->> 'distance')::float8, r.n
  LIMIT top_k
$$;

-- The scan behind query_vectors_where and query_table; caller names the public function.
-- Arguments first (nothing is read or invoked before they are all valid), then the plan: the
-- prefilter plan's one invocation, or the iterative plan page by page. Its first query asks the
-- service for few neighbours (4 x top_k, whole pages): a topK of max_candidates makes the
-- service rank that many even when one page is enough (at a 50 % pass rate it cost 131 ms of 161;
-- bench/bench_where.py). When that query runs dry before top_k pass, it is asked again with topK
-- max_candidates, skipping the candidates already examined: one page re-read at most. The page
-- size is S3 Vectors' 100 until an answer shows it: full pages show it, an answer cut short by
-- the function's deadline shows less, so the largest seen is kept.
CREATE OR REPLACE FUNCTION s3vl._query_where(caller text, query_vector float8[],
  source regclass, key_column name, predicate text, top_k integer, index_name text,
  index_arn text, metadata_filter jsonb, max_candidates integer, strategy text)
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  key_type constant text := s3vl._where_check(caller, source, key_column, predicate, top_k,
                                              max_candidates, strategy);
  target record;
  plan_keys text[];
  answer jsonb;
  page jsonb;
  token text;
  kept jsonb := '[]'::jsonb;
  examined integer := 0;
  got integer;
  pages integer;
  seen_page integer;  -- the largest page size an answer showed (at least 1)
  calls integer := 0;
  query_top_k integer := least(max_candidates, (ceil(4.0 * top_k / 100) * 100)::integer);
  skip_left integer := 0;
BEGIN
  SELECT * INTO target FROM s3vl._query_page_target(caller, query_vector, index_name, index_arn,
                                                    metadata_filter);
  plan_keys := s3vl._where_plan_keys(caller, source, key_column, predicate, top_k, strategy);
  IF plan_keys IS NOT NULL THEN
    RETURN QUERY SELECT * FROM s3vl._query_prefilter(caller, query_vector, target.target_arn,
                                                     top_k, metadata_filter, plan_keys);
    RETURN;
  END IF;
  LOOP
    pages := s3vl._where_pages(top_k, pg_catalog.jsonb_array_length(kept), examined, skip_left,
      coalesce(seen_page, 100), target.max_pages, max_candidates);
    answer := s3vl._query_page(caller, query_vector, target.target_arn, query_top_k,
                               metadata_filter, token, pages);
    calls := calls + 1;
    token := answer ->> 'next_token';
    page := s3vl._where_page(caller, answer, examined, skip_left);
    got := pg_catalog.jsonb_array_length(answer -> 'vectors');
    seen_page := CASE WHEN token IS NULL THEN seen_page
                      ELSE greatest(1, seen_page, got / pages) END;
    skip_left := greatest(skip_left - got, 0);
    examined := examined + pg_catalog.jsonb_array_length(page);
    kept := s3vl._where_passed(source, key_column, predicate, key_type, page, kept);
    IF pg_catalog.jsonb_array_length(kept) < top_k AND token IS NULL
       AND query_top_k < max_candidates AND examined >= query_top_k THEN
      -- The short query ran dry (it returned all its topK): ask again, wider.
      skip_left := examined;
      query_top_k := max_candidates;
      CONTINUE;
    END IF;
    EXIT WHEN pg_catalog.jsonb_array_length(kept) >= top_k OR token IS NULL
              OR examined >= max_candidates;
  END LOOP;
  PERFORM s3vl._where_report(caller, pg_catalog.jsonb_array_length(kept), top_k, examined,
                             max_candidates, calls, token IS NULL);
  RETURN QUERY SELECT * FROM s3vl._where_rows(kept, top_k);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.query_vectors_where(
  query_vector float8[],
  source regclass,
  key_column name,
  predicate text DEFAULT NULL,
  index_name text DEFAULT NULL,
  index_arn text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  max_candidates integer DEFAULT 10000,
  strategy text DEFAULT 'auto')
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE sql VOLATILE SECURITY INVOKER
AS $$
  SELECT * FROM s3vl._query_where('s3vl.query_vectors_where', query_vector, source, key_column,
                                  predicate, top_k, index_name, index_arn, metadata_filter,
                                  max_candidates, strategy)
$$;
COMMENT ON FUNCTION s3vl.query_vectors_where(float8[], regclass, name, text, text, text, integer,
                                             jsonb, integer, text) IS
  's3vl: the top_k nearest vectors whose key is a row of source passing predicate (caller''s '
  'rights; strategy: prefilter, iterative or auto)';

-- One rank_vectors invocation (docs/protocol.md): the exact top_k among keys, by the index's
-- metric, with metadata_filter applied by the function.
CREATE OR REPLACE FUNCTION s3vl._rank_request(index_arn text, query_vector float8[],
  vector_ids text[], top_k integer, return_metadata boolean, metadata_filter jsonb)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object(
           'operation', 'rank_vectors', 'index_arn', index_arn,
           'query_vector', pg_catalog.array_to_json(query_vector),
           'vector_ids', pg_catalog.array_to_json(vector_ids), 'top_k', top_k,
           'return_metadata', return_metadata, 'metadata_filter', metadata_filter))
$$;

-- The prefilter plan's invocation (definer: it reaches aws_lambda). Takes values only; keys
-- that cannot be vector keys (empty, too long) cannot match and are left out.
CREATE OR REPLACE FUNCTION s3vl._query_prefilter(caller text, query_vector float8[],
  index_arn text, top_k integer, metadata_filter jsonb, vector_ids text[])
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  target record;
  ids text[];
  answer jsonb;
BEGIN
  PERFORM s3vl._check_range(caller, 'top_k', top_k);
  SELECT * INTO target FROM s3vl._query_page_target(caller, query_vector, NULL, index_arn,
                                                    metadata_filter);
  ids := ARRAY(SELECT DISTINCT k FROM pg_catalog.unnest(vector_ids) k
               WHERE pg_catalog.length(k) BETWEEN 1 AND s3vl._limit('vector_id_length'));
  IF pg_catalog.cardinality(ids) > s3vl._limit('prefilter_max_keys') THEN
    RAISE EXCEPTION '%: more than prefilter_max_keys (%) keys to rank', caller,
      s3vl._limit('prefilter_max_keys') USING ERRCODE = '22023';
  END IF;
  IF pg_catalog.cardinality(ids) = 0 THEN
    RAISE DEBUG '%: plan prefilter: 0 keys pass, no invocation', caller;
    RETURN;
  END IF;
  answer := s3vl._invoke(caller, s3vl._rank_request(target.target_arn, query_vector, ids, top_k,
                                                    true, metadata_filter));
  IF pg_catalog.jsonb_typeof(answer -> 'vectors') IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION '%: the Lambda function answered a rank_vectors result that is not '
                    '{"vectors": [...]}', caller USING ERRCODE = 'SV007',
      DETAIL = 'got: ' || pg_catalog.left(coalesce(answer::text, 'NULL'), 200);
  END IF;
  RAISE DEBUG '%: plan prefilter: % rows from % keys (% found) with % GetVectors calls in 1 '
              'invocation', caller, pg_catalog.jsonb_array_length(answer -> 'vectors'),
    pg_catalog.cardinality(ids), answer ->> 'examined', answer ->> 'calls';
  RETURN QUERY
    SELECT r.v ->> 'vector_id', (r.v ->> 'distance')::float8,
           (r.v ->> 'similarity_score')::float8, coalesce(r.v -> 'metadata', '{}'::jsonb)
    FROM pg_catalog.jsonb_array_elements(answer -> 'vectors') WITH ORDINALITY AS r(v, n)
    ORDER BY r.n;
END
$$;


-- query_vectors_where with a phrase (text in, rows out; docs/embeddings.md): embedded once with
-- the index's model (s3vl._embed_for, 30_api/72_embeddings.sql; cached), then the vector form
-- with the caller's rights (its predicate runs as the caller). plpgsql: _embed_for is created
-- after this file.
CREATE OR REPLACE FUNCTION s3vl.query_vectors_where(
  query_text text,
  source regclass,
  key_column name,
  predicate text DEFAULT NULL,
  index_name text DEFAULT NULL,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  max_candidates integer DEFAULT 10000,
  strategy text DEFAULT 'auto')
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
BEGIN
  RETURN QUERY SELECT * FROM s3vl.query_vectors_where(
    s3vl._embed_for('s3vl.query_vectors_where', query_text, index_name), source, key_column,
    predicate, index_name, NULL::text, top_k, metadata_filter, max_candidates, strategy);
END
$$;

COMMENT ON FUNCTION s3vl.query_vectors_where(text, regclass, name, text, text, integer, jsonb,
                                             integer, text) IS
  's3vl: the top_k nearest to a phrase among rows of source that satisfy predicate';
