#include "strata/saving.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <optional>
#include <typeinfo>

#include "saving/format_internal.hpp"
#include "strata/log.hpp"
#include "strata/runtime.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string lower_extension(const fs::path& path) { return lower(path.extension().string()); }

// Whether `path` has the claimed extension: the last extension for a claim like ".h5", the
// end of the file name for a compound claim like ".weights.h5" (Keras 3's weights files), no
// extension for "".
bool has_claim(const fs::path& path, const std::string& claim) {
  if (claim.empty()) return lower_extension(path).empty();
  const std::string name = lower(path.filename().string());
  return name.size() > claim.size() && name.compare(name.size() - claim.size(), claim.size(), claim) == 0;
}

const char* use_name(bool weights_only) { return weights_only ? "weights" : "models"; }

// What `format` claims for one use. Only these claims choose a format by extension: the
// runtime has no extension rules of its own.
std::vector<std::string> claims(const Format& format, bool weights_only) {
  return weights_only ? format.weights_extensions() : format.model_extensions();
}

// The longest of `format`'s claims for this use that `path` has; nullopt when none.
std::optional<std::string> matching_claim(const Format& format, bool weights_only, const fs::path& path) {
  std::optional<std::string> best;
  for (const auto& claim : claims(format, weights_only)) {
    if (has_claim(path, claim) && (!best || claim.size() > best->size())) best = claim;
  }
  return best;
}

std::string shown(const std::string& ext) { return ext.empty() ? "(no extension)" : "'" + ext + "'"; }

// "'.h5' (h5), (no extension) (checkpoint)" over the loaded formats' claims for one use.
std::string claimed_extensions(const std::vector<std::shared_ptr<Format>>& formats, bool weights_only) {
  std::string out;
  for (const auto& f : formats) {
    for (const auto& ext : claims(*f, weights_only)) {
      out += detail::concat(out.empty() ? "" : ", ", shown(ext), " (", f->name(), ")");
    }
  }
  return out.empty() ? "none" : out;
}

// The loaded format whose claim for this use matches the path, the longest claim winning
// (".weights.h5" over ".h5"); null when none matches. Two formats with the same longest
// claim are a PluginError.
std::shared_ptr<Format> claimant(const fs::path& path, bool weights_only) {
  std::shared_ptr<Format> found;
  std::string found_claim;
  for (const auto& f : available_formats()) {
    const auto claim = matching_claim(*f, weights_only, path);
    if (!claim || (found && claim->size() < found_claim.size())) continue;
    const std::string ext = *claim;
    STRATA_CHECK(found == nullptr || claim->size() > found_claim.size(), PluginError, "formats '", found->name(), "' (plugin ",
                 format_provider(found->name()), ") and '", f->name(), "' (plugin ", format_provider(f->name()),
                 ") both claim the extension ", shown(ext), " for ", use_name(weights_only), ", so '",
                 path.string(),
                 "' could be either: remove one of the two plugins from the plugin search path, or name the format "
                 "explicitly (SaveOptions/LoadOptions::format, `strata convert --format`)");
    found = f;
    found_claim = *claim;
  }
  return found;
}

// The one loaded format claiming the path's extension for this use.
std::shared_ptr<Format> by_extension(const fs::path& path, bool weights_only) {
  const std::string ext = lower_extension(path);
  const auto formats = available_formats();
  if (auto found = claimant(path, weights_only)) return found;
  // A claim for the other use is the likely mix-up (model.save("w.npz")): say so.
  std::string other;
  for (const auto& f : formats) {
    if (!matching_claim(*f, !weights_only, path)) continue;
    other += detail::concat("; format '", f->name(), "' claims ", shown(ext), " for ", use_name(!weights_only),
                            weights_only ? " (save_model/load_model)"
                                         : " (save_weights/load_weights; on the command line, `strata convert IN OUT "
                                           "--weights-into ARCHITECTURE`)");
  }
  STRATA_THROW(ValueError, "no format handles '", path.string(), "' (extension ", shown(ext), ") for ",
               use_name(weights_only), other, ". Extensions the loaded plugins claim for ", use_name(weights_only),
               ": ", claimed_extensions(formats, weights_only),
               ". Use one of those, name a format explicitly, or load the plugin of the format you need "
               "(`strata plugins --verbose` lists each format's extensions)");
}

}  // namespace

std::shared_ptr<Format> format_for_saving(const fs::path& path, const std::string& explicit_format, bool weights_only) {
  initialize();
  if (!explicit_format.empty()) return get_format(explicit_format);
  return by_extension(path, weights_only);
}

namespace {

// Whether `path` exists or is the prefix of files beside it (PATH.something, as a
// checkpoint's PREFIX.index): a load of a path that names nothing is an IOError.
bool names_something(const fs::path& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) return true;
  const std::string stem = path.filename().string() + ".";
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(stem, 0) == 0) return true;
  }
  return false;
}

}  // namespace

std::shared_ptr<Format> format_for_loading(const fs::path& path, const std::string& explicit_format, bool weights_only) {
  initialize();
  if (!explicit_format.empty()) return get_format(explicit_format);
  // Content first: a weights load prefers formats that can load weights. What a path names
  // is the format's business (a checkpoint prefix is PREFIX.index on disk; a store may keep
  // nothing on disk at all), so existence is asked only when no format recognised the path.
  const unsigned wanted = weights_only ? kLoadWeights : (kLoadModel | kLoadArchitecture);
  // The format claiming the extension, when it recognises the content, before the others:
  // a Keras 3 "x.weights.h5" is HDF5 to format-h5 too, but its layout is format-keras's.
  if (auto claimed = claimant(path, weights_only); claimed && (claimed->capabilities() & wanted) && claimed->sniff(path)) {
    return claimed;
  }
  for (const auto& f : available_formats()) {
    if ((f->capabilities() & wanted) && f->sniff(path)) return f;
  }
  STRATA_CHECK(names_something(path), IOError, "'", path.string(), "' does not exist");
  return by_extension(path, weights_only);
}

namespace {

// Config-based formats store a model as its class name and config. A C++ subclass of
// Sequential or Functional that keeps that class name (it did not register a class of its
// own) saves as the plain class: its overrides (train_step, call, ...) are not in the
// file. Keras says the same of a custom train_step in H5; Strata says it when saving.
void warn_what_the_file_cannot_hold(const Model& model, const Format& format) {
  if (const std::size_t n = model.loss_functions().size(); n > 0) {
    // The Keras guide, on H5: "External losses & metrics added via model.add_loss() &
    // model.add_metric() are not saved (unlike SavedModel)". Strata's SavedModel cannot hold
    // a C++ function either; tensors given to add_loss/add_metric are layers of the model
    // and are saved by every format.
    log_warning("model '", model.name(), "' has ", n, " loss", n == 1 ? "" : "es",
                " added with add_loss(function): external losses added via model.add_loss() are not saved by format ",
                format.name(), " (the Keras guide's limitation of H5; a C++ function is code, so no Strata format "
                "holds it). To resume training, add them back after loading the model.");
  }
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
    STRATA_THROW(ValueError, "format '", format->name(), "' cannot save models",
                 format_capability_hint(*format, kSaveModel));
  }
}

std::shared_ptr<Model> load_model(const fs::path& path, const LoadOptions& options) {
  auto format = format_for_loading(path, options.format, false);
  auto frame = ErrorContext::push("loading a model from '", path.string(), "' as ", format->name());
  std::optional<CustomObjectScope> scope;
  if (options.custom_objects) scope.emplace(*options.custom_objects);
  if (format->capabilities() & kLoadModel) return format->load_model(path, options);
  if (format->capabilities() & kLoadArchitecture) return format->load_architecture(path, options);
  STRATA_THROW(ValueError, "format '", format->name(), "' cannot load models",
               format_capability_hint(*format, kLoadModel));
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
