#!/usr/bin/env python3
"""Seed corpus for the plugin file fuzzer (plugin_elf_fuzzer).

    python3 tests/fuzz/plugin_elf_seeds.py OUT_DIR

writes OUT_DIR/plugin_elf/<case>.so: a tiny shared library exporting a plugin descriptor
(the layout of strata/plugin/registrar.hpp's PluginDescriptor, written in C), linked with
each hash-table style and relocation packing the C compiler's linker offers, plus a library
without the entry point. Needs a C compiler (`cc`, or $CC); without one it writes nothing
and says so. Standard library only.
"""

import os
import shutil
import subprocess
import sys
import tempfile

SOURCE = r"""
struct Descriptor {
  unsigned struct_size, abi_major, abi_minor;
  const char *toolchain_tag, *name, *version, *description;
  void (*register_all)(void *);
  const char *dependencies;
};
static void register_all(void *registrar) { (void)registrar; }
#ifndef NO_ENTRY
static const struct Descriptor descriptor = {sizeof(struct Descriptor), ABI_MAJOR, 0, "tag",
                                             "seed-plugin", "1.0.0", "a fuzzing seed", register_all,
                                             "format-a, format-b"};
__attribute__((visibility("default"))) const void *strata_plugin_entry = &descriptor;
#else
__attribute__((visibility("default"))) int not_a_plugin = 1;
void *keep = (void *)register_all;
#endif
"""

VARIANTS = {
    "gnu_hash": ["-Wl,--hash-style=gnu"],
    "sysv_hash": ["-Wl,--hash-style=sysv"],
    "relr": ["-Wl,-z,pack-relative-relocs"],
    "future_abi": ["-DABI_MAJOR=99"],
    "no_entry": ["-DNO_ENTRY"],
}


def main():
    out = os.path.join(sys.argv[1], "plugin_elf")
    os.makedirs(out, exist_ok=True)
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("clang") or shutil.which("gcc")
    if cc is None:
        print("plugin_elf_seeds.py: no C compiler, no seeds", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "seed.c")
        with open(src, "w") as f:
            f.write(SOURCE)
        for name, flags in VARIANTS.items():
            if not any(flag.startswith("-DABI_MAJOR") for flag in flags):
                flags = flags + ["-DABI_MAJOR=2"]
            target = os.path.join(out, name + ".so")
            result = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-s", "-o", target, src] + flags,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if result.returncode != 0 and os.path.exists(target):
                os.remove(target)  # a linker without that option
    print(out)


if __name__ == "__main__":
    main()
