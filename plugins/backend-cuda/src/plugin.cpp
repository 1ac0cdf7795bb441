// The backend-cuda plugin: device type "cuda" (devices cuda:0 ... cuda:N-1) with float32
// kernels for the ops listed in plugins/backend-cuda/README.md. Built whenever nvcc is
// found; on a machine without a GPU or driver it loads, registers, and reports why it is
// not usable (`strata plugins`), and asking for a cuda device is a BackendError saying so.
#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>

#include "cuda_device.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

using strata::cuda::CudaDevice;

class CudaBackend final : public strata::Backend {
 public:
  CudaBackend() : reason_(strata::cuda::unusable_reason()) {
#if defined(STRATA_CUDA_EMULATION)
    count_ = 1;  // the host emulation (tests only): one device in host memory
#else
    if (reason_.empty()) (void)cudaGetDeviceCount(&count_);
#endif
  }
  std::string_view device_type() const override { return "cuda"; }
  int device_count() const override { return count_; }
  strata::BackendDevice& device(int index) override {
    std::lock_guard lock(mutex_);
    while (static_cast<int>(devices_.size()) <= index) devices_.emplace_back(nullptr);
    if (!devices_[static_cast<std::size_t>(index)]) {
      devices_[static_cast<std::size_t>(index)] = std::make_unique<CudaDevice>(index);
    }
    return *devices_[static_cast<std::size_t>(index)];
  }
  std::string unusable_reason() const override { return reason_; }

 private:
  std::string reason_;
  int count_ = 0;
  std::mutex mutex_;
  std::deque<std::unique_ptr<CudaDevice>> devices_;
};

int probe(char* reason, std::size_t size) {
  try {
    const std::string why = strata::cuda::unusable_reason();
    if (why.empty()) return 1;
    if (size > 0) {
      const std::size_t n = std::min(size - 1, why.size());
      std::memcpy(reason, why.data(), n);
      reason[n] = '\0';
    }
    return 0;
  } catch (...) {
    if (size > 0) std::strncpy(reason, "CUDA probe failed", size - 1), reason[size - 1] = '\0';
    return 0;
  }
}

void register_all(strata::Registrar& r) {
  r.add<strata::ObjectKind::kBackend>("cuda", [] { return std::make_shared<CudaBackend>(); });
  strata::cuda::register_kernels(r);
}

}  // namespace

STRATA_PLUGIN("backend-cuda", "0.1.0", "CUDA devices: caching allocator, one stream per device, float32 kernels (cuBLAS + own)",
              register_all)
STRATA_PLUGIN_PROBE(probe)
