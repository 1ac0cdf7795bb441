// The CudaDevice of the host emulation (STRATA_CUDA_EMULATION; built for the tests only,
// never installed): "device" memory is host memory from malloc, copies are memcpy, the
// stream is null and every launch has finished when it returns. cuBLAS and cuDNN are not
// emulated (kernels.cpp computes GEMMs on the host in this build; there are no
// convolutions). See plugins/backend-cuda/README.md, "Host emulation".
#include <cstdlib>
#include <cstring>

#include "cuda_device.hpp"
#include "cuda_libs.hpp"

namespace strata::cuda {

void check(cudaError_t status, std::string_view what) {
  if (status == cudaSuccess) return;
  STRATA_THROW(BackendError, "emulated CUDA error ", static_cast<int>(status), " in ", what);
}

void check(cublasStatus_t status, std::string_view what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  STRATA_THROW(BackendError, "emulated cuBLAS error ", static_cast<int>(status), " in ", what);
}

std::string unusable_reason() { return {}; }

// cuBLAS is not called and cuDNN is emulated (emulation/cudnn.h): nothing to load.
void require_cublas() {}
void require_cudnn() {}

CudaDevice::CudaDevice(int index) : index_(index), cache_limit_(0) {}

CudaDevice::~CudaDevice() = default;

void CudaDevice::activate() const {}

std::string CudaDevice::description() const { return "host emulation of a CUDA device (tests only)"; }

void* CudaDevice::allocate(std::size_t bytes) {
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  STRATA_CHECK(p != nullptr, BackendError, "cannot allocate ", bytes, " bytes on emulated cuda:", index_);
  return p;
}

void CudaDevice::deallocate(void* address, std::size_t) noexcept { std::free(address); }

void CudaDevice::copy_from_host(void* device_dst, const void* host_src, std::size_t bytes) {
  if (bytes != 0) std::memcpy(device_dst, host_src, bytes);
}

void CudaDevice::copy_to_host(void* host_dst, const void* device_src, std::size_t bytes) {
  if (bytes != 0) std::memcpy(host_dst, device_src, bytes);
}

void CudaDevice::copy_within(void* device_dst, const void* device_src, std::size_t bytes) {
  if (bytes != 0) std::memmove(device_dst, device_src, bytes);
}

void CudaDevice::fill_zero(void* device_dst, std::size_t bytes) {
  if (bytes != 0) std::memset(device_dst, 0, bytes);
}

void CudaDevice::synchronize() {}

std::unique_lock<std::mutex> CudaDevice::blas(cublasHandle_t&) {
  STRATA_THROW(BackendError, "cuBLAS is not part of the host emulation");
}

std::size_t CudaDevice::cached_bytes() const { return 0; }

CudaDevice& cuda_device(KernelContext& ctx) {
  auto* d = dynamic_cast<CudaDevice*>(&ctx.device());
  STRATA_CHECK(d != nullptr, BackendError, "op ", ctx.op_name(), ": a cuda kernel was given a non-cuda device");
  return *d;
}

}  // namespace strata::cuda
