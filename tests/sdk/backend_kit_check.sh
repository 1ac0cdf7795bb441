#!/bin/sh
# The installed conformance kit run the way a third-party backend's author runs it:
#   backend_kit_check.sh PREFIX WORKDIR
# PREFIX/lib/strata/kits/strata-backend-kit (not in the plugin folder), with only the
# plugins named by --plugin: the installed oneDNN backend plugin under test, plus the
# layers, training and a weights format plugin the model cases need. Every op and model
# case on cpu, the gradient checks of MatMul and Conv2D; a few seconds.
set -u
prefix=$1 work=$2
kit="$prefix/lib/strata/kits/strata-backend-kit"
plugins="$prefix/lib/strata/plugins"
mkdir -p "$work"
fail() { echo "FAILED: $*"; exit 1; }

test -x "$kit" || fail "no lib/strata/kits/strata-backend-kit in the prefix"
test -e "$plugins/strata-backend-kit" && fail "the kit is in the plugin folder"

echo "== strata-backend-kit --list-devices, without plugins and with the oneDNN plugin"
set -- --no-search-path --plugin "$plugins/strata-backend-onednn.so" --plugin "$plugins/strata-layers.so" \
  --plugin "$plugins/strata-training.so" --plugin "$plugins/strata-format-h5.so"
"$kit" "$@" --list-devices > "$work/devices.txt" 2>&1 || fail "--list-devices: $(cat "$work/devices.txt")"
cat "$work/devices.txt"
grep -qx "cpu:0" "$work/devices.txt" || fail "cpu:0 not listed"

echo "== strata-backend-kit on a subset, against the installed oneDNN plugin"
filter='Cpu/OpConformance.*:Cpu/ModelConformance.*'
filter="$filter:Cpu/GradientCheck.*/cpu_MatMul_*:Cpu/GradientCheck.*/cpu_Conv2D_*"
if ! STRATA_KIT_DEVICES=cpu "$kit" "$@" --gtest_filter="$filter" --gtest_brief=1 > "$work/kit.txt" 2>&1; then
  cat "$work/kit.txt"; fail "the installed kit failed against the installed oneDNN plugin"
fi
tail -3 "$work/kit.txt"
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\./\1/p' "$work/kit.txt")
[ "${passed:-0}" -ge 500 ] || fail "only ${passed:-0} kit tests passed (expected at least 500): $(cat "$work/kit.txt")"
# Only optional kernels (the fused optimizer updates) may skip: a skipped model case means
# a plugin the model cases need was not loaded.
grep -q "SKIPPED \] Cpu/ModelConformance" "$work/kit.txt" && { cat "$work/kit.txt"; fail "model cases skipped"; }
echo "installed kit: $passed tests passed"
