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

# shellcheck source=venv_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/venv_common.sh"
make_venv 11 13 "jax $JAX_VERSION" jax \
  "PyPI is unreachable, so the JAX venv cannot be installed. Connect to the network (or set PIP_INDEX_URL to a mirror) and re-run. Only the JAX interop test (strata_keras3_jax_archive_tests) needs it."
