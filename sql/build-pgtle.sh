#!/usr/bin/env bash
# Build the pg_tle registration script for Aurora PostgreSQL / RDS (no file system access there):
#   bash sql/build-pgtle.sh   (or make pgtle) -> build/pgtle/s3vl-pgtle.sql
# The extension body is made from the same files, in the same order, as sql/build-extension.sh
# makes the extension script: the \ir list of sql/install.sql, then sql/extension/dump.sql. The
# script registers the current version (requires aws_lambda), an update path into it from every
# released version (sql/extension/history), and the default version. Running it again replaces
# what it registered. Then: CREATE EXTENSION s3vl CASCADE (first install) or
# ALTER EXTENSION s3vl UPDATE (upgrade). Environment: S3VL_PGTLE_OUT (output directory).
set -euo pipefail

SQL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SQL_DIR")"
OUT_DIR="${S3VL_PGTLE_OUT:-$REPO_ROOT/build/pgtle}"
HISTORY_DIR="$SQL_DIR/extension/history"
NAME=s3vl
DELIMITER='$_pgtle_$'

# Install order: the \ir lines of install.sql (the layout may put the files in folders).
mapfile -t PARTS < <(sed -n 's/^\\ir \(.*\.sql\)$/\1/p' "$SQL_DIR/install.sql")
if [[ ${#PARTS[@]} -eq 0 ]]; then
  echo "build-pgtle.sh: no \\ir lines in $SQL_DIR/install.sql" >&2
  exit 1
fi
# The version: the body of s3vl.version(), in whichever part defines it.
VERSION=""
for part in "${PARTS[@]}"; do
  VERSION="$(sed -n "s/^AS \\\$\\\$ SELECT '\([0-9][0-9.]*\)'::text \\\$\\\$;\$/\1/p" "$SQL_DIR/$part" | head -n 1)"
  [[ -n "$VERSION" ]] && break
done
if [[ -z "$VERSION" ]]; then
  echo "build-pgtle.sh: cannot find s3vl.version() in the parts of install.sql" >&2
  exit 1
fi

# The extension body: what CREATE EXTENSION runs (no psql meta-command, no delimiter).
body() {
  echo "-- s3vl $VERSION, built by sql/build-pgtle.sh from sql/*.sql; do not edit."
  # Lets triggers tell this script's own statements from a restore's (extension/dump.sql).
  echo "SELECT pg_catalog.set_config('s3vl.extension_script', 'on', true);"
  for part in "${PARTS[@]}" extension/dump.sql; do
    echo
    echo "-- ==== $part"
    cat "$SQL_DIR/$part"
  done
  echo "SELECT pg_catalog.set_config('s3vl.extension_script', 'off', true);"
}

check_body() {
  local text="$1"
  if grep -qF -- "$DELIMITER" <<<"$text"; then
    echo "build-pgtle.sh: the SQL contains the pg_tle delimiter $DELIMITER" >&2
    exit 1
  fi
  if grep -qE '^[[:space:]]*\\' <<<"$text"; then
    echo "build-pgtle.sh: the SQL contains a psql meta-command:" >&2
    grep -nE '^[[:space:]]*\\' <<<"$text" | head -n 3 >&2
    exit 1
  fi
}

released_versions() {
  shopt -s nullglob
  local old v
  for old in "$HISTORY_DIR"/s3vl--*.sql; do
    v="$(basename "$old" .sql)"
    v="${v#s3vl--}"
    [[ "$v" == *--* || "$v" == "$VERSION" ]] && continue
    echo "$v"
  done | sort -V
}

script() {
  local text="$1" old
  mapfile -t OLD < <(released_versions)
  cat <<SQL
-- s3vl $VERSION for pg_tle (Trusted Language Extensions: Aurora PostgreSQL, RDS for PostgreSQL),
-- built by sql/build-pgtle.sh; do not edit. Run it as a member of pgtle_admin (rds_superuser) in
-- the database, then CREATE EXTENSION s3vl CASCADE (or ALTER EXTENSION s3vl UPDATE).
-- Registers s3vl $VERSION (requires aws_lambda), update paths from ${OLD[*]:-no earlier version},
-- and $VERSION as the default version. Running it again replaces what it registered.
BEGIN;

DO \$s3vl_pgtle\$
BEGIN
  IF pg_catalog.to_regnamespace('pgtle') IS NULL THEN
    RAISE EXCEPTION 's3vl pg_tle install: pg_tle is not installed in this database'
      USING ERRCODE = '55000',
            HINT = 'Add pg_tle to shared_preload_libraries (the DB parameter group), then '
                   'CREATE EXTENSION pg_tle; as rds_superuser.';
  END IF;
END
\$s3vl_pgtle\$;

-- Replace what an earlier run registered (pg_tle refuses to register a version twice).
SQL
  for old in "${OLD[@]}"; do
    echo "SELECT pgtle.uninstall_update_path_if_exists('$NAME', '$old', '$VERSION');"
  done
  cat <<SQL
DO \$s3vl_pgtle\$
BEGIN
  IF EXISTS (SELECT 1 FROM pgtle.available_extension_versions() v
             WHERE v.name = '$NAME' AND v.version = '$VERSION') THEN
    PERFORM pgtle.uninstall_extension('$NAME', '$VERSION');
  END IF;
END
\$s3vl_pgtle\$;

SELECT pgtle.install_extension('$NAME', '$VERSION',
  's3vl: SQL over Amazon S3 Vectors through an AWS Lambda function',
$DELIMITER
$text
$DELIMITER,
  ARRAY['aws_lambda']);
SQL
  for old in "${OLD[@]}"; do
    # Every file is idempotent, so the whole body is also the update from any earlier version.
    cat <<SQL

SELECT pgtle.install_update_path('$NAME', '$old', '$VERSION',
$DELIMITER
$text
$DELIMITER);
SQL
  done
  cat <<SQL

SELECT pgtle.set_default_version('$NAME', '$VERSION');

COMMIT;
SQL
}

TEXT="$(body)"
check_body "$TEXT"
mkdir -p "$OUT_DIR"
script "$TEXT" > "$OUT_DIR/s3vl-pgtle.sql.tmp"
mv "$OUT_DIR/s3vl-pgtle.sql.tmp" "$OUT_DIR/s3vl-pgtle.sql"
echo "built $OUT_DIR/s3vl-pgtle.sql (s3vl $VERSION; update paths from: $(released_versions | paste -sd ' ' -))"
