// Keras 3's weights layout (`model.weights.h5` inside a `.keras` archive, and the
// `.weights.h5` files of Keras 3's save_weights): groups that mirror Keras 3's object tree,
// not layer names. Each saveable object's own variables are datasets `<path>/vars/0`,
// `<path>/vars/1`, ... (its trainable variables, then its non-trainable ones, in creation
// order) and the `vars` group carries the object's name as attribute `name`; a container's
// children are named by their snake-cased class name, repeats suffixed `_1`, `_2`, ...
// (`layers/dense`, `layers/dense_1`); the optimizer's variables are `optimizer/vars/<i>`
// (iterations, learning rate, then the slots in Keras 3's order). FORMATS.md §1.11.
//
// Private to format-keras; on strata_h5_core (h5_file.hpp) for HDF5.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "h5_file.hpp"
#include "strata/format.hpp"
#include "strata/model.hpp"

namespace strata::keras {

// The model's variables (and, with `include_optimizer` and a compiled model, its optimizer's)
// as a Keras 3 weights file built in memory. `label` names the file in messages.
h5::Image weights_image(const Model& model, bool include_optimizer, const std::string& label);

// Assigns the model's variables from a Keras 3 weights file; restores the optimizer state
// when `restore_optimizer`, the model is compiled and the file has `optimizer/vars` (the
// optimizer is built over the model's trainable variables first). A value whose shape does
// not fit is a FormatError naming the object path and both shapes, unless
// options.skip_mismatch (then the object is skipped and reported in the status). The status
// lists file values no variable took and variables no value set.
LoadStatus read_weights(const h5::File& file, Model& model, const LoadOptions& options, bool restore_optimizer);

// Whether an open HDF5 file has Keras 3's layout (a `vars` or `layers` group at the root, no
// legacy `layer_names`/`model_weights`).
bool has_keras3_layout(const h5::File& file);

// For `strata info`: the object paths, variable counts and the optimizer state.
std::string describe_weights(const h5::File& file);

// The weights-only files of Keras 3's save_weights/load_weights: `path` ending in
// `.weights.h5` is one HDF5 file; `.weights.json` is the sharded form (a JSON manifest and
// HDF5 shards beside it, each at most `max_shard_bytes`). Saves are atomic (every shard and
// the manifest, or nothing). 0 as max_shard_bytes: Keras's default for the sharded form.
void save_weights_file(const Model& model, const std::filesystem::path& path, const SaveOptions& options,
                       std::uint64_t max_shard_bytes = 0);
LoadStatus load_weights_file(Model& model, const std::filesystem::path& path, const LoadOptions& options);

}  // namespace strata::keras
