#!/bin/sh
# The installed format conformance kit against the out-of-tree npz format plugin
# (examples/custom_format_plugin built with find_package(Strata)), as a plugin author runs it:
#   format_kit_check.sh PREFIX NPZ_PLUGIN WORKDIR
# The kit is under lib/strata/kits/, not in the plugin directory; the zoo's layers, training
# and cpu backend come from the installed default plugin directory. A few seconds.
set -eu
prefix=$1 plugin=$2 work=$3
kit="$prefix/lib/strata/kits/strata-format-kit"
mkdir -p "$work"
test -x "$kit" || { echo "FAILED: no lib/strata/kits/strata-format-kit in the prefix"; exit 1; }
if ls "$prefix/lib/strata/plugins" | grep -q kit; then
  echo "FAILED: a kit is in the plugin directory"; exit 1
fi
"$kit" --plugin "$plugin" --list-formats > "$work/formats.txt"
cat "$work/formats.txt"
grep -q "^npz: .*weights extensions .npz; saves and loads weights" "$work/formats.txt" ||
  { echo "FAILED: the kit does not list the npz format from the plugin"; exit 1; }
if ! "$kit" --plugin "$plugin" --formats=npz > "$work/kit.txt" 2>&1; then
  cat "$work/kit.txt"; echo "FAILED: the installed format kit fails the npz plugin"; exit 1
fi
grep "format kit \]\|PASSED\|SKIPPED  \] [0-9]" "$work/kit.txt"
grep -q "^\[       OK \] FormatKit/npz.Corruption" "$work/kit.txt" || { echo "FAILED: Corruption did not run"; exit 1; }
