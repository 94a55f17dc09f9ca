# shellcheck shell=bash
# The deployment steps of docs/deploy.md, one function each. deploy.sh runs them in order; each
# step script runs one. Every step reads what it needs from parameters.json and the stack outputs.
# shellcheck disable=SC2034 # CURRENT_HINT and friends are globals of common.sh

readonly LAMBDA_ZIP="${S3VL_LAMBDA_ZIP:-${S3VL_REPO_ROOT}/build/s3vl-lambda.zip}"
readonly CODE_PREFIX="s3vl/lambda"
readonly LAMBDA_FEATURE="Lambda"
readonly MIN_AURORA_PG_VERSION="11.9"

# ------------------------------------------------------------------------------ 1 cluster
step_gather_cluster_details() {
  begin_step "gather-cluster-details" \
    "AuroraClusterArn and VpcId in ${PARAMETERS_FILE}, and that your AWS credentials can call rds:DescribeDBClusters"
  local row engine version status subnet_group vpc expected_vpc
  # shellcheck disable=SC2016 # backticks are a JMESPath literal, not a command
  row="$(capture "aurora-postgresql	${MIN_AURORA_PG_VERSION}	available	<subnet-group>	<security-groups>" \
    aws --region "${REGION}" rds describe-db-clusters --db-cluster-identifier "$(cluster_id)" \
    --query 'DBClusters[0].[Engine,EngineVersion,Status,DBSubnetGroup,join(`,`,VpcSecurityGroups[].VpcSecurityGroupId)]' \
    --output text)"
  IFS=$'\t' read -r engine version status subnet_group _ <<<"${row}"
  log "cluster $(cluster_id): ${engine} ${version}, ${status}; security groups: $(cut -f5 <<<"${row}")"
  [[ "${engine}" == aurora-postgresql ]] ||
    die "cluster $(cluster_id) runs ${engine}; the aws_lambda extension needs Aurora PostgreSQL"
  version_at_least "${version}" "${MIN_AURORA_PG_VERSION}" ||
    die "Aurora PostgreSQL ${version} has no aws_lambda extension; it needs ${MIN_AURORA_PG_VERSION} or later"
  vpc="$(capture "$(parameter VpcId)" aws --region "${REGION}" rds describe-db-subnet-groups \
    --db-subnet-group-name "${subnet_group}" --query 'DBSubnetGroups[0].VpcId' --output text)"
  expected_vpc="$(parameter VpcId)"
  [[ "${vpc}" == "${expected_vpc}" ]] ||
    die "the cluster is in ${vpc} but VpcId in ${PARAMETERS_FILE} is ${expected_vpc}; the function must run in the cluster's VPC"
  log "cluster VPC ${vpc} matches the parameters"
}

# version_at_least HAVE WANT: dotted numeric comparison.
version_at_least() {
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

# ------------------------------------------------------------------------------ 2 code + stack
ARTIFACT_BUCKET=""
CODE_KEY=""
CODE_SHA256=""

# upload_code: builds the zip, then puts it at a key named after its hash (skipped if present).
upload_code() {
  local account hex
  # S3VL_LAMBDA_ZIP names a zip built elsewhere (CI artifact); otherwise build it here.
  if [[ -z "${S3VL_LAMBDA_ZIP:-}" ]]; then
    # Wheels differ per instruction set, so build for the stack's architecture.
    local arch
    arch="$(parameter LambdaArchitecture)"
    run bash "${S3VL_REPO_ROOT}/scripts/package-lambda.sh" --arch "${arch:-arm64}" --output "${LAMBDA_ZIP}"
  fi
  if [[ "${DRY_RUN}" == 1 ]]; then
    hex="<sha256-of-zip>"
    CODE_SHA256="<base64-sha256-of-zip>"
  else
    [[ -f "${LAMBDA_ZIP}" ]] || die "${LAMBDA_ZIP} was not built (run make package)"
    read -r hex CODE_SHA256 < <("${PYTHON}" - "${LAMBDA_ZIP}" <<'PY'
import base64, hashlib, sys
digest = hashlib.sha256(open(sys.argv[1], "rb").read()).digest()
print(digest.hex(), base64.b64encode(digest).decode())
PY
)
    [[ -n "${CODE_SHA256}" ]] || die "could not hash ${LAMBDA_ZIP}"
  fi
  CODE_KEY="${CODE_PREFIX}/${hex}.zip"
  account="$(capture "<account-id>" aws --region "${REGION}" sts get-caller-identity --query Account --output text)"
  ARTIFACT_BUCKET="${S3VL_ARTIFACT_BUCKET:-$(parameter ResourcePrefix)-artifacts-${account}-${REGION}}"
  if [[ "${DRY_RUN}" == 1 ]] || ! aws_cli s3api head-bucket --bucket "${ARTIFACT_BUCKET}" >/dev/null 2>&1; then
    log "creating artifact bucket ${ARTIFACT_BUCKET} (private, encrypted by default)"
    if [[ "${REGION}" == us-east-1 ]]; then
      run aws --region "${REGION}" s3api create-bucket --bucket "${ARTIFACT_BUCKET}"
    else
      run aws --region "${REGION}" s3api create-bucket --bucket "${ARTIFACT_BUCKET}" \
        --create-bucket-configuration "LocationConstraint=${REGION}"
    fi
    run aws --region "${REGION}" s3api put-public-access-block --bucket "${ARTIFACT_BUCKET}" \
      --public-access-block-configuration \
      BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  fi
  if [[ "${DRY_RUN}" != 1 ]] && aws_cli s3api head-object --bucket "${ARTIFACT_BUCKET}" --key "${CODE_KEY}" >/dev/null 2>&1; then
    log "code s3://${ARTIFACT_BUCKET}/${CODE_KEY} already uploaded"
  else
    run aws --region "${REGION}" s3 cp "${LAMBDA_ZIP}" "s3://${ARTIFACT_BUCKET}/${CODE_KEY}"
  fi
}

step_deploy_stack() {
  begin_step "deploy-stack" \
    "the stack events: aws cloudformation describe-stack-events --stack-name ${STACK_NAME} --region ${REGION}"
  local overrides=() digest
  upload_code
  mapfile -t overrides < <(parameter_overrides)
  # A new digest when any parameter changes: the stack then publishes a new version for the alias.
  digest="$(printf '%s\n' "${overrides[@]}" | "${PYTHON}" -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')"
  run aws --region "${REGION}" cloudformation deploy --stack-name "${STACK_NAME}" \
    --template-file "${S3VL_TEMPLATE}" --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
    --parameter-overrides "${overrides[@]}" "CodeS3Bucket=${ARTIFACT_BUCKET}" \
    "CodeS3Key=${CODE_KEY}" "CodeSha256=${CODE_SHA256}" "ConfigDigest=${digest}"
  load_stack_outputs --refresh
  log "stack ${STACK_NAME} is up: function $(output FunctionAliasArn)"
}

# ------------------------------------------------------------------------------ 3 role
step_associate_role() {
  begin_step "associate-role" \
    "that you may call rds:AddRoleToDBCluster and iam:PassRole on the stack's AuroraInvokeRoleArn, and the cluster is available"
  load_stack_outputs
  local role cluster roles arn feature state other="" attempt
  role="$(output AuroraInvokeRoleArn)"
  cluster="$(output AuroraClusterIdentifier)"
  roles="$(capture "" aws --region "${REGION}" rds describe-db-clusters --db-cluster-identifier "${cluster}" \
    --query 'DBClusters[0].AssociatedRoles[].[RoleArn,FeatureName,Status]' --output text)"
  while IFS=$'\t' read -r arn feature state; do
    [[ -z "${arn}" ]] && continue
    if [[ "${arn}" == "${role}" ]]; then
      log "role ${role} is already associated with ${cluster} (${state}); nothing to do"
      return 0
    fi
    if [[ "${feature}" == "${LAMBDA_FEATURE}" ]]; then other="${arn}"; fi
  done <<<"${roles}"
  if [[ -n "${other}" ]]; then
    CURRENT_HINT="either remove it (aws rds remove-role-from-db-cluster --region ${REGION} --db-cluster-identifier ${cluster} --feature-name Lambda --role-arn ${other}) and re-run, or allow that role lambda:InvokeFunction on $(output FunctionAliasArn) and skip this step (docs/deploy.md, 'A cluster that already has a Lambda role')"
    die "cluster ${cluster} already has role ${other} for the Lambda feature; Aurora takes one role per feature"
  fi
  run aws --region "${REGION}" rds add-role-to-db-cluster --db-cluster-identifier "${cluster}" \
    --feature-name "${LAMBDA_FEATURE}" --role-arn "${role}"
  [[ "${DRY_RUN}" == 1 ]] && return 0
  for ((attempt = 1; attempt <= POLL_ATTEMPTS; attempt++)); do
    state="$(aws_cli rds describe-db-clusters --db-cluster-identifier "${cluster}" \
      --query "DBClusters[0].AssociatedRoles[?RoleArn=='${role}'].Status | [0]" --output text)"
    if [[ "${state}" == ACTIVE ]]; then
      log "role associated and ACTIVE"
      return 0
    fi
    log "role association is ${state}; waiting (${attempt}/${POLL_ATTEMPTS})"
    sleep "${POLL_SECONDS}"
  done
  die "the role association did not become ACTIVE"
}

# ------------------------------------------------------------------------------ 4 code update
step_update_function_code() {
  begin_step "update-function-code" \
    "the stack events (aws cloudformation describe-stack-events --stack-name ${STACK_NAME} --region ${REGION}) and that build/s3vl-lambda.zip builds"
  stack_exists || die "stack ${STACK_NAME} does not exist in ${REGION}; run scripts/deploy-stack.sh first"
  upload_code
  # Only the code parameters change; every other parameter keeps its deployed value.
  run aws --region "${REGION}" cloudformation deploy --stack-name "${STACK_NAME}" \
    --template-file "${S3VL_TEMPLATE}" --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
    --parameter-overrides "CodeS3Bucket=${ARTIFACT_BUCKET}" "CodeS3Key=${CODE_KEY}" "CodeSha256=${CODE_SHA256}"
  load_stack_outputs --refresh
  local live_sha
  live_sha="$(capture "${CODE_SHA256}" aws --region "${REGION}" lambda get-function \
    --function-name "$(output FunctionAliasArn)" --query Configuration.CodeSha256 --output text)"
  [[ "${live_sha}" == "${CODE_SHA256}" ]] ||
    die "alias live runs code ${live_sha}, not the uploaded ${CODE_SHA256}"
  log "alias live runs the uploaded code (${CODE_SHA256})"
}

# ------------------------------------------------------------------------------ 5 schema
step_install_schema() {
  begin_step "install-schema" \
    "that psql reaches the cluster (PGHOST/PGUSER/PGPASSWORD, security group on 5432) and the user is rds_superuser"
  resolve_database
  # Aurora's extension (with aws_commons); skipped where an aws_lambda schema already exists.
  sql -c "DO \$\$ BEGIN IF to_regnamespace('aws_lambda') IS NULL THEN CREATE EXTENSION IF NOT EXISTS aws_lambda CASCADE; END IF; END \$\$"
  # install.sql is re-runnable: it installs or upgrades the s3vl schema in place.
  sql -f "${S3VL_REPO_ROOT}/sql/install.sql"
  log "schema s3vl installed: version $(sql_query '<version>' 'SELECT s3vl.version()')"
}

# ------------------------------------------------------------------------------ 6 configure
step_configure() {
  begin_step "configure" \
    "that schema s3vl is installed (scripts/install-schema.sh) and the stack outputs FunctionAliasArn and LambdaTimeoutSeconds"
  load_stack_outputs
  resolve_database
  # The timeout bounds aws_lambda.request_timeout_ms too (3000 ms by default, too short for a cold start).
  sql_query "" "SELECT s3vl.configure(lambda_arn => :'lambda_arn', aws_region => :'aws_region', timeout_seconds => :'timeout_seconds'::integer);" \
    -v "lambda_arn=$(output FunctionAliasArn)" -v "aws_region=${REGION}" \
    -v "timeout_seconds=$(output LambdaTimeoutSeconds)" >/dev/null
  log "s3vl configured to call $(output FunctionAliasArn)"
}

# ------------------------------------------------------------------------------ 7 register
step_register_index() {
  begin_step "register-index" "that s3vl.configure ran (scripts/configure.sh) and the stack outputs IndexName and IndexArn"
  load_stack_outputs
  resolve_database
  sql_query "" "SELECT s3vl.register_index(:'index_name', :'index_arn');" \
    -v "index_name=$(output IndexName)" -v "index_arn=$(output IndexArn)" >/dev/null
  log "index $(output IndexName) registered"
}

# ------------------------------------------------------------------------------ 8 validate
step_validate() {
  begin_step "validate" \
    "the function log group in CloudWatch Logs, the networking section of docs/deploy.md, and aws_lambda.request_timeout_ms"
  load_stack_outputs
  resolve_database
  local payload answer failures rows
  payload="$(mktemp)"
  answer="$(mktemp)"
  printf '{"operation": "availability_check"}' >"${payload}"
  run aws --region "${REGION}" lambda invoke --function-name "$(output FunctionAliasArn)" \
    --payload "fileb://${payload}" "${answer}" >/dev/null
  if [[ "${DRY_RUN}" != 1 ]]; then
    grep -q '"success": *true' "${answer}" ||
      die "the function answered availability_check with: $(head -c 500 "${answer}")"
    log "function answers directly: $(head -c 300 "${answer}")"
  fi
  rm -f "${payload}" "${answer}"
  failures="$(sql_query 0 'SELECT count(*) FROM s3vl.validate_config() WHERE NOT is_valid;')"
  [[ "${failures}" == 0 ]] ||
    die "s3vl.validate_config() reports ${failures} failed check(s); run SELECT * FROM s3vl.validate_config() for details"
  rows="$(sql_query 0 "SELECT count(*) FROM s3vl.query_vectors(query_vector => array_fill(0.5::float8, ARRAY[:'dimension'::integer]), index_name => :'index_name', top_k => 1);" \
    -v "index_name=$(output IndexName)" -v "dimension=$(output IndexDimension)")"
  log "validated: SQL reaches the function and s3vl.query_vectors answers (${rows} row(s) from $(output IndexName))"
}
