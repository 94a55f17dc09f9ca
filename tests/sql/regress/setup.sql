-- Loaded before every regression script (not part of the expected output). regress.try runs
-- one statement and returns its error as a row: SQLSTATE, message, DETAIL and HINT, so the
-- expected files record the whole error surface without psql's stderr interleaving.
CREATE SCHEMA regress;
CREATE FUNCTION regress.try(statement text)
RETURNS TABLE (code text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
DECLARE
  c text; m text; d text; h text;
BEGIN
  EXECUTE statement;
  RETURN QUERY SELECT '00000'::text, 'ok'::text, NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS c = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
                          h = PG_EXCEPTION_HINT;
  RETURN QUERY SELECT c, m, nullif(d, ''), nullif(h, '');
END
$$;
-- How many times aws_lambda.invoke ran: argument checks must leave it at zero. A sequence, not
-- count(*) of canned.calls: regress.try's rollback of a failed statement removes its log rows,
-- but not the sequence steps a trigger on that log took.
CREATE SEQUENCE regress.invocation_count;
CREATE FUNCTION regress.count_invocation() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('regress.invocation_count'); RETURN NEW; END $$;
CREATE TRIGGER count_invocation AFTER INSERT ON canned.calls
  FOR EACH ROW EXECUTE FUNCTION regress.count_invocation();
CREATE FUNCTION regress.invocations() RETURNS bigint
LANGUAGE sql AS $$
  SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM regress.invocation_count
$$;
-- What the canned function answers for an operation ('*' = any other).
CREATE FUNCTION regress.answer(op text, response json) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO canned.answers (operation, response) VALUES (op, response)
  ON CONFLICT (operation) DO UPDATE SET response = EXCLUDED.response, raise_sqlstate = NULL,
    raise_message = NULL, raise_detail = NULL
$$;
CREATE FUNCTION regress.raise(op text, sqlstate text, message text, detail text DEFAULT NULL)
RETURNS void
LANGUAGE sql AS $$
  INSERT INTO canned.answers (operation, response, raise_sqlstate, raise_message, raise_detail)
  VALUES (op, NULL, sqlstate, message, detail)
  ON CONFLICT (operation) DO UPDATE SET response = NULL, raise_sqlstate = EXCLUDED.raise_sqlstate,
    raise_message = EXCLUDED.raise_message, raise_detail = EXCLUDED.raise_detail
$$;
TRUNCATE canned.calls;
