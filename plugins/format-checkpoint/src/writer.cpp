#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <set>
#include <thread>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "bundle.hpp"
#include "format_checkpoint.hpp"
#include "object_graph.hpp"
#include "strata/checkpoint.hpp"
#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/plugin/file_text.hpp"
#include "strata/plugin/temp_files.hpp"
#include "strata/tf/checkpoint_state.pb.h"
#include "table.hpp"

namespace fs = std::filesystem;

namespace strata::ckpt {
namespace {

constexpr std::size_t kMaxStateBytes = std::size_t{16} << 20;

fs::path directory_of(const fs::path& prefix) { return prefix.has_parent_path() ? prefix.parent_path() : fs::path("."); }

// Data shard files of `prefix` other than those of a `num_shards` layout.
std::vector<fs::path> stale_shards(const fs::path& prefix, int num_shards) {
  std::vector<fs::path> out;
  const std::string stem = prefix.filename().string() + ".data-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory_of(prefix), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(stem, 0) != 0) continue;
    const std::string rest = name.substr(stem.size());  // "00000-of-00001"
    if (rest.size() != 14 || rest.compare(5, 4, "-of-") != 0) continue;
    if (rest.substr(9) == shard_path("", 0, num_shards).string().substr(15)) continue;
    out.push_back(entry.path());
  }
  return out;
}

}  // namespace

std::string state_to_text(const CheckpointState& state) {
  tf::CheckpointState proto;
  proto.set_model_checkpoint_path(state.model_checkpoint_path);
  for (const auto& p : state.all_model_checkpoint_paths) proto.add_all_model_checkpoint_paths(p);
  for (const double t : state.all_model_checkpoint_timestamps) proto.add_all_model_checkpoint_timestamps(t);
  if (state.last_preserved_timestamp) proto.set_last_preserved_timestamp(*state.last_preserved_timestamp);
  std::string text;
  google::protobuf::TextFormat::PrintToString(proto, &text);
  return text;
}

namespace {
// Keeps protobuf's parse errors for our message instead of letting it log them.
class CollectErrors final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first.empty()) first = detail::concat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  void AddWarning(int, int, const std::string&) override {}
  std::string first;
};
}  // namespace

CheckpointState state_from_text(const std::string& text, std::string_view what) {
  tf::CheckpointState proto;
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors;
  parser.RecordErrorsTo(&errors);
  STRATA_CHECK(parser.ParseFromString(text, &proto), FormatError, what, " is not a valid CheckpointState text file (",
               file_text(errors.first), ")");
  CheckpointState state;
  state.model_checkpoint_path = proto.model_checkpoint_path();
  state.all_model_checkpoint_paths.assign(proto.all_model_checkpoint_paths().begin(), proto.all_model_checkpoint_paths().end());
  state.all_model_checkpoint_timestamps.assign(proto.all_model_checkpoint_timestamps().begin(),
                                               proto.all_model_checkpoint_timestamps().end());
  if (proto.last_preserved_timestamp() != 0) state.last_preserved_timestamp = proto.last_preserved_timestamp();
  return state;
}

namespace {

// The number of data shards a save of `tensors` writes in parallel.
int data_shards_for(const std::vector<std::pair<std::string, Tensor>>& tensors, const BundleWriteOptions& options) {
  std::uint64_t bytes = 0;
  int values = 0;
  for (const auto& [key, t] : tensors) {
    if (!t.defined() || t.is_symbolic() || t.dtype() == DType::kString || t.nbytes() == 0) continue;
    bytes += t.nbytes();
    ++values;
  }
  if (bytes < options.parallel_from_bytes) return 1;
  const int cores = options.cores > 0 ? options.cores : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, std::min({options.max_data_shards, cores, values}));
}

// The shard count the index at `prefix` names, or 0 when there is none (or it is unreadable:
// then no old checkpoint can be broken by reusing its file names).
int current_num_shards(const fs::path& prefix) {
  std::error_code ec;
  const fs::path index = index_path(prefix);
  if (!fs::is_regular_file(index, ec)) return 0;
  try {
    return parse_index(read_file(index, std::size_t{1} << 30), index.string()).header.num_shards;
  } catch (const Error&) {
    return 0;
  }
}

}  // namespace

void write_bundle(const fs::path& prefix, const CheckpointContents& contents, const BundleWriteOptions& options) {
  const fs::path dir = directory_of(prefix);
  std::error_code ec;
  STRATA_CHECK(fs::is_directory(dir, ec), IOError, "cannot save the checkpoint '", prefix.string(), "': directory '",
               dir.string(), "' does not exist");
  const fs::path index = index_path(prefix);
  STRATA_CHECK(contents.overwrite || !fs::exists(index, ec), IOError, "'", index.string(),
               "' already exists and overwrite is false");
  // Large checkpoints spread their values over data shards written in parallel: on Linux a
  // buffered write is bound by the copy into the page cache, one core per file.
  const int data_shards = data_shards_for(contents.tensors, options);
  // Overwriting a prefix must leave the old checkpoint loadable until the new index is in
  // place, but shard names are fixed by the format. So when the old index uses the layout
  // this save would use, this save takes one more (empty) shard: the new shards never
  // replace the files the old index refers to, and the stale ones are removed after the
  // commit.
  const int num_shards = current_num_shards(prefix) == data_shards ? data_shards + 1 : data_shards;
  const std::string graph_bytes = contents.object_graph ? serialize_object_graph(*contents.object_graph) : std::string();
  const EncodedBundle bundle =
      encode_bundle(contents.tensors, contents.object_graph ? &graph_bytes : nullptr, num_shards, data_shards);

  // Temporaries of earlier saves to this prefix (its shards and index) whose process died
  // before the commit point.
  remove_abandoned_temporaries(dir, prefix.filename().string());
  FileSystem& files = file_system();
  const std::string suffix = temporary_suffix();
  std::vector<fs::path> temps, placed;
  const fs::path index_temp(index.string() + suffix);
  try {
    for (int s = 0; s < num_shards; ++s) temps.emplace_back(shard_path(prefix, s, num_shards).string() + suffix);
    // Data shards 1.. on helper threads, shard 0 and the empty ones on this one.
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(num_shards));
    const auto write_shard = [&](int s) {
      try {
        write_file_pieces(temps[static_cast<std::size_t>(s)], bundle.shards[static_cast<std::size_t>(s)].pieces);
      } catch (...) {
        errors[static_cast<std::size_t>(s)] = std::current_exception();
      }
    };
    {
      std::vector<std::jthread> helpers;
      for (int s = 1; s < data_shards; ++s) helpers.emplace_back(write_shard, s);
      write_shard(0);
      for (int s = data_shards; s < num_shards; ++s) write_shard(s);
    }
    for (const auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
    temps.push_back(index_temp);
    files.write_file(index_temp, bundle.index);
    for (int s = 0; s < num_shards; ++s) {
      const fs::path final_name = shard_path(prefix, s, num_shards);
      files.rename(temps[static_cast<std::size_t>(s)], final_name);
      placed.push_back(final_name);
    }
    files.rename(index_temp, index);  // the commit point
  } catch (...) {
    for (const auto& p : temps) fs::remove(p, ec);
    // Placed shards have names the previous index (if any) does not use: remove them too.
    for (const auto& p : placed) fs::remove(p, ec);
    throw;
  }
  files.sync_directory(dir);
  for (const auto& p : stale_shards(prefix, num_shards)) {
    try {
      files.remove_all(p);
    } catch (const Error& e) {
      log_warning("could not remove the stale data shard '", p.string(), "': ", e.message());
    }
  }
  if (contents.state) write_file_atomically(dir / "checkpoint", state_to_text(*contents.state));
}

bool read_state(const fs::path& directory, CheckpointState& state) {
  const fs::path file = directory / "checkpoint";
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return false;
  state = state_from_text(read_file(file, kMaxStateBytes), detail::concat("the checkpoint state file '", file.string(), "'"));
  return true;
}

}  // namespace strata::ckpt
