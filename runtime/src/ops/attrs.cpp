#include "strata/attrs.hpp"

#include <algorithm>
#include <sstream>

namespace strata {

std::string_view attr_type_name(const AttrValue& value) noexcept {
  static constexpr std::string_view kNames[] = {"bool", "int", "float", "string", "type",
                                                "shape", "list(int)", "list(float)", "list(string)"};
  return kNames[value.index()];
}

Attrs::Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items) {
  for (const auto& [name, value] : items) set(name, value);
}

Attrs& Attrs::set(std::string name, AttrValue value) {
  auto it = std::lower_bound(items_.begin(), items_.end(), name,
                             [](const auto& item, const std::string& n) { return item.first < n; });
  if (it != items_.end() && it->first == name) {
    it->second = std::move(value);
  } else {
    items_.emplace(it, std::move(name), std::move(value));
  }
  return *this;
}

const AttrValue* Attrs::find(std::string_view name) const noexcept {
  auto it = std::lower_bound(items_.begin(), items_.end(), name,
                             [](const auto& item, std::string_view n) { return item.first < n; });
  return (it != items_.end() && it->first == name) ? &it->second : nullptr;
}

void Attrs::missing(std::string_view name) { STRATA_THROW(ValueError, "attribute '", name, "' is missing"); }

void Attrs::wrong_type(std::string_view name, const AttrValue& value) {
  STRATA_THROW(ValueError, "attribute '", name, "' has type ", attr_type_name(value), ", not the type asked for");
}

namespace {
struct Printer {
  std::ostream& out;
  void operator()(bool b) const { out << (b ? "true" : "false"); }
  void operator()(std::int64_t i) const { out << i; }
  void operator()(double d) const { out << d; }
  void operator()(const std::string& s) const { out << '"' << s << '"'; }
  void operator()(DType t) const { out << dtype_name(t); }
  void operator()(const Shape& s) const { out << s.to_string(); }
  template <class T>
  void operator()(const std::vector<T>& v) const {
    out << '[';
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) out << ',';
      (*this)(v[i]);
    }
    out << ']';
  }
};
}  // namespace

std::string Attrs::to_string() const {
  std::ostringstream out;
  out << '{';
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (i) out << ", ";
    out << items_[i].first << '=';
    std::visit(Printer{out}, items_[i].second);
  }
  out << '}';
  return out.str();
}

}  // namespace strata
