// Op attributes: named values that parameterise an op (transpose_a, strides, padding,
// keep_dims, DstT, ...). Names and value types follow TensorFlow's op definitions, so a
// traced graph maps onto a GraphDef without translation tables.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "strata/dtype.hpp"
#include "strata/error.hpp"
#include "strata/shape.hpp"

STRATA_API_BEGIN

namespace strata {

using AttrValue = std::variant<bool, std::int64_t, double, std::string, DType, Shape, std::vector<std::int64_t>,
                               std::vector<double>, std::vector<std::string>>;

// "bool", "int", "float", "string", "type", "shape", "list(int)", "list(float)",
// "list(string)" — TensorFlow's attr type names.
std::string_view attr_type_name(const AttrValue& value) noexcept;

// An ordered set of attributes (kept sorted by name).
class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items);

  // Adds or replaces.
  Attrs& set(std::string name, AttrValue value);
  bool has(std::string_view name) const noexcept { return find(name) != nullptr; }
  const AttrValue* find(std::string_view name) const noexcept;

  // The attribute as T. Throws ValueError naming the attribute when it is missing or has
  // another type (an int64 attribute also reads as double).
  template <class T>
  T get(std::string_view name) const {
    const AttrValue* v = find(name);
    if (v == nullptr) missing(name);
    if (const T* p = std::get_if<T>(v)) return *p;
    if constexpr (std::is_same_v<T, double>) {
      if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
    }
    wrong_type(name, *v);
  }
  template <class T>
  T get_or(std::string_view name, T fallback) const {
    return has(name) ? get<T>(name) : fallback;
  }

  const std::vector<std::pair<std::string, AttrValue>>& items() const noexcept { return items_; }
  bool empty() const noexcept { return items_.empty(); }
  // "{keep_dims=true, padding="SAME", strides=[1,2,2,1]}" for messages.
  std::string to_string() const;

  friend bool operator==(const Attrs& a, const Attrs& b) { return a.items_ == b.items_; }

 private:
  [[noreturn]] static void missing(std::string_view name);
  [[noreturn]] static void wrong_type(std::string_view name, const AttrValue& value);
  std::vector<std::pair<std::string, AttrValue>> items_;
};

}  // namespace strata

STRATA_API_END
