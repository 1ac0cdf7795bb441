// Which models were revived from traced functions (strata/revived.hpp): a table of weak
// references, so that nothing is added to Model's layout or vtable (the plugin ABI).
#include "strata/revived.hpp"

#include <map>
#include <mutex>

#include "strata/model.hpp"

namespace strata {

namespace {

struct Entry {
  std::weak_ptr<const Model> model;
  std::vector<std::string> missing;
};

std::mutex& table_mutex() {
  static std::mutex m;
  return m;
}
std::map<const Model*, Entry>& table() {
  static std::map<const Model*, Entry> t;
  return t;
}

// The live entry of `model` (an address reused by a new model after the old one died
// does not count); drops dead entries on the way.
const Entry* find_live(const Model& model) {
  auto& t = table();
  for (auto it = t.begin(); it != t.end();) {
    if (it->second.model.expired()) {
      it = t.erase(it);
    } else {
      ++it;
    }
  }
  const auto it = t.find(&model);
  if (it == t.end()) return nullptr;
  const auto alive = it->second.model.lock();
  return alive.get() == &model ? &it->second : nullptr;
}

}  // namespace

bool is_revived(const Model& model) {
  std::lock_guard<std::mutex> lock(table_mutex());
  return find_live(model) != nullptr;
}

std::vector<std::string> revived_missing_classes(const Model& model) {
  std::lock_guard<std::mutex> lock(table_mutex());
  const Entry* e = find_live(model);
  return e ? e->missing : std::vector<std::string>{};
}

namespace plugin {
void mark_revived(const std::shared_ptr<const Model>& model, std::vector<std::string> missing_classes) {
  if (!model) return;
  std::lock_guard<std::mutex> lock(table_mutex());
  table()[model.get()] = Entry{model, std::move(missing_classes)};
}
}  // namespace plugin

}  // namespace strata
