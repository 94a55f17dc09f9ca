-- query_table with a phrase (text in, rows out; docs/embeddings.md): the phrase is embedded with
-- the model of the index the table is tracked into (s3vl._embed_for, 30_api/72_embeddings.sql),
-- then the vector form runs with the caller's rights.

CREATE OR REPLACE FUNCTION s3vl.query_table(
  source regclass,
  key_column name,
  query_text text,
  top_k integer DEFAULT 10,
  metadata_filter jsonb DEFAULT NULL,
  predicate text DEFAULT NULL,
  max_candidates integer DEFAULT 10000)
RETURNS TABLE (key text, distance float8, similarity_score float8, metadata jsonb)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  idx text;
BEGIN
  PERFORM s3vl._require('s3vl.query_table', 'source', source);
  SELECT st.index_name INTO idx FROM s3vl.sync_tables st WHERE st.source = query_table.source;
  IF NOT FOUND THEN
    RAISE EXCEPTION 's3vl.query_table: table % is not tracked', source
      USING ERRCODE = '42704', HINT = 'Track it with s3vl.track_table(...).';
  END IF;
  RETURN QUERY SELECT * FROM s3vl.query_table(source, key_column,
    s3vl._embed_for('s3vl.query_table', query_text, idx), top_k, metadata_filter, predicate,
    max_candidates);
END
$$;

COMMENT ON FUNCTION s3vl.query_table(regclass, name, text, integer, jsonb, text, integer) IS
  's3vl: the top_k rows of a tracked table nearest to a phrase (no orphaned ids)';
