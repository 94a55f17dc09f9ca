#!/usr/bin/env bash
# Loads vectors into the stack's index with the AWS CLI: PutVectors in batches of at most 500,
# with a progress line per batch, then counts what the index holds.
# Works against any S3 Vectors endpoint: set S3VL_S3VECTORS_ENDPOINT (or the AWS CLI's own
# AWS_ENDPOINT_URL_S3VECTORS) to use the local emulator.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly PUT_VECTORS_MAX=500 # service limit per PutVectors call

# in_range VALUE MIN MAX: VALUE is a whole number within [MIN, MAX].
in_range() {
  [[ "$1" =~ ^[0-9]{1,10}$ ]] || return 1
  (($1 >= $2 && $1 <= $3))
}

usage() {
  cat >&2 <<'TXT'
usage: scripts/load-sample-data.sh (--file FILE | --random COUNT) [options]
  --file FILE         JSON list in the put-vectors format: [{"key", "data": {"float32": [...]}, "metadata"}]
                      ("data" may also be a plain list of numbers)
  --random COUNT      generate COUNT random vectors instead (metadata: category, price, n)
  --dimension N       dimension of the random vectors (default: the index's dimension)
  --seed N            seed of the random vectors (default 42)
  --batch-size N      vectors per PutVectors call, 1-500 (default 500)
  --index-arn ARN     target index (default: the stack output IndexArn)
  --no-count          do not list the index afterwards to count its vectors (large indexes)
Endpoint: S3VL_S3VECTORS_ENDPOINT=http://127.0.0.1:PORT sends every call there (--endpoint-url).
TXT
}

count_after=1 file="" random_count="" dimension="" seed=42 batch_size="${PUT_VECTORS_MAX}" index_arn=""
parse_common_args "$@"
set -- "${REMAINING_ARGS[@]+"${REMAINING_ARGS[@]}"}"
REMAINING_ARGS=()
CURRENT_STEP="arguments"
while (($#)); do
  case "$1" in
    --file) file="${2:?--file needs a path}"; shift 2 ;;
    --random) random_count="${2:?--random needs a count}"; shift 2 ;;
    --dimension) dimension="${2:?--dimension needs a number}"; shift 2 ;;
    --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
    --batch-size) batch_size="${2:?--batch-size needs a number}"; shift 2 ;;
    --index-arn) index_arn="${2:?--index-arn needs an ARN}"; shift 2 ;;
    --no-count) count_after=0; shift ;;
    *) REMAINING_ARGS+=("$1"); shift ;;
  esac
done
reject_unknown_args
if [[ -n "${file}" && -n "${random_count}" ]] || [[ -z "${file}" && -z "${random_count}" ]]; then
  usage
  die "give exactly one of --file or --random" 2
fi
in_range "${batch_size}" 1 "${PUT_VECTORS_MAX}" ||
  die "--batch-size must be between 1 and ${PUT_VECTORS_MAX} (the PutVectors limit), got '${batch_size}'" 2
if [[ -n "${random_count}" ]]; then
  in_range "${random_count}" 1 1000000000 || die "--random must be a positive count, got '${random_count}'" 2
fi
if [[ -n "${dimension}" ]]; then
  in_range "${dimension}" 1 4096 ||
    die "--dimension must be between 1 and 4096, got '${dimension}'" 2
fi
[[ "${seed}" =~ ^[0-9]+$ ]] || die "--seed must be a non-negative integer, got '${seed}'" 2
[[ -z "${file}" || -f "${file}" ]] || die "--file ${file} does not exist" 2

begin_step "resolve-index" "the stack outputs (scripts/deploy-stack.sh) or pass --index-arn"
if [[ -z "${index_arn}" ]]; then
  resolve_region
  load_stack_outputs
  stack_output index_arn IndexArn
fi
if [[ "${index_arn}" =~ ^arn:aws[a-z-]*:s3vectors:([a-z0-9-]+):[0-9]{12}:bucket/[a-z0-9.-]+/index/[a-z0-9.-]+$ ]]; then
  REGION="${BASH_REMATCH[1]}"
elif [[ "${DRY_RUN}" != 1 ]]; then # under --dry-run the ARN is a placeholder
  die "not an S3 Vectors index ARN: '${index_arn}'" 2
fi

s3vectors=(aws --region "${REGION}")
if [[ -n "${S3VL_S3VECTORS_ENDPOINT:-}" ]]; then
  s3vectors+=(--endpoint-url "${S3VL_S3VECTORS_ENDPOINT}")
fi
s3vectors+=(s3vectors)

if [[ -n "${random_count}" && -z "${dimension}" ]]; then
  dimension="$(capture 8 "${s3vectors[@]}" get-index --index-arn "${index_arn}" --query index.dimension --output text)"
fi

begin_step "prepare-batches" "that ${file:-the random vectors} is a JSON list of {key, data, metadata} of one dimension"
workdir="$(mktemp -d)"
trap 'rm -rf "${workdir}"' EXIT
batches=0
if [[ "${DRY_RUN}" != 1 ]]; then
  batches="$("${PYTHON}" - "${workdir}" "${batch_size}" "${file}" "${random_count:-0}" "${dimension:-0}" "${seed}" <<'PY'
import json, random, sys

workdir, batch_size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count, dimension, seed = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])

def random_vectors():
    rng = random.Random(seed)
    categories = ["books", "electronics", "garden", "toys"]
    for n in range(count):
        yield {
            "key": f"random-{n:07d}",
            "data": {"float32": [rng.uniform(-1.0, 1.0) for _ in range(dimension)]},
            "metadata": {"category": categories[n % len(categories)], "price": n % 100, "n": n},
        }

def file_vectors():
    entries = json.load(open(path, encoding="utf-8"))
    if not isinstance(entries, list):
        sys.exit(f"{path}: expected a JSON list of vectors")
    width = None
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            sys.exit(f"{path}: vector {i} has no string 'key'")
        data = entry.get("data")
        values = data.get("float32") if isinstance(data, dict) else data
        if not isinstance(values, list) or not values:
            sys.exit(f"{path}: vector {entry['key']!r} has no data (a list or {{'float32': [...]}})")
        width = width or len(values)
        if len(values) != width:
            sys.exit(f"{path}: vector {entry['key']!r} has dimension {len(values)}, the first had {width}")
        vector = {"key": entry["key"], "data": {"float32": values}}
        if entry.get("metadata") is not None:
            vector["metadata"] = entry["metadata"]
        yield vector

batch, batches = [], 0
def flush():
    global batch, batches
    if batch:
        with open(f"{workdir}/batch-{batches:06d}.json", "w", encoding="utf-8") as out:
            json.dump(batch, out)
        batches += 1
        batch = []
for vector in (file_vectors() if path else random_vectors()):
    batch.append(vector)
    if len(batch) == batch_size:
        flush()
flush()
print(batches)
PY
)"
fi

begin_step "put-vectors" "the index ARN, that its dimension matches the vectors, and s3vectors:PutVectors permission"
log "loading into ${index_arn} in batches of ${batch_size}"
loaded=0
for ((i = 0; i < batches; i++)); do
  batch_file="$(printf '%s/batch-%06d.json' "${workdir}" "${i}")"
  in_batch="$("${PYTHON}" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "${batch_file}")"
  "${s3vectors[@]}" put-vectors --index-arn "${index_arn}" --vectors "file://${batch_file}"
  loaded=$((loaded + in_batch))
  log "batch $((i + 1))/${batches}: ${loaded} vectors written"
done
if [[ "${DRY_RUN}" == 1 ]]; then
  print_command "${s3vectors[@]}" put-vectors --index-arn "${index_arn}" --vectors "file://<batch of ${batch_size}>"
fi

if [[ "${count_after}" == 0 ]]; then
  log "load-sample-data.sh: done. ${loaded} vectors written"
  exit 0
fi
begin_step "count" "s3vectors:ListVectors permission on ${index_arn}"
# JSON output: the CLI merges every page before applying --query (text output would not).
total="$(capture "<count>" "${s3vectors[@]}" list-vectors --index-arn "${index_arn}" \
  --query 'length(vectors)' --output json)"
log "load-sample-data.sh: done. ${loaded} vectors written; the index holds ${total} vectors"
