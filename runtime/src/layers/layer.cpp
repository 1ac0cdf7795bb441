#include "strata/layer.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <unordered_set>
#include <utility>

#include "core/foreign_exception.hpp"
#include "layers/call_arguments.hpp"
#include "layers/config_util.hpp"
#include "ops/internal.hpp"
#include "strata/activations.hpp"
#include "strata/graph.hpp"
#include "strata/plugin/file_shaped_weights.hpp"
#include "strata/plugin/file_text.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/plugin/memory.hpp"
#include "strata/log.hpp"
#include "strata/metrics.hpp"
#include "strata/model.hpp"
#include "strata/optimizer.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/backend.hpp"

namespace strata {
namespace {

struct NameState {
  std::mutex mutex;
  std::map<std::string, int, std::less<>> counts;
};
NameState& name_state() {
  static NameState* state = new NameState();
  return *state;
}

std::vector<LossCollector*>& collectors() {
  thread_local std::vector<LossCollector*> stack;
  return stack;
}

std::vector<Shape> shapes_of(const std::vector<Tensor>& tensors) {
  std::vector<Shape> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) out.push_back(t.shape());
  return out;
}

// Mask placeholders for symbolic mask inference: (batch, time) for sequence inputs.
Tensor mask_placeholder(const Tensor& input) {
  Shape s = input.shape();
  if (s.has_known_rank() && s.rank() >= 3) {
    std::vector<std::int64_t> dims = s.dims();
    dims.pop_back();
    s = Shape(dims);
  }
  return placeholder(TensorSpec(s, DType::kBool, "mask"));
}

}  // namespace

// ---- names ---------------------------------------------------------------------------------

std::string to_snake_case(std::string_view class_name) {
  // Keras: insert '_' before an upper-case letter that starts a lower-case run, then
  // between a lower-case letter and an upper-case one; lower-case everything.
  std::string s(class_name);
  std::string step1;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool upper = std::isupper(static_cast<unsigned char>(s[i]));
    const bool next_lower = i + 1 < s.size() && std::islower(static_cast<unsigned char>(s[i + 1]));
    if (i > 0 && upper && next_lower) step1 += '_';
    step1 += s[i];
  }
  std::string step2;
  for (std::size_t i = 0; i < step1.size(); ++i) {
    if (i > 0 && std::isupper(static_cast<unsigned char>(step1[i])) && std::islower(static_cast<unsigned char>(step1[i - 1]))) {
      step2 += '_';
    }
    step2 += static_cast<char>(std::tolower(static_cast<unsigned char>(step1[i])));
  }
  if (!step2.empty() && step2[0] == '_') step2 = "private" + step2;
  return step2;
}

std::string unique_layer_name(std::string_view base, bool zero_based) {
  auto& state = name_state();
  std::lock_guard lock(state.mutex);
  int& n = state.counts[std::string(base)];
  if (zero_based) {
    const int k = n++;
    return k == 0 ? std::string(base) : detail::concat(base, "_", k);
  }
  return detail::concat(base, "_", ++n);
}

void clear_session() {
  auto& state = name_state();
  std::lock_guard lock(state.mutex);
  state.counts.clear();
}

// ---- Layer ----------------------------------------------------------------------------------

Layer::Layer(std::string class_name, const Config& config) : class_name_(std::move(class_name)) {
  using namespace internal;
  auto frame = ErrorContext::push("reading the config of a ", class_name_, " layer");
  STRATA_CHECK(config.is_object() || config.is_null(), FormatError, "a layer config must be a JSON object, got ",
               file_text(config.dump()));
  const std::string given = get_string(config, "name", "");
  name_ = given.empty() ? unique_layer_name(to_snake_case(bare_name(class_name_))) : given;
  trainable_ = get_bool(config, "trainable", true);
  // Keras 3's quantized layers (model.quantize: int8, float8, int4, GPTQ, AWQ) keep integer
  // kernels and scales that Strata's layers do not have: refused by name and mode, before
  // their float-looking config could build a layer that computes something else.
  std::string quantized;
  if (const Config* d = find_key(config, "dtype")) quantized = quantization_mode(*d);
  if (const Config* q = find_key(config, "quantization_config"); q && quantized.empty()) {
    const Config* mode = !q->is_object()       ? nullptr
                         : q->contains("config") ? find_key((*q)["config"], "mode")
                                                 : find_key(*q, "mode");
    const std::string cls = q->is_object() ? get_string(*q, "class_name", "") : "";
    const std::size_t suffix = cls.find("QuantizationConfig");
    quantized = mode && mode->is_string()      ? mode->get<std::string>()
                : suffix != std::string::npos ? to_snake_case(cls.substr(0, suffix))
                                              : file_text(q->dump());
  }
  STRATA_CHECK(quantized.empty(), FormatError, "layer '", name_, "' (", class_name_,
               ") is a Keras 3 quantized layer (", quantized, " quantization, written after model.quantize(\"",
               quantized, "\")); Strata does not run quantized layers: load the model saved before quantizing");
  // Keras 3's LoRA (lora_rank on Dense, EinsumDense, Embedding and the convolutions, set by
  // enable_lora) adds lora_alpha / lora_rank * A B to the kernel and two more variables;
  // Strata's layers have neither.
  if (const Config* lora = find_key(config, "lora_rank"); lora && !(lora->is_number() && lora->get<double>() == 0)) {
    STRATA_THROW(FormatError, "layer '", name_, "' (", class_name_, ") has Keras 3 LoRA enabled (lora_rank ",
                 file_text(lora->dump()), "); Strata does not run LoRA layers: save the model from Keras 3 after ",
                 "merging the LoRA weights into the kernel (or before enable_lora)");
  }
  if (const Config* d = find_key(config, "dtype")) {
    dtype_ = dtype_from_json(*d, "dtype");
    if (const std::string mixed = internal::mixed_policy_name(*d); !mixed.empty()) {
      internal::remember_dtype_policy(*this, mixed);
    }
  }
  if (const Config* s = find_key(config, "batch_input_shape")) {
    batch_input_shape_ = shape_from_json(*s, "batch_input_shape");
  } else if (const Config* s3 = find_key(config, "batch_shape")) {
    batch_input_shape_ = shape_from_json(*s3, "batch_shape");
  } else if (const Config* in = find_key(config, "input_shape")) {
    std::vector<std::int64_t> dims{get_int(config, "batch_size", Shape::kUnknown)};
    const Shape rest = shape_from_json(*in, "input_shape");
    dims.insert(dims.end(), rest.dims().begin(), rest.dims().end());
    batch_input_shape_ = Shape(dims);
  }
}

Layer::~Layer() { internal::forget_registered_name(this); }

void Layer::set_trainable(bool trainable) {
  trainable_ = trainable;
  for (auto& c : children()) c.layer->set_trainable(trainable);
}

void Layer::build(const std::vector<Shape>&) {}

void Layer::adapt(const Tensor&, std::int64_t) {
  STRATA_THROW(ValueError, "layer '", name_, "' (", class_name_, ") has no state to adapt; adapt() is for preprocessing "
               "layers such as Normalization");
}

void Layer::set_built(const std::vector<Shape>& input_shapes) {
  build_shapes_ = input_shapes;
  built_.store(true, std::memory_order_release);
}

void Layer::ensure_built(const std::vector<Shape>& input_shapes) const {
  if (built()) return;
  std::lock_guard lock(build_mutex_);
  if (built()) return;
  auto* self = const_cast<Layer*>(this);  // building is a one-time, synchronised mutation
  auto frame = ErrorContext::push("building layer '", name_, "' (", class_name_, ")");
  // Weights are made eagerly even when the first call is traced (a child layer first
  // called inside its parent's symbolic call): their initial values must be concrete.
  struct PauseTrace {
    int depth = std::exchange(internal::thread_state().trace_depth, 0);
    ~PauseTrace() { internal::thread_state().trace_depth = depth; }
  } pause;
  internal::call_layer_code(*this, "build", [&] { self->build(input_shapes); });
  self->set_built(input_shapes);
}

std::vector<Tensor> Layer::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const {
  if (!supports_masking_ || masks.empty()) return {};
  return {masks.front()};
}

std::vector<Shape> Layer::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  ensure_built(input_shapes);
  std::vector<Tensor> inputs;
  for (const auto& s : input_shapes) inputs.push_back(placeholder(TensorSpec(s, dtype_)));
  TraceScope trace;
  return shapes_of(call(inputs, CallContext{}));
}

namespace {
std::string describe_layer_call(const void* data) {
  const auto* layer = static_cast<const Layer*>(data);
  return detail::concat("calling layer '", layer->name(), "' (", layer->class_name(), ")");
}

bool is_half(DType t) noexcept { return t == DType::kFloat16 || t == DType::kBFloat16; }

// Keras's autocast around one layer call, while some layer has a mixed policy: a layer with
// one (compute dtype float16 or bfloat16) gets its floating inputs cast to that dtype and
// reads its float32 variables in it (ThreadState::autocast); any other layer with a floating
// dtype gets half inputs cast to its dtype (a float32 output layer after mixed ones) and
// reads its variables as they are. Models cast no inputs (Keras's Functional has autocast
// off); their layers do. The previous scope is restored when the call ends.
class AutocastCall {
 public:
  AutocastCall(const Layer& layer, std::vector<Tensor>& inputs)
      : saved_(internal::thread_state().autocast) {
    const DType mixed = internal::mixed_compute_dtype(layer);
    if (mixed != DType::kInvalid) internal::g_autocast_used.store(true, std::memory_order_relaxed);
    internal::thread_state().autocast = mixed;
    const DType compute = mixed != DType::kInvalid ? mixed : layer.dtype();
    if (!is_floating(compute) || dynamic_cast<const Model*>(&layer) != nullptr) return;
    for (auto& in : inputs) {
      if (!in.defined() || !is_floating(in.dtype()) || in.dtype() == compute) continue;
      if (mixed != DType::kInvalid || is_half(in.dtype())) in = cast(in, compute);
    }
  }
  ~AutocastCall() { internal::thread_state().autocast = saved_; }
  AutocastCall(const AutocastCall&) = delete;
  AutocastCall& operator=(const AutocastCall&) = delete;

 private:
  DType saved_;
};
}  // namespace


Layer::Outputs Layer::call_with_masks(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  const bool symbolic = std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.is_symbolic(); });
  if (symbolic && !is_tracing()) {
    // Functional API: record one layer-call node.
    ensure_built(shapes_of(inputs));
    std::vector<Tensor> phs;
    for (const auto& in : inputs) phs.push_back(placeholder(TensorSpec(in.shape(), in.dtype())));
    std::vector<Tensor> traced, traced_masks;
    {
      TraceScope trace;
      std::optional<AutocastCall> autocast;
      if (internal::any_mixed_policy()) autocast.emplace(*this, phs);
      auto frame = ErrorContext::push("calling layer '", name_, "' (", class_name_, ") on symbolic inputs");
      NameScope scope(name_);
      CallContext sym = ctx;
      sym.masks.clear();
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& in = inputs[i];
        const bool has_mask = in.node()->output_has_mask.size() > static_cast<std::size_t>(in.output_index()) &&
                              in.node()->output_has_mask[static_cast<std::size_t>(in.output_index())];
        sym.masks.push_back(has_mask ? mask_placeholder(in) : Tensor());
      }
      auto both = internal::call_layer_code(*this, "call", [&] { return call_and_mask(phs, sym); });
      traced = std::move(both.tensors);
      traced_masks = std::move(both.masks);
    }
    auto node = internal::new_graph_node();
    node->op = kLayerCallOp;
    node->name = name_;
    node->layer = std::const_pointer_cast<Layer>(shared_from_this());
    node->inputs = inputs;
    if (ctx.training) node->attrs.set("training", true);
    for (std::size_t i = 0; i < traced.size(); ++i) {
      node->outputs.push_back({traced[i].dtype(), traced[i].shape()});
      node->output_has_mask.push_back(i < traced_masks.size() && traced_masks[i].defined());
    }
    internal::record_call_arguments(*this, *node);
    note_inbound_node(node);
    Outputs out;
    for (std::size_t i = 0; i < traced.size(); ++i) {
      out.tensors.push_back(Tensor::symbolic(traced[i].dtype(), traced[i].shape(), node, static_cast<int>(i)));
    }
    out.masks.assign(out.tensors.size(), Tensor());
    return out;
  }
  ensure_built(shapes_of(inputs));
  NameScope scope(name_);  // graph node names when tracing; weight names of children built lazily
  // "calling layer 'x' (Dense)", made only when an error is: a predict that fails inside a
  // layer (an allocation of a size its config asked for) names the layer.
  ErrorContext::LazyFrame frame(describe_layer_call, this);
  if (internal::any_mixed_policy()) [[unlikely]] {
    std::vector<Tensor> cast_inputs = inputs;
    AutocastCall autocast(*this, cast_inputs);
    Outputs out = internal::call_layer_code(*this, "call", [&] { return call_and_mask(cast_inputs, ctx); });
    out.masks.resize(out.tensors.size());
    return out;
  }
  Outputs out = internal::call_layer_code(*this, "call", [&] { return call_and_mask(inputs, ctx); });
  out.masks.resize(out.tensors.size());
  return out;
}

Layer::Outputs Layer::call_and_mask(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  Outputs out;
  out.tensors = call(inputs, ctx);
  out.masks = compute_mask(inputs, ctx.masks);
  return out;
}

std::vector<Tensor> Layer::operator()(const std::vector<Tensor>& inputs, const CallContext& ctx) const {
  return call_with_masks(inputs, ctx).tensors;
}

Tensor Layer::operator()(const Tensor& input, const CallContext& ctx) const {
  auto out = call_with_masks({input}, ctx).tensors;
  STRATA_CHECK(out.size() == 1, ValueError, "layer '", name_, "' returns ", out.size(),
               " outputs; call it with a vector of inputs to get them all");
  return out.front();
}

Config Layer::get_config() const {
  Config c = Config::object();
  c["name"] = name_;
  c["trainable"] = trainable_;
  if (const auto policy = internal::dtype_policy_read(*this)) {
    // The mixed-precision policy the layer was read with, as tf-keras writes it.
    c["dtype"] = Config{{"module", "keras.mixed_precision"},
                        {"class_name", "Policy"},
                        {"config", Config{{"name", *policy}}},
                        {"registered_name", nullptr}};
  } else {
    c["dtype"] = std::string(dtype_name(dtype_));
  }
  if (batch_input_shape_) c["batch_input_shape"] = internal::shape_to_json(*batch_input_shape_);
  return c;
}

// ---- weights -----------------------------------------------------------------------------

namespace {
thread_local WeightBudget* t_weight_budget = nullptr;
thread_local int t_skip_initializers = 0;
}  // namespace

SkipWeightInitializers::SkipWeightInitializers() { ++t_skip_initializers; }
SkipWeightInitializers::~SkipWeightInitializers() { --t_skip_initializers; }
bool SkipWeightInitializers::active() noexcept { return t_skip_initializers > 0; }

WeightBudget::WeightBudget(std::uint64_t max_bytes, std::string source)
    : max_(max_bytes), source_(std::move(source)), previous_(t_weight_budget) {
  t_weight_budget = this;
}

WeightBudget::~WeightBudget() { t_weight_budget = previous_; }

WeightBudget* WeightBudget::current() noexcept { return t_weight_budget; }

void WeightBudget::charge(std::uint64_t bytes, const std::string& what) {
  STRATA_CHECK(bytes <= max_ && used_ <= max_ - bytes, FormatError, source_, ": ", what, " needs ", bytes,
               " bytes of weights, which with the ", used_, " bytes created before it exceeds the ", max_,
               " bytes this load allows (the model's config asks for more weights than its file can hold)");
  used_ += bytes;
}

namespace {
std::uint64_t read_machine_memory_bytes() noexcept {
  std::uint64_t bytes = std::numeric_limits<std::uint64_t>::max();
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) bytes = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
  for (const int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit rl {};
    if (::getrlimit(resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      bytes = std::min<std::uint64_t>(bytes, static_cast<std::uint64_t>(rl.rlim_cur));
    }
  }
  // A container's limit (cgroup v2, then v1); "max" or an absurd v1 value means none.
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    if (std::FILE* f = std::fopen(path, "r")) {
      unsigned long long v = 0;
      if (std::fscanf(f, "%llu", &v) == 1 && v > 0) bytes = std::min<std::uint64_t>(bytes, v);
      std::fclose(f);
      break;
    }
  }
  return bytes;
}
}  // namespace

std::uint64_t machine_memory_bytes() noexcept {
  static const std::uint64_t bytes = read_machine_memory_bytes();
  return bytes;
}

Variable Layer::add_weight(const WeightSpec& spec) {
  STRATA_CHECK(!spec.name.empty(), ValueError, "layer '", name_, "': add_weight needs a name");
  STRATA_CHECK(spec.shape.is_fully_defined(), ShapeError, "layer '", name_, "': weight '", spec.name,
               "' needs a fully defined shape, got ", spec.shape.to_string());
  for (const auto& w : own_weights_) {
    STRATA_CHECK(w.name != spec.name, ValueError, "layer '", name_, "' already has a weight named '", spec.name, "'");
  }
  const DType dtype = spec.dtype == DType::kInvalid ? dtype_ : spec.dtype;
  // A config's "dtype": "string" on a layer with weights (Keras refuses it too: "A Dense
  // layer can only be built with a floating-point dtype"): say so, about the config, rather
  // than fail inside an initializer.
  STRATA_CHECK(spec.dtype != DType::kInvalid || dtype_ != DType::kString, ValueError, "layer '", name_, "' (",
               class_name_, ") has dtype \"string\" in its config, but its weight '", spec.name,
               "' needs a numeric dtype: give the layer a floating-point \"dtype\" (e.g. \"float32\") in the config");
  // Overflow-safe size (saturating): dimensions of an untrusted config can be anything.
  std::uint64_t bytes = dtype_size(dtype);
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
  for (const auto d : spec.shape.dims()) {
    const auto n = static_cast<std::uint64_t>(d);
    bytes = (n != 0 && bytes > limit / n) ? limit : bytes * n;
  }
  // A file's budget first: a file that cannot hold the weights its config asks for is a
  // FormatError of that file (format-h5, format-savedmodel).
  WeightBudget* budget = WeightBudget::current();
  const std::uint64_t before = budget ? budget->used() : 0;
  if (budget) budget->charge(bytes, "weight '" + spec.name + "' " + spec.shape.to_string() + " of layer '" + name_ + "'");
  // Then the machine: a weight (or, while a load's budget is open, all weights of the load)
  // larger than the memory this process can get is refused before allocating, instead of
  // being allocated lazily and initialised until the machine runs out (docs/RELIABILITY.md).
  const std::uint64_t machine = machine_memory_bytes();
  STRATA_CHECK(bytes <= machine && before <= machine - bytes, BackendError, "layer '", name_, "' (", class_name(),
               "): weight '", spec.name, "' of shape ", spec.shape.to_string(), " asks for ", bytes, " bytes",
               before > 0 ? detail::concat(" (after ", before, " bytes of weights made before it in this load)") : "",
               ", more than the ", machine, " bytes of memory this process can have; check the layer's config ",
               "(units, filters, kernel sizes, vocabulary sizes, input shape)");
  std::shared_ptr<Initializer> init = spec.initializer;
  if (!init) init = get_initializer(Config(is_floating(dtype) ? "glorot_uniform" : "zeros"));
  Tensor value;
  try {
    if (SkipWeightInitializers::active()) {
      value = Tensor::empty(dtype, spec.shape);
    } else {
      auto frame = ErrorContext::push("initialising weight '", spec.name, "' of layer '", name_, "'");
      value = (*init)(spec.shape, dtype);
    }
  } catch (const std::bad_alloc&) {
    // The initializer's own work space (or the weight) could not be had: a BackendError
    // naming the layer, not a bare std::bad_alloc.
    STRATA_THROW(BackendError, "layer '", name_, "' (", class_name(), "): out of memory making weight '", spec.name,
                 "' of shape ", spec.shape.to_string(), " (", bytes, " bytes) with initializer ", init->class_name(),
                 "; check the layer's config (units, filters, kernel sizes, vocabulary sizes, input shape)");
  }
  STRATA_CHECK(value.shape() == spec.shape && value.dtype() == dtype, ShapeError, "initializer ", init->class_name(),
               " made a ", dtype_name(value.dtype()), value.shape().to_string(), " tensor for weight '", spec.name,
               "' of layer '", name_, "', which is ", dtype_name(dtype), spec.shape.to_string());
  // Keras names weights after the layer scopes active while they are created: a child
  // built inside its parent's call gets "parent/child/kernel".
  std::string prefix;
  for (const auto& scope : internal::thread_state().name_scopes) prefix += scope + "/";
  Variable v(prefix + name_ + "/" + spec.name, std::move(value), spec.trainable);
  own_weights_.push_back({spec.name, v, spec.regularizer, spec.constraint});
  // A mixed-precision layer's weight made with an explicit dtype keeps it when read in the
  // layer's call (Keras's experimental_autocast=False: BatchNormalization's statistics).
  if (spec.dtype != DType::kInvalid && internal::mixed_compute_dtype(*this) != DType::kInvalid) {
    internal::keep_dtype_under_autocast(v);
  }
  return v;
}

Variable Layer::add_weight(const WeightSpec& spec, const std::string& variable_name) {
  const Variable scoped = add_weight(spec);
  Variable v(variable_name, scoped.value(), spec.trainable);
  own_weights_.back().variable = v;
  if (spec.dtype != DType::kInvalid && internal::mixed_compute_dtype(*this) != DType::kInvalid) {
    internal::keep_dtype_under_autocast(v);
  }
  return v;
}

Variable Layer::add_weight(const std::string& name, const Shape& shape, std::shared_ptr<Initializer> initializer,
                           bool trainable, std::shared_ptr<Regularizer> regularizer,
                           std::shared_ptr<Constraint> constraint, DType dtype) {
  WeightSpec spec;
  spec.name = name;
  spec.shape = shape;
  spec.initializer = std::move(initializer);
  spec.trainable = trainable;
  spec.regularizer = std::move(regularizer);
  spec.constraint = std::move(constraint);
  spec.dtype = dtype;
  return add_weight(spec);
}

void Layer::track(const std::string& name, std::shared_ptr<Layer> child) {
  STRATA_CHECK(child != nullptr, ValueError, "layer '", name_, "': cannot track a null layer as '", name, "'");
  for (const auto& c : children_) {
    STRATA_CHECK(c.name != name, ValueError, "layer '", name_, "' already tracks a child named '", name, "'");
  }
  children_.push_back({name, std::move(child)});
}

void Layer::track(const std::string& name, const std::vector<std::shared_ptr<Layer>>& children) {
  for (std::size_t i = 0; i < children.size(); ++i) track(detail::concat(name, "/", i), children[i]);
}

std::vector<Layer::TrackedChild> Layer::children() const { return children_; }

namespace {
void append_unique(std::vector<Variable>& out, std::unordered_set<std::uint64_t>& seen, const std::vector<Variable>& vs) {
  for (const auto& v : vs) {
    if (seen.insert(v.id()).second) out.push_back(v);
  }
}
}  // namespace

std::vector<Variable> Layer::trainable_weights() const {
  std::vector<Variable> out;
  if (!trainable_) return out;
  std::unordered_set<std::uint64_t> seen;
  for (const auto& w : own_weights_) {
    if (w.variable.trainable() && seen.insert(w.variable.id()).second) out.push_back(w.variable);
  }
  for (const auto& c : children()) append_unique(out, seen, c.layer->trainable_weights());
  return out;
}

std::vector<Variable> Layer::non_trainable_weights() const {
  std::vector<Variable> out;
  std::unordered_set<std::uint64_t> seen;
  if (trainable_) {
    for (const auto& w : own_weights_) {
      if (!w.variable.trainable() && seen.insert(w.variable.id()).second) out.push_back(w.variable);
    }
    for (const auto& c : children()) append_unique(out, seen, c.layer->non_trainable_weights());
  } else {
    for (const auto& w : own_weights_) {
      if (w.variable.trainable() && seen.insert(w.variable.id()).second) out.push_back(w.variable);
    }
    for (const auto& w : own_weights_) {
      if (!w.variable.trainable() && seen.insert(w.variable.id()).second) out.push_back(w.variable);
    }
    for (const auto& c : children()) append_unique(out, seen, c.layer->weights());
  }
  return out;
}

std::vector<Variable> Layer::weights() const {
  std::vector<Variable> out = trainable_weights();
  std::unordered_set<std::uint64_t> seen;
  for (const auto& v : out) seen.insert(v.id());
  append_unique(out, seen, non_trainable_weights());
  return out;
}

std::int64_t Layer::count_params() const {
  std::int64_t n = 0;
  for (const auto& v : weights()) n += v.shape().num_elements();
  return n;
}

void Layer::to(const Device& device) {
  backend_device(device);  // fails early, naming the device, when it does not exist
  for (auto v : weights()) v.to(device);
}

std::vector<Tensor> Layer::get_weights() const {
  std::vector<Tensor> out;
  for (const auto& v : weights()) out.push_back(v.value().to(Device::cpu()));
  return out;
}

void Layer::set_weights(const std::vector<Tensor>& values) {
  const auto vars = weights();
  STRATA_CHECK(values.size() == vars.size(), ValueError, "layer '", name_, "' has ", vars.size(),
               " weights but set_weights was given ", values.size(), " values");
  for (std::size_t i = 0; i < vars.size(); ++i) {
    STRATA_CHECK(values[i].defined(), ValueError, "set_weights: value ", i, " for '", vars[i].name(), "' is undefined");
    STRATA_CHECK(accepts_shape(vars[i], values[i].shape()), ShapeError, "set_weights: weight '", vars[i].name(), "' of layer '",
                 name_, "' has shape ", vars[i].shape().to_string(), " but the value ", i, " has shape ",
                 values[i].shape().to_string());
    STRATA_CHECK(values[i].dtype() == vars[i].dtype(), ValueError, "set_weights: weight '", vars[i].name(),
                 "' is ", dtype_name(vars[i].dtype()), " but the value ", i, " is ", dtype_name(values[i].dtype()));
  }
  for (std::size_t i = 0; i < vars.size(); ++i) {
    Variable v = vars[i];
    v.assign(values[i]);
  }
}

// ---- losses ------------------------------------------------------------------------------

LossCollector::LossCollector() { collectors().push_back(this); }
bool LossCollector::active() noexcept { return !collectors().empty(); }
LossCollector::~LossCollector() {
  auto& stack = collectors();
  stack.erase(std::remove(stack.begin(), stack.end(), this), stack.end());
}

void Layer::add_loss(const Tensor& loss) const {
  STRATA_CHECK(loss.defined(), ValueError, "layer '", name_, "': add_loss was given an undefined tensor");
  auto& stack = collectors();
  if (!stack.empty()) stack.back()->losses_.push_back(loss);
}

std::vector<Tensor> Layer::regularization_losses() const {
  std::vector<Tensor> out;
  for (const auto& w : own_weights_) {
    if (w.regularizer) out.push_back((*w.regularizer)(read(w.variable)));
  }
  for (const auto& c : children()) {
    auto more = c.layer->regularization_losses();
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

// ---- Functional bookkeeping ---------------------------------------------------------------

void Layer::note_inbound_node(const std::shared_ptr<GraphNode>& node) const {
  std::lock_guard lock(nodes_mutex_);
  inbound_nodes_.push_back(node);
}

std::vector<std::shared_ptr<GraphNode>> Layer::inbound_nodes() const {
  std::lock_guard lock(nodes_mutex_);
  std::vector<std::shared_ptr<GraphNode>> out;
  for (const auto& w : inbound_nodes_) {
    if (auto n = w.lock()) out.push_back(std::move(n));
  }
  return out;
}

Tensor Layer::input() const {
  auto nodes = inbound_nodes();
  STRATA_CHECK(nodes.size() == 1, ValueError, "layer '", name_, "' has ", nodes.size(),
               " calls on symbolic inputs; input() needs exactly one (use inbound_nodes())");
  if (nodes[0]->op == "Placeholder") return Tensor::symbolic(nodes[0]->outputs[0].dtype, nodes[0]->outputs[0].shape, nodes[0], 0);
  STRATA_CHECK(nodes[0]->inputs.size() == 1, ValueError, "layer '", name_, "' has ", nodes[0]->inputs.size(), " inputs");
  return nodes[0]->inputs[0];
}

Tensor Layer::output() const {
  auto nodes = inbound_nodes();
  STRATA_CHECK(nodes.size() == 1, ValueError, "layer '", name_, "' has ", nodes.size(),
               " calls on symbolic inputs; output() needs exactly one (use inbound_nodes())");
  STRATA_CHECK(nodes[0]->outputs.size() == 1, ValueError, "layer '", name_, "' has ", nodes[0]->outputs.size(),
               " outputs");
  return Tensor::symbolic(nodes[0]->outputs[0].dtype, nodes[0]->outputs[0].shape, nodes[0], 0);
}

// ---- construction from configs ---------------------------------------------------------------

std::shared_ptr<Layer> make_layer(std::string_view class_name, const Config& config, const CustomObjects* custom_objects) {
  ObjectResolver resolver(custom_objects);
  auto factory = resolver.require<ObjectKind::kLayer>(class_name);
  static const Config kEmpty = Config::object();
  auto layer = (*factory)(config.is_null() ? kEmpty : config);  // both lvalues: no copy of `config`
  STRATA_CHECK(layer != nullptr, ValueError, "the factory of layer class '", class_name, "' returned nothing");
  internal::remember_registered_name(*layer, class_name);
  return layer;
}

Config serialize_layer(const Layer& layer) {
  Config c = Config::object();
  // The legacy form writes a custom class's registered name in place of its class name, as
  // Keras does; a class the file named "package>Name" keeps that name (config_util.hpp).
  c["class_name"] = internal::registered_name_read(layer).value_or(layer.class_name());
  c["config"] = internal::call_layer_code(layer, "get_config", [&] { return layer.get_config(); });
  return c;
}

std::shared_ptr<Layer> deserialize_layer(const Config& value, const CustomObjects* custom_objects) {
  const internal::SerializedRef parsed = internal::parse_serialized_ref(value, "layer");
  // Models are layers too: Sequential, Functional and registered models are of kind model.
  ObjectResolver models(custom_objects);
  if (auto factory = models.find<ObjectKind::kModel>(parsed.class_name)) {
    auto model = (*factory)(*parsed.config);
    STRATA_CHECK(model != nullptr, ValueError, "the factory of model class '", parsed.class_name, "' returned nothing");
    internal::remember_registered_name(*model, parsed.class_name);
    return model;
  }
  return make_layer(parsed.class_name, *parsed.config, custom_objects);
}

}  // namespace strata
