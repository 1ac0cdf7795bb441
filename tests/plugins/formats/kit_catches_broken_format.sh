#!/bin/sh
# formats.kit.catches_a_broken_format: the format kit run on a careless format
# (kit_broken_format.cpp) must fail exactly the rule checks it breaks and pass the rest.
#   kit_catches_broken_format.sh KIT BROKEN_PLUGIN WORKDIR
set -u
kit=$1 plugin=$2 work=$3
mkdir -p "$work"
"$kit" --plugin "$plugin" --formats=kitbroken > "$work/kit.txt" 2>&1
rc=$?
[ "$rc" = 1 ] || { cat "$work/kit.txt"; echo "FAILED: the kit exited $rc on a broken format (want 1)"; exit 1; }
for t in Corruption FailedSaveKeepsOldFile OverwriteFalse; do
  grep -q "^\[  FAILED  \] FormatKit/kitbroken\.$t " "$work/kit.txt" \
    || { cat "$work/kit.txt"; echo "FAILED: the kit did not fail $t"; exit 1; }
done
for t in WeightsRoundTrip_dense WeightsRoundTrip_conv WeightsRoundTrip_recurrent WeightsRoundTrip_nested; do
  grep -q "^\[       OK \] FormatKit/kitbroken\.$t " "$work/kit.txt" \
    || { cat "$work/kit.txt"; echo "ERROR: $t did not pass"; exit 1; }
done
grep -q "truncated to .*bytes of the weights differ" "$work/kit.txt" \
  || { cat "$work/kit.txt"; echo "ERROR: a truncation that loads zeros was not reported"; exit 1; }
grep -q "seam" "$work/kit.txt" || { cat "$work/kit.txt"; echo "ERROR: no word of the file-system seam"; exit 1; }
echo "ok: the kit failed the broken format's Corruption, FailedSaveKeepsOldFile and OverwriteFalse"
