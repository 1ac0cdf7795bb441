// The cuBLAS and cuDNN entries of the backend-cuda plugin, resolved on first use
// (cuda_libs.hpp). Each entry below has the library's own name and signature (the
// headers declare them; a mismatch does not compile) and forwards to the function of the
// library dlopen'ed (RTLD_LOCAL) on the first call. The plugin is built with hidden
// visibility, so these definitions are not exported and never interpose on another
// library's cuBLAS in the same process.
//
// The library is found by its soname (the plugin's RUNPATH holds the toolkit's library
// directory) and then by the path found at configure time (STRATA_CUBLAS_PATH,
// STRATA_CUDNN_PATH; CMakeLists.txt). When it cannot be loaded, require_* throws and an
// entry called without it returns the library's "not initialised" status.
#include "cuda_libs.hpp"

#include <cublas_v2.h>
#include <dlfcn.h>

#include <mutex>
#include <string>

#include "strata/error.hpp"

#if STRATA_CUDA_WITH_CUDNN
#include <cudnn.h>
#endif

namespace strata::cuda {
namespace {

struct Library {
  const char* label;
  const char* soname;
  const char* path;
  std::once_flag once;
  void* handle = nullptr;
  std::string error;
};

Library& cublas_library() {
  static Library lib{"cuBLAS", STRATA_CUBLAS_SONAME, STRATA_CUBLAS_PATH, {}, nullptr, {}};
  return lib;
}

void load(Library& lib) {
  std::call_once(lib.once, [&lib] {
    for (const char* name : {lib.soname, lib.path}) {
      if (name == nullptr || *name == '\0') continue;
      lib.handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib.handle != nullptr) return;
      const char* why = ::dlerror();
      if (!lib.error.empty()) lib.error += "; ";
      lib.error += why != nullptr ? why : name;
    }
  });
}

void require(Library& lib) {
  load(lib);
  STRATA_CHECK(lib.handle != nullptr, BackendError, "the CUDA backend cannot load ", lib.label, " (", lib.soname,
               "): ", lib.error);
}

// The named function of `lib`, or null when the library or the function is missing.
void* entry(Library& lib, const char* name) {
  load(lib);
  return lib.handle != nullptr ? ::dlsym(lib.handle, name) : nullptr;
}

#if STRATA_CUDA_WITH_CUDNN
Library& cudnn_library() {
  static Library lib{"cuDNN", STRATA_CUDNN_SONAME, STRATA_CUDNN_PATH, {}, nullptr, {}};
  return lib;
}
#endif

}  // namespace

void require_cublas() {
  require(cublas_library());
}

void require_cudnn() {
#if STRATA_CUDA_WITH_CUDNN
  require(cudnn_library());
#endif
}

}  // namespace strata::cuda

// NAME(PARAMS) forwards ARGS to LIBRARY's NAME, or returns FAILED without it.
#define STRATA_FORWARD(library, failed, ret, name, params, args)                                    \
  extern "C" ret name params {                                                                      \
    using Fn = ret(*) params;                                                                       \
    static const Fn fn = reinterpret_cast<Fn>(strata::cuda::entry(strata::cuda::library(), #name)); \
    return fn != nullptr ? fn args : failed;                                                        \
  }
#define STRATA_CUBLAS(name, params, args) \
  STRATA_FORWARD(cublas_library, CUBLAS_STATUS_NOT_INITIALIZED, cublasStatus_t, name, params, args)

STRATA_CUBLAS(cublasCreate_v2, (cublasHandle_t * handle), (handle))
STRATA_CUBLAS(cublasSetStream_v2, (cublasHandle_t handle, cudaStream_t stream), (handle, stream))
STRATA_CUBLAS(cublasSetMathMode, (cublasHandle_t handle, cublasMath_t mode), (handle, mode))
STRATA_CUBLAS(cublasSgemm_v2,
              (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
               const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta, float* C,
               int ldc),
              (handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc))
STRATA_CUBLAS(cublasDgemm_v2,
              (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
               const double* alpha, const double* A, int lda, const double* B, int ldb, const double* beta, double* C,
               int ldc),
              (handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc))
STRATA_CUBLAS(cublasGemmEx,
              (cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
               const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B, cudaDataType Btype,
               int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
               cublasGemmAlgo_t algo),
              (handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType,
               algo))

#if STRATA_CUDA_WITH_CUDNN
#define STRATA_CUDNN(name, params, args) \
  STRATA_FORWARD(cudnn_library, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, name, params, args)

STRATA_FORWARD(cudnn_library, "cuDNN is not loaded", const char*, cudnnGetErrorString, (cudnnStatus_t status), (status))
STRATA_CUDNN(cudnnCreate, (cudnnHandle_t * handle), (handle))
STRATA_CUDNN(cudnnSetStream, (cudnnHandle_t handle, cudaStream_t stream), (handle, stream))
STRATA_CUDNN(cudnnCreateTensorDescriptor, (cudnnTensorDescriptor_t * d), (d))
STRATA_CUDNN(cudnnDestroyTensorDescriptor, (cudnnTensorDescriptor_t d), (d))
STRATA_CUDNN(cudnnCreateFilterDescriptor, (cudnnFilterDescriptor_t * d), (d))
STRATA_CUDNN(cudnnDestroyFilterDescriptor, (cudnnFilterDescriptor_t d), (d))
STRATA_CUDNN(cudnnCreateConvolutionDescriptor, (cudnnConvolutionDescriptor_t * d), (d))
STRATA_CUDNN(cudnnDestroyConvolutionDescriptor, (cudnnConvolutionDescriptor_t d), (d))
STRATA_CUDNN(cudnnSetTensor4dDescriptor,
             (cudnnTensorDescriptor_t d, cudnnTensorFormat_t format, cudnnDataType_t type, int n, int c, int h, int w),
             (d, format, type, n, c, h, w))
STRATA_CUDNN(cudnnSetFilter4dDescriptor,
             (cudnnFilterDescriptor_t d, cudnnDataType_t type, cudnnTensorFormat_t format, int k, int c, int h, int w),
             (d, type, format, k, c, h, w))
STRATA_CUDNN(cudnnSetConvolution2dDescriptor,
             (cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v, int dilation_h, int dilation_w,
              cudnnConvolutionMode_t mode, cudnnDataType_t type),
             (d, pad_h, pad_w, u, v, dilation_h, dilation_w, mode, type))
STRATA_CUDNN(cudnnSetConvolutionGroupCount, (cudnnConvolutionDescriptor_t d, int groups), (d, groups))
STRATA_CUDNN(cudnnSetConvolutionMathType, (cudnnConvolutionDescriptor_t d, cudnnMathType_t math), (d, math))
STRATA_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7,
             (cudnnHandle_t handle, const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
              const cudnnConvolutionDescriptor_t conv, const cudnnTensorDescriptor_t y, const int requested,
              int* returned, cudnnConvolutionFwdAlgoPerf_t* perf),
             (handle, x, w, conv, y, requested, returned, perf))
STRATA_CUDNN(cudnnGetConvolutionBackwardDataAlgorithm_v7,
             (cudnnHandle_t handle, const cudnnFilterDescriptor_t w, const cudnnTensorDescriptor_t dy,
              const cudnnConvolutionDescriptor_t conv, const cudnnTensorDescriptor_t dx, const int requested,
              int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf),
             (handle, w, dy, conv, dx, requested, returned, perf))
STRATA_CUDNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7,
             (cudnnHandle_t handle, const cudnnTensorDescriptor_t x, const cudnnTensorDescriptor_t dy,
              const cudnnConvolutionDescriptor_t conv, const cudnnFilterDescriptor_t dw, const int requested,
              int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf),
             (handle, x, dy, conv, dw, requested, returned, perf))
STRATA_CUDNN(cudnnConvolutionForward,
             (cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xd, const void* x,
              const cudnnFilterDescriptor_t wd, const void* w, const cudnnConvolutionDescriptor_t conv,
              cudnnConvolutionFwdAlgo_t algo, void* work, size_t work_bytes, const void* beta,
              const cudnnTensorDescriptor_t yd, void* y),
             (handle, alpha, xd, x, wd, w, conv, algo, work, work_bytes, beta, yd, y))
STRATA_CUDNN(cudnnConvolutionBackwardData,
             (cudnnHandle_t handle, const void* alpha, const cudnnFilterDescriptor_t wd, const void* w,
              const cudnnTensorDescriptor_t dyd, const void* dy, const cudnnConvolutionDescriptor_t conv,
              cudnnConvolutionBwdDataAlgo_t algo, void* work, size_t work_bytes, const void* beta,
              const cudnnTensorDescriptor_t dxd, void* dx),
             (handle, alpha, wd, w, dyd, dy, conv, algo, work, work_bytes, beta, dxd, dx))
STRATA_CUDNN(cudnnConvolutionBackwardFilter,
             (cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xd, const void* x,
              const cudnnTensorDescriptor_t dyd, const void* dy, const cudnnConvolutionDescriptor_t conv,
              cudnnConvolutionBwdFilterAlgo_t algo, void* work, size_t work_bytes, const void* beta,
              const cudnnFilterDescriptor_t dwd, void* dw),
             (handle, alpha, xd, x, dyd, dy, conv, algo, work, work_bytes, beta, dwd, dw))
#endif
