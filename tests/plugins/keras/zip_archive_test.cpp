// The zip layer of format-keras (zip_archive.hpp): ZipWriter's archives read back and load in
// Python's zipfile and in Keras 3; archives Python's zipfile writes read; and every refusal of
// the reader (ZipLimits, names, encryption, methods, damaged data) is a FormatError naming the
// archive and the member. Bad archives are made with libzip's writer (not ZipWriter) and, where
// libzip will not write them, by editing a few header fields of its output.
#include <gtest/gtest.h>
#include <zip.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include "interop_venv.hpp"
#include "strata/error.hpp"
#include "zip_archive.hpp"

namespace strata::keras {
namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string name;
  std::string data;
  bool deflate = false;
  zip_uint16_t encryption = ZIP_EM_NONE;
};

// An archive written by libzip itself.
std::string libzip_archive(const std::vector<Entry>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = zip_open_from_source(out, ZIP_TRUNCATE, &error);
  EXPECT_NE(archive, nullptr) << zip_error_strerror(&error);
  zip_error_fini(&error);
  zip_source_keep(out);
  for (const Entry& e : entries) {
    zip_source_t* source = zip_source_buffer(archive, e.data.data(), e.data.size(), 0);
    const zip_int64_t i = zip_file_add(archive, e.name.c_str(), source, ZIP_FL_ENC_UTF_8);
    EXPECT_GE(i, 0) << e.name << ": " << zip_strerror(archive);
    EXPECT_EQ(zip_set_file_compression(archive, i, e.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 9), 0);
    if (e.encryption != ZIP_EM_NONE) {
      EXPECT_EQ(zip_file_set_encryption(archive, i, e.encryption, "secret"), 0);
    }
  }
  EXPECT_EQ(zip_close(archive), 0) << zip_strerror(archive);
  zip_stat_t st;
  zip_stat_init(&st);
  EXPECT_EQ(zip_source_stat(out, &st), 0);
  std::string bytes(st.size, '\0');
  EXPECT_EQ(zip_source_open(out), 0);
  EXPECT_EQ(zip_source_read(out, bytes.data(), bytes.size()), static_cast<zip_int64_t>(bytes.size()));
  zip_source_close(out);
  zip_source_free(out);
  return bytes;
}

// Little-endian fields of an archive without a comment, for editing what libzip wrote.
std::uint32_t get(const std::string& b, std::size_t at, int width) {
  std::uint32_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
  return v;
}
void put(std::string& b, std::size_t at, int width, std::uint32_t v) {
  for (int i = 0; i < width; ++i, v >>= 8) b[at + static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
}

// Where member `name`'s central directory entry and local header start.
struct Headers {
  std::size_t central = 0, local = 0;
};
Headers headers_of(const std::string& zip, const std::string& name) {
  const std::size_t eocd = zip.size() - 22;
  EXPECT_EQ(get(zip, eocd, 4), 0x06054b50u);
  std::size_t at = get(zip, eocd + 16, 4);
  for (std::uint32_t n = get(zip, eocd + 10, 2); n > 0; --n) {
    EXPECT_EQ(get(zip, at, 4), 0x02014b50u);
    const std::size_t name_len = get(zip, at + 28, 2);
    if (zip.compare(at + 46, name_len, name) == 0 && name_len == name.size()) return {at, get(zip, at + 42, 4)};
    at += 46 + name_len + get(zip, at + 30, 2) + get(zip, at + 32, 2);
  }
  ADD_FAILURE() << "no member " << name;
  return {};
}
std::size_t data_offset(const std::string& zip, const Headers& h) {
  return h.local + 30 + get(zip, h.local + 26, 2) + get(zip, h.local + 28, 2);
}
// Sets a field of both headers: the central entry's offset `central_at`, the local one's `local_at`.
void set_both(std::string& zip, const Headers& h, std::size_t central_at, std::size_t local_at, int width,
              std::uint32_t v) {
  put(zip, h.central + central_at, width, v);
  put(zip, h.local + local_at, width, v);
}
void set_uncompressed_size(std::string& zip, const Headers& h, std::uint32_t v) {
  set_both(zip, h, 24, 22, 4, v);
}

std::string zeros(std::size_t n) {
  return std::string(n, '\0');
}

// Runs `f` and returns the FormatError's message ("" and a failure when there is none).
std::string format_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const FormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a FormatError: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no error";
  return {};
}

std::string open_error(const std::string& zip, const ZipLimits& limits = {}) {
  return format_error([&] { (void)ZipReader::open_memory(zip, "bad.keras", limits); });
}

std::string read_error(const std::string& zip, const std::string& member) {
  const ZipReader reader = ZipReader::open_memory(zip, "bad.keras");
  return format_error([&] { (void)reader.read(member, std::uint64_t{1} << 30); });
}

fs::path temp_dir() {
  fs::path dir = fs::temp_directory_path() / ("strata-zip-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Debian's python3 (zipfile is in its standard library), or "" when there is none.
std::string system_python() {
  for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3"}) {
    if (fs::exists(p)) return p;
  }
  return {};
}

// --- ZipWriter -------------------------------------------------------------------------

// What Keras's save writes, with the weights in several pieces (an h5::Image) and an empty one.
struct Written {
  std::string metadata = R"({"keras_version": "3.15.1", "date_saved": "2026-12-04@23:53:58"})";
  std::string config_a = R"({"module": "keras", "class_name": "Sequential", )";
  std::string config_b = R"("config": {}})";
  std::string weights_a = std::string("\x89HDF\r\n\x1a\n", 8) + std::string(1000, 'w');
  std::string weights_b = std::string(70000, '\x01');
  std::string vocab = "[UNK]\nthe\nzip\n";
  std::string archive;
  Written() {
    ZipWriter w("written.keras");
    w.add("metadata.json", {metadata});
    w.add("config.json", {config_a, config_b});
    w.add("model.weights.h5", {weights_a, std::string_view(), weights_b}, /*dos_time_now=*/true);
    w.add("assets/", {});
    w.add("assets/vocab.txt", {vocab});
    archive = w.finish();
  }
};

TEST(ZipWriter, RoundTrip) {
  const Written w;
  const ZipReader r = ZipReader::open_memory(w.archive, "written.keras");
  ASSERT_EQ(r.members().size(), 5u);
  const std::vector<std::string> order = {"metadata.json", "config.json", "model.weights.h5", "assets/",
                                          "assets/vocab.txt"};
  for (std::size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(r.members()[i].name, order[i]);
    EXPECT_EQ(r.members()[i].method, 0) << "stored, as Keras writes";
    EXPECT_EQ(r.members()[i].size, r.members()[i].compressed_size);
  }
  EXPECT_TRUE(r.members()[3].is_directory());
  EXPECT_EQ(r.read("metadata.json", 1000), w.metadata);
  EXPECT_EQ(r.read("config.json", 1000), w.config_a + w.config_b);
  EXPECT_EQ(r.read("model.weights.h5", 1 << 20), w.weights_a + w.weights_b);
  EXPECT_EQ(r.read("assets/vocab.txt", 1000), w.vocab);
  EXPECT_EQ(r.read("assets/", 0), "");
  ASSERT_NE(r.find("config.json"), nullptr);
  EXPECT_EQ(r.find("config.json")->size, w.config_a.size() + w.config_b.size());
  EXPECT_EQ(r.find("missing.json"), nullptr);
  EXPECT_NE(format_error([&] { (void)r.read("missing.json", 10); }).find("'missing.json'"), std::string::npos);
  const std::string too_big = format_error([&] { (void)r.read("config.json", 10); });
  EXPECT_NE(too_big.find("'config.json'"), std::string::npos) << too_big;
}

TEST(ZipWriter, EmptyArchiveIsTheEndRecordAlone) {
  ZipWriter w("empty.keras");
  const std::string bytes = w.finish();
  EXPECT_EQ(bytes, std::string("PK\x05\x06", 4) + std::string(18, '\0'));
}

TEST(ZipWriter, RefusesNamesItsReaderRefuses) {
  for (const char* name : {"../evil", "/abs", "a\\b", "C:x", ""}) {
    ZipWriter w("names.keras");
    EXPECT_THROW(w.add(name, {}), ValueError) << name;
  }
  ZipWriter w("dup.keras");
  w.add("config.json", {});
  EXPECT_THROW(w.add("config.json", {}), ValueError);
}

TEST(ZipWriter, PythonZipfileReadsIt) {
  const std::string python = system_python();
  if (python.empty()) GTEST_SKIP() << "no python3 (for its zipfile module)";
  const Written w;
  const fs::path dir = temp_dir();
  write_file(dir / "written.keras", w.archive);
  // Python's own view: every member's name, method, size, DOS date, and whether its CRC holds.
  const std::string script =
      "import sys, zipfile\n"
      "z = zipfile.ZipFile(sys.argv[1])\n"
      "assert z.testzip() is None, z.testzip()\n"
      "for i in z.infolist():\n"
      "    print(i.filename, i.compress_type, i.file_size, i.date_time[0], i.date_time[1:] if i.date_time[0] == 1980 "
      "else '', len(z.read(i)))\n";
  write_file(dir / "list.py", script);
  std::string out;
  ASSERT_EQ(
      test::run_capturing(python + " " + (dir / "list.py").string() + " " + (dir / "written.keras").string(), out), 0)
      << out;
  std::string year = out.substr(out.find("model.weights.h5 0 71008 ") + 25, 4);
  EXPECT_GE(std::atoi(year.c_str()), 2024) << out;  // the weights carry the save time
  EXPECT_EQ(out, "metadata.json 0 " + std::to_string(w.metadata.size()) + " 1980 (1, 1, 0, 0, 0) " +
                     std::to_string(w.metadata.size()) + "\nconfig.json 0 " +
                     std::to_string(w.config_a.size() + w.config_b.size()) + " 1980 (1, 1, 0, 0, 0) " +
                     std::to_string(w.config_a.size() + w.config_b.size()) + "\nmodel.weights.h5 0 71008 " + year +
                     "  71008\nassets/ 0 0 1980 (1, 1, 0, 0, 0) 0\nassets/vocab.txt 0 " +
                     std::to_string(w.vocab.size()) + " 1980 (1, 1, 0, 0, 0) " + std::to_string(w.vocab.size()) + "\n");
  fs::remove_all(dir);
}

// --- reading what others wrote -----------------------------------------------------------

TEST(ZipReader, ReadsWhatPythonZipfileWrote) {
  const std::string python = system_python();
  if (python.empty()) GTEST_SKIP() << "no python3 (for its zipfile module)";
  const fs::path dir = temp_dir();
  // Stored and deflated members, a directory, a forced ZIP64 entry, and (written to a stream
  // that cannot seek) members with data descriptors.
  const std::string script =
      "import sys, zipfile\n"
      "class Stream:\n"
      "    def __init__(self, f): self.f = f\n"
      "    def write(self, b): return self.f.write(b)\n"
      "    def flush(self): self.f.flush()\n"
      "z = zipfile.ZipFile(sys.argv[1] + '/python.zip', 'w')\n"
      "z.writestr('metadata.json', '{\"keras_version\": \"3.15.1\"}')\n"
      "z.writestr('config.json', '{\"a\": ' + '1, ' * 5000 + '2}', compress_type=zipfile.ZIP_DEFLATED)\n"
      "z.writestr('assets/', '')\n"
      "with z.open('model.weights.h5', 'w', force_zip64=True) as f: f.write(bytes(range(256)) * 40)\n"
      "z.close()\n"
      "with open(sys.argv[1] + '/stream.zip', 'wb') as raw:\n"
      "    s = zipfile.ZipFile(Stream(raw), 'w', compression=zipfile.ZIP_DEFLATED)\n"
      "    s.writestr('config.json', 'streamed ' * 100)\n"
      "    s.writestr('model.weights.h5', bytes(range(256)) * 40)\n"
      "    s.close()\n";
  write_file(dir / "write.py", script);
  std::string out;
  ASSERT_EQ(test::run_capturing(python + " " + (dir / "write.py").string() + " " + dir.string(), out), 0) << out;
  std::string weights;
  for (int i = 0; i < 40; ++i)
    for (int b = 0; b < 256; ++b) weights += static_cast<char>(b);
  std::string config = "{\"a\": ";
  for (int i = 0; i < 5000; ++i) config += "1, ";
  config += "2}";
  {
    const ZipReader r = ZipReader::open(dir / "python.zip");
    ASSERT_EQ(r.members().size(), 4u);
    EXPECT_EQ(r.read("metadata.json", 100), "{\"keras_version\": \"3.15.1\"}");
    EXPECT_EQ(r.find("config.json")->method, 8);
    EXPECT_EQ(r.read("config.json", 1 << 20), config);
    EXPECT_TRUE(r.find("assets/")->is_directory());
    EXPECT_EQ(r.read("model.weights.h5", 1 << 20), weights);
  }
  {
    const ZipReader r = ZipReader::open(dir / "stream.zip");
    std::string streamed;
    for (int i = 0; i < 100; ++i) streamed += "streamed ";
    EXPECT_EQ(r.read("config.json", 1 << 20), streamed);
    EXPECT_EQ(r.read("model.weights.h5", 1 << 20), weights);
  }
  fs::remove_all(dir);
}

TEST(ZipReader, OpenFromFileAndItsIOErrors) {
  const fs::path dir = temp_dir();
  write_file(dir / "m.keras", libzip_archive({{"config.json", "{}"}}));
  EXPECT_EQ(ZipReader::open(dir / "m.keras").read("config.json", 10), "{}");
  EXPECT_EQ(ZipReader::open(dir / "m.keras").label(), (dir / "m.keras").string());
  EXPECT_THROW((void)ZipReader::open(dir / "absent.keras"), IOError);
  EXPECT_THROW((void)ZipReader::open(dir), IOError);
  write_file(dir / "empty.keras", "");
  EXPECT_THROW((void)ZipReader::open(dir / "empty.keras"), FormatError);
  fs::remove_all(dir);
}

// --- refusals ---------------------------------------------------------------------------

TEST(ZipReaderRefuses, TooManyMembers) {
  const std::string zip = libzip_archive({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}});
  ZipLimits limits;
  limits.max_members = 5;
  EXPECT_NO_THROW((void)ZipReader::open_memory(zip, "ok.keras", limits));
  limits.max_members = 4;
  const std::string m = open_error(zip, limits);
  EXPECT_NE(m.find("'bad.keras' has 5 members (limit max_members = 4)"), std::string::npos) << m;
}

TEST(ZipReaderRefuses, DeflatedZipBomb) {
  // 8 MiB of zeros deflate to about 8 KiB: a ratio near 1000, far past Keras's 100.
  const std::string zip = libzip_archive({{"config.json", "{}"}, {"model.weights.h5", zeros(8 << 20), true}});
  const std::string m = open_error(zip);
  EXPECT_NE(m.find("member 'model.weights.h5'"), std::string::npos) << m;
  EXPECT_NE(m.find("max_ratio = 100"), std::string::npos) << m;
  EXPECT_NE(m.find("zip bomb"), std::string::npos) << m;
  // Below the floor the ratio does not matter: a small compressible member is no bomb.
  const std::string small = libzip_archive({{"config.json", zeros(1 << 20), true}});
  EXPECT_NO_THROW((void)ZipReader::open_memory(small, "small.keras"));
}

TEST(ZipReaderRefuses, ZipBombSplitIntoMembers) {
  // Three members of 800 KiB of zeros: each under the 1 MiB floor, together a bomb.
  const std::string zip = libzip_archive({{"assets/a", zeros(800 << 10), true},
                                          {"assets/b", zeros(800 << 10), true},
                                          {"assets/c", zeros(800 << 10), true}});
  const std::string m = open_error(zip);
  EXPECT_NE(m.find("member 'assets/b' brings the deflated members to 1638400 bytes"), std::string::npos) << m;
  EXPECT_NE(m.find("zip bomb"), std::string::npos) << m;
}

TEST(ZipReaderRefuses, TotalAndMemberSizes) {
  const std::string zip =
      libzip_archive({{"config.json", std::string(600, 'c')}, {"weights.h5", std::string(600, 'w')}});
  ZipLimits total;
  total.max_total_bytes = 1000;
  std::string m = open_error(zip, total);
  EXPECT_NE(m.find("member 'weights.h5'"), std::string::npos) << m;
  EXPECT_NE(m.find("max_total_bytes"), std::string::npos) << m;
  ZipLimits member;
  member.max_member_bytes = 599;
  m = open_error(zip, member);
  EXPECT_NE(m.find("member 'config.json' declares 600 uncompressed bytes (limit max_member_bytes = 599)"),
            std::string::npos)
      << m;
}

struct BadName {
  const char* name;
  const char* why;
};

void PrintTo(const BadName& b, std::ostream* os) {
  *os << '\'' << b.name << '\'';
}

class ZipReaderRefusesName : public ::testing::TestWithParam<BadName> {};

TEST_P(ZipReaderRefusesName, NamedMember) {
  const std::string zip = libzip_archive({{"config.json", "{}"}, {GetParam().name, "x"}});
  const std::string m = open_error(zip);
  EXPECT_NE(m.find(std::string("member '") + GetParam().name + "'"), std::string::npos) << m;
  EXPECT_NE(m.find(GetParam().why), std::string::npos) << m;
}

INSTANTIATE_TEST_SUITE_P(Traversal, ZipReaderRefusesName,
                         ::testing::Values(BadName{"../evil", "'..' path component"},
                                           BadName{"assets/../../evil", "'..' path component"},
                                           BadName{"/abs", "absolute name"}, BadName{"\\abs", "absolute name"},
                                           BadName{"a\\..\\b", "'..' path component"}, BadName{"a\\b", "backslash"},
                                           BadName{"C:x", "drive letter"},
                                           BadName{"assets/..", "'..' path component"}));

TEST(ZipReaderRefuses, LongName) {
  const std::string name(300, 'n');
  const std::string zip = libzip_archive({{name, "x"}});
  ZipLimits limits;
  limits.max_name_bytes = 299;
  const std::string m = open_error(zip, limits);
  EXPECT_NE(m.find("has a name of 300 bytes (limit max_name_bytes = 299)"), std::string::npos) << m;
}

TEST(ZipReader, NulInNameIsReadAsASpace) {
  // libzip 1.7.3 turns a NUL of a stored name into a space: the name cannot alias another.
  std::string zip = libzip_archive({{"config.json", "{}"}, {"config.jsonXevil", "x"}});
  const Headers h = headers_of(zip, "config.jsonXevil");
  zip[h.central + 46 + 11] = '\0';
  zip[h.local + 30 + 11] = '\0';
  const ZipReader r = ZipReader::open_memory(zip, "nul.keras");
  EXPECT_EQ(r.members()[1].name, "config.json evil");
  EXPECT_EQ(r.read("config.json", 10), "{}");
}

TEST(ZipReaderRefuses, DuplicateNames) {
  std::string zip = libzip_archive({{"config.json", "{}"}, {"config.jsoN", "{\"evil\": 1}"}});
  const Headers h = headers_of(zip, "config.jsoN");
  zip[h.central + 46 + 10] = 'n';
  zip[h.local + 30 + 10] = 'n';
  const std::string m = open_error(zip);
  EXPECT_NE(m.find("member 'config.json' appears more than once"), std::string::npos) << m;
}

TEST(ZipReaderRefuses, EncryptedMember) {
  // The traditional PKWARE flag (general purpose bit 0), set in both headers.
  {
    std::string zip = libzip_archive({{"config.json", "{}"}, {"model.weights.h5", "secret weights"}});
    const Headers h = headers_of(zip, "model.weights.h5");
    set_both(zip, h, 8, 6, 2, get(zip, h.central + 8, 2) | 1u);
    const std::string m = open_error(zip);
    EXPECT_NE(m.find("member 'model.weights.h5' is encrypted"), std::string::npos) << m;
  }
  // WinZip AES, written by libzip when it has a crypto backend.
  if (zip_encryption_method_supported(ZIP_EM_AES_256, 1) == 0) {
    GTEST_SKIP() << "this libzip cannot write AES-encrypted members";
  }
  const std::string zip = libzip_archive({{"model.weights.h5", "secret weights", false, ZIP_EM_AES_256}});
  const std::string m = open_error(zip);
  EXPECT_NE(m.find("member 'model.weights.h5' is encrypted"), std::string::npos) << m;
}

TEST(ZipReaderRefuses, CompressionMethodOtherThanStoredOrDeflated) {
  std::string zip = libzip_archive({{"model.weights.h5", "weights"}});
  set_both(zip, headers_of(zip, "model.weights.h5"), 10, 8, 2, ZIP_CM_BZIP2);
  const std::string m = open_error(zip);
  EXPECT_NE(m.find("member 'model.weights.h5' uses compression method 12 (bzip2)"), std::string::npos) << m;
}

TEST(ZipReaderRefuses, TruncatedOrNotAZip) {
  const std::string zip = libzip_archive({{"config.json", "{}"}, {"model.weights.h5", std::string(5000, 'w')}});
  for (std::size_t keep : {zip.size() - 1, zip.size() - 30, zip.size() / 2, std::size_t{10}}) {
    const std::string m = open_error(zip.substr(0, keep));
    EXPECT_NE(m.find("'bad.keras'"), std::string::npos) << m;
    EXPECT_NE(m.find("libzip: "), std::string::npos) << m;
  }
  std::string m = open_error("{\"class_name\": \"Sequential\"}");
  EXPECT_NE(m.find("'bad.keras' is not a zip archive"), std::string::npos) << m;
  m = open_error(std::string("\x89HDF\r\n\x1a\n", 8) + std::string(3000, '\0'));
  EXPECT_NE(m.find("'bad.keras' is not a zip archive"), std::string::npos) << m;
  m = open_error("");
  EXPECT_NE(m.find("'bad.keras' is empty"), std::string::npos) << m;
}

TEST(ZipReaderRefuses, StoredMemberWhoseSizesDisagree) {
  std::string zip = libzip_archive({{"config.json", "{\"a\": 1}"}});
  set_uncompressed_size(zip, headers_of(zip, "config.json"), 100);
  const std::string m = open_error(zip);
  EXPECT_NE(m.find("member 'config.json' is stored (uncompressed) but declares 100 bytes and holds 8"),
            std::string::npos)
      << m;
}

TEST(ZipReaderRefuses, LocalHeaderDisagreesWithDirectory) {
  // The local header says another size than the central directory (ZIP_CHECKCONS).
  std::string zip = libzip_archive({{"config.json", "{\"a\": 1}"}, {"metadata.json", "{}"}});
  put(zip, headers_of(zip, "config.json").local + 22, 4, 100);
  std::string m = open_error(zip);
  EXPECT_NE(m.find("'bad.keras' is a damaged zip archive"), std::string::npos) << m;
  // Or another name.
  zip = libzip_archive({{"config.json", "{\"a\": 1}"}, {"metadata.json", "{}"}});
  zip[headers_of(zip, "config.json").local + 30] = 'k';
  m = open_error(zip);
  EXPECT_NE(m.find("'bad.keras' is a damaged zip archive"), std::string::npos) << m;
}

TEST(ZipReaderRefuses, DeflatedDataLongerThanDeclared) {
  const std::string config(5000, 'c');
  std::string zip = libzip_archive({{"config.json", config, true}, {"metadata.json", "{}"}});
  set_uncompressed_size(zip, headers_of(zip, "config.json"), 4999);
  const std::string m = read_error(zip, "config.json");
  EXPECT_NE(m.find("member 'config.json' holds more data than the 4999 bytes"), std::string::npos) << m;
}

TEST(ZipReaderRefuses, DeflatedDataShorterThanDeclared) {
  const std::string config(5000, 'c');
  std::string zip = libzip_archive({{"config.json", config, true}, {"metadata.json", "{}"}});
  set_uncompressed_size(zip, headers_of(zip, "config.json"), 5001);
  const std::string m = read_error(zip, "config.json");
  EXPECT_NE(m.find("member 'config.json'"), std::string::npos) << m;
  EXPECT_NE(m.find("5001"), std::string::npos) << m;
}

TEST(ZipReaderRefuses, CrcMismatch) {
  std::string zip = libzip_archive({{"config.json", "{}"}, {"model.weights.h5", std::string(3000, 'w')}});
  const Headers h = headers_of(zip, "model.weights.h5");
  zip[data_offset(zip, h) + 1234] ^= 0x20;
  const std::string m = read_error(zip, "model.weights.h5");
  EXPECT_NE(m.find("member 'model.weights.h5' fails its CRC-32 check"), std::string::npos) << m;
  // The other member is intact.
  EXPECT_EQ(ZipReader::open_memory(zip, "bad.keras").read("config.json", 10), "{}");
}

TEST(ZipReaderRefuses, DamagedDeflateStream) {
  std::string zip = libzip_archive({{"config.json", std::string(5000, 'c'), true}});
  const Headers h = headers_of(zip, "config.json");
  const std::size_t data = data_offset(zip, h);
  for (std::size_t i = 0; i < get(zip, h.central + 20, 4); ++i) zip[data + i] = static_cast<char>(0xff);
  const std::string m = read_error(zip, "config.json");
  EXPECT_NE(m.find("member 'config.json'"), std::string::npos) << m;
}

// --- Keras 3 loads what ZipWriter writes --------------------------------------------------

// A real Keras 3 `.keras` file and what its model predicts, made once with the interop venv.
constexpr const char* kMakeKeras = R"(import json, os, sys, zipfile
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
keras.utils.set_random_seed(1)
inputs = keras.Input((4,), name="x")
h = keras.layers.Dense(8, activation="relu")(inputs)
model = keras.Model(inputs, keras.layers.Dense(2)(h))
model.compile(optimizer="adam", loss="mse")
model.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=2, verbose=0)
model.save(os.path.join(out, "real.keras"))
x = np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)
np.save(os.path.join(out, "x.npy"), x)
np.save(os.path.join(out, "y.npy"), model.predict(x, verbose=0))
with zipfile.ZipFile(os.path.join(out, "real.keras")) as z:
    for name in ("metadata.json", "config.json", "model.weights.h5"):
        with open(os.path.join(out, name), "wb") as f:
            f.write(z.read(name))
open(os.path.join(out, "done"), "w").write("ok")
)";

constexpr const char* kLoadKeras = R"(import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras
d, path = sys.argv[1], sys.argv[2]
model = keras.saving.load_model(path)
y = model.predict(np.load(os.path.join(d, "x.npy")), verbose=0)
expected = np.load(os.path.join(d, "y.npy"))
assert np.array_equal(y, expected), (y, expected)
assert model.optimizer.iterations.numpy() == 2, model.optimizer.iterations.numpy()
print("KERAS LOADED")
)";

TEST(ZipWriterInterop, Keras3LoadsTheArchive) {
  if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
  const char* home = std::getenv("HOME");
  const fs::path cache = fs::path(home ? home : "/root") / ".cache/strata/fixtures/keras-zip" /
                         std::to_string(std::hash<std::string>{}(kMakeKeras));
  std::string output;
  const int rc = test::generate_cached(
      cache, "done",
      [&](const fs::path& out, std::string& text) {
        fs::create_directories(out);
        write_file(out / "make.py", kMakeKeras);
        return test::run_capturing(
            "'" + test::venv_python().string() + "' '" + (out / "make.py").string() + "' '" + out.string() + "'", text);
      },
      output);
  ASSERT_EQ(rc, 0) << output;
  const std::string metadata = read_file(cache / "metadata.json");
  const std::string config = read_file(cache / "config.json");
  const std::string weights = read_file(cache / "model.weights.h5");
  ZipWriter w("strata.keras");
  w.add("metadata.json", {metadata});
  w.add("config.json", {std::string_view(config).substr(0, 100), std::string_view(config).substr(100)});
  w.add("model.weights.h5", {std::string_view(weights).substr(0, 4096), std::string_view(weights).substr(4096)}, true);
  const fs::path dir = temp_dir();
  write_file(dir / "strata.keras", w.finish());
  write_file(dir / "load.py", kLoadKeras);
  std::string out;
  EXPECT_EQ(test::run_capturing("TF_CPP_MIN_LOG_LEVEL=3 '" + test::venv_python().string() + "' '" +
                                    (dir / "load.py").string() + "' '" + cache.string() + "' '" +
                                    (dir / "strata.keras").string() + "'",
                                out),
            0)
      << out;
  EXPECT_NE(out.find("KERAS LOADED"), std::string::npos) << out;
  // And the real file reads here.
  const ZipReader real = ZipReader::open(cache / "real.keras");
  EXPECT_EQ(real.read("model.weights.h5", 1 << 30), weights);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace strata::keras
