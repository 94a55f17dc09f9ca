-- query_vectors_where: argument errors before any invocation (the predicate is compiled, with
-- the caller's privileges, before the first call).
\pset null '(null)'
CREATE TABLE public.items (id text PRIMARY KEY, price numeric, stock int);
\x on
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2, 0.3], 'public.items', 'id', 'price < 10', top_k => 0, index_name => 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2, 0.3], 'public.items', 'id', 'price < 10', top_k => 20, index_name => 'demo', max_candidates => 10)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2, 0.3], 'public.items', 'id', 'price < 10', index_name => 'demo', max_candidates => 10001)$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2, 0.3], 'public.items', 'no_such_column', 'price < 10', index_name => 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2, 0.3], 'public.items', 'id', 'price <', index_name => 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2, 0.3], 'public.items', 'id', 'price + 1', index_name => 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2, 0.3], 'public.items', 'id', 'no_such_column > 1', index_name => 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(NULL::float8[], 'public.items', 'id', index_name => 'demo')$$);
-- An untyped NULL picks the text form (query_text, 72_embeddings.sql): text is PostgreSQL's preferred type.
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(NULL, 'public.items', 'id', index_name => 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2], 'public.items', 'id', index_name => 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2, 0.3], NULL, 'id', index_name => 'demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors_where(ARRAY[0.1, 0.2, 0.3], 'public.items', 'id')$$);
\x off
SELECT regress.invocations() AS invocations_after_argument_errors;
