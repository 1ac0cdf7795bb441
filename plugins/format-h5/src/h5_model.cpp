#include "h5_model.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "strata/config_reader.hpp"
#include "strata/device.hpp"
#include "strata/log.hpp"
#include "strata/plugin/file_shaped_weights.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/ops.hpp"
#include "strata/optimizer.hpp"
#include "strata/saving.hpp"
#include "strata/version.hpp"

namespace strata::h5 {
namespace {

// A JSON attribute larger than this is refused before it is parsed (real configs are
// kilobytes; the HDF5 reader already bounds the allocation by kMaxStringBytes).
constexpr const char* kWeightNames = "weight_names";
constexpr const char* kLayerNames = "layer_names";
constexpr const char* kTopLevel = "top_level_model_weights";

Handle open_root(const File& file) {
  Handle root(H5Gopen2(file.id(), "/", H5P_DEFAULT));
  STRATA_CHECK(root.valid(), FormatError, file.where(), ": cannot open the root group", hdf5_detail());
  return root;
}

// Whether a layer name can be a group path below the weights group. h5py turns each '/' of
// a tf-keras layer name ("conv1/conv", as DenseNet's) into a nested group, so a name is
// valid when no component is empty, "." or "..".
bool is_group_path(const std::string& name) {
  if (name.empty()) return false;
  std::size_t i = 0;
  while (i <= name.size()) {
    const std::size_t j = std::min(name.find('/', i), name.size());
    const std::string_view part(name.data() + i, j - i);
    if (part.empty() || part == "." || part == "..") return false;
    i = j + 1;
  }
  return true;
}

// tf-keras's _legacy_weights: trainable weights, then non-trainable ones.
std::vector<Variable> legacy_weights(const Layer& layer) {
  std::vector<Variable> out = layer.trainable_weights();
  const std::vector<Variable> rest = layer.non_trainable_weights();
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

// The model's own variables (Keras's top_level_model_weights): weights the model holds
// itself rather than through one of its layers.
std::vector<Variable> top_level_weights(const Model& model) {
  std::vector<Variable> out;
  for (const auto& w : model.own_weights()) out.push_back(w.variable);
  return out;
}

// A TF variable name as Keras 2 writes it: "dense/kernel:0". Empty components are
// dropped so the name is a valid HDF5 path below the layer group.
std::string dataset_name(const std::string& variable_name) {
  std::string out;
  std::size_t i = 0;
  while (i <= variable_name.size()) {
    const std::size_t j = std::min(variable_name.find('/', i), variable_name.size());
    const std::string part = variable_name.substr(i, j - i);
    if (!part.empty() && part != "." && part != "..") out += (out.empty() ? "" : "/") + part;
    i = j + 1;
  }
  if (out.empty()) out = "weight";
  const auto colon = out.rfind(':');
  const bool has_index = colon != std::string::npos && colon + 1 < out.size() &&
                         out.find('/', colon) == std::string::npos &&
                         std::all_of(out.begin() + static_cast<std::ptrdiff_t>(colon) + 1, out.end(),
                                     [](char c) { return c >= '0' && c <= '9'; });
  return has_index ? out : out + ":0";
}

void write_weight_list(const File& file, hid_t group, const std::vector<Variable>& weights) {
  std::vector<std::string> names;
  std::set<std::string> used;
  for (const auto& w : weights) {
    std::string name = dataset_name(w.name());
    // Names only need to be unique within the group (loading is positional); two weights
    // with one name (possible in Strata) get a suffix rather than a failed save.
    for (int k = 1; used.count(name) != 0; ++k) name = dataset_name(w.name() + "_" + std::to_string(k));
    used.insert(name);
    names.push_back(std::move(name));
  }
  write_name_list(file, group, kWeightNames, names);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    write_dataset(file, group, names[i], weights[i].value().to(Device::cpu()));
  }
}

// save_weights_to_hdf5_group: layer_names, backend, keras_version on `group`, one group
// per layer (created in name order), then top_level_model_weights.
void write_model_weights(const File& file, hid_t group, const Model& model) {
  const auto layers = model.layers();
  std::vector<std::string> names;
  for (const auto& l : layers) {
    const std::string& n = l->name();
    STRATA_CHECK(is_group_path(n) && n != kTopLevel, ValueError, "layer name '", n,
                 "' cannot be an HDF5 group path: it must not be empty, start or end with '/', contain '//', '.' or "
                 "'..' components, or be '", kTopLevel, "'; rename the layer");
    names.push_back(n);
  }
  write_name_list(file, group, kLayerNames, names);
  write_vlen_string_attribute(file, group, "backend", kKerasBackend, H5T_CSET_ASCII);
  write_vlen_string_attribute(file, group, "keras_version", kKerasVersion, H5T_CSET_ASCII);
  auto sorted = layers;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a->name() < b->name(); });
  for (std::size_t i = 0; i + 1 < sorted.size(); ++i) {
    STRATA_CHECK(sorted[i]->name() != sorted[i + 1]->name(), ValueError, "two layers of model '", model.name(),
                 "' are named '", sorted[i]->name(), "'; H5 files need unique layer names");
  }
  for (const auto& l : sorted) {
    Handle g = create_group(file, group, l->name());
    write_weight_list(file, g.get(), legacy_weights(*l));
  }
  Handle top = create_group(file, group, kTopLevel);
  write_weight_list(file, top.get(), top_level_weights(model));
}

// ---- reading ----------------------------------------------------------------------------------

struct FileLayer {
  std::string name;
  Handle group;
  std::vector<std::string> weight_names;
};

std::vector<std::string> require_names(const File& file, hid_t obj, const std::string& attr, std::string_view what) {
  auto names = read_chunked_names(file, obj, attr);
  STRATA_CHECK(names.has_value(), FormatError, file.where(), ": ", what, " (", object_path(obj), ") has no '", attr,
               "' attribute: not a Keras H5 weights group");
  return std::move(*names);
}

FileLayer open_file_layer(const File& file, hid_t weights_root, const std::string& name) {
  FileLayer fl;
  fl.name = name;
  const std::string what = "layer group '" + name + "'";
  STRATA_CHECK(is_group_path(name), FormatError, file.where(), ": layer_names lists '", name,
               "', which is not a group path below the weights group");
  fl.group = require_object(file, weights_root, name, ObjectKind::kGroup, what);
  fl.weight_names = require_names(file, fl.group.get(), kWeightNames, what);
  return fl;
}

std::vector<FileLayer> file_layers(const File& file, hid_t weights_root) {
  const auto names = require_names(file, weights_root, kLayerNames, "the weights group");
  std::vector<FileLayer> out;
  out.reserve(names.size());
  for (const auto& n : names) out.push_back(open_file_layer(file, weights_root, n));
  return out;
}

// The group holding layer_names: the root of a weights file, model_weights of a model file.
Handle weights_root(const File& file) {
  Handle root = open_root(file);
  if (has_attribute(file, root.get(), kLayerNames) || has_attribute(file, root.get(), std::string(kLayerNames) + "0")) {
    return root;
  }
  Handle mw = open_object(file, root.get(), "model_weights", ObjectKind::kGroup, "the model_weights group");
  // Keras 3's own weights layout (save_weights("x.weights.h5"), the inside of a .keras
  // archive): objects' variables under <path>/vars/<i>.
  STRATA_CHECK(mw.valid() || !(object_exists(file, root.get(), "vars") || object_exists(file, root.get(), "layers")),
               FormatError, file.where(),
               " holds weights in Keras 3's layout (groups 'layers/.../vars'), which format 'keras' reads: name the "
               "file '.weights.h5' or load it with format 'keras' (plugin format-keras)");
  STRATA_CHECK(mw.valid(), FormatError, file.where(),
               " holds no Keras weights: neither a 'layer_names' attribute at the root nor a 'model_weights' group");
  return mw;
}

std::string shape_text(const Shape& s) { return s.to_string(); }

// Reads the value of weight `index` of a file layer for `target`. nullopt when the shapes
// differ and `skip` is set (a warning is added to `skipped`).
std::optional<Tensor> read_weight(const File& file, const FileLayer& fl, std::size_t index, const Variable& target,
                                  const std::string& model_layer, bool skip, std::vector<std::string>& skipped) {
  const std::string& wname = fl.weight_names[index];
  const std::string what = "weight '" + wname + "' of layer '" + fl.name + "'";
  Handle ds = require_object(file, fl.group.get(), wname, ObjectKind::kDataset, what);
  const DatasetInfo info = inspect_dataset(file, ds.get());
  if (!accepts_shape(target, info.shape)) {
    if (skip) {
      skipped.push_back(detail::concat("layer '", model_layer, "' weight ", index, " ('", target.name(), "' ",
                                       shape_text(target.shape()), "; file has ", shape_text(info.shape), ")"));
      return std::nullopt;
    }
    STRATA_THROW(FormatError, file.where(), ": weight ", index, " of layer '", fl.name, "' ('", wname, "') has shape ",
                 shape_text(info.shape), " but the model's weight '", target.name(), "' of layer '", model_layer,
                 "' has shape ", shape_text(target.shape()));
  }
  return read_dataset(file, ds.get(), info, target.dtype());
}

struct Assignment {
  Variable variable;
  Tensor value;
};

void assign_all(const std::vector<Assignment>& todo) {
  for (const auto& a : todo) {
    Variable v = a.variable;
    v.assign(a.value);
  }
}

// The guide's mistake (issue 19): the weights of a model nested in `model` (its
// `pretrained` inside a Sequential) loaded into the outer model. When the file's layers
// with weights are, by name and weight count, those of a nested model: a ValueError
// naming it and the call that loads them. Otherwise nothing.
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

void throw_if_nested_model_weights(const File& file, const std::vector<FileLayer>& in_file, const Model& model) {
  std::vector<std::pair<std::shared_ptr<const Model>, std::string>> candidates;
  nested_models(model, "model", candidates);
  for (const auto& candidate : candidates) {
    const Model& nested = *candidate.first;
    std::vector<std::shared_ptr<Layer>> with_weights;
    for (const auto& l : nested.layers()) {
      if (!legacy_weights(*l).empty()) with_weights.push_back(l);
    }
    if (with_weights.size() != in_file.size() || with_weights.empty()) continue;
    bool same = true;
    for (std::size_t i = 0; i < in_file.size() && same; ++i) {
      same = with_weights[i]->name() == in_file[i].name &&
             legacy_weights(*with_weights[i]).size() == in_file[i].weight_names.size();
    }
    if (!same) continue;
    std::string names;
    for (const auto& fl : in_file) names += (names.empty() ? "" : ", ") + fl.name;
    STRATA_THROW(ValueError, file.where(), " holds the weights of model '", nested.name(), "' (class ",
                 nested.class_name(), ", layers ", names, "), which is nested in model '", model.name(),
                 "' as a layer, not the weights of '", model.name(), "' itself: load it into that layer, ",
                 candidate.second, ".load_weights(\"", file.label(), "\")");
  }
}

LoadStatus load_topological(const File& file, hid_t root, Model& model) {
  std::vector<FileLayer> in_file;
  for (auto& fl : file_layers(file, root)) {
    if (!fl.weight_names.empty()) in_file.push_back(std::move(fl));
  }
  std::vector<std::shared_ptr<Layer>> in_model;
  for (const auto& l : model.layers()) {
    if (!legacy_weights(*l).empty()) in_model.push_back(l);
  }
  auto names_of = [](const auto& list, auto get) {
    std::string s;
    for (const auto& x : list) s += (s.empty() ? "" : ", ") + get(x);
    return s;
  };
  bool fits = in_file.size() == in_model.size();
  for (std::size_t i = 0; i < in_file.size() && fits; ++i) {
    fits = in_file[i].weight_names.size() == legacy_weights(*in_model[i]).size();
  }
  if (!fits) throw_if_nested_model_weights(file, in_file, model);
  STRATA_CHECK(in_file.size() == in_model.size(), FormatError, file.where(), " holds weights for ", in_file.size(),
               " layers (", names_of(in_file, [](const FileLayer& f) { return f.name; }), ") but model '", model.name(),
               "' has ", in_model.size(), " layers with weights (",
               names_of(in_model, [](const std::shared_ptr<Layer>& l) { return l->name(); }),
               "); load by_name to match layers by name");
  std::vector<Assignment> todo;
  std::vector<std::string> unused;
  for (std::size_t i = 0; i < in_file.size(); ++i) {
    const FileLayer& fl = in_file[i];
    const auto targets = legacy_weights(*in_model[i]);
    STRATA_CHECK(fl.weight_names.size() == targets.size(), FormatError, file.where(), ": layer #", i, " '", fl.name,
                 "' in the file has ", fl.weight_names.size(), " weights but layer '", in_model[i]->name(),
                 "' of the model has ", targets.size());
    for (std::size_t k = 0; k < targets.size(); ++k) {
      todo.push_back({targets[k], *read_weight(file, fl, k, targets[k], in_model[i]->name(), false, unused)});
    }
  }
  const auto top_targets = top_level_weights(model);
  Handle top = open_object(file, root, kTopLevel, ObjectKind::kGroup, "top_level_model_weights");
  FileLayer top_layer;
  if (top.valid()) {
    top_layer.name = kTopLevel;
    top_layer.weight_names = require_names(file, top.get(), kWeightNames, "top_level_model_weights");
    top_layer.group = std::move(top);
  }
  STRATA_CHECK(top_layer.weight_names.size() == top_targets.size(), FormatError, file.where(), " holds ",
               top_layer.weight_names.size(), " top-level model weights but model '", model.name(), "' has ",
               top_targets.size());
  for (std::size_t k = 0; k < top_targets.size(); ++k) {
    todo.push_back({top_targets[k], *read_weight(file, top_layer, k, top_targets[k], model.name(), false, unused)});
  }
  assign_all(todo);
  // Weights of the model that no layer of the file set (a layer's weights outside
  // model.layers(), say): named, so that a whole-model load can refuse them (issue 19).
  std::vector<std::string> unset;
  for (const auto& w : model.weights()) {
    const bool set = std::any_of(todo.begin(), todo.end(), [&](const Assignment& a) { return a.variable == w; });
    if (!set) unset.push_back(w.name());
  }
  return LoadStatus(file.label(), {}, std::move(unset), todo.size());
}

LoadStatus load_by_name(const File& file, hid_t root, Model& model, bool skip_mismatch) {
  const auto layers = model.layers();
  std::map<std::string, std::vector<std::shared_ptr<Layer>>> by_name;
  for (const auto& l : layers) by_name[l->name()].push_back(l);
  std::vector<Assignment> todo;
  std::vector<std::string> unused, skipped;
  std::set<const Layer*> restored_layers;
  for (const auto& fl : file_layers(file, root)) {
    auto it = by_name.find(fl.name);
    if (it == by_name.end()) {
      if (!fl.weight_names.empty()) {
        unused.push_back(detail::concat("layer '", fl.name, "' (", fl.weight_names.size(), " weights)"));
      }
      continue;
    }
    for (const auto& l : it->second) {
      const auto targets = legacy_weights(*l);
      if (targets.size() != fl.weight_names.size()) {
        STRATA_CHECK(skip_mismatch, FormatError, file.where(), ": layer '", fl.name, "' has ",
                     fl.weight_names.size(), " weights in the file but ", targets.size(),
                     " in the model (skip_mismatch=true skips such layers)");
        skipped.push_back(detail::concat("layer '", l->name(), "' (", targets.size(), " weights in the model, ",
                                         fl.weight_names.size(), " in the file)"));
        continue;
      }
      bool any = false;
      for (std::size_t k = 0; k < targets.size(); ++k) {
        if (auto v = read_weight(file, fl, k, targets[k], l->name(), skip_mismatch, skipped)) {
          todo.push_back({targets[k], std::move(*v)});
          any = true;
        }
      }
      if (any || targets.empty()) restored_layers.insert(l.get());
    }
  }
  std::vector<std::string> unset;
  for (const auto& l : layers) {
    if (!legacy_weights(*l).empty() && restored_layers.count(l.get()) == 0) {
      unset.push_back(detail::concat("layer '", l->name(), "'"));
    }
  }
  if (todo.empty() && !unset.empty()) {
    std::vector<FileLayer> in_file;
    for (auto& fl : file_layers(file, root)) {
      if (!fl.weight_names.empty()) in_file.push_back(std::move(fl));
    }
    throw_if_nested_model_weights(file, in_file, model);
  }
  STRATA_CHECK(!todo.empty() || (unset.empty() && skipped.empty()), FormatError, file.where(),
               ": no layer of model '", model.name(), "' matched a layer of the file by name",
               unused.empty() ? std::string() : detail::concat(" (the file has ", unused.size(), " layers with weights)"));
  assign_all(todo);
  unset.insert(unset.end(), skipped.begin(), skipped.end());
  if (!unused.empty() || !unset.empty()) {
    std::string text = detail::concat("loading weights by name from ", file.where(), " into model '", model.name(),
                                      "': ", todo.size(), " weights restored");
    if (!unset.empty()) {
      text += "; not restored:";
      for (const auto& u : unset) text += " " + u + ";";
    }
    if (!unused.empty()) {
      text += " unused in the file:";
      for (const auto& u : unused) text += " " + u + ";";
    }
    log_warning(text);
  }
  LoadStatus status(file.label(), std::move(unused), std::move(unset), todo.size());
  status.expect_partial();  // reported above
  return status;
}

// A subclassed model (not Sequential/Functional) has no input layers: Strata's H5 writes the
// shapes it was built with next to its config, as Keras 3 does ("build_config":
// {"input_shape": ...}), so that the loader can build it before reading its weights.
bool is_subclassed(const Model& model) {
  return dynamic_cast<const Sequential*>(&model) == nullptr && dynamic_cast<const Functional*>(&model) == nullptr;
}

Config build_config_of(const Model& model) {
  Config shapes = Config::array();
  for (const auto& shape : model.build_input_shapes()) {
    Config dims = Config::array();
    for (const std::int64_t d : shape.dims()) dims.push_back(d < 0 ? Config() : Config(d));
    shapes.push_back(dims);
  }
  Config bc = Config::object();
  bc["input_shape"] = shapes.size() == 1 ? Config(shapes[0]) : shapes;
  return bc;
}

// Calls an unbuilt model once on zeros of its build_config's input shape (unknown
// dimensions: 1). The shape comes from the file: the zeros are bounded before allocating.
Config read_json_attribute(const File& file, hid_t obj, const std::string& name) {
  auto text = read_string_attribute(file, obj, name);
  STRATA_CHECK(text.has_value(), FormatError, file.where(), " has no '", name, "' attribute");
  return parse_python_json(*text, detail::concat("the '", name, "' attribute of ", file.where()));
}

// Keras's hyper-parameter variables that legacy (OptimizerV2) and Keras 3 files list
// among the optimizer weights; Strata's optimizers hold them as numbers, not variables.
bool is_hyper_variable(const std::string& name, const DatasetInfo& info) {
  if (info.shape.rank() != 0) return false;
  std::string last = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
  last = last.substr(0, last.find(':'));
  static const std::set<std::string> kHypers = {"learning_rate", "lr", "beta_1", "beta_2", "decay", "rho",
                                                "momentum", "epsilon", "initial_accumulator_value"};
  return kHypers.count(last) != 0;
}

// The variables whose slots a tf-keras 2.11+ (or Strata) optimizer's weight names list,
// in their order ("Adam/m/norm/gamma:0" is a slot of the model's "norm/gamma"). Empty when
// the names are of another layout (legacy "Adam/norm/gamma/m:0", Keras 3) or one matches
// no weight of `model`. The optimizer was built over the variables trainable when it first
// stepped, which need not be those trainable now: a layer frozen after training, without
// a new compile, keeps its slots, in tf-keras as in Strata.
std::vector<Variable> slot_owners(const std::vector<std::string>& names, const Model& model) {
  const auto weights = model.weights();
  std::set<std::string> seen;
  for (const auto& w : weights) {
    if (!seen.insert(w.name()).second) return {};  // names do not tell the weights apart
  }
  std::vector<Variable> out;
  for (std::size_t i = 1; i < names.size(); ++i) {
    std::string name = names[i].substr(0, names[i].find(':'));
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

void restore_optimizer(const File& file, hid_t group, Model& model, const Config& optimizer_config) {
  const auto names = require_names(file, group, kWeightNames, "optimizer_weights");
  Optimizer& opt = *model.optimizer();
  const auto owners = slot_owners(names, model);
  opt.build(owners.empty() ? model.trainable_weights() : owners);
  const auto vars = opt.variables();
  std::int64_t largest = 1;
  for (const auto& v : vars) largest = std::max(largest, v.shape().num_elements());
  bool legacy = optimizer_config.is_object() && optimizer_config.contains("config") &&
                optimizer_config["config"].is_object() &&
                ConfigReader(optimizer_config["config"], file.where() + ": optimizer_config")
                    .optional("is_legacy_optimizer", false);
  std::vector<Tensor> values;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string what = "optimizer weight '" + names[i] + "'";
    Handle ds = require_object(file, group, names[i], ObjectKind::kDataset, what);
    const DatasetInfo info = inspect_dataset(file, ds.get());
    const std::string base = names[i].substr(0, names[i].find(':'));
    if (i == 0 && (base == "iter" || base.ends_with("/iter"))) legacy = true;
    if (i > 0 && is_hyper_variable(names[i], info)) continue;
    STRATA_CHECK(info.shape.num_elements() <= largest, FormatError, file.where(), ": ", what, " has shape ",
                 info.shape.to_string(), ", larger than any variable of optimizer '", opt.name(), "'");
    values.push_back(read_dataset(file, ds.get(), info, info.dtype.value_or(DType::kFloat32)));
  }
  // A model compiled but never trained in tf-keras has an optimizer that was never built:
  // its file holds the step counter only, at 0. The fresh state loses nothing; tf-keras
  // loads it silently too.
  if (values.size() == 1 && vars.size() > 1 && values[0].shape().rank() == 0 &&
      cast(values[0].to(Device::cpu()), DType::kFloat64).to_vector<double>()[0] == 0.0) {
    return;
  }
  try {
    opt.set_weights(values, legacy ? Optimizer::WeightLayout::kLegacy : Optimizer::WeightLayout::kCurrent);
  } catch (const Error& e) {
    // tf-keras does the same: the model loads, the optimizer starts fresh, and it says so.
    log_warning("the optimizer state in ", file.where(), " does not fit optimizer '", opt.name(),
                "' of the loaded model, which starts from a fresh state: ", e.message());
  }
}

}  // namespace

Image model_image(const Model& model, const SaveOptions& options, const std::string& label) {
  Session session;
  Config config = model_config(model);
  if (is_subclassed(model) && model.built() && !model.build_input_shapes().empty()) {
    config["build_config"] = build_config_of(model);
  }
  File file = File::create_in_memory(label);
  Handle root = open_root(file);
  write_vlen_string_attribute(file, root.get(), "keras_version", kKerasVersion, H5T_CSET_UTF8);
  write_vlen_string_attribute(file, root.get(), "backend", kKerasBackend, H5T_CSET_UTF8);
  write_vlen_string_attribute(file, root.get(), "model_config", to_python_json(config), H5T_CSET_ASCII);
  const bool with_training = options.include_optimizer && model.is_compiled();
  if (with_training) {
    write_vlen_string_attribute(file, root.get(), "training_config", to_python_json(model.training_config()),
                                H5T_CSET_ASCII);
  }
  write_vlen_string_attribute(file, root.get(), "strata_version", runtime_version(), H5T_CSET_UTF8);
  {
    Handle mw = create_group(file, root.get(), "model_weights");
    write_model_weights(file, mw.get(), model);
  }
  if (with_training) {
    const auto vars = model.optimizer()->variables();
    if (!vars.empty()) {
      Handle og = create_group(file, root.get(), "optimizer_weights");
      write_weight_list(file, og.get(), vars);
    }
  }
  root.reset();
  return file.take_image();
}

Image weights_image(const Model& model, const std::string& label) {
  Session session;
  File file = File::create_in_memory(label);
  Handle root = open_root(file);
  write_model_weights(file, root.get(), model);
  root.reset();
  return file.take_image();
}

namespace {

// The root's model_config, checked (a whole-model file).
Config read_model_config(const File& file, hid_t root) {
  STRATA_CHECK(has_attribute(file, root, "model_config"), FormatError, file.where(),
               " has no 'model_config' attribute: it holds weights only (use load_weights on a model built in code)");
  Config config = read_json_attribute(file, root, "model_config");
  STRATA_CHECK(config.is_object() && config.contains("class_name") && config.contains("config"), FormatError,
               file.where(), ": model_config must be an object with 'class_name' and 'config'");
  return config;
}

// The file holds every weight of its model (float16 at the smallest, read into at most
// float64: 4x), so a config that asks for more is refused before allocating.
std::uint64_t weight_budget_bytes(const File& file) { return 4 * file.size() + (std::uint64_t{16} << 20); }

// Compiles `model` from the root's training_config, when there is one with an optimizer,
// and with `restore_state` restores the optimizer_weights group.
void compile_from_training_config(const File& file, hid_t root, Model& model, bool restore_state) {
  if (!has_attribute(file, root, "training_config")) return;
  const Config tc = read_json_attribute(file, root, "training_config");
  STRATA_CHECK(tc.is_object(), FormatError, file.where(), ": training_config is not a JSON object");
  if (!tc.contains("optimizer_config") || tc["optimizer_config"].is_null()) return;
  auto frame = ErrorContext::push("compiling the model from the training_config of ", file.where());
  Config metrics = tc.value("metrics", Config());
  // tf-keras writes metrics nested per output ([[...]]); compile reads a single-output
  // model's metrics as one flat list.
  if (model.outputs().size() == 1 && metrics.is_array() && metrics.size() == 1 && metrics[0].is_array()) {
    metrics = Config(metrics[0]);
  }
  model.compile(tc["optimizer_config"], tc.value("loss", Config()), metrics, tc.value("loss_weights", Config()));
  if (!restore_state) return;
  Handle og = open_object(file, root, "optimizer_weights", ObjectKind::kGroup, "optimizer_weights");
  if (og.valid()) restore_optimizer(file, og.get(), model, tc["optimizer_config"]);
}

}  // namespace

std::shared_ptr<Model> read_model(const File& file, const LoadOptions& options) {
  Session session;
  Handle root = open_root(file);
  const Config config = read_model_config(file, root.get());
  Handle mw = open_object(file, root.get(), "model_weights", ObjectKind::kGroup, "the model_weights group");
  STRATA_CHECK(mw.valid(), FormatError, file.where(), " has a model_config but no 'model_weights' group");
  const std::uint64_t budget_bytes = weight_budget_bytes(file);
  std::shared_ptr<Model> model;
  {
    // Every weight is about to be read from the file: skip the initializers (for a
    // 100M-parameter model they cost more than the read).
    WeightBudget budget(budget_bytes, "the model_config of " + file.where());
    SkipWeightInitializers skip;
    model = model_from_config(config, options.custom_objects);
    build_from_build_config(*model, config, file.where());
  }
  LoadStatus status = load_topological(file, mw.get(), *model);
  if (status.restored() != model->weights().size()) {
    // Some weight is not in the file (it would hold whatever its memory held): build
    // again with initializers; unless partial loads are allowed that is an error.
    status.assert_model_weights_restored(*model, options.allow_partial_checkpoint);
    WeightBudget budget(budget_bytes, "the model_config of " + file.where());
    model = model_from_config(config, options.custom_objects);
    build_from_build_config(*model, config, file.where());
    load_topological(file, mw.get(), *model).expect_partial();
  }
  status.expect_partial();
  if (options.compile) compile_from_training_config(file, root.get(), *model, true);
  return model;
}

std::shared_ptr<Model> read_architecture(const File& file, const LoadOptions& options) {
  Session session;
  Handle root = open_root(file);
  const Config config = read_model_config(file, root.get());
  std::shared_ptr<Model> model;
  {
    WeightBudget budget(weight_budget_bytes(file), "the model_config of " + file.where());
    model = model_from_config(config, options.custom_objects);
    build_from_build_config(*model, config, file.where());
  }
  if (options.compile) compile_from_training_config(file, root.get(), *model, false);
  return model;
}

LoadStatus read_weights(const File& file, Model& model, const LoadOptions& options) {
  Session session;
  Handle root = weights_root(file);
  if (options.by_name) return load_by_name(file, root.get(), model, options.skip_mismatch);
  return load_topological(file, root.get(), model);
}

std::string describe_file(const File& file) {
  Session session;
  Handle root = open_root(file);
  const bool whole = has_attribute(file, root.get(), "model_config");
  std::string out = std::string("format: h5 (Keras HDF5, ") + (whole ? "whole model" : "weights only") + ")\n";
  Handle wr = weights_root(file);
  for (const char* key : {"keras_version", "backend", "strata_version"}) {
    hid_t where = root.get();
    if (!has_attribute(file, where, key)) where = wr.get();
    if (has_attribute(file, where, key)) {
      if (auto v = read_string_attribute(file, where, key)) out += std::string(key) + ": " + *v + "\n";
    }
  }
  if (whole) {
    const Config c = read_json_attribute(file, root.get(), "model_config");
    out += "class: " + (c.contains("class_name") && c["class_name"].is_string() ? c["class_name"].get<std::string>()
                                                                               : std::string("?")) + "\n";
  }
  const auto layers = file_layers(file, wr.get());
  std::size_t weights = 0;
  for (const auto& l : layers) weights += l.weight_names.size();
  out += detail::concat("layers: ", layers.size(), " (", weights, " weight arrays)\n");
  // A weights-only file has no architecture to show: list its layers and weight arrays
  // (name, dtype, shape), as h5py would show them.
  if (!whole) {
    for (const auto& l : layers) {
      out += "  " + l.name + (l.weight_names.empty() ? std::string(" (no weights)") : std::string()) + "\n";
      for (const auto& w : l.weight_names) {
        Handle ds = open_object(file, l.group.get(), w, ObjectKind::kDataset, "weight '" + w + "' of layer '" + l.name + "'");
        if (!ds.valid()) {
          out += "    " + w + " (missing)\n";
          continue;
        }
        const DatasetInfo info = inspect_dataset(file, ds.get());
        out += "    " + w + " " + info.type + shape_text(info.shape) + "\n";
      }
    }
  }
  if (whole && has_attribute(file, root.get(), "training_config")) {
    const Config tc = read_json_attribute(file, root.get(), "training_config");
    if (tc.is_object() && tc.contains("optimizer_config") && tc["optimizer_config"].is_object()) {
      out += "optimizer: " + ConfigReader(tc["optimizer_config"], file.where() + ": optimizer_config")
                                 .optional("class_name", "?") + "\n";
    }
  }
  Handle og = open_object(file, root.get(), "optimizer_weights", ObjectKind::kGroup, "optimizer_weights");
  if (og.valid()) {
    out += detail::concat("optimizer state: ", require_names(file, og.get(), kWeightNames, "optimizer_weights").size(),
                          " arrays\n");
  }
  return out;
}


}  // namespace strata::h5
