-- list_vectors for a caller bound by a vector policy (issue 19 items 6 and 7). The policy hides
-- vectors after the service paged them, so a plain page could be short or empty and still carry
-- a token (its count of missing rows is the number of hidden vectors), and its token continues
-- after the page's last key, which may be a hidden one (a token that encodes it, as the
-- emulator's did, would show it). So a bound caller's page is filled internally: each ListVectors
-- call asks for exactly the rows still missing, until max_results matching vectors are in hand or
-- the listing ends. A page then has max_results rows, or fewer only when it is the last (no
-- token), and the token handed out always continues after a vector the caller sees (the last
-- call's rows all matched). The price is more invocations for a caller that sees few vectors of
-- a large index; one page is bounded by timeout_seconds (SV003 beyond).
CREATE OR REPLACE FUNCTION s3vl._list_bound_page(caller text, index_arn text, max_results integer,
  next_token text, return_data boolean, return_metadata boolean, segment_count integer,
  segment_index integer, OUT vectors jsonb, OUT page_next_token text, OUT page_count integer)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  deadline constant timestamptz := pg_catalog.clock_timestamp()
    + (s3vl._config(caller)).timeout_seconds * interval '1 second';
  part record;
  calls integer := 0;
BEGIN
  vectors := '[]'::jsonb;
  page_next_token := next_token;
  LOOP
    SELECT * INTO part FROM s3vl._list_page(caller, index_arn,
      max_results - pg_catalog.jsonb_array_length(vectors), page_next_token, return_data,
      return_metadata, segment_count, segment_index);
    calls := calls + 1;
    vectors := vectors || part.vectors;
    page_next_token := part.page_next_token;
    EXIT WHEN page_next_token IS NULL OR pg_catalog.jsonb_array_length(vectors) >= max_results;
    IF pg_catalog.clock_timestamp() > deadline THEN
      RAISE EXCEPTION '%: filling a page of % vectors this role may see took more than '
                      'timeout_seconds (% ListVectors calls)', caller, max_results, calls
        USING ERRCODE = 'SV003',
              HINT = 'Most vectors of this index are outside the role''s policy; an index per '
                     'tenant avoids scanning them (docs/security.md).';
    END IF;
  END LOOP;
  page_count := pg_catalog.jsonb_array_length(vectors);
END
$$;
