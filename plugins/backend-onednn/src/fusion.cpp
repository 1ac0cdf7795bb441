// Inference fusion for the cpu device: the graph pass "onednn.fuse_matmul_bias_activation"
// turns MatMul|Conv2D|DepthwiseConv2dNative → BiasAdd (→ Relu | Relu6 | Tanh | Sigmoid | Elu)
// chains of float32 values, whose intermediate results nothing else uses, into one
// _FusedMatMul / _FusedConv2D / _FusedDepthwiseConv2dNative node
// (TensorFlow's op names and attrs: the MatMul's or Conv2D's, plus fused_ops), which runs as
// one oneDNN primitive with a bias and an eltwise post-op: one pass over the output instead
// of three. The fused ops have no gradient: the pass is for inference graphs only.
#include <cmath>
#include <cstdint>
#include <optional>

#include "common.hpp"
#include "dnnl_util.hpp"
#include "fusion.hpp"
#include "kernels.hpp"
#include "small_conv.hpp"
#include "strata/graph.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/op_def.hpp"

namespace strata::onednn {

std::optional<std::pair<dnnl::algorithm, float>> eltwise_of(std::string_view op) {
  if (op == "Relu") return std::make_pair(dnnl::algorithm::eltwise_relu, 0.0f);
  if (op == "Relu6") return std::make_pair(dnnl::algorithm::eltwise_clip, 0.0f);  // clip to [0, 6]
  if (op == "Tanh") return std::make_pair(dnnl::algorithm::eltwise_tanh, 0.0f);
  if (op == "Sigmoid") return std::make_pair(dnnl::algorithm::eltwise_logistic, 0.0f);
  if (op == "Elu") return std::make_pair(dnnl::algorithm::eltwise_elu, 1.0f);
  return std::nullopt;
}

namespace {
std::optional<std::pair<dnnl::algorithm, float>> fused_activation_of(std::string_view op, const AttrValue* value) {
  static const std::vector<std::string> kNone;
  const auto* list = value ? std::get_if<std::vector<std::string>>(value) : nullptr;
  const std::vector<std::string>& fused = list ? *list : kNone;
  STRATA_CHECK(!fused.empty() && fused[0] == "BiasAdd" && fused.size() <= 2 && (fused.size() == 1 || eltwise_of(fused[1])),
               BackendError, op, " supports fused_ops [BiasAdd] and [BiasAdd, Relu|Relu6|Tanh|Sigmoid|Elu]");
  return fused.size() == 2 ? eltwise_of(fused[1]) : std::nullopt;
}
}  // namespace

std::optional<std::pair<dnnl::algorithm, float>> fused_activation(std::string_view op, const Attrs& attrs) {
  return fused_activation_of(op, attrs.find("fused_ops"));
}

dnnl::primitive_attr fused_attr(const std::optional<std::pair<dnnl::algorithm, float>>& act) {
  dnnl::primitive_attr attr = user_scratchpad();
  if (act) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, act->first, act->second, act->first == dnnl::algorithm::eltwise_clip ? 6.0f : 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

namespace {

constexpr const char* kFusedMatMul = "_FusedMatMul";
constexpr const char* kFusedConv2D = "_FusedConv2D";
constexpr const char* kFusedDepthwise = "_FusedDepthwiseConv2dNative";
constexpr const char* kFusedConvPool = "_FusedConv2DMaxPool";

OpDef fused_matmul_def() {
  OpDef d;
  d.name = kFusedMatMul;
  d.num_inputs = 3;
  d.infer = [](const InferContext& c) -> std::vector<TensorMeta> {
    STRATA_CHECK(c.dtype(0) == DType::kFloat32 && c.dtype(1) == DType::kFloat32 && c.dtype(2) == DType::kFloat32,
                 ValueError, "_FusedMatMul takes float32 inputs");
    const Shape &a = c.shape(0), &b = c.shape(1);
    STRATA_CHECK(a.has_known_rank() && a.rank() == 2 && b.has_known_rank() && b.rank() == 2, ShapeError,
                 "_FusedMatMul needs two matrices, got ", a.to_string(), " and ", b.to_string());
    const bool ta = c.attrs().get_or<bool>("transpose_a", false), tb = c.attrs().get_or<bool>("transpose_b", false);
    (void)fused_activation("_FusedMatMul", c.attrs());  // checks fused_ops
    return {{DType::kFloat32, Shape{a.dims()[ta ? 1 : 0], b.dims()[tb ? 0 : 1]}}};
  };
  return d;  // no gradient: an inference-only op
}

// _FusedConv2D / _FusedDepthwiseConv2dNative: Conv2D's / DepthwiseConv2dNative's attrs and
// shape rule, plus the bias.
OpDef fused_conv2d_def(const char* name, const char* unfused) {
  OpDef d;
  d.name = name;
  d.num_inputs = 3;
  d.infer = [name, unfused](const InferContext& c) -> std::vector<TensorMeta> {
    STRATA_CHECK(c.dtype(0) == DType::kFloat32 && c.dtype(1) == DType::kFloat32 && c.dtype(2) == DType::kFloat32,
                 ValueError, name, " takes float32 inputs");
    // The unfused convolution's own inference on the first two inputs.
    const std::vector<Tensor> conv_inputs{c.input(0), c.input(1)};
    const InferContext conv(std::string_view(unfused), c.attrs(), conv_inputs);
    return op_def(unfused).infer(conv);
  };
  return d;
}

// _FusedConv2DMaxPool: _FusedConv2D's attrs plus "pool_size" k; the output is the
// convolution's shape with its rows and columns divided by k (rounded down).
OpDef fused_conv_pool_def() {
  OpDef d;
  d.name = kFusedConvPool;
  d.num_inputs = 3;
  d.infer = [](const InferContext& c) -> std::vector<TensorMeta> {
    STRATA_CHECK(c.dtype(0) == DType::kFloat32 && c.dtype(1) == DType::kFloat32 && c.dtype(2) == DType::kFloat32,
                 ValueError, kFusedConvPool, " takes float32 inputs");
    const std::int64_t k = c.attrs().get<std::int64_t>("pool_size");
    STRATA_CHECK(k >= 1, ValueError, kFusedConvPool, ": pool_size ", k, " must be positive");
    const std::vector<Tensor> conv_inputs{c.input(0), c.input(1)};
    const InferContext conv(std::string_view("Conv2D"), c.attrs(), conv_inputs);
    auto out = op_def("Conv2D").infer(conv);
    if (out.size() == 1 && out[0].shape.has_known_rank() && out[0].shape.rank() == 4) {
      std::vector<std::int64_t> dims = out[0].shape.dims();
      for (int i : {1, 2}) dims[i] = dims[i] == Shape::kUnknown ? Shape::kUnknown : dims[i] / k;
      out[0].shape = Shape(dims);
    }
    return out;
  };
  return d;  // no gradient: an inference-only op
}

// The pass "onednn.fuse_conv_max_pool" (after the fusion pass): a MaxPool of k x k windows
// with stride k and VALID padding over a _FusedConv2D of a single-channel input that
// backend-onednn's direct loop runs (small_conv.hpp) becomes one _FusedConv2DMaxPool, so
// the convolution's output is never stored whole (the small CNN's 22 MB at batch 1024).
Graph fuse_conv_max_pool(const Graph& graph) {
  if (!small_channel_conv_enabled()) return graph;
  return rewrite_graph(graph, [](const GraphNode& node, const RewriteContext& ctx) -> std::optional<std::vector<Tensor>> {
    if (node.op != "MaxPool" || node.inputs.size() != 1 || node.outputs.size() != 1) return std::nullopt;
    const GraphNode* conv = node.inputs[0].node().get();
    if (conv->op != kFusedConv2D || conv->inputs.size() != 3 || conv->outputs.size() != 1 || ctx.uses(*conv) != 1) {
      return std::nullopt;
    }
    const Attrs& pool = node.attrs;
    if (pool.get_or<std::string>("data_format", "NHWC") != "NHWC" || pool.get_or<std::string>("padding", "") != "VALID") {
      return std::nullopt;
    }
    const AttrValue* ksize = pool.find("ksize");
    const AttrValue* strides = pool.find("strides");
    const auto* kv = ksize ? std::get_if<std::vector<std::int64_t>>(ksize) : nullptr;
    const auto* sv = strides ? std::get_if<std::vector<std::int64_t>>(strides) : nullptr;
    if (kv == nullptr || sv == nullptr || *kv != *sv || kv->size() != 4 || (*kv)[0] != 1 || (*kv)[3] != 1 ||
        (*kv)[1] != (*kv)[2] || (*kv)[1] < 2) {
      return std::nullopt;
    }
    const Shape& filter = conv->inputs[1].shape();
    if (conv->inputs[0].dtype() != DType::kFloat32 || !filter.is_fully_defined() || filter.rank() != 4 ||
        filter.dims()[2] != 1 || filter.dims()[3] > 32 || filter.dims()[0] * filter.dims()[1] > 64) {
      return std::nullopt;
    }
    const AttrValue* fused = conv->attrs.find("fused_ops");
    const auto* ops = fused ? std::get_if<std::vector<std::string>>(fused) : nullptr;
    if (ops == nullptr || ops->empty() || ops->size() > 2 || (ops->size() == 2 && (*ops)[1] != "Relu" && (*ops)[1] != "Relu6")) {
      return std::nullopt;
    }
    Attrs attrs = conv->attrs;
    attrs.set("pool_size", (*kv)[1]);
    return execute(kFusedConvPool,
                   {ctx.value_of(conv->inputs[0]), ctx.value_of(conv->inputs[1]), ctx.value_of(conv->inputs[2])}, attrs);
  });
}

}  // namespace

// A few rows (batch-1 inference): oneDNN's primitive machinery (argument maps, memory
// objects, its scratchpad and thread dispatch) costs ~5,400 instructions a call on top of
// the JIT kernel, more than the arithmetic of a 64x64 layer; this loop does y = x·W + b
// with the columns in blocks of 64 accumulators (registers), compiled for AVX-512, AVX2
// and the baseline and picked at load time. Rounding: the sums over k run in order, in
// float32, as oneDNN's do up to association (within the fused ops' tolerance).
__attribute__((target_clones("avx512f", "avx2", "default"))) void small_rows_matmul_bias(
    const float* x, const float* w, const float* bias, float* y, std::int64_t M, std::int64_t K, std::int64_t N) {
  constexpr std::int64_t kBlock = 64;
  for (std::int64_t m = 0; m < M; ++m) {
    const float* xr = x + m * K;
    float* yr = y + m * N;
    std::int64_t n0 = 0;
    for (; n0 + kBlock <= N; n0 += kBlock) {
      float acc[kBlock] = {};
      for (std::int64_t k = 0; k < K; ++k) {
        const float xk = xr[k];
        const float* wr = w + k * N + n0;
        for (std::int64_t j = 0; j < kBlock; ++j) acc[j] += xk * wr[j];
      }
      for (std::int64_t j = 0; j < kBlock; ++j) yr[n0 + j] = acc[j] + bias[n0 + j];
    }
    if (n0 < N) {
      const std::int64_t rest = N - n0;
      float acc[kBlock] = {};
      for (std::int64_t k = 0; k < K; ++k) {
        const float xk = xr[k];
        const float* wr = w + k * N + n0;
        for (std::int64_t j = 0; j < rest; ++j) acc[j] += xk * wr[j];
      }
      for (std::int64_t j = 0; j < rest; ++j) yr[n0 + j] = acc[j] + bias[n0 + j];
    }
  }
}

namespace {

void apply_activation(dnnl::algorithm act, float alpha, float* y, std::int64_t n) {
  switch (act) {
    case dnnl::algorithm::eltwise_relu:
      for (std::int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
      return;
    case dnnl::algorithm::eltwise_clip:
      for (std::int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? (y[i] < 6.0f ? y[i] : 6.0f) : 0.0f;
      return;
    case dnnl::algorithm::eltwise_tanh:
      for (std::int64_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]);
      return;
    case dnnl::algorithm::eltwise_logistic:
      for (std::int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-y[i]));
      return;
    case dnnl::algorithm::eltwise_elu:
      for (std::int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? y[i] : alpha * std::expm1(y[i]);
      return;
    default:
      STRATA_THROW(BackendError, "_FusedMatMul: no small-rows path for this activation");
  }
}

// Rows up to which small_rows_matmul_bias runs instead of oneDNN (plain layouts only).
constexpr std::int64_t kSmallRows = 4;

void fused_matmul(KernelContext& ctx) {
  check_num_inputs(ctx, 3);
  const Dims &ad = in_dims(ctx, 0), &bd = in_dims(ctx, 1);
  // The three attributes in one pass over the (few, sorted) attributes: at batch 1 a lookup
  // by name per attribute was ~4% of the MLP's instructions.
  const Attrs& attrs = ctx.attrs();
  bool ta = false, tb = false;
  const AttrValue* fused_ops = nullptr;
  for (const auto& [key, value] : attrs.items()) {
    const std::string_view name = key;  // compares lengths before bytes
    if (name == "fused_ops") {
      fused_ops = &value;
    } else if (name == "transpose_a" || name == "transpose_b") {
      const bool* flag = std::get_if<bool>(&value);
      if (flag == nullptr) (void)attrs.get<bool>(name);  // throws: not a bool
      (name == "transpose_a" ? ta : tb) = flag != nullptr && *flag;
    }
  }
  const std::int64_t M = ta ? ad[1] : ad[0], K = ta ? ad[0] : ad[1];
  const std::int64_t Kb = tb ? bd[1] : bd[0], N = tb ? bd[0] : bd[1];
  STRATA_CHECK(K == Kb, BackendError, "_FusedMatMul: inner dimensions ", K, " and ", Kb, " differ");
  STRATA_CHECK(in_dims(ctx, 2).size() == 1 && in_dims(ctx, 2)[0] == N, BackendError, "_FusedMatMul: a bias of shape ",
               ctx.input(2).shape().to_string(), " for ", N, " columns");
  const auto act = fused_activation_of(ctx.op_name(), fused_ops);
  float* c = static_cast<float*>(ctx.allocate_output(0).mutable_data());
  if (M == 0 || N == 0) return;
  if (M <= kSmallRows && !ta && !tb) {
    small_rows_matmul_bias(static_cast<const float*>(ctx.input(0).data()), static_cast<const float*>(ctx.input(1).data()),
                           static_cast<const float*>(ctx.input(2).data()), c, M, K, N);
    if (act) apply_activation(act->first, act->second, c, M * N);
    return;
  }
  KeyBuilder key("fused_matmul");
  key.add(M).add(K).add(N).add(std::int64_t{ta}).add(std::int64_t{tb}).add(std::int64_t{act ? static_cast<int>(act->first) : -1});
  auto prim = cached_primitive(ctx.op_name(), key.str(), [&] {
    const auto a_md = strided_f32({M, K}, ta ? Dims{1, M} : Dims{K, 1});
    const auto b_md = strided_f32({K, N}, tb ? Dims{1, K} : Dims{N, 1});
    const auto bias_md = plain({1, N}), c_md = plain({M, N});
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, bias_md, c_md), fused_attr(act), engine());
    return PrimitiveSpec{dnnl::matmul(pd),
                         {{DNNL_ARG_SRC, a_md}, {DNNL_ARG_WEIGHTS, b_md}, {DNNL_ARG_BIAS, bias_md}, {DNNL_ARG_DST, c_md}},
                         pd.scratchpad_desc()};
  });
  prim->execute({ctx.input(0).data(), ctx.input(1).data(), ctx.input(2).data(), c});
}

bool is_2d_f32(const TensorMeta& m) {
  return m.dtype == DType::kFloat32 && m.shape.has_known_rank() && m.shape.rank() == 2;
}

// The pass: at a BiasAdd fed by a MatMul, or at an activation fed by such a BiasAdd, when
// the intermediate values have no other use.
Graph fuse_matmul_bias_activation(const Graph& graph) {
  return rewrite_graph(graph, [](const GraphNode& node, const RewriteContext& ctx) -> std::optional<std::vector<Tensor>> {
    const GraphNode* act = nullptr;
    const GraphNode* bias = &node;
    if (eltwise_of(node.op)) {
      if (node.inputs.size() != 1 || node.inputs[0].node()->op != "BiasAdd" || ctx.uses(*node.inputs[0].node()) != 1) {
        return std::nullopt;
      }
      act = &node;
      bias = node.inputs[0].node().get();
    }
    if (bias->op != "BiasAdd" || bias->inputs.size() != 2) return std::nullopt;
    if (bias->attrs.get_or<std::string>("data_format", "NHWC") != "NHWC") return std::nullopt;
    const GraphNode* mm = bias->inputs[0].node().get();
    if ((mm->op != "MatMul" && mm->op != "Conv2D" && mm->op != "DepthwiseConv2dNative") || mm->inputs.size() != 2 || ctx.uses(*mm) != 1 ||
        mm->outputs.size() != 1 || bias->inputs[1].dtype() != DType::kFloat32 || mm->outputs[0].dtype != DType::kFloat32) {
      return std::nullopt;
    }
    std::vector<std::string> fused{"BiasAdd"};
    if (act) fused.push_back(act->op);
    const std::vector<Tensor> inputs{ctx.value_of(mm->inputs[0]), ctx.value_of(mm->inputs[1]), ctx.value_of(bias->inputs[1])};
    if (mm->op != "MatMul") {
      if (mm->attrs.get_or<std::string>("data_format", "NHWC") != "NHWC") return std::nullopt;
      Attrs attrs = mm->attrs;
      attrs.set("fused_ops", fused);
      return execute(mm->op == "Conv2D" ? kFusedConv2D : kFusedDepthwise, inputs, attrs);
    }
    if (!is_2d_f32(mm->outputs[0])) return std::nullopt;
    Attrs attrs{{"transpose_a", mm->attrs.get_or<bool>("transpose_a", false)},
                {"transpose_b", mm->attrs.get_or<bool>("transpose_b", false)},
                {"fused_ops", fused}};
    return execute(kFusedMatMul, inputs, attrs);
  });
}

}  // namespace

void register_fusion(Registrar& r) {
  r.add<ObjectKind::kOp>(kFusedMatMul, fused_matmul_def());
  add_kernel(r, kFusedMatMul, kDevice, DType::kFloat32, fused_matmul);
  r.add<ObjectKind::kOp>(kFusedConv2D, fused_conv2d_def(kFusedConv2D, "Conv2D"));
  add_kernel(r, kFusedConv2D, kDevice, DType::kFloat32, fused_conv2d);
  r.add<ObjectKind::kOp>(kFusedDepthwise, fused_conv2d_def(kFusedDepthwise, "DepthwiseConv2dNative"));
  add_kernel(r, kFusedDepthwise, kDevice, DType::kFloat32, fused_conv2d);
  register_fold_batch_norm(r);  // first: its BiasAdd then fuses with the convolution
  register_graph_pass({"onednn.fuse_matmul_bias_activation", std::string(kDevice), true, fuse_matmul_bias_activation});
  r.add<ObjectKind::kOp>(kFusedConvPool, fused_conv_pool_def());
  add_kernel(r, kFusedConvPool, kDevice, DType::kFloat32, fused_conv2d_max_pool);
  register_graph_pass({"onednn.fuse_conv_max_pool", std::string(kDevice), true, fuse_conv_max_pool});
}

}  // namespace strata::onednn
