// The conformance kit's device list and filter (kit.hpp).
#include "kit.hpp"

#include <algorithm>
#include <cctype>

#include "strata/error.hpp"
#include "strata/registry.hpp"

namespace strata::testing {
namespace {

std::vector<std::string>& filter() {
  static std::vector<std::string> entries;
  return entries;
}

std::vector<std::string> backend_types() {
  std::vector<std::string> out;
  for (const auto& e : Registry::global().entries(ObjectKind::kBackend)) out.push_back(e.name);
  // cpu first, then the registry's (sorted) order.
  std::stable_partition(out.begin(), out.end(), [](const std::string& t) { return t == "cpu"; });
  return out;
}

bool selected(const Device& device) {
  if (filter().empty()) return true;
  for (const auto& f : filter()) {
    if (f == device.type() || f == device.to_string()) return true;
  }
  return false;
}

}  // namespace

void set_kit_device_filter(const std::string& list) {
  std::vector<std::string> entries;
  std::size_t begin = 0;
  while (begin <= list.size()) {
    const std::size_t end = std::min(list.find(',', begin), list.size());
    std::string item = list.substr(begin, end - begin);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) entries.push_back(item);
    begin = end + 1;
  }
  const auto types = backend_types();
  std::string loaded;
  for (const auto& t : types) loaded += (loaded.empty() ? "" : ", ") + t;
  for (const auto& item : entries) {
    const std::string type = item.substr(0, item.find(':'));
    STRATA_CHECK(std::find(types.begin(), types.end(), type) != types.end(), ValueError, "device filter '", list,
                 "': no loaded backend provides device type '", type, "' (loaded backends: ",
                 loaded.empty() ? "none" : loaded, ")");
    (void)Device(item);  // a malformed index is a ValueError here
  }
  filter() = std::move(entries);
}

std::vector<Device> kit_devices(bool include_ref) {
  const auto usable = available_devices();
  std::vector<Device> out;
  for (const auto& type : backend_types()) {
    if (type == "ref" && !include_ref) continue;
    std::vector<Device> of_type;
    for (const auto& d : usable) {
      if (d.type() == type) of_type.push_back(d);
    }
    if (of_type.empty()) of_type.emplace_back(type, 0);  // registered; its cases skip with the reason
    for (const auto& d : of_type) {
      if (selected(d)) out.push_back(d);
    }
  }
  return out;
}

std::string kit_case_prefix(const Device& device) {
  std::string out;
  for (char ch : device.type()) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  if (device.index() > 0) out += std::to_string(device.index());
  return out;
}

std::string kit_instance_name(const Device& device) {
  std::string out = kit_case_prefix(device);
  out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

void register_kit_tests() {
  register_op_conformance_tests(kit_devices(false));
  register_gradient_check_tests(kit_devices(true));
  register_model_conformance_tests(kit_devices(false));
}

}  // namespace strata::testing
