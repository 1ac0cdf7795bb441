#!/usr/bin/env bash
# The keras fixture checks (strata_interop_tests) over fixtures written by the interop venv's
# own tf-keras instead of the committed 2.17 ones (ctest: interop.keras_fixtures.current_venv).
#
#   tests/interop/keras_fixtures_current_venv.sh build/bin/strata_interop_tests [gtest args]
#
# Runs tests/interop/generate_fixtures.py with $STRATA_INTEROP_VENV (default
# ~/.cache/strata/interop-venv) into a cache directory keyed by the generator's SHA-256 and the
# venv's tf-keras version, ${STRATA_KERAS_FIXTURE_CACHE:-~/.cache/strata/keras-fixtures}/
# tf_keras-<version>-<hash>/, once (about a minute, several under load); later runs reuse it.
# Then runs the test program on that directory, expecting index.json to name that tf-keras
# version. Exits 77 (ctest: skipped) when the venv is absent.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: $0 STRATA_INTEROP_TESTS [gtest args]" >&2; exit 2; }
TESTS="$1"
shift
HERE="$(cd "$(dirname "$0")" && pwd)"
GENERATOR="$HERE/generate_fixtures.py"
VENV="${STRATA_INTEROP_VENV:-$HOME/.cache/strata/interop-venv}"
PY="$VENV/bin/python"
if [[ ! -x "$PY" ]]; then
  echo "no interop venv at $VENV (tests/interop/setup_venv.sh makes it): skipped"
  exit 77
fi

TF_KERAS="$("$PY" -c 'import importlib.metadata as m; print(m.version("tf-keras"))')"
HASH="$(sha256sum "$GENERATOR" | cut -c1-16)"
CACHE="${STRATA_KERAS_FIXTURE_CACHE:-$HOME/.cache/strata/keras-fixtures}"
DIR="$CACHE/tf_keras-$TF_KERAS-$HASH"

if [[ ! -f "$DIR/index.json" ]]; then
  echo "generating the keras fixtures with tf-keras $TF_KERAS ($VENV) into $DIR"
  mkdir -p "$CACHE"
  TMP="$(mktemp -d "$CACHE/.tmp-XXXXXX")"
  trap 'rm -rf "$TMP"' EXIT
  # index.json is written last, so a directory with one is complete; the rename publishes it whole.
  if ! "$PY" "$GENERATOR" --out "$TMP" > "$TMP.log" 2>&1; then
    tail -n 40 "$TMP.log"
    rm -f "$TMP.log"
    echo "generate_fixtures.py failed with tf-keras $TF_KERAS"
    exit 1
  fi
  tail -n 1 "$TMP.log"
  rm -f "$TMP.log"
  rm -rf "$DIR"
  mv "$TMP" "$DIR"
fi

echo "keras fixtures: $DIR (tf-keras $TF_KERAS)"
STRATA_KERAS_FIXTURE_DIR="$DIR" STRATA_KERAS_FIXTURE_TF_KERAS="$TF_KERAS" exec "$TESTS" "$@"
