#!/usr/bin/env bash
# Step 5: install or upgrade the s3vl schema (and the aws_lambda extension) with psql.
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/install-schema.sh [options]  - Step 5: install or upgrade the s3vl schema (and the aws_lambda extension) with psql." >&2; }

parse_common_args "$@"
reject_unknown_args
resolve_region
step_install_schema
log "install-schema.sh: done"
