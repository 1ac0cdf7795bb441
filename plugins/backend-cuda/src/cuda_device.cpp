#include "cuda_device.hpp"

#include "cuda_libs.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "strata/log.hpp"

namespace strata::cuda {
namespace {

constexpr std::size_t kStagingBytes = std::size_t{8} << 20;
constexpr std::size_t kStagedAbove = std::size_t{1} << 20;  // pageable copies below this go direct

const char* blas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS status";
  }
}

std::size_t cache_limit_from_env() {
  // STRATA_CUDA_CACHE_MB caps the bytes kept for reuse; default: no cap (blocks go back to
  // CUDA only when an allocation fails).
  if (const char* v = std::getenv("STRATA_CUDA_CACHE_MB")) return static_cast<std::size_t>(std::atoll(v)) << 20;
  return ~std::size_t{0};
}

}  // namespace

void check(cudaError_t status, std::string_view what) {
  if (status == cudaSuccess) return;
  STRATA_THROW(BackendError, "CUDA error in ", what, ": ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
               ")");
}

void check(cublasStatus_t status, std::string_view what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  STRATA_THROW(BackendError, "cuBLAS error in ", what, ": ", blas_status_name(status), " (", static_cast<int>(status),
               ")");
}

CudaDevice::CudaDevice(int index) : index_(index), cache_limit_(cache_limit_from_env()) {
  activate();
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
}

CudaDevice::~CudaDevice() {
  // The runtime keeps backends until exit; releasing here would race with CUDA's own
  // teardown at exit, so memory goes back with the process.
}

void CudaDevice::activate() const { check(cudaSetDevice(index_), "cudaSetDevice"); }

std::string CudaDevice::description() const {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, index_) != cudaSuccess) return "CUDA device";
  return detail::concat(p.name, ", compute capability ", p.major, ".", p.minor, ", ",
                        p.totalGlobalMem >> 20, " MiB; caching allocator, one stream");
}

std::size_t CudaDevice::bucket(std::size_t bytes) {
  if (bytes <= 512) return 512;
  if (bytes <= (std::size_t{64} << 20)) return std::bit_ceil(bytes);
  const std::size_t mb2 = std::size_t{2} << 20;
  return (bytes + mb2 - 1) / mb2 * mb2;
}

void* CudaDevice::allocate(std::size_t bytes) {
  const std::size_t size = bucket(bytes);
  {
    std::lock_guard lock(alloc_mutex_);
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_ -= size;
      return p;
    }
  }
  activate();
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    std::lock_guard lock(alloc_mutex_);
    release_cache_locked();
    e = cudaMalloc(&p, size);
  }
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    STRATA_THROW(BackendError, "cannot allocate ", bytes, " bytes on cuda:", index_, ": ", cudaGetErrorName(e), " (",
                 cudaGetErrorString(e), ")");
  }
  return p;
}

void CudaDevice::deallocate(void* address, std::size_t bytes) noexcept {
  if (address == nullptr) return;
  const std::size_t size = bucket(bytes);
  std::lock_guard lock(alloc_mutex_);
  if (cached_ + size > cache_limit_) {
    // Work queued on the stream may still use the block: cudaFree waits for the device.
    (void)cudaFree(address);
    return;
  }
  free_[size].push_back(address);
  cached_ += size;
}

void CudaDevice::release_cache_locked() {
  (void)cudaStreamSynchronize(stream_);
  for (auto& [size, blocks] : free_) {
    for (void* p : blocks) (void)cudaFree(p);
    blocks.clear();
  }
  cached_ = 0;
}

std::size_t CudaDevice::cached_bytes() const {
  std::lock_guard lock(alloc_mutex_);
  return cached_;
}

// Large pageable copies go through two pinned halves of the staging buffer in turn, so
// that the memcpy of one chunk overlaps the DMA of the other. An event per half marks when
// the DMA that last used it has finished; everything has finished when this returns.
void CudaDevice::stage(void* dst, const void* src, std::size_t bytes, bool to_device) {
  std::lock_guard lock(staging_mutex_);
  if (staging_ == nullptr) {
    check(cudaHostAlloc(&staging_, kStagingBytes, cudaHostAllocDefault), "cudaHostAlloc");
    for (auto& e : staged_) check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
  }
  constexpr std::size_t kHalf = kStagingBytes / 2;
  const auto half = [&](std::size_t chunk) { return static_cast<char*>(staging_) + (chunk % 2) * kHalf; };
  const std::size_t chunks = (bytes + kHalf - 1) / kHalf;
  const auto size_of = [&](std::size_t chunk) { return std::min(kHalf, bytes - chunk * kHalf); };
  if (to_device) {
    for (std::size_t c = 0; c < chunks; ++c) {
      check(cudaEventSynchronize(staged_[c % 2]), "cudaEventSynchronize");  // this half's last DMA is done
      std::memcpy(half(c), static_cast<const char*>(src) + c * kHalf, size_of(c));
      check(cudaMemcpyAsync(static_cast<char*>(dst) + c * kHalf, half(c), size_of(c), cudaMemcpyHostToDevice, stream_),
            "cudaMemcpyAsync (host to device)");
      check(cudaEventRecord(staged_[c % 2], stream_), "cudaEventRecord");
    }
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    return;
  }
  const auto fetch = [&](std::size_t c) {
    check(cudaMemcpyAsync(half(c), static_cast<const char*>(src) + c * kHalf, size_of(c), cudaMemcpyDeviceToHost, stream_),
          "cudaMemcpyAsync (device to host)");
    check(cudaEventRecord(staged_[c % 2], stream_), "cudaEventRecord");
  };
  fetch(0);
  for (std::size_t c = 0; c < chunks; ++c) {
    if (c + 1 < chunks) fetch(c + 1);  // the other half: its previous chunk was copied out below
    check(cudaEventSynchronize(staged_[c % 2]), "cudaEventSynchronize");
    std::memcpy(static_cast<char*>(dst) + c * kHalf, half(c), size_of(c));
  }
}

void CudaDevice::copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) {
  if (bytes == 0) return;
  activate();
  if (bytes > kStagedAbove) return stage(device_dst, host_src, bytes, true);
  check(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync (host to device)");
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

void CudaDevice::copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) {
  if (bytes == 0) return;
  activate();
  if (bytes > kStagedAbove) return stage(host_dst, device_src, bytes, false);
  check(cudaMemcpyAsync(host_dst, device_src, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync (device to host)");
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

void CudaDevice::copy_within(void* device_dst, const void* device_src, std::size_t bytes) {
  if (bytes == 0) return;
  activate();
  check(cudaMemcpyAsync(device_dst, device_src, bytes, cudaMemcpyDeviceToDevice, stream_),
        "cudaMemcpyAsync (device to device)");
}

void CudaDevice::fill_zero(void* device_dst, std::size_t bytes) {
  if (bytes == 0) return;
  activate();
  check(cudaMemsetAsync(device_dst, 0, bytes, stream_), "cudaMemsetAsync");
}

void CudaDevice::synchronize() {
  activate();
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

std::unique_lock<std::mutex> CudaDevice::blas(cublasHandle_t& handle) {
  std::unique_lock lock(blas_mutex_);
  if (blas_ == nullptr) {
    require_cublas();  // loaded on first use (cuda_libs.hpp)
    activate();
    check(cublasCreate(&blas_), "cublasCreate");
    check(cublasSetStream(blas_, stream_), "cublasSetStream");
    // TF32 tensor-core math changes float32 results beyond the conformance tolerance; it
    // is off unless STRATA_CUDA_TF32=1 asks for speed.
    const char* tf32 = std::getenv("STRATA_CUDA_TF32");
    const bool use_tf32 = tf32 != nullptr && std::strcmp(tf32, "1") == 0;
    check(cublasSetMathMode(blas_, use_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
  }
  handle = blas_;
  return lock;
}

CudaDevice& cuda_device(KernelContext& ctx) {
  auto* d = dynamic_cast<CudaDevice*>(&ctx.device());
  STRATA_CHECK(d != nullptr, BackendError, "op ", ctx.op_name(), ": a cuda kernel was given a non-cuda device");
  d->activate();
  return *d;
}

}  // namespace strata::cuda
