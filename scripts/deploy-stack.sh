#!/usr/bin/env bash
# Step 2: package and upload the function, then create or update the CloudFormation stack.
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/deploy-stack.sh [options]  - Step 2: package and upload the function, then create or update the CloudFormation stack." >&2; }

parse_common_args "$@"
reject_unknown_args
resolve_region
step_deploy_stack
log "deploy-stack.sh: done"
