-- Tenant policies and index grants: argument errors.
\pset null '(null)'
CREATE ROLE regress_tenant_a;
\x on
SELECT * FROM regress.try($$SELECT s3vl.create_policy('no-such-index', 'regress_tenant_a', '{"tenant": "a"}')$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'no_such_role', '{"tenant": "a"}')$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'regress_tenant_a', NULL)$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'regress_tenant_a', '{}')$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'regress_tenant_a', '[1]')$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'regress_tenant_a', '{"$or": [{"tenant": "a"}]}')$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'regress_tenant_a', '{"tenant": {"$ne": "a"}}')$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'regress_tenant_a', '{"tenant": {"$in": []}}')$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'regress_tenant_a', '{"tenant": {"$setting": ""}}')$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'regress_tenant_a', '{"body": "x"}')$$);
SELECT * FROM regress.try($$SELECT s3vl.create_policy('demo', 'regress_tenant_a', '{"tenant": {"$setting": "app.tenant_id"}}')$$);
SELECT * FROM s3vl.list_policies();
SELECT * FROM regress.try($$SELECT s3vl.drop_policy('demo', 'no_such_role')$$);
SELECT * FROM regress.try($$SELECT s3vl.grant_index('no-such-index', 'regress_tenant_a')$$);
SELECT * FROM regress.try($$SELECT s3vl.revoke_index('demo', 'regress_tenant_a')$$);
SELECT * FROM regress.try($$SELECT s3vl.drop_policy('demo', 'regress_tenant_a')$$);
\x off
SELECT regress.invocations() AS invocations;
DROP ROLE regress_tenant_a;
