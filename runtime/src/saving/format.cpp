#include "strata/format.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "checkpoint/store.hpp"
#include "saving/format_internal.hpp"
#include "core/foreign_exception.hpp"
#include "strata/checkpoint.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"

namespace strata {

// ---- LoadStatus ---------------------------------------------------------------------------------

LoadStatus::LoadStatus(std::string source, std::vector<std::string> unused_values, std::vector<std::string> unset_weights,
                       std::size_t restored)
    : source_(std::move(source)), unused_(std::move(unused_values)), unset_(std::move(unset_weights)), restored_(restored) {}

LoadStatus::~LoadStatus() {
  if (!checked_ && (!unused_.empty() || !unset_.empty())) {
    log_warning("restoring from '", source_, "' was incomplete and never checked: ", unused_.size(),
                " value(s) in the file were not used and ", unset_.size(),
                " weight(s) were not set. Call assert_consumed() or assert_existing_objects_matched() on the "
                "status to check, or expect_partial() to silence this");
  }
}

LoadStatus::LoadStatus(LoadStatus&& other) noexcept
    : source_(std::move(other.source_)), unused_(std::move(other.unused_)), unset_(std::move(other.unset_)),
      restored_(other.restored_), checked_(other.checked_) {
  other.checked_ = true;
}

LoadStatus& LoadStatus::operator=(LoadStatus&& other) noexcept {
  source_ = std::move(other.source_);
  unused_ = std::move(other.unused_);
  unset_ = std::move(other.unset_);
  restored_ = other.restored_;
  checked_ = other.checked_;
  other.checked_ = true;
  return *this;
}

namespace {
std::string list(const std::vector<std::string>& names) {
  std::string out;
  const std::size_t shown = std::min<std::size_t>(names.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += detail::concat(", ... (", names.size() - shown, " more)");
  return out;
}
}  // namespace

const LoadStatus& LoadStatus::assert_consumed() const {
  checked_ = true;
  STRATA_CHECK(unused_.empty() && unset_.empty(), ValueError, "restoring from '", source_, "' did not match: ",
               unused_.size(), " value(s) in the file were not used [", list(unused_), "] and ", unset_.size(),
               " weight(s) of the model were not set [", list(unset_), "]");
  return *this;
}

const LoadStatus& LoadStatus::assert_existing_objects_matched() const {
  checked_ = true;
  STRATA_CHECK(unset_.empty(), ValueError, "restoring from '", source_, "' left ", unset_.size(),
               " weight(s) of the model unset: ", list(unset_));
  return *this;
}

const LoadStatus& LoadStatus::expect_partial() const {
  checked_ = true;
  return *this;
}

const LoadStatus& LoadStatus::assert_model_weights_restored(const Model& model, bool allow_partial) const {
  checked_ = true;
  if (unset_.empty()) return *this;
  std::set<std::string> names;
  for (const auto& w : model.weights()) names.insert(w.name());
  std::vector<std::string> missing;
  for (const auto& entry : unset_) {
    bool weight = names.count(entry) != 0;
    const auto open = entry.rfind(" (");
    if (!weight && open != std::string::npos && entry.back() == ')') {
      weight = names.count(entry.substr(open + 2, entry.size() - open - 3)) != 0;
    }
    if (weight) missing.push_back(entry);
  }
  if (missing.empty()) return *this;
  std::string shown;
  const std::size_t n = std::min<std::size_t>(missing.size(), 5);
  for (std::size_t i = 0; i < n; ++i) shown += (i ? ", " : "") + missing[i];
  if (missing.size() > n) shown += detail::concat(", ... (", missing.size() - n, " more)");
  const std::string what = detail::concat("loading '", source_, "' left ", missing.size(), " weight",
                                          missing.size() == 1 ? "" : "s", " of model '", model.name(), "' (class ",
                                          model.class_name(), ") unrestored: ", shown);
  STRATA_CHECK(allow_partial, FormatError, what,
               ". The file does not hold them (was the model's class changed since it was saved?). Pass "
               "LoadOptions::allow_partial_checkpoint = true to load anyway, with those weights at their initial values");
  log_warning(what, "; they keep their initial values (LoadOptions::allow_partial_checkpoint)");
  return *this;
}

// ---- Format defaults ------------------------------------------------------------------------------

Format::~Format() = default;

namespace {
[[noreturn]] void unsupported(const Format& f, FormatCapability missing, const char* what) {
  STRATA_THROW(ValueError, "format '", f.name(), "' cannot ", what, format_capability_hint(f, missing));
}
}  // namespace

std::string format_capability_hint(const Format& format, FormatCapability missing) {
  const unsigned caps = format.capabilities();
  const bool models = caps & (kSaveModel | kLoadModel | kSaveArchitecture | kLoadArchitecture);
  const bool weights = caps & (kSaveWeights | kLoadWeights);
  switch (missing) {
    case kSaveModel:
    case kSaveArchitecture:
      if (weights && !models) {
        return "; it holds weights only: save them with save_weights (on the command line, `strata convert IN OUT "
               "--weights-into ARCHITECTURE`)";
      }
      break;
    case kLoadModel:
    case kLoadArchitecture:
      if (weights && !models) {
        return "; it holds weights only: make the model first, then call load_weights (on the command line, "
               "`strata convert IN OUT --weights-into ARCHITECTURE`)";
      }
      break;
    case kSaveWeights:
    case kLoadWeights:
      if (models && !weights) return "; it holds models or architectures, not weights alone: use save_model/load_model";
      break;
  }
  return {};
}

std::vector<std::string> Format::extensions() const { return {}; }
std::vector<std::string> Format::model_extensions() const {
  if (capabilities() & (kSaveModel | kLoadModel | kSaveArchitecture | kLoadArchitecture)) return extensions();
  return {};
}
std::vector<std::string> Format::weights_extensions() const {
  if (capabilities() & (kSaveWeights | kLoadWeights)) return extensions();
  return {};
}

void Format::save_model(const Model&, const std::filesystem::path&, const SaveOptions&) const {
  unsupported(*this, kSaveModel, "save whole models");
}
std::shared_ptr<Model> Format::load_model(const std::filesystem::path&, const LoadOptions&) const {
  unsupported(*this, kLoadModel, "load whole models");
}
void Format::save_weights(const Model&, const std::filesystem::path&, const SaveOptions&) const {
  unsupported(*this, kSaveWeights, "save weights");
}
LoadStatus Format::load_weights(Model&, const std::filesystem::path&, const LoadOptions&) const {
  unsupported(*this, kLoadWeights, "load weights");
}
void Format::save_architecture(const Model&, const std::filesystem::path&, const SaveOptions&) const {
  unsupported(*this, kSaveArchitecture, "save architectures");
}
std::shared_ptr<Model> Format::load_architecture(const std::filesystem::path&, const LoadOptions&) const {
  unsupported(*this, kLoadArchitecture, "load architectures");
}
std::string Format::describe(const std::filesystem::path& path) const {
  return detail::concat("format: ", name(), "\npath: ", path.string(), "\n");
}

// ---- registry access -----------------------------------------------------------------------------

namespace {

// The format a plugin made, seen through call_plugin_code: every method the runtime (or
// the CLI, or a host) calls on a format from get_format turns a foreign exception into a
// PluginError naming the plugin, the format and the method (core/foreign_exception.hpp).
class GuardedFormat final : public Format {
  // Declared first: its return type is deduced, so it must be defined before use.
  template <class F>
  decltype(auto) guard(const char* operation, F&& f) const {
    return internal::call_plugin_code({provider_, "format", name_, operation}, std::forward<F>(f));
  }

 public:
  GuardedFormat(std::shared_ptr<Format> inner, std::string provider, std::string name)
      : inner_(std::move(inner)), provider_(std::move(provider)), name_(std::move(name)) {}

  std::string name() const override { return guard("name", [&] { return inner_->name(); }); }
  std::vector<std::string> model_extensions() const override {
    return guard("model_extensions", [&] { return inner_->model_extensions(); });
  }
  std::vector<std::string> weights_extensions() const override {
    return guard("weights_extensions", [&] { return inner_->weights_extensions(); });
  }
  std::vector<std::string> extensions() const override {
    return guard("extensions", [&] { return inner_->extensions(); });
  }
  unsigned capabilities() const override { return guard("capabilities", [&] { return inner_->capabilities(); }); }
  bool sniff(const std::filesystem::path& path) const override {
    return guard("sniff", [&] { return inner_->sniff(path); });
  }
  void save_model(const Model& model, const std::filesystem::path& path, const SaveOptions& options) const override {
    guard("save_model", [&] { inner_->save_model(model, path, options); });
  }
  std::shared_ptr<Model> load_model(const std::filesystem::path& path, const LoadOptions& options) const override {
    return guard("load_model", [&] { return inner_->load_model(path, options); });
  }
  void save_weights(const Model& model, const std::filesystem::path& path, const SaveOptions& options) const override {
    guard("save_weights", [&] { inner_->save_weights(model, path, options); });
  }
  LoadStatus load_weights(Model& model, const std::filesystem::path& path, const LoadOptions& options) const override {
    return guard("load_weights", [&] { return inner_->load_weights(model, path, options); });
  }
  void save_architecture(const Model& model, const std::filesystem::path& path,
                         const SaveOptions& options) const override {
    guard("save_architecture", [&] { inner_->save_architecture(model, path, options); });
  }
  std::shared_ptr<Model> load_architecture(const std::filesystem::path& path,
                                           const LoadOptions& options) const override {
    return guard("load_architecture", [&] { return inner_->load_architecture(path, options); });
  }
  std::string describe(const std::filesystem::path& path) const override {
    return guard("describe", [&] { return inner_->describe(path); });
  }

 private:
  std::shared_ptr<Format> inner_;
  std::string provider_, name_;
};

// The formats' and the checkpoint stores' entries, by name (a store is a weights format).
std::vector<RegistryEntryInfo> format_entries() {
  auto entries = Registry::global().entries(ObjectKind::kFormat);
  for (auto& e : Registry::global().entries(ObjectKind::kCheckpointStore)) entries.push_back(std::move(e));
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return entries;
}

struct FormatCache {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<Format>, std::less<>> made;
};
FormatCache& cache() {
  static auto* c = new FormatCache();
  return *c;
}

}  // namespace

std::shared_ptr<Format> get_format(std::string_view name) {
  auto& c = cache();
  std::lock_guard lock(c.mutex);
  if (auto it = c.made.find(name); it != c.made.end()) return it->second;
  const Registry::Match match = Registry::global().find_erased(ObjectKind::kFormat, name);
  auto factory = std::static_pointer_cast<const KindValue<ObjectKind::kFormat>>(match.value);
  if (!factory) {
    // A checkpoint store is the weights format of its name (checkpoint/store.hpp).
    if (auto adapted = internal::checkpoint_weights_format(name)) {
      c.made.emplace(std::string(name), adapted);
      return adapted;
    }
    std::string loaded;
    for (const auto& e : format_entries()) {
      loaded += detail::concat(loaded.empty() ? "" : ", ", e.name, " (", e.provider, ")");
    }
    const auto close = Registry::global().suggest(ObjectKind::kFormat, name);
    STRATA_THROW(ValueError, "format '", name, "' is not available",
                 close.empty() ? std::string() : detail::concat(" (did you mean '", close.front(), "'?)"),
                 ": no loaded plugin registers it. Formats loaded: ", loaded.empty() ? "none" : loaded,
                 ". Load the plugin that provides '", name,
                 "' (put it on STRATA_PLUGIN_PATH); `strata plugins` lists the plugins found and what they provide");
  }
  std::shared_ptr<Format> made = (*factory)();
  STRATA_CHECK(made != nullptr, ValueError, "the factory of format '", name, "' returned nothing");
  auto format = std::make_shared<GuardedFormat>(std::move(made), match.provider, match.name);
  c.made.emplace(std::string(name), format);
  return format;
}

std::vector<std::shared_ptr<Format>> available_formats() {
  std::vector<std::shared_ptr<Format>> out;
  for (const auto& e : format_entries()) out.push_back(get_format(e.name));
  return out;
}

std::string format_provider(std::string_view name) {
  std::string provider = Registry::global().find_erased(ObjectKind::kFormat, name).provider;
  return provider.empty() ? Registry::global().find_erased(ObjectKind::kCheckpointStore, name).provider : provider;
}

}  // namespace strata
