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

    doc_snippets.py --blocks WORKDIR --source SRC --build BUILD [--prefix P] [--snippets DIR]
                    [--venv V] [--only DOC.md]...

The doc test (CTest docs.blocks, docs/BUILD.md "Doc test"): every fenced block of README.md and
docs/*.md under SRC is classified by its info string and the marker on the line right before
its opening fence, and is then
  - run: sh/bash/shell/console blocks, in bash -e -o pipefail, in one scratch directory per
    document (WORKDIR/<doc>), in document order, with BUILD/bin first on PATH; before a
    document's first block, tests/docs/<doc stem>.setup.sh (when it exists) prepares the
    scratch directory (and may write .doc-env, sourced before every block of that document;
    exit 77 skips the document's blocks with the setup's last output line as the reason);
    python blocks run with the interop venv's python (--venv), skipped without one, and so do
    shell blocks marked <!-- doc-test: venv --> (the venv's bin/ first on PATH);
  - parsed: json blocks (json.loads);
  - compiled: blocks marked <!-- snippet: PATH --> (built, and run when they make a program,
    by sdk.doc_snippets against an installed prefix);
  - not run: blocks marked <!-- doc-test: skip (REASON) --> or <!-- doc-test: output (REASON) -->
    (the reason is required).
Any other block (an unmarked C/C++/CMake block, an unmarked block without a known info string)
fails the test, as does a run block exiting non-zero. Prints one line per block and counts.
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import time

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


DOC_TEST = re.compile(r"^<!--\s*doc-test:\s*(\S+)\s*(?:\((.*)\))?\s*-->\s*$")
DOC_TEST_ANY = re.compile(r"^<!--\s*doc-test")
OPEN_FENCE = re.compile(r"^( {0,3})(```+|~~~+)\s*([^`\s]*)")
SHELL_KINDS = {"sh", "bash", "shell", "console"}
PYTHON_KINDS = {"python", "py", "python3"}
COMPILED_KINDS = {"cpp", "c++", "c", "cmake", "cxx", "h", "hpp"}


def blocks_of(doc):
    """(line of the opening fence, info word, marker line, body) of every fenced block of doc."""
    lines = pathlib.Path(doc).read_text(encoding="utf-8").splitlines()
    found = []
    i = 0
    while i < len(lines):
        fence = OPEN_FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        indent, ticks, info = fence.groups()
        end = i + 1
        close = re.compile(r"^\s{0,%d}%s%s*\s*$" % (max(len(indent), 3), re.escape(ticks), re.escape(ticks[0])))
        while end < len(lines) and not close.match(lines[end]):
            end += 1
        if end == len(lines):
            fail(f"{doc}:{i + 1}: a ``` block with no closing fence")
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[i + 1:end]]
        marker = lines[i - 1].strip() if i > 0 else ""
        found.append((i + 1, info.lower(), marker, "\n".join(body) + "\n"))
        i = end + 1
    return found


def classify(doc, line, info, marker):
    """('run-sh'|'run-python'|'parse-json'|'compiled'|'skip'|'output', reason) or fail()."""
    where = f"{doc}:{line}"
    if MARKER.match(marker):
        if info not in COMPILED_KINDS:
            raise ValueError(f"{where}: a snippet marker on a '{info or '(no info string)'}' block; snippets are C, C++ or CMake")
        return "compiled", "built by sdk.doc_snippets"
    if DOC_TEST_ANY.match(marker):
        m = DOC_TEST.match(marker)
        if m and m.group(1) == "venv" and info in SHELL_KINDS:
            return "run-sh-venv", ""
        if not m or m.group(1) not in ("skip", "output") or not (m.group(2) or "").strip():
            raise ValueError(f"{where}: malformed marker '{marker}': write <!-- doc-test: skip (REASON) --> "
                             "or <!-- doc-test: output (REASON) -->, with a reason, or <!-- doc-test: venv --> "
                             "before a shell block")
        return m.group(1), m.group(2).strip()
    if info in SHELL_KINDS:
        return "run-sh", ""
    if info in PYTHON_KINDS:
        return "run-python", ""
    if info == "json":
        return "parse-json", ""
    if info in COMPILED_KINDS:
        raise ValueError(f"{where}: an unmarked '{info}' block: mark it <!-- snippet: PATH --> (built by "
                         "sdk.doc_snippets, with a wrapper in tests/sdk/snippets) or <!-- doc-test: skip (REASON) -->")
    raise ValueError(f"{where}: a block of unknown kind '{info or '(no info string)'}': give it an info string the doc "
                     "test runs (sh, bash, console, python, json) or mark it <!-- doc-test: output (REASON) --> "
                     "or <!-- doc-test: skip (REASON) -->")


def shell_script(info, body):
    if info != "console":
        return body
    # A console block: the lines starting with "$ " are the commands, the rest is their output.
    return "".join(line[2:] + "\n" for line in body.splitlines() if line.startswith("$ "))


def run_blocks(argv):
    import argparse
    parser = argparse.ArgumentParser(prog="doc_snippets.py --blocks")
    parser.add_argument("work")
    parser.add_argument("--source", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--snippets", default="")
    parser.add_argument("--venv", default=os.environ.get("STRATA_INTEROP_VENV", ""))
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--timeout", type=int, default=180, help="seconds per block")
    args = parser.parse_args(argv)
    src, build, work = (pathlib.Path(p).resolve() for p in (args.source, args.build, args.work))
    docs = [src / "README.md"] + sorted((src / "docs").glob("*.md"))
    if args.only:
        docs = [src / d for d in args.only]
    venv_python = pathlib.Path(args.venv) / "bin" / "python" if args.venv else None
    if venv_python and not venv_python.exists():
        venv_python = None
    env = dict(os.environ)
    env["PATH"] = f"{build / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(STRATA_DOC_SOURCE=str(src), STRATA_DOC_BUILD=str(build), STRATA_DOC_PREFIX=args.prefix,
               STRATA_DOC_SNIPPETS=args.snippets, STRATA_DOC_VENV=str(venv_python.parent.parent) if venv_python else "")
    counts = {}
    failures = []
    started = time.monotonic()

    def report(doc_name, line, what, detail=""):
        counts[what] = counts.get(what, 0) + 1
        print(f"{doc_name}:{line}: {what}{' (' + detail + ')' if detail else ''}", flush=True)

    def run(cmd, cwd, doc_env, label, log):
        begin = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=cwd, env=doc_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=args.timeout)
            out, rc = proc.stdout.decode(errors="replace"), proc.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.stdout or b"").decode(errors="replace") + f"\n(timed out after {args.timeout} s)", 124
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"==== {label}: exit {rc}, {time.monotonic() - begin:.1f} s\n{out}\n")
        return rc, out

    for doc in docs:
        doc_name = doc.relative_to(src).as_posix()
        classified = []
        for line, info, marker, body in blocks_of(doc):
            try:
                classified.append((line, info, body, *classify(doc_name, line, info, marker)))
            except ValueError as e:
                failures.append(str(e))
                print(f"FAILED: {e}", flush=True)
        if not classified:
            continue
        scratch = work / doc_name.replace("/", "_").removesuffix(".md")
        if scratch.exists():
            subprocess.run(["rm", "-rf", str(scratch)], check=True)
        (scratch / "home").mkdir(parents=True)
        log = work / (scratch.name + ".log")
        log.write_text("", encoding="utf-8")
        doc_env = dict(env, HOME=str(scratch / "home"))
        setup = src / "tests" / "docs" / f"{doc.stem}.setup.sh"
        skip_reason = ""
        if setup.exists() and any(c[3].startswith("run-") for c in classified):
            rc, out = run(["bash", "-e", "-o", "pipefail", str(setup)], scratch, doc_env, f"setup {setup.name}", log)
            if rc == 77:
                skip_reason = (out.strip().splitlines() or ["setup skipped"])[-1]
            elif rc != 0:
                failures.append(f"{doc_name}: setup {setup.relative_to(src)} exit {rc}")
                print(out + f"\nFAILED: {doc_name}: setup {setup.relative_to(src)} exit {rc}", flush=True)
                continue
        for line, info, body, what, reason in classified:
            where = f"{doc_name}:{line}"
            if what in ("compiled", "skip", "output"):
                report(doc_name, line, "not-run" if what == "skip" else what, reason)
                continue
            if what == "parse-json":
                try:
                    json.loads(body)
                except ValueError as e:
                    failures.append(f"{where}: not JSON: {e}")
                    print(f"FAILED: {where}: the json block is not JSON: {e}", flush=True)
                    continue
                report(doc_name, line, "parsed")
                continue
            if skip_reason:
                report(doc_name, line, "skipped", skip_reason)
                continue
            block_env = doc_env
            if what == "run-sh-venv":
                if not venv_python:
                    report(doc_name, line, "skipped", "needs the interop venv (STRATA_INTEROP_VENV)")
                    continue
                block_env = dict(doc_env, PATH=f"{venv_python.parent}:{doc_env['PATH']}")
            if what == "run-python":
                if not venv_python:
                    report(doc_name, line, "skipped", "python block: no interop venv (STRATA_INTEROP_VENV)")
                    continue
                script = scratch / f".block-{line}.py"
                script.write_text(body, encoding="utf-8")
                cmd = [str(venv_python), script.name]
            else:
                script = scratch / f".block-{line}.sh"
                script.write_text("if [ -f .doc-env ]; then . ./.doc-env; fi\n" + shell_script(info, body), encoding="utf-8")
                cmd = ["bash", "-e", "-o", "pipefail", script.name]
            begin = time.monotonic()
            rc, out = run(cmd, scratch, block_env, where, log)
            if rc != 0:
                failures.append(f"{where}: exit {rc}")
                print(f"---- {where} ({info}), in {scratch}:\n{body}---- output:\n{out}\nFAILED: {where}: exit {rc}", flush=True)
                continue
            report(doc_name, line, "ran", f"{time.monotonic() - begin:.1f} s")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"== {summary}; {len(failures)} failed; {time.monotonic() - started:.0f} s (outputs in {work}/*.log)")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)


def main(argv):
    if argv[:1] == ["--blocks"]:
        run_blocks(argv[1:])
        return
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
