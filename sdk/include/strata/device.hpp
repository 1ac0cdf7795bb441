// Devices. A Device names where a tensor lives: a device type provided by a backend
// ("cpu" is built into the runtime; "cuda" comes from the CUDA plugin; the tests add
// "ref") and an index. The default device for new tensors is the innermost DeviceScope
// on this thread, else the STRATA_DEVICE environment variable, else cpu:0.
#pragma once

#include "strata/export.hpp"
#include <string>
#include <string_view>
#include <vector>

STRATA_API_BEGIN

namespace strata {

class Device {
 public:
  // cpu:0
  Device();
  // Parses "cpu", "cpu:0", "cuda:1". Throws ValueError for anything else (the type must
  // be a lower-case identifier, the index a non-negative integer). TensorFlow's spellings
  // are accepted too: "GPU:0", "/GPU:0", "/device:GPU:0",
  // "/job:localhost/replica:0/task:0/device:GPU:0" (GPU is cuda, CPU is cpu, either case).
  Device(std::string_view spec);  // NOLINT(google-explicit-constructor): Device("cuda:0")
  Device(const char* spec) : Device(std::string_view(spec)) {}  // NOLINT
  Device(std::string type, int index);

  static Device cpu() { return Device(); }

  const std::string& type() const noexcept { return type_; }
  int index() const noexcept { return index_; }
  // "cpu:0", "cuda:1".
  std::string to_string() const;

  friend bool operator==(const Device& a, const Device& b) noexcept {
    return a.index_ == b.index_ && a.type_ == b.type_;
  }

 private:
  std::string type_;
  int index_ = 0;
};

// The device new tensors go to when none is given. Thread safety: per thread.
Device default_device();

// Makes `device` the default on this thread for the scope's lifetime. Scopes nest and
// must be destroyed in reverse order. Does not check that the device exists (that
// happens when a tensor is put there).
class DeviceScope {
 public:
  explicit DeviceScope(Device device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
};

// Every device of every usable backend, cpu first.
std::vector<Device> available_devices();
// True when a loaded backend provides `device` and it can be used now.
bool is_device_available(const Device& device);
// Waits for all work queued on `device`. Throws BackendError for an unknown device.
void synchronize(const Device& device);

}  // namespace strata

STRATA_API_END
