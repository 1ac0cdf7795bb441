// Custom objects: classes a load may use that are not (or not only) in the registry,
// the way Keras's `custom_objects` argument and `CustomObjectScope` work.
//
// Resolution order for one name: the innermost CustomObjectScope on this thread, then
// the outer scopes, then the load call's custom_objects, then the registry. An
// ObjectResolver does that lookup for one load and collects every miss, so that one
// UnknownObjectError names all the classes a file needs but this process lacks.
#pragma once

#include "strata/export.hpp"
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/error.hpp"
#include "strata/registry.hpp"

STRATA_API_BEGIN

namespace strata {

// A set of (kind, name) → value entries supplied by the caller. Names follow the
// registry's rules, including the bare-name lookup of `package>Name`.
class CustomObjects {
 public:
  CustomObjects();
  ~CustomObjects();
  CustomObjects(const CustomObjects&);
  CustomObjects& operator=(const CustomObjects&);
  CustomObjects(CustomObjects&&) noexcept;
  CustomObjects& operator=(CustomObjects&&) noexcept;

  // Adds or replaces an entry. Throws ValueError for an invalid name.
  template <ObjectKind K>
  CustomObjects& add(std::string_view name, KindValue<K> value) {
    add_erased(K, name, std::make_shared<const KindValue<K>>(std::move(value)));
    return *this;
  }
  void add_erased(ObjectKind kind, std::string_view name, std::shared_ptr<const void> value);

  Registry::Match find_erased(ObjectKind kind, std::string_view name) const;
  bool empty() const noexcept;
  std::size_t size() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // copy-on-write
};

// Makes `objects` visible to every ObjectResolver created or used on this thread while
// the scope lives. Scopes nest (inner ones win) and must be destroyed in reverse order.
class CustomObjectScope {
 public:
  explicit CustomObjectScope(CustomObjects objects);
  ~CustomObjectScope();
  CustomObjectScope(const CustomObjectScope&) = delete;
  CustomObjectScope& operator=(const CustomObjectScope&) = delete;
};

// Looks names up for one load (scopes, custom_objects, registry) and remembers every
// name it could not resolve. Typical use: resolve every class a config names with
// find(), then call raise_if_missing() before building anything.
class ObjectResolver {
 public:
  // `custom_objects` may be null; `registry` null means Registry::global(). Both must
  // outlive the resolver.
  explicit ObjectResolver(const CustomObjects* custom_objects = nullptr,
                          const Registry* registry = nullptr);

  // The value for `name`, or null after recording a miss. `context` says where the name
  // was needed ("layer 'dense_2' of model 'sequential'") and is shown in the error.
  template <ObjectKind K>
  std::shared_ptr<const KindValue<K>> find(std::string_view name, std::string_view context = {}) {
    return std::static_pointer_cast<const KindValue<K>>(find_erased(K, name, context).value);
  }
  // As find(), but throws UnknownObjectError for this name (plus any earlier misses)
  // at once.
  template <ObjectKind K>
  std::shared_ptr<const KindValue<K>> require(std::string_view name, std::string_view context = {}) {
    auto value = find<K>(name, context);
    if (!value) raise_if_missing();
    return value;
  }
  Registry::Match find_erased(ObjectKind kind, std::string_view name, std::string_view context);

  bool has_missing() const noexcept { return !missing_.empty(); }
  const std::vector<UnknownObject>& missing() const noexcept { return missing_; }
  // Throws one UnknownObjectError listing every miss so far; does nothing when none.
  void raise_if_missing() const;

 private:
  const CustomObjects* custom_objects_;
  const Registry* registry_;
  std::vector<UnknownObject> missing_;
};

}  // namespace strata

STRATA_API_END
