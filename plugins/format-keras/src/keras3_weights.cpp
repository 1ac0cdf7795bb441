// Keras 3's weights layout: see keras3_weights.hpp. The object paths follow Keras 3's
// saving_lib (_save_state / _walk_saveable / _save_container_state): a Sequential or
// Functional model's layers first, as the container `layers`; then every other tracked
// child by attribute name, sorted, private (`_`) names last; lists are containers whose
// items are named by snake-cased class name with `_1`, `_2` ... for repeats; an object
// reached twice is saved once, under the first path.
#include "keras3_weights.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <unordered_set>

#include "strata/log.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/file_system.hpp"

namespace strata::keras {
namespace {

using h5::File;
using h5::Handle;
using h5::ObjectKind;

// ---- names ---------------------------------------------------------------------------------

// keras.src.utils.naming.to_snake_case of the Python class name (the part after a
// registered package prefix: "my_package>MyLayer" -> "my_layer").
std::string snake_case(std::string_view class_name) {
  if (const auto gt = class_name.rfind('>'); gt != std::string_view::npos) class_name.remove_prefix(gt + 1);
  std::string word;
  for (const char c : class_name) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') word += c;
  }
  static const std::regex kFirst("(.)([A-Z][a-z]+)");
  static const std::regex kSecond("([a-z])([A-Z])");
  std::string out = std::regex_replace(std::regex_replace(word, kFirst, "$1_$2"), kSecond, "$1_$2");
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Where a Strata layer's tracked child (tf-keras's checkpoint name) and Keras 3's attribute
// differ. Verified against files Keras 3.15 wrote (tests/interop/generate_keras3_weights.py).
struct AttributeRename {
  std::string_view layer_class, strata_name, keras_name;
};
constexpr AttributeRename kAttributeRenames[] = {
    {"MultiHeadAttention", "_query_dense", "query_dense"},
    {"MultiHeadAttention", "_key_dense", "key_dense"},
    {"MultiHeadAttention", "_value_dense", "value_dense"},
    {"MultiHeadAttention", "_output_dense", "output_dense"},
};

// Sub-layers Keras 3 has and Strata does not model as layers (they hold no variables):
// written as empty `vars` groups, as Keras 3 writes them, and not required on reading.
struct EmptyChild {
  std::string_view layer_class, attribute, name;
};
constexpr EmptyChild kEmptyChildren[] = {
    {"MultiHeadAttention", "_softmax", "softmax"},
    {"MultiHeadAttention", "_dropout_layer", "dropout"},
};

std::string keras_attribute(const Layer& owner, const std::string& strata_name) {
  for (const auto& r : kAttributeRenames) {
    if (owner.class_name() == r.layer_class && strata_name == r.strata_name) return std::string(r.keras_name);
  }
  return strata_name;
}

// saving_lib._name_key: private attributes are visited last.
std::string sort_key(const std::string& name) {
  return name.starts_with("_") ? "~" + name : name;
}

std::string join(const std::string& base, const std::string& name) {
  return base.empty() ? name : base + "/" + name;
}

std::string vars_path(const std::string& object_path) {
  return join(object_path, "vars");
}

// ---- the object tree -------------------------------------------------------------------------

struct ObjectEntry {
  std::string path;  // "" for the model itself
  std::string name;  // the `name` attribute of the vars group
  std::string what;  // for messages: "layer 'dense' (Dense)"
  std::vector<Variable> variables;
  bool optional = false;         // an empty group Strata has no object for
  const Layer* layer = nullptr;  // the object (none for an optional group)
};

// Layers whose Keras 3 class also holds a child's weight as its own attribute, so Keras 3
// stores it twice: in the child's vars and first in the layer's own (SpectralNormalization's
// `self.kernel = self.layer.kernel`, or its embeddings). Strata tracks it once, in the child.
struct AliasedWeight {
  std::string_view layer_class, child, weights[2];
};
constexpr AliasedWeight kAliasedWeights[] = {
    {"SpectralNormalization", "layer", {"kernel", "embeddings"}},
    {"TextVectorization", "_lookup_layer", {"idf_weights", ""}},
};

// The key of a layer's i-th own variable in its `vars` group: "0", "1", ..., except the lookup
// layers' one variable, their tf_idf weights, which Keras 3's IndexLookup.save_own_variables
// (and TextVectorization's, for its lookup layer) stores as "idf_weights".
std::string variable_key(const Layer* layer, std::size_t i) {
  if (layer != nullptr && i == 0) {
    const std::string& c = layer->class_name();
    if (c == "StringLookup" || c == "IntegerLookup" || c == "TextVectorization") return "idf_weights";
  }
  return std::to_string(i);
}

// A layer's own variables as Keras 3 stores them: trainable ones (by creation), then the
// others, each in creation order.
std::vector<Variable> own_variables(const Layer& layer) {
  std::vector<Variable> out;
  std::unordered_set<std::uint64_t> seen;
  for (const auto& a : kAliasedWeights) {
    if (layer.class_name() != a.layer_class) continue;
    for (const auto& child : layer.children()) {
      if (child.name != a.child) continue;
      for (const auto want : a.weights) {
        for (const auto& w : child.layer->own_weights()) {
          if (out.empty() && w.name == want) out.push_back(w.variable);
        }
      }
    }
  }
  for (const bool trainable : {true, false}) {
    for (const auto& w : layer.own_weights()) {
      if (w.variable.trainable() == trainable && seen.insert(w.variable.id()).second) out.push_back(w.variable);
    }
  }
  return out;
}

// A tracked child below an attribute: `rest` is what follows the attribute in the tracked
// name ("" for the attribute itself, "0" for "blocks/0", "0/1" for a list of lists).
struct Member {
  std::string rest;
  std::shared_ptr<Layer> layer;
};

std::pair<std::string, std::string> split_first(const std::string& name) {
  const auto slash = name.find('/');
  if (slash == std::string::npos) return {name, ""};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

class Walker {
 public:
  // `skip`: objects treated as visited already (Keras 3's objects_to_skip): neither they nor
  // what lies below them is listed, and the others keep their paths.
  Walker(bool with_empty_children, std::unordered_set<const Layer*> skip)
      : with_empty_children_(with_empty_children), visited_(std::move(skip)) {}

  void visit(const Layer& layer, const std::string& path) {
    if (!visited_.insert(&layer).second) return;
    entries_.push_back({path, layer.name(),
                        path.empty() ? "model '" + layer.name() + "' (" + layer.class_name() + ")"
                                     : "layer '" + layer.name() + "' (" + layer.class_name() + ")",
                        own_variables(layer), false, &layer});

    const auto* model = dynamic_cast<const Model*>(&layer);
    const bool graph =
        dynamic_cast<const Sequential*>(&layer) != nullptr || dynamic_cast<const Functional*>(&layer) != nullptr;
    if (graph) {
      visit_container(as_members(model->layers()), join(path, "layers"));
      return;
    }
    // Attributes in Keras's visiting order.
    std::vector<std::string> order;
    std::map<std::string, std::vector<Member>> attributes;
    for (const auto& child : layer.children()) {
      auto [first, rest] = split_first(child.name);
      first = keras_attribute(layer, first);
      if (attributes.find(first) == attributes.end()) order.push_back(first);
      attributes[first].push_back({rest, child.layer});
    }
    // A subclassed model's `layers` property: its layers, as a container.
    if (model != nullptr && attributes.find("layers") == attributes.end()) {
      order.push_back("layers");
      attributes["layers"] = as_members(model->layers());
    }
    if (with_empty_children_) {
      for (const auto& e : kEmptyChildren) {
        if (layer.class_name() == e.layer_class && attributes.find(std::string(e.attribute)) == attributes.end()) {
          order.emplace_back(e.attribute);
          attributes[std::string(e.attribute)] = {};
        }
      }
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const std::string& a, const std::string& b) { return sort_key(a) < sort_key(b); });
    for (const auto& attribute : order) {
      const auto& members = attributes[attribute];
      if (members.empty()) {
        for (const auto& e : kEmptyChildren) {
          if (layer.class_name() == e.layer_class && attribute == e.attribute) {
            entries_.push_back({join(path, attribute), std::string(e.name), "sub-layer '" + attribute + "'", {}, true});
          }
        }
      } else if (members.size() == 1 && members.front().rest.empty()) {
        visit(*members.front().layer, join(path, attribute));
      } else {
        visit_container(members, join(path, attribute));
      }
    }
  }

  std::vector<ObjectEntry> take() { return std::move(entries_); }

 private:
  static std::vector<Member> as_members(const std::vector<std::shared_ptr<Layer>>& layers) {
    std::vector<Member> out;
    for (std::size_t i = 0; i < layers.size(); ++i) out.push_back({std::to_string(i), layers[i]});
    return out;
  }

  // saving_lib._save_container_state: items named by snake-cased class, numbered per name
  // whether or not the item was visited before; nested containers are "container", ...
  void visit_container(const std::vector<Member>& members, const std::string& path) {
    std::map<std::string, int> used;
    auto unique = [&](const std::string& base) {
      auto [it, fresh] = used.try_emplace(base, 0);
      if (fresh) return base;
      return base + "_" + std::to_string(++it->second);
    };
    std::vector<std::string> order;
    std::map<std::string, std::vector<Member>> items;
    for (const auto& m : members) {
      auto [first, rest] = split_first(m.rest);
      if (items.find(first) == items.end()) order.push_back(first);
      items[first].push_back({rest, m.layer});
    }
    for (const auto& key : order) {
      const auto& group = items[key];
      if (group.size() == 1 && group.front().rest.empty()) {
        const Layer& item = *group.front().layer;
        // tf-keras's SyncBatchNormalization is a BatchNormalization in the archive's config
        // (keras3_config.cpp), so Keras 3 looks for it under that class's name.
        const std::string& cls = item.class_name();
        visit(item, join(path, unique(snake_case(cls == "SyncBatchNormalization" ? "BatchNormalization" : cls))));
      } else {
        visit_container(group, join(path, unique("container")));
      }
    }
  }

  bool with_empty_children_;
  std::unordered_set<const Layer*> visited_;
  std::vector<ObjectEntry> entries_;
};

std::vector<ObjectEntry> object_entries(const Model& model, bool with_empty_children,
                                        std::unordered_set<const Layer*> skip = {}) {
  Walker walker(with_empty_children, std::move(skip));
  walker.visit(model, "");
  return walker.take();
}

// LoadOptions::objects_to_skip resolved: each name is an object path ("layers/dense_1", a
// leading "/" allowed; "" or "/" is the model) or "optimizer", else a layer name that names one
// object. ValueError naming the entry otherwise.
struct SkipSet {
  std::unordered_set<const Layer*> layers;
  bool optimizer = false;
};

SkipSet resolve_objects_to_skip(const Model& model, const std::vector<std::string>& names, const std::string& label) {
  SkipSet out;
  if (names.empty()) return out;
  const auto entries = object_entries(model, /*with_empty_children=*/false);
  for (const auto& raw : names) {
    std::string name = raw;
    while (name.starts_with("/")) name.erase(0, 1);
    if (name == "optimizer") {
      out.optimizer = true;
      continue;
    }
    const ObjectEntry* found = nullptr;
    for (const auto& e : entries) {
      if (e.layer != nullptr && e.path == name && (!name.empty() || raw.starts_with("/"))) found = &e;
    }
    if (found == nullptr) {
      std::vector<const ObjectEntry*> by_name;
      for (const auto& e : entries) {
        if (e.layer != nullptr && e.layer->name() == raw) by_name.push_back(&e);
      }
      if (by_name.size() > 1) {
        std::string paths;
        for (const auto* e : by_name)
          paths += (paths.empty() ? "'" : ", '") + (e->path.empty() ? std::string("/") : e->path) + "'";
        STRATA_THROW(ValueError, "objects_to_skip: '", raw, "' names ", by_name.size(), " layers of model '",
                     model.name(), "' (at ", paths, "); give the object path of the one to skip (loading '", label,
                     "')");
      }
      if (!by_name.empty()) found = by_name.front();
    }
    if (found == nullptr) {
      std::string examples;
      for (std::size_t i = 1; i < entries.size() && i < 5; ++i) examples += "'" + entries[i].path + "', ";
      STRATA_THROW(ValueError, "objects_to_skip: '", raw, "' is neither a layer of model '", model.name(),
                   "' nor one of its object paths (such as ", examples, "'optimizer') (loading '", label, "')");
    }
    out.layers.insert(found->layer);
    // The model itself: nothing below it loads, its optimizer included (as in Keras 3).
    if (found->layer == &model) out.optimizer = true;
  }
  return out;
}

// ---- the optimizer -----------------------------------------------------------------------------

// One variable of Keras 3's optimizer list, as Strata holds it.
struct OptimizerValue {
  // kWrapperIterations / kWrapperLearningRate: Keras 3's LossScaleOptimizer's own iteration
  // and learning rate, which it never uses (0 and 0.0): written so, read and passed over.
  enum Kind { kIterations, kLearningRate, kSlot, kNadamProduct, kWrapperIterations, kWrapperLearningRate } kind;
  Variable slot;  // kSlot
  std::string label;
};

double config_number(const Config& c, const char* key, double fallback) {
  if (c.is_object() && c.contains(key) && c[key].is_number()) return c[key].get<double>();
  return fallback;
}

// "Adam" for "Adam" and for a registered "Custom>Adam".
std::string bare_class(const Optimizer& opt) {
  const std::string name = opt.class_name();
  const auto gt = name.rfind('>');
  return gt == std::string::npos ? name : name.substr(gt + 1);
}

// Keras 3's optimizer.variables for a Strata optimizer: iterations; the learning rate unless
// it is a schedule; the slots in build order (Strata's slots() order is Keras 3's: the
// averages of use_ema, the gradient accumulators, then the optimizer's own, except that SGD
// without momentum has none of its own in Keras 3); Nadam's running product u_1 ... u_t last.
std::vector<OptimizerValue> optimizer_values(const Optimizer& opt) {
  std::vector<OptimizerValue> out;
  out.push_back({OptimizerValue::kIterations, Variable(), "iteration"});
  if (!opt.learning_rate_schedule()) out.push_back({OptimizerValue::kLearningRate, Variable(), "learning_rate"});
  const Config config = opt.get_config();
  const std::string cls = bare_class(opt);
  const bool no_momentum_slots = cls == "SGD" && config_number(config, "momentum", 0.0) == 0.0;
  for (const auto& s : opt.slots()) {
    // The base optimizer's variables (use_ema's averages, the gradient accumulators) exist
    // for every optimizer; SGD's momentum slots only with a momentum.
    const bool base = s.name == "average" || s.name == "gradient_accumulator";
    if (base || !no_momentum_slots) out.push_back({OptimizerValue::kSlot, s.slot, s.name + " of " + s.variable.name()});
  }
  if (cls == "Nadam" && !opt.slots().empty()) out.push_back({OptimizerValue::kNadamProduct, Variable(), "u_product"});
  return out;
}

// Keras 3's LossScaleOptimizer's own variables: iteration and learning_rate, which it never
// uses (0 and 0.0), then step_counter and dynamic_scale from its build. Its `optimizer/vars`
// holds them followed by its inner optimizer's, which the child object
// `optimizer/inner_optimizer` holds again.
std::vector<OptimizerValue> loss_scale_values(const LossScale& ls) {
  return {{OptimizerValue::kWrapperIterations, Variable(), "the loss-scale optimizer's iteration"},
          {OptimizerValue::kWrapperLearningRate, Variable(), "the loss-scale optimizer's learning_rate"},
          {OptimizerValue::kSlot, ls.good_steps, "step_counter"},
          {OptimizerValue::kSlot, ls.scale, "dynamic_scale"}};
}

// Keras 3 Nadam's _u_product after `steps` steps, computed as Keras computes it in float32:
// u <- u * beta_1 * (1 - 0.5 * 0.96^t).
float nadam_product(std::int64_t steps, double beta_1) {
  float u = 1.0f;
  const auto b = static_cast<float>(beta_1);
  for (std::int64_t t = 1; t <= steps; ++t) {
    u = (u * b) * (1.0f - 0.5f * std::pow(0.96f, static_cast<float>(t)));
  }
  return u;
}

// The value written for a slot or a loss-scale optimizer's unused variable.
Tensor fixed_value(const OptimizerValue& v) {
  switch (v.kind) {
    case OptimizerValue::kWrapperIterations:
      return Tensor::scalar<std::int64_t>(0, Device::cpu());
    case OptimizerValue::kWrapperLearningRate:
      return Tensor::scalar<float>(0.0f, Device::cpu());
    default:
      return v.slot.value().to(Device::cpu());
  }
}

std::string optimizer_file_name(const Optimizer& opt) {
  // Strata's default name is the class name (tf-keras's); Keras 3's is its snake case.
  const std::string cls = bare_class(opt);
  return opt.name() == cls ? snake_case(cls) : opt.name();
}

// ---- writing -------------------------------------------------------------------------------------

// One `vars` group to write: its values as host tensors.
struct OutEntry {
  std::string path;
  std::string name;
  std::vector<Tensor> values;
  const Layer* layer = nullptr;  // for variable_key (none for the optimizer)
};

std::vector<OutEntry> entries_to_write(const Model& model, bool include_optimizer) {
  STRATA_CHECK(model.built(), ValueError, "model '", model.name(),
               "' is not built: it has no variables to save yet (call it on data or build() it first)");
  std::vector<OutEntry> out;
  for (const auto& e : object_entries(model, /*with_empty_children=*/true)) {
    OutEntry o{e.path, e.name, {}, e.layer};
    for (const auto& v : e.variables) o.values.push_back(v.value().to(Device::cpu()));
    out.push_back(std::move(o));
  }
  if (include_optimizer && model.is_compiled() && model.optimizer()) {
    const Optimizer& opt = *model.optimizer();
    const LossScale* ls = loss_scale(opt);
    OutEntry o{ls ? "optimizer/inner_optimizer" : "optimizer", optimizer_file_name(opt), {}};
    const std::int64_t steps = cast(opt.iterations().value().to(Device::cpu()), DType::kInt64).item<std::int64_t>();
    for (const auto& v : optimizer_values(opt)) {
      switch (v.kind) {
        case OptimizerValue::kIterations:
          o.values.push_back(Tensor::scalar<std::int64_t>(steps, Device::cpu()));
          break;
        case OptimizerValue::kLearningRate:
          o.values.push_back(Tensor::scalar<float>(static_cast<float>(opt.learning_rate()), Device::cpu()));
          break;
        case OptimizerValue::kNadamProduct:
          o.values.push_back(Tensor::scalar<float>(nadam_product(steps, config_number(opt.get_config(), "beta_1", 0.9)),
                                                   Device::cpu()));
          break;
        default:
          o.values.push_back(fixed_value(v));
      }
    }
    if (ls) {
      OutEntry w{"optimizer", ls->name.empty() ? std::string("loss_scale_optimizer") : ls->name, {}};
      for (const auto& v : loss_scale_values(*ls)) w.values.push_back(fixed_value(v));
      for (const auto& t : o.values) w.values.push_back(t);
      out.push_back(std::move(w));
    }
    out.push_back(std::move(o));
  }
  return out;
}

Handle open_root(const File& file) {
  Handle root(H5Gopen2(file.id(), "/", H5P_DEFAULT));
  STRATA_CHECK(root.valid(), FormatError, file.where(), ": cannot open the root group", h5::hdf5_detail());
  return root;
}

// H5IOStore._create_h5_group: `<path>/vars`, with the object's name as attribute `name`
// when `with_name`.
Handle make_vars_group(const File& file, hid_t root, const std::string& path, const std::string& name, bool with_name) {
  Handle group = h5::create_group(file, root, vars_path(path));
  if (with_name) h5::write_vlen_string_attribute(file, group.get(), "name", name, H5T_CSET_UTF8);
  return group;
}

// One value as Keras 3's H5IOStore writes it: numeric types as they are; bfloat16 (which
// numpy and h5py have no HDF5 type for) as a 2-byte opaque dataset with attribute
// dtype="bfloat16", which Keras 3 reads back as bfloat16.
void write_value(const File& file, hid_t group, const std::string& name, const Tensor& value) {
  if (value.dtype() != DType::kBFloat16) {
    h5::write_dataset(file, group, name, value);
    return;
  }
  Handle type(H5Tcreate(H5T_OPAQUE, 2));
  Handle space;
  if (value.rank() == 0) {
    space = Handle(H5Screate(H5S_SCALAR));
  } else {
    std::vector<hsize_t> dims;
    for (auto d : value.shape().dims()) dims.push_back(static_cast<hsize_t>(d));
    space = Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  }
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  STRATA_CHECK(type.valid() && space.valid() && dcpl.valid() && H5Pset_obj_track_times(dcpl.get(), 0) >= 0, IOError,
               "cannot set up bfloat16 dataset '", name, "' in ", file.where(), h5::hdf5_detail());
  Handle ds(H5Dcreate2(group, name.c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  STRATA_CHECK(ds.valid(), IOError, "cannot create dataset '", name, "' in ", h5::object_path(group), " of ",
               file.where(), h5::hdf5_detail());
  if (value.num_elements() > 0) {
    file.lend(value);
    STRATA_CHECK(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value.data()) >= 0, IOError,
                 "cannot write dataset '", name, "' in ", file.where(), h5::hdf5_detail());
  }
  h5::write_vlen_string_attribute(file, ds.get(), "dtype", "bfloat16", H5T_CSET_UTF8);
}

std::uint64_t value_bytes(const Tensor& t) {
  return static_cast<std::uint64_t>(t.num_elements()) * static_cast<std::uint64_t>(dtype_size(t.dtype()));
}

// ---- reading -------------------------------------------------------------------------------------

constexpr int kMaxDepth = 64;

// The names of the links in `group` (by name, as h5py lists them), at most h5::kMaxNames.
std::vector<std::string> link_names(const File& file, hid_t group) {
  struct State {
    std::vector<std::string> names;
    bool too_many = false;
  } state;
  auto callback = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    auto* s = static_cast<State*>(data);
    if (s->names.size() >= h5::kMaxNames) {
      s->too_many = true;
      return 1;
    }
    s->names.emplace_back(name);
    return 0;
  };
  hsize_t index = 0;
  STRATA_CHECK(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, callback, &state) >= 0, FormatError, file.where(),
               ": cannot list the members of ", h5::object_path(group), h5::hdf5_detail());
  STRATA_CHECK(!state.too_many, FormatError, file.where(), ": ", h5::object_path(group), " has more than ",
               h5::kMaxNames, " members");
  return state.names;
}

bool is_group(hid_t obj) {
  return H5Iget_type(obj) == H5I_GROUP;
}

// One HDF5 file of the store (the single file, or one shard).
struct Shard {
  const File* file = nullptr;
  Handle root;
  bool legacy_dependencies = false;  // tf-keras 2.13: `_layer_checkpoint_dependencies`
};

// The `vars` group of object `path` in a shard, or an invalid handle. Keras 3's
// H5IOStore.get, with its fallback for tf-keras 2.13 files.
Handle find_vars(const Shard& shard, const std::string& path) {
  const std::string what = "the variables of object '" + (path.empty() ? std::string("/") : path) + "'";
  Handle g = h5::open_object(*shard.file, shard.root.get(), vars_path(path), ObjectKind::kGroup, what);
  if (!g.valid() && shard.legacy_dependencies && !path.empty()) {
    std::string legacy;
    std::size_t i = 0;
    // str.replace("layers", "_layer_checkpoint_dependencies"), every occurrence.
    for (std::size_t j; (j = path.find("layers", i)) != std::string::npos; i = j + 6) {
      legacy += path.substr(i, j - i) + "_layer_checkpoint_dependencies";
    }
    legacy += path.substr(i);
    g = h5::open_object(*shard.file, shard.root.get(), vars_path(legacy), ObjectKind::kGroup, what);
  }
  return g;
}

// The values of one object: dataset name -> (shard index, dataset), over every shard that
// holds part of its `vars` group.
struct StoredVars {
  bool found = false;
  std::map<std::string, std::pair<std::size_t, Handle>> datasets;
  std::vector<std::string> others;  // members that are not datasets
};

struct Store {
  std::string label;                         // the file (or manifest) for messages
  std::vector<std::unique_ptr<File>> owned;  // the files this store opened
  std::vector<Shard> shards;
  // Sharded: "/<path>/vars" -> the shards holding it (indexes into shards).
  std::map<std::string, std::vector<std::size_t>> weight_map;
  bool sharded = false;

  StoredVars get(const std::string& path) const {
    StoredVars out;
    std::vector<std::size_t> which;
    if (sharded) {
      if (auto it = weight_map.find(detail::concat("/", vars_path(path))); it != weight_map.end()) which = it->second;
      // Groups without values are not in the weight map (Keras looks in the shard that is
      // open); any shard holding the group will do.
      if (which.empty()) {
        for (std::size_t i = 0; i < shards.size(); ++i) which.push_back(i);
      }
    } else {
      which.push_back(0);
    }
    for (const std::size_t i : which) {
      const Shard& shard = shards[i];
      Handle g = find_vars(shard, path);
      if (!g.valid()) continue;
      out.found = true;
      for (const auto& name : link_names(*shard.file, g.get())) {
        if (out.datasets.count(name) != 0) continue;
        // Hard links only (Keras writes nothing else); a soft or external link is "not a
        // dataset" and makes the count check fail with the path named.
        H5L_info_t info;
        Handle obj;
        if (H5Lget_info(g.get(), name.c_str(), &info, H5P_DEFAULT) >= 0 && info.type == H5L_TYPE_HARD) {
          obj = Handle(H5Oopen(g.get(), name.c_str(), H5P_DEFAULT));
          if (obj.valid() && H5Iget_type(obj.get()) != H5I_DATASET) obj.reset();
        }
        h5::take_error_stack();
        if (obj.valid()) {
          out.datasets.emplace(name, std::make_pair(i, std::move(obj)));
        } else {
          out.others.push_back(name);
        }
      }
      if (!sharded) break;
    }
    return out;
  }
};

// Every `vars` group of a file and its members, for the status's unused values and for
// describe: "<path>" -> member names. Hard links only; bounded in depth and count.
void collect_vars_groups(const File& file, hid_t group, const std::string& path, int depth, std::size_t& budget,
                         std::map<std::string, std::vector<std::string>>& out) {
  STRATA_CHECK(depth <= kMaxDepth, FormatError, file.where(), ": groups nested deeper than ", kMaxDepth, " at '", path,
               "'");
  for (const auto& name : link_names(file, group)) {
    STRATA_CHECK(budget-- > 0, FormatError, file.where(), ": more than ", h5::kMaxNames, " objects");
    H5L_info_t info;
    if (H5Lget_info(group, name.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5L_TYPE_HARD) continue;
    Handle child(H5Oopen(group, name.c_str(), H5P_DEFAULT));
    if (!child.valid() || !is_group(child.get())) continue;
    const std::string child_path = join(path, name);
    if (name == "vars") {
      auto& members = out[path];
      for (auto& m : link_names(file, child.get())) members.push_back(std::move(m));
    } else {
      collect_vars_groups(file, child.get(), child_path, depth + 1, budget, out);
    }
  }
}

std::string describe_object(const std::string& path) {
  return path.empty() ? std::string("(model)") : path;
}

// An assignment checked against the file, made once everything has been read.
struct Pending {
  Variable variable;
  Tensor value;
};

Tensor read_value(const Store& store, const std::string& path, const std::string& key, const StoredVars& vars,
                  const Shape& expected, DType dtype, const std::string& target, bool skip_mismatch,
                  std::vector<std::string>& skipped, bool& ok) {
  const auto& [shard_index, ds] = vars.datasets.at(key);
  const File& file = *store.shards[shard_index].file;
  const h5::DatasetInfo info = h5::inspect_dataset(file, ds.get());
  if (info.shape != expected) {
    const std::string text =
        detail::concat(file.where(), ": '", vars_path(path), "/", key, "' has shape ", info.shape.to_string(), " but ",
                       target, " has shape ", expected.to_string());
    STRATA_CHECK(skip_mismatch, FormatError, text,
                 " (was the file saved from a different model? LoadOptions::skip_mismatch skips such objects)");
    skipped.push_back(text);
    ok = false;
    return Tensor();
  }
  return h5::read_dataset(file, ds.get(), info, dtype);
}

LoadStatus read_store(const Store& store, Model& model, const LoadOptions& options, bool restore_optimizer) {
  STRATA_CHECK(model.built(), ValueError, "model '", model.name(),
               "' is not built: build it (call it on data) before "
               "loading weights from '",
               store.label, "'");
  std::vector<Pending> pending;
  std::vector<std::string> unset, skipped;
  std::set<std::string> consumed;  // "<path>/vars/<key>"
  std::size_t restored = 0;
  const SkipSet skip = resolve_objects_to_skip(model, options.objects_to_skip, store.label);

  for (const auto& entry : object_entries(model, /*with_empty_children=*/false, skip.layers)) {
    auto frame = ErrorContext::push("loading ", entry.what, " from '", store.label, "'");
    const StoredVars vars = store.get(entry.path);
    auto unset_all = [&] {
      for (std::size_t i = 0; i < entry.variables.size(); ++i) {
        unset.push_back(detail::concat(vars_path(entry.path), "/", i, " (", entry.variables[i].name(), ")"));
      }
    };
    if (!vars.found && entry.variables.empty()) continue;
    if (!vars.found || vars.datasets.size() + vars.others.size() != entry.variables.size()) {
      const std::string text =
          !vars.found ? detail::concat("'", store.label, "' has no group '", vars_path(entry.path), "' for ",
                                       entry.what, ", which has ", entry.variables.size(), " variables")
                      : detail::concat("'", store.label, "': group '", vars_path(entry.path), "' holds ",
                                       vars.datasets.size() + vars.others.size(), " values but ", entry.what, " has ",
                                       entry.variables.size(), " variables");
      STRATA_CHECK(options.skip_mismatch, FormatError, text,
                   " (was the file saved from a different model? LoadOptions::skip_mismatch skips such objects)");
      skipped.push_back(text);
      unset_all();
      continue;
    }
    std::vector<Pending> mine;
    bool ok = true;
    for (std::size_t i = 0; i < entry.variables.size() && ok; ++i) {
      const std::string key = variable_key(entry.layer, i);
      const Variable& v = entry.variables[i];
      if (vars.datasets.count(key) == 0) {
        const std::string text =
            detail::concat("'", store.label, "': group '", vars_path(entry.path), "' has no dataset '", key,
                           "' for variable '", v.name(), "' of ", entry.what);
        STRATA_CHECK(options.skip_mismatch, FormatError, text);
        skipped.push_back(text);
        ok = false;
        break;
      }
      Tensor value = read_value(store, entry.path, key, vars, v.shape(), v.dtype(),
                                "variable '" + v.name() + "' of " + entry.what, options.skip_mismatch, skipped, ok);
      if (ok) mine.push_back({v, std::move(value)});
    }
    if (!ok) {
      unset_all();
      continue;
    }
    for (std::size_t i = 0; i < entry.variables.size(); ++i)
      consumed.insert(detail::concat(vars_path(entry.path), "/", variable_key(entry.layer, i)));
    for (auto& p : mine) pending.push_back(std::move(p));
  }

  // The optimizer (Keras's `optimizer` attribute of the model).
  struct OptimizerPending {
    std::optional<std::int64_t> iterations;
    std::optional<float> learning_rate;
  } opt_pending;
  // One optimizer object's `vars` group at `path` against what Strata expects there.
  const auto restore_group = [&](const std::string& path, std::vector<OptimizerValue> expected,
                                 const Optimizer& opt) {
    const StoredVars vars = store.get(path);
    const std::string group = path + "/vars";
    const std::size_t stored = vars.datasets.size() + vars.others.size();
    // An optimizer Keras never built (a model compiled but not trained) saves its iterations
    // and learning rate only: those load, the slots keep their fresh state.
    std::vector<OptimizerValue> unbuilt;
    for (const auto& v : expected) {
      if (v.kind != OptimizerValue::kSlot && v.kind != OptimizerValue::kNadamProduct) unbuilt.push_back(v);
    }
    if (stored != expected.size() && stored == unbuilt.size()) expected = unbuilt;
    if (stored != expected.size()) {
      // Keras 3 (BaseOptimizer.load_own_variables) warns and keeps the fresh state.
      log_warning("'", store.label, "': the optimizer state '", group, "' holds ", stored, " variables but optimizer '",
                  opt.name(), "' (", opt.class_name(), loss_scale(opt) ? " in a LossScaleOptimizer" : "", ") has ",
                  expected.size(),
                  "; the optimizer keeps its current state (was it a different optimizer, or one with other "
                  "settings such as momentum, amsgrad, centered or a learning-rate schedule?)");
      for (std::size_t i = 0; i < expected.size(); ++i) {
        unset.push_back(detail::concat(group, "/", i, " (", expected[i].label, ")"));
      }
      return;
    }
    bool ok = true;
    std::vector<Pending> mine;
    OptimizerPending found;
    for (std::size_t i = 0; i < expected.size() && ok; ++i) {
      const std::string key = std::to_string(i);
      const auto& v = expected[i];
      STRATA_CHECK(vars.datasets.count(key) != 0, FormatError, "'", store.label, "': group '", group,
                   "' has no dataset '", key, "' (", v.label, ")");
      const std::string target = "optimizer variable " + group + "/" + key + " (" + v.label + ")";
      switch (v.kind) {
        case OptimizerValue::kIterations: {
          Tensor t = read_value(store, path, key, vars, Shape{}, DType::kInt64, target, options.skip_mismatch, skipped,
                                ok);
          if (ok) found.iterations = t.item<std::int64_t>();
          break;
        }
        case OptimizerValue::kLearningRate: {
          Tensor t = read_value(store, path, key, vars, Shape{}, DType::kFloat32, target, options.skip_mismatch,
                                skipped, ok);
          if (ok) found.learning_rate = t.item<float>();
          break;
        }
        case OptimizerValue::kSlot: {
          Tensor t = read_value(store, path, key, vars, v.slot.shape(), v.slot.dtype(), target, options.skip_mismatch,
                                skipped, ok);
          if (ok) mine.push_back({v.slot, std::move(t)});
          break;
        }
        case OptimizerValue::kNadamProduct:
        case OptimizerValue::kWrapperLearningRate:
          // Nadam's product is a function of the step, which Strata recomputes; the loss-scale
          // optimizer's own learning rate is unused. Only the shape is checked.
          read_value(store, path, key, vars, Shape{}, DType::kFloat32, target, options.skip_mismatch, skipped, ok);
          break;
        case OptimizerValue::kWrapperIterations:
          read_value(store, path, key, vars, Shape{}, DType::kInt64, target, options.skip_mismatch, skipped, ok);
          break;
      }
    }
    if (ok) {
      for (std::size_t i = 0; i < expected.size(); ++i) consumed.insert(detail::concat(group, "/", i));
      for (auto& p : mine) pending.push_back(std::move(p));
      if (found.iterations) opt_pending.iterations = found.iterations;
      if (found.learning_rate) opt_pending.learning_rate = found.learning_rate;
    } else {
      for (std::size_t i = 0; i < expected.size(); ++i) {
        unset.push_back(detail::concat(group, "/", i, " (", expected[i].label, ")"));
      }
    }
  };
  const StoredVars opt_vars = store.get("optimizer");
  if (restore_optimizer && !skip.optimizer && model.is_compiled() && model.optimizer() && opt_vars.found) {
    Optimizer& opt = *model.optimizer();
    auto frame = ErrorContext::push("restoring the state of optimizer '", opt.name(), "' from '", store.label, "'");
    opt.build(model.trainable_weights());
    if (const LossScale* ls = loss_scale(opt)) {
      // Keras 3's LossScaleOptimizer writes its variables (its own, then its inner
      // optimizer's) and the inner optimizer writes its own again as a child object.
      auto all = loss_scale_values(*ls);
      for (auto& v : optimizer_values(opt)) all.push_back(std::move(v));
      restore_group("optimizer", std::move(all), opt);
      restore_group("optimizer/inner_optimizer", optimizer_values(opt), opt);
    } else {
      restore_group("optimizer", optimizer_values(opt), opt);
    }
  } else if (opt_vars.found) {
    // No optimizer to restore (not compiled, or not asked to): as Keras 3, which finds no
    // `optimizer` attribute on an uncompiled model, the values are passed over.
    for (const auto& [key, unused] : opt_vars.datasets) consumed.insert("optimizer/vars/" + key);
    const StoredVars inner = store.get("optimizer/inner_optimizer");
    for (const auto& [key, unused] : inner.datasets) consumed.insert("optimizer/inner_optimizer/vars/" + key);
  }

  // Everything checked and read: assign.
  for (auto& p : pending) {
    Variable v = p.variable;
    v.assign(p.value.to(v.device()));
    ++restored;
  }
  if (model.is_compiled() && model.optimizer()) {
    Optimizer& opt = *model.optimizer();
    if (opt_pending.iterations) {
      Variable it = opt.iterations();
      it.assign(cast(Tensor::scalar<std::int64_t>(*opt_pending.iterations, Device::cpu()), it.dtype()).to(it.device()));
      ++restored;
    }
    if (opt_pending.learning_rate) {
      if (!opt.learning_rate_schedule()) opt.set_learning_rate(static_cast<double>(*opt_pending.learning_rate));
      ++restored;
    }
  }

  // Values of the file no object took. Those of skipped objects (the paths the skipped layers
  // have when nothing is skipped, and what lies below them) were left on purpose.
  std::vector<std::string> skipped_paths;
  if (skip.optimizer) skipped_paths.emplace_back("optimizer");
  if (!skip.layers.empty()) {
    for (const auto& e : object_entries(model, /*with_empty_children=*/false)) {
      if (e.layer != nullptr && skip.layers.count(e.layer) != 0) skipped_paths.push_back(e.path);
    }
  }
  auto under_skipped = [&](const std::string& path) {
    for (const auto& p : skipped_paths) {
      if (p.empty() || path == p || path.starts_with(p + "/")) return true;
    }
    return false;
  };
  std::vector<std::string> unused;
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& shard : store.shards) {
    std::size_t budget = h5::kMaxNames;
    collect_vars_groups(*shard.file, shard.root.get(), "", 0, budget, groups);
  }
  for (const auto& [path, members] : groups) {
    std::string model_path = path;
    // tf-keras 2.13 names (`_layer_checkpoint_dependencies`) were looked up as `layers`.
    for (std::size_t j; (j = model_path.find("_layer_checkpoint_dependencies")) != std::string::npos;) {
      model_path.replace(j, 30, "layers");
    }
    if (under_skipped(model_path)) continue;
    for (const auto& m : members) {
      const std::string key = vars_path(model_path) + "/" + m;
      if (consumed.count(key) == 0) unused.push_back(key);
    }
  }
  std::sort(unused.begin(), unused.end());
  unused.erase(std::unique(unused.begin(), unused.end()), unused.end());
  for (const auto& s : skipped) log_warning("skipped (skip_mismatch): ", s);
  return LoadStatus(store.label, std::move(unused), std::move(unset), restored);
}

void require_keras3_layout(const File& file);

Shard open_shard(const File& file) {
  Shard s{&file, open_root(file), false};
  s.legacy_dependencies =
      h5::open_object(file, s.root.get(), "_layer_checkpoint_dependencies", ObjectKind::kGroup, "tf-keras 2.13 layers")
          .valid();
  return s;
}

// Opens `path` into the store (kept alive by it) and checks its layout.
void add_file(Store& store, const std::filesystem::path& path) {
  store.owned.push_back(std::make_unique<File>(File::open(path)));
  require_keras3_layout(*store.owned.back());
  store.shards.push_back(open_shard(*store.owned.back()));
}

std::string layout_problem(const File& file) {
  Handle root = open_root(file);
  if (h5::has_attribute(file, root.get(), "layer_names") || h5::object_exists(file, root.get(), "model_weights")) {
    return "is a Keras HDF5 file in the legacy layout (layer_names / model_weights, what tf-keras's save_weights and "
           "model.save('x.h5') write), not Keras 3's weights layout; load it with format 'h5'";
  }
  return "holds no Keras 3 weights: its root has no 'vars', 'layers' or 'optimizer' group";
}

void require_keras3_layout(const File& file) {
  STRATA_CHECK(has_keras3_layout(file), FormatError, file.where(), " ", layout_problem(file));
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.ends_with(suffix);
}

// The sharded form's base name: Path.stem without ".weights" ("x.weights.json" -> "x").
std::string shard_base_name(const std::filesystem::path& manifest) {
  std::string stem = manifest.stem().string();
  for (std::size_t j; (j = stem.find(".weights")) != std::string::npos;) stem.erase(j, 8);
  return stem;
}

std::string shard_name(const std::string& base, std::size_t index) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%05zu", index);
  return base + "_" + digits + ".weights.h5";
}

constexpr std::size_t kMaxShards = 1 << 16;
constexpr std::size_t kMaxManifestBytes = std::size_t{64} << 20;
// ShardedH5IOStore's default max_shard_size: 5 GB (GiB).
constexpr std::uint64_t kDefaultShardBytes = std::uint64_t{5} << 30;

// The shards are written before the manifest, each atomically, but a crash between them can
// leave the previous manifest beside some new shards. Each save stamps its shards and its
// manifest with one id (Strata-only keys, which Keras ignores), so that such a mix is
// refused instead of loading half of one save and half of the other.
constexpr const char* kSaveIdKey = "strata.save_id";

std::string new_save_id() {
  std::random_device random;
  char text[40];
  std::snprintf(text, sizeof text, "%08x%08x%08x%08x", random(), random(), random(), random());
  return text;
}

void check_save_id(const Store& store, const Config& manifest) {
  if (!manifest.contains("metadata") || !manifest["metadata"].is_object() ||
      !manifest["metadata"].contains(kSaveIdKey) || !manifest["metadata"][kSaveIdKey].is_string()) {
    return;  // written by Keras
  }
  const std::string id = manifest["metadata"][kSaveIdKey].get<std::string>();
  for (const auto& shard : store.shards) {
    const auto stamped = h5::read_string_attribute(*shard.file, shard.root.get(), kSaveIdKey);
    STRATA_CHECK(stamped && *stamped == id, FormatError, "'", store.label, "': shard ", shard.file->where(),
                 " belongs to another save than the manifest (an interrupted save?); save the weights again");
  }
}

Store open_sharded(const std::filesystem::path& manifest_path) {
  Store store;
  store.label = manifest_path.string();
  store.sharded = true;
  const std::string text = read_file(manifest_path, kMaxManifestBytes);
  Config manifest;
  try {
    manifest = Config::parse(text);
  } catch (const std::exception& e) {
    STRATA_THROW(FormatError, "'", store.label, "' is not a JSON sharded-weights manifest: ", e.what());
  }
  STRATA_CHECK(manifest.is_object() && manifest.contains("weight_map") && manifest["weight_map"].is_object(),
               FormatError, "'", store.label,
               "' is not a Keras 3 sharded-weights manifest: it has no 'weight_map' object");
  std::map<std::string, std::size_t> index_of;
  auto shard_index = [&](const Config& name) -> std::size_t {
    STRATA_CHECK(name.is_string(), FormatError, "'", store.label, "': a weight_map entry names ", name.dump(),
                 ", not a shard file name");
    const std::string n = name.get<std::string>();
    STRATA_CHECK(!n.empty() && n.find('/') == std::string::npos && n.find('\\') == std::string::npos && n != "." &&
                     n != ".." && n.ends_with(".h5"),
                 FormatError, "'", store.label, "': shard '", n,
                 "' is not a plain '.h5' file name beside the manifest (no directories)");
    if (auto it = index_of.find(n); it != index_of.end()) return it->second;
    STRATA_CHECK(index_of.size() < kMaxShards, FormatError, "'", store.label, "' names more than ", kMaxShards,
                 " shards");
    add_file(store, manifest_path.parent_path() / n);
    index_of.emplace(n, store.shards.size() - 1);
    return store.shards.size() - 1;
  };
  for (const auto& [key, value] : manifest["weight_map"].items()) {
    std::vector<std::size_t> which;
    if (value.is_array()) {
      for (const auto& v : value) which.push_back(shard_index(v));
    } else {
      which.push_back(shard_index(value));
    }
    store.weight_map[key] = std::move(which);
  }
  // Keras opens the first shard whatever the map says; objects without values live there.
  const auto first = manifest_path.parent_path() / shard_name(shard_base_name(manifest_path), 0);
  if (index_of.count(first.filename().string()) == 0 && std::filesystem::exists(first)) {
    shard_index(Config(first.filename().string()));
  }
  STRATA_CHECK(!store.shards.empty(), FormatError, "'", store.label, "' names no shard files");
  check_save_id(store, manifest);
  return store;
}

}  // namespace

h5::Image weights_image(const Model& model, bool include_optimizer, const std::string& label) {
  const auto entries = entries_to_write(model, include_optimizer);
  h5::Session session;
  File file = File::create_in_memory(label);
  {
    Handle root = open_root(file);
    for (const auto& e : entries) {
      Handle group = make_vars_group(file, root.get(), e.path, e.name, true);
      for (std::size_t i = 0; i < e.values.size(); ++i) {
        write_value(file, group.get(), variable_key(e.layer, i), e.values[i]);
      }
    }
  }
  return file.take_image();
}

bool has_keras3_layout(const File& file) {
  h5::Session session;
  Handle root = open_root(file);
  if (h5::has_attribute(file, root.get(), "layer_names") || h5::object_exists(file, root.get(), "model_weights")) {
    return false;
  }
  for (const char* name : {"vars", "layers", "_layer_checkpoint_dependencies", "optimizer"}) {
    if (h5::open_object(file, root.get(), name, ObjectKind::kGroup, "a Keras 3 weights group").valid()) return true;
  }
  return false;
}

LoadStatus read_weights(const File& file, Model& model, const LoadOptions& options, bool restore_optimizer) {
  h5::Session session;
  require_keras3_layout(file);
  Store store;
  store.label = file.label();
  store.shards.push_back(open_shard(file));
  return read_store(store, model, options, restore_optimizer);
}

std::string describe_weights(const File& file) {
  h5::Session session;
  require_keras3_layout(file);
  Handle root = open_root(file);
  std::map<std::string, std::vector<std::string>> groups;
  std::size_t budget = h5::kMaxNames;
  collect_vars_groups(file, root.get(), "", 0, budget, groups);
  std::string out = "Keras 3 weights layout: " + std::to_string(groups.size()) + " objects\n";
  for (const auto& [path, members] : groups) {
    if (path == "optimizer") continue;
    out += "  " + describe_object(path) + ": " + std::to_string(members.size()) + " variables\n";
  }
  if (auto it = groups.find("optimizer"); it != groups.end()) {
    out += "  optimizer: " + std::to_string(it->second.size()) + " variables";
    Handle g = h5::open_object(file, root.get(), "optimizer/vars", ObjectKind::kGroup, "the optimizer state");
    if (g.valid()) {
      if (auto name = h5::read_string_attribute(file, g.get(), "name")) out += " (" + *name + ")";
      Handle it0 = h5::open_object(file, g.get(), "0", ObjectKind::kDataset, "the optimizer's iterations");
      if (it0.valid()) {
        const auto info = h5::inspect_dataset(file, it0.get());
        if (info.shape.rank() == 0) {
          out += ", iterations " +
                 std::to_string(h5::read_dataset(file, it0.get(), info, DType::kInt64).item<std::int64_t>());
        }
      }
    }
    out += "\n";
  }
  return out;
}

std::string describe_weights_file(const std::filesystem::path& path) {
  h5::Session session;
  if (!ends_with(path.string(), ".json")) return describe_weights(File::open(path));
  const Store store = open_sharded(path);
  std::string out = "sharded Keras 3 weights: " + std::to_string(store.shards.size()) + " shard(s)\n";
  for (const auto& shard : store.shards) out += shard.file->where() + ":\n" + describe_weights(*shard.file);
  return out;
}

std::uint64_t shard_size_bytes(double max_shard_size) {
  // ShardedH5IOStore: float(max_shard_size) * 1024**3, compared with whole byte counts, so
  // the floor is the same limit.
  STRATA_CHECK(std::isfinite(max_shard_size) && max_shard_size >= 0 && max_shard_size <= 1e9, ValueError,
               "max_shard_size must be a size in GB (1024^3 bytes) between 0 and 1e9; got ", max_shard_size);
  return static_cast<std::uint64_t>(std::floor(max_shard_size * 1073741824.0));
}

void save_weights_file(const Model& model, const std::filesystem::path& path, const SaveOptions& options,
                       std::uint64_t max_shard_bytes) {
  const std::string p = path.string();
  if (max_shard_bytes == 0 && options.max_shard_size != 0) {
    max_shard_bytes = shard_size_bytes(options.max_shard_size);
    STRATA_CHECK(max_shard_bytes > 0, ValueError, "max_shard_size ", options.max_shard_size,
                 " GB is less than one byte; every variable would be larger than a shard");
  }
  if (!ends_with(p, ".json")) {
    STRATA_CHECK(max_shard_bytes == 0, ValueError,
                 "saving sharded weights (max_shard_size) needs a '.weights.json' path; got '", p, "'");
    const h5::Image image = weights_image(model, /*include_optimizer=*/true, p);
    write_file_atomically(path, image.pieces(), options.overwrite);
    return;
  }
  // ShardedH5IOStore: values in Keras's order, a new shard when one would pass the limit
  // (counting the values' bytes only), a manifest naming the shard of each `vars` group.
  const std::uint64_t limit = max_shard_bytes == 0 ? kDefaultShardBytes : max_shard_bytes;
  STRATA_CHECK(options.overwrite || !std::filesystem::exists(path), IOError, "'", p,
               "' exists and SaveOptions::overwrite is false");
  const auto entries = entries_to_write(model, /*include_optimizer=*/true);
  const std::string base = shard_base_name(path);
  std::vector<std::pair<std::string, h5::Image>> shards;
  Config weight_map = Config::object();
  double total_size = 0;
  const std::string save_id = new_save_id();
  {
    h5::Session session;
    std::optional<File> file;
    std::uint64_t current = 0;
    auto next_shard = [&] {
      if (file) shards.emplace_back(shard_name(base, shards.size()), file->take_image());
      file.emplace(File::create_in_memory(shard_name(base, shards.size())));
      Handle root = open_root(*file);
      h5::write_vlen_string_attribute(*file, root.get(), kSaveIdKey, save_id, H5T_CSET_UTF8);
      current = 0;
    };
    next_shard();
    for (const auto& e : entries) {
      Handle root = open_root(*file);
      Handle group = make_vars_group(*file, root.get(), e.path, e.name, true);
      for (std::size_t i = 0; i < e.values.size(); ++i) {
        const std::uint64_t bytes = value_bytes(e.values[i]);
        STRATA_CHECK(bytes <= limit, ValueError, "variable ", i, " of '", describe_object(e.path), "' takes ", bytes,
                     " bytes, more than the shard size limit of ", limit, " bytes; raise max_shard_size");
        total_size += static_cast<double>(bytes);
        current += bytes;
        if (current > limit) {
          group.reset();
          root.reset();
          next_shard();
          current = bytes;
          root = open_root(*file);
          // Keras creates the continuation group without the name attribute.
          group = make_vars_group(*file, root.get(), e.path, e.name, false);
        }
        write_value(*file, group.get(), std::to_string(i), e.values[i]);
        const std::string key = detail::concat("/", vars_path(e.path));
        const std::string shard = shard_name(base, shards.size());
        if (!weight_map.contains(key)) {
          weight_map[key] = shard;
        } else {
          if (!weight_map[key].is_array()) weight_map[key] = Config::array({weight_map[key]});
          bool listed = false;
          for (const auto& s : weight_map[key]) listed = listed || s == shard;
          if (!listed) weight_map[key].push_back(shard);
        }
      }
    }
    shards.emplace_back(shard_name(base, shards.size()), file->take_image());
  }
  Config manifest = Config::object();
  manifest["metadata"] = Config{{"total_size", total_size}, {kSaveIdKey, save_id}};
  manifest["weight_map"] = weight_map;
  // Shards first, the manifest last: the manifest is the commit point.
  for (const auto& [name, image] : shards) write_file_atomically(path.parent_path() / name, image.pieces(), true);
  write_file_atomically(path, manifest.dump(4), options.overwrite);
}

LoadStatus load_weights_file(Model& model, const std::filesystem::path& path, const LoadOptions& options) {
  h5::Session session;
  if (ends_with(path.string(), ".json")) {
    const Store store = open_sharded(path);
    return read_store(store, model, options, options.compile);
  }
  Store store;
  store.label = path.string();
  add_file(store, path);
  return read_store(store, model, options, options.compile);
}

std::vector<std::pair<std::string, const Layer*>> object_paths(const Model& model) {
  std::vector<std::pair<std::string, const Layer*>> out;
  for (const auto& e : object_entries(model, /*with_empty_children=*/false)) {
    if (e.layer != nullptr) out.emplace_back(e.path, e.layer);
  }
  return out;
}

}  // namespace strata::keras
