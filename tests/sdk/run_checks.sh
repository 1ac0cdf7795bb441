#!/bin/sh
# The SDK checks, shared by the in-tree test and the out-of-tree test:
#   run_checks.sh STRATA SDK_CHECK WORKDIR TEMPLATE_DIR NPZ_DIR
# STRATA and SDK_CHECK are the CLI and tests/sdk/consumer's program; TEMPLATE_DIR holds the
# template plugin, NPZ_DIR the npz format plugin (both go on STRATA_PLUGIN_PATH).
set -eu
strata=$1 check=$2 work=$3 template_dir=$4 npz_dir=$5
plugins="$template_dir:$npz_dir"
rm -rf "$work" && mkdir -p "$work"
export STRATA_PLUGIN_PATH="$plugins"
here=$(dirname "$0")

step() { echo "== $*"; }

step "the plugins are found on STRATA_PLUGIN_PATH"
"$strata" plugins --verbose > "$work/plugins.txt"
grep -q "template>Scale" "$work/plugins.txt" || { cat "$work/plugins.txt"; echo "FAILED: template>Scale not listed"; exit 1; }
grep -Eq "format \(1\): npz|format.*npz" "$work/plugins.txt" || { cat "$work/plugins.txt"; echo "FAILED: format npz not listed"; exit 1; }

step "save a model using template>Scale and template>cube; weights as .npz and TF checkpoint"
"$check" save "$work"
step "load model.json + w.npz (npz picked by extension)"
"$check" load "$work" "$work/w.npz"
step "load model.json + w_ckpt"
"$check" load "$work" "$work/w_ckpt"

step "strata info w.npz"
"$strata" info "$work/w.npz" | tee "$work/info.txt"
grep -q "^format: npz" "$work/info.txt" || { echo "FAILED: strata info did not describe w.npz as npz"; exit 1; }

step "strata convert w_ckpt -> converted.npz (format from the extension)"
"$strata" convert "$work/w_ckpt" "$work/converted.npz" --weights-into "$work/model.json"
"$check" load "$work" "$work/converted.npz"

step "template>SignSGD trains"
"$check" optimizer

step "without the template plugin the model does not load, and the error names the class"
if STRATA_PLUGIN_PATH="$npz_dir" "$check" load "$work" "$work/w.npz" > "$work/missing.txt" 2>&1; then
  cat "$work/missing.txt"; echo "FAILED: loaded without the template plugin"; exit 1
fi
grep -q "template>Scale" "$work/missing.txt" || { cat "$work/missing.txt"; echo "FAILED: the error does not name template>Scale"; exit 1; }
echo "ok: $(grep -m1 -o "Unknown[^.]*" "$work/missing.txt" || head -c 200 "$work/missing.txt")"

# expect_failure WHAT FILE TEXT: loading FILE as weights fails, with TEXT in the message.
expect_failure() {
  if "$check" load "$work" "$2" > "$work/failure.txt" 2>&1; then
    cat "$work/failure.txt"; echo "FAILED: $1 loaded"; exit 1
  fi
  grep -q "$3" "$work/failure.txt" || { cat "$work/failure.txt"; echo "FAILED: $1: no '$3' in the error"; exit 1; }
  echo "ok: $1 is refused: $(grep -m1 -o "is not a valid .npz[^(]*" "$work/failure.txt" || true)"
}

step "a damaged .npz is a FormatError naming the file"
head -c 300 "$work/w.npz" > "$work/truncated.npz"
expect_failure "a truncated archive" "$work/truncated.npz" "truncated.npz' is not a valid .npz"
cp "$work/w.npz" "$work/flipped.npz"
# Flip one byte of the first member's data (after its 30-byte header and name): CRC mismatch.
printf '\377' | dd of="$work/flipped.npz" bs=1 seek=200 conv=notrunc 2> /dev/null
expect_failure "a corrupted member" "$work/flipped.npz" "CRC-32"

step "Python reads w.npz; NumPy's own .npz loads into Strata"
# The first Python that has NumPy, else any Python (zipfile checks only).
py=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c "import numpy" > /dev/null 2>&1; then py=$candidate; break; fi
done
if [ -z "$py" ] && command -v python3 > /dev/null; then py=python3; fi
if [ -n "$py" ]; then
  rc=0
  "$py" "$here/check_npz.py" "$work" || rc=$?
  if [ "$rc" = 0 ]; then
    "$check" load "$work" "$work/numpy.npz"
  elif [ "$rc" != 77 ]; then
    echo "FAILED: check_npz.py"; exit 1
  fi
  expect_failure "a deflated archive (numpy.savez_compressed)" "$work/deflated.npz" "only stored members are supported"
else
  echo "SKIPPED: no python3"
fi
echo "PASSED"
