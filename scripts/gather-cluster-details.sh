#!/usr/bin/env bash
# Step 1: check the Aurora cluster (engine, version, VPC) against parameters.json.
# Part of the step-by-step path in docs/deploy.md; scripts/deploy.sh runs every step in order.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() { echo "usage: scripts/gather-cluster-details.sh [options]  - Step 1: check the Aurora cluster (engine, version, VPC) against parameters.json." >&2; }

parse_common_args "$@"
reject_unknown_args
resolve_region
step_gather_cluster_details
log "gather-cluster-details.sh: done"
