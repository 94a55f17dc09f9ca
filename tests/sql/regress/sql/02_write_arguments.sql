-- Argument errors of the write functions: nothing is sent, nothing changes.
\pset null '(null)'
\x on
SELECT * FROM regress.try($$SELECT s3vl.put_vector(index_name => 'demo', vector_id => '', vector => ARRAY[0.1, 0.2, 0.3])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector(index_name => 'demo', vector_id => repeat('k', 1025), vector => ARRAY[0.1, 0.2, 0.3])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector(index_name => 'demo', vector_id => 'k1', vector => ARRAY[0.1, 0.2])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector(index_name => 'demo', vector_id => 'k1', vector => ARRAY[0, 0, 0]::float8[])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector(index_name => 'demo', vector_id => 'k1', vector => ARRAY[0.1, 0.2, 0.3], metadata => '[1, 2]')$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vectors(index_name => 'demo', vectors => '{"key": "k"}'::jsonb)$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vectors(index_name => 'demo', vectors => '[{"key": "k", "data": {"float32": [1, 2, 3]}}, {"key": "k", "data": {"float32": [1, 2, 3]}}]'::jsonb)$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vectors(index_name => 'demo', vectors => '[{"data": {"float32": [1, 2, 3]}}]'::jsonb)$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vectors(index_name => 'demo', vectors => '[{"key": "k", "data": {"float32": [1, "x", 3]}}]'::jsonb)$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector_arrays(index_name => 'demo', vector_ids => ARRAY['a', 'b'], vectors => ARRAY[[0.1, 0.2, 0.3]]::float8[])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector_arrays(index_name => 'demo', vector_ids => ARRAY['a'], vectors => ARRAY[0.1, 0.2, 0.3]::float8[])$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors(index_name => 'demo', vector_ids => ARRAY[]::text[])$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors(index_name => 'demo', vector_ids => ARRAY['a', NULL])$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors(index_name => 'demo', vector_ids => ARRAY[repeat('k', 1025)])$$);
\x off
SELECT regress.invocations() AS invocations_after_argument_errors;
