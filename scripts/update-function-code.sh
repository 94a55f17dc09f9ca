#!/usr/bin/env bash
# Step 4: upload new function code and move the live alias to it through the stack.
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/update-function-code.sh [options]  - Step 4: upload new function code and move the live alias to it through the stack." >&2; }

parse_common_args "$@"
reject_unknown_args
resolve_region
step_update_function_code
log "update-function-code.sh: done"
