// The one dispatch function: every op runs through run_op, which records into a graph
// when an input is symbolic or a trace is active, and otherwise executes the kernel for
// (op, device, dtype) and records on the thread's active gradient tapes.
#include <algorithm>
#include <array>
#include <mutex>
#include <span>
#include <variant>
#include <unordered_map>

#include "core/foreign_exception.hpp"
#include "ops/internal.hpp"
#include "plugin/plugin_notes.hpp"
#include "strata/log.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"

namespace strata {
namespace internal {

ThreadState& thread_state() {
  thread_local ThreadState state;
  return state;
}

std::atomic<bool> g_autocast_used{false};

namespace {

std::size_t resolve_index(int index, std::size_t n) {
  return index < 0 ? static_cast<std::size_t>(static_cast<int>(n) + index) : static_cast<std::size_t>(index);
}

bool is_host_input(const OpDef& def, std::size_t i, std::size_t n) {
  for (int h : def.host_inputs) {
    if (resolve_index(h, n) == i) return true;
  }
  return false;
}

void check_arity(const OpDef& def, std::size_t n) {
  if (def.num_inputs >= 0) {
    STRATA_CHECK(n == static_cast<std::size_t>(def.num_inputs), ValueError, "op ", def.name, " takes ",
                 def.num_inputs, " inputs, got ", n);
  } else {
    STRATA_CHECK(n >= static_cast<std::size_t>(def.min_inputs), ValueError, "op ", def.name, " takes at least ",
                 def.min_inputs, " inputs, got ", n);
  }
}

std::vector<TensorMeta> infer(const OpDef& def, std::span<const Tensor> inputs, const Attrs& attrs) {
  STRATA_CHECK(def.infer != nullptr, ValueError, "op ", def.name, " has no shape inference");
  InferContext ctx(def.name, attrs, inputs);
  return def.infer(ctx);
}

// Kernel lookup cache, per thread, keyed by (op, device, dtype) and flushed whenever
// the registry changes (a plugin registered kernels).
struct KernelCacheKey {
  const OpDef* def;
  const BackendDevice* device;
  DType dtype;
  bool operator==(const KernelCacheKey&) const = default;
};
struct KernelCacheHash {
  std::size_t operator()(const KernelCacheKey& k) const noexcept {
    return std::hash<const void*>()(k.def) * 31 ^ std::hash<const void*>()(k.device) * 17 ^
           static_cast<std::size_t>(k.dtype);
  }
};

// A resolved kernel with its registry key and provider, named when it throws. Shared so
// that a kernel running ops of its own may see the cache flushed under it.
// `widen` is set for a float16/bfloat16 key served by the device's float32 kernel (no
// kernel of the half dtype and no any-dtype kernel on that device): the op runs on its
// inputs converted to float32 and its float outputs are rounded back (run_widened).
struct FoundKernel {
  std::shared_ptr<const KernelDef> kernel;
  std::string key;
  std::string provider;
  bool widen = false;
};

bool is_half(DType t) noexcept { return t == DType::kFloat16 || t == DType::kBFloat16; }

std::shared_ptr<const FoundKernel> find_kernel(const OpDef& def, BackendDevice& device, DType dtype) {
  thread_local std::unordered_map<KernelCacheKey, std::shared_ptr<const FoundKernel>, KernelCacheHash> cache;
  thread_local std::uint64_t cache_generation = ~std::uint64_t{0};
  const Registry& registry = Registry::global();
  const std::uint64_t generation = registry.generation();
  if (generation != cache_generation) {
    cache.clear();
    cache_generation = generation;
  }
  const KernelCacheKey key{&def, &device, dtype};
  if (auto it = cache.find(key); it != cache.end()) return it->second;

  const std::string type = device.device().type();
  Registry::Match match;
  bool widen = false;
  // A half dtype without a kernel of its own (and no any-dtype kernel on the device, which
  // moves bytes of any dtype) runs the device's float32 kernel before the "*" kernels:
  // those are dtype-generic by registration only (string kernels registered for any dtype).
  const bool half = is_half(dtype);
  for (const auto& [t, d] : std::array<std::pair<std::string_view, DType>, 4>{
           {{type, dtype}, {type, DType::kInvalid}, {type, half ? DType::kFloat32 : DType::kInvalid}, {"*", DType::kInvalid}}}) {
    match = registry.find_erased(ObjectKind::kKernel, kernel_key(def.name, t, d));
    if (match.value) {
      widen = half && d == DType::kFloat32;
      break;
    }
  }
  if (!match.value) {
    std::string available;
    for (const auto& e : registry.entries(ObjectKind::kKernel)) {
      if (e.name.rfind(def.name + ":", 0) == 0) available += (available.empty() ? "" : ", ") + e.name;
    }
    STRATA_THROW(BackendError, "no kernel for op ", def.name, " on device type '", type, "' for dtype ",
                 dtype_name(dtype), " (registered kernels of this op: ", available.empty() ? "none" : available,
                 "). Load a backend plugin that provides it; `strata plugins --verbose` lists kernels",
                 internal::plugin_load_notes(registry));
  }
  auto found = std::make_shared<const FoundKernel>(FoundKernel{
      std::static_pointer_cast<const KernelDef>(std::move(match.value)), std::move(match.name), std::move(match.provider), widen});
  cache.emplace(key, found);
  return found;
}

// `t` as `dtype`, by the Cast kernel of t's device, called directly: a widening made by
// run_widened is no op of its own (no tape entry, no graph node).
Tensor convert(const Tensor& t, DType dtype) {
  static const OpDef& cast = op_def("Cast");
  BackendDevice& device = t.backend_device();
  const auto kernel = find_kernel(cast, device, t.dtype());
  STRATA_CHECK(!kernel->widen, BackendError, "no Cast kernel from ", dtype_name(t.dtype()), " on device ",
               device.device().to_string(), ", which running ", dtype_name(t.dtype()), " ops in float32 needs");
  const Attrs attrs{{"DstT", dtype}, {"Truncate", false}};
  const std::array<TensorMeta, 1> metas{TensorMeta{dtype, t.shape()}};
  const std::array<Tensor, 1> inputs{t};
  std::vector<Tensor> outputs(1);
  KernelContext ctx(cast, attrs, inputs, metas, outputs, device);
  internal::call_plugin_code({kernel->provider, "kernel", kernel->key, "compute"}, [&] { kernel->kernel->compute(ctx); });
  STRATA_CHECK(outputs[0].defined() && outputs[0].dtype() == dtype, BackendError, "the Cast kernel on ",
               device.device().to_string(), " did not produce a ", dtype_name(dtype), " tensor");
  return std::move(outputs[0]);
}

// A float16/bfloat16 op run by a float32 kernel (FoundKernel::widen): inputs of the half
// dtype `half` and DType attributes naming it become float32, the kernel runs on those, and
// each output whose inferred dtype (`metas`) is `half` is rounded back to it. Half storage,
// float32 arithmetic, rounded at each op boundary.
std::vector<Tensor> run_widened(const FoundKernel& kernel, const OpDef& def, const std::vector<Tensor>& inputs,
                                const Attrs& attrs, std::span<const TensorMeta> metas, BackendDevice& device,
                                DType half) {
  std::vector<Tensor> wide = inputs;
  for (auto& t : wide) {
    if (t.dtype() == half) t = convert(t, DType::kFloat32);
  }
  Attrs wide_attrs;
  for (const auto& [name, value] : attrs.items()) {
    const DType* d = std::get_if<DType>(&value);
    wide_attrs.set(name, d != nullptr && *d == half ? AttrValue(DType::kFloat32) : value);
  }
  const auto wide_metas = infer(def, wide, wide_attrs);
  std::vector<Tensor> outputs(wide_metas.size());
  KernelContext ctx(def, wide_attrs, wide, wide_metas, outputs, device);
  internal::call_plugin_code({kernel.provider, "kernel", kernel.key, "compute"}, [&] { kernel.kernel->compute(ctx); });
  STRATA_CHECK(outputs.size() == metas.size(), BackendError, "op ", def.name, " in float32 for ", dtype_name(half),
               " has ", outputs.size(), " outputs, not ", metas.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    STRATA_CHECK(outputs[i].defined(), BackendError, "the kernel for ", def.name, " on ", device.device().to_string(),
                 " did not produce output ", i);
    if (outputs[i].dtype() == metas[i].dtype) continue;
    STRATA_CHECK(outputs[i].dtype() == DType::kFloat32 && metas[i].dtype == half, BackendError, "op ", def.name,
                 " run in float32 for ", dtype_name(half), " inputs gave output ", i, " as ",
                 dtype_name(outputs[i].dtype()), " where ", dtype_name(metas[i].dtype), " is inferred");
    outputs[i] = convert(outputs[i], half);
  }
  return outputs;
}

std::vector<Tensor> run_symbolic(const OpDef& def, std::vector<Tensor> inputs, const Attrs& attrs) {
  for (auto& in : inputs) {
    STRATA_CHECK(in.defined(), ValueError, "op ", def.name, " was given an undefined tensor");
    if (!in.is_symbolic()) in = capture_constant(in);
  }
  auto metas = infer(def, inputs, attrs);
  auto node = new_graph_node();
  node->op = def.name;
  const auto& scopes = thread_state().name_scopes;
  for (const auto& s : scopes) node->name += s + "/";
  node->name += def.name;
  node->attrs = attrs;
  node->outputs = metas;
  Device device = inputs.empty() ? default_device() : inputs.front().device();
  node->inputs = std::move(inputs);
  std::vector<Tensor> outputs;
  outputs.reserve(metas.size());
  for (std::size_t i = 0; i < metas.size(); ++i) {
    outputs.push_back(Tensor::symbolic(metas[i].dtype, metas[i].shape, node, static_cast<int>(i), device));
  }
  return outputs;
}

void record_on_tapes(const OpDef& def, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                     const Attrs& attrs) {
  auto& tapes = thread_state().tapes;
  if (tapes.empty() || def.not_differentiable) return;
  for (GradientTape::State* tape : tapes) {
    if (!tape->recording) continue;
    const bool relevant = std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& t) { return tape->tracks(t); });
    if (!relevant) continue;
    tape->entries.push_back({&def, attrs, inputs, outputs});
    for (const auto& o : outputs) tape->tracked.insert(o.id());
  }
}

// run_op's and run_planned_op's float32 fallback, kept out of their bodies.
[[gnu::noinline]] std::vector<Tensor> run_widened_op(const FoundKernel& kernel, const OpDef& def,
                                                     const std::vector<Tensor>& inputs, const Attrs& attrs,
                                                     std::span<const TensorMeta> metas, BackendDevice& device, DType half) {
  auto outputs = run_widened(kernel, def, inputs, attrs, metas, device, half);
  record_on_tapes(def, inputs, outputs, attrs);
  return outputs;
}

[[gnu::noinline]] std::vector<Tensor> run_planned_widened(const PlannedOp& op, const std::vector<Tensor>& inputs,
                                                          const Attrs& attrs) {
  const OpDef& def = *op.def;
  const DType half = def.kernel_dtype_input >= 0 ? inputs.at(resolve_index(def.kernel_dtype_input, inputs.size())).dtype()
                                                 : attrs.get<DType>(def.kernel_dtype_attr);
  return run_widened_op(*static_cast<const FoundKernel*>(op.kernel.get()), def, inputs, attrs, op.outputs, *op.device,
                        half);
}

}  // namespace

std::vector<Tensor> run_op(const OpDef& def, std::vector<Tensor> inputs, const Attrs& attrs_in) {
  check_arity(def, inputs.size());
  const bool symbolic = thread_state().trace_depth > 0 ||
                        std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.is_symbolic(); });
  if (symbolic) return run_symbolic(def, std::move(inputs), attrs_in);

  const Attrs* attrs = &attrs_in;
  Attrs seeded;
  if (def.stateful && attrs_in.has("seed")) {
    const auto [seed, seed2] = resolve_seeds(attrs_in.get<std::int64_t>("seed"), attrs_in.get_or<std::int64_t>("seed2", 0));
    seeded = attrs_in;
    seeded.set("seed", seed);
    seeded.set("seed2", seed2);
    attrs = &seeded;
  }

  // Inputs: host inputs to the cpu; every other input on one device.
  const std::size_t n = inputs.size();
  const Tensor* first = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    STRATA_CHECK(inputs[i].defined(), ValueError, "op ", def.name, " was given an undefined tensor as input ", i);
    if (is_host_input(def, i, n)) {
      if (!inputs[i].backend_device().host_accessible()) inputs[i] = inputs[i].to(Device::cpu());
      continue;
    }
    if (first == nullptr) {
      first = &inputs[i];
    } else if (&inputs[i].backend_device() != &first->backend_device()) {
      STRATA_THROW(BackendError, "op ", def.name, " got inputs on different devices: ", first->device().to_string(),
                   " and ", inputs[i].device().to_string(), " (input ", i,
                   "); move them with Tensor::to or Model::to first");
    }
  }
  BackendDevice& device = first ? first->backend_device() : backend_device(default_device());

  auto metas = infer(def, inputs, *attrs);
  for (const auto& m : metas) {
    STRATA_CHECK(m.shape.is_fully_defined(), ShapeError, "op ", def.name, " inferred output shape ",
                 m.shape.to_string(), " for concrete inputs");
  }
  DType key_dtype;
  if (def.kernel_dtype_input >= 0) {
    const std::size_t k = resolve_index(def.kernel_dtype_input, n);
    STRATA_CHECK(k < n, ValueError, "op ", def.name, " selects its kernel by input ", def.kernel_dtype_input,
                 " but has ", n, " inputs");
    key_dtype = inputs[k].dtype();
  } else {
    key_dtype = attrs->get<DType>(def.kernel_dtype_attr);
  }
  const auto kernel = find_kernel(def, device, key_dtype);
  if (kernel->widen) [[unlikely]] return run_widened_op(*kernel, def, inputs, *attrs, metas, device, key_dtype);
  std::vector<Tensor> outputs(metas.size());
  KernelContext ctx(def, *attrs, inputs, metas, outputs, device);
  // Per op, never per element: a try block costs nothing until something is thrown.
  internal::call_plugin_code({kernel->provider, "kernel", kernel->key, "compute"}, [&] { kernel->kernel->compute(ctx); });
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    STRATA_CHECK(outputs[i].defined(), BackendError, "the kernel for ", def.name, " on ", device.device().to_string(),
                 " did not produce output ", i);
  }
  record_on_tapes(def, inputs, outputs, *attrs);
  return outputs;
}

namespace {
// The device of run_op's inputs: host inputs may be anywhere host-accessible, the others on
// one device. nullptr when they are not (run_op reports that).
BackendDevice* planned_device(const OpDef& def, const std::vector<Tensor>& inputs) {
  const std::size_t n = inputs.size();
  BackendDevice* device = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    if (!inputs[i].defined() || inputs[i].is_symbolic()) return nullptr;
    BackendDevice& d = inputs[i].backend_device();
    if (is_host_input(def, i, n)) {
      if (!d.host_accessible()) return nullptr;
      continue;
    }
    if (device == nullptr) device = &d;
    else if (device != &d) return nullptr;
  }
  return device ? device : &backend_device(default_device());
}
}  // namespace

std::optional<PlannedOp> plan_op(const OpDef& def, const std::vector<Tensor>& inputs, const Attrs& attrs,
                                 const std::vector<Tensor>& stand_ins) {
  if (def.stateful || def.infer == nullptr || thread_state().trace_depth > 0) return std::nullopt;
  try {
    check_arity(def, inputs.size());
    BackendDevice* device = planned_device(def, inputs);
    if (device == nullptr) return std::nullopt;
    PlannedOp op;
    op.def = &def;
    op.device = device;
    op.outputs = infer(def, inputs, attrs);
    for (const auto& m : op.outputs) {
      if (!m.shape.is_fully_defined()) return std::nullopt;
    }
    // The same inference from the metas alone: outputs that depend on input values (a
    // Reshape to a computed shape, a boolean mask) come out partly unknown there.
    std::vector<Tensor> symbolic;
    symbolic.reserve(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      op.inputs.push_back({inputs[i].dtype(), inputs[i].shape()});
      if (i < stand_ins.size() && stand_ins[i].defined() && stand_ins[i].is_symbolic() &&
          stand_ins[i].dtype() == inputs[i].dtype() && stand_ins[i].shape() == inputs[i].shape()) {
        symbolic.push_back(stand_ins[i]);
        continue;
      }
      auto node = new_graph_node();
      node->op = "Placeholder";
      node->outputs = {{inputs[i].dtype(), inputs[i].shape()}};
      symbolic.push_back(Tensor::symbolic(inputs[i].dtype(), inputs[i].shape(), node, 0, device->device()));
    }
    const auto from_metas = infer(def, symbolic, attrs);
    if (from_metas.size() != op.outputs.size()) return std::nullopt;
    for (std::size_t i = 0; i < from_metas.size(); ++i) {
      if (from_metas[i].dtype != op.outputs[i].dtype || !(from_metas[i].shape == op.outputs[i].shape)) return std::nullopt;
    }
    const DType key_dtype = def.kernel_dtype_input >= 0
                                ? inputs.at(resolve_index(def.kernel_dtype_input, inputs.size())).dtype()
                                : attrs.get<DType>(def.kernel_dtype_attr);
    op.kernel = find_kernel(def, *device, key_dtype);
    return op;
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool plan_matches(const PlannedOp& op, const std::vector<Tensor>& inputs) noexcept {
  if (inputs.size() != op.inputs.size()) return false;
  const std::size_t n = inputs.size();
  for (std::size_t i = 0; i < n; ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined() || t.is_symbolic() || t.dtype() != op.inputs[i].dtype || !(t.shape() == op.inputs[i].shape)) {
      return false;
    }
    try {
      BackendDevice& d = t.backend_device();
      if (is_host_input(*op.def, i, n) ? !d.host_accessible() : &d != op.device) return false;
    } catch (...) {
      return false;
    }
  }
  return true;
}

std::vector<Tensor> run_planned_op(const PlannedOp& op, std::vector<Tensor> inputs, const Attrs& attrs) {
  const auto& kernel = *static_cast<const FoundKernel*>(op.kernel.get());
  if (kernel.widen) [[unlikely]] return run_planned_widened(op, inputs, attrs);
  std::vector<Tensor> outputs(op.outputs.size());
  KernelContext ctx(*op.def, attrs, inputs, op.outputs, outputs, *op.device);
  internal::call_plugin_code({kernel.provider, "kernel", kernel.key, "compute"}, [&] { kernel.kernel->compute(ctx); });
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    STRATA_CHECK(outputs[i].defined(), BackendError, "the kernel for ", op.def->name, " on ",
                 op.device->device().to_string(), " did not produce output ", i);
  }
  record_on_tapes(*op.def, inputs, outputs, attrs);
  return outputs;
}

}  // namespace internal

bool is_recording_gradients() noexcept {
  for (const GradientTape::State* tape : internal::thread_state().tapes) {
    if (tape->recording) return true;
  }
  return false;
}

const OpDef& op_def(std::string_view name) {
  auto def = Registry::global().find<ObjectKind::kOp>(name);
  STRATA_CHECK(def != nullptr, ValueError, "unknown op '", name, "'");
  return *def;  // registry entries are never removed
}

std::vector<Tensor> execute(std::string_view op, std::vector<Tensor> inputs, const Attrs& attrs) {
  return internal::run_op(op_def(op), std::move(inputs), attrs);
}

Tensor execute1(std::string_view op, std::vector<Tensor> inputs, const Attrs& attrs) {
  auto out = execute(op, std::move(inputs), attrs);
  STRATA_CHECK(out.size() == 1, ValueError, "op ", op, " has ", out.size(), " outputs, not one");
  return std::move(out.front());
}

std::optional<std::vector<std::int64_t>> InferContext::int_values(std::size_t i) const {
  const Tensor* t = &inputs_[i];
  // A constant, possibly behind Identity / StopGradient / integer Cast nodes (graphs
  // TensorFlow writes, and Strata's own exports, put an int32 Cast before Split's axis).
  for (int hops = 0; t->is_symbolic() && hops < 8; ++hops) {
    const GraphNode& node = *t->node();
    if (node.op == "Const") {
      if (!node.value.defined()) return std::nullopt;
      t = &node.value;
      break;
    }
    const bool pass_through = node.op == "Identity" || node.op == "StopGradient" ||
                              (node.op == "Cast" && node.outputs.size() == 1 &&
                               (node.outputs[0].dtype == DType::kInt32 || node.outputs[0].dtype == DType::kInt64));
    if (!pass_through || node.inputs.size() != 1) return std::nullopt;
    const Tensor& source = node.inputs[0];
    if (source.dtype() != DType::kInt32 && source.dtype() != DType::kInt64) return std::nullopt;
    t = &source;
  }
  if (t->is_symbolic()) return std::nullopt;
  std::vector<std::int64_t> out;
  if (t->dtype() == DType::kInt64) {
    out = t->to_vector<std::int64_t>();
  } else if (t->dtype() == DType::kInt32) {
    for (auto v : t->to_vector<std::int32_t>()) out.push_back(v);
  } else {
    STRATA_THROW(ValueError, "op ", op_name_, " needs input ", i, " as int32 or int64, got ", dtype_name(t->dtype()));
  }
  return out;
}

}  // namespace strata
