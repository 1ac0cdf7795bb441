#include "strata/custom_objects.hpp"

#include <algorithm>
#include <optional>

#include "plugin/plugin_notes.hpp"
#include "registry/name_table.hpp"

namespace strata {

struct CustomObjects::Impl {
  internal::NameTable table;
};

CustomObjects::CustomObjects() : impl_(std::make_shared<Impl>()) {}
CustomObjects::~CustomObjects() = default;
CustomObjects::CustomObjects(const CustomObjects&) = default;
CustomObjects& CustomObjects::operator=(const CustomObjects&) = default;
CustomObjects::CustomObjects(CustomObjects&&) noexcept = default;
CustomObjects& CustomObjects::operator=(CustomObjects&&) noexcept = default;

void CustomObjects::add_erased(ObjectKind kind, std::string_view name, std::shared_ptr<const void> value) {
  validate_registered_name(name);
  STRATA_CHECK(value != nullptr, ValueError, "custom object ", kind_name(kind), " '", name, "' has no value");
  if (!impl_ || impl_.use_count() > 1) impl_ = std::make_shared<Impl>(impl_ ? *impl_ : Impl{});
  impl_->table.put(kind, std::string(name), {std::move(value), "custom_objects", ""});
}

Registry::Match CustomObjects::find_erased(ObjectKind kind, std::string_view name) const {
  return impl_ ? impl_->table.find(kind, name) : Registry::Match{};
}

bool CustomObjects::empty() const noexcept { return !impl_ || impl_->table.size() == 0; }
std::size_t CustomObjects::size() const noexcept { return impl_ ? impl_->table.size() : 0; }

namespace {
std::vector<CustomObjects>& scope_stack() {
  thread_local std::vector<CustomObjects> stack;
  return stack;
}
}  // namespace

CustomObjectScope::CustomObjectScope(CustomObjects objects) { scope_stack().push_back(std::move(objects)); }
CustomObjectScope::~CustomObjectScope() {
  auto& stack = scope_stack();
  if (!stack.empty()) stack.pop_back();
}

ObjectResolver::ObjectResolver(const CustomObjects* custom_objects, const Registry* registry)
    : custom_objects_(custom_objects), registry_(registry ? registry : &Registry::global()) {}

Registry::Match ObjectResolver::find_erased(ObjectKind kind, std::string_view name, std::string_view context) {
  std::vector<std::string> ambiguous;
  auto consider = [&](Registry::Match m) -> std::optional<Registry::Match> {
    if (m.value) return m;
    if (!m.ambiguous.empty() && ambiguous.empty()) ambiguous = std::move(m.ambiguous);
    return std::nullopt;
  };
  const auto& stack = scope_stack();
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
    if (auto m = consider(it->find_erased(kind, name))) return *m;
  }
  if (custom_objects_) {
    if (auto m = consider(custom_objects_->find_erased(kind, name))) return *m;
  }
  if (auto m = consider(registry_->find_erased(kind, name))) return *m;

  const std::string kind_text(kind_name(kind));
  const bool seen = std::any_of(missing_.begin(), missing_.end(),
                                [&](const UnknownObject& u) { return u.kind == kind_text && u.name == name; });
  if (!seen) {
    UnknownObject miss{kind_text, std::string(name), {}, std::string(context)};
    if (!ambiguous.empty()) {
      // Several package>Name entries share the bare name: name each with its provider.
      miss.ambiguous = true;
      for (const auto& candidate : ambiguous) {
        miss.suggestions.push_back(candidate);
        miss.candidate_providers.push_back(registry_->find_erased(kind, candidate).provider);
      }
    } else {
      miss.suggestions = registry_->suggest(kind, name);
    }
    missing_.push_back(std::move(miss));
  }
  return {};
}

void ObjectResolver::raise_if_missing() const {
  if (!missing_.empty()) throw UnknownObjectError(missing_, internal::plugin_load_notes(*registry_));
}

}  // namespace strata
