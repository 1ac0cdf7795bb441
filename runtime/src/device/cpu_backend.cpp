#include "device/cpu_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#include "strata/error.hpp"

namespace strata::internal {
namespace {

constexpr std::size_t kAlignment = 64;

class CpuDevice final : public BackendDevice {
 public:
  Device device() const override { return Device::cpu(); }
  std::string description() const override { return "host memory, 64-byte aligned"; }
  bool host_accessible() const override { return true; }

  void* allocate(std::size_t bytes) override {
    const std::size_t rounded = bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
    STRATA_CHECK(rounded >= bytes, BackendError, "cannot allocate ", bytes, " bytes on cpu:0");
    void* p = std::aligned_alloc(kAlignment, rounded);
    STRATA_CHECK(p != nullptr, BackendError, "out of host memory allocating ", bytes,
                 " bytes on cpu:0");
    return p;
  }
  void deallocate(void* address, std::size_t) noexcept override { std::free(address); }
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
