// Zip archives for the Keras 3 `.keras` format, on libzip (Debian's libzip-dev), private to
// format-keras. Reading treats the archive as untrusted: before a member is read its name,
// declared sizes, compression method and ratio are checked against ZipLimits, so a zip bomb,
// a path-traversal name or an absurd member count is a FormatError naming the archive and
// the member, never an allocation or a write outside the archive. Writing makes the archive
// Keras writes: stored (uncompressed) members, in the order they are added.
//
// Thread safety: a ZipReader or ZipWriter is used by one thread at a time; different
// objects are independent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace strata::keras {

// What a reader accepts (untrusted input). Default: the values below (FORMATS.md §1.11 says
// why). Sizes are the ones the central directory declares; a stored member's declared size is
// backed by bytes of the archive (libzip checks that its data lies inside the file), so the
// byte limits bound what a deflated member can make a reader allocate, and the ratio refuses a
// deflated member that claims to expand far more than real data does.
struct ZipLimits {
  std::uint64_t max_members = 100000;                       // entries in the central directory
  std::uint64_t max_total_bytes = std::uint64_t{64} << 30;  // sum of uncompressed sizes
  std::uint64_t max_member_bytes = std::uint64_t{32} << 30; // one uncompressed member
  // A deflated member declaring more than `ratio_floor_bytes` may not declare more than
  // max_ratio times its compressed size (Keras 3.15's own guard uses 100).
  std::uint64_t max_ratio = 100;
  std::uint64_t ratio_floor_bytes = std::uint64_t{1} << 20;
  std::size_t max_name_bytes = 4096;                         // one member name
};

struct ZipMember {
  std::string name;                 // as stored ("assets/vocab.txt"); directories end in '/'
  std::uint64_t size = 0;           // uncompressed, as declared
  std::uint64_t compressed_size = 0;
  std::uint16_t method = 0;         // 0 stored, 8 deflated
  bool is_directory() const noexcept { return !name.empty() && name.back() == '/'; }
};

class ZipReader {
 public:
  // Opens `path` (IOError when it cannot be read, FormatError naming it when it is no zip
  // archive or breaks a limit: every member is checked here, before anything is read).
  static ZipReader open(const std::filesystem::path& path, const ZipLimits& limits = {});
  // The same for bytes in memory (`bytes` must outlive the reader); `label` names it in
  // messages (fuzzers, tests).
  static ZipReader open_memory(std::string_view bytes, std::string label, const ZipLimits& limits = {});

  ZipReader(ZipReader&&) noexcept;
  ZipReader& operator=(ZipReader&&) noexcept;
  ~ZipReader();

  const std::string& label() const noexcept;
  const std::vector<ZipMember>& members() const noexcept;
  // The member named `name`, or null.
  const ZipMember* find(std::string_view name) const noexcept;
  // The whole member, decompressed and CRC-checked. FormatError naming the archive and the
  // member when it is missing, larger than `max_bytes`, or its data does not match what the
  // directory declares (size, CRC); the read never allocates more than the declared size.
  std::string read(std::string_view name, std::uint64_t max_bytes) const;

 private:
  struct State;
  struct Source;  // how to make libzip's source of the bytes (zip_archive.cpp)
  static ZipReader open_source(const Source& source, std::string label, const ZipLimits& limits);
  explicit ZipReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Builds an archive of stored members in memory.
class ZipWriter {
 public:
  explicit ZipWriter(std::string label);
  ZipWriter(ZipWriter&&) noexcept;
  ZipWriter& operator=(ZipWriter&&) noexcept;
  ~ZipWriter();
  // Adds a stored member made of `pieces` (borrowed: they must stay alive until finish()).
  // `dos_time_now`: the member carries the current time (Keras does this for the weights);
  // otherwise 1980-01-01 00:00 (what Python's ZipFile.writestr gives in-memory members).
  void add(std::string name, std::vector<std::string_view> pieces, bool dos_time_now = false);
  // The archive's bytes. The writer cannot be used afterwards.
  std::string finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace strata::keras
