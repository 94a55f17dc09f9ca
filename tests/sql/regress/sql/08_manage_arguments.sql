-- Management by filter and metadata patches: argument errors (none invokes the function).
\pset null '(null)'
\x on
SELECT * FROM regress.try($$SELECT s3vl.count_vectors(NULL)$$);
SELECT * FROM regress.try($$SELECT s3vl.count_vectors('no-such-index')$$);
SELECT * FROM regress.try($$SELECT s3vl.count_vectors('demo', '{}')$$);
SELECT * FROM regress.try($$SELECT s3vl.count_vectors('demo', '[1]')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors_where('demo', '"x"')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.list_vectors_where('demo', NULL, NULL)$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors_where('demo', NULL)$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors_where('demo', '{}', dry_run => false)$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors_where('demo', '{"genre": "news"}', delete_all => true)$$);
SELECT * FROM regress.try($$SELECT s3vl.delete_vectors_where('demo', '{"genre": "news"}', dry_run => NULL)$$);
SELECT * FROM regress.try($$SELECT s3vl.update_metadata(index_name => 'demo', vector_ids => ARRAY['doc-1'], patch => NULL)$$);
SELECT * FROM regress.try($$SELECT s3vl.update_metadata(index_name => 'demo', vector_ids => ARRAY['doc-1'], patch => '[1]')$$);
SELECT * FROM regress.try($$SELECT s3vl.update_metadata(index_name => 'demo', vector_ids => ARRAY[]::text[], patch => '{"a": 1}')$$);
SELECT * FROM regress.try($$SELECT s3vl.update_metadata(index_name => 'demo', vector_ids => ARRAY['doc-1', ''], patch => '{"a": 1}')$$);
SELECT * FROM regress.try($$SELECT s3vl.update_metadata(index_name => 'no-such-index', vector_ids => ARRAY['doc-1'], patch => '{"a": 1}')$$);
\x off
SELECT regress.invocations() AS invocations;
