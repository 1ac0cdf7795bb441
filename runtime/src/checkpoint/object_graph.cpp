#include "checkpoint/object_graph.hpp"

#include <algorithm>
#include <deque>

#include "strata/error.hpp"
#include "strata/plugin/assets.hpp"
#include "strata/stateful.hpp"

namespace strata::internal {

std::string escape_local_name(const std::string& name) {
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    if (c == '.') out += "..";
    else if (c == '/') out += ".S";
    else out += c;
  }
  return out;
}

int ObjectTable::add_variable(const Variable& v, bool optional) {
  if (auto it = by_variable_.find(v.id()); it != by_variable_.end()) return it->second;
  const int id = static_cast<int>(objects_.size());
  TrackedObject o;
  o.kind = TrackedObject::Kind::kVariable;
  o.variable = v;
  o.optional = optional;
  objects_.push_back(std::move(o));
  by_variable_.emplace(v.id(), id);
  return id;
}

void ObjectTable::add_child(int parent, const std::string& name, int child) {
  auto& o = objects_[static_cast<std::size_t>(parent)];
  if (!o.child_by_name.emplace(name, child).second) return;  // first one wins, as attribute tracking does
  o.children.emplace_back(name, child);
}

void ObjectTable::add_path(int parent, const std::string& name, int child) {
  std::size_t start = 0;
  int at = parent;
  for (std::size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', start)) {
    const std::string part = name.substr(start, slash - start);
    start = slash + 1;
    int next = objects_[static_cast<std::size_t>(at)].child(part);
    if (next >= 0 && objects_[static_cast<std::size_t>(next)].kind != TrackedObject::Kind::kList) next = -1;
    if (next < 0) {
      next = static_cast<int>(objects_.size());
      TrackedObject list;
      list.kind = TrackedObject::Kind::kList;
      objects_.push_back(std::move(list));
      add_child(at, part, next);
    }
    at = next;
  }
  add_child(at, name.substr(start), child);
}

int ObjectTable::add_layer(const Layer* layer) {
  if (auto it = by_pointer_.find(layer); it != by_pointer_.end()) return it->second;
  const int id = static_cast<int>(objects_.size());
  TrackedObject o;
  o.kind = TrackedObject::Kind::kLayer;
  o.layer = layer;
  objects_.push_back(std::move(o));
  by_pointer_.emplace(layer, id);
  fill_layer(id);
  return id;
}

void ObjectTable::fill_layer(int id) {
  const Layer* layer = objects_[static_cast<std::size_t>(id)].layer;
  const auto* model = dynamic_cast<const Model*>(layer);
  const bool graph_model = dynamic_cast<const Sequential*>(layer) != nullptr || dynamic_cast<const Functional*>(layer) != nullptr;
  if (graph_model) {
    // tf-keras's _layer_checkpoint_dependencies: for each layer of model.layers,
    // "layer_with_weights-K" (layers that have weights) then "layer-I".
    const auto layers = model->layers();
    std::size_t with_weights = 0;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const int child = add_layer(layers[i].get());
      const auto* assets = dynamic_cast<const AssetsLayer*>(layers[i].get());
      if (!layers[i]->weights().empty() || (assets != nullptr && assets->has_tf_keras_table_weight())) {
        add_child(id, detail::concat("layer_with_weights-", with_weights++), child);
      }
      add_child(id, detail::concat("layer-", i), child);
    }
  } else {
    for (const auto& c : layer->children()) add_path(id, c.name, add_layer(c.layer.get()));
  }
  for (const auto& w : layer->own_weights()) add_child(id, w.name, add_variable(w.variable));
  // tf-keras's SavedModel (not its checkpoints): a stateful layer's states as
  // "keras_api/states/<i>" (keras_api a plain object, states a list). Optional: a file
  // without them (a SavedModel written before they were) leaves the states as they are.
  if (save_type_ == CheckpointSaveType::kSavedModel) {
    if (const auto* stateful = dynamic_cast<const StateVariablesLayer*>(layer)) {
      const auto states = stateful->state_variables();
      for (std::size_t i = 0; i < states.size(); ++i) {
        if (states[i].defined()) add_path(id, detail::concat("keras_api/states/", i), add_variable(states[i], /*optional=*/true));
      }
    }
  }
  if (model != nullptr && model->is_compiled() && model->optimizer()) {
    add_child(id, "optimizer", add_optimizer(model->optimizer().get(), model));
  }
}

int ObjectTable::add_optimizer(Optimizer* optimizer, const Model* owner) {
  if (auto it = by_pointer_.find(optimizer); it != by_pointer_.end()) {
    auto& o = objects_[static_cast<std::size_t>(it->second)];
    if (o.owner_model == nullptr) o.owner_model = owner;
    return it->second;
  }
  const int id = static_cast<int>(objects_.size());
  TrackedObject o;
  o.kind = TrackedObject::Kind::kOptimizer;
  o.optimizer = optimizer;
  o.owner_model = owner;
  objects_.push_back(std::move(o));
  by_pointer_.emplace(optimizer, id);
  fill_optimizer(id);
  return id;
}

void ObjectTable::fill_optimizer(int id) {
  Optimizer* opt = objects_[static_cast<std::size_t>(id)].optimizer;
  // tf-keras 2.11+ optimizers: "_variables" (iteration, then the slots in build order),
  // "_iterations", "_learning_rate" (a float32 variable unless a schedule drives it).
  const int list = static_cast<int>(objects_.size());
  TrackedObject l;
  l.kind = TrackedObject::Kind::kList;
  objects_.push_back(std::move(l));
  add_child(id, "_variables", list);
  const auto vars = opt->variables();
  for (std::size_t i = 0; i < vars.size(); ++i) add_child(list, std::to_string(i), add_variable(vars[i]));
  add_child(id, "_iterations", add_variable(opt->iterations()));
  if (!opt->learning_rate_schedule()) {
    const int lr = static_cast<int>(objects_.size());
    TrackedObject o;
    o.kind = TrackedObject::Kind::kLearningRate;
    o.optimizer = opt;
    o.optional = true;
    o.variable = Variable("learning_rate", Tensor::scalar<float>(static_cast<float>(opt->learning_rate())), false);
    objects_.push_back(std::move(o));
    add_child(id, "_learning_rate", lr);
  }
  // A dynamic loss scale (tf-keras's LossScaleOptimizer and LossScaleOptimizerV3 both track
  // it as "loss_scale" with "current_loss_scale" and "good_steps"; a fixed scale has no
  // variables there). Optional: files from before Strata wrote it, and Keras 3's, lack it.
  if (const LossScale* ls = loss_scale(*opt); ls != nullptr && ls->dynamic) {
    const int scale = static_cast<int>(objects_.size());
    TrackedObject s;
    s.kind = TrackedObject::Kind::kList;
    objects_.push_back(std::move(s));
    add_child(id, "loss_scale", scale);
    add_child(scale, "current_loss_scale", add_variable(ls->scale, true));
    add_child(scale, "good_steps", add_variable(ls->good_steps, true));
  }
}

int ObjectTable::add(const Trackable& t, const Model* owner) {
  return std::visit(
      [&](const auto& v) -> int {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Variable>) {
          STRATA_CHECK(v.defined(), ValueError, "a checkpoint piece is an undefined variable");
          return add_variable(v);
        } else if constexpr (std::is_same_v<T, std::shared_ptr<Optimizer>>) {
          STRATA_CHECK(v != nullptr, ValueError, "a checkpoint piece is a null optimizer");
          return add_optimizer(v.get(), owner);
        } else {
          STRATA_CHECK(v != nullptr, ValueError, "a checkpoint piece is a null layer");
          return add_layer(v.get());
        }
      },
      t.value());
}

ObjectTable ObjectTable::for_pieces(const std::vector<std::pair<std::string, Trackable>>& pieces,
                                    const Variable& save_counter) {
  ObjectTable table;
  table.objects_.push_back(TrackedObject{});  // the root
  std::vector<const std::pair<std::string, Trackable>*> sorted;
  for (const auto& p : pieces) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* p : sorted) table.add_child(0, p->first, table.add(p->second, nullptr));
  if (save_counter.defined()) table.add_child(0, "save_counter", table.add_variable(save_counter, true));
  return table;
}

ObjectTable ObjectTable::for_root(const Trackable& root, const Variable& save_counter, CheckpointSaveType save_type) {
  ObjectTable table;
  table.save_type_ = save_type;
  const int id = table.add(root, nullptr);
  STRATA_CHECK(id == 0, ValueError, "internal error: the checkpoint root is not object 0");
  if (table.objects_[0].kind == TrackedObject::Kind::kLayer) table.add_child(0, "root", 0);
  if (save_counter.defined()) table.add_child(0, "save_counter", table.add_variable(save_counter, true));
  return table;
}

ObjectTable::Walk ObjectTable::walk() const {
  Walk w;
  w.node_id.assign(objects_.size(), -1);
  w.path.assign(objects_.size(), std::string());
  std::deque<int> queue{0};
  w.node_id[0] = 0;
  w.order.push_back(0);
  while (!queue.empty()) {
    const int at = queue.front();
    queue.pop_front();
    for (const auto& [name, child] : objects_[static_cast<std::size_t>(at)].children) {
      const auto c = static_cast<std::size_t>(child);
      if (w.node_id[c] >= 0) continue;
      w.node_id[c] = static_cast<int>(w.order.size());
      w.order.push_back(child);
      const std::string& parent_path = w.path[static_cast<std::size_t>(at)];
      w.path[c] = parent_path.empty() ? escape_local_name(name) : parent_path + "/" + escape_local_name(name);
      queue.push_back(child);
    }
  }
  return w;
}

}  // namespace strata::internal
