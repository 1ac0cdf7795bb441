#!/bin/sh
# The SDK from a third party's side, against an installed Strata:
#   out_of_tree_test.sh SOURCE_DIR BUILD_DIR WORKDIR
# 1. cmake --install BUILD_DIR into WORKDIR/prefix; no file under prefix/lib (libstrata.so,
#    the plugins, the CMake and pkg-config files) or prefix/bin (the CLI) names SOURCE_DIR
#    or BUILD_DIR (__FILE__ and debug info are mapped by -ffile-prefix-map);
# 2. pkg-config --cflags --libs strata works with PKG_CONFIG_PATH=prefix/lib/pkgconfig: a C
#    file compiles and links with those flags alone and -Werror, a C++ file with them and the
#    package's cxxflags variable;
# 3. a copy of sdk/template (no in-tree branch), examples/custom_format_plugin and
#    tests/sdk/consumer are configured and built with find_package(Strata)
#    (CMAKE_PREFIX_PATH=prefix), with ccache when present;
# 4. run_checks.sh with the installed CLI and those plugins on STRATA_PLUGIN_PATH;
# 5. backend_kit_check.sh: the installed strata-backend-kit (lib/strata/kits/) against the
#    installed oneDNN plugin.
# 6. format_kit_check.sh: the installed strata-format-kit (lib/strata/kits/) against the npz
#    plugin built in step 3.
set -eu
src=$1 build=$2 work=$3
prefix="$work/prefix"
mkdir -p "$work"
rm -rf "$prefix"

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
test -x "$prefix/bin/strata" || { echo "FAILED: no bin/strata in the prefix"; exit 1; }
test -f "$prefix/lib/cmake/Strata/StrataConfig.cmake" || { echo "FAILED: no StrataConfig.cmake"; exit 1; }

echo "== no source or build directory path in the installed library, plugins and CLI"
# The build directory may lie inside the source directory: grep for both. (`strata demo`
# finds the guide's test plugin relative to its own directory, STRATA_GUIDE_PLUGIN.)
if grep -rlF -e "$src" -e "$build" "$prefix/lib" "$prefix/bin" > "$work/paths.txt"; then
  while read -r f; do echo "$f:"; grep -aoF -e "$src" -e "$build" "$f" | sort | uniq -c | head -3; done < "$work/paths.txt"
  echo "FAILED: installed files contain the source or build directory path"; exit 1
fi

echo "== pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs strata)
cxxflags=$(pkg-config --variable=cxxflags strata)
echo "pkg-config --cflags --libs strata: $flags; --variable=cxxflags: $cxxflags"
cat > "$work/pc_check.c" <<'C'
#include <strata/c_api.h>
#include <stdio.h>
int main(void) {
  char* plugins = NULL;
  strata_status* status = strata_list_plugins(&plugins);
  printf("C host: strata_list_plugins %s\n", status ? "failed" : "ok");
  if (status) strata_status_release(status); else strata_string_release(plugins);
  return 0;
}
C
# shellcheck disable=SC2086 # the flags are words
cc -Wall -Wextra -Werror "$work/pc_check.c" -o "$work/pc_check_c" $flags ||
  { echo "FAILED: a C file does not compile with pkg-config --cflags --libs strata and -Werror"; exit 1; }
"$work/pc_check_c"
cat > "$work/pc_check.cpp" <<'CPP'
#include <strata/strata.hpp>
#include <iostream>
int main() { std::cout << "strata " << strata::runtime_version() << "\n"; }
CPP
# shellcheck disable=SC2086 # the flags are words
c++ $cxxflags "$work/pc_check.cpp" -o "$work/pc_check" $flags ||
  { echo "FAILED: a C++ file does not compile with pkg-config's cxxflags, --cflags and --libs"; exit 1; }
"$work/pc_check"

echo "== sdk/template is a project to copy: no in-tree branch"
if grep -n "PROJECT_IS_TOP_LEVEL\|CMAKE_SOURCE_DIR\|PROJECT_SOURCE_DIR" "$src/sdk/template/CMakeLists.txt"; then
  echo "FAILED: sdk/template/CMakeLists.txt refers to the tree it is in"; exit 1
fi
rm -rf "$work/template-src" && cp -R "$src/sdk/template" "$work/template-src"

launcher=""
if command -v ccache > /dev/null; then launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"; fi
for project in template-copy:"$work/template-src" npz:"$src/examples/custom_format_plugin" consumer:"$src/tests/sdk/consumer"; do
  name=${project%%:*} dir=${project#*:}
  echo "== configure and build $dir (find_package(Strata))"
  # Configured once per work directory: later runs only rebuild what changed.
  if [ ! -f "$work/$name-build/CMakeCache.txt" ]; then
    cmake -S "$dir" -B "$work/$name-build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" $launcher > "$work/$name-configure.log" ||
      { cat "$work/$name-configure.log"; echo "FAILED: configuring $dir"; exit 1; }
  fi
  cmake --build "$work/$name-build" || { echo "FAILED: building $dir"; exit 1; }
done

echo "== checks with the installed strata and the out-of-tree plugins"
sh "$src/tests/sdk/run_checks.sh" "$prefix/bin/strata" "$work/consumer-build/strata_sdk_check" "$work/checks" \
  "$work/template-copy-build" "$work/npz-build"

echo "== the installed backend conformance kit against the installed oneDNN plugin"
sh "$src/tests/sdk/backend_kit_check.sh" "$prefix" "$work/backend-kit"
echo "== the installed format conformance kit against the out-of-tree npz plugin"
sh "$src/tests/sdk/format_kit_check.sh" "$prefix" "$work/npz-build/strata-format-npz.so" "$work/format-kit"
