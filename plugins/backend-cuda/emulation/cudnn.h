// The subset of cuDNN's API that plugins/backend-cuda/src/window_ops.cpp calls, emulated on
// the host for the plugin's host emulation (tests only; found before the toolkit's cudnn.h
// by include order). Semantics as cuDNN documents them: NHWC tensors given as (n, c, h, w),
// NHWC filters laid out as [K][R][S][C] with C the input channels of one group, 2-D cross-
// correlation with symmetric padding, strides, dilations and groups, and
// y = alpha * op + beta * y. The convolutions are plain loops in double; one "algorithm"
// without workspace. It checks the glue (geometry, padding, layouts, groups) against that
// reading of cuDNN, not cuDNN itself.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

enum cudnnStatus_t { CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_BAD_PARAM = 3, CUDNN_STATUS_NOT_SUPPORTED = 9 };
enum cudnnDataType_t { CUDNN_DATA_FLOAT = 0, CUDNN_DATA_DOUBLE = 1 };
enum cudnnTensorFormat_t { CUDNN_TENSOR_NCHW = 0, CUDNN_TENSOR_NHWC = 1 };
enum cudnnConvolutionMode_t { CUDNN_CONVOLUTION = 0, CUDNN_CROSS_CORRELATION = 1 };
enum cudnnMathType_t { CUDNN_DEFAULT_MATH = 0, CUDNN_TENSOR_OP_MATH = 1, CUDNN_FMA_MATH = 3 };
enum cudnnConvolutionFwdAlgo_t { CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM = 0, CUDNN_CONVOLUTION_FWD_ALGO_COUNT = 8 };
enum cudnnConvolutionBwdDataAlgo_t { CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 = 0, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT = 6 };
enum cudnnConvolutionBwdFilterAlgo_t {
  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 = 0,
  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT = 7
};

struct cudnnContext {
  cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int n = 0, c = 0, h = 0, w = 0;
};
struct cudnnFilterStruct {
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int k = 0, c = 0, r = 0, s = 0;
};
struct cudnnConvolutionStruct {
  int pad_h = 0, pad_w = 0, u = 1, v = 1, dil_h = 1, dil_w = 1, groups = 1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};
using cudnnHandle_t = cudnnContext*;
using cudnnTensorDescriptor_t = cudnnTensorStruct*;
using cudnnFilterDescriptor_t = cudnnFilterStruct*;
using cudnnConvolutionDescriptor_t = cudnnConvolutionStruct*;

template <class Algo>
struct cudnnEmulatedAlgoPerf {
  Algo algo;
  cudnnStatus_t status;
  float time;
  std::size_t memory;
  int determinism;
  cudnnMathType_t mathType;
};
using cudnnConvolutionFwdAlgoPerf_t = cudnnEmulatedAlgoPerf<cudnnConvolutionFwdAlgo_t>;
using cudnnConvolutionBwdDataAlgoPerf_t = cudnnEmulatedAlgoPerf<cudnnConvolutionBwdDataAlgo_t>;
using cudnnConvolutionBwdFilterAlgoPerf_t = cudnnEmulatedAlgoPerf<cudnnConvolutionBwdFilterAlgo_t>;

inline const char* cudnnGetErrorString(cudnnStatus_t s) {
  return s == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_BAD_PARAM (emulated)";
}
inline cudnnStatus_t cudnnCreate(cudnnHandle_t* h) {
  *h = new cudnnContext();
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s) {
  h->stream = s;
  return CUDNN_STATUS_SUCCESS;
}

#define STRATA_CUDNN_EMULATED_DESCRIPTOR(Name, Type)                    \
  inline cudnnStatus_t cudnnCreate##Name##Descriptor(Type* d) {         \
    *d = new std::remove_pointer_t<Type>();                             \
    return CUDNN_STATUS_SUCCESS;                                        \
  }                                                                     \
  inline cudnnStatus_t cudnnDestroy##Name##Descriptor(Type d) {         \
    delete d;                                                           \
    return CUDNN_STATUS_SUCCESS;                                        \
  }
STRATA_CUDNN_EMULATED_DESCRIPTOR(Tensor, cudnnTensorDescriptor_t)
STRATA_CUDNN_EMULATED_DESCRIPTOR(Filter, cudnnFilterDescriptor_t)
STRATA_CUDNN_EMULATED_DESCRIPTOR(Convolution, cudnnConvolutionDescriptor_t)
#undef STRATA_CUDNN_EMULATED_DESCRIPTOR

inline cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format,
                                                cudnnDataType_t type, int n, int c, int h, int w) {
  if (format != CUDNN_TENSOR_NHWC) return CUDNN_STATUS_NOT_SUPPORTED;
  *d = {type, n, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type,
                                                cudnnTensorFormat_t format, int k, int c, int h, int w) {
  if (format != CUDNN_TENSOR_NHWC) return CUDNN_STATUS_NOT_SUPPORTED;
  *d = {type, k, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                                     int dil_h, int dil_w, cudnnConvolutionMode_t mode,
                                                     cudnnDataType_t) {
  if (mode != CUDNN_CROSS_CORRELATION) return CUDNN_STATUS_NOT_SUPPORTED;
  d->pad_h = pad_h;
  d->pad_w = pad_w;
  d->u = u;
  d->v = v;
  d->dil_h = dil_h;
  d->dil_w = dil_w;
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int groups) {
  d->groups = groups;
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t math) {
  d->math = math;
  return CUDNN_STATUS_SUCCESS;
}

template <class Perf>
cudnnStatus_t cudnn_emulated_one_algorithm(int* count, Perf* perf) {
  perf[0] = {};
  perf[0].status = CUDNN_STATUS_SUCCESS;
  perf[0].mathType = CUDNN_FMA_MATH;
  *count = 1;
  return CUDNN_STATUS_SUCCESS;
}
inline cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, cudnnTensorDescriptor_t,
                                                            cudnnFilterDescriptor_t, cudnnConvolutionDescriptor_t,
                                                            cudnnTensorDescriptor_t, int, int* count,
                                                            cudnnConvolutionFwdAlgoPerf_t* perf) {
  return cudnn_emulated_one_algorithm(count, perf);
}
inline cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t, cudnnFilterDescriptor_t,
                                                                 cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
                                                                 cudnnTensorDescriptor_t, int, int* count,
                                                                 cudnnConvolutionBwdDataAlgoPerf_t* perf) {
  return cudnn_emulated_one_algorithm(count, perf);
}
inline cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t, cudnnTensorDescriptor_t,
                                                                   cudnnTensorDescriptor_t,
                                                                   cudnnConvolutionDescriptor_t,
                                                                   cudnnFilterDescriptor_t, int, int* count,
                                                                   cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
  return cudnn_emulated_one_algorithm(count, perf);
}

// Visits every (input element, filter element, output element) triple of the convolution:
// f(x index, w index, y index), indices into the NHWC / KRSC / NHWC buffers.
template <class F>
cudnnStatus_t cudnn_emulated_visit(const cudnnTensorStruct& x, const cudnnFilterStruct& w,
                                   const cudnnConvolutionStruct& conv, const cudnnTensorStruct& y, F&& f) {
  const int groups = conv.groups;
  if (groups <= 0 || x.c % groups != 0 || w.k % groups != 0 || w.c != x.c / groups || y.c != w.k || y.n != x.n) {
    return CUDNN_STATUS_BAD_PARAM;
  }
  const int k_per_group = w.k / groups;
  for (int n = 0; n < y.n; ++n) {
    for (int oh = 0; oh < y.h; ++oh) {
      for (int ow = 0; ow < y.w; ++ow) {
        for (int k = 0; k < w.k; ++k) {
          const int g = k / k_per_group;
          const std::int64_t yi = ((static_cast<std::int64_t>(n) * y.h + oh) * y.w + ow) * y.c + k;
          for (int r = 0; r < w.r; ++r) {
            const int ih = oh * conv.u - conv.pad_h + r * conv.dil_h;
            if (ih < 0 || ih >= x.h) continue;
            for (int s = 0; s < w.s; ++s) {
              const int iw = ow * conv.v - conv.pad_w + s * conv.dil_w;
              if (iw < 0 || iw >= x.w) continue;
              for (int c = 0; c < w.c; ++c) {
                const std::int64_t xi = ((static_cast<std::int64_t>(n) * x.h + ih) * x.w + iw) * x.c + g * w.c + c;
                const std::int64_t wi = ((static_cast<std::int64_t>(k) * w.r + r) * w.s + s) * w.c + c;
                f(xi, wi, yi);
              }
            }
          }
        }
      }
    }
  }
  return CUDNN_STATUS_SUCCESS;
}

// out = alpha * acc + beta * out, element by element, in the descriptor's type.
template <class T>
void cudnn_emulated_blend(const std::vector<double>& acc, const void* alpha, const void* beta, void* out) {
  const T a = *static_cast<const T*>(alpha), b = *static_cast<const T*>(beta);
  T* o = static_cast<T*>(out);
  for (std::size_t i = 0; i < acc.size(); ++i) o[i] = static_cast<T>(a * static_cast<T>(acc[i]) + (b == T(0) ? T(0) : b * o[i]));
}

template <class T>
double cudnn_emulated_at(const void* p, std::int64_t i) {
  return static_cast<double>(static_cast<const T*>(p)[i]);
}

inline std::size_t cudnn_emulated_count(const cudnnTensorStruct& t) {
  return static_cast<std::size_t>(t.n) * t.c * t.h * t.w;
}

// Which of the three buffers the convolution accumulates into: y (forward), x (backward
// data) or w (backward filter).
enum class CudnnEmulatedPass { kForward, kData, kFilter };

// Not inlined: alpha and beta point at a float or a double as the descriptor's type says,
// which the compiler cannot see through the inlined call sites.
[[gnu::noinline]] inline cudnnStatus_t cudnn_emulated_run(CudnnEmulatedPass pass, const cudnnTensorStruct& xd, const void* x,
                                        const cudnnFilterStruct& wd, const void* w, const cudnnConvolutionStruct& conv,
                                        const cudnnTensorStruct& yd, const void* y, const void* alpha,
                                        const void* beta, void* out) {
  const bool f64 = xd.type == CUDNN_DATA_DOUBLE;
  const auto at = [&](const void* p, std::int64_t i) {
    return f64 ? cudnn_emulated_at<double>(p, i) : cudnn_emulated_at<float>(p, i);
  };
  const std::size_t n = pass == CudnnEmulatedPass::kForward ? cudnn_emulated_count(yd)
                        : pass == CudnnEmulatedPass::kData  ? cudnn_emulated_count(xd)
                                                            : static_cast<std::size_t>(wd.k) * wd.c * wd.r * wd.s;
  std::vector<double> acc(n, 0.0);
  const cudnnStatus_t status = cudnn_emulated_visit(xd, wd, conv, yd, [&](std::int64_t xi, std::int64_t wi, std::int64_t yi) {
    switch (pass) {
      case CudnnEmulatedPass::kForward: acc[static_cast<std::size_t>(yi)] += at(x, xi) * at(w, wi); break;
      case CudnnEmulatedPass::kData: acc[static_cast<std::size_t>(xi)] += at(y, yi) * at(w, wi); break;
      case CudnnEmulatedPass::kFilter: acc[static_cast<std::size_t>(wi)] += at(x, xi) * at(y, yi); break;
    }
  });
  if (status != CUDNN_STATUS_SUCCESS) return status;
  if (f64) {
    cudnn_emulated_blend<double>(acc, alpha, beta, out);
  } else {
    cudnn_emulated_blend<float>(acc, alpha, beta, out);
  }
  return CUDNN_STATUS_SUCCESS;
}

inline cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t, const void* alpha, cudnnTensorDescriptor_t xd, const void* x,
                                             cudnnFilterDescriptor_t wd, const void* w, cudnnConvolutionDescriptor_t conv,
                                             cudnnConvolutionFwdAlgo_t, void*, std::size_t, const void* beta,
                                             cudnnTensorDescriptor_t yd, void* y) {
  return cudnn_emulated_run(CudnnEmulatedPass::kForward, *xd, x, *wd, w, *conv, *yd, nullptr, alpha, beta, y);
}
inline cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t, const void* alpha, cudnnFilterDescriptor_t wd,
                                                  const void* w, cudnnTensorDescriptor_t dyd, const void* dy,
                                                  cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdDataAlgo_t,
                                                  void*, std::size_t, const void* beta, cudnnTensorDescriptor_t dxd,
                                                  void* dx) {
  return cudnn_emulated_run(CudnnEmulatedPass::kData, *dxd, nullptr, *wd, w, *conv, *dyd, dy, alpha, beta, dx);
}
inline cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t, const void* alpha, cudnnTensorDescriptor_t xd,
                                                    const void* x, cudnnTensorDescriptor_t dyd, const void* dy,
                                                    cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdFilterAlgo_t,
                                                    void*, std::size_t, const void* beta, cudnnFilterDescriptor_t dwd,
                                                    void* dw) {
  return cudnn_emulated_run(CudnnEmulatedPass::kFilter, *xd, x, *dwd, nullptr, *conv, *dyd, dy, alpha, beta, dw);
}
