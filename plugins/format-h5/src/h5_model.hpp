// Keras's legacy HDF5 layout (FORMATS.md §1) on top of h5_file.hpp: what a whole-model
// file and a weights-only file hold, written as in-memory HDF5 images and read from open
// files. Private to the format-h5 plugin; h5_format.cpp turns these into a Format.
//
// Thread safety: each function holds an h5::Session while it talks to HDF5.
#pragma once

#include <memory>
#include <string>

#include "h5_file.hpp"
#include "strata/format.hpp"
#include "strata/model.hpp"

namespace strata::h5 {

// The bytes of a whole-model file: root attributes (keras_version, backend,
// strata_version, model_config, training_config when compiled and include_optimizer),
// model_weights/, optimizer_weights/ (include_optimizer and the optimizer has variables).
// ValueError for models that have no config (subclassed) or names HDF5 cannot hold.
Image model_image(const Model& model, const SaveOptions& options, const std::string& label);
// The bytes of a weights-only file (the model_weights layout at the root).
Image weights_image(const Model& model, const std::string& label);

// Builds the model of a whole-model file, loads its weights and (options.compile) its
// training configuration and optimizer state. FormatError / UnknownObjectError naming
// the file and the problem.
std::shared_ptr<Model> read_model(const File& file, const LoadOptions& options);
// Builds the model of a whole-model file from its model_config without reading any weight
// (they keep their initializers' values) and (options.compile) compiles it from its
// training_config, without the optimizer state. What `strata info` shows.
std::shared_ptr<Model> read_architecture(const File& file, const LoadOptions& options);
// Loads weights (a weights-only file, or the model_weights group of a whole-model file)
// into `model` by position or (options.by_name) by layer name; DESIGN.md §6 policy.
LoadStatus read_weights(const File& file, Model& model, const LoadOptions& options);
// A description for `strata info`.
std::string describe_file(const File& file);


}  // namespace strata::h5
