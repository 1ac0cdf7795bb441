// tf.train.Checkpoint, CheckpointManager, load_checkpoint and latest_checkpoint on top of
// the loaded checkpoint store's bundle reader/writer (checkpoint/store.hpp).
#include "strata/checkpoint.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <set>
#include <unordered_map>

#include "checkpoint/object_graph.hpp"
#include "checkpoint/store.hpp"
#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/optimizer.hpp"
#include "strata/plugin/file_shaped_weights.hpp"
#include "strata/plugin/file_system.hpp"

namespace fs = std::filesystem;

namespace strata {

// ---- reader helpers ------------------------------------------------------------------------------

CheckpointReader::~CheckpointReader() = default;

std::map<std::string, DType> CheckpointReader::variable_to_dtype_map() const {
  std::map<std::string, DType> out;
  for (const auto& k : keys()) out.emplace(k, dtype(k));
  return out;
}

std::map<std::string, Shape> CheckpointReader::variable_to_shape_map() const {
  std::map<std::string, Shape> out;
  for (const auto& k : keys()) out.emplace(k, shape(k));
  return out;
}

namespace {

constexpr const char* kObjectGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH";
constexpr const char* kValueAttribute = "VARIABLE_VALUE";

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

fs::path directory_of(const fs::path& prefix) { return prefix.has_parent_path() ? prefix.parent_path() : fs::path("."); }

fs::path resolve_in(const fs::path& directory, const std::string& stored) {
  const fs::path p(stored);
  return p.is_absolute() ? p : directory / p;
}

}  // namespace

std::optional<CheckpointState> read_checkpoint_state(const fs::path& directory) {
  CheckpointState state;
  if (!internal::checkpoint_store()->read_state(directory, state)) return std::nullopt;
  return state;
}

std::optional<fs::path> latest_checkpoint(const fs::path& directory) {
  const auto state = read_checkpoint_state(directory);
  if (!state || state->model_checkpoint_path.empty()) return std::nullopt;
  const fs::path prefix = resolve_in(directory, state->model_checkpoint_path);
  std::error_code ec;
  if (!fs::exists(fs::path(prefix.string() + ".index"), ec)) return std::nullopt;
  return prefix;
}

namespace {

fs::path resolve_prefix(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec) && !fs::exists(fs::path(path.string() + ".index"), ec)) {
    auto latest = latest_checkpoint(path);
    STRATA_CHECK(latest.has_value(), IOError, "directory '", path.string(),
                 "' has no `checkpoint` file naming an existing checkpoint");
    return *latest;
  }
  return path;
}

}  // namespace

std::shared_ptr<CheckpointReader> load_checkpoint(const fs::path& path) {
  auto store = internal::checkpoint_store();
  const fs::path prefix = resolve_prefix(path);
  auto frame = ErrorContext::push("reading the checkpoint '", prefix.string(), "'");
  return store->open(prefix);
}

void remove_checkpoint(const fs::path& prefix) {
  FileSystem& files = file_system();
  const fs::path index(prefix.string() + ".index");
  std::error_code ec;
  if (fs::exists(index, ec)) files.remove_all(index);  // first: a half-removed checkpoint is never found
  const std::string stem = prefix.filename().string() + ".data-";
  const fs::path dir = directory_of(prefix);
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(stem, 0) == 0 && name.find("-of-", stem.size()) != std::string::npos) files.remove_all(entry.path());
  }
}

// ---- Checkpoint ------------------------------------------------------------------------------------

struct Checkpoint::Impl {
  std::vector<std::pair<std::string, Trackable>> pieces;
  std::optional<Trackable> root;
  CheckpointSaveType save_type = CheckpointSaveType::kCheckpoint;
  Variable save_counter;  // defined once save() was used or a restored checkpoint had one

  internal::ObjectTable table(bool with_counter) const {
    const Variable counter = with_counter ? save_counter : Variable();
    return root ? internal::ObjectTable::for_root(*root, counter, save_type) : internal::ObjectTable::for_pieces(pieces, counter);
  }

  void ensure_counter() {
    if (!save_counter.defined()) save_counter = Variable("save_counter", Tensor::scalar<std::int64_t>(0), false);
  }

  fs::path write(const fs::path& prefix, bool overwrite, std::optional<CheckpointState> state,
                 WrittenCheckpoint* written = nullptr) const;
  // dry_run: every check, nothing assigned or built (whether the checkpoint fits).
  LoadStatus restore(const fs::path& prefix, bool dry_run = false);
};

Checkpoint::Checkpoint(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Checkpoint::Checkpoint(std::vector<std::pair<std::string, Trackable>> pieces) : impl_(std::make_shared<Impl>()) {
  std::set<std::string> names;
  for (const auto& entry : pieces) {
    const std::string& name = entry.first;  // not a structured binding: lambdas capture it (clang 14)
    const Trackable& piece = entry.second;
    STRATA_CHECK(!name.empty(), ValueError, "checkpoint pieces need non-empty names");
    STRATA_CHECK(name != "save_counter", ValueError, "'save_counter' is reserved for the checkpoint's own counter");
    STRATA_CHECK(names.insert(name).second, ValueError, "checkpoint piece '", name, "' is given twice");
    std::visit([&](const auto& v) {
      using T = std::decay_t<decltype(v)>;
      if constexpr (std::is_same_v<T, Variable>) {
        STRATA_CHECK(v.defined(), ValueError, "checkpoint piece '", name, "' is an undefined variable");
      } else {
        STRATA_CHECK(v != nullptr, ValueError, "checkpoint piece '", name, "' is null");
      }
    }, piece.value());
  }
  impl_->pieces = std::move(pieces);
}

Checkpoint Checkpoint::with_root(Trackable root) { return with_root(std::move(root), CheckpointSaveType::kCheckpoint); }

Checkpoint Checkpoint::with_root(Trackable root, CheckpointSaveType save_type) {
  auto impl = std::make_shared<Impl>();
  std::visit([&](const auto& v) {
    using T = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<T, Variable>) {
      STRATA_CHECK(v.defined(), ValueError, "the checkpoint root is an undefined variable");
    } else {
      STRATA_CHECK(v != nullptr, ValueError, "the checkpoint root is null");
    }
  }, root.value());
  impl->root = std::move(root);
  impl->save_type = save_type;
  return Checkpoint(std::move(impl));
}

std::int64_t Checkpoint::save_counter() const {
  return impl_->save_counter.defined() ? impl_->save_counter.value().to(Device::cpu()).item<std::int64_t>() : 0;
}

namespace {

// The object graph and the values of one save.
struct Snapshot {
  CheckpointObjectGraph graph;
  std::vector<std::pair<std::string, Tensor>> tensors;
};

Snapshot snapshot(const internal::ObjectTable& table) {
  using Kind = internal::TrackedObject::Kind;
  const auto& objects = table.objects();
  const auto walk = table.walk();
  Snapshot s;
  s.graph.nodes.resize(walk.order.size());
  for (std::size_t n = 0; n < walk.order.size(); ++n) {
    const auto& o = objects[static_cast<std::size_t>(walk.order[n])];
    auto& node = s.graph.nodes[n];
    for (const auto& [name, child] : o.children) node.children.push_back({walk.node_id[static_cast<std::size_t>(child)], name});
    if (o.holds_value()) {
      const std::string& path = walk.path[static_cast<std::size_t>(walk.order[n])];
      const std::string key = path + "/.ATTRIBUTES/" + kValueAttribute;
      const std::string full_name = o.kind == Kind::kLearningRate ? std::string("learning_rate") : o.variable.name();
      node.attributes.push_back({kValueAttribute, full_name, key});
      s.tensors.emplace_back(key, o.variable.value());
    }
  }
  // has_checkpoint_values: the node or anything below it holds a value.
  std::vector<std::vector<int>> parents(s.graph.nodes.size());
  for (std::size_t n = 0; n < s.graph.nodes.size(); ++n) {
    for (const auto& c : s.graph.nodes[n].children) parents[static_cast<std::size_t>(c.node_id)].push_back(static_cast<int>(n));
  }
  std::vector<bool> has(s.graph.nodes.size(), false);
  std::deque<int> queue;
  for (std::size_t n = 0; n < s.graph.nodes.size(); ++n) {
    if (!s.graph.nodes[n].attributes.empty()) {
      has[n] = true;
      queue.push_back(static_cast<int>(n));
    }
  }
  while (!queue.empty()) {
    const int n = queue.front();
    queue.pop_front();
    for (const int p : parents[static_cast<std::size_t>(n)]) {
      if (!has[static_cast<std::size_t>(p)]) {
        has[static_cast<std::size_t>(p)] = true;
        queue.push_back(p);
      }
    }
  }
  for (std::size_t n = 0; n < s.graph.nodes.size(); ++n) s.graph.nodes[n].has_checkpoint_values = has[n];
  return s;
}

}  // namespace

fs::path Checkpoint::Impl::write(const fs::path& prefix, bool overwrite, std::optional<CheckpointState> state,
                                 WrittenCheckpoint* written) const {
  auto store = internal::checkpoint_store();
  auto frame = ErrorContext::push("writing the checkpoint '", prefix.string(), "'");
  Snapshot s = snapshot(table(save_counter.defined()));
  CheckpointContents contents;
  contents.tensors = s.tensors;
  contents.object_graph = &s.graph;
  contents.state = std::move(state);
  contents.overwrite = overwrite;
  store->write(prefix, contents);
  if (written != nullptr) {
    written->prefix = prefix;
    for (const auto& [key, value] : s.tensors) written->values.emplace(key, WrittenCheckpoint::Value{value.dtype(), value.shape()});
    written->object_graph = std::move(s.graph);
  }
  return prefix;
}

fs::path Checkpoint::write(const fs::path& prefix, bool overwrite) {
  return impl_->write(prefix, overwrite, std::nullopt, nullptr);
}

WrittenCheckpoint Checkpoint::write_with_graph(const fs::path& prefix, bool overwrite) {
  WrittenCheckpoint written;
  impl_->write(prefix, overwrite, std::nullopt, &written);
  return written;
}

fs::path Checkpoint::save(const fs::path& prefix) {
  impl_->ensure_counter();
  Variable counter = impl_->save_counter;
  const Tensor before = counter.value();
  const std::int64_t n = before.to(Device::cpu()).item<std::int64_t>() + 1;
  counter.assign(Tensor::scalar<std::int64_t>(n));
  const fs::path path(detail::concat(prefix.string(), "-", n));
  CheckpointState state;
  state.model_checkpoint_path = path.filename().string();
  state.all_model_checkpoint_paths = {state.model_checkpoint_path};
  try {
    impl_->write(path, true, std::move(state));
  } catch (...) {
    counter.assign(before);
    throw;
  }
  return path;
}

// ---- restoring ---------------------------------------------------------------------------------------

namespace {

using internal::ObjectTable;
using internal::TrackedObject;
using Kind = TrackedObject::Kind;

// Legacy (OptimizerV2) names of a tf-keras 2.11+ optimizer's children and slots.
const char* legacy_child_alias(const std::string& name) {
  if (name == "iter") return "_iterations";
  if (name == "learning_rate") return "_learning_rate";
  return nullptr;
}

bool slot_name_matches(const std::string& strata_slot, const std::string& stored) {
  if (strata_slot == stored) return true;
  static const std::pair<const char*, const char*> kAliases[] = {
      {"m", "momentum"},          // SGD
      {"velocity", "rms"},        // RMSprop
      {"average_gradient", "mg"},  // RMSprop (centered)
      {"accumulated_grad", "accum_grad"},
      {"accumulated_delta_var", "accum_var"},
      {"u", "v"},  // Adamax
  };
  for (const auto& [now, legacy] : kAliases) {
    if (strata_slot == now && stored == legacy) return true;
  }
  return false;
}

int find_child(const ObjectTable& table, int obj, const std::string& name) {
  const auto& o = table.objects()[static_cast<std::size_t>(obj)];
  if (const int c = o.child(name); c >= 0) return c;
  if (o.kind == Kind::kOptimizer) {
    if (const char* alias = legacy_child_alias(name)) return find_child(table, obj, alias);
  }
  return -1;
}

// Checkpoint node -> Strata object, walking both graphs from their roots.
std::vector<int> match(const CheckpointObjectGraph& graph, const ObjectTable& table) {
  std::vector<int> matched(graph.nodes.size(), -1);
  std::vector<bool> object_taken(table.objects().size(), false);
  matched[0] = 0;
  object_taken[0] = true;
  std::deque<int> queue{0};
  while (!queue.empty()) {
    const int node = queue.front();
    queue.pop_front();
    const int obj = matched[static_cast<std::size_t>(node)];
    for (const auto& child : graph.nodes[static_cast<std::size_t>(node)].children) {
      const auto c = static_cast<std::size_t>(child.node_id);
      if (matched[c] >= 0) continue;
      const int target = find_child(table, obj, child.local_name);
      if (target < 0 || object_taken[static_cast<std::size_t>(target)]) continue;
      matched[c] = target;
      object_taken[static_cast<std::size_t>(target)] = true;
      queue.push_back(child.node_id);
    }
  }
  return matched;
}

const CheckpointObjectGraph::Attribute* value_attribute(const CheckpointObjectGraph::Node& node) {
  for (const auto& a : node.attributes) {
    if (a.name == kValueAttribute) return &a;
  }
  return node.attributes.size() == 1 ? &node.attributes.front() : nullptr;
}

bool has_slot_values(const CheckpointObjectGraph& graph, int node) {
  const auto& n = graph.nodes[static_cast<std::size_t>(node)];
  if (!n.slot_variables.empty()) return true;
  for (const auto& c : n.children) {
    if (c.local_name == "_variables") return graph.nodes[static_cast<std::size_t>(c.node_id)].children.size() > 1;
  }
  return false;
}

// The variables whose slots an optimizer node's "_variables" list holds, in the list's
// order, found by the slots' own names ("Adam/m/norm/gamma" is a slot of the model's
// "norm/gamma"; tf-keras and Strata name slots "<optimizer>/<slot>/<variable>"). Empty
// when the node has no such list or a name matches no weight of `model`. The optimizer
// is built over the variables trainable when it first stepped, which need not be the
// ones trainable now: a layer frozen after training (without a new compile) keeps its
// slots, in tf-keras as in Strata.
std::vector<Variable> slot_owners(const CheckpointObjectGraph& graph, int node, const Model& model) {
  const auto& n = graph.nodes[static_cast<std::size_t>(node)];
  const CheckpointObjectGraph::Node* list = nullptr;
  for (const auto& c : n.children) {
    if (c.local_name == "_variables") list = &graph.nodes[static_cast<std::size_t>(c.node_id)];
  }
  if (list == nullptr) return {};
  std::vector<std::pair<long, int>> items;  // (index in the list, node)
  for (const auto& c : list->children) {
    char* end = nullptr;
    const long i = std::strtol(c.local_name.c_str(), &end, 10);
    if (c.local_name.empty() || *end != '\0') return {};
    items.emplace_back(i, c.node_id);
  }
  std::sort(items.begin(), items.end());
  const auto weights = model.weights();
  std::set<std::string> seen;
  for (const auto& w : weights) {
    if (!seen.insert(w.name()).second) return {};  // names do not tell the weights apart
  }
  std::vector<Variable> out;
  for (const auto& [index, id] : items) {
    if (index == 0) continue;  // the iteration counter
    const auto* attr = value_attribute(graph.nodes[static_cast<std::size_t>(id)]);
    if (attr == nullptr) return {};
    std::string name = attr->full_name.substr(0, attr->full_name.find(':'));
    const auto first = name.find('/');
    const auto second = first == std::string::npos ? std::string::npos : name.find('/', first + 1);
    if (second == std::string::npos) return {};
    name = name.substr(second + 1);
    const auto w = std::find_if(weights.begin(), weights.end(), [&](const Variable& v) { return v.name() == name; });
    if (w == weights.end()) return {};
    if (std::find(out.begin(), out.end(), *w) == out.end()) out.push_back(*w);
  }
  return out;
}

std::string describe_object(const ObjectTable::Walk& walk, const TrackedObject& o, int index) {
  const std::string& path = walk.path[static_cast<std::size_t>(index)];
  std::string name = path.empty() ? std::string("(root)") : path;
  if (o.kind == Kind::kVariable && o.variable.name() != path) name += " (" + o.variable.name() + ")";
  return name;
}

}  // namespace

LoadStatus Checkpoint::Impl::restore(const fs::path& prefix, bool dry_run) {
  auto reader = internal::checkpoint_store()->open(prefix);
  auto frame = ErrorContext::push("restoring the checkpoint '", prefix.string(), "'");
  const auto graph_opt = reader->object_graph();
  STRATA_CHECK(graph_opt.has_value(), FormatError, "checkpoint '", prefix.string(),
               "' has no object graph (_CHECKPOINTABLE_OBJECT_GRAPH): it is a name-based (TF1 Saver) checkpoint, "
               "which Strata does not restore");
  const CheckpointObjectGraph& graph = *graph_opt;

  // The checkpoint may carry a save counter: restore it into ours.
  bool ckpt_has_counter = false;
  for (const auto& c : graph.nodes[0].children) ckpt_has_counter |= c.local_name == "save_counter";
  if (ckpt_has_counter) ensure_counter();

  ObjectTable table = this->table(save_counter.defined());
  std::vector<int> matched = match(graph, table);
  // A compiled model's optimizer without slots: build them so the stored slots can land.
  bool built = false;
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    if (matched[n] < 0) continue;
    const auto& o = table.objects()[static_cast<std::size_t>(matched[n])];
    if (!dry_run && o.kind == Kind::kOptimizer && o.owner_model != nullptr && o.optimizer->slots().empty() &&
        has_slot_values(graph, static_cast<int>(n))) {
      const auto owners = slot_owners(graph, static_cast<int>(n), *o.owner_model);
      o.optimizer->build(owners.empty() ? o.owner_model->trainable_weights() : owners);
      built = true;
    }
  }
  if (built) {
    table = this->table(save_counter.defined());
    matched = match(graph, table);
  }
  const auto walk = table.walk();

  // Values to assign: (object index, value). Everything is read and checked before any
  // variable changes, so a shape error leaves the objects as they were.
  std::vector<std::pair<int, Tensor>> assignments;
  std::set<std::string> consumed;
  std::vector<bool> restored(table.objects().size(), false);
  auto take = [&](int obj, const std::string& key) {
    const auto& o = table.objects()[static_cast<std::size_t>(obj)];
    STRATA_CHECK(reader->has_tensor(key), FormatError, "checkpoint '", prefix.string(), "' names the value '", key,
                 "' in its object graph but has no such tensor");
    const Shape shape = reader->shape(key);
    const DType dtype = reader->dtype(key);
    const std::string what = describe_object(walk, o, obj);
    if (o.kind == Kind::kLearningRate) {
      STRATA_CHECK(shape.rank() == 0 && is_floating(dtype), ValueError, "checkpoint value '", key,
                   "' (a learning rate) should be a float scalar, found ", dtype_name(dtype), shape.to_string());
    } else {
      STRATA_CHECK(accepts_shape(o.variable, shape), ShapeError, "checkpoint value '", key, "' has shape ",
                   shape.to_string(), " but the variable ", what, " has shape ", o.variable.shape().to_string());
      STRATA_CHECK(dtype == o.variable.dtype(), ValueError, "checkpoint value '", key, "' is ", dtype_name(dtype),
                   " but the variable ", what, " is ", dtype_name(o.variable.dtype()));
    }
    assignments.emplace_back(obj, reader->get_tensor(key, o.kind == Kind::kLearningRate ? Device::cpu() : o.variable.device()));
    consumed.insert(key);
    restored[static_cast<std::size_t>(obj)] = true;
  };
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    const int obj = matched[n];
    if (obj < 0) continue;
    const auto& o = table.objects()[static_cast<std::size_t>(obj)];
    if (!o.holds_value()) continue;
    if (const auto* attr = value_attribute(graph.nodes[n])) take(obj, attr->checkpoint_key);
  }
  // Legacy optimizer slots: references on the optimizer's node to (variable, slot name).
  // The table's variable objects by variable (each variable is one object).
  std::unordered_map<std::uint64_t, std::size_t> object_of_variable;
  for (std::size_t i = 0; i < table.objects().size(); ++i) {
    const auto& so = table.objects()[i];
    if (so.kind == Kind::kVariable) object_of_variable.emplace(so.variable.id(), i);
  }
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    const int obj = matched[n];
    if (obj < 0 || graph.nodes[n].slot_variables.empty()) continue;
    const auto& o = table.objects()[static_cast<std::size_t>(obj)];
    if (o.kind != Kind::kOptimizer) continue;
    for (const auto& ref : graph.nodes[n].slot_variables) {
      const int original = matched[static_cast<std::size_t>(ref.original_variable_node_id)];
      if (original < 0) continue;
      const auto& ov = table.objects()[static_cast<std::size_t>(original)];
      if (ov.kind != Kind::kVariable) continue;
      for (const auto& slot : o.optimizer->slots()) {
        if (!(slot.variable == ov.variable) || !slot_name_matches(slot.name, ref.slot_name)) continue;
        const auto* attr = value_attribute(graph.nodes[static_cast<std::size_t>(ref.slot_variable_node_id)]);
        if (attr == nullptr) break;
        // The slot variable is an object of the table (a child of "_variables").
        const auto so = slot.slot.defined() ? object_of_variable.find(slot.slot.id()) : object_of_variable.end();
        if (so != object_of_variable.end() && !restored[so->second]) {
          take(static_cast<int>(so->second), attr->checkpoint_key);
        }
        break;
      }
    }
  }

  std::vector<std::string> unused;
  std::set<std::string> referenced;
  for (const auto& node : graph.nodes) {
    for (const auto& a : node.attributes) {
      referenced.insert(a.checkpoint_key);
      if (!consumed.count(a.checkpoint_key) && a.checkpoint_key != kObjectGraphKey) unused.push_back(a.checkpoint_key);
    }
  }
  for (const auto& k : reader->keys()) {
    if (k != kObjectGraphKey && !referenced.count(k)) unused.push_back(k);
  }
  std::sort(unused.begin(), unused.end());
  unused.erase(std::unique(unused.begin(), unused.end()), unused.end());

  std::vector<std::string> unset;
  std::size_t restored_count = 0;
  for (const int obj : walk.order) {
    const auto& o = table.objects()[static_cast<std::size_t>(obj)];
    if (!o.holds_value()) continue;
    if (restored[static_cast<std::size_t>(obj)]) {
      if (!o.optional) ++restored_count;
    } else if (!o.optional) {
      unset.push_back(describe_object(walk, o, obj));
    }
  }
  std::size_t values = 0;
  for (const auto& node : graph.nodes) {
    for (const auto& a : node.attributes) values += a.checkpoint_key.rfind("save_counter/", 0) == 0 ? 0 : 1;
  }
  STRATA_CHECK(restored_count > 0 || values == 0, ValueError, "restoring from '", prefix.string(),
               "' matched nothing: none of its ", values, " value(s) belongs to an object here (checkpoint "
               "top-level names: ",
               [&] {
                 std::string names;
                 for (const auto& c : graph.nodes[0].children) names += (names.empty() ? "" : ", ") + c.local_name;
                 return names.empty() ? std::string("none") : names;
               }(),
               "). Restore into the objects the checkpoint was written from, named the same way",
               [&] {
                 std::size_t unbuilt = 0;
                 for (const auto& o : table.objects()) unbuilt += o.kind == Kind::kLayer && !o.layer->built();
                 return unbuilt == 0 ? std::string()
                                     : detail::concat("; ", unbuilt, " layer(s) here are not built yet and have no "
                                                      "weights: build the model (call it once) before restoring");
               }());

  if (dry_run) {
    LoadStatus status(prefix.string(), std::move(unused), std::move(unset), restored_count);
    status.expect_partial();
    return status;
  }
  for (auto& [obj, value] : assignments) {
    const auto& o = table.objects()[static_cast<std::size_t>(obj)];
    if (o.kind == Kind::kLearningRate) {
      const Tensor& v = value;
      double lr = 0;
      if (v.dtype() == DType::kFloat32) lr = v.item<float>();
      else if (v.dtype() == DType::kFloat64) lr = v.item<double>();
      else if (v.dtype() == DType::kFloat16) lr = static_cast<float>(v.item<float16>());
      else lr = static_cast<float>(v.item<bfloat16>());
      o.optimizer->set_learning_rate(lr);
    } else {
      Variable var = o.variable;
      var.assign(value);
    }
  }
  return LoadStatus(prefix.string(), std::move(unused), std::move(unset), restored_count);
}

namespace {
// Set by nested_checkpoint_hint around its trial restores: check everything, assign nothing.
thread_local bool t_dry_run = false;
}  // namespace

LoadStatus Checkpoint::restore(const fs::path& path) {
  const fs::path prefix = resolve_prefix(path);
  return impl_->restore(prefix, t_dry_run);
}

namespace internal {

namespace {
// The models nested in `model` (any depth), with the get_layer chain that reaches each.
void nested_models(const Model& model, const std::string& chain,
                   std::vector<std::pair<std::shared_ptr<const Model>, std::string>>& out) {
  for (const auto& layer : model.layers()) {
    auto nested = std::dynamic_pointer_cast<const Model>(std::shared_ptr<const Layer>(layer));
    if (!nested) continue;
    const std::string here = detail::concat(chain, ".get_layer(\"", nested->name(), "\")");
    out.emplace_back(nested, here);
    nested_models(*nested, here, out);
  }
}
}  // namespace

std::string nested_checkpoint_hint(const Model& model, const fs::path& path) {
  fs::path prefix;
  try {
    prefix = resolve_prefix(path);
  } catch (const Error&) {
    return {};
  }
  std::vector<std::pair<std::shared_ptr<const Model>, std::string>> candidates;
  nested_models(model, "model", candidates);
  for (const auto& candidate : candidates) {
    const std::shared_ptr<const Model>& nested = candidate.first;
    try {
      struct DryRun {
        DryRun() { t_dry_run = true; }
        ~DryRun() { t_dry_run = false; }
      } dry_run;
      const LoadStatus status = Checkpoint::with_root(Trackable(nested)).restore(prefix);
      // Fits: every weight of the nested model has its value, and the file's values are
      // the nested model's (a save counter or optimizer values aside).
      bool weights_only_left = true;
      for (const auto& key : status.unused_values()) {
        weights_only_left = weights_only_left && (key.rfind("save_counter", 0) == 0 || key.rfind("optimizer", 0) == 0);
      }
      if (status.restored() == 0 || !weights_only_left) continue;
      bool all_weights = true;
      for (const auto& entry : status.unset_weights()) {
        for (const auto& w : nested->weights()) all_weights = all_weights && entry.find(w.name()) == std::string::npos;
      }
      if (!all_weights) continue;
      return detail::concat("the checkpoint '", path.string(), "' holds the weights of model '", nested->name(),
                            "' (class ", nested->class_name(), "), which is nested in model '", model.name(),
                            "' as a layer, not the weights of '", model.name(), "' itself: load it into that layer, ",
                            candidate.second, ".load_weights(\"", path.string(), "\")");
    } catch (const Error&) {
      continue;
    }
  }
  return {};
}

}  // namespace internal

// ---- CheckpointManager -------------------------------------------------------------------------------

CheckpointManager::CheckpointManager(Checkpoint checkpoint, fs::path directory, std::optional<int> max_to_keep,
                                     std::string checkpoint_name)
    : checkpoint_(std::move(checkpoint)),
      directory_(std::move(directory)),
      max_to_keep_(max_to_keep),
      checkpoint_name_(std::move(checkpoint_name)) {
  STRATA_CHECK(!max_to_keep_ || *max_to_keep_ >= 0, ValueError, "max_to_keep must not be negative");
  STRATA_CHECK(!checkpoint_name_.empty(), ValueError, "checkpoint_name must not be empty");
  std::error_code ec;
  if (!fs::is_directory(directory_, ec)) file_system().create_directories(directory_);
  const double now = now_seconds();
  last_preserved_timestamp_ = now - 1;
  if (auto state = read_checkpoint_state(directory_)) {
    if (state->last_preserved_timestamp) last_preserved_timestamp_ = std::min(*state->last_preserved_timestamp, now);
    for (std::size_t i = 0; i < state->all_model_checkpoint_paths.size(); ++i) {
      checkpoints_.push_back(resolve_in(directory_, state->all_model_checkpoint_paths[i]));
      timestamps_.push_back(i < state->all_model_checkpoint_timestamps.size()
                                ? std::min(state->all_model_checkpoint_timestamps[i], now)
                                : last_preserved_timestamp_);
    }
  }
}

std::optional<fs::path> CheckpointManager::latest_checkpoint() const {
  if (checkpoints_.empty()) return std::nullopt;
  return checkpoints_.back();
}

fs::path CheckpointManager::save(std::optional<std::int64_t> checkpoint_number) {
  auto& impl = *checkpoint_.impl_;
  impl.ensure_counter();
  Variable counter = impl.save_counter;
  const Tensor before = counter.value();
  std::int64_t n = 0;
  if (checkpoint_number) {
    n = *checkpoint_number;
  } else {
    n = before.to(Device::cpu()).item<std::int64_t>() + 1;
    counter.assign(Tensor::scalar<std::int64_t>(n));
  }
  const fs::path prefix = directory_ / detail::concat(checkpoint_name_, "-", n);
  auto kept = checkpoints_;
  auto stamps = timestamps_;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (kept[i] == prefix) {
      kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(i));
      stamps.erase(stamps.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  kept.push_back(prefix);
  stamps.push_back(now_seconds());
  std::vector<fs::path> removed;
  if (max_to_keep_) {
    while (kept.size() > static_cast<std::size_t>(std::max(*max_to_keep_, 1))) {
      removed.push_back(kept.front());
      kept.erase(kept.begin());
      stamps.erase(stamps.begin());
    }
  }
  CheckpointState state;
  state.model_checkpoint_path = prefix.filename().string();
  for (const auto& p : kept) {
    state.all_model_checkpoint_paths.push_back(p.parent_path() == directory_ ? p.filename().string() : p.string());
  }
  state.all_model_checkpoint_timestamps = stamps;
  state.last_preserved_timestamp = last_preserved_timestamp_;
  try {
    impl.write(prefix, true, std::move(state));
  } catch (...) {
    if (!checkpoint_number) counter.assign(before);
    throw;
  }
  checkpoints_ = std::move(kept);
  timestamps_ = std::move(stamps);
  // The state file no longer names them: remove the files (a failure here leaves garbage,
  // never a broken state).
  for (const auto& p : removed) {
    try {
      remove_checkpoint(p);
    } catch (const Error& e) {
      log_warning("could not remove the old checkpoint '", p.string(), "': ", e.message());
    }
  }
  return prefix;
}

}  // namespace strata
