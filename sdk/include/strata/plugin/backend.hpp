// What a backend plugin implements. A Backend provides one device type ("cpu",
// "cuda", "ref") and owns its devices; a BackendDevice owns memory on one device and
// moves bytes to, from and within it. Kernels are not methods of the backend: they are
// registry entries keyed by (op, device type, dtype) (see plugin/kernel.hpp).
//
// Device addresses are opaque: only the backend's own code and kernels may dereference
// them, unless host_accessible() says they are plain host pointers. Byte arithmetic on
// an address (address + offset within one allocation) is allowed.
#pragma once

#include "strata/export.hpp"
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "strata/device.hpp"
#include "strata/dtype.hpp"
#include "strata/registry.hpp"

STRATA_API_BEGIN

namespace strata {

class BackendDevice {
 public:
  virtual ~BackendDevice();

  virtual Device device() const = 0;
  // One line for `strata plugins` / logs, e.g. "host memory, 64-byte aligned".
  virtual std::string description() const = 0;
  // True when addresses on this device are host pointers any code may dereference.
  virtual bool host_accessible() const = 0;

  // Returns `bytes` of device memory (never null, even for 0 bytes). Throws BackendError
  // when the device cannot provide it. Thread safety: may be called concurrently.
  virtual void* allocate(std::size_t bytes) = 0;
  // Returns memory obtained from allocate(bytes) on this device. Never throws.
  virtual void deallocate(void* address, std::size_t bytes) noexcept = 0;

  // Copies `bytes` between host memory and this device. Complete when they return:
  // the host buffer may be reused at once. Thread safety: may be called concurrently.
  virtual void copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) = 0;
  virtual void copy_within(void* device_dst, const void* device_src, std::size_t bytes) = 0;
  // Sets `bytes` of device memory to zero. Default: copy_from_host of zero pages.
  virtual void fill_zero(void* device_dst, std::size_t bytes);
  // Waits until every queued operation on this device has finished.
  virtual void synchronize() = 0;
};

class Backend {
 public:
  virtual ~Backend();

  // The device type this backend provides; equals the name it is registered under.
  virtual std::string_view device_type() const = 0;
  // Number of usable devices (0 when the hardware or driver is missing).
  virtual int device_count() const = 0;
  // REQUIRES: 0 <= index < device_count(). The device lives as long as the backend,
  // which the runtime keeps until the process exits.
  virtual BackendDevice& device(int index) = 0;
  // Empty when usable; otherwise why not ("no CUDA driver: libcuda.so.1 not found").
  virtual std::string unusable_reason() const { return {}; }
};

using BackendFactory = std::function<std::shared_ptr<Backend>()>;
template <>
struct KindTraits<ObjectKind::kBackend> {
  using Value = BackendFactory;
};

// The backend device behind `device`, creating the backend on first use. Throws
// BackendError naming the device when no loaded backend provides its type, when the
// backend is not usable (with its reason), or when the index does not exist.
// Thread safety: may be called concurrently.
BackendDevice& backend_device(const Device& device);

}  // namespace strata

STRATA_API_END
