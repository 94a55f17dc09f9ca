-- Argument errors of the write functions: nothing is sent, nothing changes.
\pset null '(null)'
\x on
SELECT * FROM regress.try($$SELECT s3vl.put_vector('demo', '', ARRAY[0.1, 0.2, 0.3])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector('demo', repeat('k', 1025), ARRAY[0.1, 0.2, 0.3])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector('demo', 'k1', ARRAY[0.1, 0.2])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector('demo', 'k1', ARRAY[0, 0, 0]::float8[])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector('demo', 'k1', ARRAY[0.1, 0.2, 0.3], '[1, 2]')$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vectors('demo', '{"key": "k"}'::jsonb)$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vectors('demo', '[{"key": "k", "data": {"float32": [1, 2, 3]}}, {"key": "k", "data": {"float32": [1, 2, 3]}}]'::jsonb)$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vectors('demo', '[{"data": {"float32": [1, 2, 3]}}]'::jsonb)$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vectors('demo', '[{"key": "k", "data": {"float32": [1, "x", 3]}}]'::jsonb)$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector_arrays('demo', ARRAY['a', 'b'], ARRAY[[0.1, 0.2, 0.3]]::float8[])$$);
SELECT * FROM regress.try($$SELECT s3vl.put_vector_arrays('demo', ARRAY['a'], ARRAY[0.1, 0.2, 0.3]::float8[])$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors('demo', ARRAY[]::text[])$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors('demo', ARRAY['a', NULL])$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors('demo', ARRAY[repeat('k', 1025)])$$);
\x off
SELECT regress.invocations() AS invocations_after_argument_errors;
