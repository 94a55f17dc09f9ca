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
BUCKET_NAME=""
CLUSTER_GONE=0
CHECKED=("stack")
if stack_exists; then stack_present=1; fi

# check_cluster: sets CLUSTER_GONE=1 when the cluster no longer exists (then there is no schema
# to drop and no role association to remove); any other error stops the run.
check_cluster() {
  local error
  if [[ "${DRY_RUN}" == 1 ]]; then return 0; fi
  if error="$(aws_cli rds describe-db-clusters --db-cluster-identifier "${CLUSTER_ID}" \
    --query 'DBClusters[0].Status' --output text 2>&1 >/dev/null)"; then
    return 0
  fi
  if [[ "${error}" == *DBClusterNotFound* ]]; then
    log "cluster ${CLUSTER_ID} no longer exists: no schema to drop, no role association to remove"
    CLUSTER_GONE=1
    return 0
  fi
  die "cannot describe cluster ${CLUSTER_ID}: ${error//$'\n'/ }"
}

drop_schema() {
  begin_step "drop-schema" \
    "that psql reaches the cluster as the user who installed s3vl, or re-run with --keep-schema to leave the schema (and skip this step)"
  if [[ "${keep_schema}" == 1 ]]; then
    log "schema kept (--keep-schema)"
    return 0
  fi
  if [[ "${CLUSTER_GONE}" == 1 ]]; then return 0; fi
  resolve_database
  if [[ -f "${S3VL_REPO_ROOT}/sql/uninstall.sql" ]]; then
    sql -f "${S3VL_REPO_ROOT}/sql/uninstall.sql"
  else
    sql -c "DROP SCHEMA IF EXISTS s3vl CASCADE"
  fi
}

remove_role() {
  begin_step "remove-role" "that you may call rds:RemoveRoleFromDBCluster on ${CLUSTER_ID}"
  local associated role
  if [[ "${CLUSTER_GONE}" == 1 ]]; then return 0; fi
  if ! has_output AuroraInvokeRoleArn; then
    log "the stack has no AuroraInvokeRoleArn output (it never finished creating): no role to remove"
    return 0
  fi
  stack_output role AuroraInvokeRoleArn
  STACK_ROLE_ARN="${role}"
  associated="$(capture "${role}" aws --region "${REGION}" rds describe-db-clusters \
    --db-cluster-identifier "${CLUSTER_ID}" \
    --query "DBClusters[0].AssociatedRoles[?RoleArn=='${role}'].RoleArn | [0]" --output text)"
  if [[ "${associated}" != "${role}" ]]; then
    log "this stack's role is not associated with ${CLUSTER_ID}; other roles are left alone"
    return 0
  fi
  run aws --region "${REGION}" rds remove-role-from-db-cluster --db-cluster-identifier "${CLUSTER_ID}" \
    --feature-name "${LAMBDA_FEATURE}" --role-arn "${role}"
}

delete_extra_indexes() {
  begin_step "empty-vector-bucket" "that you may call s3vectors:ListIndexes and s3vectors:DeleteIndex on the stack's bucket"
  local own names name
  if ! has_output VectorBucketName || ! has_output IndexName; then
    log "the stack has no VectorBucketName output: no vector bucket to empty"
    return 0
  fi
  stack_output BUCKET_NAME VectorBucketName
  stack_output own IndexName
  names="$(capture "" aws --region "${REGION}" s3vectors list-indexes --vector-bucket-name "${BUCKET_NAME}" \
    --query 'indexes[].indexName' --output text)"
  for name in ${names}; do
    [[ "${name}" == "${own}" || "${name}" == None ]] && continue
    confirm "Delete index ${name} and all its vectors from ${BUCKET_NAME}?"
    run aws --region "${REGION}" s3vectors delete-index --vector-bucket-name "${BUCKET_NAME}" --index-name "${name}"
  done
}

delete_stack() {
  begin_step "delete-stack" "the stack events: aws cloudformation describe-stack-events --stack-name ${STACK_NAME} --region ${REGION}"
  confirm "Delete stack ${STACK_NAME} in ${REGION} with its vector bucket and every vector in it?"
  run aws --region "${REGION}" cloudformation delete-stack --stack-name "${STACK_NAME}"
  run aws --region "${REGION}" cloudformation wait stack-delete-complete --stack-name "${STACK_NAME}"
}

# delete_code: this stack's uploads only (its folder, and the key the stack names if that lies
# elsewhere); other stacks may share the bucket.
delete_code() {
  begin_step "delete-code" "the artifact bucket named in the stack parameter CodeS3Bucket"
  local bucket key keys=() listed
  bucket="$(deployed_parameter CodeS3Bucket)"
  key="$(deployed_parameter CodeS3Key)"
  if [[ "${DRY_RUN}" == 1 ]]; then bucket="<artifact-bucket>" key=""; fi
  if [[ -z "${bucket}" ]]; then
    log "the stack names no code bucket: no code to delete"
    return 0
  fi
  caller_account
  listed="$(capture "" aws --region "${REGION}" s3api list-objects-v2 --bucket "${bucket}" \
    --prefix "$(code_prefix)" --expected-bucket-owner "${CALLER_ACCOUNT}" --query 'Contents[].Key' --output text)"
  read -r -a keys <<<"${listed//None/}"
  if [[ -n "${key}" && "${key}" != "$(code_prefix)"* ]]; then keys+=("${key}"); fi
  for key in "${keys[@]+"${keys[@]}"}"; do
    run aws --region "${REGION}" s3api delete-object --bucket "${bucket}" --key "${key}" \
      --expected-bucket-owner "${CALLER_ACCOUNT}"
  done
  log "deleted ${#keys[@]} code object(s) of stack ${STACK_NAME} from s3://${bucket}/"
}

verify_nothing_left() {
  begin_step "verify" "the resources named above in the AWS console; delete them by hand if the stack could not"
  [[ "${DRY_RUN}" == 1 ]] && return 0
  if stack_exists; then die "stack ${STACK_NAME} still exists"; fi
  local leftover
  if [[ -n "${STACK_ROLE_ARN}" ]]; then
    leftover="$(aws_cli rds describe-db-clusters --db-cluster-identifier "${CLUSTER_ID}" \
      --query "DBClusters[0].AssociatedRoles[?RoleArn=='${STACK_ROLE_ARN}'].RoleArn | [0]" --output text)"
    [[ "${leftover}" == None || -z "${leftover}" ]] || die "role ${leftover} is still associated with ${CLUSTER_ID}"
    CHECKED+=("role association")
  fi
  if [[ -n "${BUCKET_NAME}" ]]; then
    if aws_cli s3vectors get-vector-bucket --vector-bucket-name "${BUCKET_NAME}" >/dev/null 2>&1; then
      die "vector bucket ${BUCKET_NAME} still exists"
    fi
    CHECKED+=("vector bucket")
  fi
  local IFS=,
  log "nothing left: checked ${CHECKED[*]}"
}

check_cluster
if [[ "${stack_present}" == 1 ]]; then
  load_stack_outputs
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
