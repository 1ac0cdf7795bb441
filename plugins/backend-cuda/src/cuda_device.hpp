// The "cuda" backend's devices: one CUDA stream per device on which every kernel, copy and
// cuBLAS call is queued (so memory freed by one op is safe to hand to the next without
// events), a caching allocator (no cudaMalloc per op), double-buffered pinned staging for
// large host transfers (events mark when each buffer is free again), and errors that
// carry the CUDA / cuBLAS status text.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "strata/error.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"

namespace strata::cuda {

// Throws BackendError "CUDA error in <what>: <name> (<text>)" unless `status` is success.
void check(cudaError_t status, std::string_view what);
void check(cublasStatus_t status, std::string_view what);
// Kernel launchers return an int status (launch.hpp).
inline void check_launch(int status, std::string_view what) { check(static_cast<cudaError_t>(status), what); }

// Why CUDA cannot be used here, or empty when at least one device is present.
std::string unusable_reason();

class CudaDevice final : public BackendDevice {
 public:
  explicit CudaDevice(int index);
  ~CudaDevice() override;

  Device device() const override { return Device("cuda", index_); }
  std::string description() const override;
  bool host_accessible() const override { return false; }
  void* allocate(std::size_t bytes) override;
  void deallocate(void* address, std::size_t bytes) noexcept override;
  void copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) override;
  void copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) override;
  void copy_within(void* device_dst, const void* device_src, std::size_t bytes) override;
  void fill_zero(void* device_dst, std::size_t bytes) override;
  void synchronize() override;

  cudaStream_t stream() const noexcept { return stream_; }
  // Makes this device current on the calling thread (CUDA's current device is per thread).
  void activate() const;
  // The device's cuBLAS handle (bound to stream()), used under the returned lock.
  std::unique_lock<std::mutex> blas(cublasHandle_t& handle);

  // Bytes held by the cache (freed by Strata, not yet returned to CUDA).
  std::size_t cached_bytes() const;

 private:
  static std::size_t bucket(std::size_t bytes);
  void release_cache_locked();
  void stage(void* dst, const void* src, std::size_t bytes, bool to_device);

  int index_;
  cudaStream_t stream_ = nullptr;
  mutable std::mutex alloc_mutex_;
  std::map<std::size_t, std::vector<void*>> free_;  // bucket size -> cached blocks
  std::size_t cached_ = 0;
  std::size_t cache_limit_;
  std::mutex blas_mutex_;
  cublasHandle_t blas_ = nullptr;
  std::mutex staging_mutex_;
  void* staging_ = nullptr;  // pinned host buffer of kStagingBytes, used as two halves
  cudaEvent_t staged_[2] = {nullptr, nullptr};  // the last DMA through each half
};

// The CudaDevice a kernel runs on.
CudaDevice& cuda_device(KernelContext& ctx);

// The device type of this plugin's kernels (registered with add_kernel / add_kernels,
// strata/plugin/kernel.hpp).
inline constexpr std::string_view kCuda = "cuda";

void register_kernels(Registrar& r);
// Pooling (own kernels) and, when built with cuDNN, convolutions (window_ops.cpp).
void register_window_ops(Registrar& r);
// Kernels of the runtime ops ResourceApplyAdam / ResourceApplyKerasMomentum (optimizer_ops.cpp).
void register_optimizer_ops(Registrar& r);

}  // namespace strata::cuda
