#!/usr/bin/env python3
"""Extracts the marked code blocks of Markdown docs into files, so that tests build them verbatim.

    doc_snippets.py OUTDIR [--wrappers DIR] DOC.md...

A fenced block belongs to a snippet file when the line right before its opening fence is

    <!-- snippet: PATH -->

(an HTML comment, invisible in rendered Markdown). The block's lines, without the fences, are
written to OUTDIR/PATH; blocks naming the same PATH are concatenated in the order given (docs in
argument order, blocks in document order). PATH is relative, '/'-separated, without '..'.
With --wrappers, the files under DIR (the hand-written parts: a main() around a statement
snippet, a project around a CMake snippet) are copied into OUTDIR at the same relative paths.
A file is rewritten only when its content changes, so a build over OUTDIR stays incremental.
Exits 1, naming file and line, on a marker not followed by a fence, an unterminated block, a bad
PATH, or when no snippet is found at all.
"""
import pathlib
import re
import sys

MARKER = re.compile(r"^<!--\s*snippet:\s*(\S+)\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)")


def fail(message):
    sys.exit(f"doc_snippets.py: {message}")


def extract(doc, snippets):
    lines = pathlib.Path(doc).read_text(encoding="utf-8").splitlines(keepends=True)
    i = 0
    while i < len(lines):
        marker = MARKER.match(lines[i])
        i += 1
        if not marker:
            continue
        path = marker.group(1)
        if path.startswith("/") or ".." in path.split("/"):
            fail(f"{doc}:{i}: snippet path '{path}' must be relative and stay inside OUTDIR")
        fence = FENCE.match(lines[i]) if i < len(lines) else None
        if not fence:
            fail(f"{doc}:{i}: marker '{path}' is not directly followed by a ``` fence")
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].startswith(fence.group(1)):
            end += 1
        if end == len(lines):
            fail(f"{doc}:{start}: the block of snippet '{path}' has no closing fence")
        snippets.setdefault(path, []).extend(lines[start:end])
        i = end + 1


def write_if_changed(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def main(argv):
    if len(argv) < 2:
        fail("usage: doc_snippets.py OUTDIR [--wrappers DIR] DOC.md...")
    out = pathlib.Path(argv[0])
    docs = argv[1:]
    wrappers = None
    if docs[:1] == ["--wrappers"]:
        if len(docs) < 2:
            fail("--wrappers needs a directory")
        wrappers, docs = pathlib.Path(docs[1]), docs[2:]
    snippets = {}
    for doc in docs:
        extract(doc, snippets)
    if not snippets:
        fail(f"no '<!-- snippet: PATH -->' marker in {' '.join(docs)}")
    for path, body in snippets.items():
        write_if_changed(out / path, "".join(body))
        print(f"{out / path}: {len(body)} lines")
    if wrappers:
        for source in sorted(p for p in wrappers.rglob("*") if p.is_file()):
            path = source.relative_to(wrappers)
            if path.as_posix() in snippets:
                fail(f"{source} has the path of a snippet of the docs")
            write_if_changed(out / path, source.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main(sys.argv[1:])
