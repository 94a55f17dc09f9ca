-- The public API of schema s3vl (docs/sql-reference.md, "The API convention (1.0)"): every
-- function a role may execute, with its identity arguments, result, volatility, security and
-- the roles granted EXECUTE. Any change to the surface shows here as a diff; after an intended
-- change: S3VL_REGRESS_UPDATE=1 .venv/bin/pytest tests/sql/test_regress.py
-- One line per function (a new one is one added line): arguments with their defaults.
\pset null '(null)'
\pset format unaligned
\pset fieldsep ' | '
SELECT p.proname AS function,
       pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
       pg_catalog.pg_get_function_result(p.oid) AS result,
       CASE WHEN t.typtype = 'c' THEN (
         SELECT pg_catalog.string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid,
                                      a.atttypmod), ', ' ORDER BY a.attnum)
         FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END
         AS row_type_columns,
       CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END
         AS volatility,
       CASE WHEN p.prosecdef THEN 'definer' ELSE 'invoker' END AS security,
       (SELECT pg_catalog.string_agg(x.grantee::regrole::text, ', ' ORDER BY x.grantee::regrole::text)
        FROM pg_catalog.aclexplode(p.proacl) AS x
        WHERE x.privilege_type = 'EXECUTE' AND x.grantee <> p.proowner) AS executed_by
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_type t ON t.oid = p.prorettype
WHERE p.pronamespace = 's3vl'::regnamespace AND p.proname !~ '^_'
ORDER BY p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid);
