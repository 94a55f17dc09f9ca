-- metadata_filter is checked in SQL before any invocation (22023, regress.invocations() stays 0):
-- unknown operators, operands of the wrong type, depth and the number of compared values, for
-- every function that takes a filter. Then the call forms that used to be ambiguous.
\pset null '(null)'
\x on
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"price": {"$gtt": 5}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"$not": {"a": 1}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"price": {"$gt": "5"}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"genre": {"$in": []}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"genre": {"$in": [["a"]]}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"genre": {"$exists": "yes"}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"genre": {"$eq": null}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"genre": {}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"genre": ["a", "b"]}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"$and": []}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{"$or": [{"a": 1}, {"b": {"$lte": true}}]}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '{}')$$);
SELECT * FROM regress.try(format($f$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => %L)$f$,
  jsonb_build_object('id', jsonb_build_object('$in', (SELECT jsonb_agg(i) FROM generate_series(1, 101) i)))));
SELECT * FROM regress.try(format($f$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => %L)$f$,
  repeat('{"$and": [', 20) || '{"a": 1}' || repeat(']}', 20)));
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors('demo', ARRAY[0.1, 0.2, 0.3]::float8[], 3, true, '{"a": {"$gtt": 1}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_batch(ARRAY[[0.1, 0.2, 0.3]]::float8[], 'demo', metadata_filter => '{"a": {"$gtt": 1}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.search_text('trail', 'name', 'demo', metadata_filter => '{"a": {"$gtt": 1}}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.hybrid_search(ARRAY[0.1, 0.2, 0.3], '{"name": "trail"}'::jsonb, 'demo', metadata_filter => '{"a": {"$gtt": 1}}')$$);
-- Two string literals: the index, then the vector; anything else says which form to write.
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors('demo', '{0.1,0.2}')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors('{0.1,0.2,0.3}', 'demo')$$);
\x off
SELECT regress.invocations() AS invocations_after_filter_errors;
SELECT regress.answer('query_vectors', '{"success": true, "result": []}');
SELECT count(*) AS literal_form_rows FROM s3vl.query_vectors('demo', '{0.1,0.2,0.3}');
SELECT count(*) AS literal_form_rows_json_brackets FROM s3vl.query_vectors('demo', '[0.1, 0.2, 0.3]', 5);
SELECT regress.invocations() AS invocations_after_literal_forms;
