// The "cuda" Backend object: how many devices there are, each device made on first use,
// and why CUDA cannot be used on this machine. The plugin entry point is plugin.cpp.
#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>

#include "cuda_backend.hpp"
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

}  // namespace

namespace strata::cuda {

std::shared_ptr<Backend> make_backend() { return std::make_shared<CudaBackend>(); }

int probe(char* reason, std::size_t size) {
  return probe_with([] { return strata::cuda::unusable_reason(); }, reason, size);
}

}  // namespace strata::cuda
