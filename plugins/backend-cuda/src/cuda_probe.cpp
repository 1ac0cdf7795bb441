// Why CUDA cannot be used here (cuda_device.hpp's unusable_reason), in its own file because
// collective-nccl compiles it too, so both plugins explain a machine without a driver alike.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <string>

#include "strata/error.hpp"

namespace strata::cuda {

std::string unusable_reason();

namespace {

// CUDA's runtime reports a machine without the NVIDIA driver as cudaErrorInsufficientDriver
// ("CUDA driver version is insufficient"), which reads as "update the driver"; say which it is.
std::string driver_problem(cudaError_t e) {
  if (e != cudaErrorInsufficientDriver && e != cudaErrorNoDevice) return {};
  void* driver = ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (driver == nullptr) {
    const char* why = ::dlerror();
    return detail::concat("no NVIDIA driver on this machine (libcuda.so.1 cannot be loaded: ", why ? why : "not found",
                          "); install the NVIDIA driver to use cuda devices");
  }
  ::dlclose(driver);
  if (e != cudaErrorInsufficientDriver) return {};
  int driver_version = 0, runtime_version = 0;
  (void)cudaDriverGetVersion(&driver_version);
  (void)cudaRuntimeGetVersion(&runtime_version);
  return detail::concat("the NVIDIA driver supports CUDA ", driver_version / 1000, ".", driver_version % 1000 / 10,
                        ", older than the CUDA ", runtime_version / 1000, ".", runtime_version % 1000 / 10,
                        " runtime this plugin was built with; update the driver");
}

}  // namespace

std::string unusable_reason() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error state for later calls
    const std::string driver = driver_problem(e);
    if (!driver.empty()) return "no CUDA device: " + driver;
    return detail::concat("no CUDA device: ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
  }
  if (count == 0) return "no CUDA device: the driver reports 0 devices";
  return {};
}

}  // namespace strata::cuda
