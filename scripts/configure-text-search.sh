#!/usr/bin/env bash
# Step 2b: make the metadata keys of the TextSearch parameter full-text searchable on the stack's
# index (index mode ENHANCED, one text search configuration per key). Only what is missing is
# changed; --dry-run prints the commands. scripts/deploy.sh runs it right after the stack.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() {
  cat >&2 <<'TXT'
usage: scripts/configure-text-search.sh [options]
  Reads TextSearch from the parameters file ("name:en,description:en,sku": metadata key, then
  an optional language en fr es pt it de nl zh ja ko; none = the standard analyzer), reads the
  index (aws s3vectors get-index), then runs only the missing
  aws s3vectors update-index-mode --index-mode ENHANCED and
  aws s3vectors update-metadata-configuration --add {"textSearchConfigurations": [...]}.
TXT
}

parse_common_args "$@"
reject_unknown_args
resolve_region
stack_exists || { CURRENT_STEP="configure-text-search"; die "stack ${STACK_NAME} does not exist in ${REGION}; deploy it first (scripts/deploy-stack.sh)"; }
step_configure_text_search
log "configure-text-search.sh: done"
