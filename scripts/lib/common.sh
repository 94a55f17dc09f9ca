# shellcheck shell=bash
# Shared plumbing for the s3vl deploy scripts: options, logging, dry-run, step failure messages,
# stack outputs and database connection. Sourced, never run.
# shellcheck disable=SC2034 # globals here are read by steps.sh and the scripts

S3VL_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly S3VL_REPO_ROOT
readonly S3VL_TEMPLATE="${S3VL_REPO_ROOT}/cloudformation/template.yaml"
PYTHON="${PYTHON:-python3}"

PARAMETERS_FILE="${S3VL_PARAMETERS:-${S3VL_REPO_ROOT}/parameters.json}"
STACK_NAME="${S3VL_STACK_NAME:-s3vl}"
REGION="${S3VL_REGION:-}"
DRY_RUN=0
ASSUME_YES=0
# Seconds between polls of asynchronous AWS operations; attempts before giving up.
POLL_SECONDS="${S3VL_POLL_SECONDS:-10}"
POLL_ATTEMPTS="${S3VL_POLL_ATTEMPTS:-60}"
CURRENT_STEP="start"
CURRENT_HINT=""
REMAINING_ARGS=()

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

# Exit status of a die inside $(...): the message is printed there, so the script that ran the
# substitution stops without printing a second one.
readonly S3VL_REPORTED_STATUS=86

# Stops the script with the step that failed and what to check.
die() {
  printf 'ERROR: step "%s" failed: %s\n' "${CURRENT_STEP}" "$1" >&2
  if [[ -n "${CURRENT_HINT}" ]]; then printf 'Check: %s\n' "${CURRENT_HINT}" >&2; fi
  if ((BASH_SUBSHELL > 0)); then exit "${S3VL_REPORTED_STATUS}"; fi
  exit "${2:-1}"
}

on_error() {
  local status=$1 line=$2 command=$3
  trap - ERR
  # A failure inside $(...) is reported once, by the script that ran the substitution.
  if ((BASH_SUBSHELL > 0)); then exit "${status}"; fi
  if ((status == S3VL_REPORTED_STATUS)); then exit 1; fi
  if ((${#command} > 160)); then command="${command:0:160}..."; fi
  printf 'ERROR: step "%s" failed (exit %s at %s:%s: %s)\n' "${CURRENT_STEP}" "${status}" \
    "${BASH_SOURCE[1]#"${S3VL_REPO_ROOT}/"}" "${line}" "${command}" >&2
  if [[ -n "${CURRENT_HINT}" ]]; then printf 'Check: %s\n' "${CURRENT_HINT}" >&2; fi
  exit "${status}"
}
set -E
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

# begin_step NAME HINT: names the step that any later failure is reported against.
begin_step() {
  CURRENT_STEP="$1"
  CURRENT_HINT="$2"
  log "step ${CURRENT_STEP}"
}

# print_command CMD...: the command as it could be pasted into a shell (JSON stays readable).
print_command() {
  local arg line=""
  for arg in "$@"; do
    if [[ "${arg}" =~ ^[][A-Za-z0-9_./:=,+@%-]+$ ]]; then line+=" ${arg}"; else line+=" ${arg@Q}"; fi
  done
  printf '+%s\n' "${line}" >&2
}

# run CMD...: a command that changes something; printed, and skipped under --dry-run. Its
# output goes to stderr with the rest of the log, so stdout carries only what scripts print.
run() {
  print_command "$@"
  if [[ "${DRY_RUN}" == 1 ]]; then return 0; fi
  "$@" >&2
}

# capture PLACEHOLDER CMD...: a command whose output the script needs; printed, and under
# --dry-run not run at all (PLACEHOLDER stands for its output).
capture() {
  local placeholder="$1"
  shift
  print_command "$@"
  if [[ "${DRY_RUN}" == 1 ]]; then
    printf '%s\n' "${placeholder}"
    return 0
  fi
  "$@"
}

# outcome DONE WOULD: what a step found or did (DONE); under --dry-run, where no command ran and
# nothing is known, what it would check or do instead ("dry run: would WOULD").
outcome() {
  if [[ "${DRY_RUN}" == 1 ]]; then log "dry run: would $2"; else log "$1"; fi
}

usage_common() {
  cat >&2 <<EOF
Common options:
  --parameters FILE   CloudFormation parameters file (default: parameters.json; env S3VL_PARAMETERS)
  --stack-name NAME   stack name (default: s3vl; env S3VL_STACK_NAME)
  --region REGION     AWS Region (default: the Region of AuroraClusterArn; env S3VL_REGION)
  --dry-run           print every command without running any
  --yes               do not ask before deleting anything
Database connection: the usual libpq variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD
or ~/.pgpass); PGHOST and PGPORT default to the cluster's writer endpoint.
EOF
}

# Parses the common options; everything else is left in REMAINING_ARGS for the script.
parse_common_args() {
  while (($#)); do
    case "$1" in
      --parameters) PARAMETERS_FILE="${2:?--parameters needs a file}"; shift 2 ;;
      --stack-name) STACK_NAME="${2:?--stack-name needs a name}"; shift 2 ;;
      --region) REGION="${2:?--region needs a Region}"; shift 2 ;;
      --dry-run) DRY_RUN=1; shift ;;
      --yes) ASSUME_YES=1; shift ;;
      -h | --help) usage; usage_common; exit 0 ;;
      *) REMAINING_ARGS+=("$1"); shift ;;
    esac
  done
  if [[ "${DRY_RUN}" == 1 ]]; then log "dry run: commands are printed, none is run"; fi
}

reject_unknown_args() {
  if ((${#REMAINING_ARGS[@]})); then
    usage
    usage_common
    CURRENT_STEP="arguments"
    die "unknown argument: ${REMAINING_ARGS[0]}" 2
  fi
}

declare -A PARAMETERS=()
PARAMETER_KEYS=()
PARAMETERS_LOADED=0

# load_parameters: reads the parameters file once into PARAMETERS (file order in PARAMETER_KEYS).
load_parameters() {
  local key value lines
  [[ -f "${PARAMETERS_FILE}" ]] ||
    die "parameters file ${PARAMETERS_FILE} not found (copy parameters.example.json to parameters.json and fill it in)"
  lines="$("${PYTHON}" - "${PARAMETERS_FILE}" <<'PY'
import json, sys
entries = json.load(open(sys.argv[1], encoding="utf-8"))
if not isinstance(entries, list) or not all(isinstance(e, dict) and "ParameterKey" in e for e in entries):
    sys.exit(f"{sys.argv[1]}: expected a list of {{ParameterKey, ParameterValue}} objects")
for e in entries:
    value = str(e.get("ParameterValue", ""))
    if "\t" in value or "\n" in value:
        sys.exit(f"{sys.argv[1]}: {e['ParameterKey']} contains a tab or newline")
    print(f'{e["ParameterKey"]}\t{value}')
PY
)" || die "cannot read ${PARAMETERS_FILE}"
  while IFS=$'\t' read -r key value; do
    [[ -z "${key}" ]] && continue
    PARAMETERS["${key}"]="${value}"
    PARAMETER_KEYS+=("${key}")
  done <<<"${lines}"
  PARAMETERS_LOADED=1
}

# parameter KEY: the ParameterValue of KEY in the parameters file ("" when absent).
parameter() {
  if [[ "${PARAMETERS_LOADED}" != 1 ]]; then load_parameters; fi
  printf '%s\n' "${PARAMETERS[$1]:-}"
}

# parameter_overrides: every parameter but the ones the scripts set (code, config digest) as
# Key=Value, the form that `aws cloudformation deploy` takes.
parameter_overrides() {
  local key
  if [[ "${PARAMETERS_LOADED}" != 1 ]]; then load_parameters; fi
  for key in "${PARAMETER_KEYS[@]}"; do
    case "${key}" in
      CodeS3Bucket | CodeS3Key | CodeSha256 | ConfigDigest) ;;
      *) printf '%s=%s\n' "${key}" "${PARAMETERS[${key}]}" ;;
    esac
  done
}

cluster_arn() {
  local arn
  arn="$(parameter AuroraClusterArn)"
  [[ "${arn}" =~ ^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:cluster:[a-zA-Z][a-zA-Z0-9-]*$ ]] ||
    die "AuroraClusterArn in ${PARAMETERS_FILE} is not a cluster ARN: '${arn}'"
  printf '%s\n' "${arn}"
}

# Set by resolve_region from AuroraClusterArn (checked there), so no step needs a $(...) for it.
CLUSTER_ID=""

# The stack lives in the cluster's Region: the function runs in the cluster's VPC.
resolve_region() {
  local arn arn_region
  load_parameters
  arn="$(cluster_arn)"
  arn_region="$(cut -d: -f4 <<<"${arn}")"
  CLUSTER_ID="$(cut -d: -f7 <<<"${arn}")"
  if [[ -n "${REGION}" && "${REGION}" != "${arn_region}" ]]; then
    die "--region ${REGION} differs from the Region of AuroraClusterArn (${arn_region}); the stack must be in the cluster's Region"
  fi
  REGION="${arn_region}"
}

# aws_cli ARGS...: the AWS CLI in this stack's Region.
aws_cli() { aws --region "${REGION}" "$@"; }

declare -A STACK_OUTPUTS=()

stack_exists() {
  local status
  if [[ "${DRY_RUN}" == 1 ]]; then return 0; fi
  if status="$(aws_cli cloudformation describe-stacks --stack-name "${STACK_NAME}" \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null)"; then
    [[ "${status}" != DELETE_COMPLETE ]]
  else
    return 1
  fi
}

STACK_OUTPUTS_LOADED=0

# load_stack_outputs [--refresh]: reads every output of the stack (once, unless --refresh;
# placeholders under --dry-run). A stack without outputs (a failed create) gives none.
load_stack_outputs() {
  local key value lines
  if [[ "${STACK_OUTPUTS_LOADED}" == 1 && "${1:-}" != --refresh ]]; then return 0; fi
  STACK_OUTPUTS=()
  if [[ "${DRY_RUN}" == 1 ]]; then
    print_command aws --region "${REGION}" cloudformation describe-stacks --stack-name "${STACK_NAME}"
    return 0
  fi
  lines="$(aws_cli cloudformation describe-stacks --stack-name "${STACK_NAME}" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text)" ||
    die "cannot read the outputs of stack ${STACK_NAME} in ${REGION} (deploy it first with scripts/deploy-stack.sh)"
  while IFS=$'\t' read -r key value; do
    # The CLI prints None for a stack that has no Outputs at all.
    [[ -n "${key}" && "${key}" != None ]] && STACK_OUTPUTS["${key}"]="${value}"
  done <<<"${lines}"
  STACK_OUTPUTS_LOADED=1
}

# has_output KEY: the stack has a non-empty output KEY (always, under --dry-run).
has_output() { [[ "${DRY_RUN}" == 1 || -n "${STACK_OUTPUTS[$1]:-}" ]]; }

# stack_output VAR KEY: sets VAR to one stack output, or stops the script naming the key. It
# assigns instead of printing so that it never runs inside $(...), where a failure would only
# end the subshell and the command around it would still run.
stack_output() {
  if [[ "${DRY_RUN}" == 1 ]]; then
    printf -v "$1" '<%s output of %s>' "$2" "${STACK_NAME}"
    return 0
  fi
  [[ -n "${STACK_OUTPUTS[$2]:-}" ]] ||
    die "stack ${STACK_NAME} has no output $2 (is it deployed from cloudformation/template.yaml?)"
  printf -v "$1" '%s' "${STACK_OUTPUTS[$2]}"
}

# The Amazon RDS certificate bundle (all Regions) that verifies the cluster's TLS certificate.
readonly RDS_CA_BUNDLE_URL="https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
RDS_CA_BUNDLE="${S3VL_RDS_CA_BUNDLE:-${S3VL_REPO_ROOT}/build/rds-global-bundle.pem}"

# resolve_database: PGHOST/PGPORT/PGDATABASE/PGUSER default to the cluster's own values, over TLS
# that verifies the server (PGSSLMODE=verify-full with the RDS CA bundle, fetched once over
# HTTPS into build/ unless PGSSLROOTCERT or S3VL_RDS_CA_BUNDLE names one).
resolve_database() {
  local row endpoint port dbname user
  if [[ -n "${PGHOST:-}" ]]; then
    log "database: ${PGHOST}:${PGPORT:-5432} (from PGHOST)"
    return 0
  fi
  row="$(capture "<endpoint>	5432	postgres	<user>" aws --region "${REGION}" rds describe-db-clusters \
    --db-cluster-identifier "${CLUSTER_ID}" \
    --query 'DBClusters[0].[Endpoint,Port,DatabaseName,MasterUsername]' --output text)"
  IFS=$'\t' read -r endpoint port dbname user <<<"${row}"
  export PGHOST="${endpoint}" PGPORT="${PGPORT:-${port}}"
  if [[ -z "${PGDATABASE:-}" ]]; then
    if [[ "${dbname}" == None ]]; then dbname=postgres; fi
    export PGDATABASE="${dbname}"
  fi
  export PGUSER="${PGUSER:-${user}}" PGSSLMODE="${PGSSLMODE:-verify-full}"
  if [[ "${PGSSLMODE}" == verify-* && -z "${PGSSLROOTCERT:-}" ]]; then
    if [[ ! -s "${RDS_CA_BUNDLE}" ]]; then
      run mkdir -p "$(dirname "${RDS_CA_BUNDLE}")"
      run curl -fsS --proto =https --tlsv1.2 -o "${RDS_CA_BUNDLE}" "${RDS_CA_BUNDLE_URL}" ||
        die "cannot download the RDS CA bundle from ${RDS_CA_BUNDLE_URL}; download it yourself and set PGSSLROOTCERT (or PGSSLMODE=require to connect without verifying the server)"
    fi
    export PGSSLROOTCERT="${RDS_CA_BUNDLE}"
  fi
  log "database: ${PGHOST}:${PGPORT} ${PGDATABASE} as ${PGUSER} (cluster writer endpoint, sslmode ${PGSSLMODE})"
}

# sql ARGS...: psql that stops at the first SQL error and prints bare values.
sql() { run psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# sql_query PLACEHOLDER STATEMENT [-v name=value]...: runs one statement given on stdin, where
# psql interpolates :'name' variables (it does not inside -c), and prints its result.
sql_query() {
  local placeholder="$1" statement="$2"
  shift 2
  print_command psql -X -q -At -v ON_ERROR_STOP=1 "$@" -f -
  printf '  %s\n' "${statement}" >&2
  if [[ "${DRY_RUN}" == 1 ]]; then
    printf '%s\n' "${placeholder}"
    return 0
  fi
  psql -X -q -At -v ON_ERROR_STOP=1 "$@" -f - <<<"${statement}"
}

confirm() {
  if [[ "${ASSUME_YES}" == 1 || "${DRY_RUN}" == 1 ]]; then return 0; fi
  local answer
  read -r -p "$1 [y/N] " answer || true
  [[ "${answer}" == y || "${answer}" == Y ]] || die "not confirmed (pass --yes to skip this question)"
}
