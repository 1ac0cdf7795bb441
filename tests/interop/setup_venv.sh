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

if [[ -x "$VENV/bin/python" ]] && check_pins; then
  echo "$VENV"
  exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found; set PYTHON to a Python 3.10-3.13 interpreter"
"$PYTHON" - <<'EOF' || die "$("$PYTHON" --version 2>&1) is not supported by tensorflow-cpu $TF_VERSION (needs Python 3.10-3.13)"
import sys
sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)
EOF

# A venv whose own Python the pinned TensorFlow has no wheels for (one made for an older pin
# with Python 3.9) cannot be upgraded in place: it is made again (venv --clear).
if [[ -x "$VENV/bin/python" && -f "$VENV/pyvenv.cfg" ]] && ! "$VENV/bin/python" - <<'EOF'
import sys
sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)
EOF
then
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
if ! "$VENV/bin/python" - "$INDEX_URL" <<'EOF' >&2
import sys, urllib.request
url = sys.argv[1].rstrip("/") + "/tf-keras/"
try:
    urllib.request.urlopen(url, timeout=20).read(1)
except Exception as e:  # noqa: BLE001
    print("cannot reach the package index at %s: %s" % (url, e))
    sys.exit(1)
EOF
then
  die "PyPI is unreachable, so the interop venv cannot be installed. Connect to the network (or set" \
      "PIP_INDEX_URL to a mirror) and re-run. The C++ interop tests do not need it: they use the committed" \
      "fixtures in tests/data/keras."
fi

# --upgrade: an existing venv (a CI cache made for an older pin) is upgraded in place, and its
# unpinned packages (numpy, h5py) move to the versions a fresh venv would get.
log "installing ${PINS[*]} into $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip >&2 \
  || die "pip upgrade failed in $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade "${PINS[@]}" >&2 \
  || die "pip install ${PINS[*]} failed (see the messages above)"
check_pins || die "the venv at $VENV does not have the pinned versions after installing; remove it and re-run"
echo "$VENV"
