#include "plugin/plugin_file.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "strata/plugin/registrar.hpp"

// Older <elf.h> may lack the packed relative relocations (glibc 2.36 added them).
#ifndef DT_RELRSZ
#define DT_RELRSZ 35
#endif
#ifndef DT_RELR
#define DT_RELR 36
#endif
#ifndef DT_RELRENT
#define DT_RELRENT 37
#endif

namespace strata::internal {

bool BufferPluginFileBytes::read(std::uint64_t offset, std::size_t n, void* out) const noexcept {
  if (offset > size_ || n > size_ - offset) return false;
  if (n != 0) std::memcpy(out, static_cast<const unsigned char*>(data_) + offset, n);
  return true;
}

namespace {

class FdPluginFileBytes final : public PluginFileBytes {
 public:
  FdPluginFileBytes(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
  ~FdPluginFileBytes() override { ::close(fd_); }
  FdPluginFileBytes(const FdPluginFileBytes&) = delete;
  FdPluginFileBytes& operator=(const FdPluginFileBytes&) = delete;
  std::uint64_t size() const noexcept override { return size_; }
  bool read(std::uint64_t offset, std::size_t n, void* out) const noexcept override {
    if (offset > size_ || n > size_ - offset) return false;
    auto* p = static_cast<unsigned char*>(out);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;  // an error, or the file shrank since it was measured
      p += got;
      offset += static_cast<std::uint64_t>(got);
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }

 private:
  int fd_;
  std::uint64_t size_;
};

bool add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_add_overflow(a, b, &out);
}
bool mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

std::string machine_text(std::uint16_t machine) {
  switch (machine) {
    case EM_X86_64:
      return "x86-64";
    case EM_AARCH64:
      return "aarch64";
    case EM_386:
      return "i386";
    case EM_ARM:
      return "arm";
    case EM_PPC64:
      return "ppc64";
    case EM_S390:
      return "s390x";
    case EM_RISCV:
      return "riscv";
    default:
      return "ELF machine " + std::to_string(machine);
  }
}

// The relocation types that write an address into data, per machine.
struct RelocationTypes {
  std::uint32_t relative = 0;  // B + A
  std::uint32_t absolute = 0;  // S + A
  std::uint32_t glob_dat = 0;  // S (+ A)
};
RelocationTypes relocation_types(std::uint16_t machine) {
  switch (machine) {
    case EM_X86_64:
      return {R_X86_64_RELATIVE, R_X86_64_64, R_X86_64_GLOB_DAT};
    case EM_AARCH64:
      return {R_AARCH64_RELATIVE, R_AARCH64_ABS64, R_AARCH64_GLOB_DAT};
    case EM_PPC64:
      return {R_PPC64_RELATIVE, R_PPC64_ADDR64, R_PPC64_GLOB_DAT};
    case EM_S390:
      return {R_390_RELATIVE, R_390_64, R_390_GLOB_DAT};
    case EM_RISCV:
      return {R_RISCV_RELATIVE, R_RISCV_64, R_RISCV_64};
    default:
      return {};
  }
}

// The problem of a file that is no plugin; thrown inside the inspection only.
struct Broken {
  std::string problem;
};

// A pointer stored in the file's data, as the dynamic loader will have set it.
struct StoredPointer {
  std::uint64_t address = 0;  // where it is stored (a virtual address of the file)
  std::uint64_t value = 0;    // what it points to (a virtual address of the file), 0: null
  bool relocated = false;
};

// The number of bytes or entries any table of the file may hold is bounded by the file's
// size, since tables are read only from bytes the file holds; chains are bounded further.
constexpr std::uint64_t kMaxHashChain = 1u << 20;

class ElfImage {
 public:
  ElfImage(const PluginFileBytes& bytes, std::uint16_t machine) : bytes_(bytes), machine_(machine) {}

  // Header and program headers; throws Broken.
  void read_headers() {
    const std::uint64_t size = bytes_.size();
    unsigned char ident[EI_NIDENT] = {};
    const auto head = static_cast<std::size_t>(std::min<std::uint64_t>(size, EI_NIDENT));
    if (size == 0) throw Broken{"it is empty (0 bytes), not a shared library"};
    if (!bytes_.read(0, head, ident) || head < SELFMAG || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
      throw Broken{"it is not an ELF file (no ELF magic bytes at its start), not a shared library"};
    }
    if (size < sizeof(Elf64_Ehdr)) {
      throw Broken{"it is truncated: the file (" + std::to_string(size) + " bytes) ends inside its ELF header"};
    }
    if (ident[EI_CLASS] != ELFCLASS64) {
      throw Broken{ident[EI_CLASS] == ELFCLASS32
                       ? "it is a 32-bit ELF file; this runtime is 64-bit"
                       : "its ELF class is invalid (" + std::to_string(ident[EI_CLASS]) + ")"};
    }
    const unsigned char ours = std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
    if (ident[EI_DATA] != ours) {
      throw Broken{std::string("it is an ELF file of the other byte order (") +
                   (ident[EI_DATA] == ELFDATA2LSB ? "little" : "big") + "-endian)"};
    }
    if (ident[EI_VERSION] != EV_CURRENT) throw Broken{"its ELF version is invalid"};
    if (!bytes_.read(0, sizeof header_, &header_)) {
      throw Broken{"it is truncated: the file (" + std::to_string(size) + " bytes) ends inside its ELF header"};
    }
    if (header_.e_type != ET_DYN) {
      throw Broken{"it is not a shared library (ELF type " + std::to_string(header_.e_type) + ")"};
    }
    if (machine_ != EM_NONE && header_.e_machine != machine_) {
      throw Broken{"it is built for " + machine_text(header_.e_machine) + "; this runtime runs on " +
                   machine_text(machine_)};
    }
    if (header_.e_phentsize != sizeof(Elf64_Phdr) || header_.e_phnum == 0 || header_.e_phnum == PN_XNUM) {
      throw Broken{"its ELF header declares no usable program headers"};
    }
    std::uint64_t table_bytes = 0, table_end = 0;
    if (!mul(header_.e_phnum, sizeof(Elf64_Phdr), table_bytes) || !add(header_.e_phoff, table_bytes, table_end) ||
        table_end > size) {
      throw Broken{"it is truncated or damaged: its program headers (bytes " + std::to_string(header_.e_phoff) +
                   " to " + std::to_string(header_.e_phoff + table_bytes) + ") end past the end of the file (" +
                   std::to_string(size) + " bytes)"};
    }
    segments_.resize(header_.e_phnum);
    if (!bytes_.read(header_.e_phoff, static_cast<std::size_t>(table_bytes), segments_.data())) {
      throw Broken{"its program headers cannot be read"};
    }
    bool any_load = false;
    for (std::size_t i = 0; i < segments_.size(); ++i) {
      const Elf64_Phdr& s = segments_[i];
      std::uint64_t end = 0;
      if (s.p_filesz != 0 && (!add(s.p_offset, s.p_filesz, end) || end > size)) {
        throw Broken{"it is truncated or damaged: its segment " + std::to_string(i) + " (file bytes " +
                     std::to_string(s.p_offset) + " to " + std::to_string(s.p_offset + s.p_filesz) +
                     ") ends past the end of the file (" + std::to_string(size) + " bytes)"};
      }
      if (s.p_type == PT_LOAD) {
        any_load = true;
        std::uint64_t vend = 0;
        if (s.p_filesz > s.p_memsz || !add(s.p_vaddr, s.p_memsz, vend)) {
          throw Broken{"its segment " + std::to_string(i) + " is inconsistent (file size above memory size)"};
        }
      }
    }
    if (!any_load) throw Broken{"it has no loadable segment"};
  }

  // Reads [va, va + n) of the loaded image. `file_only`: every byte must come from the file
  // (tables); otherwise bytes past a segment's file part read as the zeros they will be.
  bool read_va(std::uint64_t va, std::size_t n, void* out, bool file_only) const {
    for (const Elf64_Phdr& s : segments_) {
      if (s.p_type != PT_LOAD || va < s.p_vaddr) continue;
      const std::uint64_t rel = va - s.p_vaddr;
      const std::uint64_t limit = file_only ? s.p_filesz : s.p_memsz;
      if (rel > limit || n > limit - rel) continue;
      auto* p = static_cast<unsigned char*>(out);
      const std::uint64_t from_file = rel >= s.p_filesz ? 0 : std::min<std::uint64_t>(n, s.p_filesz - rel);
      if (from_file != 0 && !bytes_.read(s.p_offset + rel, static_cast<std::size_t>(from_file), p)) return false;
      std::memset(p + from_file, 0, n - static_cast<std::size_t>(from_file));
      return true;
    }
    return false;
  }
  template <typename T>
  bool read_table(std::uint64_t va, std::uint64_t index, T& out) const {
    std::uint64_t offset = 0, at = 0;
    return mul(index, sizeof(T), offset) && add(va, offset, at) && read_va(at, sizeof(T), &out, true);
  }

  // Calls fn(entry) for `count` entries of type T at `va`, read a chunk at a time.
  template <typename T, typename Fn>
  void for_each_entry(std::uint64_t va, std::uint64_t count, Fn&& fn) const {
    std::array<T, 256> chunk{};
    for (std::uint64_t i = 0; i < count;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), count - i));
      std::uint64_t offset = 0, at = 0;
      if (!mul(i, sizeof(T), offset) || !add(va, offset, at) || !read_va(at, n * sizeof(T), chunk.data(), true)) {
        throw Broken{"it is damaged: its relocations lie outside the file"};
      }
      for (std::size_t k = 0; k < n; ++k) fn(chunk[k]);
      i += n;
    }
  }

  bool executable(std::uint64_t va) const {
    for (const Elf64_Phdr& s : segments_) {
      if (s.p_type == PT_LOAD && (s.p_flags & PF_X) != 0 && va >= s.p_vaddr && va - s.p_vaddr < s.p_memsz) return true;
    }
    return false;
  }

  // The dynamic section's entries the inspection needs. False when there is none.
  bool read_dynamic() {
    const Elf64_Phdr* dynamic = nullptr;
    for (const Elf64_Phdr& s : segments_) {
      if (s.p_type == PT_DYNAMIC) dynamic = &s;
    }
    if (dynamic == nullptr) return false;
    const std::uint64_t count = dynamic->p_filesz / sizeof(Elf64_Dyn);
    for (std::uint64_t i = 0; i < count; ++i) {
      Elf64_Dyn d{};
      if (!read_table(dynamic->p_vaddr, i, d)) {
        throw Broken{"it is damaged: its dynamic section lies outside its loadable segments"};
      }
      if (d.d_tag == DT_NULL) break;
      const std::uint64_t v = d.d_un.d_val;
      switch (d.d_tag) {
        case DT_SYMTAB:
          symtab_ = v;
          has_symtab_ = true;
          break;
        case DT_STRTAB:
          strtab_ = v;
          has_strtab_ = true;
          break;
        case DT_STRSZ:
          strsz_ = v;
          break;
        case DT_SYMENT:
          syment_ = v;
          break;
        case DT_HASH:
          hash_ = v;
          has_hash_ = true;
          break;
        case DT_GNU_HASH:
          gnu_hash_ = v;
          has_gnu_hash_ = true;
          break;
        case DT_RELA:
          rela_ = v;
          break;
        case DT_RELASZ:
          relasz_ = v;
          break;
        case DT_RELAENT:
          relaent_ = v;
          break;
        case DT_REL:
          rel_ = v;
          break;
        case DT_RELSZ:
          relsz_ = v;
          break;
        case DT_RELENT:
          relent_ = v;
          break;
        case DT_RELR:
          relr_ = v;
          break;
        case DT_RELRSZ:
          relrsz_ = v;
          break;
        case DT_RELRENT:
          relrent_ = v;
          break;
        default:
          break;
      }
    }
    if (syment_ != sizeof(Elf64_Sym) || (relasz_ != 0 && relaent_ != sizeof(Elf64_Rela)) ||
        (relsz_ != 0 && relent_ != sizeof(Elf64_Rel)) || (relrsz_ != 0 && relrent_ != sizeof(std::uint64_t))) {
      throw Broken{"it is damaged: its dynamic section declares table entries of the wrong size"};
    }
    return true;
  }

  // The defined dynamic symbol `name` as the dynamic loader finds it (through the GNU or the
  // SysV hash table). False when the file does not export it.
  bool find_symbol(const char* name, Elf64_Sym& out) const {
    if (!has_symtab_ || !has_strtab_) return false;
    if (has_gnu_hash_) return find_gnu(name, out);
    if (has_hash_) return find_sysv(name, out);
    return false;
  }

  Elf64_Sym symbol(std::uint64_t index) const {
    Elf64_Sym sym{};
    if (!read_table(symtab_, index, sym))
      throw Broken{"it is damaged: its symbol " + std::to_string(index) + " lies outside the file"};
    return sym;
  }

  // Resolves the pointers stored at `pointers[i].address` through the file's relocations.
  void resolve(std::vector<StoredPointer>& pointers) const {
    const RelocationTypes types = relocation_types(header_.e_machine);
    auto find = [&](std::uint64_t address) -> StoredPointer* {
      for (StoredPointer& p : pointers) {
        if (p.address == address) return &p;
      }
      return nullptr;
    };
    for (StoredPointer& p : pointers) {
      if (!read_va(p.address, sizeof p.value, &p.value, false)) {
        throw Broken{"it is damaged: its plugin descriptor lies outside its loadable segments"};
      }
    }
    auto apply = [&](StoredPointer& p, std::uint32_t type, std::uint32_t sym_index, std::uint64_t addend) {
      if (type == types.relative && types.relative != 0) {
        p.value = addend;
      } else if ((type == types.absolute || type == types.glob_dat) && types.absolute != 0) {
        const Elf64_Sym sym = symbol(sym_index);
        if (sym.st_shndx == SHN_UNDEF) {
          throw Broken{"its plugin descriptor refers to a symbol of another library; it cannot be read from the file"};
        }
        p.value = sym.st_value + addend;
      } else {
        throw Broken{
            "its plugin descriptor is relocated in a way this runtime cannot read from the file (relocation type " +
            std::to_string(type) + ")"};
      }
      p.relocated = true;
    };
    if (relasz_ != 0) {
      for_each_entry<Elf64_Rela>(rela_, relasz_ / sizeof(Elf64_Rela), [&](const Elf64_Rela& r) {
        if (StoredPointer* p = find(r.r_offset)) {
          apply(*p, static_cast<std::uint32_t>(ELF64_R_TYPE(r.r_info)),
                static_cast<std::uint32_t>(ELF64_R_SYM(r.r_info)), static_cast<std::uint64_t>(r.r_addend));
        }
      });
    }
    if (relsz_ != 0) {
      for_each_entry<Elf64_Rel>(rel_, relsz_ / sizeof(Elf64_Rel), [&](const Elf64_Rel& r) {
        if (StoredPointer* p = find(r.r_offset)) {
          apply(*p, static_cast<std::uint32_t>(ELF64_R_TYPE(r.r_info)),
                static_cast<std::uint32_t>(ELF64_R_SYM(r.r_info)), p->value);
        }
      });
    }
    // Packed relative relocations: an address, then bitmaps of the 63 words after it.
    std::uint64_t where = 0;
    if (relrsz_ != 0) {
      for_each_entry<std::uint64_t>(relr_, relrsz_ / sizeof(std::uint64_t), [&](std::uint64_t entry) {
        if ((entry & 1) == 0) {
          if (StoredPointer* p = find(entry)) p->relocated = true;
          where = entry + sizeof(std::uint64_t);
          return;
        }
        for (unsigned bit = 1; bit < 64; ++bit) {
          if (((entry >> bit) & 1) == 0) continue;
          if (StoredPointer* p = find(where + (bit - 1) * sizeof(std::uint64_t))) p->relocated = true;
        }
        where += 63 * sizeof(std::uint64_t);
      });
    }
  }

 private:
  // Compares the name of symbol `index` with `name`.
  bool named(const Elf64_Sym& sym, const char* name) const {
    const std::size_t n = std::strlen(name) + 1;
    if (sym.st_name >= strsz_ || n > strsz_ - sym.st_name) return false;
    std::array<char, 64> buf{};
    if (n > buf.size() || !read_va(strtab_ + sym.st_name, n, buf.data(), true)) return false;
    return std::memcmp(buf.data(), name, n) == 0;
  }
  static bool defined(const Elf64_Sym& sym) {
    const unsigned bind = ELF64_ST_BIND(sym.st_info);
    return sym.st_shndx != SHN_UNDEF && (bind == STB_GLOBAL || bind == STB_WEAK || bind == STB_GNU_UNIQUE) &&
           ELF64_ST_VISIBILITY(sym.st_other) != STV_HIDDEN && ELF64_ST_VISIBILITY(sym.st_other) != STV_INTERNAL;
  }

  bool find_gnu(const char* name, Elf64_Sym& out) const {
    std::uint32_t head[4] = {};  // nbuckets, symoffset, bloom words, bloom shift
    if (!read_va(gnu_hash_, sizeof head, head, true))
      throw Broken{"it is damaged: its symbol hash table lies outside the file"};
    if (head[0] == 0) return false;
    std::uint32_t h = 5381;
    for (const char* c = name; *c != 0; ++c) h = h * 33 + static_cast<unsigned char>(*c);
    std::uint64_t buckets = 0;
    if (!add(gnu_hash_, sizeof head + std::uint64_t{head[2]} * sizeof(std::uint64_t), buckets)) return false;
    std::uint32_t index = 0;
    if (!read_table(buckets, h % head[0], index))
      throw Broken{"it is damaged: its symbol hash table lies outside the file"};
    if (index == 0 || index < head[1]) return false;
    std::uint64_t chain = 0;
    if (!add(buckets, std::uint64_t{head[0]} * sizeof(std::uint32_t), chain)) return false;
    for (std::uint64_t i = index, steps = 0; steps < kMaxHashChain; ++i, ++steps) {
      std::uint32_t hash = 0;
      if (!read_table(chain, i - head[1], hash))
        throw Broken{"it is damaged: its symbol hash table lies outside the file"};
      if ((hash | 1) == (h | 1)) {
        const Elf64_Sym sym = symbol(i);
        if (defined(sym) && named(sym, name)) {
          out = sym;
          return true;
        }
      }
      if ((hash & 1) != 0) return false;
    }
    throw Broken{"it is damaged: a chain of its symbol hash table does not end"};
  }

  bool find_sysv(const char* name, Elf64_Sym& out) const {
    std::uint32_t head[2] = {};  // nbucket, nchain
    if (!read_va(hash_, sizeof head, head, true))
      throw Broken{"it is damaged: its symbol hash table lies outside the file"};
    if (head[0] == 0) return false;
    std::uint32_t h = 0;
    for (const char* c = name; *c != 0; ++c) {
      h = (h << 4) + static_cast<unsigned char>(*c);
      const std::uint32_t g = h & 0xf0000000u;
      if (g != 0) h ^= g >> 24;
      h &= ~g;
    }
    const std::uint64_t buckets = hash_ + sizeof head;
    std::uint32_t index = 0;
    if (!read_table(buckets, h % head[0], index))
      throw Broken{"it is damaged: its symbol hash table lies outside the file"};
    const std::uint64_t chain = buckets + std::uint64_t{head[0]} * sizeof(std::uint32_t);
    // A chain visits each symbol once, and each symbol has a chain word in the file: a longer
    // walk is a cycle.
    const std::uint64_t max_steps =
        std::min<std::uint64_t>({head[1], bytes_.size() / sizeof(std::uint32_t), kMaxHashChain});
    for (std::uint64_t steps = 0; index != STN_UNDEF; ++steps) {
      if (index >= head[1] || steps > max_steps)
        throw Broken{"it is damaged: a chain of its symbol hash table does not end"};
      const Elf64_Sym sym = symbol(index);
      if (defined(sym) && named(sym, name)) {
        out = sym;
        return true;
      }
      if (!read_table(chain, index, index)) throw Broken{"it is damaged: its symbol hash table lies outside the file"};
    }
    return false;
  }

  const PluginFileBytes& bytes_;
  std::uint16_t machine_;
  Elf64_Ehdr header_{};
  std::vector<Elf64_Phdr> segments_;
  std::uint64_t symtab_ = 0, strtab_ = 0, strsz_ = 0, syment_ = sizeof(Elf64_Sym), hash_ = 0, gnu_hash_ = 0;
  bool has_symtab_ = false, has_strtab_ = false, has_hash_ = false, has_gnu_hash_ = false;
  std::uint64_t rela_ = 0, relasz_ = 0, relaent_ = sizeof(Elf64_Rela);
  std::uint64_t rel_ = 0, relsz_ = 0, relent_ = sizeof(Elf64_Rel);
  std::uint64_t relr_ = 0, relrsz_ = 0, relrent_ = sizeof(std::uint64_t);
};

// A C string of the loaded image at `va`, at most `max` bytes (longer ones are cut, as the
// loader cuts them in memory).
std::string read_string(const ElfImage& image, std::uint64_t va, std::size_t max, const char* field) {
  std::string out;
  std::array<char, 256> chunk{};
  while (out.size() < max) {
    const std::size_t want = std::min(chunk.size(), max - out.size());
    // A string may end close to its segment's end: shrink the read until it fits.
    std::size_t n = want;
    while (n > 0 && !image.read_va(va + out.size(), n, chunk.data(), false)) n /= 2;
    if (n == 0) throw Broken{std::string("its plugin descriptor's ") + field + " lies outside the file"};
    const char* nul = static_cast<const char*>(std::memchr(chunk.data(), 0, n));
    if (nul != nullptr) {
      out.append(chunk.data(), static_cast<std::size_t>(nul - chunk.data()));
      return out;
    }
    out.append(chunk.data(), n);
  }
  return out;
}

void read_descriptor(const ElfImage& image, const Elf64_Sym& entry, std::uint32_t abi_major, FilePluginDescriptor& d) {
  std::vector<StoredPointer> entry_pointer{{entry.st_value, 0, false}};
  image.resolve(entry_pointer);
  const StoredPointer& at = entry_pointer[0];
  if (at.value != 0 && !at.relocated) {
    throw Broken{
        "its entry point is not relocated (not a position-independent plugin); it cannot be read from the file"};
  }
  if (at.value == 0) throw Broken{"its entry point is a null descriptor"};
  const std::uint64_t base = at.value;

  // The ABI version first: the three leading words are the same in every ABI.
  std::uint32_t head[3] = {};
  if (!image.read_va(base, sizeof head, head, false)) {
    throw Broken{"its plugin descriptor lies outside its loadable segments"};
  }
  d.struct_size = head[0];
  d.abi_major = head[1];
  d.abi_minor = head[2];
  if (d.struct_size < sizeof head || d.abi_major != abi_major || d.struct_size < kPluginDescriptorMinSize) return;

  struct Field {
    std::size_t offset;
    const char* what;
  };
  const bool has_dependencies = d.struct_size >= offsetof(PluginDescriptor, dependencies) + sizeof(const char*);
  const std::array<Field, 6> fields = {{{offsetof(PluginDescriptor, toolchain_tag), "toolchain tag"},
                                        {offsetof(PluginDescriptor, name), "name"},
                                        {offsetof(PluginDescriptor, version), "version"},
                                        {offsetof(PluginDescriptor, description), "description"},
                                        {offsetof(PluginDescriptor, register_all), "register function"},
                                        {offsetof(PluginDescriptor, dependencies), "dependencies"}}};
  std::vector<StoredPointer> pointers;
  for (std::size_t i = 0; i < fields.size() - (has_dependencies ? 0 : 1); ++i) {
    pointers.push_back({base + fields[i].offset, 0, false});
  }
  image.resolve(pointers);
  for (std::size_t i = 0; i < pointers.size(); ++i) {
    if (pointers[i].value != 0 && !pointers[i].relocated) {
      throw Broken{std::string("its plugin descriptor's ") + fields[i].what +
                   " is not relocated (not a position-independent plugin); it cannot be read from the file"};
    }
  }
  auto text = [&](std::size_t i, std::size_t max) {
    return pointers[i].value == 0 ? std::string() : read_string(image, pointers[i].value, max, fields[i].what);
  };
  d.toolchain_tag = text(0, 512);
  d.name = text(1, 128);
  d.version = text(2, 64);
  d.description = text(3, 4096);
  if (pointers[4].value != 0) {
    if (!image.executable(pointers[4].value)) {
      throw Broken{"its plugin descriptor's register function does not point into the plugin's code"};
    }
    d.has_register_all = true;
  }
  if (has_dependencies && pointers[5].value != 0) {
    d.has_dependencies = true;
    d.dependencies = text(5, 1024);
  }
  d.fields_read = true;
}

}  // namespace

std::unique_ptr<PluginFileBytes> open_plugin_file(const std::filesystem::path& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::system_category().message(errno);
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = std::system_category().message(errno);
    ::close(fd);
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "not a regular file";
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<FdPluginFileBytes>(fd, static_cast<std::uint64_t>(st.st_size));
}

PluginFileReport inspect_plugin_file(const PluginFileBytes& bytes, std::uint16_t machine,
                                     std::uint32_t abi_major) noexcept {
  PluginFileReport report;
  try {
    ElfImage image(bytes, machine);
    image.read_headers();
    Elf64_Sym entry{};
    if (!image.read_dynamic() || !image.find_symbol(kPluginEntrySymbol, entry)) {
      report.kind = PluginFileKind::kNotPlugin;
      report.problem = std::string("it does not export the entry point '") + kPluginEntrySymbol +
                       "' (build it with strata_add_plugin and declare it with STRATA_PLUGIN)";
      return report;
    }
    const unsigned type = ELF64_ST_TYPE(entry.st_info);
    if (type != STT_OBJECT && type != STT_NOTYPE) {
      throw Broken{std::string("its entry point '") + kPluginEntrySymbol + "' is not data (symbol type " +
                   std::to_string(type) + ")"};
    }
    read_descriptor(image, entry, abi_major, report.descriptor);
    report.kind = PluginFileKind::kPlugin;
  } catch (const Broken& b) {
    report.kind = PluginFileKind::kBroken;
    report.problem = b.problem;
    report.descriptor = {};
  } catch (...) {  // std::bad_alloc: the file is not one we can check
    report.kind = PluginFileKind::kBroken;
    report.problem = "it could not be checked (out of memory)";
    report.descriptor = {};
  }
  return report;
}

std::uint16_t this_elf_machine() noexcept {
#if defined(__x86_64__)
  return EM_X86_64;
#elif defined(__aarch64__)
  return EM_AARCH64;
#elif defined(__powerpc64__)
  return EM_PPC64;
#elif defined(__s390x__)
  return EM_S390;
#elif defined(__riscv)
  return EM_RISCV;
#else
  return EM_NONE;  // unknown: the machine is not checked
#endif
}

}  // namespace strata::internal
