#!/usr/bin/env bash
# Creates (once) the Python virtual environment that tests/interop/generate_fixtures.py runs
# in: real TensorFlow and tf-keras, pinned, from PyPI. The environment lives outside the
# repository; its path is printed on stdout (the only thing printed there), so
#
#   "$(tests/interop/setup_venv.sh)/bin/python" tests/interop/generate_fixtures.py
#
# works. Re-running is cheap: an environment that already has the pinned versions is left
# alone; one with other versions (an older pin, e.g. a CI cache made for 2.17) is upgraded in
# place. Location: $STRATA_INTEROP_VENV, default ~/.cache/strata/interop-venv. Python: $PYTHON,
# default python3 (3.10-3.13, the versions tensorflow-cpu 2.21 has wheels for).
set -euo pipefail

VENV="${STRATA_INTEROP_VENV:-$HOME/.cache/strata/interop-venv}"
PYTHON="${PYTHON:-python3}"
TF_VERSION=2.21.0
TF_KERAS_VERSION=2.21.0
# Keras 3 is TensorFlow's own dependency (tf-keras does not use it); pinned so that every
# venv resolves to the same set.
KERAS_VERSION=3.15.1
PINS=(tensorflow-cpu==$TF_VERSION tf-keras==$TF_KERAS_VERSION keras==$KERAS_VERSION h5py numpy)

log() { echo "setup_venv.sh: $*" >&2; }
die() { log "$*"; exit 1; }

check_pins() {
  TF_CPP_MIN_LOG_LEVEL=3 TF_USE_LEGACY_KERAS=1 "$VENV/bin/python" - "$TF_VERSION" "$TF_KERAS_VERSION" "$KERAS_VERSION" <<'EOF' >/dev/null 2>&1
import importlib.metadata as md, sys
tf_version, tf_keras_version, keras_version = sys.argv[1:4]
assert md.version("tf-keras") == tf_keras_version
assert md.version("keras") == keras_version
assert md.version("h5py") and md.version("numpy")
# tensorflow-cpu, or an equivalent tensorflow of the same version
try:
    v = md.version("tensorflow-cpu")
except md.PackageNotFoundError:
    v = md.version("tensorflow")
assert v == tf_version
EOF
}

# shellcheck source=venv_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/venv_common.sh"
make_venv 10 13 "tensorflow-cpu $TF_VERSION" tf-keras \
  "PyPI is unreachable, so the interop venv cannot be installed. Connect to the network (or set PIP_INDEX_URL to a mirror) and re-run. The C++ interop tests do not need it: they use the committed fixtures in tests/data/keras."
