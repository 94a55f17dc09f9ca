#!/usr/bin/env bash
# Removes everything deploy.sh created: the s3vl schema, this stack's role association, extra
# indexes in the stack's vector bucket (they would block its deletion), the stack, the uploaded
# code; then checks that nothing is left.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/steps.sh"

usage() {
  cat >&2 <<'TXT'
usage: scripts/cleanup.sh [options] [--keep-schema]
  Drops schema s3vl, removes the stack's role from the cluster (only that role), deletes indexes
  other than the stack's own from its vector bucket, deletes the stack and the uploaded code.
  --keep-schema   leave the s3vl schema in the database
TXT
}

keep_schema=0
parse_common_args "$@"
set -- "${REMAINING_ARGS[@]+"${REMAINING_ARGS[@]}"}"
REMAINING_ARGS=()
for arg in "$@"; do
  case "${arg}" in
    --keep-schema) keep_schema=1 ;;
    *) REMAINING_ARGS+=("${arg}") ;;
  esac
done
reject_unknown_args
resolve_region

stack_present=0
STACK_ROLE_ARN=""
if stack_exists; then stack_present=1; fi

drop_schema() {
  begin_step "drop-schema" "that psql reaches the cluster as the user who installed s3vl"
  if [[ "${keep_schema}" == 1 ]]; then
    log "schema kept (--keep-schema)"
    return 0
  fi
  resolve_database
  if [[ -f "${S3VL_REPO_ROOT}/sql/uninstall.sql" ]]; then
    sql -f "${S3VL_REPO_ROOT}/sql/uninstall.sql"
  else
    sql -c "DROP SCHEMA IF EXISTS s3vl CASCADE"
  fi
}

remove_role() {
  begin_step "remove-role" "that you may call rds:RemoveRoleFromDBCluster on $(cluster_id)"
  local associated role
  role="$(output AuroraInvokeRoleArn)"
  STACK_ROLE_ARN="${role}"
  associated="$(capture "${role}" aws --region "${REGION}" rds describe-db-clusters \
    --db-cluster-identifier "$(cluster_id)" \
    --query "DBClusters[0].AssociatedRoles[?RoleArn=='${role}'].RoleArn | [0]" --output text)"
  if [[ "${associated}" != "${role}" ]]; then
    log "this stack's role is not associated with $(cluster_id); other roles are left alone"
    return 0
  fi
  run aws --region "${REGION}" rds remove-role-from-db-cluster --db-cluster-identifier "$(cluster_id)" \
    --feature-name "${LAMBDA_FEATURE}" --role-arn "${role}"
}

delete_extra_indexes() {
  begin_step "empty-vector-bucket" "that you may call s3vectors:ListIndexes and s3vectors:DeleteIndex on the stack's bucket"
  local bucket own names name
  bucket="$(output VectorBucketName)"
  own="$(output IndexName)"
  names="$(capture "" aws --region "${REGION}" s3vectors list-indexes --vector-bucket-name "${bucket}" \
    --query 'indexes[].indexName' --output text)"
  for name in ${names}; do
    [[ "${name}" == "${own}" ]] && continue
    confirm "Delete index ${name} and all its vectors from ${bucket}?"
    run aws --region "${REGION}" s3vectors delete-index --vector-bucket-name "${bucket}" --index-name "${name}"
  done
}

delete_stack() {
  begin_step "delete-stack" "the stack events: aws cloudformation describe-stack-events --stack-name ${STACK_NAME} --region ${REGION}"
  confirm "Delete stack ${STACK_NAME} in ${REGION} with its vector bucket and every vector in it?"
  run aws --region "${REGION}" cloudformation delete-stack --stack-name "${STACK_NAME}"
  run aws --region "${REGION}" cloudformation wait stack-delete-complete --stack-name "${STACK_NAME}"
}

delete_code() {
  begin_step "delete-code" "the artifact bucket named in the stack parameter CodeS3Bucket"
  local bucket
  bucket="$(capture "<artifact-bucket>" aws --region "${REGION}" cloudformation describe-stacks \
    --stack-name "${STACK_NAME}" --query "Stacks[0].Parameters[?ParameterKey=='CodeS3Bucket'].ParameterValue | [0]" \
    --output text)"
  run aws --region "${REGION}" s3 rm "s3://${bucket}/${CODE_PREFIX}/" --recursive
}

verify_nothing_left() {
  begin_step "verify" "the resources named above in the AWS console; delete them by hand if the stack could not"
  [[ "${DRY_RUN}" == 1 ]] && return 0
  if stack_exists; then die "stack ${STACK_NAME} still exists"; fi
  local leftover
  if [[ -n "${STACK_ROLE_ARN}" ]]; then
    leftover="$(aws_cli rds describe-db-clusters --db-cluster-identifier "$(cluster_id)" \
      --query "DBClusters[0].AssociatedRoles[?RoleArn=='${STACK_ROLE_ARN}'].RoleArn | [0]" --output text)"
    [[ "${leftover}" == None || -z "${leftover}" ]] || die "role ${leftover} is still associated with $(cluster_id)"
  fi
  if [[ -n "${BUCKET_NAME:-}" ]] && aws_cli s3vectors get-vector-bucket --vector-bucket-name "${BUCKET_NAME}" >/dev/null 2>&1; then
    die "vector bucket ${BUCKET_NAME} still exists"
  fi
  log "nothing left: stack, vector bucket and role association are gone"
}

if [[ "${stack_present}" == 1 ]]; then
  load_stack_outputs
  BUCKET_NAME="$(output VectorBucketName)"
  drop_schema
  remove_role
  delete_extra_indexes
  delete_code
  delete_stack
else
  log "stack ${STACK_NAME} does not exist in ${REGION}; only the schema is dropped"
  drop_schema
fi
verify_nothing_left
log "cleanup.sh: done"
