#include "strata/registry.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "core/builtins.hpp"
#include "core/foreign_exception.hpp"
#include "strata/format.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/checkpoint_store.hpp"
#include "strata/plugin/collective.hpp"
#include "registry/name_table.hpp"
#include "strata/error.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata {
namespace {

constexpr std::string_view kKindNames[kObjectKindCount] = {
    "layer",      "model",       "optimizer",   "loss",       "metric",
    "activation", "initializer", "regularizer", "constraint", "learning_rate_schedule",
    "backend",    "format",      "op",          "kernel",     "checkpoint_store",
    "collective"};

// Wraps a factory entry so that a foreign exception it throws becomes a PluginError
// naming the provider, the kind and the name (core/foreign_exception.hpp). Done once, at
// staging, so every call site of every factory is covered.
template <class T>
std::shared_ptr<const void> guard_factory(std::shared_ptr<const void> value, const std::string& provider,
                                          ObjectKind kind, std::string_view name) {
  using Fn = std::function<std::shared_ptr<T>()>;
  auto inner = std::static_pointer_cast<const Fn>(std::move(value));
  if (!*inner) return inner;
  return std::make_shared<const Fn>([inner, provider, kind, name = std::string(name)]() -> std::shared_ptr<T> {
    return internal::call_plugin_code({provider, kind_name(kind), name, "its factory"}, [&] { return (*inner)(); });
  });
}

// As guard_factory, for the from_config factories; the error also names the object the
// config describes when it has a "name".
template <class T>
std::shared_ptr<const void> guard_config_factory(std::shared_ptr<const void> value, const std::string& provider,
                                                 ObjectKind kind, std::string_view name) {
  using Fn = ConfigFactory<T>;
  auto inner = std::static_pointer_cast<const Fn>(std::move(value));
  if (!*inner) return inner;
  return std::make_shared<const Fn>(
      [inner, provider, kind, name = std::string(name)](const Config& config) -> std::shared_ptr<T> {
        try {
          return (*inner)(config);
        } catch (...) {
          std::optional<ErrorContext::Frame> frame;
          if (config.is_object()) {
            if (auto it = config.find("name"); it != config.end() && it->is_string()) {
              frame.emplace(detail::concat("reading the config of ", kind_name(kind), " '",
                                           it->get<std::string>(), "'"));
            }
          }
          internal::translate_foreign_exception({provider, kind_name(kind), name, "from_config"});
        }
      });
}

std::shared_ptr<const void> guard_entry(ObjectKind kind, std::string_view name, std::shared_ptr<const void> value,
                                        const std::string& provider) {
  auto v = std::move(value);
  switch (kind) {
    case ObjectKind::kLayer: return guard_config_factory<Layer>(std::move(v), provider, kind, name);
    case ObjectKind::kModel: return guard_config_factory<Model>(std::move(v), provider, kind, name);
    case ObjectKind::kOptimizer: return guard_config_factory<Optimizer>(std::move(v), provider, kind, name);
    case ObjectKind::kLoss: return guard_config_factory<Loss>(std::move(v), provider, kind, name);
    case ObjectKind::kMetric: return guard_config_factory<Metric>(std::move(v), provider, kind, name);
    case ObjectKind::kActivation: return guard_config_factory<Activation>(std::move(v), provider, kind, name);
    case ObjectKind::kInitializer: return guard_config_factory<Initializer>(std::move(v), provider, kind, name);
    case ObjectKind::kRegularizer: return guard_config_factory<Regularizer>(std::move(v), provider, kind, name);
    case ObjectKind::kConstraint: return guard_config_factory<Constraint>(std::move(v), provider, kind, name);
    case ObjectKind::kLearningRateSchedule:
      return guard_config_factory<LearningRateSchedule>(std::move(v), provider, kind, name);
    case ObjectKind::kFormat: return guard_factory<Format>(std::move(v), provider, kind, name);
    case ObjectKind::kCheckpointStore: return guard_factory<CheckpointStore>(std::move(v), provider, kind, name);
    case ObjectKind::kBackend: return guard_factory<Backend>(std::move(v), provider, kind, name);
    case ObjectKind::kCollective: {
      auto inner = std::static_pointer_cast<const CollectiveFactory>(std::move(v));
      if (!*inner) return inner;
      return std::make_shared<const CollectiveFactory>(
          [inner, provider, kind, name = std::string(name)](const CollectiveOptions& options) {
            return internal::call_plugin_code({provider, kind_name(kind), name, "its factory"},
                                              [&] { return (*inner)(options); });
          });
    }
    case ObjectKind::kOp:      // the runtime's own definitions
    case ObjectKind::kKernel:  // guarded where they run, by the dispatcher (ops/dispatch.cpp)
      return v;
  }
  return v;
}

}  // namespace

std::string_view kind_name(ObjectKind kind) noexcept {
  const auto k = static_cast<std::size_t>(kind);
  return k < kObjectKindCount ? kKindNames[k] : std::string_view("unknown");
}

ObjectKind kind_from_name(std::string_view name) {
  for (std::size_t k = 0; k < kObjectKindCount; ++k) {
    if (kKindNames[k] == name) return static_cast<ObjectKind>(k);
  }
  STRATA_THROW(ValueError, "unknown object kind '", name,
               "': expected layer, model, optimizer, loss, metric, activation, initializer, "
               "regularizer, constraint, learning_rate_schedule, backend, format, op, kernel, checkpoint_store or "
               "collective");
}

void validate_registered_name(std::string_view name) {
  const auto gt = name.find('>');
  const bool ok_split = gt == std::string_view::npos ||
                        (gt > 0 && gt + 1 < name.size() && name.find('>', gt + 1) == std::string_view::npos);
  bool printable = !name.empty();
  for (char c : name) {
    if (c <= ' ' || c > '~') printable = false;
  }
  STRATA_CHECK(printable && ok_split, ValueError, "'", name,
               "' is not a valid registered name: use Name or package>Name (printable ASCII, no spaces, "
               "both parts non-empty, at most one '>')");
}

std::string_view bare_name(std::string_view name) noexcept {
  const auto gt = name.rfind('>');
  return gt == std::string_view::npos ? name : name.substr(gt + 1);
}

struct Registry::Impl {
  mutable std::shared_mutex mutex;
  internal::NameTable table;
  std::atomic<std::uint64_t> generation{0};
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

Registry& Registry::global() {
  // Never destroyed: plugins' objects referenced from it must outlive static destructors.
  static Registry* registry = [] {
    auto* r = new Registry();
    internal::register_runtime_entries(*r);
    return r;
  }();
  return *registry;
}

Registry::Match Registry::find_erased(ObjectKind kind, std::string_view name) const {
  std::shared_lock lock(impl_->mutex);
  return impl_->table.find(kind, name);
}

bool Registry::contains(ObjectKind kind, std::string_view name) const {
  return find_erased(kind, name).value != nullptr;
}

std::vector<RegistryEntryInfo> Registry::entries() const {
  std::shared_lock lock(impl_->mutex);
  std::vector<RegistryEntryInfo> out;
  impl_->table.for_each([&](ObjectKind k, const std::string& n, const internal::NameTable::Entry& e) {
    out.push_back({k, n, e.provider, e.module});
  });
  return out;
}

std::vector<RegistryEntryInfo> Registry::entries(ObjectKind kind) const {
  std::shared_lock lock(impl_->mutex);
  std::vector<RegistryEntryInfo> out;
  for (const auto& [n, e] : impl_->table.of(kind)) out.push_back({kind, n, e.provider, e.module});
  return out;
}

std::vector<RegistryEntryInfo> Registry::entries_from(std::string_view provider) const {
  std::vector<RegistryEntryInfo> out;
  for (auto& e : entries()) {
    if (e.provider == provider) out.push_back(std::move(e));
  }
  return out;
}

std::size_t Registry::size() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->table.size();
}

std::vector<std::string> Registry::suggest(ObjectKind kind, std::string_view name, std::size_t max) const {
  std::shared_lock lock(impl_->mutex);
  return internal::suggest_names(impl_->table, kind, name, max);
}

std::uint64_t Registry::generation() const noexcept { return impl_->generation.load(std::memory_order_acquire); }

void Registry::commit(std::vector<Staged>& staged, const std::string& provider) {
  std::unique_lock lock(impl_->mutex);
  for (const auto& s : staged) {
    if (const auto* existing = impl_->table.exact(s.kind, s.name)) {
      STRATA_THROW(PluginError, "'", provider, "' registers ", kind_name(s.kind), " '", s.name, "', which '",
                   existing->provider,
                   "' already registered; a name may have only one provider (remove one of the two from the "
                   "plugin search path)");
    }
  }
  for (auto& s : staged) impl_->table.put(s.kind, std::move(s.name), {std::move(s.value), provider, std::move(s.module)});
  staged.clear();
  impl_->generation.fetch_add(1, std::memory_order_acq_rel);
}

Registrar::Registrar(Registry& registry, std::string provider)
    : registry_(registry), provider_(std::move(provider)) {}
Registrar::~Registrar() = default;

void Registrar::stage(ObjectKind kind, std::string_view name, std::shared_ptr<const void> value) {
  validate_registered_name(name);
  STRATA_CHECK(value != nullptr, ValueError, "'", provider_, "' registers ", kind_name(kind), " '", name,
               "' without a value");
  for (const auto& s : staged_) {
    STRATA_CHECK(!(s.kind == kind && s.name == name), PluginError, "'", provider_, "' registers ",
                 kind_name(kind), " '", name, "' twice");
  }
  const auto slot = static_cast<std::size_t>(kind);
  staged_.push_back({kind, std::string(name), guard_entry(kind, name, std::move(value), provider_),
                     slot < kModuleSlots ? modules_[slot] : std::string()});
}

void Registrar::set_module(ObjectKind kind, std::string module) {
  const auto slot = static_cast<std::size_t>(kind);
  STRATA_CHECK(slot < kObjectKindCount, ValueError, "set_module: no such object kind");
  if (slot >= kModuleSlots) {
    STRATA_CHECK(module.empty(), ValueError, "set_module: ", kind_name(kind), " entries carry no module, got '",
                 module, "'");
    return;
  }
  modules_[slot] = std::move(module);
}

std::vector<RegistryEntryInfo> Registrar::staged() const {
  std::vector<RegistryEntryInfo> out;
  for (const auto& s : staged_) out.push_back({s.kind, s.name, provider_, s.module});
  return out;
}

std::vector<RegistryEntryInfo> Registrar::commit() {
  auto committed = staged();
  registry_.commit(staged_, provider_);
  return committed;
}

}  // namespace strata
