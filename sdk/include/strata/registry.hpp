// The registry: one process-wide map from (kind, class name) to what a plugin or the
// runtime provides for it — a factory for layers, optimizers, formats, backends, ...,
// a definition for ops and kernels. Every entry remembers its provider (a plugin name
// or "runtime").
//
// Names are the names as they appear in files: a bare `Name` ("Dense") or Keras's
// registered form `package>Name` ("my_package>CustomLayer"). Looking up a bare name
// also finds a unique `package>Name` whose Name part matches.
//
// Entries are added only through a Registrar (strata/plugin/registrar.hpp), which
// stages them and commits all or nothing. Deserialisation code should not call find()
// directly but go through an ObjectResolver (strata/custom_objects.hpp), which also
// consults custom objects and reports every miss of one load together.
//
// Thread safety: every member may be called concurrently; lookups take a shared lock.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/config.hpp"

STRATA_API_BEGIN

namespace strata {

enum class ObjectKind : std::uint8_t {
  kLayer,
  kModel,
  kOptimizer,
  kLoss,
  kMetric,
  kActivation,
  kInitializer,
  kRegularizer,
  kConstraint,
  kLearningRateSchedule,
  kBackend,
  kFormat,
  kOp,
  kKernel,
  kCheckpointStore,  // the bytes of object-based checkpoints (strata/plugin/checkpoint_store.hpp)
  kCollective,       // ABI 2.6: replica communication for data parallelism (strata/plugin/collective.hpp)
};
inline constexpr std::size_t kObjectKindCount = 16;

// "layer", "model", "optimizer", "loss", "metric", "activation", "initializer",
// "regularizer", "constraint", "learning_rate_schedule", "backend", "format", "op",
// "kernel", "checkpoint_store", "collective".
std::string_view kind_name(ObjectKind kind) noexcept;
// Inverse of kind_name; throws ValueError listing the kinds otherwise.
ObjectKind kind_from_name(std::string_view name);

// What an entry of kind K holds. Specialised next to the interface of each kind;
// config-constructed kinds share one factory shape, the Keras from_config contract.
template <ObjectKind K>
struct KindTraits;
template <ObjectKind K>
using KindValue = typename KindTraits<K>::Value;

template <class T>
using ConfigFactory = std::function<std::shared_ptr<T>(const Config&)>;

class Layer;
class Model;
class Optimizer;
class Loss;
class Metric;
class Activation;
class Initializer;
class Regularizer;
class Constraint;
class LearningRateSchedule;
class Format;
class CheckpointStore;

template <> struct KindTraits<ObjectKind::kLayer> { using Value = ConfigFactory<Layer>; };
template <> struct KindTraits<ObjectKind::kModel> { using Value = ConfigFactory<Model>; };
template <> struct KindTraits<ObjectKind::kOptimizer> { using Value = ConfigFactory<Optimizer>; };
template <> struct KindTraits<ObjectKind::kLoss> { using Value = ConfigFactory<Loss>; };
template <> struct KindTraits<ObjectKind::kMetric> { using Value = ConfigFactory<Metric>; };
template <> struct KindTraits<ObjectKind::kActivation> { using Value = ConfigFactory<Activation>; };
template <> struct KindTraits<ObjectKind::kInitializer> { using Value = ConfigFactory<Initializer>; };
template <> struct KindTraits<ObjectKind::kRegularizer> { using Value = ConfigFactory<Regularizer>; };
template <> struct KindTraits<ObjectKind::kConstraint> { using Value = ConfigFactory<Constraint>; };
template <> struct KindTraits<ObjectKind::kLearningRateSchedule> {
  using Value = ConfigFactory<LearningRateSchedule>;
};
template <> struct KindTraits<ObjectKind::kFormat> {
  using Value = std::function<std::shared_ptr<Format>()>;
};
template <> struct KindTraits<ObjectKind::kCheckpointStore> {
  using Value = std::function<std::shared_ptr<CheckpointStore>()>;
};

// Throws ValueError unless `name` is a valid registered name: `Name` or
// `package>Name`, both parts non-empty, printable ASCII without spaces, at most one '>'.
void validate_registered_name(std::string_view name);
// The part after '>' ("CustomLayer" for "pkg>CustomLayer"); `name` itself when bare.
std::string_view bare_name(std::string_view name) noexcept;

struct RegistryEntryInfo {
  ObjectKind kind;
  std::string name;
  std::string provider;  // plugin name, or "runtime"
  // The Keras module the provider declared for the class (Registrar::set_module), e.g.
  // "keras.layers" for Keras's own layer classes; "" for custom classes. Code that must
  // tell Keras's built-in classes from custom ones (how a config names them) asks this,
  // never the provider's name.
  std::string module;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry, holding the runtime's built-in entries (provider
  // "runtime") from first use on.
  static Registry& global();

  // The result of a lookup: `value` is null when nothing matched; `ambiguous` lists the
  // candidates when a bare name matched several `package>Name` entries.
  struct Match {
    std::shared_ptr<const void> value;
    std::string name;
    std::string provider;
    std::string module;  // see RegistryEntryInfo::module
    std::vector<std::string> ambiguous;
  };
  Match find_erased(ObjectKind kind, std::string_view name) const;

  // The entry registered under `name` (bare-name rule above), or null.
  template <ObjectKind K>
  std::shared_ptr<const KindValue<K>> find(std::string_view name) const {
    return std::static_pointer_cast<const KindValue<K>>(find_erased(K, name).value);
  }
  bool contains(ObjectKind kind, std::string_view name) const;

  // Every entry, ordered by kind, then name.
  std::vector<RegistryEntryInfo> entries() const;
  std::vector<RegistryEntryInfo> entries(ObjectKind kind) const;
  std::vector<RegistryEntryInfo> entries_from(std::string_view provider) const;
  std::size_t size() const;
  // Registered names of `kind` close to `name` (case, edit distance, bare part), best
  // first, at most `max`.
  std::vector<std::string> suggest(ObjectKind kind, std::string_view name,
                                   std::size_t max = 3) const;
  // Incremented by every successful commit; caches keyed on registry content use it.
  std::uint64_t generation() const noexcept;

 private:
  friend class Registrar;
  struct Staged {
    ObjectKind kind;
    std::string name;
    std::shared_ptr<const void> value;
    std::string module;
  };
  // All or nothing; throws PluginError naming the entry and both providers on a clash.
  void commit(std::vector<Staged>& staged, const std::string& provider);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata

STRATA_API_END
