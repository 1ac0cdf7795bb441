// The lookup structure shared by the Registry and CustomObjects: per kind, entries by
// full name plus an index from the bare part of `package>Name` names to their full
// names, so a bare lookup can find a unique packaged entry.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/registry.hpp"

namespace strata::internal {

class NameTable {
 public:
  struct Entry {
    std::shared_ptr<const void> value;
    std::string provider;
    std::string module;  // the Keras module the provider declared, or ""
  };

  const Entry* exact(ObjectKind kind, std::string_view name) const;
  // Exact match, else the unique `package>name` when `name` is bare.
  Registry::Match find(ObjectKind kind, std::string_view name) const;
  // Inserts or replaces.
  void put(ObjectKind kind, std::string name, Entry entry);
  template <class F>
  void for_each(F&& f) const {  // f(kind, name, entry), ordered by kind then name
    for (std::size_t k = 0; k < kObjectKindCount; ++k) {
      for (const auto& [name, entry] : tables_[k]) f(static_cast<ObjectKind>(k), name, entry);
    }
  }
  const std::map<std::string, Entry, std::less<>>& of(ObjectKind kind) const {
    return tables_[static_cast<std::size_t>(kind)];
  }
  std::size_t size() const noexcept;

 private:
  std::array<std::map<std::string, Entry, std::less<>>, kObjectKindCount> tables_;
  // bare name -> full `package>Name` names, per kind
  std::array<std::map<std::string, std::vector<std::string>, std::less<>>, kObjectKindCount> packaged_;
};

// Registered names of `kind` in `table` close to `name`, best first.
std::vector<std::string> suggest_names(const NameTable& table, ObjectKind kind, std::string_view name,
                                       std::size_t max);

}  // namespace strata::internal
