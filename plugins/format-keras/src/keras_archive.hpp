// Keras 3's `.keras` archive as a whole (FORMATS.md, "The .keras archive"): metadata.json,
// config.json (the model in Keras 3's config dialect, with build_config and
// compile_config), model.weights.h5 (Keras 3's weights layout, keras3_weights.hpp) and
// assets/, zipped (zip_archive.hpp) or as a directory (Keras 3's zipped=False).
//
// Private to format-keras; the fuzzer (tests/fuzz/keras_archive_fuzzer.cpp) calls
// load_archive_bytes directly.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "strata/format.hpp"
#include "strata/model.hpp"
#include "zip_archive.hpp"

namespace strata::keras {

// The Keras version written into metadata.json: the Keras 3 release Strata's archives are
// tested against (tests/interop/setup_venv.sh pins it).
inline constexpr const char* kKeras3Version = "3.15.1";
// Most bytes config.json and metadata.json may have (untrusted input).
inline constexpr std::uint64_t kMaxJsonBytes = std::uint64_t{64} << 20;

// Whether `path` is a Keras 3 archive: a zip holding config.json or model.weights.h5, or a
// directory holding config.json and metadata.json. Never throws.
bool is_archive(const std::filesystem::path& path);

// Writes the archive (atomically; a directory when `zipped` is false).
void save_archive(const Model& model, const std::filesystem::path& path, const SaveOptions& options, bool zipped);

// Reads a whole model: config, compile_config (options.compile), weights and optimizer state.
std::shared_ptr<Model> load_archive(const std::filesystem::path& path, const LoadOptions& options);
// The same for an archive held in memory (fuzzers, tests); `label` names it in messages.
std::shared_ptr<Model> load_archive_bytes(std::string_view bytes, const std::string& label, const LoadOptions& options);

// The model of config.json without its weights (model.weights.h5 is not read): built,
// assets loaded, compiled with options.compile (no optimizer state). For `strata info`.
std::shared_ptr<Model> load_archive_architecture(const std::filesystem::path& path, const LoadOptions& options);

// Loads only the weights (and optimizer state) of an archive into `model`.
LoadStatus load_archive_weights(Model& model, const std::filesystem::path& path, const LoadOptions& options);

// For `strata info`: Keras version and date from metadata.json, the members, the model's
// class and the weights file's objects (its size only when it is larger than
// kMaxDescribedWeightsBytes: the weights are not read).
inline constexpr std::uint64_t kMaxDescribedWeightsBytes = std::uint64_t{1} << 20;
std::string describe_archive(const std::filesystem::path& path);

// Keras 3's safe_mode, always on: a config holding Python code (a Lambda layer's bytecode,
// any `__lambda__` object) is refused with a FormatError naming `where` and the layer.
void refuse_code(const Config& config, const std::string& where);

}  // namespace strata::keras
