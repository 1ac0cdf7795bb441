// The "checkpoint" format: TensorFlow's tensor bundles (PREFIX.index + data shards) and
// the `checkpoint` state file. Model::save_weights / load_weights with a path without
// extension (or ".ckpt") land here and go through strata::Checkpoint with the model as
// root, which is what tf.keras's TF-format save_weights writes.
#include <fcntl.h>
#include <unistd.h>

#include "bundle.hpp"
#include "format_checkpoint.hpp"
#include "strata/checkpoint.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/plugin/file_system.hpp"
#include "table.hpp"

namespace fs = std::filesystem;

namespace strata::ckpt {
namespace {

fs::path directory_of(const fs::path& prefix) { return prefix.has_parent_path() ? prefix.parent_path() : fs::path("."); }

class CheckpointFormat final : public Format {
 public:
  std::string name() const override { return "checkpoint"; }
  // Keras: weights saved to a path without an extension are a TensorFlow checkpoint
  // (PREFIX.index + PREFIX.data-*); ".ckpt" is the prefix TensorFlow's own examples use.
  std::vector<std::string> model_extensions() const override { return {}; }
  std::vector<std::string> weights_extensions() const override { return {"", ".ckpt"}; }
  unsigned capabilities() const override { return kSaveWeights | kLoadWeights; }

  bool sniff(const fs::path& path) const override {
    const fs::path index = index_path(path);
    const int fd = ::open(index.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = false;
    const off_t size = ::lseek(fd, 0, SEEK_END);
    if (size >= static_cast<off_t>(kFooterSize)) {
      char tail[kFooterSize];
      if (::pread(fd, tail, kFooterSize, size - static_cast<off_t>(kFooterSize)) == static_cast<ssize_t>(kFooterSize)) {
        ok = has_table_magic(std::string_view(tail, kFooterSize));
      }
    }
    ::close(fd);
    return ok;
  }

  void save_weights(const Model& model, const fs::path& path, const SaveOptions& options) const override {
    // Keras's save_weights: Checkpoint(root=model).write(path), then the state file names it.
    std::shared_ptr<const Model> root(std::shared_ptr<const Model>(), &model);  // not owning
    Checkpoint::with_root(root).write(path, options.overwrite);
    CheckpointState state;
    state.model_checkpoint_path = path.filename().string();
    state.all_model_checkpoint_paths = {state.model_checkpoint_path};
    write_file_atomically(directory_of(path) / "checkpoint", state_to_text(state));
  }

  LoadStatus load_weights(Model& model, const fs::path& path, const LoadOptions& options) const override {
    STRATA_CHECK(!options.by_name, ValueError,
                 "load_weights(by_name=true) is only for H5 files; TensorFlow checkpoints are matched through their "
                 "object graph (as in Keras)");
    std::shared_ptr<const Model> root(std::shared_ptr<const Model>(), &model);
    return Checkpoint::with_root(root).restore(path);
  }

  std::string describe(const fs::path& path) const override { return describe_bundle(path); }

  void write_checkpoint(const fs::path& prefix, const CheckpointContents& contents) const override {
    write_bundle(prefix, contents);
  }
  std::shared_ptr<CheckpointReader> open_checkpoint(const fs::path& prefix) const override {
    return std::make_shared<BundleReader>(prefix);
  }
  bool read_checkpoint_state(const fs::path& directory, CheckpointState& state) const override {
    return read_state(directory, state);
  }
};

}  // namespace

std::shared_ptr<Format> make_format() { return std::make_shared<CheckpointFormat>(); }

}  // namespace strata::ckpt
