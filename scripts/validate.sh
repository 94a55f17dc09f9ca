#!/usr/bin/env bash
# Step 8: check the function, s3vl.validate_config() and one s3vl.query_vectors call.
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/validate.sh [options]  - Step 8: check the function, s3vl.validate_config() and one s3vl.query_vectors call." >&2; }

parse_common_args "$@"
reject_unknown_args
resolve_region
step_validate
log "validate.sh: done"
