#include "registry/name_table.hpp"

#include <algorithm>
#include <cctype>

namespace strata::internal {
namespace {

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '_' || c == '-') continue;  // custom_layer ~ CustomLayer
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

const NameTable::Entry* NameTable::exact(ObjectKind kind, std::string_view name) const {
  const auto& table = tables_[static_cast<std::size_t>(kind)];
  auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}

Registry::Match NameTable::find(ObjectKind kind, std::string_view name) const {
  Registry::Match match;
  // The match of the entry registered under `found`, when there is one.
  auto take = [&](std::string_view found) {
    const Entry* e = exact(kind, found);
    if (e == nullptr) return false;
    match.value = e->value;
    match.name = std::string(found);
    match.provider = e->provider;
    match.module = e->module;
    return true;
  };
  if (take(name)) return match;
  if (name.find('>') != std::string_view::npos) {
    // Keras 3 writes a custom class's registered name ("package>Name"); a plugin that
    // registered the class under its bare name provides it (Keras's class_name).
    take(bare_name(name));
    return match;
  }
  const auto& packaged = packaged_[static_cast<std::size_t>(kind)];
  auto it = packaged.find(name);
  if (it == packaged.end()) return match;
  if (it->second.size() == 1) {
    take(it->second.front());
  } else {
    match.ambiguous = it->second;
  }
  return match;
}

void NameTable::put(ObjectKind kind, std::string name, Entry entry) {
  const auto k = static_cast<std::size_t>(kind);
  const auto bare = bare_name(name);
  if (bare.size() != name.size()) {
    auto& full_names = packaged_[k][std::string(bare)];
    if (std::find(full_names.begin(), full_names.end(), name) == full_names.end()) full_names.push_back(name);
  }
  tables_[k][std::move(name)] = std::move(entry);
}

std::size_t NameTable::size() const noexcept {
  std::size_t n = 0;
  for (const auto& t : tables_) n += t.size();
  return n;
}

std::vector<std::string> suggest_names(const NameTable& table, ObjectKind kind, std::string_view name,
                                       std::size_t max) {
  const std::string wanted = lower(bare_name(name));
  const std::size_t threshold = std::max<std::size_t>(2, wanted.size() / 3);
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const auto& [candidate, entry] : table.of(kind)) {
    if (candidate == name) continue;
    const std::size_t d = edit_distance(wanted, lower(bare_name(candidate)));
    if (d <= threshold) scored.emplace_back(d, candidate);
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < scored.size() && i < max; ++i) out.push_back(std::move(scored[i].second));
  return out;
}

}  // namespace strata::internal
