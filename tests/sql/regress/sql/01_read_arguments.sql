-- Argument errors of the read functions: each names the function, the argument and the limit,
-- and none of them invokes the function (regress.invocations() stays 0).
\pset null '(null)'
\x on
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', top_k => 0)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', top_k => 10001)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', top_k => NULL)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 'NaN', 0.3]::float8[], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, '-Infinity', 0.3]::float8[], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 1e39, 0.3]::float8[], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, NULL, 0.3]::float8[], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[]::float8[], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(array_fill(0.5::float8, ARRAY[4097]), 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[[1,2],[3,4]]::float8[], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', metadata_filter => '[1]')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', return_metadata => NULL)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3])$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo', index_arn => 'arn:x')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'no-such-index')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], index_arn => 'arn:aws:s3:::bucket')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.get_vectors(ARRAY[]::text[], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.get_vectors(ARRAY['a', NULL], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.get_vectors(ARRAY[repeat('k', 1025)], 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo', max_results => 1001)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo', max_results => 0)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo', segment_count => 17, segment_index => 0)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo', segment_count => 4, segment_index => 4)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors(index_name => 'demo', segment_count => 4)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_batch(index_name => 'demo', query_vectors => '[[0.1, 0.2]]'::jsonb)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_batch(index_name => 'demo', query_vectors => '{}'::jsonb)$$);
\x off
SELECT regress.invocations() AS invocations_after_argument_errors;
