// Checkpoint stores: the plugin kind that reads and writes the bytes of object-based
// checkpoints (a tensor bundle PREFIX.index + PREFIX.data-* and the directory's
// `checkpoint` state file). The runtime owns everything above the bytes: the object
// graph of tf.train.Checkpoint, restore matching, CheckpointManager, and the weights
// format a store appears as (Model::save_weights / load_weights with one of the store's
// extensions are the runtime's Checkpoint with the model as root). So calls go one way,
// runtime -> store; a store never calls back into strata::Checkpoint or a Model.
//
// Register one with `registrar.add<ObjectKind::kCheckpointStore>("name", factory)`. The
// name is also the weights format name users pass (SaveOptions::format "checkpoint").
// tf.train.Checkpoint and the checkpoint functions of strata/checkpoint.hpp use the one
// loaded store; two loaded stores make those calls a PluginError naming both.
//
// Thread safety: the runtime makes one object per store and process and shares it, so
// every method may be called concurrently for different prefixes and directories; a
// reader may be used while another checkpoint is written.
#pragma once

#include "strata/export.hpp"
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "strata/checkpoint.hpp"

STRATA_API_BEGIN

namespace strata {

class CheckpointStore {
 public:
  virtual ~CheckpointStore();
  // The name it is registered under; also its weights format name. Constant.
  virtual std::string name() const = 0;
  // Weights extensions it claims (lower-case, with the dot; "" for a path without an
  // extension), as Format::weights_extensions.
  virtual std::vector<std::string> weights_extensions() const = 0;
  // True if PREFIX names a checkpoint of this store. Reads at most a few KiB; never throws
  // for unreadable or foreign files.
  virtual bool sniff(const std::filesystem::path& prefix) const = 0;
  // A human-readable description for `strata info`. Default: the store's name.
  virtual std::string describe(const std::filesystem::path& prefix) const;

  // Writes `contents.tensors` (and the object graph) at PREFIX, then rewrites the
  // directory's state file when `contents.state` is set. Commit points (DESIGN.md §6):
  // data under temporary names, then the index (the commit), then the state file. With
  // `contents.overwrite` false an existing checkpoint at PREFIX is an IOError.
  virtual void write(const std::filesystem::path& prefix, const CheckpointContents& contents) const = 0;
  // Opens the checkpoint at PREFIX (its whole index is checked). FormatError naming the
  // file when it is not one.
  virtual std::shared_ptr<CheckpointReader> open(const std::filesystem::path& prefix) const = 0;
  // Reads DIRECTORY's state file into `state`; false when there is none. FormatError when
  // it cannot be parsed.
  virtual bool read_state(const std::filesystem::path& directory, CheckpointState& state) const = 0;
  // Atomically replaces DIRECTORY's state file with `state`.
  virtual void write_state(const std::filesystem::path& directory, const CheckpointState& state) const = 0;
};

}  // namespace strata

STRATA_API_END
