// File formats (serializers). A Format plugin declares its name, the file extensions it
// claims for models and for weights, a content sniffer, and which of these it can do:
// save/load a whole model, save/load weights, save/load the architecture. The runtime
// picks a format for each call (strata/saving.hpp) only from what the loaded formats
// declare: it holds no table of format names or extensions and never reads or writes a
// file format itself.
//
// Thread safety: get_format() makes one object per format and process and hands the same
// object to every caller, so every method of a Format may be called concurrently from
// several threads (two threads saving two models, a load while another thread saves).
// A format keeps no unsynchronised mutable state (format-h5 serialises its HDF5 calls
// itself). Calls on the SAME path at once are not ordered: writes stay atomic, so the
// file ends up as one complete save, but which one is not defined. The Model passed in
// follows the model's rules (DESIGN.md §7): saving reads it, so it must not be trained
// or mutated meanwhile; load_weights mutates it, so nothing else may use it meanwhile.
//
// Rules every format follows (DESIGN.md §6):
//  - writes are atomic, with one commit point (write_file_atomically for single files);
//  - untrusted input: sizes, shapes, offsets and counts are checked against the file
//    before anything is allocated; corrupt input raises FormatError naming the file;
//  - weight loading reports what matched (LoadStatus), never a silent no-op.
#pragma once

#include "strata/export.hpp"
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "strata/custom_objects.hpp"
#include "strata/registry.hpp"

STRATA_API_BEGIN

namespace strata {

class Model;

struct SaveOptions {
  std::string format;              // explicit format name ("h5", "json", ...); empty: by extension
  bool include_optimizer = true;   // whole-model saves
  bool save_traces = true;         // SavedModel
  bool overwrite = true;           // false: an existing file is an IOError
  // Keras 3 sharded weights (`.weights.json`, format keras): the most each shard holds, in
  // Keras's unit: GB as 1024^3 bytes of variable values (Keras's save_weights max_shard_size;
  // 0.5 is 512 MiB). 0: Keras's default, 5. Formats without sharding ignore it. ABI 2.4.
  double max_shard_size = 0.0;
};

struct LoadOptions {
  std::string format;              // explicit format name; empty: by content, then extension
  const CustomObjects* custom_objects = nullptr;
  bool compile = true;             // restore the training configuration and optimizer state
  bool by_name = false;            // H5 weights: match layers by name instead of position
  bool skip_mismatch = false;      // with by_name: skip layers whose weights do not fit
  // SavedModel: build the model from its traced functions even when its classes are
  // available (what saved_model::load does; Keras's "loading the graph only").
  bool revive_from_traces = false;
  // SavedModel: load this signature (its keyword arguments as the model's inputs, the dict
  // it returns as its outputs) instead of the Keras model. SavedModels without Keras
  // metadata (tf.saved_model.save, Keras 3's export) load serving_default when empty.
  std::string signature{};
  // Whole-model loads (SavedModel, H5): a load that leaves any weight of the model
  // unrestored throws a FormatError naming the file and the weights, unless this is set;
  // then it logs a warning and the unrestored weights keep their initial values. TF's
  // tf.saved_model.LoadOptions(allow_partial_checkpoint=True); Keras only warns.
  bool allow_partial_checkpoint = false;
  // Keras 3 weights files (`.weights.h5`, `.weights.json`; format keras): objects whose
  // variables are not loaded, with everything below them, as Keras 3's
  // load_weights(objects_to_skip=[...]); each is a layer name or an object path of the file
  // ("layers/dense_1", "optimizer"). A name that names nothing is a ValueError. Only format
  // keras reads it (its `.keras` archives refuse a non-empty list, as Keras 3). ABI 2.4.
  std::vector<std::string> objects_to_skip{};
};

// What a weight load matched. Formats fill it; strict loads throw instead of returning an
// incomplete status (see each format's rules).
class LoadStatus {
 public:
  LoadStatus() = default;
  LoadStatus(std::string source, std::vector<std::string> unused_values, std::vector<std::string> unset_weights,
             std::size_t restored);
  ~LoadStatus();
  LoadStatus(LoadStatus&&) noexcept;
  LoadStatus& operator=(LoadStatus&&) noexcept;
  LoadStatus(const LoadStatus&) = delete;
  LoadStatus& operator=(const LoadStatus&) = delete;

  std::size_t restored() const noexcept { return restored_; }
  // Values in the file that no weight took.
  const std::vector<std::string>& unused_values() const noexcept { return unused_; }
  // Weights of the model that no value set.
  const std::vector<std::string>& unset_weights() const noexcept { return unset_; }

  // Throws ValueError listing them unless every file value and every weight matched.
  const LoadStatus& assert_consumed() const;
  // Throws ValueError unless every weight of the model was set (file values may remain).
  const LoadStatus& assert_existing_objects_matched() const;
  // Silences the warning an unchecked, incomplete status logs when destroyed.
  const LoadStatus& expect_partial() const;
  // Whole-model loads (issue 19): the weights of `model` among unset_weights() (an entry
  // names a weight as "<name>" or "<object path> (<name>)"; optimizer, metric and other
  // objects are not checked) must be none. Otherwise throws FormatError naming the file,
  // the first few of them and their count, and LoadOptions::allow_partial_checkpoint; with
  // `allow_partial` it logs that as a warning instead. Marks the status checked.
  const LoadStatus& assert_model_weights_restored(const Model& model, bool allow_partial) const;

 private:
  std::string source_;
  std::vector<std::string> unused_;
  std::vector<std::string> unset_;
  std::size_t restored_ = 0;
  mutable bool checked_ = false;
};

// Capabilities a format declares.
enum FormatCapability : unsigned {
  kSaveModel = 1u << 0,
  kLoadModel = 1u << 1,
  kSaveWeights = 1u << 2,
  kLoadWeights = 1u << 3,
  kSaveArchitecture = 1u << 4,
  kLoadArchitecture = 1u << 5,
};

// Extension claims (model_extensions, weights_extensions) are lower-case, with the dot
// (".h5"); "" claims a path without an extension. The runtime picks a format by a path's
// extension only among the claims for the use at hand, and two loaded formats claiming
// one extension for the same use is a PluginError naming both plugins when that
// extension is looked up (see strata/saving.hpp).
class Format {
 public:
  virtual ~Format();
  // The name used in SaveOptions/LoadOptions::format and by `strata convert --format`.
  // Constant for the object's lifetime. Thread safety: may be called concurrently.
  virtual std::string name() const = 0;
  // Extensions claimed for whole models and architectures: save_model/load_model and
  // Model::save given a path and no format name. Default: extensions() when
  // capabilities() include a model or architecture capability, else none.
  // Thread safety: may be called concurrently.
  virtual std::vector<std::string> model_extensions() const;
  // Extensions claimed for weights: save_weights/load_weights given a path and no format
  // name. Default: extensions() when capabilities() include a weights capability, else
  // none. Thread safety: may be called concurrently.
  virtual std::vector<std::string> weights_extensions() const;
  // Every extension, for formats written before the per-use claims above: the defaults of
  // model_extensions()/weights_extensions() split it by capability. New formats override
  // those two instead. Default: none. Thread safety: may be called concurrently.
  virtual std::vector<std::string> extensions() const;
  // A FormatCapability bit set; constant for the object's lifetime.
  // Thread safety: may be called concurrently.
  virtual unsigned capabilities() const = 0;
  // True if `path` looks like this format. Reads at most a few KiB; never throws for
  // unreadable or foreign files. Thread safety: may be called concurrently.
  virtual bool sniff(const std::filesystem::path& path) const = 0;

  // Each throws ValueError("format X cannot ...") unless overridden; the message names
  // the call that does apply (save_weights for a weights-only format, ...).
  // Thread safety: may be called concurrently for different paths (see the top of this
  // header); the model argument follows the model's own threading rules.
  virtual void save_model(const Model& model, const std::filesystem::path& path, const SaveOptions& options) const;
  virtual std::shared_ptr<Model> load_model(const std::filesystem::path& path, const LoadOptions& options) const;
  virtual void save_weights(const Model& model, const std::filesystem::path& path, const SaveOptions& options) const;
  virtual LoadStatus load_weights(Model& model, const std::filesystem::path& path, const LoadOptions& options) const;
  virtual void save_architecture(const Model& model, const std::filesystem::path& path, const SaveOptions& options) const;
  virtual std::shared_ptr<Model> load_architecture(const std::filesystem::path& path, const LoadOptions& options) const;
  // A human-readable description of the file for `strata info` (format, versions,
  // contents). Default: the format's name. Thread safety: may be called concurrently.
  virtual std::string describe(const std::filesystem::path& path) const;
};

// The format registered under `name`, made once per process and shared by every caller.
// Throws ValueError listing the loaded formats when none is registered under `name` (the
// registry cannot know which plugin would provide a format it never saw: the message says
// to load that plugin and points at `strata plugins`). Thread safety: may be called
// concurrently.
std::shared_ptr<Format> get_format(std::string_view name);
// Every registered format (made on first use), in registry order (by name). A checkpoint
// store (strata/plugin/checkpoint_store.hpp) appears here, and in get_format, as the
// weights format of its name, which the runtime provides on top of the store.
// Thread safety: may be called concurrently.
std::vector<std::shared_ptr<Format>> available_formats();

}  // namespace strata

STRATA_API_END
