#include "strata/saving.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "strata/log.hpp"
#include "strata/runtime.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

// The runtime's own extension rules (Keras's): used when no plugin claims the extension.
std::string default_for_extension(const std::string& ext, bool weights_only) {
  if (ext == ".h5" || ext == ".hdf5" || ext == ".keras") return "h5";
  if (ext == ".json") return "json";
  if (ext.empty()) return weights_only ? "checkpoint" : "savedmodel";
  return {};
}

std::shared_ptr<Format> by_extension(const fs::path& path, bool weights_only) {
  const std::string ext = lower_extension(path);
  const std::string builtin = default_for_extension(ext, weights_only);
  if (!builtin.empty()) return get_format(builtin);
  for (const auto& f : available_formats()) {
    const auto exts = f->extensions();
    if (std::find(exts.begin(), exts.end(), ext) != exts.end()) return f;
  }
  STRATA_THROW(ValueError, "no format handles the extension '", ext, "' of '", path.string(),
               "': use .h5/.hdf5/.keras (H5), .json (architecture), no extension (SavedModel / checkpoint), or "
               "name a format explicitly");
}

}  // namespace

std::shared_ptr<Format> format_for_saving(const fs::path& path, const std::string& explicit_format, bool weights_only) {
  initialize();
  if (!explicit_format.empty()) return get_format(explicit_format);
  return by_extension(path, weights_only);
}

std::shared_ptr<Format> format_for_loading(const fs::path& path, const std::string& explicit_format, bool weights_only) {
  initialize();
  if (!explicit_format.empty()) return get_format(explicit_format);
  std::error_code ec;
  STRATA_CHECK(fs::exists(path, ec) || fs::exists(path.string() + ".index", ec), IOError, "'", path.string(),
               "' does not exist");
  // Content first: a weights load prefers formats that can load weights.
  const unsigned wanted = weights_only ? kLoadWeights : (kLoadModel | kLoadArchitecture);
  for (const auto& f : available_formats()) {
    if ((f->capabilities() & wanted) && f->sniff(path)) return f;
  }
  return by_extension(path, weights_only);
}

namespace {

// Config-based formats store a model as its class name and config. A C++ subclass of
// Sequential or Functional that keeps that class name (it did not register a class of its
// own) saves as the plain class: its overrides (train_step, call, ...) are not in the
// file. Keras says the same of a custom train_step in H5; Strata says it when saving.
void warn_what_the_file_cannot_hold(const Model& model, const Format& format) {
  const std::type_info& type = typeid(model);
  if (type == typeid(Sequential) || type == typeid(Functional)) return;
  const std::string& cls = model.class_name();
  if (cls != "Sequential" && cls != "Functional" && cls != "Model") return;
  try {
    (void)model.get_config();
  } catch (const ValueError&) {
    return;  // no config (a model revived from traced functions): not saved as the plain class
  }
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  log_warning("model '", model.name(), "' is a C++ subclass (", status == 0 && name ? name.get() : type.name(),
              ") saved as a plain '", cls, "' by format ", format.name(),
              ": its overridden members (a custom train_step, call, ...) are not saved, and a load gives a '", cls,
              "'. Register the class under its own name to load it as itself.");
}

}  // namespace

void save_model(const Model& model, const fs::path& path, const SaveOptions& options) {
  auto format = format_for_saving(path, options.format, false);
  auto frame = ErrorContext::push("saving model '", model.name(), "' to '", path.string(), "' as ", format->name());
  warn_what_the_file_cannot_hold(model, *format);
  if (format->capabilities() & kSaveModel) {
    format->save_model(model, path, options);
  } else if (format->capabilities() & kSaveArchitecture) {
    format->save_architecture(model, path, options);
  } else {
    STRATA_THROW(ValueError, "format '", format->name(), "' cannot save models");
  }
}

std::shared_ptr<Model> load_model(const fs::path& path, const LoadOptions& options) {
  auto format = format_for_loading(path, options.format, false);
  auto frame = ErrorContext::push("loading a model from '", path.string(), "' as ", format->name());
  std::optional<CustomObjectScope> scope;
  if (options.custom_objects) scope.emplace(*options.custom_objects);
  if (format->capabilities() & kLoadModel) return format->load_model(path, options);
  if (format->capabilities() & kLoadArchitecture) return format->load_architecture(path, options);
  STRATA_THROW(ValueError, "format '", format->name(), "' cannot load models");
}

void save_model_hdf5(const Model& model, const fs::path& path, const SaveOptions& options) {
  SaveOptions h5 = options;
  h5.format = "h5";
  save_model(model, path, h5);
}

std::shared_ptr<Model> load_model_hdf5(const fs::path& path, const LoadOptions& options) {
  LoadOptions h5 = options;
  h5.format = "h5";
  return load_model(path, h5);
}

void save_weights(const Model& model, const fs::path& path, const SaveOptions& options) {
  auto format = format_for_saving(path, options.format, true);
  auto frame = ErrorContext::push("saving the weights of model '", model.name(), "' to '", path.string(), "' as ",
                                  format->name());
  format->save_weights(model, path, options);
}

LoadStatus load_weights(Model& model, const fs::path& path, const LoadOptions& options) {
  auto format = format_for_loading(path, options.format, true);
  auto frame = ErrorContext::push("loading weights into model '", model.name(), "' from '", path.string(), "' as ",
                                  format->name());
  STRATA_CHECK(!options.skip_mismatch || options.by_name, ValueError,
               "skip_mismatch needs by_name=true (as in Keras)");
  return format->load_weights(model, path, options);
}

std::string model_to_json(const Model& model) {
  Config c = model_config(model);
  c["keras_version"] = kKerasVersion;
  c["backend"] = kKerasBackend;
  return to_python_json(c);
}

std::shared_ptr<Model> model_from_json(const std::string& json, const CustomObjects* custom_objects) {
  initialize();
  Config c = parse_python_json(json, "the model JSON");
  STRATA_CHECK(c.is_object() && c.contains("class_name"), FormatError,
               "the model JSON must be an object with class_name and config");
  return model_from_config(c, custom_objects);
}

void Model::save(const fs::path& path, const SaveOptions& options) const { save_model(*this, path, options); }
void Model::save_weights(const fs::path& path, const SaveOptions& options) const {
  strata::save_weights(*this, path, options);
}
LoadStatus Model::load_weights(const fs::path& path, const LoadOptions& options) {
  return strata::load_weights(*this, path, options);
}

}  // namespace strata
