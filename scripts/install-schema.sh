#!/usr/bin/env bash
# Step 5: install or upgrade the s3vl schema (and the aws_lambda extension) with psql.
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/install-schema.sh [--pgtle] [options]  - Step 5: install or upgrade the s3vl schema (and the aws_lambda extension) with psql. --pgtle (or S3VL_PGTLE=1, which scripts/deploy.sh passes on): register s3vl with pg_tle and CREATE EXTENSION s3vl CASCADE instead." >&2; }

# --pgtle is this script's own option; the rest are the common ones.
PGTLE="${S3VL_PGTLE:-0}"
args=()
for arg in "$@"; do
  if [[ "$arg" == "--pgtle" ]]; then PGTLE=1; else args+=("$arg"); fi
done
parse_common_args "${args[@]}"
reject_unknown_args
resolve_region

# pg_tle (Aurora/RDS without file access): register the extension built by `make pgtle`, then
# create it (or update it to the registered default version).
install_with_pgtle() {
  begin_step "install-schema (pg_tle)" \
    "that pg_tle is in shared_preload_libraries and CREATE EXTENSION pg_tle ran, and the user is rds_superuser"
  resolve_database
  bash "${S3VL_REPO_ROOT}/sql/build-pgtle.sh"
  sql -f "${S3VL_REPO_ROOT}/build/pgtle/s3vl-pgtle.sql"
  sql -c "DO \$\$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 's3vl') THEN ALTER EXTENSION s3vl UPDATE; ELSE CREATE EXTENSION s3vl CASCADE; END IF; END \$\$"
  log "extension s3vl installed through pg_tle: version $(sql_query '<version>' 'SELECT s3vl.version()')"
}

if [[ "$PGTLE" == "1" ]]; then
  install_with_pgtle
else
  step_install_schema
fi
log "install-schema.sh: done"
