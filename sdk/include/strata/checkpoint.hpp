// Object-based checkpoints, as TensorFlow's tf.train.Checkpoint and Keras's TF-format
// save_weights write them: a tensor bundle (PREFIX.index + PREFIX.data-NNNNN-of-NNNNN)
// whose keys are object paths ("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"),
// plus the serialized object graph under "_CHECKPOINTABLE_OBJECT_GRAPH", plus the
// `checkpoint` state file naming the latest checkpoint of a directory.
//
// Every layer, model, optimizer and variable is a node with named children, following
// tf-keras's names:
//  - Sequential/Functional models: for each layer of model.layers, "layer_with_weights-K"
//    (K counts only layers with weights) and "layer-I"; then "optimizer" when compiled;
//  - other layers and subclassed models: their tracked children under the name given to
//    Layer::track ("dense_layers/0" becomes a list node "dense_layers" with child "0"),
//    then their own weights under their add_weight names; then "optimizer" (models);
//  - optimizers (tf-keras 2.11+): "_variables" (a list of iteration + slots, in
//    Optimizer::variables() order), "_iterations", "_learning_rate".
// The graph is walked breadth-first from the root, so a variable reachable by several
// paths is keyed by the first, exactly as TensorFlow keys it. Restoring walks the graph
// stored in the file (never guessing key strings) and also understands legacy
// OptimizerV2 checkpoints (slot variables as `.OPTIMIZER_SLOT` references).
//
// The bytes are written and read by the "checkpoint" format (plugin format-checkpoint);
// these functions throw ValueError naming that plugin when it is not loaded.
//
// Thread safety: a Checkpoint or CheckpointManager belongs to one thread (saving reads
// the variables, restoring assigns them: the same rules as training). A CheckpointReader
// may be read from many threads at once.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "strata/format.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata {

class Layer;
class Optimizer;

// The object graph a checkpoint stores (TensorFlow's TrackableObjectGraph) as plain data.
// Node 0 is the root.
struct CheckpointObjectGraph {
  struct Child {
    int node_id = 0;
    std::string local_name;
  };
  struct Attribute {
    std::string name;            // "VARIABLE_VALUE"
    std::string full_name;       // the variable's own name ("dense/kernel"), informative
    std::string checkpoint_key;  // the bundle key of the value
  };
  // A legacy optimizer slot: lives on the optimizer's node.
  struct SlotVariable {
    int original_variable_node_id = 0;
    std::string slot_name;  // "m", "v", "momentum", ...
    int slot_variable_node_id = 0;
  };
  struct Node {
    std::vector<Child> children;
    std::vector<Attribute> attributes;
    std::vector<SlotVariable> slot_variables;
    // Whether the node or anything below it holds values (absent in old files).
    std::optional<bool> has_checkpoint_values;
  };
  std::vector<Node> nodes;
};

// The `checkpoint` text file of a directory (TensorFlow's CheckpointState). Paths are
// as stored: relative to the directory (what Strata and TensorFlow write) or absolute.
struct CheckpointState {
  std::string model_checkpoint_path;
  std::vector<std::string> all_model_checkpoint_paths;  // oldest first
  std::vector<double> all_model_checkpoint_timestamps;  // Unix time, CheckpointManager only
  std::optional<double> last_preserved_timestamp;
};

// What a checkpoint store writes in one save (see CheckpointStore::write in
// strata/plugin/checkpoint_store.hpp).
struct CheckpointContents {
  // Bundle key -> value, in the order the data shard holds them.
  std::vector<std::pair<std::string, Tensor>> tensors;
  // Stored under "_CHECKPOINTABLE_OBJECT_GRAPH" (last in the data shard) when set.
  const CheckpointObjectGraph* object_graph = nullptr;
  // Rewritten in the prefix's directory after the index is committed, when set.
  std::optional<CheckpointState> state;
  bool overwrite = true;  // false: an existing PREFIX.index is an IOError
};

// What Checkpoint::write_with_graph stored, kept in memory: the object graph and each
// value's dtype and shape by bundle key. A writer that embeds a checkpoint (the SavedModel's
// variables/) mirrors the graph from it instead of reading back the files it just wrote.
struct WrittenCheckpoint {
  struct Value {
    DType dtype = DType::kFloat32;
    Shape shape;
  };
  std::filesystem::path prefix;
  CheckpointObjectGraph object_graph;
  std::map<std::string, Value, std::less<>> values;
};

// Reads one checkpoint (tf.train.load_checkpoint). Opening checks the whole index (every
// checksum, every entry against its dtype, shape and shard); values are read and their
// checksums verified when asked for.
class CheckpointReader {
 public:
  virtual ~CheckpointReader();
  // The prefix read ("dir/ckpt-3").
  virtual const std::filesystem::path& prefix() const = 0;
  // Every key except the header's, sorted bytewise (the object graph's key included).
  virtual std::vector<std::string> keys() const = 0;
  virtual bool has_tensor(std::string_view key) const = 0;
  // ValueError naming the key when there is no such entry.
  virtual DType dtype(std::string_view key) const = 0;
  virtual Shape shape(std::string_view key) const = 0;
  // The value (host memory for strings). FormatError naming the file when the bytes do
  // not match their checksum or the data shard is short; ValueError for a missing key.
  virtual Tensor get_tensor(std::string_view key, const Device& device = Device::cpu()) const = 0;
  // The stored object graph, checked (node ids in range, no cycles other than edges back
  // to the root, which tf.keras writes); nullopt for a name-based checkpoint without one.
  virtual std::optional<CheckpointObjectGraph> object_graph() const = 0;

  // get_variable_to_dtype_map / get_variable_to_shape_map.
  std::map<std::string, DType> variable_to_dtype_map() const;
  std::map<std::string, Shape> variable_to_shape_map() const;
};

// Opens `path`: a checkpoint prefix, or a directory (its latest checkpoint).
// FormatError / IOError naming the file when it cannot be read.
std::shared_ptr<CheckpointReader> load_checkpoint(const std::filesystem::path& path);

// The latest checkpoint recorded in `directory`'s `checkpoint` file, when that file
// exists and the checkpoint's index does; nullopt otherwise (tf.train.latest_checkpoint).
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& directory);

// The state file of `directory`, nullopt when there is none. FormatError when it cannot
// be parsed.
std::optional<CheckpointState> read_checkpoint_state(const std::filesystem::path& directory);

// One piece of a checkpoint: a layer or model, an optimizer, or a variable.
class Trackable {
 public:
  template <class T>
    requires std::is_base_of_v<Layer, std::remove_const_t<T>>
  Trackable(std::shared_ptr<T> layer)  // NOLINT(google-explicit-constructor): {"layer", layer}
      : value_(std::shared_ptr<const Layer>(std::move(layer))) {}
  template <class T>
    requires std::is_base_of_v<Optimizer, T>
  Trackable(std::shared_ptr<T> optimizer)  // NOLINT(google-explicit-constructor)
      : value_(std::shared_ptr<Optimizer>(std::move(optimizer))) {}
  Trackable(Variable variable) : value_(std::move(variable)) {}  // NOLINT(google-explicit-constructor)

  using Value = std::variant<std::shared_ptr<const Layer>, std::shared_ptr<Optimizer>, Variable>;
  const Value& value() const noexcept { return value_; }

 private:
  Value value_;
};

// What the objects are written for (TensorFlow's SaveType). A SavedModel's variables/ holds
// what tf-keras serializes only into SavedModels: each StateVariablesLayer's states, as
// "<layer>/keras_api/states/<i>" (strata/stateful.hpp). Checkpoints (and save_weights) do
// not hold them, as in tf-keras. Since plugin ABI 2.2.
enum class CheckpointSaveType { kCheckpoint, kSavedModel };

// tf.train.Checkpoint: named pieces saved and restored together.
//
//   strata::Checkpoint ckpt({{"layer", layer}, {"kernel", var}, {"optimizer", opt}});
//   auto path = ckpt.save("dir/ckpt");          // "dir/ckpt-1", and dir/checkpoint
//   ckpt.restore(path).assert_consumed();
//
// Copies share the pieces and the save counter.
class Checkpoint {
 public:
  // Named pieces; names are the top-level keys ("layer/var/.ATTRIBUTES/VARIABLE_VALUE").
  // ValueError for an empty, duplicate or reserved ("save_counter") name, or a null piece.
  explicit Checkpoint(std::vector<std::pair<std::string, Trackable>> pieces);
  // TensorFlow's Checkpoint(root=obj): `root` itself is the top of the graph, so keys
  // start with its children ("layer_with_weights-0/..."). What Model::save_weights writes.
  static Checkpoint with_root(Trackable root);
  // The same for `save_type`: kSavedModel also writes and restores the layers' states
  // (what the SavedModel format's variables/ holds). Since plugin ABI 2.2.
  static Checkpoint with_root(Trackable root, CheckpointSaveType save_type);

  // Increments the save counter N and writes PREFIX-N (with "save_counter" among the
  // keys), then rewrites the directory's `checkpoint` file to name it. Returns PREFIX-N.
  // The previous checkpoints stay loadable if this fails at any point.
  std::filesystem::path save(const std::filesystem::path& prefix);
  // Writes exactly PREFIX (no counter increment, no state file). Returns PREFIX.
  std::filesystem::path write(const std::filesystem::path& prefix, bool overwrite = true);
  // write(), returning the object graph and the values' dtypes and shapes it stored (one
  // walk of the objects; nothing is read back from the files).
  WrittenCheckpoint write_with_graph(const std::filesystem::path& prefix, bool overwrite = true);
  // Restores every piece from the checkpoint at `path` (a prefix, or a directory: its
  // latest checkpoint), matching objects through the graph stored in the file. Values
  // of layers that are not built yet cannot be applied and are reported as unused.
  // A compiled model's optimizer without slots is built for the model's trainable
  // weights first when the checkpoint holds slot values.
  // Throws FormatError/IOError for unreadable files, ShapeError/ValueError when a value's
  // shape or dtype differs from its variable's, ValueError when nothing at all matched.
  // Otherwise returns the status: assert_consumed(), assert_existing_objects_matched(),
  // expect_partial() (an incomplete status that is never checked warns when destroyed).
  LoadStatus restore(const std::filesystem::path& path);

  // The number of save() calls so far (restored from checkpoints that have one).
  std::int64_t save_counter() const;

 private:
  struct Impl;
  explicit Checkpoint(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
  friend class CheckpointManager;
};

// tf.train.CheckpointManager: numbered checkpoints DIRECTORY/NAME-N, keeping the newest
// `max_to_keep` (all when nullopt), recorded with timestamps in DIRECTORY/checkpoint.
class CheckpointManager {
 public:
  // Creates `directory` when needed and picks up the checkpoints its state file lists.
  CheckpointManager(Checkpoint checkpoint, std::filesystem::path directory, std::optional<int> max_to_keep,
                    std::string checkpoint_name = "ckpt");
  // Saves DIRECTORY/NAME-N (N = the checkpoint's incremented save counter, or
  // `checkpoint_number`), records it, then deletes checkpoints beyond max_to_keep.
  std::filesystem::path save(std::optional<std::int64_t> checkpoint_number = std::nullopt);
  std::optional<std::filesystem::path> latest_checkpoint() const;
  // Kept checkpoints, oldest first.
  const std::vector<std::filesystem::path>& checkpoints() const noexcept { return checkpoints_; }
  const std::filesystem::path& directory() const noexcept { return directory_; }

 private:
  Checkpoint checkpoint_;
  std::filesystem::path directory_;
  std::optional<int> max_to_keep_;
  std::string checkpoint_name_;
  std::vector<std::filesystem::path> checkpoints_;
  std::vector<double> timestamps_;
  double last_preserved_timestamp_ = 0;
};

// Removes the files of the checkpoint at `prefix` (its index and data shards).
void remove_checkpoint(const std::filesystem::path& prefix);

}  // namespace strata

STRATA_API_END
