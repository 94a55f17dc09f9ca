-- Admission control for Lambda invocations (issue 19): at most N invocations of this database
-- in flight at once, so that sessions queue in the database instead of being throttled by
-- Lambda (429) and retrying. Off by default (retries until the deadline, 30_invoke.sql, are the
-- default); an admin turns it on with s3vl.set_invoke_concurrency(N), N no more than the
-- function's reserved concurrency. A slot is a row of s3vl.invoke_slots that s3vl._send_lambda
-- locks (FOR UPDATE SKIP LOCKED) for one invocation only, inside a block that always ends by
-- rolling back, so the lock is released when the invocation ends, whatever the caller's
-- transaction does afterwards. Only the owner may lock the rows: no role can hold a slot, or
-- block the others, beyond one invocation of its own. bench/bench_load.py measures it against
-- retries alone (docs/security.md).

CREATE OR REPLACE FUNCTION s3vl.set_invoke_concurrency(max_concurrent integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF max_concurrent IS NOT NULL AND max_concurrent <> 0 THEN
    PERFORM s3vl._check_range('s3vl.set_invoke_concurrency', 'max_concurrent', max_concurrent,
                              'invoke_concurrency');
  END IF;
  PERFORM s3vl._config('s3vl.set_invoke_concurrency'::text);  -- 55000 when not configured
  -- The slots (UNLOGGED, so a crash empties them; the install fills them too).
  INSERT INTO s3vl.invoke_slots (slot)
    SELECT g FROM pg_catalog.generate_series(1, s3vl._limit('invoke_concurrency')) g
    ON CONFLICT (slot) DO NOTHING;
  UPDATE s3vl.config c SET max_concurrent_invocations = NULLIF(set_invoke_concurrency.max_concurrent, 0);
  RETURN NULLIF(max_concurrent, 0);
END
$$;
COMMENT ON FUNCTION s3vl.set_invoke_concurrency(integer) IS
  's3vl: admission control: at most max_concurrent Lambda invocations in flight (NULL or 0: off)';
