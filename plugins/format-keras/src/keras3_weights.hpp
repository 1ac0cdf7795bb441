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
#include <utility>
#include <vector>

#include "h5_file.hpp"
#include "strata/format.hpp"
#include "strata/model.hpp"

namespace strata::keras {

// Object paths (keras3_weights.cpp has the table of the names that differ from Strata's
// tracked-child names): the model at "" (group `vars`); a Sequential's or Functional's
// layers under `layers/<snake_case(class)>[_<n>]` in model.layers order (a Functional's
// InputLayers included); any other layer's tracked children under their attribute names,
// sorted, private names last, lists as containers named like `layers`; a subclassed model's
// `layers` property as a container as well; an object reached twice is saved once, under
// its first path. RNN layers keep their variables on `cell`, Bidirectional on
// `forward_layer`/`backward_layer`, TimeDistributed on `layer`, MultiHeadAttention on
// `query_dense`, `key_dense`, `value_dense`, `output_dense`.
//
// The optimizer (`optimizer/vars`): iterations (int64), the learning rate (float32; absent
// when it is a schedule), then the slots in Keras 3's build order — Strata's slots() order,
// except SGD without momentum (no slots in Keras 3) — and, for Nadam, Keras 3's running
// product u_1...u_t (recomputed from the step on saving, ignored on loading).

// Every layer of the model (the model itself at "") with its object path, in the order the
// weights file visits them; Keras 3's assets live under `assets/<object path>/`.
std::vector<std::pair<std::string, const Layer*>> object_paths(const Model& model);

// The model's variables (and, with `include_optimizer` and a compiled model, its optimizer's)
// as a Keras 3 weights file built in memory. `label` names the file in messages.
// ValueError when the model is not built. Thread safety: reads the model only.
h5::Image weights_image(const Model& model, bool include_optimizer, const std::string& label);

// Assigns the model's variables from a Keras 3 weights file; restores the optimizer state
// when `restore_optimizer`, the model is compiled and the file has `optimizer/vars` (the
// optimizer is built over the model's trainable variables first). Every value is checked
// (group present, value count, shapes) before any variable is assigned. A mismatch is a
// FormatError naming the file, the object path and both shapes or counts, unless
// options.skip_mismatch (then the object is skipped, logged, and its variables listed as
// unset). An optimizer state with another number of variables than the optimizer has is
// skipped with a warning, as Keras 3 does (except a never-built optimizer's: iterations and
// learning rate load). The status lists file values no variable took ("<path>/vars/<i>")
// and variables no value set ("<path>/vars/<i> (<variable name>)"); the optimizer values of
// a file loaded into a model that is not compiled are passed over, as in Keras 3.
// The learning rate read sets the optimizer's constant rate, unless it uses a schedule.
// options.objects_to_skip (Keras 3's objects_to_skip): each entry is an object path
// ("layers/dense_1", "/" for the model), "optimizer", or a layer name naming one object; those
// objects are treated as visited, so they and everything below them keep their values and
// the other objects keep their paths; their file values are not reported as unused nor their
// variables as unset. An entry naming nothing, or a name several layers share, is a
// ValueError naming it and the file.
// Values stored as Keras 3's bfloat16 (2-byte opaque, attribute dtype="bfloat16") load into
// bfloat16 variables, or float32 ones (widened exactly); weights_image and the savers write
// bfloat16 variables that way.
// ValueError when the model is not built; FormatError for a file without Keras 3's layout.
LoadStatus read_weights(const h5::File& file, Model& model, const LoadOptions& options, bool restore_optimizer);

// Whether an open HDF5 file has Keras 3's layout (a `vars`, `layers`, `optimizer` or tf-keras
// 2.13 `_layer_checkpoint_dependencies` group at the root, no legacy `layer_names` /
// `model_weights`).
bool has_keras3_layout(const h5::File& file);

// For `strata info`: the object paths, variable counts and the optimizer state.
// FormatError for a file without Keras 3's layout.
std::string describe_weights(const h5::File& file);
// The same for a weights file on disk: `.weights.h5`, or a sharded `.weights.json` (its
// shards described one after the other).
std::string describe_weights_file(const std::filesystem::path& path);

// The weights-only files of Keras 3's save_weights/load_weights: a `path` ending in
// `.json` is the sharded form (Keras 3's ShardedH5IOStore: a manifest `{"metadata":
// {"total_size"}, "weight_map": {"/<path>/vars": shard or [shards]}}` and HDF5 shards
// `<base>_00000.weights.h5`, ... beside it, base = the name without `.weights.json`; a new
// shard starts when the values' bytes would pass `max_shard_bytes`); anything else is one
// HDF5 file (`.weights.h5`). The optimizer state is included when the model is compiled.
// The limit is `max_shard_bytes`, else SaveOptions::max_shard_size (GB of 1024^3 bytes,
// Keras's unit; shard_size_bytes), else Keras's default for the sharded form (5 GiB); a limit
// with a non-`.json` path is a ValueError, as is one value larger than the limit (Keras 3.15
// refuses it too). Shard boundaries fall where Keras 3 puts them for the same limit. Every file is
// written with write_file_atomically, the shards first and the manifest last; a sharded
// save stamps its shards and manifest with one `strata.save_id` (ignored by Keras), so that
// the previous manifest beside new shards after an interrupted save is a FormatError on
// loading rather than a mix of two saves. Stale shards of an earlier save with more shards
// are left in place (no manifest names them). SaveOptions::overwrite false: IOError when
// `path` exists. Loading: LoadOptions::compile restores the optimizer state; the rest as
// read_weights. A manifest naming a shard outside its directory is a FormatError.
// max_shard_size (GB, 1024^3 bytes, as Keras's save_weights takes it) as whole bytes, the
// same limit Keras's float comparison makes. ValueError for a negative, NaN or huge size.
std::uint64_t shard_size_bytes(double max_shard_size);
void save_weights_file(const Model& model, const std::filesystem::path& path, const SaveOptions& options,
                       std::uint64_t max_shard_bytes = 0);
LoadStatus load_weights_file(Model& model, const std::filesystem::path& path, const LoadOptions& options);

}  // namespace strata::keras
