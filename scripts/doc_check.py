#!/usr/bin/env python3
"""Every test a status table of the docs names exists (CTest docs.status_tables, label unit).

    doc_check.py SOURCE_DIR BUILD_DIR [--ctest CTEST] [--have-cuda ON|OFF]

A status table is a Markdown table of README.md, docs/*.md or a README.md of plugins/, sdk/
or tests/ (every Markdown file a user reads for what works) whose header has a column named
"tests" or "proven by". Each `backticked` name in that column must exist:
  - a CTest test: its exact name in `ctest -N` of BUILD_DIR, or a pattern with `*` (fnmatch)
    matching at least one. A GoogleTest name may leave out the CTest prefix its binary adds
    (`KerasH5.Foo` stands for `h5.KerasH5.Foo`). A name starting with "." continues the suite
    of the previous name in the same cell (`KerasH5.A`, `.B` is `KerasH5.B`);
  - a source path (it has a "/" and a file extension, or ends with "/"): a file or directory
    under SOURCE_DIR;
  - a test binary (`strata_*_tests`, `strata-*-kit`): a target that some CTest test runs,
    found as an executable under BUILD_DIR.
Names after "where nvcc exists:" in a cell are checked only with --have-cuda ON (CMake passes
STRATA_HAVE_CUDA). A name right after "label " is a CTest label, not checked.
A table cell with no backticked name fails too ("proven by" nothing). Exits 1 with one line
per unknown name (file:line), so renaming or removing a test breaks this check until the
docs follow. Needs the whole build (a test binary not built lists no tests: `*_NOT_BUILT`).
"""
import fnmatch
import pathlib
import re
import subprocess
import sys

HEADER_NAMES = {"tests", "proven by"}
TICKED = re.compile(r"`([^`]+)`")


def cells(row):
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|"):
        row = row[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)]


def status_tables(doc):
    """(line, cell text) of every cell in a tests / proven-by column of doc."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    out = []
    i = 0
    while i + 1 < len(lines):
        if lines[i].lstrip().startswith("|") and re.match(r"^\s*\|?\s*:?-{3,}", lines[i + 1]):
            header = [c.lower() for c in cells(lines[i])]
            columns = [k for k, h in enumerate(header) if h in HEADER_NAMES]
            j = i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                row = cells(lines[j])
                for k in columns:
                    out.append((j + 1, row[k] if k < len(row) else ""))
                j += 1
            i = j
        else:
            i += 1
    return out


def ctest_names(build, ctest):
    proc = subprocess.run([ctest, "--test-dir", str(build), "-N"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    # A parameterized GoogleTest case is listed with its parameter after the name:
    # "Test #274: h5.Fixtures/KerasH5.X/cnn  # GetParam() = "cnn"": the name is the first word.
    names = re.findall(r"^\s*Test\s+#\d+:\s+(\S+)", proc.stdout, re.M)
    if proc.returncode != 0 or not names:
        sys.exit(f"doc_check.py: `ctest -N` in {build} failed or listed nothing:\n{proc.stdout}")
    not_built = [n for n in names if n.endswith("_NOT_BUILT")]
    if not_built:
        sys.exit("FAILED: test binaries not built, their tests are unknown (build everything first): "
                 + ", ".join(not_built))
    return names


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: doc_check.py SOURCE_DIR BUILD_DIR [--ctest CTEST]")
    src, build = pathlib.Path(argv[0]).resolve(), pathlib.Path(argv[1]).resolve()
    ctest = argv[argv.index("--ctest") + 1] if "--ctest" in argv else "ctest"
    have_cuda = (argv[argv.index("--have-cuda") + 1] if "--have-cuda" in argv else "ON").upper() in ("ON", "1", "TRUE", "YES")
    names = ctest_names(build, ctest)
    executables = {p.name for p in build.rglob("*") if p.is_file() and p.stat().st_mode & 0o111}
    errors = []
    checked = 0
    docs = [src / "README.md"] + sorted((src / "docs").glob("*.md"))
    for folder in ("plugins", "sdk", "tests"):
        docs += sorted(p for p in (src / folder).rglob("README.md") if "selftest" not in p.parts)
    for doc in docs:
        rel = doc.relative_to(src).as_posix()
        for line, cell in status_tables(doc):
            # `interop` in "(label `interop`)" is a CTest label, not a test.
            tokens = [m.group(1) for m in TICKED.finditer(cell) if not cell[:m.start()].endswith("label ")
                      and (have_cuda or "where nvcc exists:" not in cell[:m.start()])]
            if not TICKED.search(cell):
                errors.append(f"{rel}:{line}: the tests cell names no test: '{cell}'")
                continue
            suite = ""
            for token in tokens:
                checked += 1
                token = token.strip()
                if re.search(r"/$|/[^/*]*\.[a-z]+$", token) and "*" not in token and not token.startswith("."):
                    if not (src / token).exists():
                        errors.append(f"{rel}:{line}: no file {token}")
                    continue
                if re.fullmatch(r"strata[_-][\w-]*(_tests|-kit)", token):
                    if token not in executables:
                        errors.append(f"{rel}:{line}: no test binary {token} in {build}")
                    continue
                if token.startswith("."):
                    if not suite:
                        errors.append(f"{rel}:{line}: '{token}' continues no suite")
                        continue
                    token = suite + token
                else:
                    # `Keras/KerasModel.H5Config/*`: the suite is everything before the last ".".
                    suite = token.rsplit(".", 1)[0] if "." in token else ""
                patterns = [token, "*." + token]
                if not any(fnmatch.fnmatchcase(n, p) for n in names for p in patterns):
                    errors.append(f"{rel}:{line}: no CTest test matches `{token}`")
    if errors:
        print("\n".join(errors))
        print(f"FAILED: {len(errors)} of {checked} names in the docs' status tables are unknown "
              f"({len(names)} CTest tests in {build})")
        return 1
    print(f"{checked} names in the docs' status tables, each a test, binary or file that exists "
          f"({len(names)} CTest tests)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
