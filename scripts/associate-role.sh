#!/usr/bin/env bash
# Step 3: associate the stack's invoke role with the Aurora cluster (feature Lambda).
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/associate-role.sh [options]  - Step 3: associate the stack's invoke role with the Aurora cluster (feature Lambda)." >&2; }

parse_common_args "$@"
reject_unknown_args
resolve_region
step_associate_role
log "associate-role.sh: done"
