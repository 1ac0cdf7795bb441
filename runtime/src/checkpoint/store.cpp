#include "checkpoint/store.hpp"

#include <map>
#include <mutex>

#include "core/foreign_exception.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/runtime.hpp"

namespace fs = std::filesystem;

namespace strata {

CheckpointStore::~CheckpointStore() = default;

std::string CheckpointStore::describe(const fs::path& prefix) const {
  return detail::concat("checkpoint store: ", name(), "\nprefix: ", prefix.string(), "\n");
}

namespace internal {
namespace {

constexpr std::string_view kKind = "checkpoint store";

// A reader a store opened, seen through call_plugin_code.
class GuardedCheckpointReader final : public CheckpointReader {
  // Declared first: its return type is deduced, so it must be defined before use.
  template <class F>
  decltype(auto) guard(const char* operation, F&& f) const {
    return call_plugin_code({provider_, kKind, store_, operation}, std::forward<F>(f));
  }

 public:
  GuardedCheckpointReader(std::shared_ptr<CheckpointReader> inner, std::string provider, std::string store)
      : inner_(std::move(inner)), provider_(std::move(provider)), store_(std::move(store)) {}

  const fs::path& prefix() const override {
    return guard("reader prefix", [&]() -> const fs::path& { return inner_->prefix(); });
  }
  std::vector<std::string> keys() const override { return guard("reader keys", [&] { return inner_->keys(); }); }
  bool has_tensor(std::string_view key) const override {
    return guard("reader has_tensor", [&] { return inner_->has_tensor(key); });
  }
  DType dtype(std::string_view key) const override { return guard("reader dtype", [&] { return inner_->dtype(key); }); }
  Shape shape(std::string_view key) const override { return guard("reader shape", [&] { return inner_->shape(key); }); }
  Tensor get_tensor(std::string_view key, const Device& device) const override {
    return guard("reader get_tensor", [&] { return inner_->get_tensor(key, device); });
  }
  std::optional<CheckpointObjectGraph> object_graph() const override {
    return guard("reader object_graph", [&] { return inner_->object_graph(); });
  }

 private:
  std::shared_ptr<CheckpointReader> inner_;
  std::string provider_, store_;
};

// Every call the runtime makes on a store goes through call_plugin_code.
class GuardedCheckpointStore final : public CheckpointStore {
  template <class F>
  decltype(auto) guard(const char* operation, F&& f) const {
    return call_plugin_code({provider_, kKind, name_, operation}, std::forward<F>(f));
  }

 public:
  GuardedCheckpointStore(std::shared_ptr<CheckpointStore> inner, std::string provider, std::string name)
      : inner_(std::move(inner)), provider_(std::move(provider)), name_(std::move(name)) {}

  std::string name() const override { return name_; }
  const std::string& provider() const { return provider_; }
  std::vector<std::string> weights_extensions() const override {
    return guard("weights_extensions", [&] { return inner_->weights_extensions(); });
  }
  bool sniff(const fs::path& prefix) const override { return guard("sniff", [&] { return inner_->sniff(prefix); }); }
  std::string describe(const fs::path& prefix) const override {
    return guard("describe", [&] { return inner_->describe(prefix); });
  }
  void write(const fs::path& prefix, const CheckpointContents& contents) const override {
    guard("write", [&] { inner_->write(prefix, contents); });
  }
  std::shared_ptr<CheckpointReader> open(const fs::path& prefix) const override {
    auto reader = guard("open", [&] { return inner_->open(prefix); });
    STRATA_CHECK(reader != nullptr, PluginError, "checkpoint store '", name_, "' (plugin ", provider_,
                 ") opened '", prefix.string(), "' and returned no reader");
    return std::make_shared<GuardedCheckpointReader>(std::move(reader), provider_, name_);
  }
  bool read_state(const fs::path& directory, CheckpointState& state) const override {
    return guard("read_state", [&] { return inner_->read_state(directory, state); });
  }
  void write_state(const fs::path& directory, const CheckpointState& state) const override {
    guard("write_state", [&] { inner_->write_state(directory, state); });
  }

 private:
  std::shared_ptr<CheckpointStore> inner_;
  std::string provider_, name_;
};

struct StoreCache {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<const GuardedCheckpointStore>, std::less<>> made;
};
StoreCache& store_cache() {
  static auto* c = new StoreCache();
  return *c;
}

// The store registered as `name`, made once; null when there is none.
std::shared_ptr<const GuardedCheckpointStore> store_named(std::string_view name) {
  auto& c = store_cache();
  std::lock_guard lock(c.mutex);
  if (auto it = c.made.find(name); it != c.made.end()) return it->second;
  const Registry::Match match = Registry::global().find_erased(ObjectKind::kCheckpointStore, name);
  auto factory = std::static_pointer_cast<const KindValue<ObjectKind::kCheckpointStore>>(match.value);
  if (!factory) return nullptr;
  std::shared_ptr<CheckpointStore> made = (*factory)();
  STRATA_CHECK(made != nullptr, PluginError, "the factory of checkpoint store '", match.name, "' (plugin ",
               match.provider, ") returned nothing");
  auto store = std::make_shared<const GuardedCheckpointStore>(std::move(made), match.provider, match.name);
  c.made.emplace(match.name, store);
  return store;
}

// The store checkpoint_store() returns on this thread while a weights format of a given
// store runs strata::Checkpoint (the store the caller named, even when several are loaded).
thread_local const CheckpointStore* t_using_store = nullptr;

class UsingStore {
 public:
  explicit UsingStore(const std::shared_ptr<const GuardedCheckpointStore>& store) : previous_(t_using_store) {
    t_using_store = store.get();
  }
  ~UsingStore() { t_using_store = previous_; }
  UsingStore(const UsingStore&) = delete;
  UsingStore& operator=(const UsingStore&) = delete;

 private:
  const CheckpointStore* previous_;
};

fs::path directory_of(const fs::path& prefix) { return prefix.has_parent_path() ? prefix.parent_path() : fs::path("."); }

// Keras's TF-format save_weights: Checkpoint(root=model).write(path), then the directory's
// state file names it. The runtime's Checkpoint does the object graph; the store the bytes.
class CheckpointWeightsFormat final : public Format {
 public:
  explicit CheckpointWeightsFormat(std::shared_ptr<const GuardedCheckpointStore> store) : store_(std::move(store)) {}

  std::string name() const override { return store_->name(); }
  std::vector<std::string> model_extensions() const override { return {}; }
  std::vector<std::string> weights_extensions() const override { return store_->weights_extensions(); }
  unsigned capabilities() const override { return kSaveWeights | kLoadWeights; }
  bool sniff(const fs::path& path) const override { return store_->sniff(path); }
  std::string describe(const fs::path& path) const override { return store_->describe(path); }

  void save_weights(const Model& model, const fs::path& path, const SaveOptions& options) const override {
    std::shared_ptr<const Model> root(std::shared_ptr<const Model>(), &model);  // not owning
    const UsingStore using_store(store_);
    Checkpoint::with_root(root).write(path, options.overwrite);
    CheckpointState state;
    state.model_checkpoint_path = path.filename().string();
    state.all_model_checkpoint_paths = {state.model_checkpoint_path};
    store_->write_state(directory_of(path), state);
  }

  LoadStatus load_weights(Model& model, const fs::path& path, const LoadOptions& options) const override {
    STRATA_CHECK(!options.by_name, ValueError,
                 "load_weights(by_name=true) is only for H5 files; TensorFlow checkpoints are matched through their "
                 "object graph (as in Keras)");
    std::shared_ptr<const Model> root(std::shared_ptr<const Model>(), &model);
    const UsingStore using_store(store_);
    try {
      return Checkpoint::with_root(root).restore(path);
    } catch (const Error& e) {
      // The guide's mistake: the checkpoint of a model nested in this one, loaded into the
      // outer model. Say so rather than which shape did not fit.
      const std::string hint = nested_checkpoint_hint(model, path);
      if (hint.empty()) throw;
      STRATA_THROW(ValueError, hint, " (restoring it into '", model.name(), "' failed: ", e.message(), ")");
    }
  }

 private:
  std::shared_ptr<const GuardedCheckpointStore> store_;
};

}  // namespace

std::shared_ptr<const CheckpointStore> checkpoint_store() {
  if (t_using_store != nullptr) return {std::shared_ptr<const CheckpointStore>(), t_using_store};  // not owning
  initialize();
  const auto entries = Registry::global().entries(ObjectKind::kCheckpointStore);
  STRATA_CHECK(!entries.empty(), ValueError,
               "no checkpoint store is loaded: TensorFlow checkpoints need the plugin that registers one (kind "
               "checkpoint_store); put it on STRATA_PLUGIN_PATH — `strata plugins` lists what is loaded");
  if (entries.size() > 1) {
    std::string names;
    for (const auto& e : entries) names += detail::concat(names.empty() ? "" : " and ", "'", e.name, "' (plugin ", e.provider, ")");
    STRATA_THROW(PluginError, "two checkpoint stores are loaded: ", names,
                 "; tf.train.Checkpoint needs exactly one. Load only one of these plugins");
  }
  return store_named(entries.front().name);
}

std::shared_ptr<Format> checkpoint_weights_format(std::string_view name) {
  auto store = store_named(name);
  if (!store) return nullptr;
  return std::make_shared<CheckpointWeightsFormat>(std::move(store));
}

}  // namespace internal
}  // namespace strata
