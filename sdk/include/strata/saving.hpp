// Saving and loading, as the Keras saving guide does it. The format of each call comes
// from an explicit option, else (saving) the one loaded format that claims the path's
// extension for this use (Format::model_extensions / weights_extensions), else (loading)
// the content (the sniffers of the formats able to load it), then the extension claims.
// With the shipped plugins that gives Keras's rules: ".h5", ".hdf5" and ".keras" → H5,
// ".json" → architecture only, no extension → SavedModel for a model and a TensorFlow
// checkpoint for weights. Errors: ValueError when no loaded format claims the extension
// (listing the extensions that are claimed) or a format is not loaded; PluginError when
// two loaded formats claim the extension for the same use (naming both plugins).
#pragma once

#include "strata/export.hpp"
#include <filesystem>
#include <memory>
#include <string>

#include "strata/format.hpp"
#include "strata/model.hpp"

STRATA_API_BEGIN

namespace strata {

// Whole model: architecture, weights, and (include_optimizer) compile state + optimizer.
void save_model(const Model& model, const std::filesystem::path& path, const SaveOptions& options = {});
std::shared_ptr<Model> load_model(const std::filesystem::path& path, const LoadOptions& options = {});

// The H5 format whatever the extension (Keras's save_model(..., save_format="h5") and
// load_model of an H5 file); `options.format` is ignored.
void save_model_hdf5(const Model& model, const std::filesystem::path& path, const SaveOptions& options = {});
std::shared_ptr<Model> load_model_hdf5(const std::filesystem::path& path, const LoadOptions& options = {});

// Weights only.
void save_weights(const Model& model, const std::filesystem::path& path, const SaveOptions& options = {});
LoadStatus load_weights(Model& model, const std::filesystem::path& path, const LoadOptions& options = {});

// Architecture only: the Keras JSON ({"class_name", "config", "keras_version", "backend"}).
std::string model_to_json(const Model& model);
std::shared_ptr<Model> model_from_json(const std::string& json, const CustomObjects* custom_objects = nullptr);

// Which format a call would use (the same rules as above). Throws ValueError when none
// applies, PluginError when two loaded formats claim the path's extension for this use.
std::shared_ptr<Format> format_for_saving(const std::filesystem::path& path, const std::string& explicit_format,
                                          bool weights_only);
std::shared_ptr<Format> format_for_loading(const std::filesystem::path& path, const std::string& explicit_format,
                                           bool weights_only);

// The Keras version string written into files ("2.17.0": the tf-keras version Strata's
// files are tested against) and Strata's own version attribute name.
inline constexpr const char* kKerasVersion = "2.17.0";
inline constexpr const char* kKerasBackend = "tensorflow";

// Keras's JSON: Python's json.dumps output (", " and ": " separators, non-ASCII escaped),
// and a parser that accepts Python's NaN, Infinity and -Infinity tokens.
std::string to_python_json(const Config& value);
Config parse_python_json(std::string_view text, std::string_view what);

}  // namespace strata

STRATA_API_END
