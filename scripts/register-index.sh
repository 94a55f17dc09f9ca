#!/usr/bin/env bash
# Step 7: register the stack's vector index in SQL (s3vl.register_index).
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/register-index.sh [options]  - Step 7: register the stack's vector index in SQL (s3vl.register_index)." >&2; }

parse_common_args "$@"
reject_unknown_args
resolve_region
step_register_index
log "register-index.sh: done"
