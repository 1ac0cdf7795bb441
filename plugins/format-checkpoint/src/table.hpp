// The .index file of a tensor bundle: a LevelDB-format sorted string table (docs
// FORMATS.md §3.2), written and read by hand. Layout: data blocks, an empty metaindex
// block, the index block, each followed by a 5-byte trailer (compression type, masked
// CRC-32C of contents + type), then a 48-byte footer (two block handles, padding, magic).
// Blocks hold prefix-compressed entries with restart points every `restart_interval`
// entries (16 in data blocks, 1 in the index block).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::ckpt {

inline constexpr std::uint64_t kTableMagic = 0xdb4775248b80fb57ull;
inline constexpr std::size_t kFooterSize = 48;
inline constexpr std::size_t kBlockTrailerSize = 5;
inline constexpr unsigned char kNoCompression = 0;
inline constexpr unsigned char kSnappyCompression = 1;

// ---- little helpers (also used by the bundle code) -------------------------------------

void put_varint64(std::string& out, std::uint64_t v);
void put_fixed32(std::string& out, std::uint32_t v);
void put_fixed64(std::string& out, std::uint64_t v);
// Reads a varint from the front of `in` and advances it; false when truncated or longer
// than the type allows.
bool get_varint64(std::string_view& in, std::uint64_t& v) noexcept;
bool get_varint32(std::string_view& in, std::uint32_t& v) noexcept;
std::uint32_t decode_fixed32(const char* p) noexcept;
std::uint64_t decode_fixed64(const char* p) noexcept;

// LevelDB's bytewise-comparator key shortening: a key k with start <= k < limit that is
// as short as possible, and a short key >= `key`.
std::string shortest_separator(std::string start, std::string_view limit);
std::string short_successor(std::string key);

struct BlockHandle {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;  // without the trailer
};

// Builds one block.
class BlockBuilder {
 public:
  explicit BlockBuilder(int restart_interval);
  // REQUIRES: key sorts after the previous one (the table builder checks).
  void add(std::string_view key, std::string_view value);
  // The finished block contents (entries, restart array, count); the builder is reset.
  std::string finish();
  std::size_t size_estimate() const noexcept;
  bool empty() const noexcept { return buffer_.empty(); }

 private:
  int interval_;
  std::string buffer_;
  std::vector<std::uint32_t> restarts_{0};
  int counter_ = 0;
  std::string last_key_;
};

struct TableOptions {
  std::size_t block_size = 262144;  // TensorFlow's 256 KiB (LevelDB's default is 4 KiB)
  int restart_interval = 16;
};

// Builds a whole table in memory from keys added in strictly increasing bytewise order.
// Blocks are written uncompressed (as TensorFlow does).
class TableBuilder {
 public:
  explicit TableBuilder(TableOptions options = {});
  // ValueError when `key` does not sort strictly after the previous key.
  void add(std::string_view key, std::string_view value);
  // The file's bytes. The builder must not be used afterwards.
  std::string finish();

 private:
  BlockHandle write_block(BlockBuilder& block);
  void flush();

  TableOptions options_;
  std::string file_;
  BlockBuilder data_;
  BlockBuilder index_{1};
  std::string last_key_;
  bool has_entries_ = false;
  bool pending_index_entry_ = false;
  BlockHandle pending_handle_;
};

// True when `file` ends with the table magic number (and is long enough for a footer).
bool has_table_magic(std::string_view file) noexcept;

// Every entry of the table whose bytes are `file`, in key order. Verifies the footer
// magic, every block handle against the file, every block checksum, the compression
// type (none or Snappy), the restart arrays, entry bounds and strictly increasing keys.
// Corrupt input is a FormatError naming `what` and the problem; nothing is allocated
// beyond what the file's size bounds.
std::vector<std::pair<std::string, std::string>> read_table(std::string_view file, std::string_view what);

}  // namespace strata::ckpt
