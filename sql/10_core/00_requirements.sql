-- What s3vl needs from the server, checked before anything is created (install.sql and the
-- extension script both run this file first). The minimum PostgreSQL version is written here
-- once for SQL; scripts/lib/steps.sh (MIN_AURORA_PG_VERSION) and the docs state the same
-- number, and tests/infra/test_versions.py keeps them equal.
DO $requirements$
DECLARE
  minimum constant integer := 13;  -- PostgreSQL / Aurora PostgreSQL major version
  running integer := current_setting('server_version_num')::integer;
BEGIN
  IF running < minimum * 10000 THEN
    RAISE EXCEPTION 's3vl install: PostgreSQL % is too old; s3vl needs PostgreSQL % or later',
      current_setting('server_version'), minimum
      USING ERRCODE = '0A000',
            HINT = format('On Aurora, upgrade the cluster to Aurora PostgreSQL %s or later.',
                          minimum);
  END IF;
END
$requirements$;
