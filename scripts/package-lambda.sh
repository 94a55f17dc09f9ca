#!/usr/bin/env bash
# Builds the Lambda deployment zip: the wheels of scripts/lambda-requirements.lock (pinned, with
# hashes) for the Lambda platform plus the s3vl_lambda package. Prints the zip size and checks the
# bundled botocore knows s3vectors. The zip is byte-for-byte reproducible: the same sources give
# the same bytes (sorted entries, fixed timestamps and permissions), so an unchanged function is
# neither uploaded nor published again.
#
#   scripts/package-lambda.sh [--arch arm64|x86_64] [--output build/s3vl-lambda.zip]
set -euo pipefail

RUNTIME=python3.12
HANDLER=s3vl_lambda.handler.lambda_handler
PYTHON_VERSION=3.12
DEFAULT_ARCH=arm64
MAX_UNZIPPED_BYTES=262144000  # Lambda's 250 MB limit for an unzipped deployment package

cd "$(dirname "$0")/.."
ROOT=$(pwd)
ARCH=$DEFAULT_ARCH
OUTPUT=build/s3vl-lambda.zip

usage() { echo "usage: $0 [--arch arm64|x86_64] [--output FILE]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH=${2:-}; shift 2 ;;
    --arch=*) ARCH=${1#*=}; shift ;;
    --output) OUTPUT=${2:-}; shift 2 ;;
    --output=*) OUTPUT=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
case "$ARCH" in
  arm64) PLATFORM=manylinux2014_aarch64 ;;
  x86_64) PLATFORM=manylinux2014_x86_64 ;;
  *) echo "--arch must be arm64 or x86_64, got '$ARCH'" >&2; exit 2 ;;
esac
[ -n "$OUTPUT" ] || usage
case "$OUTPUT" in /*) ;; *) OUTPUT="$ROOT/$OUTPUT" ;; esac

if [ -x "$ROOT/.venv/bin/python" ]; then PY=${PYTHON:-$ROOT/.venv/bin/python}; else PY=${PYTHON:-python3}; fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/s3vl-lambda-stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

echo "[package] $RUNTIME $ARCH ($PLATFORM): installing scripts/lambda-requirements.lock"
"$PY" -m pip install --quiet --disable-pip-version-check --no-compile --require-hashes \
  --platform "$PLATFORM" --implementation cp --python-version "$PYTHON_VERSION" \
  --only-binary=:all: --target "$STAGE" -r scripts/lambda-requirements.lock

cp -R lambda/s3vl_lambda "$STAGE/"
find "$STAGE" -name __pycache__ -type d -prune -exec rm -rf {} +
find "$STAGE" -name '*.pyc' -delete

# The bundled botocore must carry the s3vectors model, and the handler must import from the zip
# contents alone (no site-packages): both checked before the zip is written.
if ! ls "$STAGE"/botocore/data/s3vectors/*/service-2.json* >/dev/null 2>&1; then
  echo "[package] ERROR: the bundled botocore has no s3vectors service model" >&2
  exit 1
fi
env -i PATH="$PATH" PYTHONPATH="$STAGE" PYTHONDONTWRITEBYTECODE=1 AWS_REGION=us-east-1 "$PY" -S -c "
import botocore.session, s3vl_lambda.handler as h
botocore.session.get_session().get_service_model('s3vectors')
assert h.lambda_handler({'operation': 'availability_check'}, None)['success']
" >/dev/null

UNZIPPED=$(du -sb "$STAGE" | cut -f1)
if [ "$UNZIPPED" -gt "$MAX_UNZIPPED_BYTES" ]; then
  echo "[package] ERROR: unzipped size $UNZIPPED bytes exceeds Lambda's limit" >&2
  exit 1
fi

mkdir -p "$(dirname "$OUTPUT")"
rm -f "$OUTPUT"
# Reproducible: entries in byte order of their names, each dated 1980-01-01 (the zip epoch) with
# mode 0644 (0755 if executable), deflated at a fixed level, no extra fields.
"$PY" - "$STAGE" "$OUTPUT" <<'PY'
import os, sys, zipfile
stage, output = sys.argv[1], sys.argv[2]
names = sorted(
    os.path.relpath(os.path.join(d, f), stage).replace(os.sep, "/")
    for d, _, files in os.walk(stage) for f in files)
with zipfile.ZipFile(output, "w") as archive:
    for name in names:
        path = os.path.join(stage, name)
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3  # Unix, so the mode below is what Lambda sees
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        info.external_attr = (0o100000 | mode) << 16
        with open(path, "rb") as source:
            archive.writestr(info, source.read(), compresslevel=9)
PY

SIZE=$(stat -c %s "$OUTPUT")
echo "[package] wrote ${OUTPUT#"$ROOT"/} ($ARCH, runtime $RUNTIME, handler $HANDLER)"
echo "[package] size: $SIZE bytes ($((SIZE / 1024 / 1024)) MiB zipped, $((UNZIPPED / 1024 / 1024)) MiB unzipped)"
