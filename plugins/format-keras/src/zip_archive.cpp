// Zip archives on libzip 1.7.3 (Debian 12). What libzip does and what this file adds:
//  - zip_open_from_source with ZIP_CHECKCONS parses the whole central directory (its
//    allocations are bounded by the input's size: a ZIP64 directory may not claim more entries
//    than its size holds), compares every local header with its directory entry and checks
//    that every member's data lies inside the archive; a duplicate name makes it fail with
//    ZIP_ER_EXISTS. Everything ZipLimits says is checked here, on zip_stat_index, before a
//    byte of member data is read.
//  - libzip checks a member's CRC and size only when a read reaches the end of the data
//    (lib/zip_source_crc.c; fixed upstream only in 2026, commit bf51731a), so read() reads
//    the declared size and then asks for one more byte: data longer than declared, a size
//    mismatch or a CRC error is then reported.
//  - Names: libzip 1.7.3 replaces a NUL byte in a stored name by a space when it reads the
//    directory (lib/zip_io_util.c, _zip_read_data), so no name this reader sees can hold a
//    NUL; the check below stays for other libzip versions. ZIP_FL_ENC_STRICT decodes names
//    as the zip specification and Python's zipfile do (UTF-8 when flag bit 11 is set,
//    otherwise CP437).
//  - libzip 1.7.3's fragment buffer source mis-indexes zero-length fragments (fixed upstream
//    in commit ef803491), so the writer drops empty pieces before handing them over.
#include "zip_archive.hpp"

#include <zip.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "strata/error.hpp"

namespace strata::keras {
namespace {

// A zip_error_t that is always finalized.
struct LibzipError {
  zip_error_t error;
  LibzipError() { zip_error_init(&error); }
  ~LibzipError() { zip_error_fini(&error); }
  LibzipError(const LibzipError&) = delete;
  LibzipError& operator=(const LibzipError&) = delete;
  int code() const { return zip_error_code_zip(&error); }
  std::string text() { return zip_error_strerror(&error); }
};

// `name` for a message: control bytes escaped, very long names shortened.
std::string shown(std::string_view name) {
  constexpr std::size_t kShown = 200;
  std::string out;
  for (std::size_t i = 0; i < name.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      constexpr const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > kShown) out += "... (" + std::to_string(name.size()) + " bytes)";
  return out;
}

// Why `name` may not name a member, or "" when it may. The same rules for reading (a
// FormatError) and writing (a ValueError): what Strata writes, it reads.
std::string name_problem(std::string_view name, std::size_t max_bytes) {
  if (name.empty()) return "has an empty name";
  if (name.size() > max_bytes) {
    return "has a name of " + std::to_string(name.size()) +
           " bytes (limit max_name_bytes = " + std::to_string(max_bytes) + ")";
  }
  if (name.find('\0') != std::string_view::npos) return "has a NUL byte in its name";
  if (name[0] == '/' || name[0] == '\\') {
    return "has an absolute name (it starts with a path separator): a path traversal, refused";
  }
  if (name.size() >= 2 && name[1] == ':' && std::isalpha(static_cast<unsigned char>(name[0]))) {
    return "has an absolute name (it starts with a drive letter): a path traversal, refused";
  }
  for (std::size_t begin = 0; begin <= name.size();) {
    std::size_t end = name.find_first_of("/\\", begin);
    if (end == std::string_view::npos) end = name.size();
    if (name.substr(begin, end - begin) == "..") return "has a '..' path component: a path traversal, refused";
    begin = end + 1;
  }
  if (name.find('\\') != std::string_view::npos) {
    return "has a backslash in its name (zip archives separate directories with '/')";
  }
  return {};
}

// Is size > ratio * compressed, without overflow.
bool exceeds_ratio(std::uint64_t size, std::uint64_t compressed, std::uint64_t ratio) {
  if (compressed == 0) return size > 0;
  const std::uint64_t q = size / compressed;
  return q > ratio || (q == ratio && size % compressed != 0);
}

std::string ratio_text(std::uint64_t size, std::uint64_t compressed) {
  if (compressed == 0) return "infinite";
  const auto tenths = static_cast<std::uint64_t>(static_cast<double>(size) / static_cast<double>(compressed) * 10);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10);
}

const char* method_name(std::uint16_t method) {
  switch (method) {
    case ZIP_CM_DEFLATE64:
      return " (deflate64)";
    case ZIP_CM_BZIP2:
      return " (bzip2)";
    case ZIP_CM_LZMA:
      return " (LZMA)";
    case ZIP_CM_XZ:
      return " (xz)";
    case 93:
      return " (zstd)";
    default:
      return "";
  }
}

std::string encryption_name(std::uint16_t method) {
  switch (method) {
    case ZIP_EM_TRAD_PKWARE:
      return "traditional PKWARE encryption";
    case ZIP_EM_AES_128:
    case ZIP_EM_AES_192:
    case ZIP_EM_AES_256:
      return "WinZip AES encryption";
    default:
      return "encryption method " + std::to_string(method);
  }
}

using SourceFactory = std::function<zip_source_t*(zip_error_t*)>;

// The archive read-only, or null with `error` set.
zip_t* open_archive(const SourceFactory& make, int flags, zip_error_t* error) {
  zip_source_t* source = make(error);
  if (source == nullptr) return nullptr;
  zip_t* archive = zip_open_from_source(source, flags, error);
  if (archive == nullptr) zip_source_free(source);  // not taken over on failure
  return archive;
}

// ZIP_CHECKCONS refused the archive for a duplicate name (ZIP_ER_EXISTS) without saying
// which: open it again without the check to name it.
[[noreturn]] void throw_duplicate(const SourceFactory& make, const std::string& label) {
  LibzipError e;
  zip_t* archive = open_archive(make, ZIP_RDONLY, &e.error);
  std::string duplicate;
  if (archive != nullptr) {
    std::set<std::string> seen;
    const zip_int64_t n = zip_get_num_entries(archive, 0);
    for (zip_int64_t i = 0; i < n && duplicate.empty(); ++i) {
      const char* name = zip_get_name(archive, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
      if (name != nullptr && !seen.insert(name).second) duplicate = name;
    }
    zip_discard(archive);
  }
  STRATA_CHECK(duplicate.empty(), FormatError, "'", label, "': member '", shown(duplicate),
               "' appears more than once in the archive (duplicate names are refused: which copy a "
               "reader takes is ambiguous)");
  STRATA_THROW(FormatError, "'", label, "' has two members with the same name (libzip: File already exists)");
}

[[noreturn]] void throw_open_error(LibzipError& e, const std::string& label) {
  const int code = e.code();
  if ((code == ZIP_ER_OPEN || code == ZIP_ER_READ) && zip_error_system_type(&e.error) == ZIP_ET_SYS) {
    STRATA_THROW(IOError, "cannot read '", label, "' (libzip: ", e.text(), ")");
  }
  const char* what = code == ZIP_ER_NOZIP       ? "is not a zip archive (no end-of-central-directory record: "
                                                  "another kind of file, or a truncated archive)"
                     : code == ZIP_ER_INCONS    ? "is a damaged zip archive (its central directory, local "
                                                  "headers and size disagree)"
                     : code == ZIP_ER_MULTIDISK ? "is a multi-disk (split) zip archive, which is not supported"
                                                : "is not a readable zip archive";
  STRATA_THROW(FormatError, "'", label, "' ", what, "; a Keras 3 `.keras` file is a zip archive (libzip: ", e.text(),
               ")");
}

}  // namespace

struct ZipReader::State {
  zip_t* archive = nullptr;
  std::string label;
  std::vector<ZipMember> members;  // members[i] is libzip's entry i
  std::map<std::string, std::size_t, std::less<>> index;
  ~State() {
    if (archive != nullptr) zip_discard(archive);  // read-only: nothing to write back
  }
};

struct ZipReader::Source {
  SourceFactory make;
};

ZipReader ZipReader::open_source(const Source& source, std::string label, const ZipLimits& limits) {
  const SourceFactory& make = source.make;
  auto state = std::make_unique<State>();
  state->label = std::move(label);
  const std::string& where = state->label;
  {
    LibzipError e;
    state->archive = open_archive(make, ZIP_RDONLY | ZIP_CHECKCONS, &e.error);
    if (state->archive == nullptr) {
      if (e.code() == ZIP_ER_EXISTS) throw_duplicate(make, where);
      throw_open_error(e, where);
    }
  }
  const zip_int64_t count = zip_get_num_entries(state->archive, 0);
  STRATA_CHECK(count >= 0, FormatError, "'", where, "': cannot count the archive's members");
  STRATA_CHECK(static_cast<std::uint64_t>(count) <= limits.max_members, FormatError, "'", where, "' has ", count,
               " members (limit max_members = ", limits.max_members, "); a Keras archive has a few");
  std::uint64_t total = 0, deflated = 0, deflated_compressed = 0;
  state->members.reserve(static_cast<std::size_t>(count));
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    STRATA_CHECK(zip_stat_index(state->archive, i, ZIP_FL_ENC_STRICT, &st) == 0 && st.name != nullptr, FormatError, "'",
                 where, "': cannot read the directory entry of member ", i, " (libzip: ", zip_strerror(state->archive),
                 ")");
    ZipMember m{st.name, st.size, st.comp_size, st.comp_method};
    const std::string name = shown(m.name);
    const std::string problem = name_problem(m.name, limits.max_name_bytes);
    STRATA_CHECK(problem.empty(), FormatError, "'", where, "': member '", name, "' ", problem);
    STRATA_CHECK(state->index.emplace(m.name, state->members.size()).second, FormatError, "'", where, "': member '",
                 name,
                 "' appears more than once in the archive (duplicate names are refused: which copy a reader "
                 "takes is ambiguous)");
    STRATA_CHECK(st.encryption_method == ZIP_EM_NONE, FormatError, "'", where, "': member '", name, "' is encrypted (",
                 encryption_name(st.encryption_method), "); Keras archives are never encrypted");
    STRATA_CHECK(m.method == ZIP_CM_STORE || m.method == ZIP_CM_DEFLATE, FormatError, "'", where, "': member '", name,
                 "' uses compression method ", m.method, method_name(m.method),
                 "; only stored (0, what Keras writes) and deflated (8) members are read");
    STRATA_CHECK(m.method != ZIP_CM_STORE || m.compressed_size == m.size, FormatError, "'", where, "': member '", name,
                 "' is stored (uncompressed) but declares ", m.size, " bytes and holds ", m.compressed_size);
    STRATA_CHECK(m.size <= limits.max_member_bytes, FormatError, "'", where, "': member '", name, "' declares ", m.size,
                 " uncompressed bytes (limit max_member_bytes = ", limits.max_member_bytes, ")");
    STRATA_CHECK(m.method != ZIP_CM_DEFLATE || m.size <= limits.ratio_floor_bytes ||
                     !exceeds_ratio(m.size, m.compressed_size, limits.max_ratio),
                 FormatError, "'", where, "': member '", name, "' declares ", m.size, " bytes from ", m.compressed_size,
                 " compressed (ratio ", ratio_text(m.size, m.compressed_size), "; limit max_ratio = ", limits.max_ratio,
                 " for members over ratio_floor_bytes = ", limits.ratio_floor_bytes,
                 "): a zip bomb, refused (Keras writes stored members, and real data does not compress so far)");
    STRATA_CHECK(m.size <= limits.max_total_bytes - std::min(total, limits.max_total_bytes), FormatError, "'", where,
                 "': member '", name, "' brings the declared uncompressed total past ", limits.max_total_bytes,
                 " bytes (limit max_total_bytes; ", total, " before it, ", m.size, " in it)");
    total += m.size;
    if (m.method == ZIP_CM_DEFLATE) {
      // The same ratio over all deflated members so far: many members each under the floor
      // are one bomb together.
      deflated += m.size;
      deflated_compressed += m.compressed_size;
      STRATA_CHECK(
          deflated <= limits.ratio_floor_bytes || !exceeds_ratio(deflated, deflated_compressed, limits.max_ratio),
          FormatError, "'", where, "': member '", name, "' brings the deflated members to ", deflated, " bytes from ",
          deflated_compressed, " compressed (ratio ", ratio_text(deflated, deflated_compressed),
          "; limit max_ratio = ", limits.max_ratio, " over ratio_floor_bytes = ", limits.ratio_floor_bytes,
          "): a zip bomb split into members, refused");
    }
    state->members.push_back(std::move(m));
  }
  return ZipReader(std::move(state));
}

ZipReader::ZipReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
ZipReader::ZipReader(ZipReader&&) noexcept = default;
ZipReader& ZipReader::operator=(ZipReader&&) noexcept = default;
ZipReader::~ZipReader() = default;

ZipReader ZipReader::open(const std::filesystem::path& path, const ZipLimits& limits) {
  std::error_code ec;
  STRATA_CHECK(std::filesystem::exists(path, ec), IOError, "'", path.string(), "' does not exist");
  STRATA_CHECK(!std::filesystem::is_directory(path, ec), IOError, "'", path.string(),
               "' is a directory, not a zip archive");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  STRATA_CHECK(!ec, IOError, "cannot read '", path.string(), "': ", ec.message());
  STRATA_CHECK(size > 0, FormatError, "'", path.string(), "' is empty (0 bytes): not a zip archive");
  const std::string file = path.string();
  return open_source({[&](zip_error_t* error) { return zip_source_file_create(file.c_str(), 0, 0, error); }}, file,
                     limits);
}

ZipReader ZipReader::open_memory(std::string_view bytes, std::string label, const ZipLimits& limits) {
  STRATA_CHECK(!bytes.empty(), FormatError, "'", label, "' is empty (0 bytes): not a zip archive");
  return open_source(
      {[&](zip_error_t* error) { return zip_source_buffer_create(bytes.data(), bytes.size(), 0, error); }},
      std::move(label), limits);
}

const std::string& ZipReader::label() const noexcept {
  return state_->label;
}

const std::vector<ZipMember>& ZipReader::members() const noexcept {
  return state_->members;
}

const ZipMember* ZipReader::find(std::string_view name) const noexcept {
  const auto it = state_->index.find(name);
  return it == state_->index.end() ? nullptr : &state_->members[it->second];
}

std::string ZipReader::read(std::string_view name, std::uint64_t max_bytes) const {
  const std::string& where = state_->label;
  const auto it = state_->index.find(name);
  STRATA_CHECK(it != state_->index.end(), FormatError, "'", where, "' has no member '", shown(name), "'");
  const ZipMember& m = state_->members[it->second];
  STRATA_CHECK(m.size <= max_bytes, FormatError, "'", where, "': member '", shown(name), "' declares ", m.size,
               " bytes, more than the ", max_bytes, " read here");
  zip_file_t* file = zip_fopen_index(state_->archive, it->second, 0);
  STRATA_CHECK(file != nullptr, FormatError, "'", where, "': member '", shown(name),
               "' cannot be opened (libzip: ", zip_strerror(state_->archive), ")");
  const std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> closer(file, zip_fclose);
  auto failure = [&](const char* what) {
    return detail::concat("'", where, "': member '", shown(name), "' ", what,
                          " (libzip: ", zip_error_strerror(zip_file_get_error(file)), ")");
  };
  std::string data(static_cast<std::size_t>(m.size), '\0');  // the declared size, never more
  std::uint64_t got = 0;
  while (got < m.size) {
    const zip_int64_t n = zip_fread(file, data.data() + got, m.size - got);
    if (n < 0) {
      const int code = zip_error_code_zip(zip_file_get_error(file));
      STRATA_THROW(FormatError,
                   failure(code == ZIP_ER_CRC      ? "fails its CRC-32 check: the archive is damaged"
                           : code == ZIP_ER_INCONS ? "has data of another size than its directory entry declares"
                                                   : "cannot be read: the archive is damaged"));
    }
    STRATA_CHECK(n > 0, FormatError, "'", where, "': member '", shown(name), "' holds ", got, " bytes, fewer than the ",
                 m.size, " its directory entry declares");
    got += static_cast<std::uint64_t>(n);
  }
  // One more byte: libzip checks the CRC and the size only at the end of the data.
  char extra;
  const zip_int64_t n = zip_fread(file, &extra, 1);
  STRATA_CHECK(n <= 0, FormatError, "'", where, "': member '", shown(name), "' holds more data than the ", m.size,
               " bytes its directory entry declares");
  if (n < 0) {
    const int code = zip_error_code_zip(zip_file_get_error(file));
    STRATA_THROW(FormatError, failure(code == ZIP_ER_CRC      ? "fails its CRC-32 check: the archive is damaged"
                                      : code == ZIP_ER_INCONS ? "has data of another size than its directory entry "
                                                                "declares"
                                                              : "cannot be read: the archive is damaged"));
  }
  return data;
}

struct ZipWriter::State {
  std::string label;
  zip_t* archive = nullptr;
  zip_source_t* out = nullptr;  // the archive's bytes: one reference of ours, kept past zip_close
  std::size_t members = 0;
  ~State() {
    if (archive != nullptr) zip_discard(archive);
    if (out != nullptr) zip_source_free(out);
  }
};

ZipWriter::ZipWriter(std::string label) : state_(std::make_unique<State>()) {
  state_->label = std::move(label);
  LibzipError e;
  zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &e.error);
  STRATA_CHECK(out != nullptr, IOError, "cannot start the zip archive '", state_->label,
               "' in memory (libzip: ", e.text(), ")");
  state_->archive = zip_open_from_source(out, ZIP_TRUNCATE, &e.error);
  if (state_->archive == nullptr) {
    zip_source_free(out);
    STRATA_THROW(IOError, "cannot start the zip archive '", state_->label, "' in memory (libzip: ", e.text(), ")");
  }
  zip_source_keep(out);
  state_->out = out;
}

ZipWriter::ZipWriter(ZipWriter&&) noexcept = default;
ZipWriter& ZipWriter::operator=(ZipWriter&&) noexcept = default;
ZipWriter::~ZipWriter() = default;

void ZipWriter::add(std::string name, std::vector<std::string_view> pieces, bool dos_time_now) {
  STRATA_CHECK(state_ != nullptr && state_->archive != nullptr, ValueError, "ZipWriter::add after finish() (archive '",
               state_ ? state_->label : std::string(), "')");
  State& s = *state_;
  const std::string problem = name_problem(name, ZipLimits{}.max_name_bytes);
  STRATA_CHECK(problem.empty(), ValueError, "cannot add member '", shown(name), "' to '", s.label, "': it ", problem);
  std::vector<zip_buffer_fragment_t> fragments;
  fragments.reserve(pieces.size());
  for (std::string_view piece : pieces) {
    // libzip only reads the fragments (freep 0: borrowed, never freed or written).
    if (!piece.empty())
      fragments.push_back({reinterpret_cast<zip_uint8_t*>(const_cast<char*>(piece.data())), piece.size()});
  }
  LibzipError e;
  zip_source_t* source =
      zip_source_buffer_fragment_create(fragments.empty() ? nullptr : fragments.data(), fragments.size(), 0, &e.error);
  STRATA_CHECK(source != nullptr, IOError, "cannot add member '", shown(name), "' to '", s.label,
               "' (libzip: ", e.text(), ")");
  const zip_int64_t index = zip_file_add(s.archive, name.c_str(), source, ZIP_FL_ENC_UTF_8);
  if (index < 0) {
    zip_source_free(source);
    const bool duplicate = zip_error_code_zip(zip_get_error(s.archive)) == ZIP_ER_EXISTS;
    STRATA_CHECK(!duplicate, ValueError, "cannot add member '", shown(name), "' to '", s.label,
                 "': the archive has a member of that name already");
    STRATA_THROW(IOError, "cannot add member '", shown(name), "' to '", s.label, "' (libzip: ", zip_strerror(s.archive),
                 ")");
  }
  const auto i = static_cast<zip_uint64_t>(index);
  // As Python's zipfile writes Keras's members: stored, Unix permissions 0600; the members
  // Keras writes from memory carry 1980-01-01 00:00 local time (ZipInfo's default), the
  // weights the time of the save (libzip's default for a buffer source: its creation).
  bool ok = zip_set_file_compression(s.archive, i, ZIP_CM_STORE, 0) == 0 &&
            zip_file_set_external_attributes(s.archive, i, 0, ZIP_OPSYS_UNIX, std::uint32_t{0600} << 16) == 0;
  if (ok && !dos_time_now) {
    std::tm dos_epoch{};
    dos_epoch.tm_year = 80;
    dos_epoch.tm_mday = 1;
    dos_epoch.tm_isdst = -1;
    ok = zip_file_set_mtime(s.archive, i, std::mktime(&dos_epoch), 0) == 0;
  }
  STRATA_CHECK(ok, IOError, "cannot set up member '", shown(name), "' of '", s.label,
               "' (libzip: ", zip_strerror(s.archive), ")");
  ++s.members;
}

std::string ZipWriter::finish() {
  STRATA_CHECK(state_ != nullptr && state_->archive != nullptr, ValueError, "ZipWriter::finish called twice");
  State& s = *state_;
  if (s.members == 0) {
    // libzip writes nothing for an archive without members; Python's zipfile writes the
    // end-of-central-directory record alone.
    zip_discard(s.archive);
    s.archive = nullptr;
    return std::string("PK\x05\x06", 4) + std::string(18, '\0');
  }
  if (zip_close(s.archive) != 0) {
    const std::string why = zip_strerror(s.archive);
    zip_discard(s.archive);
    s.archive = nullptr;
    STRATA_THROW(IOError, "cannot write the zip archive '", s.label, "' (libzip: ", why, ")");
  }
  s.archive = nullptr;
  zip_stat_t st;
  zip_stat_init(&st);
  STRATA_CHECK(zip_source_stat(s.out, &st) == 0 && (st.valid & ZIP_STAT_SIZE) != 0 && zip_source_open(s.out) == 0,
               IOError, "cannot read back the zip archive '", s.label,
               "' (libzip: ", zip_error_strerror(zip_source_error(s.out)), ")");
  std::string bytes(static_cast<std::size_t>(st.size), '\0');
  const zip_int64_t n = zip_source_read(s.out, bytes.data(), bytes.size());
  zip_source_close(s.out);
  STRATA_CHECK(n == static_cast<zip_int64_t>(bytes.size()), IOError, "cannot read back the zip archive '", s.label,
               "' (", n, " of ", bytes.size(), " bytes)");
  zip_source_free(s.out);
  s.out = nullptr;
  return bytes;
}

}  // namespace strata::keras
