#!/bin/sh
# An installed `strata demo` works from its prefix (issue 19):
#   installed_demo_test.sh SOURCE_DIR BUILD_DIR
# installs BUILD_DIR into a temporary prefix, moves the prefix elsewhere (nothing may depend
# on where it was installed), and runs <prefix>/bin/strata demo from a directory outside the
# source and build trees with STRATA_PLUGIN_PATH unset: it must exit 0, run part 4 with the
# guide's plugin from <prefix>/lib/strata/demo (not skip it), and print no source or build
# path.
set -eu
src=$1 build=$2
work=$(mktemp -d /tmp/strata-installed-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/staged" > "$work/install.log" || { cat "$work/install.log"; echo "FAILED: cmake --install"; exit 1; }
mv "$work/staged" "$work/prefix"
cd "$work"
status=0
env -u STRATA_PLUGIN_PATH "$work/prefix/bin/strata" demo --dir "$work/demo" > "$work/demo.log" 2>&1 || status=$?
cat "$work/demo.log"
[ "$status" -eq 0 ] || { echo "FAILED: the installed strata demo exited $status"; exit 1; }
grep -q "^skipped" "$work/demo.log" && { echo "FAILED: the installed demo skipped a part"; exit 1; }
grep -q "with the plugin (its class): predictions" "$work/demo.log" || { echo "FAILED: part 4 did not run with the installed plugin"; exit 1; }
if grep -F -e "$src" -e "$build" "$work/demo.log"; then
  echo "FAILED: the installed demo printed a source or build path"; exit 1
fi
echo "installed demo: ok"
