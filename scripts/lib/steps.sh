# shellcheck shell=bash
# The deployment steps of docs/deploy.md, one function each. deploy.sh runs them in order; each
# step script runs one. Every step reads what it needs from parameters.json and the stack outputs.
# shellcheck disable=SC2034 # CURRENT_HINT and friends are globals of common.sh

readonly LAMBDA_ZIP="${S3VL_LAMBDA_ZIP:-${S3VL_REPO_ROOT}/build/s3vl-lambda.zip}"
readonly CODE_PREFIX="s3vl/lambda"
readonly LAMBDA_FEATURE="Lambda"
# The oldest Aurora PostgreSQL s3vl supports: the same major version as the `minimum` of
# sql/10_core/00_requirements.sql, which install checks (tests/infra/test_versions.py keeps them
# equal).
readonly MIN_AURORA_PG_VERSION="13"

# ------------------------------------------------------------------------------ 1 cluster
step_gather_cluster_details() {
  begin_step "gather-cluster-details" \
    "AuroraClusterArn and VpcId in ${PARAMETERS_FILE}, and that your AWS credentials can call rds:DescribeDBClusters"
  local row engine version status subnet_group groups vpc expected_vpc
  # shellcheck disable=SC2016 # backticks are a JMESPath literal, not a command
  row="$(capture "<engine>	<version>	<status>	<subnet-group>	<security-groups>" \
    aws --region "${REGION}" rds describe-db-clusters --db-cluster-identifier "${CLUSTER_ID}" \
    --query 'DBClusters[0].[Engine,EngineVersion,Status,DBSubnetGroup,join(`,`,VpcSecurityGroups[].VpcSecurityGroupId)]' \
    --output text)"
  IFS=$'\t' read -r engine version status subnet_group groups <<<"${row}"
  expected_vpc="$(parameter VpcId)"
  if [[ "${DRY_RUN}" == 1 ]]; then
    print_command aws --region "${REGION}" rds describe-db-subnet-groups \
      --db-subnet-group-name "${subnet_group}" --query 'DBSubnetGroups[0].VpcId' --output text
    outcome "" "check that cluster ${CLUSTER_ID} runs aurora-postgresql ${MIN_AURORA_PG_VERSION} or later and that its subnet group is in VpcId ${expected_vpc}"
    return 0
  fi
  log "cluster ${CLUSTER_ID}: ${engine} ${version}, ${status}; security groups: ${groups}"
  [[ "${engine}" == aurora-postgresql ]] ||
    die "cluster ${CLUSTER_ID} runs ${engine}; the aws_lambda extension needs Aurora PostgreSQL"
  version_at_least "${version}" "${MIN_AURORA_PG_VERSION}" ||
    die "Aurora PostgreSQL ${version} is too old: s3vl needs Aurora PostgreSQL ${MIN_AURORA_PG_VERSION} or later (upgrade the cluster)"
  vpc="$(capture "${expected_vpc}" aws --region "${REGION}" rds describe-db-subnet-groups \
    --db-subnet-group-name "${subnet_group}" --query 'DBSubnetGroups[0].VpcId' --output text)"
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
CALLER_ACCOUNT=""

# Sets CALLER_ACCOUNT (the account the CLI acts as, which must own the artifact bucket) once.
caller_account() {
  [[ -n "${CALLER_ACCOUNT}" ]] && return 0
  CALLER_ACCOUNT="$(capture "<account-id>" aws --region "${REGION}" sts get-caller-identity --query Account --output text)"
}

# code_prefix: this stack's folder in the artifact bucket; cleanup deletes it and nothing else,
# so stacks sharing a bucket (S3VL_ARTIFACT_BUCKET) keep each other's code.
code_prefix() { printf '%s/%s/%s/\n' "${CODE_PREFIX}" "${REGION}" "${STACK_NAME}"; }

# deployed_parameter KEY: a parameter value of the deployed stack ("" when there is none).
deployed_parameter() {
  local value
  if [[ "${DRY_RUN}" == 1 ]]; then return 0; fi
  value="$(aws_cli cloudformation describe-stacks --stack-name "${STACK_NAME}" \
    --query "Stacks[0].Parameters[?ParameterKey=='$1'].ParameterValue | [0]" --output text 2>/dev/null)" || return 0
  if [[ "${value}" != None ]]; then printf '%s\n' "${value}"; fi
}

# find_artifact_bucket: the bucket to upload to. Its name ends in a random suffix (a predictable
# name could be created first by another account, which would then receive and could replace
# the function code); every call names the expected owner, so a bucket of another account is
# refused. Reused in this order: S3VL_ARTIFACT_BUCKET, the deployed stack's CodeS3Bucket, one
# of this account's buckets named <prefix>-artifacts-<region>-*, else a new name.
find_artifact_bucket() {
  local prefix existing suffix
  prefix="$(parameter ResourcePrefix)"
  prefix="${prefix:-s3vl}-artifacts-${REGION}-"
  if [[ -n "${S3VL_ARTIFACT_BUCKET:-}" ]]; then
    ARTIFACT_BUCKET="${S3VL_ARTIFACT_BUCKET}"
    return 0
  fi
  existing="$(deployed_parameter CodeS3Bucket)"
  if [[ -z "${existing}" ]]; then
    existing="$(capture "" aws --region "${REGION}" s3api list-buckets \
      --query "Buckets[?starts_with(Name, '${prefix}')].Name | [0]" --output text)"
    [[ "${existing}" == None ]] && existing=""
  fi
  if [[ -n "${existing}" ]]; then
    ARTIFACT_BUCKET="${existing}"
    return 0
  fi
  suffix="$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  ARTIFACT_BUCKET="${prefix}${suffix}"
}

# upload_code: builds the zip, then puts it at a key named after its hash (skipped if present).
upload_code() {
  local hex head_error
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
  CODE_KEY="$(code_prefix)${hex}.zip"
  caller_account
  find_artifact_bucket
  if [[ "${DRY_RUN}" == 1 ]]; then
    print_command aws --region "${REGION}" s3api head-bucket --bucket "${ARTIFACT_BUCKET}" \
      --expected-bucket-owner "${CALLER_ACCOUNT}"
    outcome "" "create artifact bucket ${ARTIFACT_BUCKET} with the commands below if head-bucket finds none"
    head_error="(404)"
  elif head_error="$(aws_cli s3api head-bucket --bucket "${ARTIFACT_BUCKET}" \
    --expected-bucket-owner "${CALLER_ACCOUNT}" 2>&1 >/dev/null)"; then
    head_error=""
  fi
  if [[ "${head_error}" == *"(404)"* || "${head_error}" == *NoSuchBucket* ]]; then
    if [[ "${DRY_RUN}" != 1 ]]; then
      log "creating artifact bucket ${ARTIFACT_BUCKET} (private, encrypted by default)"
    fi
    if [[ "${REGION}" == us-east-1 ]]; then
      run aws --region "${REGION}" s3api create-bucket --bucket "${ARTIFACT_BUCKET}"
    else
      run aws --region "${REGION}" s3api create-bucket --bucket "${ARTIFACT_BUCKET}" \
        --create-bucket-configuration "LocationConstraint=${REGION}"
    fi
    run aws --region "${REGION}" s3api put-public-access-block --bucket "${ARTIFACT_BUCKET}" \
      --expected-bucket-owner "${CALLER_ACCOUNT}" --public-access-block-configuration \
      BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  elif [[ -n "${head_error}" ]]; then
    die "artifact bucket ${ARTIFACT_BUCKET} is not usable by account ${CALLER_ACCOUNT}: ${head_error//$'\n'/ } (it may belong to another account; set S3VL_ARTIFACT_BUCKET to one of yours)"
  fi
  if [[ "${DRY_RUN}" != 1 ]] && aws_cli s3api head-object --bucket "${ARTIFACT_BUCKET}" --key "${CODE_KEY}" \
    --expected-bucket-owner "${CALLER_ACCOUNT}" >/dev/null 2>&1; then
    log "code s3://${ARTIFACT_BUCKET}/${CODE_KEY} already uploaded"
  else
    # s3api put-object, not s3 cp: only the former takes --expected-bucket-owner in every CLI.
    run aws --region "${REGION}" s3api put-object --bucket "${ARTIFACT_BUCKET}" --key "${CODE_KEY}" \
      --body "${LAMBDA_ZIP}" --expected-bucket-owner "${CALLER_ACCOUNT}"
  fi
}

# cloudformation_deploy ARGS...: `aws cloudformation deploy`; when it fails, prints why the
# change set failed (describe-change-set has the reason; the stack events have none for it).
cloudformation_deploy() {
  local since reason
  since="$(date -u +%Y-%m-%dT%H:%M:%S)"
  if run aws --region "${REGION}" cloudformation deploy --stack-name "${STACK_NAME}" \
    --template-file "${S3VL_TEMPLATE}" --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset "$@"; then
    return 0
  fi
  # Only a change set of this run, and not the empty one that --no-fail-on-empty-changeset accepts.
  reason="$(aws_cli cloudformation list-change-sets --stack-name "${STACK_NAME}" --output json 2>/dev/null |
    "${PYTHON}" -c '
import json, sys
since = sys.argv[1]
failed = [c for c in json.load(sys.stdin).get("Summaries", [])
          if c.get("Status") == "FAILED" and str(c.get("CreationTime", ""))[:19] >= since
          and "contain changes" not in c.get("StatusReason", "")]
failed.sort(key=lambda c: str(c["CreationTime"]))
print(failed[-1].get("StatusReason", "") if failed else "")
' "${since}" 2>/dev/null || true)"
  if [[ -n "${reason}" ]]; then
    die "aws cloudformation deploy failed; the change set says: ${reason}"
  fi
  die "aws cloudformation deploy failed"
}

step_deploy_stack() {
  begin_step "deploy-stack" \
    "aws cloudformation describe-stack-events --stack-name ${STACK_NAME} --region ${REGION} (a failed update or create), or list-change-sets / describe-change-set for the same stack (a change set that could not be created)"
  local overrides=() digest alias_arn
  upload_code
  mapfile -t overrides < <(parameter_overrides)
  # A new digest when any parameter changes: the stack then publishes a new version for the alias.
  # TextSearch configures the index after the stack; it changes nothing in the function.
  digest="$(printf '%s\n' "${overrides[@]}" | { grep -v '^TextSearch=' || true; } | "${PYTHON}" -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')"
  cloudformation_deploy --parameter-overrides "${overrides[@]}" "CodeS3Bucket=${ARTIFACT_BUCKET}" \
    "CodeS3Key=${CODE_KEY}" "CodeSha256=${CODE_SHA256}" "ConfigDigest=${digest}"
  load_stack_outputs --refresh
  stack_output alias_arn FunctionAliasArn
  outcome "stack ${STACK_NAME} is up: function ${alias_arn}" \
    "create or update stack ${STACK_NAME} and read its outputs"
}

# ------------------------------------------------------------------------------ 3 role
step_associate_role() {
  begin_step "associate-role" \
    "that you may call rds:AddRoleToDBCluster and iam:PassRole on the stack's AuroraInvokeRoleArn, and the cluster is available"
  load_stack_outputs
  local role cluster alias_arn roles arn feature state other="" attempt
  stack_output role AuroraInvokeRoleArn
  stack_output cluster AuroraClusterIdentifier
  stack_output alias_arn FunctionAliasArn
  roles="$(capture "" aws --region "${REGION}" rds describe-db-clusters --db-cluster-identifier "${cluster}" \
    --query 'DBClusters[0].AssociatedRoles[].[RoleArn,FeatureName,Status]' --output text)"
  while IFS=$'\t' read -r arn feature state; do
    [[ -z "${arn}" || "${arn}" == None ]] && continue
    if [[ "${arn}" == "${role}" ]]; then
      log "role ${role} is already associated with ${cluster} (${state}); nothing to do"
      return 0
    fi
    if [[ "${feature}" == "${LAMBDA_FEATURE}" ]]; then other="${arn}"; fi
  done <<<"${roles}"
  if [[ -n "${other}" ]]; then
    CURRENT_HINT="either remove it (aws rds remove-role-from-db-cluster --region ${REGION} --db-cluster-identifier ${cluster} --feature-name Lambda --role-arn ${other}) and re-run, or allow that role lambda:InvokeFunction on ${alias_arn} and skip this step (docs/deploy.md, 'A cluster that already has a Lambda role')"
    die "cluster ${cluster} already has role ${other} for the Lambda feature; Aurora takes one role per feature"
  fi
  if [[ "${DRY_RUN}" == 1 ]]; then
    outcome "" "associate ${role} (feature ${LAMBDA_FEATURE}) unless the cluster has it already, or stop if it has another Lambda role"
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
  cloudformation_deploy --parameter-overrides "CodeS3Bucket=${ARTIFACT_BUCKET}" \
    "CodeS3Key=${CODE_KEY}" "CodeSha256=${CODE_SHA256}"
  load_stack_outputs --refresh
  local live_sha alias_arn
  stack_output alias_arn FunctionAliasArn
  live_sha="$(capture "${CODE_SHA256}" aws --region "${REGION}" lambda get-function \
    --function-name "${alias_arn}" --query Configuration.CodeSha256 --output text)"
  if [[ "${DRY_RUN}" == 1 ]]; then
    outcome "" "check that alias live runs the uploaded code"
    return 0
  fi
  [[ "${live_sha}" == "${CODE_SHA256}" ]] ||
    die "alias live runs code ${live_sha}, not the uploaded ${CODE_SHA256}"
  log "alias live runs the uploaded code (${CODE_SHA256})"
}

# ------------------------------------------------------------------------------ 4b text search
# step_configure_text_search: makes the keys of the stack's TextSearch parameter full-text
# searchable (CloudFormation's AWS::S3Vectors::Index has no property for it yet). Reads the
# index first and changes only what is missing, so a re-run changes nothing.
step_configure_text_search() {
  begin_step "configure-text-search" \
    "the TextSearch parameter (key:language,... with languages en fr es pt it de nl zh ja ko), that you may call s3vectors:GetIndex, UpdateIndexMode and UpdateMetadataConfiguration on the stack's index, and that your AWS CLI knows 'aws s3vectors update-metadata-configuration'"
  load_stack_outputs
  local spec index_arn current plan action value
  spec="$(parameter TextSearch)"
  if [[ -z "${spec}" ]]; then
    log "no TextSearch keys in ${PARAMETERS_FILE}; the index keeps its text search configuration"
    return 0
  fi
  stack_output index_arn IndexArn
  current="$(capture '{"index": {"indexMode": "CLASSIC"}}' aws --region "${REGION}" s3vectors get-index \
    --index-arn "${index_arn}" --output json)"
  if [[ "${DRY_RUN}" == 1 ]]; then
    outcome "" "make keys '${spec}' searchable; the commands below are those for an index with no text search yet (the real run sends only what get-index shows missing)"
  fi
  plan="$(text_search_plan "${spec}" "${current}")" || die "TextSearch '${spec}' cannot be applied"
  while IFS=$'\t' read -r action value; do
    case "${action}" in
      mode) run aws --region "${REGION}" s3vectors update-index-mode --index-arn "${index_arn}" --index-mode "${value}" ;;
      add) run aws --region "${REGION}" s3vectors update-metadata-configuration --index-arn "${index_arn}" --add "${value}" ;;
      ok) log "${value}" ;;
      *) ;;
    esac
  done <<<"${plan}"
}

# text_search_plan SPEC GET_INDEX_JSON: one line per change ("mode\tENHANCED", "add\t<json>")
# and "ok\t<message>" lines; fails with a message for a bad SPEC or a key whose language differs.
text_search_plan() {
  "${PYTHON}" - "$1" "$2" <<'PY'
import json, sys
LANGUAGES = {"en", "fr", "es", "pt", "it", "de", "nl", "zh", "ja", "ko"}
spec = sys.argv[1]
wanted = {}
for entry in spec.split(","):
    key, _, language = entry.strip().partition(":")
    if not 1 <= len(key) <= 63:
        sys.exit(f"TextSearch: metadata key '{key}' must be 1-63 characters")
    if language and language not in LANGUAGES:
        sys.exit(f"TextSearch: language '{language}' of key '{key}' is not one of {sorted(LANGUAGES)}")
    if key in wanted:
        sys.exit(f"TextSearch: key '{key}' is listed twice")
    wanted[key] = language or None
if len(wanted) > 10:
    sys.exit(f"TextSearch: {len(wanted)} keys; an index takes at most 10 text search configurations")
index = json.loads(sys.argv[2])["index"]
configured = {c["metadataKey"]: c for c in
              index.get("metadataConfiguration", {}).get("textSearchConfigurations", [])}
if len(set(configured) | set(wanted)) > 10:
    sys.exit("TextSearch: the index would have more than 10 text search configurations")
if index.get("indexMode") != "ENHANCED":
    print("mode\tENHANCED")
else:
    print("ok\tindex mode is already ENHANCED")
missing = []
for key, language in wanted.items():
    have = configured.get(key)
    if have is None:
        missing.append({"metadataKey": key, **({"language": language} if language else {})})
    elif have.get("language") != language:
        sys.exit(f"TextSearch: key '{key}' is already searchable with language "
                 f"{have.get('language')}, not {language}; delete it first with aws s3vectors "
                 "update-metadata-configuration --delete and re-run")
    else:
        print(f"ok\tkey {key} is already searchable ({have.get('status', 'status unknown')})")
if missing:
    print("add\t" + json.dumps({"textSearchConfigurations": missing}, separators=(",", ":")))
PY
}

# ------------------------------------------------------------------------------ 5 schema
step_install_schema() {
  if [[ "${S3VL_PGTLE:-0}" == 1 ]]; then
    step_install_schema_pgtle
    return
  fi
  begin_step "install-schema" \
    "that psql reaches the cluster (PGHOST/PGUSER/PGPASSWORD, security group on 5432) and the user is rds_superuser"
  resolve_database
  # Aurora's extension (with aws_commons); skipped where an aws_lambda schema already exists.
  sql -c "DO \$\$ BEGIN IF to_regnamespace('aws_lambda') IS NULL THEN CREATE EXTENSION IF NOT EXISTS aws_lambda CASCADE; END IF; END \$\$"
  # install.sql is re-runnable: it installs or upgrades the s3vl schema in place.
  sql -f "${S3VL_REPO_ROOT}/sql/install.sql"
  local version
  version="$(sql_query '<version>' 'SELECT s3vl.version()')"
  outcome "schema s3vl installed: version ${version}" "install or upgrade schema s3vl and print its version"
}

# Step 5 through pg_tle (Aurora/RDS without file access; S3VL_PGTLE=1 or --pgtle): register the
# extension built by sql/build-pgtle.sh, then create it, or update it to the registered default.
step_install_schema_pgtle() {
  begin_step "install-schema" \
    "that pg_tle is in shared_preload_libraries, CREATE EXTENSION pg_tle ran, and the user is rds_superuser"
  resolve_database
  run bash "${S3VL_REPO_ROOT}/sql/build-pgtle.sh"
  sql -f "${S3VL_REPO_ROOT}/build/pgtle/s3vl-pgtle.sql"
  sql -c "DO \$\$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 's3vl') THEN ALTER EXTENSION s3vl UPDATE; ELSE CREATE EXTENSION s3vl CASCADE; END IF; END \$\$"
  log "extension s3vl installed through pg_tle: version $(sql_query '<version>' 'SELECT s3vl.version()')"
}

# ------------------------------------------------------------------------------ 6 configure
step_configure() {
  begin_step "configure" \
    "that schema s3vl is installed (scripts/install-schema.sh) and the stack outputs FunctionAliasArn and LambdaTimeoutSeconds"
  load_stack_outputs
  local alias_arn timeout
  stack_output alias_arn FunctionAliasArn
  stack_output timeout LambdaTimeoutSeconds
  resolve_database
  # The timeout bounds aws_lambda.request_timeout_ms too (3000 ms by default, too short for a cold start).
  sql_query "" "SELECT s3vl.configure(lambda_arn => :'lambda_arn', aws_region => :'aws_region', timeout_seconds => :'timeout_seconds'::integer);" \
    -v "lambda_arn=${alias_arn}" -v "aws_region=${REGION}" -v "timeout_seconds=${timeout}" >/dev/null
  outcome "s3vl configured to call ${alias_arn}" "configure s3vl to call ${alias_arn}"
}

# ------------------------------------------------------------------------------ 7 register
step_register_index() {
  begin_step "register-index" "that s3vl.configure ran (scripts/configure.sh) and the stack outputs IndexName and IndexArn"
  load_stack_outputs
  local index_name index_arn
  stack_output index_name IndexName
  stack_output index_arn IndexArn
  resolve_database
  sql_query "" "SELECT s3vl.register_index(:'index_name', :'index_arn');" \
    -v "index_name=${index_name}" -v "index_arn=${index_arn}" >/dev/null
  outcome "index ${index_name} registered" "register index ${index_name} (${index_arn})"
}

# ------------------------------------------------------------------------------ 8 validate
step_validate() {
  begin_step "validate" \
    "the function log group in CloudWatch Logs, the networking section of docs/deploy.md, and aws_lambda.request_timeout_ms"
  load_stack_outputs
  local payload answer failures rows alias_arn index_name dimension
  stack_output alias_arn FunctionAliasArn
  stack_output index_name IndexName
  stack_output dimension IndexDimension
  resolve_database
  payload="$(mktemp)"
  answer="$(mktemp)"
  printf '{"operation": "availability_check"}' >"${payload}"
  run aws --region "${REGION}" lambda invoke --function-name "${alias_arn}" \
    --payload "fileb://${payload}" "${answer}" >/dev/null
  if [[ "${DRY_RUN}" != 1 ]]; then
    grep -q '"success": *true' "${answer}" ||
      die "the function answered availability_check with: $(head -c 500 "${answer}")"
    log "function answers directly: $(head -c 300 "${answer}")"
  fi
  rm -f "${payload}" "${answer}"
  failures="$(sql_query 0 'SELECT count(*) FROM s3vl.validate_config() WHERE NOT is_valid;')"
  if [[ "${DRY_RUN}" == 1 ]]; then
    sql_query 0 "SELECT count(*) FROM s3vl.query_vectors(query_vector => array_fill(0.5::float8, ARRAY[:'dimension'::integer]), index_name => :'index_name', top_k => 1);" \
      -v "index_name=${index_name}" -v "dimension=${dimension}" >/dev/null
    outcome "" "check that the function answers availability_check, that s3vl.validate_config() reports no failed check, and that s3vl.query_vectors answers from ${index_name}"
    return 0
  fi
  [[ "${failures}" == 0 ]] ||
    die "s3vl.validate_config() reports ${failures} failed check(s); run SELECT * FROM s3vl.validate_config() for details"
  rows="$(sql_query 0 "SELECT count(*) FROM s3vl.query_vectors(query_vector => array_fill(0.5::float8, ARRAY[:'dimension'::integer]), index_name => :'index_name', top_k => 1);" \
    -v "index_name=${index_name}" -v "dimension=${dimension}")"
  log "validated: SQL reaches the function and s3vl.query_vectors answers (${rows} row(s) from ${index_name})"
}
