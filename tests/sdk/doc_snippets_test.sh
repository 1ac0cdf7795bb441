#!/bin/sh
# The marked code blocks of README.md and docs/*.md (today README.md's tour, docs/EMBEDDING.md and
# docs/PLUGINS.md), built verbatim against the prefix that sdk.out_of_tree installed:
#   doc_snippets_test.sh SOURCE_DIR PREFIX WORKDIR
# 1. scripts/doc_snippets.py writes the marked blocks, with the wrappers of tests/sdk/snippets,
#    into WORKDIR/src: a C++ host, a C host, README.md's tour, docs/USER_GUIDE.md's blocks and a
#    plugin, one CMake project;
# 2. it is configured (no CMAKE_CXX_STANDARD for the hosts, 23 for the plugin) and built with
#    -Wall -Wextra -Werror, with ccache when present;
# 3. README.md's tour runs against the prefix (and prints the summary it promises), and so do
#    docs/USER_GUIDE.md's blocks (tests/sdk/snippets/user-guide: each after the names it uses);
#    the installed strata loads the plugin (its C++23 project did not change its toolchain tag);
# 4. the C host's CMakeLists.txt alone, a C-only project, configures and builds with
#    nlohmann_json's CMake package made unavailable.
set -eu
src=$1 prefix=$2 work=$3
mkdir -p "$work"

echo "== extract the snippets"
python3 "$src/scripts/doc_snippets.py" "$work/src" --wrappers "$src/tests/sdk/snippets" \
  "$src/README.md" "$src"/docs/*.md

c_launcher="" cxx_launcher=""
if command -v ccache > /dev/null; then
  c_launcher="-DCMAKE_C_COMPILER_LAUNCHER=ccache" cxx_launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
fi
# configure_and_build NAME SOURCE ARGS...: configured once per work directory.
configure_and_build() {
  name=$1 dir=$2
  shift 2
  if [ ! -f "$work/$name/CMakeCache.txt" ]; then
    cmake -S "$dir" -B "$work/$name" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" "$@" > "$work/$name-configure.log" 2>&1 ||
      { cat "$work/$name-configure.log"; rm -f "$work/$name/CMakeCache.txt"; echo "FAILED: configuring $dir"; exit 1; }
  fi
  cmake --build "$work/$name" || { echo "FAILED: building $dir"; exit 1; }
}

echo "== build the C++ host, the C host and the plugin"
# shellcheck disable=SC2086 # the launchers are one word or none
configure_and_build build "$work/src" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" $c_launcher $cxx_launcher

echo "== README.md's tour runs"
"$work/build/readme/readme_tour" > "$work/readme_tour.txt" 2>&1 ||
  { cat "$work/readme_tour.txt"; echo "FAILED: README.md's tour"; exit 1; }
# The count the tour's comment promises ("Keras's table: 50,890 params") is what it prints.
claimed=$(sed -n "s/.*Keras's table: \([0-9,]*\) params.*/\1/p" "$src/README.md" | tr -d ,)
if [ -z "$claimed" ] || ! grep -q "Total params: $claimed " "$work/readme_tour.txt"; then
  cat "$work/readme_tour.txt"; echo "FAILED: README.md's tour promises '$claimed' params"; exit 1
fi
tail -2 "$work/readme_tour.txt"

echo "== docs/USER_GUIDE.md's blocks run"
"$work/build/user-guide/user_guide" > "$work/user_guide.txt" 2>&1 ||
  { cat "$work/user_guide.txt"; echo "FAILED: docs/USER_GUIDE.md's blocks"; exit 1; }
tail -1 "$work/user_guide.txt"

echo "== the plugin of a C++23 project loads"
STRATA_PLUGIN_PATH="$work/build/plugins" "$prefix/bin/strata" plugins --verbose > "$work/plugins.txt" 2>&1 ||
  { cat "$work/plugins.txt"; echo "FAILED: strata plugins"; exit 1; }
grep -q "my_package>Scale" "$work/plugins.txt" ||
  { cat "$work/plugins.txt"; echo "FAILED: the snippet plugin's my_package>Scale is not listed"; exit 1; }
grep "my-layers" "$work/plugins.txt"

echo "== the C host is a C-only project that needs no nlohmann_json package"
# shellcheck disable=SC2086
configure_and_build c-only "$work/src/c-host" -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON $c_launcher
