# shellcheck shell=bash
# Shared by setup_venv.sh and setup_jax_venv.sh (sourced, not run): making a pinned venv from
# PyPI. The caller defines VENV, PYTHON, PINS (the pip requirements), log, die and check_pins
# (true when $VENV has the pinned versions), then calls make_venv.

# True when the Python interpreter $1 is a 3.$2 to 3.$3.
python_in_range() {
  "$1" - "$2" "$3" <<'PY'
import sys
low, high = int(sys.argv[1]), int(sys.argv[2])
sys.exit(0 if (3, low) <= sys.version_info[:2] <= (3, high) else 1)
PY
}

# make_venv LOW HIGH NEEDS PROBE UNREACHABLE: prints $VENV when it has the pins already;
# otherwise makes it (again, with $PYTHON, when its own Python is not a 3.LOW-3.HIGH), installs
# PINS and prints it. NEEDS names what wants that Python ("jax 0.10.2"), PROBE a package whose
# index page shows PyPI can be reached, UNREACHABLE what to say when it cannot.
make_venv() {
  local low="$1" high="$2" needs="$3" probe="$4" unreachable="$5"
  if [[ -x "$VENV/bin/python" ]] && check_pins; then
    echo "$VENV"
    return 0
  fi

  command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found; set PYTHON to a Python 3.$low-3.$high interpreter"
  python_in_range "$PYTHON" "$low" "$high" \
    || die "$("$PYTHON" --version 2>&1) is not supported by $needs (needs Python 3.$low-3.$high); set PYTHON"

  # A venv whose own Python the pins have no wheels for (one made for an older pin with
  # Python 3.9) cannot be upgraded in place: it is made again (venv --clear).
  if [[ -x "$VENV/bin/python" && -f "$VENV/pyvenv.cfg" ]] && ! python_in_range "$VENV/bin/python" "$low" "$high"; then
    log "$VENV has $("$VENV/bin/python" --version 2>&1); recreating it with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv --clear "$VENV" >&2 || die "could not recreate the venv in $VENV"
  fi

  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" >&2 || die "could not create a venv in $VENV (is the python3-venv package installed?)"
  fi

  # Fail early, with a clear message, when PyPI cannot be reached (pip would retry for minutes).
  local index_url="${PIP_INDEX_URL:-https://pypi.org/simple}"
  if ! "$VENV/bin/python" - "$index_url" "$probe" <<'PY' >&2
import sys, urllib.request
url = sys.argv[1].rstrip("/") + "/" + sys.argv[2] + "/"
try:
    urllib.request.urlopen(url, timeout=20).read(1)
except Exception as e:  # noqa: BLE001
    print("cannot reach the package index at %s: %s" % (url, e))
    sys.exit(1)
PY
  then
    die "$unreachable"
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
}
