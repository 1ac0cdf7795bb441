#include "device/cpu_backend.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
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

// STRATA_CPU_CACHE_MB, else 1/16 of the machine's physical memory, at least 256 MiB. A
// graph run at a large batch frees and allocates the same big blocks on every call
// (MobileNetV2 at batch 32: tensors of up to 154 MB); a cap below that working set sends
// them back to the OS and every call page-faults them in again (2.4x slower there with 256).
std::size_t cache_capacity() {
  if (const char* env = std::getenv("STRATA_CPU_CACHE_MB")) {
    const long mb = std::atol(env);
    return static_cast<std::size_t>(mb < 0 ? 0 : mb) << 20;
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const std::size_t physical = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
  return std::max<std::size_t>(std::size_t{256} << 20, physical / 16);
}

// Blocks below kCacheFrom come from glibc's heap, whose malloc/free of a 64-byte-aligned
// block costs ~200 instructions each way and more when the heap must trim: at batch 1 a
// graph's node allocates and frees one or two such blocks per call. Each thread keeps its
// freed small blocks in free lists by size (64-byte steps), linked through the blocks
// themselves, up to kSmallPerClass blocks a size and kSmallBytes in all; a block freed by
// another thread than the one that allocated it simply joins that thread's lists.
constexpr std::size_t kSmallClasses = kCacheFrom / kAlignment;
constexpr std::uint16_t kSmallPerClass = 16;
constexpr std::size_t kSmallBytes = std::size_t{4} << 20;

struct SmallBlocks {
  void* heads[kSmallClasses] = {};
  std::uint16_t counts[kSmallClasses] = {};
  std::size_t bytes = 0;
  ~SmallBlocks();
};
// Set once the thread's lists are destroyed (tensors freed later, during exit, go to free).
thread_local bool t_small_blocks_gone = false;
thread_local SmallBlocks t_small_blocks;

SmallBlocks::~SmallBlocks() {
  t_small_blocks_gone = true;
  for (std::size_t c = 0; c < kSmallClasses; ++c) {
    while (heads[c] != nullptr) {
      void* next = *static_cast<void**>(heads[c]);
      std::free(heads[c]);
      heads[c] = next;
    }
  }
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
    if (rounded < kCacheFrom && capacity_ > 0 && !t_small_blocks_gone) {
      SmallBlocks& small = t_small_blocks;
      const std::size_t c = rounded / kAlignment - 1;
      if (void* p = small.heads[c]) {
        small.heads[c] = *static_cast<void**>(p);
        --small.counts[c];
        small.bytes -= rounded;
        return p;
      }
    }
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
    if (rounded < kCacheFrom && capacity_ > 0 && !t_small_blocks_gone) {
      SmallBlocks& small = t_small_blocks;
      const std::size_t c = rounded / kAlignment - 1;
      if (small.counts[c] < kSmallPerClass && small.bytes + rounded <= kSmallBytes) {
        *static_cast<void**>(address) = small.heads[c];
        small.heads[c] = address;
        ++small.counts[c];
        small.bytes += rounded;
        return;
      }
    }
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
