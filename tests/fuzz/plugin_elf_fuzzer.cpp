// libFuzzer target: the plugin file check that runs before dlopen (runtime/src/plugin/
// plugin_file.cpp) — ELF header, program headers, dynamic section, symbol hash tables,
// relocations and the plugin descriptor, all read from the input bytes. Any outcome other
// than a report is a bug: a crash, a sanitizer report, a hang or an allocation beyond the
// input's size. Seeds: tiny descriptor libraries linked several ways
// (tests/fuzz/plugin_elf_seeds.py).
#include <cstddef>
#include <cstdint>

#include "plugin/plugin_file.hpp"
#include "strata/version.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const strata::internal::BufferPluginFileBytes bytes(data, size);
  const auto report =
      strata::internal::inspect_plugin_file(bytes, strata::internal::this_elf_machine(), strata::kPluginAbiMajor);
  // The descriptor's strings are bounded whatever the input says.
  if (report.descriptor.name.size() > 128 || report.descriptor.description.size() > 4096) __builtin_trap();
  return 0;
}
