#!/usr/bin/env bash
# Creates (once) the Python virtual environment with Keras 3 on the JAX backend (CPU) that
# tests/interop/generate_keras3_jax_archives.py and keras3_jax_load_strata.py run in. It is a
# venv of its own, apart from setup_venv.sh's TensorFlow one, so that the pins of JAX and
# TensorFlow cannot conflict. Its path is printed on stdout (the only thing printed there):
#
#   KERAS_BACKEND=jax "$(tests/interop/setup_jax_venv.sh)/bin/python" tests/interop/generate_keras3_jax_archives.py OUT
#
# Re-running is cheap: a venv that already has the pinned versions is left alone; one with
# other versions is upgraded in place. Location: $STRATA_JAX_VENV, default
# ~/.cache/strata/jax-venv. Python: $PYTHON, default python3 (3.11-3.13, the versions jax 0.10
# has wheels for). Exits non-zero, with the reason on stderr, when it cannot make the venv
# (PyPI unreachable, no suitable Python).
set -euo pipefail

VENV="${STRATA_JAX_VENV:-$HOME/.cache/strata/jax-venv}"
PYTHON="${PYTHON:-python3}"
# The Keras pin of setup_venv.sh, so that both backends run the same saving code.
KERAS_VERSION=3.15.1
JAX_VERSION=0.10.2
PINS=("keras==$KERAS_VERSION" "jax[cpu]==$JAX_VERSION" h5py numpy)

log() { echo "setup_jax_venv.sh: $*" >&2; }
die() { log "$*"; exit 1; }

check_pins() {
  "$VENV/bin/python" - "$KERAS_VERSION" "$JAX_VERSION" <<'PY' >/dev/null 2>&1
import importlib.metadata as md, sys
keras_version, jax_version = sys.argv[1:3]
assert md.version("keras") == keras_version
assert md.version("jax") == jax_version
assert md.version("jaxlib") == jax_version
assert md.version("h5py") and md.version("numpy")
PY
}

supported_python() {
  "$1" - <<'PY'
import sys
sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)
PY
}

if [[ -x "$VENV/bin/python" ]] && check_pins; then
  echo "$VENV"
  exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found; set PYTHON to a Python 3.11-3.13 interpreter"
supported_python "$PYTHON" \
  || die "$("$PYTHON" --version 2>&1) is not supported by jax $JAX_VERSION (needs Python 3.11-3.13); set PYTHON"

if [[ -x "$VENV/bin/python" && -f "$VENV/pyvenv.cfg" ]] && ! supported_python "$VENV/bin/python"; then
  log "$VENV has $("$VENV/bin/python" --version 2>&1); recreating it with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv --clear "$VENV" >&2 || die "could not recreate the venv in $VENV"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV" >&2 || die "could not create a venv in $VENV (is the python3-venv package installed?)"
fi

# Fail early, with a clear message, when PyPI cannot be reached (pip would retry for minutes).
INDEX_URL="${PIP_INDEX_URL:-https://pypi.org/simple}"
if ! "$VENV/bin/python" - "$INDEX_URL" <<'PY' >&2
import sys, urllib.request
url = sys.argv[1].rstrip("/") + "/jax/"
try:
    urllib.request.urlopen(url, timeout=20).read(1)
except Exception as e:  # noqa: BLE001
    print("cannot reach the package index at %s: %s" % (url, e))
    sys.exit(1)
PY
then
  die "PyPI is unreachable, so the JAX venv cannot be installed. Connect to the network (or set" \
      "PIP_INDEX_URL to a mirror) and re-run. Only the JAX interop test (strata_keras3_jax_archive_tests) needs it."
fi

log "installing ${PINS[*]} into $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip >&2 \
  || die "pip upgrade failed in $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade "${PINS[@]}" >&2 \
  || die "pip install ${PINS[*]} failed (see the messages above)"
check_pins || die "the venv at $VENV does not have the pinned versions after installing; remove it and re-run"
echo "$VENV"
