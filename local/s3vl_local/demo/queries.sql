-- The demo queries `make demo` runs through psql. :'q1' etc. are query phrases in demo.queries.
\pset footer off
\pset null '(null)'

\echo
\echo '== 0. Text in, rows out: the phrase is embedded (Bedrock, the index''s model) and searched in one call'
SELECT v.vector_id AS product, v.metadata->>'name' AS name, v.metadata->>'category' AS category,
       round(v.distance::numeric, 4) AS distance
FROM s3vl.semantic_search('wireless earbuds', 'products', top_k => 5) AS v;

\echo
\echo '== 0b. The same with a filter and the catalogue: in stock, under $500'
SELECT p.product_id AS product, p.name, p.price, p.stock, round(v.distance::numeric, 4) AS distance
FROM s3vl.semantic_search('espresso for a small kitchen', 'products', top_k => 5,
                          metadata_filter => '{"price": {"$lt": 500}, "stock": {"$gt": 0}}') AS v
JOIN demo.products p ON p.product_id = v.vector_id
ORDER BY v.distance;

\echo
\echo '== 1. Plain similarity search: the 5 products nearest to' :'q1'
SELECT v.vector_id AS product, v.metadata->>'name' AS name, v.metadata->>'category' AS category,
       round(v.distance::numeric, 4) AS distance
FROM demo.queries q,
     s3vl.query_vectors(q.embedding, index_name => 'products', top_k => 5) AS v
WHERE q.phrase = :'q1'
ORDER BY v.distance;

\echo
\echo '== 2. Metadata filter in S3 Vectors: outdoor products under $200 nearest to' :'q2'
SELECT v.vector_id AS product, v.metadata->>'name' AS name,
       (v.metadata->>'price')::numeric AS price, round(v.distance::numeric, 4) AS distance
FROM demo.queries q,
     s3vl.query_vectors(q.embedding, index_name => 'products', top_k => 5,
                        metadata_filter => '{"category": "outdoor", "price": {"$lt": 200}}')
       AS v
WHERE q.phrase = :'q2'
ORDER BY v.distance;

\echo
\echo '== 3. The blog''s CTE: 10 nearest to' :'q3' 'joined with the catalogue, in stock and under $500'
WITH nearest AS (
  SELECT v.vector_id, v.distance
  FROM demo.queries q,
       s3vl.query_vectors(q.embedding, index_name => 'products', top_k => 10) AS v
  WHERE q.phrase = :'q3'
)
SELECT p.product_id AS product, p.name, p.price, p.stock, p.tenant,
       round(s.distance::numeric, 4) AS distance
FROM nearest s
JOIN demo.products p ON p.product_id = s.vector_id
WHERE p.stock > 0 AND p.price < 500
ORDER BY s.distance;

\echo
\echo '== 3b. The same question with s3vl.query_vectors_where: the 10 nearest that ARE in stock and under $500'
\echo '       (reads neighbours page by page until 10 pass the predicate, instead of filtering a fixed 10)'
SELECT w.key AS product, p.name, p.price, p.stock, p.tenant, round(w.distance::numeric, 4) AS distance
FROM demo.queries q,
     s3vl.query_vectors_where(q.embedding, 'demo.products', 'product_id',
                              predicate => 'stock > 0 AND price < 500', top_k => 10,
                              index_name => 'products') AS w
JOIN demo.products p ON p.product_id = w.key
WHERE q.phrase = :'q3'
ORDER BY w.distance;

\echo
\echo '== 4. Per-tenant search: tenant acme only, nearest to' :'q4'
SELECT v.vector_id AS product, v.metadata->>'name' AS name, v.metadata->>'tenant' AS tenant,
       round(v.distance::numeric, 4) AS distance
FROM demo.queries q,
     s3vl.query_vectors(q.embedding, index_name => 'products', top_k => 5,
                        metadata_filter => '{"tenant": "acme"}') AS v
WHERE q.phrase = :'q4'
ORDER BY v.distance;

\echo
\echo '== 5. Vector search alone: the 5 products nearest to' :'q5' '(no' :'brand' 'product among them)'
SELECT v.vector_id AS product, v.metadata->>'name' AS name, round(v.distance::numeric, 4) AS distance
FROM demo.queries q,
     s3vl.query_vectors(q.embedding, index_name => 'products', top_k => 5) AS v
WHERE q.phrase = :'q5'
ORDER BY v.distance;

\echo
\echo '== 6. Full-text search (BM25) on name and description:' :'brand' '+' :'topic'
SELECT t.vector_id AS product, t.metadata->>'name' AS name, round(t.text_score::numeric, 4) AS bm25
FROM s3vl.search_text(jsonb_build_object('name', :'brand', 'description', :'topic'),
                      index_name => 'products', top_k => 5) AS t
ORDER BY t.text_score DESC, t.vector_id;

\echo
\echo '== 7. Hybrid search (vector + text, fused by RRF):' :'q5' '+' :'brand' '+' :'topic'
SELECT h.vector_id AS product, h.metadata->>'name' AS name, round(h.fused_score::numeric, 4) AS fused,
       round(h.distance::numeric, 4) AS distance, round(h.text_score::numeric, 4) AS bm25
FROM demo.queries q,
     s3vl.hybrid_search(q.embedding, jsonb_build_object('name', :'brand', 'description', :'topic'),
                        index_name => 'products', top_k => 5) AS h
WHERE q.phrase = :'q5'
ORDER BY h.fused_score DESC, h.vector_id;
