#!/usr/bin/env bash
# Step 6: point s3vl at the deployed function (s3vl.configure).
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/configure.sh [options]  - Step 6: point s3vl at the deployed function (s3vl.configure)." >&2; }

parse_common_args "$@"
reject_unknown_args
resolve_region
step_configure
log "configure.sh: done"
