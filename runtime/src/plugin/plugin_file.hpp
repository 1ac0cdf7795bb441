// Reading a candidate plugin file without running it.
//
// Before the loader hands a file to the dynamic loader (which maps it, runs its ELF
// constructors and those of the libraries it needs), it checks the file from its bytes:
// a well-formed 64-bit ELF shared object of this machine and byte order whose segments all
// lie inside the file (a truncated file otherwise makes dlopen fault with SIGBUS), whose
// dynamic symbol table (found the way the dynamic loader finds it: PT_DYNAMIC and its hash
// table) exports the plugin entry point, and whose descriptor is read by following the
// entry point through the file's relocations: the ABI version first, and the fields after it
// only when the ABI major is this runtime's (another major may have another layout). Every
// offset, size and count comes from the file and is bounds-checked against it; nothing is
// mapped or executed. A plugin refused here, or shadowed by one already loaded, is never
// opened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace strata::internal {

// Random access to the bytes of a candidate file.
class PluginFileBytes {
 public:
  virtual ~PluginFileBytes() = default;
  virtual std::uint64_t size() const noexcept = 0;
  // Copies [offset, offset + n) into `out`. False when the range is not inside the file or
  // cannot be read.
  virtual bool read(std::uint64_t offset, std::size_t n, void* out) const noexcept = 0;
};

// The bytes of a buffer the caller owns (the fuzzer's input, a test's image).
class BufferPluginFileBytes final : public PluginFileBytes {
 public:
  BufferPluginFileBytes(const void* data, std::size_t size) noexcept : data_(data), size_(size) {}
  std::uint64_t size() const noexcept override { return size_; }
  bool read(std::uint64_t offset, std::size_t n, void* out) const noexcept override;

 private:
  const void* data_;
  std::size_t size_;
};

// Opens `path` for reading (pread; the file is never mapped). Null and `error` set to the
// system's message when it cannot be opened.
std::unique_ptr<PluginFileBytes> open_plugin_file(const std::filesystem::path& path, std::string& error);

enum class PluginFileKind {
  kPlugin,     // exports the entry point: `descriptor` holds what the file says
  kNotPlugin,  // a well-formed shared object of this machine that does not export it
  kBroken,     // anything else: not ELF, another machine or class, truncated, inconsistent
};

// The descriptor as the file holds it (strata/plugin/registrar.hpp's PluginDescriptor).
struct FilePluginDescriptor {
  std::uint32_t struct_size = 0;
  std::uint32_t abi_major = 0;
  std::uint32_t abi_minor = 0;
  // True when struct_size covers the ABI version (12 bytes), the major is the one this
  // runtime was asked about and struct_size covers every field up to register_all: only then
  // were the fields below read.
  bool fields_read = false;
  std::string toolchain_tag, name, version, description;  // at most 512, 128, 64, 4096 bytes
  bool has_register_all = false;                          // non-null; it points into an executable segment
  bool has_dependencies = false;                          // struct_size covers the field and it is non-null
  std::string dependencies;                               // at most 1024 bytes
};

struct PluginFileReport {
  PluginFileKind kind = PluginFileKind::kBroken;
  // kBroken and kNotPlugin: why, as a clause that follows the file's path ("it is ...").
  std::string problem;
  FilePluginDescriptor descriptor;  // kPlugin only
};

// Checks `bytes` as a plugin for a runtime of ELF machine `machine` (this_elf_machine())
// speaking plugin ABI major `abi_major`. Never throws and never reads outside `bytes`;
// work and memory are bounded by the file's size.
PluginFileReport inspect_plugin_file(const PluginFileBytes& bytes, std::uint16_t machine,
                                     std::uint32_t abi_major) noexcept;

// The ELF e_machine of this build (EM_X86_64, EM_AARCH64, ...).
std::uint16_t this_elf_machine() noexcept;

}  // namespace strata::internal
