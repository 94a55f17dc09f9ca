-- Configuration and registry errors.
\pset null '(null)'
\x on
SELECT * FROM regress.try($$SELECT s3vl.configure('not-an-arn')$$);
SELECT * FROM regress.try($$SELECT s3vl.configure('arn:aws:lambda:us-east-1:123456789012:function:f', timeout_seconds => 0)$$);
SELECT * FROM regress.try($$SELECT s3vl.configure('arn:aws:lambda:us-east-1:123456789012:function:f', timeout_seconds => 100000)$$);
SELECT * FROM regress.try($$SELECT s3vl.register_index('x', 'arn:aws:s3:::bucket')$$);
SELECT * FROM regress.try($$SELECT s3vl.register_index('', 'arn:aws:s3vectors:us-east-1:123456789012:bucket/b1/index/i1')$$);
SELECT * FROM regress.try($$SELECT s3vl.register_index('demo', 'arn:aws:s3vectors:us-east-1:123456789012:bucket/b1/index/other')$$);
SELECT * FROM regress.try($$SELECT s3vl.unregister_index('no-such-index')$$);
SELECT * FROM regress.try($$SELECT s3vl.activate_index('no-such-index')$$);
SELECT * FROM regress.try($$SELECT s3vl.deactivate_index('demo')$$);
SELECT * FROM regress.try($$SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3], 'demo')$$);
SELECT * FROM regress.try($$SELECT s3vl.activate_index('demo')$$);
SELECT * FROM regress.try($$SELECT s3vl.set_cache('no-such-index', '1 minute')$$);
SELECT * FROM regress.try($$SELECT s3vl.set_cache('demo', '-1 minute')$$);
\x off
SELECT regress.invocations() AS invocations;
