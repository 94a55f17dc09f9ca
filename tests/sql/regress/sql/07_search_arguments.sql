-- Full-text and hybrid search, index administration: argument errors before any invocation.
\pset null '(null)'
\x on
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text('', 'name', 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text('   ', 'name', 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text(repeat('x', 1025), 'name', 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text('shoes', '', 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text('shoes', repeat('k', 64), 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text('shoes', 'name', 'demo', top_k => 0)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text('{}'::jsonb, 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text('["shoes"]'::jsonb, 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text('{"name": 5}'::jsonb, 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text((SELECT jsonb_object_agg('k' || i, 'x') FROM generate_series(1, 11) i), 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.hybrid_search(ARRAY[0.1, 0.2], 'shoes', 'name', 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.hybrid_search(ARRAY[0.1, 'NaN', 0.3]::float8[], 'shoes', 'name', 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.hybrid_search(ARRAY[0.1, 0.2, 0.3], '', 'name', 'demo')$$);
SELECT * FROM regress.try($$SELECT s3vl.set_index_mode('demo', 'FAST')$$);
SELECT * FROM regress.try($$SELECT s3vl.add_text_search('demo', 'name', 'xx')$$);
SELECT * FROM regress.try($$SELECT s3vl.add_text_search('demo', '', 'en')$$);
SELECT * FROM regress.try($$SELECT s3vl.drop_text_search('demo', NULL)$$);
SELECT * FROM regress.try($$SELECT s3vl.add_text_search('no-such-index', 'name', 'en')$$);
\x off
SELECT regress.invocations() AS invocations_after_argument_errors;
