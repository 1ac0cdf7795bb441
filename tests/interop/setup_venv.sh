#!/usr/bin/env bash
# Creates (once) the Python virtual environment that tests/interop/generate_fixtures.py runs
# in: real TensorFlow and tf-keras, pinned, from PyPI. The environment lives outside the
# repository; its path is printed on stdout (the only thing printed there), so
#
#   "$(tests/interop/setup_venv.sh)/bin/python" tests/interop/generate_fixtures.py
#
# works. Re-running is cheap: an environment that already has the pinned versions is left
# alone. Location: $STRATA_INTEROP_VENV, default ~/.cache/strata/interop-venv. Python: $PYTHON,
# default python3 (3.9-3.12, the versions tensorflow-cpu 2.17 has wheels for).
set -euo pipefail

VENV="${STRATA_INTEROP_VENV:-$HOME/.cache/strata/interop-venv}"
PYTHON="${PYTHON:-python3}"
PINS=(tensorflow-cpu==2.17.1 tf-keras==2.17.0 h5py numpy)

log() { echo "setup_venv.sh: $*" >&2; }
die() { log "$*"; exit 1; }

check_pins() {
  TF_CPP_MIN_LOG_LEVEL=3 TF_USE_LEGACY_KERAS=1 "$VENV/bin/python" - <<'EOF' >/dev/null 2>&1
import importlib.metadata as md
assert md.version("tf-keras") == "2.17.0"
assert md.version("h5py") and md.version("numpy")
# tensorflow-cpu, or an equivalent tensorflow of the same version
try:
    v = md.version("tensorflow-cpu")
except md.PackageNotFoundError:
    v = md.version("tensorflow")
assert v == "2.17.1"
EOF
}

if [[ -x "$VENV/bin/python" ]] && check_pins; then
  echo "$VENV"
  exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found; set PYTHON to a Python 3.9-3.12 interpreter"
"$PYTHON" - <<'EOF' || die "$("$PYTHON" --version 2>&1) is not supported by tensorflow-cpu 2.17 (needs Python 3.9-3.12)"
import sys
sys.exit(0 if (3, 9) <= sys.version_info[:2] <= (3, 12) else 1)
EOF

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

log "installing ${PINS[*]} into $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip >&2 \
  || die "pip upgrade failed in $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "${PINS[@]}" >&2 \
  || die "pip install ${PINS[*]} failed (see the messages above)"
check_pins || die "the venv at $VENV does not have the pinned versions after installing; remove it and re-run"
echo "$VENV"
