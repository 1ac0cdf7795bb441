#!/bin/bash
# docs.doc_test_selftest: the doc test (scripts/doc_snippets.py --blocks) accepts a document
# whose every block is run, parsed, built or marked, and fails on each kind of bad block:
#   selftest_test.sh SOURCE_DIR WORKDIR
set -u
src=$1 work=$2
rm -rf "$work" && mkdir -p "$work/docs/docs"
run() { python3 "$src/scripts/doc_snippets.py" --blocks "$work/out" --source "$work/docs" --build "$work" --only "docs/$1" > "$work/$1.log" 2>&1; }
cp "$src/tests/docs/selftest/good.md" "$work/docs/docs/good.md"
run good.md || { cat "$work/good.md.log"; echo "FAILED: a document of good blocks fails the doc test"; exit 1; }
grep -q "== 1 compiled, 1 not-run, 1 output, 1 parsed, 3 ran; 0 failed" "$work/good.md.log" ||
  { cat "$work/good.md.log"; echo "FAILED: the good document's blocks are not counted as expected"; exit 1; }
status=0
# bad NAME BLOCK...: a document with that block fails, naming the line and saying EXPECTED.
bad() {
  name=$1 expected=$2 body=$3
  printf '# %s\n\n%s\n' "$name" "$body" > "$work/docs/docs/$name.md"
  if run "$name.md"; then
    cat "$work/$name.md.log"; echo "FAILED: the doc test passes a document with $name"; status=1
  elif ! grep -q "docs/$name.md:[0-9]*: .*$expected" "$work/$name.md.log"; then
    cat "$work/$name.md.log"; echo "FAILED: the doc test's message for $name does not name the line and say '$expected'"; status=1
  else
    echo "refused: $name"
  fi
}
bad unmarked-cpp "unmarked 'cpp' block" $'```cpp\nint x;\n```'
bad no-info-string "unknown kind" $'```\nls\n```'
bad unknown-kind "unknown kind 'text'" $'```text\nls\n```'
bad failing-command "exit 3" $'```sh\ntrue\nexit 3\n```'
bad not-json "not JSON" $'```json\n{"a": \n```'
bad skip-without-reason "malformed marker" $'<!-- doc-test: skip -->\n```sh\nls\n```'
bad unclosed-fence "no closing fence" $'```sh\nls\n'
exit $status
