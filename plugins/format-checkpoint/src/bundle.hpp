// Tensor bundles (docs FORMATS.md §3.1-3.5): the .index table of BundleEntryProtos under
// their keys (header under ""), and the data shards PREFIX.data-NNNNN-of-NNNNN holding
// the raw little-endian bytes of every tensor (strings as varint lengths, a masked CRC
// of the lengths, then the bytes).
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "strata/checkpoint.hpp"

namespace strata::ckpt {

inline constexpr const char* kObjectGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH";
// Tensors at least this large are read through a memory map of their shard.
inline constexpr std::uint64_t kMmapThreshold = std::uint64_t{1} << 20;

std::filesystem::path index_path(const std::filesystem::path& prefix);
std::filesystem::path shard_path(const std::filesystem::path& prefix, int shard, int num_shards);

// One entry of the index, checked against its dtype, shape and shard.
struct BundleEntry {
  int tf_dtype = 0;
  DType dtype = DType::kInvalid;
  std::vector<std::int64_t> shape;
  std::int64_t num_elements = 0;
  int shard_id = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t masked_crc = 0;
};

struct BundleHeader {
  int num_shards = 1;
  bool big_endian = false;
};

// Parses and checks an index file's bytes (no shard access): every table checksum, the
// header, every entry. `what` names the file in errors.
struct ParsedIndex {
  BundleHeader header;
  std::map<std::string, BundleEntry, std::less<>> entries;
};
ParsedIndex parse_index(std::string_view index_bytes, std::string_view what);

// Decodes a DT_STRING tensor's bytes (as stored in a shard), verifying the length
// checksum and the entry checksum `masked_crc`.
std::vector<std::string> decode_strings(std::string_view bytes, std::int64_t count, std::uint32_t masked_crc,
                                        std::string_view what);

class BundleReader final : public CheckpointReader {
 public:
  // Reads and checks PREFIX.index; checks that every shard exists and is long enough for
  // the entries it holds.
  explicit BundleReader(std::filesystem::path prefix);
  ~BundleReader() override;

  const std::filesystem::path& prefix() const override { return prefix_; }
  std::vector<std::string> keys() const override;
  bool has_tensor(std::string_view key) const override;
  DType dtype(std::string_view key) const override;
  Shape shape(std::string_view key) const override;
  Tensor get_tensor(std::string_view key, const Device& device) const override;
  std::optional<CheckpointObjectGraph> object_graph() const override;

  const ParsedIndex& index() const noexcept { return index_; }
  // The raw bytes of an entry, checksum verified (strings: by decode_strings).
  std::string read_raw(const BundleEntry& entry, std::string_view key) const;

 private:
  const BundleEntry& entry(std::string_view key) const;
  // Copies the entry's bytes into `dst` (entry.size bytes), verifying the checksum.
  void read_into(const BundleEntry& entry, std::string_view key, void* dst) const;
  int shard_fd(int shard) const;

  std::filesystem::path prefix_;
  ParsedIndex index_;
  std::vector<std::uint64_t> shard_sizes_;
  mutable std::mutex fd_mutex_;
  mutable std::vector<int> fds_;
};

// The bytes of one data shard as pieces written in order (write_file_pieces): views of the
// memory of host tensors (alive as long as the tensors passed to encode_bundle) and buffers
// owned here (device tensors copied to the host, encoded strings). No copy of the model is
// assembled: a save reads each host tensor twice (checksum, write) and copies nothing.
struct ShardPieces {
  std::vector<std::string_view> pieces;
  std::deque<std::string> owned;
  std::uint64_t size = 0;
};

// Serialises `tensors` (and the graph) as a bundle of `num_shards` shards: returns the index
// bytes and each shard's pieces. The values are spread over shards 0..data_shards-1,
// balanced by bytes; shards from `data_shards` on are empty.
struct EncodedBundle {
  std::string index;
  std::vector<ShardPieces> shards;
};
EncodedBundle encode_bundle(const std::vector<std::pair<std::string, Tensor>>& tensors,
                            const std::string* object_graph_bytes, int num_shards, int data_shards);

}  // namespace strata::ckpt
