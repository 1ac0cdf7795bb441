// Window ops of the backend-cuda plugin (NHWC, float32 and float64): pooling on the plugin's own
// kernels (pool.cu) and, when cuDNN was found at configure time, convolutions on cuDNN:
// Conv2D, DepthwiseConv2dNative and their input/filter gradients.
//
// cuDNN takes the filter as KRSC (output channel first) and pads symmetrically; TensorFlow's
// filter is HWIO and SAME padding puts the odd element after. So the filter is transposed
// into a scratch buffer (and a filter gradient back), and when the padding is asymmetric
// the input is copied into a zero-padded scratch tensor carrying the extra rows/columns
// (an input gradient is computed for that tensor and its inside copied out). A depthwise
// convolution is a grouped one (groups = input channels, filter [KH, KW, 1, C*M]).
// cuDNN's math is FMA (no TF32) unless STRATA_CUDA_TF32=1.
#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "cuda_device.hpp"
#include "cuda_libs.hpp"
#include "glue.hpp"
#include "launch.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/plugin/window.hpp"

#if STRATA_CUDA_WITH_CUDNN
#include <cudnn.h>
#endif

namespace strata::cuda {
namespace {

// ---- pooling ------------------------------------------------------------------------------

PoolWindow pool_window(const KernelContext& ctx, const Dims& input) {
  const Window2D g = nhwc_pool_window(ctx.attrs(), ctx.op_name(), input);
  PoolWindow p;
  p.n = g.n;
  p.h = g.h;
  p.w = g.w;
  p.c = g.c;
  p.oh = g.oh;
  p.ow = g.ow;
  p.kh = g.kh;
  p.kw = g.kw;
  p.sh = g.sh;
  p.sw = g.sw;
  p.pad_top = g.pad_top;
  p.pad_left = g.pad_left;
  return p;
}

void register_pooling(Registrar& r) {
  add_kernels(r, "MaxPool", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    const PoolWindow p = pool_window(ctx, in_dims(ctx, 0));
    check_launch(max_pool(cuda_device(ctx).stream(), p, in<T>(ctx, 0), out<T>(o)), "MaxPool");
  });
  add_kernels(r, "AvgPool", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    const PoolWindow p = pool_window(ctx, in_dims(ctx, 0));
    check_launch(avg_pool(cuda_device(ctx).stream(), p, in<T>(ctx, 0), out<T>(o)), "AvgPool");
  });
  // MaxPoolGrad(orig_input, orig_output, grad).
  add_kernels(r, "MaxPoolGrad", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    const PoolWindow p = pool_window(ctx, in_dims(ctx, 0));
    const Dims pooled{p.n, p.oh, p.ow, p.c};
    STRATA_CHECK(in_dims(ctx, 1) == pooled && in_dims(ctx, 2) == pooled, BackendError, "MaxPoolGrad: orig_output ",
                 ctx.input(1).shape().to_string(), " and grad ", ctx.input(2).shape().to_string(), " must be ",
                 Shape(pooled).to_string());
    check_launch(max_pool_grad(cuda_device(ctx).stream(), p, in<T>(ctx, 0), in<T>(ctx, 2), out<T>(o)),
                 "MaxPoolGrad");
  });
  // AvgPoolGrad(orig_input_shape (host), grad).
  add_kernels(r, "AvgPoolGrad", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    Tensor& o = ctx.allocate_output(0);
    const PoolWindow p = pool_window(ctx, host_ints(ctx, 0));
    const Dims pooled{p.n, p.oh, p.ow, p.c};
    STRATA_CHECK(in_dims(ctx, 1) == pooled, BackendError, "AvgPoolGrad: grad ", ctx.input(1).shape().to_string(),
                 " must be ", Shape(pooled).to_string());
    check_launch(avg_pool_grad(cuda_device(ctx).stream(), p, in<T>(ctx, 1), out<T>(o)), "AvgPoolGrad");
  });
}

// ---- image resizing ---------------------------------------------------------------------------

// TensorFlow's CalculateResizeScale, in float32.
float resize_scale(std::int64_t in, std::int64_t out, bool align_corners) {
  return align_corners && out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1)
                                  : static_cast<float>(in) / static_cast<float>(out);
}

// images [n, h, w, c] resized to [n, oh, ow, c].
ResizeGeometry resize_geometry(const KernelContext& ctx, const Dims& images, std::int64_t oh, std::int64_t ow) {
  STRATA_CHECK(images.size() == 4 && oh > 0 && ow > 0, BackendError, ctx.op_name(),
               ": needs [batch, height, width, channels] images and a positive size, got images ",
               Shape(images).to_string(), " and size [", oh, ", ", ow, "]");
  ResizeGeometry g;
  g.n = images[0];
  g.h = images[1];
  g.w = images[2];
  g.c = images[3];
  g.oh = oh;
  g.ow = ow;
  g.align_corners = ctx.attrs().get_or<bool>("align_corners", false);
  g.half_pixel_centers = ctx.attrs().get_or<bool>("half_pixel_centers", false);
  STRATA_CHECK(!(g.align_corners && g.half_pixel_centers), BackendError, ctx.op_name(),
               ": if half_pixel_centers is true, align_corners must be false");
  g.scale_h = resize_scale(g.h, g.oh, g.align_corners);
  g.scale_w = resize_scale(g.w, g.ow, g.align_corners);
  return g;
}

Dims resize_size(const KernelContext& ctx) {
  const Dims size = host_ints(ctx, 1);
  STRATA_CHECK(size.size() == 2, BackendError, ctx.op_name(), ": size must hold [height, width], got ",
               Shape(size).to_string());
  return size;
}

void register_resizing(Registrar& r) {
  // ResizeBilinear / ResizeNearestNeighbor(images, size (host)).
  add_kernels(r, "ResizeBilinear", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    const Dims size = resize_size(ctx);
    const ResizeGeometry g = resize_geometry(ctx, in_dims(ctx, 0), size[0], size[1]);
    Tensor& o = ctx.allocate_output(0);
    check_launch(resize_bilinear(cuda_device(ctx).stream(), g, in<T>(ctx, 0), out<T>(o)), "ResizeBilinear");
  });
  add_kernels(r, "ResizeNearestNeighbor", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    const Dims size = resize_size(ctx);
    const ResizeGeometry g = resize_geometry(ctx, in_dims(ctx, 0), size[0], size[1]);
    Tensor& o = ctx.allocate_output(0);
    check_launch(resize_nearest(cuda_device(ctx).stream(), g, in<T>(ctx, 0), out<T>(o)), "ResizeNearestNeighbor");
  });
  // ResizeBilinearGrad(grads, original_image).
  add_kernels(r, "ResizeBilinearGrad", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    const Dims& gd = in_dims(ctx, 0);
    const Dims& xd = in_dims(ctx, 1);
    STRATA_CHECK(gd.size() == 4 && xd.size() == 4 && gd[0] == xd[0] && gd[3] == xd[3], BackendError,
                 "ResizeBilinearGrad: grads ", ctx.input(0).shape().to_string(), " do not fit original_image ",
                 ctx.input(1).shape().to_string());
    const ResizeGeometry g = resize_geometry(ctx, xd, gd[1], gd[2]);
    Tensor& o = ctx.allocate_output(0);
    check_launch(resize_bilinear_grad(cuda_device(ctx).stream(), g, in<T>(ctx, 0), out<T>(o)), "ResizeBilinearGrad");
  });
  // ResizeNearestNeighborGrad(grads, size (host): the forward input's [height, width]).
  add_kernels(r, "ResizeNearestNeighborGrad", kCuda, FloatTypes{}, []<class T>(KernelContext& ctx) {
    const Dims& gd = in_dims(ctx, 0);
    const Dims size = resize_size(ctx);
    STRATA_CHECK(gd.size() == 4, BackendError, "ResizeNearestNeighborGrad: grads must be [batch, height, width, "
                 "channels], got ", ctx.input(0).shape().to_string());
    const ResizeGeometry g = resize_geometry(ctx, {gd[0], size[0], size[1], gd[3]}, gd[1], gd[2]);
    Tensor& o = ctx.allocate_output(0);
    check_launch(resize_nearest_grad(cuda_device(ctx).stream(), g, in<T>(ctx, 0), out<T>(o)),
                 "ResizeNearestNeighborGrad");
  });
}

#if STRATA_CUDA_WITH_CUDNN

// ---- cuDNN ---------------------------------------------------------------------------------

void check(cudnnStatus_t status, std::string_view what) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  STRATA_THROW(BackendError, "cuDNN error in ", what, ": ", cudnnGetErrorString(status));
}

// One cuDNN handle per device, bound to its stream, used under a lock. Handles live as long
// as the process (destroying them after the CUDA context at exit is worse than keeping them).
std::unique_lock<std::mutex> dnn(CudaDevice& dev, cudnnHandle_t& handle) {
  struct Slot {
    std::mutex mutex;
    cudnnHandle_t handle = nullptr;
  };
  static std::array<Slot, 64> slots;
  const int index = dev.device().index();
  STRATA_CHECK(index >= 0 && index < static_cast<int>(slots.size()), BackendError, "cuda:", index,
               " is beyond the 64 devices the cuDNN kernels handle");
  Slot& slot = slots[static_cast<std::size_t>(index)];
  std::unique_lock lock(slot.mutex);
  if (slot.handle == nullptr) {
    require_cudnn();
    dev.activate();
    check(cudnnCreate(&slot.handle), "cudnnCreate");
    check(cudnnSetStream(slot.handle, dev.stream()), "cudnnSetStream");
  }
  handle = slot.handle;
  return lock;
}

bool tf32_enabled() {
  const char* tf32 = std::getenv("STRATA_CUDA_TF32");
  return tf32 != nullptr && std::strcmp(tf32, "1") == 0;
}

template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
struct Descriptor {
  T d = nullptr;
  Descriptor() {
    require_cudnn();  // loaded on first use (cuda_libs.hpp)
    check(Create(&d), "creating a descriptor");
  }
  ~Descriptor() { Destroy(d); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
};
using TensorDesc = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

// Device memory from the device's caching allocator for the duration of one kernel (the
// stream orders its reuse after the work queued on it).
class Scratch {
 public:
  Scratch(CudaDevice& dev, std::size_t bytes) : dev_(dev), bytes_(bytes) {
    if (bytes_ > 0) data_ = dev_.allocate(bytes_);
  }
  ~Scratch() {
    if (data_ != nullptr) dev_.deallocate(data_, bytes_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* data() const noexcept { return data_; }
  template <class T>
  T* as() const noexcept {
    return static_cast<T*>(data_);
  }

 private:
  CudaDevice& dev_;
  std::size_t bytes_;
  void* data_ = nullptr;
};

// A convolution as TensorFlow defines it, and what cuDNN needs to run it.
struct Conv {
  std::int64_t n = 0, h = 0, w = 0, c = 0;   // input
  std::int64_t kh = 0, kw = 0, ci = 0, o = 0; // filter as HWIO (depthwise: [KH, KW, 1, C*M])
  std::int64_t oh = 0, ow = 0;
  std::int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  std::int64_t pad_top = 0, pad_left = 0, extra_h = 0, extra_w = 0;  // extra: asymmetric rest, after
  std::int64_t groups = 1;
  std::int64_t ph() const { return h + extra_h; }  // the (possibly padded) input cuDNN sees
  std::int64_t pw() const { return w + extra_w; }
  bool padded() const { return extra_h > 0 || extra_w > 0; }
};

Conv conv_geometry(const KernelContext& ctx, const Dims& input, const Dims& filter, bool depthwise) {
  STRATA_CHECK(filter.size() == 4, BackendError, "op ", ctx.op_name(), " needs a rank-4 filter, got ",
               Shape(filter).to_string());
  const Window2D w = nhwc_window(ctx.attrs(), ctx.op_name(), input, filter[0], filter[1], WindowDilation::kFromAttrs);
  Conv g;
  g.n = w.n;
  g.h = w.h;
  g.w = w.w;
  g.c = w.c;
  g.kh = w.kh;
  g.kw = w.kw;
  if (depthwise) {
    STRATA_CHECK(filter[2] == g.c, BackendError, "op ", ctx.op_name(), ": filter ", Shape(filter).to_string(),
                 " does not match ", g.c, " input channels");
    g.ci = 1;
    g.o = filter[2] * filter[3];
    g.groups = g.c;
  } else {
    g.ci = filter[2];
    g.o = filter[3];
    STRATA_CHECK(g.ci > 0 && g.c % g.ci == 0 && g.o % (g.c / g.ci) == 0, BackendError, "op ", ctx.op_name(),
                 ": filter ", Shape(filter).to_string(), " does not match ", g.c, " input channels");
    g.groups = g.c / g.ci;
  }
  g.oh = w.oh;
  g.ow = w.ow;
  g.sh = w.sh;
  g.sw = w.sw;
  g.dh = w.dh;
  g.dw = w.dw;
  g.pad_top = w.pad_top;
  g.pad_left = w.pad_left;
  g.extra_h = w.pad_bottom - w.pad_top;
  g.extra_w = w.pad_right - w.pad_left;
  return g;
}

// The descriptors of one convolution, and its handle.
struct ConvSetup {
  TensorDesc x, y;
  FilterDesc f;
  ConvDesc conv;
  ConvSetup(const Conv& g, cudnnDataType_t type) {
    check(cudnnSetTensor4dDescriptor(x.d, CUDNN_TENSOR_NHWC, type, static_cast<int>(g.n),
                                     static_cast<int>(g.c), static_cast<int>(g.ph()), static_cast<int>(g.pw())),
          "cudnnSetTensor4dDescriptor(input)");
    check(cudnnSetTensor4dDescriptor(y.d, CUDNN_TENSOR_NHWC, type, static_cast<int>(g.n),
                                     static_cast<int>(g.o), static_cast<int>(g.oh), static_cast<int>(g.ow)),
          "cudnnSetTensor4dDescriptor(output)");
    check(cudnnSetFilter4dDescriptor(f.d, type, CUDNN_TENSOR_NHWC, static_cast<int>(g.o),
                                     static_cast<int>(g.ci), static_cast<int>(g.kh), static_cast<int>(g.kw)),
          "cudnnSetFilter4dDescriptor");
    check(cudnnSetConvolution2dDescriptor(conv.d, static_cast<int>(g.pad_top), static_cast<int>(g.pad_left),
                                          static_cast<int>(g.sh), static_cast<int>(g.sw), static_cast<int>(g.dh),
                                          static_cast<int>(g.dw), CUDNN_CROSS_CORRELATION, type),
          "cudnnSetConvolution2dDescriptor");
    check(cudnnSetConvolutionGroupCount(conv.d, static_cast<int>(g.groups)), "cudnnSetConvolutionGroupCount");
    const bool tf32 = type == CUDNN_DATA_FLOAT && tf32_enabled();
    check(cudnnSetConvolutionMathType(conv.d, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
          "cudnnSetConvolutionMathType");
  }
};

// The first algorithm cuDNN ranks best that ran, honours the math type (no TF32 unless
// asked) and needs at most 1 GiB of workspace.
template <class Perf>
Perf pick(const Perf* perf, int count, std::string_view what) {
  const bool tf32 = tf32_enabled();
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > (std::size_t{1} << 30)) continue;
    if (!tf32 && perf[i].mathType == CUDNN_TENSOR_OP_MATH) continue;
    return perf[i];
  }
  STRATA_THROW(BackendError, "cuDNN has no usable ", what, " algorithm for this convolution");
}

// HWIO filter -> KRSC [O, KH, KW, I] (and back for a filter gradient).
template <class T>
void filter_to_krsc(CudaDevice& dev, const Conv& g, const T* hwio, T* krsc) {
  const std::int64_t dims[4] = {g.o, g.kh, g.kw, g.ci};
  const std::int64_t strides[4] = {1, g.kw * g.ci * g.o, g.ci * g.o, g.o};
  check_launch(transpose(dev.stream(), sizeof(T), 4, dims, strides, g.o * g.kh * g.kw * g.ci, hwio, krsc), "filter layout");
}
template <class T>
void filter_to_hwio(CudaDevice& dev, const Conv& g, const T* krsc, T* hwio) {
  const std::int64_t dims[4] = {g.kh, g.kw, g.ci, g.o};
  const std::int64_t strides[4] = {g.kw * g.ci, g.ci, 1, g.kh * g.kw * g.ci};
  check_launch(transpose(dev.stream(), sizeof(T), 4, dims, strides, g.o * g.kh * g.kw * g.ci, krsc, hwio), "filter layout");
}

// Copies the [n, h, w, c] input into (into_padded) or out of the [n, ph, pw, c] tensor.
template <class T>
void pad_copy(CudaDevice& dev, const Conv& g, const T* src, T* dst, bool into_padded) {
  StridedCopy p;
  p.rank = 4;
  const std::int64_t dims[4] = {g.n, g.h, g.w, g.c};
  const std::int64_t small[4] = {g.h * g.w * g.c, g.w * g.c, g.c, 1};
  const std::int64_t big[4] = {g.ph() * g.pw() * g.c, g.pw() * g.c, g.c, 1};
  for (int d = 0; d < 4; ++d) {
    p.dims[d] = dims[d];
    p.src_strides[d] = into_padded ? small[d] : big[d];
    p.dst_strides[d] = into_padded ? big[d] : small[d];
  }
  check_launch(strided_copy(dev.stream(), sizeof(T), p, src, dst), "convolution padding");
}

template <class T>
std::size_t bytes_of(std::int64_t elements) {
  return static_cast<std::size_t>(elements) * sizeof(T);
}

// The input as cuDNN reads it: itself, or a zero-padded copy in `scratch`.
template <class T>
const T* padded_input(CudaDevice& dev, const Conv& g, const T* x, Scratch& scratch) {
  if (!g.padded()) return x;
  dev.fill_zero(scratch.data(), bytes_of<T>(g.n * g.ph() * g.pw() * g.c));
  pad_copy(dev, g, x, scratch.as<T>(), true);
  return scratch.as<T>();
}

// What every convolution kernel holds while cuDNN runs: scratch for the padded input and
// the KRSC filter, the descriptors, and the device's cuDNN handle (locked).
template <class T>
struct ConvCall {
  ConvCall(CudaDevice& dev, const Conv& g)
      : padded(dev, g.padded() ? bytes_of<T>(g.n * g.ph() * g.pw() * g.c) : 0),
        filter(dev, bytes_of<T>(g.o * g.kh * g.kw * g.ci)),
        s(g, std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE),
        lock(dnn(dev, h)) {}
  T* padded_data() const { return padded.as<T>(); }
  T* filter_data() const { return filter.as<T>(); }
  Scratch padded, filter;
  ConvSetup s;
  cudnnHandle_t h = nullptr;
  std::unique_lock<std::mutex> lock;
  const T one = 1, zero = 0;
};

template <class T>
void conv_forward(KernelContext& ctx, bool depthwise) {
  Tensor& o = ctx.allocate_output(0);
  const Conv g = conv_geometry(ctx, in_dims(ctx, 0), in_dims(ctx, 1), depthwise);
  if (o.num_elements() == 0) return;
  CudaDevice& dev = cuda_device(ctx);
  if (g.n * g.h * g.w * g.c == 0 || g.kh * g.kw * g.ci == 0) return dev.fill_zero(o.mutable_data(), o.nbytes());
  ConvCall<T> c(dev, g);
  const T* x = padded_input(dev, g, in<T>(ctx, 0), c.padded);
  filter_to_krsc(dev, g, in<T>(ctx, 1), c.filter_data());
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int count = 0;
  check(cudnnGetConvolutionForwardAlgorithm_v7(c.h, c.s.x.d, c.s.f.d, c.s.conv.d, c.s.y.d, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                               &count, perf),
        "cudnnGetConvolutionForwardAlgorithm_v7");
  const auto best = pick(perf, count, "forward");
  Scratch workspace(dev, best.memory);
  check(cudnnConvolutionForward(c.h, &c.one, c.s.x.d, x, c.s.f.d, c.filter.data(), c.s.conv.d, best.algo,
                                workspace.data(), best.memory, &c.zero, c.s.y.d, o.mutable_data()),
        "cudnnConvolutionForward");
}

// Conv2DBackpropInput(input_sizes (host), filter, out_backprop).
template <class T>
void conv_backprop_input(KernelContext& ctx, bool depthwise) {
  Tensor& o = ctx.allocate_output(0);
  const Conv g = conv_geometry(ctx, host_ints(ctx, 0), in_dims(ctx, 1), depthwise);
  if (o.num_elements() == 0) return;
  CudaDevice& dev = cuda_device(ctx);
  if (g.oh * g.ow * g.o == 0 || g.kh * g.kw * g.ci == 0) return dev.fill_zero(o.mutable_data(), o.nbytes());
  ConvCall<T> c(dev, g);
  filter_to_krsc(dev, g, in<T>(ctx, 1), c.filter_data());
  cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  int count = 0;
  check(cudnnGetConvolutionBackwardDataAlgorithm_v7(c.h, c.s.f.d, c.s.y.d, c.s.conv.d, c.s.x.d,
                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, perf),
        "cudnnGetConvolutionBackwardDataAlgorithm_v7");
  const auto best = pick(perf, count, "backward-data");
  Scratch workspace(dev, best.memory);
  T* dx = g.padded() ? c.padded_data() : out<T>(o);
  check(cudnnConvolutionBackwardData(c.h, &c.one, c.s.f.d, c.filter.data(), c.s.y.d, in<T>(ctx, 2), c.s.conv.d,
                                     best.algo, workspace.data(), best.memory, &c.zero, c.s.x.d, dx),
        "cudnnConvolutionBackwardData");
  if (g.padded()) pad_copy(dev, g, c.padded_data(), out<T>(o), false);
}

// Conv2DBackpropFilter(input, filter_sizes (host), out_backprop).
template <class T>
void conv_backprop_filter(KernelContext& ctx, bool depthwise) {
  Tensor& o = ctx.allocate_output(0);
  const Conv g = conv_geometry(ctx, in_dims(ctx, 0), host_ints(ctx, 1), depthwise);
  if (o.num_elements() == 0) return;
  CudaDevice& dev = cuda_device(ctx);
  if (g.n * g.oh * g.ow == 0 || g.h * g.w == 0) return dev.fill_zero(o.mutable_data(), o.nbytes());
  ConvCall<T> c(dev, g);
  const T* x = padded_input(dev, g, in<T>(ctx, 0), c.padded);
  cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  int count = 0;
  check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c.h, c.s.x.d, c.s.y.d, c.s.conv.d, c.s.f.d,
                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, perf),
        "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
  const auto best = pick(perf, count, "backward-filter");
  Scratch workspace(dev, best.memory);
  check(cudnnConvolutionBackwardFilter(c.h, &c.one, c.s.x.d, x, c.s.y.d, in<T>(ctx, 2), c.s.conv.d, best.algo,
                                       workspace.data(), best.memory, &c.zero, c.s.f.d, c.filter.data()),
        "cudnnConvolutionBackwardFilter");
  filter_to_hwio(dev, g, c.filter_data(), out<T>(o));
}

void register_convolutions(Registrar& r) {
  for (const bool depthwise : {false, true}) {
    const std::string base = depthwise ? "DepthwiseConv2dNative" : "Conv2D";
    add_kernels(r, base, kCuda, FloatTypes{}, [depthwise]<class T>(KernelContext& ctx) { conv_forward<T>(ctx, depthwise); });
    add_kernels(r, base + "BackpropInput", kCuda, FloatTypes{},
               [depthwise]<class T>(KernelContext& ctx) { conv_backprop_input<T>(ctx, depthwise); });
    add_kernels(r, base + "BackpropFilter", kCuda, FloatTypes{},
               [depthwise]<class T>(KernelContext& ctx) { conv_backprop_filter<T>(ctx, depthwise); });
  }
}

#endif  // STRATA_CUDA_WITH_CUDNN

}  // namespace

void register_window_ops(Registrar& r) {
  register_pooling(r);
  register_resizing(r);
#if STRATA_CUDA_WITH_CUDNN
  register_convolutions(r);
#endif
}

}  // namespace strata::cuda
