#include "strata/device.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "core/foreign_exception.hpp"
#include "strata/error.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/registry.hpp"

namespace strata {
namespace {

bool valid_type(std::string_view t) {
  if (t.empty() || !std::islower(static_cast<unsigned char>(t[0]))) return false;
  for (char c : t) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  }
  return true;
}

std::vector<Device>& scope_stack() {
  thread_local std::vector<Device> stack;
  return stack;
}

const Device& env_default_device() {
  static const Device device = [] {
    const char* env = std::getenv("STRATA_DEVICE");
    if (env == nullptr || *env == '\0') return Device();
    auto frame = ErrorContext::push("reading the STRATA_DEVICE environment variable");
    return Device(std::string_view(env));
  }();
  return device;
}

// Backends instantiated from the global registry, one per device type, kept for the
// life of the process (their devices own memory that tensors point into).
class DeviceManager {
 public:
  static DeviceManager& instance() {
    static DeviceManager* manager = new DeviceManager();
    return *manager;
  }

  Backend* backend(const std::string& type) {
    {
      std::shared_lock lock(mutex_);
      auto it = backends_.find(type);
      if (it != backends_.end()) return it->second.get();
    }
    auto factory = Registry::global().find<ObjectKind::kBackend>(type);
    if (!factory) return nullptr;
    std::shared_ptr<Backend> created = (*factory)();
    STRATA_CHECK(created != nullptr, BackendError, "the backend registered for device type '", type,
                 "' returned no backend");
    std::unique_lock lock(mutex_);
    auto [it, inserted] = backends_.emplace(type, std::move(created));
    return it->second.get();
  }

 private:
  std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<Backend>, std::less<>> backends_;
};

// Calls a method of the backend registered for `type` (plugin code); the provider is
// looked up only when it threw something foreign.
template <class F>
decltype(auto) call_backend(const std::string& type, const char* operation, F&& f) {
  try {
    return std::invoke(std::forward<F>(f));
  } catch (...) {
    const std::string provider = Registry::global().find_erased(ObjectKind::kBackend, type).provider;
    internal::translate_foreign_exception({provider, "backend", type, operation});
  }
}

std::string known_device_types() {
  std::string out;
  for (const auto& e : Registry::global().entries(ObjectKind::kBackend)) {
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Device::Device() : type_("cpu"), index_(0) {}

Device::Device(std::string type, int index) : type_(std::move(type)), index_(index) {
  STRATA_CHECK(valid_type(type_), ValueError, "'", type_,
               "' is not a device type: use a lower-case name such as cpu or cuda");
  STRATA_CHECK(index_ >= 0, ValueError, "device index ", index_, " of '", type_, "' is negative");
}

namespace {

constexpr const char* kTensorFlowSpellings = " (TensorFlow's GPU:0 and /device:GPU:0 are read as cuda:0)";

// TensorFlow's device names: "/job:localhost/replica:0/task:0/device:GPU:0", "/device:GPU:0",
// "/GPU:0", "GPU:0", "gpu" -> the "TYPE[:INDEX]" part, with GPU read as cuda and CPU as cpu.
std::string from_tensorflow_spelling(std::string_view spec) {
  std::string s(spec);
  if (!s.empty() && s[0] == '/') {
    const auto at = s.rfind("/device:");
    s = at != std::string::npos ? s.substr(at + 8) : s.substr(1);
  }
  const auto colon = s.find(':');
  std::string type = s.substr(0, colon);
  std::string lower = type;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "gpu") type = "cuda";
  if (lower == "cpu") type = "cpu";
  return type + (colon == std::string::npos ? "" : s.substr(colon));
}

}  // namespace

Device::Device(std::string_view given) {
  const std::string normalized = from_tensorflow_spelling(given);
  const std::string_view spec = normalized;
  const auto colon = spec.find(':');
  const std::string_view type = spec.substr(0, colon);
  int index = 0;
  if (colon != std::string_view::npos) {
    const std::string_view digits = spec.substr(colon + 1);
    const auto* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, index);
    STRATA_CHECK(!digits.empty() && ec == std::errc() && ptr == end && index >= 0, ValueError, "'",
                 given, "' is not a device: write TYPE or TYPE:INDEX, e.g. cpu or cuda:0");
  }
  STRATA_CHECK(valid_type(type), ValueError, "'", given, "' is not a device: write TYPE or TYPE:INDEX, e.g. cpu or cuda:0",
               kTensorFlowSpellings);
  type_ = std::string(type);
  index_ = index;
}

std::string Device::to_string() const { return type_ + ":" + std::to_string(index_); }

Device default_device() {
  const auto& stack = scope_stack();
  if (!stack.empty()) return stack.back();
  return env_default_device();
}

DeviceScope::DeviceScope(Device device) { scope_stack().push_back(std::move(device)); }
DeviceScope::~DeviceScope() {
  auto& stack = scope_stack();
  if (!stack.empty()) stack.pop_back();
}

BackendDevice::~BackendDevice() = default;
Backend::~Backend() = default;

void BackendDevice::fill_zero(void* dst, std::size_t bytes) {
  static const std::vector<unsigned char> zeros(1 << 16, 0);
  auto* out = static_cast<unsigned char*>(dst);
  while (bytes > 0) {
    const std::size_t n = std::min(bytes, zeros.size());
    copy_from_host(out, zeros.data(), n);
    out += n;
    bytes -= n;
  }
}

namespace {

// " (the device STRATA_DEVICE names: ...)" when `device` is the default that the environment
// chose (no DeviceScope active), so that a failure says where the device came from.
std::string chosen_by_environment(const Device& device) {
  const char* env = std::getenv("STRATA_DEVICE");
  if (env == nullptr || *env == '\0' || !scope_stack().empty()) return {};
  try {
    if (!(env_default_device() == device)) return {};
  } catch (const Error&) {
    return {};
  }
  return detail::concat(" (the default device, from STRATA_DEVICE=", env,
                        "; unset it, or pass another device, e.g. the CLI's --device)");
}

}  // namespace

BackendDevice& backend_device(const Device& device) {
  Backend* backend = DeviceManager::instance().backend(device.type());
  STRATA_CHECK(backend != nullptr, BackendError, "no loaded backend provides device type '", device.type(),
               "' (asked for ", device.to_string(), "; device types available: ", known_device_types(),
               "). Load the plugin that provides it; `strata plugins` lists what is loaded",
               chosen_by_environment(device));
  const std::string reason = call_backend(device.type(), "unusable_reason", [&] { return backend->unusable_reason(); });
  STRATA_CHECK(reason.empty(), BackendError, "device ", device.to_string(), " is not usable: ", reason, chosen_by_environment(device));
  const int count = call_backend(device.type(), "device_count", [&] { return backend->device_count(); });
  STRATA_CHECK(device.index() < count, BackendError, "device ", device.to_string(),
               " does not exist: backend '", device.type(), "' has ", count, " device(s)", chosen_by_environment(device));
  return call_backend(device.type(), "device", [&]() -> BackendDevice& { return backend->device(device.index()); });
}

std::vector<Device> available_devices() {
  std::vector<Device> out{Device::cpu()};
  for (const auto& e : Registry::global().entries(ObjectKind::kBackend)) {
    if (e.name == "cpu") continue;
    Backend* backend = nullptr;
    int count = 0;
    try {
      backend = DeviceManager::instance().backend(e.name);
      if (backend == nullptr ||
          !call_backend(e.name, "unusable_reason", [&] { return backend->unusable_reason(); }).empty()) {
        continue;
      }
      count = call_backend(e.name, "device_count", [&] { return backend->device_count(); });
    } catch (const Error&) {
      continue;
    }
    for (int i = 0; i < count; ++i) out.emplace_back(e.name, i);
  }
  return out;
}

bool is_device_available(const Device& device) {
  try {
    backend_device(device);
    return true;
  } catch (const Error&) {
    return false;
  }
}

void synchronize(const Device& device) { backend_device(device).synchronize(); }

}  // namespace strata
