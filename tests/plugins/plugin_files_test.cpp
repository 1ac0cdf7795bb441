// Issue 20, plugin files: broken and hostile plugin files are refused from their bytes,
// before the dynamic loader sees them; a refused or shadowed plugin is never opened (its
// ELF constructors never run); helper libraries in a plugin directory are skipped quietly; a
// plugin directory that cannot be read is a warning. The files are generated from the test
// plugins of tests/plugins/CMakeLists.txt (truncated or patched copies), none is committed.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/plugins.hpp"
#include "strata/version.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

fs::path test_plugin(const std::string& variant) {
  return fs::path(STRATA_TEST_PLUGIN_ROOT) / variant / ("strata-test-" + variant + ".so");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string run_command(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  pclose(pipe);
  return out;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/strata-plugin-files-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    for (const auto& e : fs::recursive_directory_iterator(path_, ec)) {
      if (e.is_directory(ec)) fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Collects the warnings logged while it lives.
class WarningLog {
 public:
  WarningLog() {
    previous_ = set_log_sink([this](LogLevel level, std::string_view text) {
      if (level == LogLevel::kWarning) lines.emplace_back(text);
    });
  }
  ~WarningLog() { set_log_sink(previous_); }
  std::vector<std::string> lines;

 private:
  LogSink previous_;
};

// The end of the last file byte any segment of `file` uses, from binutils' readelf (not from
// the loader under test): a copy cut shorter than this cannot be mapped.
std::uint64_t segments_end(const fs::path& file) {
  const std::string out = run_command("readelf -lW '" + file.string() + "' 2>&1");
  std::istringstream lines(out);
  std::uint64_t end = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string type, offset, vaddr, paddr, filesz;
    if (!(fields >> type >> offset >> vaddr >> paddr >> filesz) || offset.rfind("0x", 0) != 0 ||
        filesz.rfind("0x", 0) != 0) {
      continue;
    }
    end = std::max<std::uint64_t>(end, std::stoull(offset, nullptr, 16) + std::stoull(filesz, nullptr, 16));
  }
  return end;
}

// The file offset of virtual address `va` of `file`, from readelf's program headers.
std::uint64_t file_offset(const fs::path& file, std::uint64_t va) {
  std::istringstream lines(run_command("readelf -lW '" + file.string() + "' 2>&1"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string type, offset, vaddr, paddr, filesz;
    if (!(fields >> type >> offset >> vaddr >> paddr >> filesz) || type != "LOAD") continue;
    const std::uint64_t o = std::stoull(offset, nullptr, 16), v = std::stoull(vaddr, nullptr, 16);
    if (va >= v && va - v < std::stoull(filesz, nullptr, 16)) return o + (va - v);
  }
  return 0;
}

std::uint32_t get_u32(const std::string& bytes, std::uint64_t at) {
  std::uint32_t v = 0;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}
void put_u32(std::string& bytes, std::uint64_t at, std::uint32_t v) { std::memcpy(bytes.data() + at, &v, sizeof v); }

// A plugin with only a SysV hash table loads; a copy whose hash chains form a cycle and whose
// chain count is 2^32-1 is refused at once (the walk was bounded by that count: minutes).
TEST(PluginFiles, SysvHashTableIsReadAndACyclicChainIsRefusedQuickly) {
  const fs::path file = test_plugin("sysv_hash");
  Registry registry;
  PluginManager manager(registry);
  EXPECT_EQ(manager.load(file).state, PluginState::kLoaded);
  EXPECT_TRUE(registry.contains(ObjectKind::kLayer, "SysvHashLayer"));

  // readelf: where the hash table is, and two undefined dynamic symbols (never a match).
  std::uint64_t hash_va = 0;
  std::istringstream dynamic(run_command("readelf -dW '" + file.string() + "' 2>&1"));
  for (std::string line; std::getline(dynamic, line);) {
    if (line.find("(HASH)") != std::string::npos) hash_va = std::stoull(line.substr(line.rfind(' ') + 1), nullptr, 16);
  }
  std::vector<std::uint32_t> undefined;
  std::istringstream symbols(run_command("readelf --dyn-syms -W '" + file.string() + "' 2>&1"));
  for (std::string line; std::getline(symbols, line);) {
    std::istringstream fields(line);
    std::string num, value, size, type, bind, vis, ndx;
    if (fields >> num >> value >> size >> type >> bind >> vis >> ndx && ndx == "UND" && num != "0:") {
      undefined.push_back(static_cast<std::uint32_t>(std::stoul(num)));
    }
  }
  ASSERT_NE(hash_va, 0u) << "no DT_HASH";
  ASSERT_GE(undefined.size(), 2u);
  const std::uint64_t hash = file_offset(file, hash_va);
  ASSERT_NE(hash, 0u);
  std::string bytes = read_bytes(file);
  const std::uint32_t nbucket = get_u32(bytes, hash);
  const std::uint32_t a = undefined[0], b = undefined[1];
  put_u32(bytes, hash + 4, 0xffffffffu);  // nchain
  for (std::uint32_t i = 0; i < nbucket; ++i) put_u32(bytes, hash + 8 + 4 * std::uint64_t{i}, a);
  const std::uint64_t chain = hash + 8 + 4 * std::uint64_t{nbucket};
  put_u32(bytes, chain + 4 * std::uint64_t{a}, b);
  put_u32(bytes, chain + 4 * std::uint64_t{b}, a);
  ScratchDir tmp;
  const fs::path copy = tmp.path() / "strata-cyclic-hash.so";
  write_bytes(copy, bytes);
  const auto start = std::chrono::steady_clock::now();
  try {
    manager.load(copy);
    ADD_FAILURE() << "a plugin with a cyclic hash chain was not refused";
  } catch (const PluginError& e) {
    EXPECT_TRUE(contains(e.what(), "a chain of its symbol hash table does not end")) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// Every length of a truncated copy of the good plugin is a clean refusal while a segment is
// cut (it used to kill the process with SIGBUS inside dlopen), and loads once every segment
// is whole (the section headers and symbol table after them are not needed to run it).
TEST(PluginFiles, TruncatedCopiesAreRefusedWhileASegmentIsCut) {
  const std::string bytes = read_bytes(test_plugin("good"));
  const std::uint64_t end = segments_end(test_plugin("good"));
  ASSERT_GT(end, 64u) << "readelf found no segments";
  ASSERT_LE(end, bytes.size());
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n <= 80; ++n) lengths.push_back(n);
  for (std::size_t n = 81; n < bytes.size(); n += 97) lengths.push_back(n);
  for (std::size_t n : {end - 1, end, end + 1, std::uint64_t{bytes.size()}}) lengths.push_back(n);

  ScratchDir tmp;
  Registry registry;
  PluginManager manager(registry);
  std::size_t refused = 0, kept = 0;
  for (std::size_t n : lengths) {
    const fs::path copy = tmp.path() / ("strata-truncated-" + std::to_string(n) + ".so");
    write_bytes(copy, std::string_view(bytes).substr(0, n));
    const std::size_t before = registry.size();
    if (n < end) {
      try {
        manager.load(copy);
        ADD_FAILURE() << "a copy cut to " << n << " of " << bytes.size() << " bytes was not refused";
      } catch (const PluginError& e) {
        const std::string text = e.what();
        EXPECT_TRUE(contains(text, copy.string())) << text;
        if (n >= 4) {  // the ELF magic is whole: the file is recognised as a cut ELF file
          EXPECT_TRUE(contains(text, "truncated")) << n << ": " << text;
        }
      }
      EXPECT_EQ(registry.size(), before);
      ++refused;
    } else {
      const PluginInfo info = manager.load(copy);
      EXPECT_TRUE(info.state == PluginState::kLoaded || info.state == PluginState::kShadowed)
          << n << ": " << info.status();
      EXPECT_EQ(info.name, "test-good");
      ++kept;
    }
  }
  EXPECT_GT(refused, 200u);
  EXPECT_GE(kept, 3u);
}

// The same through the CLI: a truncated plugin in the search path is a warning and a
// "refused" row, and every command still works.
TEST(PluginFiles, CliSurvivesATruncatedPluginInTheSearchPath) {
  ScratchDir tmp;
  const std::string bytes = read_bytes(test_plugin("good"));
  const std::uint64_t end = segments_end(test_plugin("good"));
  ASSERT_GT(end, 64u) << "readelf found no segments";
  write_bytes(tmp.path() / "strata-cut.so", std::string_view(bytes).substr(0, end - 1));
  fs::copy_file(test_plugin("marker"), tmp.path() / "strata-test-marker.so");
  const std::string out = run_command("STRATA_PLUGIN_PATH='" + tmp.path().string() + "' " + STRATA_CLI_PATH +
                                      " plugins 2>&1; echo \"rc=$?\"");
  EXPECT_TRUE(contains(out, "rc=0")) << out;
  EXPECT_TRUE(contains(out, "strata-cut.so' refused: it is truncated or damaged")) << out;
  EXPECT_TRUE(contains(out, "test-marker")) << out;
}

// A descriptor of a future ABI whose layout changed after the version words (small integers
// where this ABI has string pointers) is refused by its version; nothing after the version
// is read, and the library is never opened (its constructor leaves no marker).
TEST(PluginFiles, FutureAbiWithAnotherLayoutIsRefusedByItsVersionUnopened) {
  ScratchDir tmp;
  const fs::path marker = tmp.path() / "opened.txt";
  ScopedEnv env("STRATA_TEST_PLUGIN_MARKER", marker.string());
  Registry registry;
  PluginManager manager(registry);
  const std::string future = std::to_string(STRATA_PLUGIN_ABI_MAJOR + 1) + ".0";
  const std::string ours = std::to_string(STRATA_PLUGIN_ABI_MAJOR) + "." + std::to_string(STRATA_PLUGIN_ABI_MINOR);
  try {
    manager.load(test_plugin("future_layout"));
    FAIL() << "the future-ABI plugin was not refused";
  } catch (const PluginError& e) {
    EXPECT_TRUE(contains(e.what(), "built for plugin ABI " + future + "; this runtime speaks " + ours)) << e.what();
  }
  const auto records = manager.plugins();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].name.empty()) << records[0].name;  // not read: another layout
  EXPECT_EQ(records[0].abi_major, unsigned{STRATA_PLUGIN_ABI_MAJOR + 1});
  EXPECT_FALSE(fs::exists(marker)) << read_bytes(marker);
}

// Shadowed and refused plugins are never opened; a kept one is (the marker mechanism works).
TEST(PluginFiles, ShadowedAndRefusedPluginsNeverRunTheirConstructors) {
  ScratchDir tmp;
  const fs::path marker = tmp.path() / "opened.txt";
  ScopedEnv env("STRATA_TEST_PLUGIN_MARKER", marker.string());
  Registry registry;
  PluginManager manager(registry);
  ASSERT_EQ(manager.load(test_plugin("good")).state, PluginState::kLoaded);
  const PluginInfo shadowed = manager.load(test_plugin("shadow_marker"));
  EXPECT_EQ(shadowed.state, PluginState::kShadowed) << shadowed.status();
  EXPECT_THROW(manager.load(test_plugin("toolchain_marker")), PluginError);
  EXPECT_FALSE(fs::exists(marker)) << "opened: " << read_bytes(marker);

  // A private copy (never opened by another test of this process) that is kept does run.
  const fs::path copy = tmp.path() / "strata-test-marker.so";
  fs::copy_file(test_plugin("marker"), copy);
  EXPECT_EQ(manager.load(copy).state, PluginState::kLoaded);
  EXPECT_EQ(read_bytes(marker), "test-marker\n");
}

// A shared library without the entry point beside the plugins is a helper, not a plugin:
// skipped without a warning and not listed. Loaded explicitly it is still refused.
TEST(PluginFiles, HelperLibraryInAPluginDirectoryIsSkippedQuietly) {
  ScratchDir tmp;
  fs::copy_file(test_plugin("good"), tmp.path() / "strata-test-good.so");
  fs::copy_file(test_plugin("no_entry"), tmp.path() / "libhelper.so");
  Registry registry;
  PluginManager manager(registry);
  WarningLog log;
  const auto infos = manager.load_directory(tmp.path());
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].name, "test-good");
  EXPECT_TRUE(log.lines.empty()) << log.lines.front();
  EXPECT_EQ(manager.plugins().size(), 1u);
  EXPECT_THROW(manager.load(tmp.path() / "libhelper.so"), PluginError);
}

// Files that are no shared library of this machine are refused, each with what is wrong.
TEST(PluginFiles, ForeignAndNonElfFilesAreRefusedWithTheReason) {
  ScratchDir tmp;
  const std::string bytes = read_bytes(test_plugin("good"));
  write_bytes(tmp.path() / "strata-text.so", "INPUT(-lfoo)\n");  // a linker script
  std::string other = bytes;
  // e_machine (ELF64 header offset 18, little-endian here): another machine.
  const unsigned other_machine = (static_cast<unsigned char>(bytes[18]) == 62) ? 183 : 62;
  other[18] = static_cast<char>(other_machine & 0xff);
  other[19] = static_cast<char>(other_machine >> 8);
  write_bytes(tmp.path() / "strata-other-machine.so", other);
  std::string elf32 = bytes;
  elf32[4] = 1;  // EI_CLASS: ELFCLASS32
  write_bytes(tmp.path() / "strata-elf32.so", elf32);

  Registry registry;
  PluginManager manager(registry);
  WarningLog log;
  const auto infos = manager.load_directory(tmp.path());
  ASSERT_EQ(infos.size(), 3u);
  for (const auto& i : infos) EXPECT_EQ(i.state, PluginState::kRefused) << i.path;
  ASSERT_EQ(log.lines.size(), 3u);
  const std::string all = log.lines[0] + "\n" + log.lines[1] + "\n" + log.lines[2];
  EXPECT_TRUE(contains(all, "strata-elf32.so' refused: it is a 32-bit ELF file; this runtime is 64-bit")) << all;
  EXPECT_TRUE(contains(all, "strata-other-machine.so' refused: it is built for ")) << all;
  EXPECT_TRUE(contains(all, "strata-text.so' refused: it is not an ELF file")) << all;
}

// A search-path entry that exists but cannot be read hides plugins: a warning naming it. One
// that does not exist is normal (no warning).
TEST(PluginFiles, UnreadablePluginDirectoryIsAWarning) {
  ScratchDir tmp;
  const fs::path file = tmp.path() / "strata-test-good.so";  // a file given as a directory
  fs::copy_file(test_plugin("good"), file);
  Registry registry;
  PluginManager manager(registry);
  {
    WarningLog log;
    EXPECT_TRUE(manager.load_directory(file).empty());
    ASSERT_EQ(log.lines.size(), 1u);
    EXPECT_TRUE(contains(log.lines[0], "plugin directory " + file.string() + " cannot be read (")) << log.lines[0];
  }
  {
    WarningLog log;
    EXPECT_TRUE(manager.load_directory(tmp.path() / "not-there").empty());
    EXPECT_TRUE(log.lines.empty()) << log.lines.front();
  }
  if (geteuid() != 0) {  // root reads any directory
    const fs::path locked = tmp.path() / "locked";
    fs::create_directory(locked);
    fs::permissions(locked, fs::perms::none);
    WarningLog log;
    EXPECT_TRUE(manager.load_directory(locked).empty());
    ASSERT_EQ(log.lines.size(), 1u);
    EXPECT_TRUE(contains(log.lines[0], "cannot be read (Permission denied)")) << log.lines[0];
  }
}

}  // namespace
}  // namespace strata
