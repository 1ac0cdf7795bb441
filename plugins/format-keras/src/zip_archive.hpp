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

// What a reader accepts (untrusted input); the defaults are the values below. Sizes are the
// ones the central directory declares. A stored member's declared size is backed by bytes of
// the archive (libzip checks that its data lies inside the file, and the reader that a stored
// member's two sizes agree), so the byte limits bound what deflated members can make a reader
// allocate, and the ratio refuses a deflated member that claims to expand far more than real
// data does (deflate's own maximum is about 1032:1).
struct ZipLimits {
  // A Keras archive has metadata.json, config.json, the weights and a few assets; libzip has
  // parsed the directory before this is checked (its memory is bounded by the input's size).
  std::uint64_t max_members = 100000;
  // Sum of uncompressed sizes, and one member: above the largest single-file Keras models
  // (Keras 3 shards bigger weights into `.weights.json` + shards), below what a machine that
  // is not meant to load them could allocate by mistake.
  std::uint64_t max_total_bytes = std::uint64_t{64} << 30;
  std::uint64_t max_member_bytes = std::uint64_t{32} << 30;
  // A deflated member declaring more than `ratio_floor_bytes` may not declare more than
  // `max_ratio` times its compressed size, nor may all deflated members together: Keras
  // 3.15's own guard
  // (saving_lib._ZIP_MEMBER_MAX_EXPANSION = 100), with a floor of 1 MiB instead of Keras's
  // 256 MiB / 4 GiB, since a reader here reads members into memory (a smaller member costs
  // at most 1 MiB however well it compresses).
  std::uint64_t max_ratio = 100;
  std::uint64_t ratio_floor_bytes = std::uint64_t{1} << 20;
  // One member name: Linux's PATH_MAX.
  std::size_t max_name_bytes = 4096;
};

struct ZipMember {
  // As stored ("assets/vocab.txt"; directories end in '/'), in UTF-8, decoded as the zip
  // specification and Python's zipfile decode it (UTF-8 when the entry's flag bit 11 says
  // so, CP437 otherwise).
  std::string name;
  std::uint64_t size = 0;  // uncompressed, as declared
  std::uint64_t compressed_size = 0;
  std::uint16_t method = 0;  // 0 stored, 8 deflated
  bool is_directory() const noexcept { return !name.empty() && name.back() == '/'; }
};

class ZipReader {
 public:
  // Opens `path` (IOError when it cannot be read, FormatError naming it when it is no zip
  // archive, is damaged or breaks a limit: every member is checked here, before any member
  // data is read). The reader keeps the file open until it is destroyed.
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

// Builds an archive of stored members in memory, as Python's zipfile writes Keras's: in the
// order they are added, Unix permissions 0600, no extra fields, ZIP64 records only where
// sizes, offsets or the member count need them (libzip's choice). Memory: at finish() the
// pieces, libzip's copy of the archive and the returned string exist at once.
class ZipWriter {
 public:
  explicit ZipWriter(std::string label);
  ZipWriter(ZipWriter&&) noexcept;
  ZipWriter& operator=(ZipWriter&&) noexcept;
  ~ZipWriter();
  // Adds a stored member made of `pieces` (borrowed, never copied here: they must stay alive
  // until finish()). `dos_time_now`: the member carries the current local time (Keras's
  // weights member: ZipFile.writestr); otherwise 1980-01-01 00:00 (its metadata.json and
  // config.json: ZipFile.open(name, "w") leaves ZipInfo's default). ValueError for a name the
  // reader would refuse or one added before.
  void add(std::string name, std::vector<std::string_view> pieces, bool dos_time_now = false);
  // The archive's bytes (IOError when libzip fails). The writer cannot be used afterwards.
  std::string finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace strata::keras
