#!/usr/bin/env bash
# The one command: from parameters.json to a database where s3vl.query_vectors answers.
# Runs the steps of docs/deploy.md in order and stops at the first one that fails.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() {
  cat >&2 <<'TXT'
usage: scripts/deploy.sh [options] [--skip-associate-role]
  Packages and uploads the function, creates or updates the stack, makes the TextSearch keys
  searchable, associates the invoke role with the cluster, installs the s3vl schema, configures
  it, registers the index and validates.
  --skip-associate-role  the cluster already has a Lambda role that may invoke the function
  --pgtle                install s3vl as an extension through pg_tle (or S3VL_PGTLE=1)
TXT
}

skip_role=0
parse_common_args "$@"
set -- "${REMAINING_ARGS[@]+"${REMAINING_ARGS[@]}"}"
REMAINING_ARGS=()
for arg in "$@"; do
  case "${arg}" in
    --skip-associate-role) skip_role=1 ;;
    --pgtle) export S3VL_PGTLE=1 ;;
    *) REMAINING_ARGS+=("${arg}") ;;
  esac
done
reject_unknown_args
resolve_region

step_gather_cluster_details
step_deploy_stack
step_configure_text_search
if [[ "${skip_role}" == 1 ]]; then
  log "step associate-role skipped (--skip-associate-role)"
else
  step_associate_role
fi
step_install_schema
step_configure
step_register_index
step_validate
stack_output index_name IndexName
if [[ "${DRY_RUN}" == 1 ]]; then
  log "deploy.sh: dry run done; nothing was run or checked"
  exit 0
fi
log "deploy.sh: done. Try: psql -c \"SELECT * FROM s3vl.query_vectors('${index_name}', <your vector>, 5)\""
