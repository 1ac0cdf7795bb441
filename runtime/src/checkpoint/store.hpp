// The runtime's side of checkpoint stores (strata/plugin/checkpoint_store.hpp): finding the
// loaded store, guarding its calls, and the weights format each store appears as.
#pragma once

#include <memory>
#include <string_view>

#include "strata/format.hpp"
#include "strata/plugin/checkpoint_store.hpp"

namespace strata::internal {

// The one loaded checkpoint store, made once per process and guarded (a foreign exception
// from it becomes a PluginError naming the plugin). ValueError when none is loaded,
// PluginError naming both when two are. Used by tf.train.Checkpoint & co.
std::shared_ptr<const CheckpointStore> checkpoint_store();

// The weights format of the store registered as `name` (save_weights/load_weights through
// strata::Checkpoint with the model as root); null when no store has that name.
std::shared_ptr<Format> checkpoint_weights_format(std::string_view name);
// When the checkpoint at `path` was written from a model that is nested in `model` (the
// guide's `pretrained` inside a Sequential) and fits it: a sentence naming that layer and
// the call that loads it (issue 19); otherwise empty. Reads the checkpoint; never throws.
std::string nested_checkpoint_hint(const Model& model, const std::filesystem::path& path);

}  // namespace strata::internal
