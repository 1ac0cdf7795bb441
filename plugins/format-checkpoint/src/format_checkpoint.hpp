// The pieces of the "checkpoint" store that tests and fuzzers use without loading the
// plugin: writing a bundle with its commit points, the state file, `strata info` text.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "strata/checkpoint.hpp"
#include "strata/plugin/checkpoint_store.hpp"

namespace strata::ckpt {

// Writes PREFIX.index and its data shards through strata::file_system() with
// DESIGN.md §6's commit points, then the state file when contents.state is set.
// How a save spreads its bytes over data shards written in parallel (one thread each): a
// checkpoint of at least `parallel_from_bytes` uses min(max_data_shards, cores, values)
// data shards, a smaller one a single shard. `cores` 0 means the machine's.
struct BundleWriteOptions {
  std::uint64_t parallel_from_bytes = std::uint64_t{64} << 20;
  int max_data_shards = 4;
  int cores = 0;
};
// Writes PREFIX.index and its data shards atomically (the index rename is the commit point)
// and, when `contents.state` is set, the `checkpoint` state file after it.
void write_bundle(const std::filesystem::path& prefix, const CheckpointContents& contents,
                  const BundleWriteOptions& options = {});
// DIRECTORY/checkpoint: false when absent, FormatError when unparsable.
bool read_state(const std::filesystem::path& directory, CheckpointState& state);
// CheckpointState as protobuf text format, and back.
std::string state_to_text(const CheckpointState& state);
CheckpointState state_from_text(const std::string& text, std::string_view what);
// The `strata info` description of a checkpoint: keys with dtype and shape, the graph.
std::string describe_bundle(const std::filesystem::path& prefix);

// The "checkpoint" store (checkpoint_store.cpp) that plugin.cpp registers.
std::shared_ptr<CheckpointStore> make_store();

}  // namespace strata::ckpt
