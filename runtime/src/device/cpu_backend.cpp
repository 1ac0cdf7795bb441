#include "device/cpu_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "strata/error.hpp"

namespace strata::internal {
namespace {

constexpr std::size_t kAlignment = 64;
// Blocks this large come from mmap in glibc and go back to the OS on free, so a new one
// page-faults on every use; the device keeps freed ones for reuse instead.
constexpr std::size_t kCacheFrom = std::size_t{64} << 10;
constexpr std::size_t kPage = 4096;

std::size_t cache_capacity() {
  const char* env = std::getenv("STRATA_CPU_CACHE_MB");
  const long mb = env ? std::atol(env) : 256;
  return static_cast<std::size_t>(mb < 0 ? 0 : mb) << 20;
}

class CpuDevice final : public BackendDevice {
 public:
  ~CpuDevice() override {
    for (auto& [size, blocks] : cache_) {
      for (void* p : blocks) std::free(p);
    }
  }

  Device device() const override { return Device::cpu(); }
  std::string description() const override { return "host memory, 64-byte aligned"; }
  bool host_accessible() const override { return true; }

  void* allocate(std::size_t bytes) override {
    const std::size_t rounded = round(bytes);
    STRATA_CHECK(rounded >= bytes, BackendError, "cannot allocate ", bytes, " bytes on cpu:0");
    if (rounded >= kCacheFrom) {
      std::lock_guard lock(mutex_);
      auto it = cache_.find(rounded);
      if (it != cache_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= rounded;
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, rounded);
    STRATA_CHECK(p != nullptr, BackendError, "out of host memory allocating ", bytes,
                 " bytes on cpu:0");
    return p;
  }
  void deallocate(void* address, std::size_t bytes) noexcept override {
    const std::size_t rounded = round(bytes);
    if (rounded >= kCacheFrom) {
      std::lock_guard lock(mutex_);
      if (cached_bytes_ + rounded <= capacity_) {
        try {
          cache_[rounded].push_back(address);
          cached_bytes_ += rounded;
          return;
        } catch (...) {  // no memory for the bookkeeping: just free the block
        }
      }
    }
    std::free(address);
  }
  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy_within(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void fill_zero(void* dst, std::size_t bytes) override {
    if (bytes) std::memset(dst, 0, bytes);
  }
  void synchronize() override {}

 private:
  static std::size_t round(std::size_t bytes) {
    if (bytes == 0) return kAlignment;
    const std::size_t unit = bytes >= kCacheFrom ? kPage : kAlignment;
    return (bytes + unit - 1) / unit * unit;
  }

  std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> cache_;
  std::size_t cached_bytes_ = 0;
  const std::size_t capacity_ = cache_capacity();
};

class CpuBackend final : public Backend {
 public:
  std::string_view device_type() const override { return "cpu"; }
  int device_count() const override { return 1; }
  BackendDevice& device(int index) override {
    STRATA_CHECK(index == 0, BackendError, "device 'cpu:", index, "' does not exist: there is one cpu device, cpu:0");
    return device_;
  }

 private:
  CpuDevice device_;
};

}  // namespace

std::shared_ptr<Backend> make_cpu_backend() { return std::make_shared<CpuBackend>(); }

}  // namespace strata::internal
