#!/usr/bin/env bash
# Step 5: install or upgrade the s3vl schema (and the aws_lambda extension) with psql.
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/install-schema.sh [--pgtle] [options]  - Step 5: install or upgrade the s3vl schema (and the aws_lambda extension) with psql. --pgtle (or S3VL_PGTLE=1; scripts/deploy.sh --pgtle does the same): register s3vl with pg_tle, then CREATE EXTENSION s3vl CASCADE (or ALTER EXTENSION s3vl UPDATE) instead." >&2; }

# --pgtle is this script's own option (step_install_schema reads S3VL_PGTLE); the rest are common.
args=()
for arg in "$@"; do
  if [[ "$arg" == "--pgtle" ]]; then export S3VL_PGTLE=1; else args+=("$arg"); fi
done
parse_common_args "${args[@]+"${args[@]}"}"
reject_unknown_args
resolve_region
step_install_schema
log "install-schema.sh: done"
