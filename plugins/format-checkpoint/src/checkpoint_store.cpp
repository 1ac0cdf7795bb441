// The "checkpoint" store: TensorFlow's tensor bundles (PREFIX.index + data shards) and the
// `checkpoint` state file. Only bytes: the runtime's strata::Checkpoint builds the object
// graph and matches it on restore, and makes this store the "checkpoint" weights format
// (what tf.keras's TF-format save_weights writes).
#include <fcntl.h>
#include <unistd.h>

#include "bundle.hpp"
#include "format_checkpoint.hpp"
#include "strata/plugin/file_system.hpp"
#include "table.hpp"

namespace fs = std::filesystem;

namespace strata::ckpt {
namespace {

class BundleStore final : public CheckpointStore {
 public:
  std::string name() const override { return "checkpoint"; }
  // Keras: weights saved to a path without an extension are a TensorFlow checkpoint
  // (PREFIX.index + PREFIX.data-*); ".ckpt" is the prefix TensorFlow's own examples use.
  std::vector<std::string> weights_extensions() const override { return {"", ".ckpt"}; }

  bool sniff(const fs::path& prefix) const override {
    const fs::path index = index_path(prefix);
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

  std::string describe(const fs::path& prefix) const override { return describe_bundle(prefix); }
  void write(const fs::path& prefix, const CheckpointContents& contents) const override { write_bundle(prefix, contents); }
  std::shared_ptr<CheckpointReader> open(const fs::path& prefix) const override {
    return std::make_shared<BundleReader>(prefix);
  }
  bool read_state(const fs::path& directory, CheckpointState& state) const override {
    return ckpt::read_state(directory, state);
  }
  void write_state(const fs::path& directory, const CheckpointState& state) const override {
    write_file_atomically(directory / "checkpoint", state_to_text(state));
  }
};

}  // namespace

std::shared_ptr<CheckpointStore> make_store() { return std::make_shared<BundleStore>(); }

}  // namespace strata::ckpt
