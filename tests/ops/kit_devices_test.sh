#!/bin/sh
# The conformance kit registers its suites for every loaded backend, not a fixed list:
#   kit_devices_test.sh KIT PLUGIN
# KIT is strata-backend-kit, PLUGIN a plugin registering backend "plugtest" (the tests'
# test-good plugin, which has no kernels).
#  1. without the plugin there is no plugtest instance; with --plugin, --list-devices names
#     plugtest:0 and the op, gradient and model suites have Plugtest/ instances;
#  2. --devices and STRATA_KIT_DEVICES select devices; an unknown device type exits 2
#     naming the loaded backends;
#  3. a Plugtest case runs on the plugin's device and fails (the plugin has no AddV2
#     kernel): the kit checks a backend it only knows from its plugin.
set -u
kit=$1 plugin=$2
fail() { echo "FAILED: $*"; exit 1; }

"$kit" --gtest_list_tests > list_plain.txt 2>&1 || fail "kit --gtest_list_tests: $(cat list_plain.txt)"
grep -q "^Cpu/OpConformance\." list_plain.txt || fail "no Cpu/OpConformance instance"
grep -q "Plugtest" list_plain.txt && fail "a plugtest instance without the plugin"

"$kit" --plugin "$plugin" --list-devices > devices.txt 2>&1 || fail "--list-devices: $(cat devices.txt)"
grep -qx "plugtest:0" devices.txt || fail "--list-devices does not name plugtest:0: $(cat devices.txt)"

"$kit" --plugin "$plugin" --devices plugtest --gtest_list_tests > list.txt 2>&1 || fail "$(cat list.txt)"
for suite in OpConformance GradientCheck ModelConformance; do
  grep -q "^Plugtest/$suite\.\$" list.txt || fail "no Plugtest/$suite instance for the plugin's backend"
done
grep -q "MatchesReferenceKernels/plugtest_AddV2_float32_same" list.txt || fail "no plugtest_AddV2 case"
grep -q "^Cpu/" list.txt && fail "--devices plugtest still registers Cpu/ instances"

STRATA_KIT_DEVICES=ref "$kit" --gtest_list_tests > list_ref.txt 2>&1 || fail "$(cat list_ref.txt)"
grep -q "^Ref/GradientCheck\.\$" list_ref.txt || fail "STRATA_KIT_DEVICES=ref: no Ref/GradientCheck"
grep -q "^Cpu/\|^Ref/OpConformance" list_ref.txt && fail "STRATA_KIT_DEVICES=ref: other instances registered"

"$kit" --devices nosuch > unknown.txt 2>&1
rc=$?
[ "$rc" = 2 ] || fail "--devices nosuch: exit $rc, expected 2"
grep -q "no loaded backend provides device type 'nosuch' (loaded backends: cpu.*ref" unknown.txt ||
  fail "--devices nosuch: $(cat unknown.txt)"

"$kit" --plugin "$plugin" --devices plugtest \
  --gtest_filter='Plugtest/OpConformance.MatchesReferenceKernels/plugtest_AddV2_float32_same' > run.txt 2>&1
rc=$?
[ "$rc" = 1 ] || fail "the plugtest AddV2 case: exit $rc, expected 1 (no kernel): $(cat run.txt)"
grep -q "\[  FAILED  \] Plugtest/OpConformance.MatchesReferenceKernels/plugtest_AddV2_float32_same" run.txt ||
  fail "the plugtest AddV2 case did not run and fail: $(cat run.txt)"
grep -q "AddV2" run.txt || fail "the failure does not name the op"
"$kit" --help > help.txt 2>&1 || fail "--help exits non-zero"
grep -q "^usage: strata-backend-kit" help.txt || fail "--help does not print the kit's usage"
"$kit" --bogus > bogus.txt 2>&1
rc=$?
[ "$rc" = 2 ] || fail "an unknown argument: exit $rc, expected 2"
echo "kit devices: ok"
