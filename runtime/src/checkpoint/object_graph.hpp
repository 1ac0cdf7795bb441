// The Strata side of an object-based checkpoint: layers, models, optimizers and variables
// as nodes with named children (tf-keras's names), walked breadth-first the way
// TensorFlow walks its trackable objects.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "strata/checkpoint.hpp"
#include "strata/model.hpp"
#include "strata/optimizer.hpp"

namespace strata::internal {

struct TrackedObject {
  enum class Kind { kRoot, kLayer, kOptimizer, kVariable, kList, kLearningRate };
  Kind kind = Kind::kRoot;
  const Layer* layer = nullptr;         // kLayer
  Optimizer* optimizer = nullptr;       // kOptimizer, kLearningRate
  Variable variable;                    // kVariable, kLearningRate (a float32 scalar made for saving)
  bool optional = false;                // never reported as unset (save counter, learning rate)
  const Model* owner_model = nullptr;   // kOptimizer: a compiled model it belongs to
  std::vector<std::pair<std::string, int>> children;  // local name -> object index
  // The same by name (first one wins): lookups in a model of many layers stay linear.
  std::unordered_map<std::string, int> child_by_name;
  // The child named `name`, or -1.
  int child(const std::string& name) const {
    const auto it = child_by_name.find(name);
    return it == child_by_name.end() ? -1 : it->second;
  }

  bool holds_value() const noexcept { return kind == Kind::kVariable || kind == Kind::kLearningRate; }
};

// All objects reachable from one root.
class ObjectTable {
 public:
  // A root with named pieces (tf.train.Checkpoint(**pieces)): children sorted by name.
  // `save_counter` is added last when defined.
  static ObjectTable for_pieces(const std::vector<std::pair<std::string, Trackable>>& pieces,
                                const Variable& save_counter);
  // `root` itself at the top (Checkpoint(root=obj)); it gets a "root" child pointing to
  // itself, as tf.keras writes, and `save_counter` when defined.
  static ObjectTable for_root(const Trackable& root, const Variable& save_counter,
                              CheckpointSaveType save_type = CheckpointSaveType::kCheckpoint);

  const std::vector<TrackedObject>& objects() const noexcept { return objects_; }
  std::vector<TrackedObject>& objects() noexcept { return objects_; }

  // Breadth-first order from object 0, and each reached object's first path (escaped
  // local names joined by '/'), as TensorFlow assigns node ids and keys.
  struct Walk {
    std::vector<int> order;          // object indices, node id = position
    std::vector<int> node_id;        // per object, -1 when unreachable
    std::vector<std::string> path;   // per object
  };
  Walk walk() const;

 private:
  int add(const Trackable& t, const Model* owner);
  int add_layer(const Layer* layer);
  int add_optimizer(Optimizer* optimizer, const Model* owner);
  int add_variable(const Variable& v, bool optional = false);
  void add_child(int parent, const std::string& name, int child);
  // "a/b/c": list nodes "a" and "b" under `parent`, then `child` as "c".
  void add_path(int parent, const std::string& name, int child);
  void fill_layer(int id);
  void fill_optimizer(int id);

  std::vector<TrackedObject> objects_;
  std::map<const void*, int> by_pointer_;
  std::map<std::uint64_t, int> by_variable_;
  CheckpointSaveType save_type_ = CheckpointSaveType::kCheckpoint;
};

// TensorFlow's escaping of a local name inside a key: "." -> "..", "/" -> ".S".
std::string escape_local_name(const std::string& name);

}  // namespace strata::internal
