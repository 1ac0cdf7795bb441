#include "ref_backend.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "ref_kernels.hpp"
#include "strata/error.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::testing {
namespace {

constexpr std::uintptr_t kScramble = std::uintptr_t{1} << 62;  // makes x86-64 addresses non-canonical
std::atomic<std::size_t> g_live_bytes{0};

struct KernelLog {
  std::atomic<bool> on{false};
  std::mutex mutex;
  std::set<std::pair<std::string, DType>> kernels;
};
KernelLog& kernel_log() {
  static KernelLog log;
  return log;
}

void* to_device(void* host) { return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(host) ^ kScramble); }

class RefDevice final : public BackendDevice {
 public:
  Device device() const override { return Device("ref", 0); }
  std::string description() const override { return "test reference device (scrambled host memory)"; }
  bool host_accessible() const override { return false; }
  void* allocate(std::size_t bytes) override {
    void* p = std::malloc(bytes == 0 ? 1 : bytes);
    STRATA_CHECK(p != nullptr, BackendError, "ref:0 out of memory for ", bytes, " bytes");
    g_live_bytes += bytes;
    return to_device(p);
  }
  void deallocate(void* address, std::size_t bytes) noexcept override {
    g_live_bytes -= bytes;
    std::free(ref_host_pointer(address));
  }
  void copy_from_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memcpy(ref_host_pointer(dst), src, bytes);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memcpy(dst, ref_host_pointer(src), bytes);
  }
  void copy_within(void* dst, const void* src, std::size_t bytes) override {
    if (bytes) std::memmove(ref_host_pointer(dst), ref_host_pointer(src), bytes);
  }
  void synchronize() override {}
};

class RefBackend final : public Backend {
 public:
  std::string_view device_type() const override { return "ref"; }
  int device_count() const override { return 1; }
  BackendDevice& device(int index) override {
    STRATA_CHECK(index == 0, BackendError, "device ref:", index, " does not exist");
    return device_;
  }

 private:
  RefDevice device_;
};

}  // namespace

void* ref_host_pointer(const void* device_address) {
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(device_address) ^ kScramble);
}

std::size_t ref_live_bytes() { return g_live_bytes.load(); }

void add_ref_kernel(Registrar& registrar, std::string_view op, DType dtype, std::function<void(KernelContext&)> compute) {
  add_kernel(registrar, op, "ref", dtype, [name = std::string(op), dtype, compute = std::move(compute)](KernelContext& ctx) {
    if (KernelLog& log = kernel_log(); log.on.load(std::memory_order_relaxed)) {
      std::lock_guard lock(log.mutex);
      log.kernels.emplace(name, dtype);
    }
    compute(ctx);
  });
}

RefKernelLog::RefKernelLog() {
  KernelLog& log = kernel_log();
  STRATA_CHECK(!log.on.exchange(true), ValueError, "only one RefKernelLog may live at a time");
  std::lock_guard lock(log.mutex);
  log.kernels.clear();
}

RefKernelLog::~RefKernelLog() { kernel_log().on.store(false); }

std::set<std::pair<std::string, DType>> RefKernelLog::kernels() const {
  KernelLog& log = kernel_log();
  std::lock_guard lock(log.mutex);
  return log.kernels;
}

void register_ref_backend() {
  static std::once_flag once;
  std::call_once(once, [] {
    Registrar registrar(Registry::global(), "tests-ref");
    registrar.add<ObjectKind::kBackend>("ref", [] { return std::make_shared<RefBackend>(); });
    register_ref_kernels(registrar);
    registrar.commit();
  });
}

}  // namespace strata::testing
