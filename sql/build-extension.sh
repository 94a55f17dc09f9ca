#!/usr/bin/env bash
# Build the s3vl extension from the same files install.sql runs, or install it.
#   bash sql/build-extension.sh build     -> build/extension/{s3vl.control, s3vl--<v>.sql, upgrades}
#   bash sql/build-extension.sh install   -> copies them into `pg_config --sharedir`/extension
# Environment: PG_CONFIG (default: pg_config on PATH), S3VL_EXTENSION_REQUIRES (default empty;
# set it to aws_lambda on a server that ships aws_lambda as an extension, so CASCADE installs it).
# Without requires, the script itself checks that aws_lambda.invoke exists and says how to get it.
set -euo pipefail

SQL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SQL_DIR")"
OUT_DIR="${S3VL_EXTENSION_OUT:-$REPO_ROOT/build/extension}"
HISTORY_DIR="$SQL_DIR/extension/history"

# Install order: the \ir lines of install.sql (one list for both paths).
mapfile -t PARTS < <(sed -n 's/^\\ir \(.*\.sql\)$/\1/p' "$SQL_DIR/install.sql")
VERSION="$(sed -n "s/^AS \\\$\\\$ SELECT '\([0-9][0-9.]*\)'::text \\\$\\\$;\$/\1/p" "$SQL_DIR/10_core/00_schema.sql")"
if [[ -z "$VERSION" || ${#PARTS[@]} -eq 0 ]]; then
  echo "build-extension.sh: cannot read the version from 10_core/00_schema.sql or the parts from install.sql" >&2
  exit 1
fi

script_body() {
  echo "-- s3vl $VERSION, built by sql/build-extension.sh from the sql/ files install.sql lists; do not edit."
  printf '%s\n' '\echo Use "CREATE EXTENSION s3vl" to load this file. \quit'
  # Lets triggers tell this script's own statements from a restore's (extension/dump.sql).
  echo "SELECT pg_catalog.set_config('s3vl.extension_script', 'on', true);"
  for part in "${PARTS[@]}" extension/dump.sql; do
    echo
    echo "-- ==== $part"
    cat "$SQL_DIR/$part"
  done
  echo "SELECT pg_catalog.set_config('s3vl.extension_script', 'off', true);"
}

build() {
  mkdir -p "$OUT_DIR"
  rm -f "$OUT_DIR"/s3vl*.sql "$OUT_DIR/s3vl.control"
  {
    echo "# s3vl: SQL over Amazon S3 Vectors through an AWS Lambda function"
    echo "comment = 's3vl: SQL over Amazon S3 Vectors through an AWS Lambda function'"
    echo "default_version = '$VERSION'"
    echo "relocatable = false"
    echo "superuser = true"
    if [[ -n "${S3VL_EXTENSION_REQUIRES:-}" ]]; then
      echo "requires = '${S3VL_EXTENSION_REQUIRES}'"
    fi
  } > "$OUT_DIR/s3vl.control"
  script_body > "$OUT_DIR/s3vl--$VERSION.sql"
  # Every file is idempotent, so the full script is also the upgrade from any earlier version.
  shopt -s nullglob
  for old in "$HISTORY_DIR"/s3vl--*.sql; do
    old_version="$(basename "$old" .sql)"
    old_version="${old_version#s3vl--}"
    [[ "$old_version" == "$VERSION" ]] && continue
    cp "$old" "$OUT_DIR/s3vl--$old_version.sql"
    script_body > "$OUT_DIR/s3vl--$old_version--$VERSION.sql"
  done
  echo "built s3vl $VERSION in $OUT_DIR"
  find "$OUT_DIR" -maxdepth 1 -name 's3vl*' -printf '  %f\n' | sort
}

install_files() {
  build
  local pg_config="${PG_CONFIG:-pg_config}"
  local target
  target="$("$pg_config" --sharedir)/extension"
  command install -m 0644 "$OUT_DIR"/s3vl.control "$OUT_DIR"/s3vl--*.sql "$target/"
  echo "installed s3vl $VERSION into $target"
}

case "${1:-}" in
  build) build ;;
  install) install_files ;;
  *) echo "usage: bash sql/build-extension.sh build|install" >&2; exit 2 ;;
esac
