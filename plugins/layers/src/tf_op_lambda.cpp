// TFOpLambda and SlicingOpLambda: tf-keras's wrappers of a TensorFlow function called on
// Keras tensors (`x * 2.0`, `tf.reduce_mean(x, axis=1)`, `x[:, 1:3]`). The config names the
// function by its TensorFlow API path without "tf." ("math.multiply", "nn.relu6",
// "__operators__.getitem"); the call's other arguments come with the model config's inbound
// node (strata/plugin/call_arguments.hpp). Each mapped function is written in ops, so it runs
// on every backend and differentiates; the table is docs/TFOPLAMBDA.md. A function outside it
// is delegated to a layer class registered under "tf.<function>" when there is one, and is an
// UnknownObjectError otherwise.
#include <cmath>
#include <functional>
#include <map>
#include <mutex>

#include "common.hpp"
#include "strata/custom_objects.hpp"
#include "strata/plugin/call_arguments.hpp"

namespace strata::layers {
namespace {

// One call's arguments, resolved against the call's inputs.
class Call {
 public:
  Call(const Layer& layer, const std::string& function, const Config& arguments, const std::vector<Tensor>& inputs)
      : layer_(layer), function_(function), arguments_(arguments), inputs_(inputs),
        kwargs_(arguments.contains("kwargs") && arguments["kwargs"].is_object() ? arguments["kwargs"] : empty_),
        reader_(kwargs_, layer) {}

  const ConfigReader& reader() const { return reader_; }
  const Config& kwargs() const { return kwargs_; }

  // The first argument as one tensor (a constant there is refused: no dtype to give it).
  Tensor first() const {
    const Config& v = arguments_.at("args").at(0);
    STRATA_CHECK(is_tensor(v), FormatError, subject(), ": the first argument of tf.", function_,
                 " must be a tensor, got ", v.dump());
    return input(v);
  }
  // The first argument as a list of tensors (tf.concat, tf.stack).
  std::vector<Tensor> first_list() const {
    const Config& v = arguments_.at("args").at(0);
    if (is_tensor(v)) return {input(v)};
    STRATA_CHECK(v.is_array() && !v.empty(), FormatError, subject(), ": the first argument of tf.", function_,
                 " must be a list of tensors, got ", v.dump());
    std::vector<Tensor> out;
    for (const auto& e : v) {
      STRATA_CHECK(is_tensor(e), FormatError, subject(), ": the first argument of tf.", function_,
                   " must be a list of tensors; it holds ", e.dump());
      out.push_back(input(e));
    }
    return out;
  }
  // The first argument and keyword `name` of a binary function: tensors, or numbers taking
  // the other's dtype (as TensorFlow converts Python numbers).
  std::pair<Tensor, Tensor> operands(const char* name) const {
    const Config& a = arguments_.at("args").at(0);
    const Config* b = reader_.find(name);
    STRATA_CHECK(b != nullptr, FormatError, subject(), ": tf.", function_, " needs the argument '", name, "'");
    const Config* a_value = a.is_object() && a.contains("strata.constant") ? &a["strata.constant"] : nullptr;
    const bool b_tensor = is_tensor(*b);
    STRATA_CHECK(a_value == nullptr || b_tensor, FormatError, subject(), ": tf.", function_,
                 " is called on two constants");
    if (a_value) return {constant(*a_value, input(*b), "the first argument"), input(*b)};
    Tensor x = first();
    return {x, b_tensor ? input(*b) : constant(*b, x, name)};
  }
  // A tensor given as a keyword argument.
  Tensor tensor(const char* name) const {
    const Config* v = reader_.find(name);
    STRATA_CHECK(v != nullptr && is_tensor(*v), FormatError, subject(), ": the argument '", name, "' of tf.", function_,
                 " must be a tensor", v ? ", got " + v->dump() : std::string(", and it is missing"));
    return input(*v);
  }
  // axis: missing or null means every axis; an integer or a list otherwise.
  std::vector<std::int64_t> axes(const Tensor& x, const char* name = "axis") const {
    std::vector<std::int64_t> all;
    const Config* v = reader_.find(name);
    if (v == nullptr) {
      STRATA_CHECK(x.shape().has_known_rank(), ShapeError, subject(), ": tf.", function_, " needs a known rank");
      for (std::size_t d = 0; d < x.rank(); ++d) all.push_back(static_cast<std::int64_t>(d));
      return all;
    }
    return reader_.int_list(name, {});
  }
  std::string subject() const { return ConfigReader::subject_of(layer_); }
  const std::string& function() const { return function_; }

 private:
  static bool is_tensor(const Config& v) { return v.is_object() && v.size() == 1 && v.contains("strata.tensor"); }
  Tensor input(const Config& v) const {
    const Config& i = v["strata.tensor"];
    STRATA_CHECK(i.is_number_integer() && i.get<std::int64_t>() >= 0 &&
                     static_cast<std::size_t>(i.get<std::int64_t>()) < inputs_.size(),
                 ValueError, subject(), ": tensor argument ", i.dump(), " is not among the call's ", inputs_.size(), " inputs");
    return inputs_[i.get<std::size_t>()];
  }
  Tensor constant(const Config& v, const Tensor& like, const char* what) const {
    STRATA_CHECK(v.is_number() || v.is_boolean(), FormatError, subject(), ": ", what, " of tf.", function_,
                 " must be a tensor or a number, got ", v.dump());
    return scalar_like(like, v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>());
  }

  inline static const Config empty_ = Config::object();
  const Layer& layer_;
  const std::string& function_;
  const Config& arguments_;
  const std::vector<Tensor>& inputs_;
  const Config& kwargs_;
  ConfigReader reader_;
};

using Function = std::function<Tensor(const Call&)>;

// ---- image.resize ---------------------------------------------------------------------------

Tensor image_resize(const Call& c) {
  Tensor x = c.first();
  const auto size = c.reader().int_tuple("size", 2, Range::positive());
  const std::string method = c.reader().one_of("method", {"bilinear", "nearest"}, "bilinear");
  STRATA_CHECK(!c.reader().optional<bool>("preserve_aspect_ratio", false), ValueError, c.subject(),
               ": tf.image.resize with preserve_aspect_ratio=True is not supported");
  STRATA_CHECK(!c.reader().optional<bool>("antialias", false), ValueError, c.subject(),
               ": tf.image.resize with antialias=True is not supported");
  STRATA_CHECK(x.rank() == 4, ShapeError, c.subject(),
               ": tf.image.resize needs [batch, height, width, channels] images, got ", x.shape().to_string());
  const bool bilinear = method == "bilinear";
  return resize_images(x, size[0], size[1], bilinear);
}

// tf.compat.v1.image.resize_bilinear / resize_nearest_neighbor: the ResizeBilinear /
// ResizeNearestNeighbor ops with the call's align_corners and half_pixel_centers (both false
// by default, as in TF1); float32 out for bilinear, as TensorFlow gives.
Tensor compat_v1_resize(const Call& c, bool bilinear) {
  Tensor x = c.first();
  const auto size = c.reader().int_tuple("size", 2, Range::positive());
  const bool align_corners = c.reader().optional<bool>("align_corners", false);
  const bool half_pixel_centers = c.reader().optional<bool>("half_pixel_centers", false);
  STRATA_CHECK(x.rank() == 4, ShapeError, c.subject(), ": needs [batch, height, width, channels] images, got ",
               x.shape().to_string());
  if (bilinear && !is_floating(x.dtype())) x = cast(x, DType::kFloat32);
  const Tensor target = int_tensor({size[0], size[1]});
  return bilinear ? resize_bilinear(x, target, align_corners, half_pixel_centers)
                  : resize_nearest_neighbor(x, target, align_corners, half_pixel_centers);
}

// ---- __operators__.getitem --------------------------------------------------------------------

// tf's _slice_helper: each item of the slice spec becomes one begin/end/stride triple.
Tensor getitem(const Call& c) {
  const Config* spec_value = c.reader().find("slice_spec");
  STRATA_CHECK(spec_value != nullptr, FormatError, c.subject(), ": tf.__operators__.getitem needs a slice_spec");
  return python_subscript(c.first(), *spec_value, c.subject());
}

// ---- the table ------------------------------------------------------------------------------

Function unary(Tensor (*fn)(const Tensor&)) {
  return [fn](const Call& c) { return fn(c.first()); };
}
Function binary(Tensor (*fn)(const Tensor&, const Tensor&), const char* second = "y") {
  return [fn, second](const Call& c) {
    auto [a, b] = c.operands(second);
    return fn(a, b);
  };
}
Function reduction(Tensor (*fn)(const Tensor&, const std::vector<std::int64_t>&, bool)) {
  return [fn](const Call& c) {
    const Tensor x = c.first();
    return fn(x, c.axes(x), c.reader().optional<bool>("keepdims", false));
  };
}
// tf.math.cumsum / cumprod(x, axis=0, exclusive=False, reverse=False).
Function cumulative(Tensor (*fn)(const Tensor&, std::int64_t, bool, bool)) {
  return [fn](const Call& c) {
    const auto& r = c.reader();
    return fn(c.first(), r.optional<std::int64_t>("axis", 0), r.optional<bool>("exclusive", false),
              r.optional<bool>("reverse", false));
  };
}
Tensor transpose_fn(const Call& c) {
  const Tensor x = c.first();
  std::vector<std::int64_t> perm = c.reader().int_list("perm", {});
  if (perm.empty()) {  // None: reverse the dimensions
    STRATA_CHECK(x.shape().has_known_rank(), ShapeError, c.subject(), ": tf.transpose without perm needs a known rank");
    for (std::size_t d = x.rank(); d-- > 0;) perm.push_back(static_cast<std::int64_t>(d));
  }
  return transpose(x, perm);
}
Tensor squeeze_fn(const Call& c) {
  // tf.compat.v1.squeeze also takes the deprecated squeeze_dims.
  const char* key = c.reader().find("axis") == nullptr && c.reader().find("squeeze_dims") ? "squeeze_dims" : "axis";
  return squeeze(c.first(), c.reader().int_list(key, {}));
}

const std::map<std::string, Function>& functions() {
  static const std::map<std::string, Function> table = [] {
    std::map<std::string, Function> t;
    for (const char* name : {"math.add", "__operators__.add"}) t[name] = binary(strata::add);
    t["math.subtract"] = binary(strata::sub);
    t["math.multiply"] = binary(strata::mul);
    for (const char* name : {"math.truediv", "math.divide"}) t[name] = binary(strata::div);
    t["math.maximum"] = binary(strata::maximum);
    t["math.minimum"] = binary(strata::minimum);
    t["math.pow"] = binary(strata::pow);
    t["math.squared_difference"] = binary(strata::squared_difference);
    t["math.sqrt"] = unary(strata::sqrt);
    t["math.rsqrt"] = unary(strata::rsqrt);
    t["math.exp"] = unary(strata::exp);
    t["math.log"] = unary(strata::log);
    t["math.log1p"] = unary(strata::log1p);
    t["math.abs"] = unary(strata::abs);
    t["math.negative"] = unary(strata::neg);
    t["math.square"] = unary(strata::square);
    t["math.reciprocal"] = unary(strata::reciprocal);
    t["math.sign"] = unary(strata::sign);
    t["math.floor"] = unary(strata::floor);
    t["math.erf"] = unary(strata::erf);
    t["math.erfc"] = unary(strata::erfc);
    t["math.tanh"] = unary(strata::tanh);
    t["math.sigmoid"] = unary(strata::sigmoid);
    t["math.softplus"] = unary(strata::softplus);
    t["math.sin"] = unary(strata::sin);
    t["math.cos"] = unary(strata::cos);
    t["math.tan"] = unary(strata::tan);
    t["math.asin"] = unary(strata::asin);
    t["math.acos"] = unary(strata::acos);
    t["math.atan"] = unary(strata::atan);
    t["math.sinh"] = unary(strata::sinh);
    t["math.cosh"] = unary(strata::cosh);
    t["math.asinh"] = unary(strata::asinh);
    t["math.acosh"] = unary(strata::acosh);
    t["math.atanh"] = unary(strata::atanh);
    t["math.atan2"] = binary(strata::atan2, "x");  // tf.math.atan2(y, x)
    t["math.cumsum"] = cumulative(strata::cumsum);
    t["math.cumprod"] = cumulative(strata::cumprod);
    t["nn.softsign"] = unary(strata::softsign);
    t["nn.relu"] = unary(strata::relu);
    t["nn.relu6"] = unary(strata::relu6);
    t["nn.elu"] = unary(strata::elu);
    t["nn.selu"] = unary(strata::selu);
    t["identity"] = unary(strata::identity);
    t["nn.gelu"] = [](const Call& c) { return gelu(c.first(), c.reader().optional<bool>("approximate", false)); };
    t["nn.silu"] = [](const Call& c) {  // x * sigmoid(beta * x)
      const Tensor x = c.first();
      const double beta = c.reader().optional<double>("beta", 1.0);
      return beta == 1.0 ? mul(x, sigmoid(x)) : mul(x, sigmoid(x * beta));
    };
    for (const char* name : {"nn.softmax", "math.softmax"}) {
      t[name] = [](const Call& c) { return softmax(c.first(), c.reader().optional<std::int64_t>("axis", -1)); };
    }
    for (const char* name : {"nn.log_softmax", "math.log_softmax"}) {
      t[name] = [](const Call& c) { return log_softmax(c.first(), c.reader().optional<std::int64_t>("axis", -1)); };
    }
    t["math.reduce_mean"] = reduction(strata::mean);
    t["math.reduce_sum"] = reduction(strata::sum);
    t["math.reduce_max"] = reduction(strata::max);
    t["math.reduce_min"] = reduction(strata::min);
    t["math.reduce_prod"] = reduction(strata::prod);
    t["reshape"] = [](const Call& c) { return reshape(c.first(), Shape(c.reader().int_list("shape", {}))); };
    t["concat"] = [](const Call& c) { return concat(c.first_list(), c.reader().required<std::int64_t>("axis")); };
    t["stack"] = [](const Call& c) { return stack(c.first_list(), c.reader().optional<std::int64_t>("axis", 0)); };
    for (const char* name : {"transpose", "compat.v1.transpose"}) t[name] = transpose_fn;
    for (const char* name : {"expand_dims", "compat.v1.expand_dims"}) {
      t[name] = [](const Call& c) { return expand_dims(c.first(), c.reader().required<std::int64_t>("axis")); };
    }
    for (const char* name : {"squeeze", "compat.v1.squeeze"}) t[name] = squeeze_fn;
    t["cast"] = [](const Call& c) {
      const std::string dtype = c.reader().required<std::string>("dtype");
      DType to = DType::kInvalid;
      try {
        to = dtype_from_name(dtype);
      } catch (const Error&) {
        STRATA_THROW(FormatError, c.subject(), ": tf.cast to unknown dtype '", dtype, "'");
      }
      return cast(c.first(), to);
    };
    t["linalg.matmul"] = [](const Call& c) {
      auto [a, b] = c.operands("b");
      const auto& r = c.reader();
      return matmul(a, b, r.optional<bool>("transpose_a", false) || r.optional<bool>("adjoint_a", false),
                    r.optional<bool>("transpose_b", false) || r.optional<bool>("adjoint_b", false));
    };
    t["image.resize"] = image_resize;
    t["compat.v1.image.resize_bilinear"] = [](const Call& c) { return compat_v1_resize(c, true); };
    t["compat.v1.image.resize_nearest_neighbor"] = [](const Call& c) { return compat_v1_resize(c, false); };
    t["__operators__.getitem"] = getitem;
    return t;
  }();
  return table;
}

class TFOpLambda : public Layer, public CallArgumentsLayer {
 public:
  explicit TFOpLambda(const Config& c, const std::string& class_name = "TFOpLambda") : Layer(class_name, c) {
    auto frame = ErrorContext::push("reading the config of ", class_name, " layer '", name(), "'");
    const ConfigReader r(c, *this);
    function_ = r.required<std::string>("function");
    const auto& table = functions();
    if (auto it = table.find(function_); it != table.end()) {
      function_impl_ = it->second;
      return;
    }
    // Not mapped: a layer class registered as "tf.<function>" computes it.
    const std::string delegate_name = "tf." + function_;
    ObjectResolver resolver(nullptr);
    if (const auto factory = resolver.find<ObjectKind::kLayer>(delegate_name)) {
      delegate_ = (*factory)(c);
      STRATA_CHECK(delegate_ != nullptr, ValueError, "the factory of layer class '", delegate_name, "' returned nothing");
      return;
    }
    UnknownObject miss{"TensorFlow function", "tf." + function_, {}, ConfigReader::subject_of(*this)};
    throw UnknownObjectError(
        {miss}, detail::concat(" Strata maps ", table.size(),
                               " TensorFlow functions (docs/TFOPLAMBDA.md). To load this model, register a layer class "
                               "named '", delegate_name, "' in a plugin or pass one in custom_objects: ", class_name,
                               " then delegates the call to it (it receives the call's arguments when it also implements "
                               "strata::CallArgumentsLayer); or load the model's SavedModel, whose traces Strata runs."));
  }

  void set_call_arguments(const Config& arguments) override {
    STRATA_CHECK(arguments.is_object() && arguments.contains("args") && arguments["args"].is_array() &&
                     arguments["args"].size() == 1,
                 FormatError, ConfigReader::subject_of(*this), ": malformed call arguments ", arguments.dump());
    std::lock_guard<std::mutex> lock(mutex_);
    STRATA_CHECK(!has_arguments_ || arguments_ == arguments, ValueError, ConfigReader::subject_of(*this),
                 " is called with different arguments in two places of the model (", arguments_.dump(), " and ",
                 arguments.dump(), "); one layer per call, as tf-keras writes them, is supported");
    arguments_ = arguments;
    has_arguments_ = true;
    if (auto* with_args = dynamic_cast<CallArgumentsLayer*>(delegate_.get())) with_args->set_call_arguments(arguments);
  }
  Config call_arguments() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return has_arguments_ ? arguments_ : default_arguments(1);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    if (delegate_) return (*delegate_)(inputs, ctx);
    Config arguments;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!has_arguments_) {  // called from C++: its inputs are the first argument
        arguments_ = default_arguments(inputs.size());
        has_arguments_ = true;
      }
      arguments = arguments_;
    }
    auto frame = ErrorContext::push("computing tf.", function_, " in layer '", name(), "'");
    return {function_impl_(Call(*this, function_, arguments, inputs))};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["function"] = function_;
    return c;
  }

 private:
  // A call from C++ without arguments: the inputs are the first argument.
  static Config default_arguments(std::size_t inputs) {
    Config first = Config::array();
    for (std::size_t i = 0; i < inputs; ++i) first.push_back(Config{{"strata.tensor", i}});
    if (first.size() == 1) first = first[0];
    return Config{{"args", Config::array({first})}, {"kwargs", Config::object()}};
  }

  std::string function_;
  Function function_impl_;
  std::shared_ptr<Layer> delegate_;
  mutable std::mutex mutex_;
  mutable Config arguments_;
  mutable bool has_arguments_ = false;
};

class SlicingOpLambda final : public TFOpLambda {
 public:
  explicit SlicingOpLambda(const Config& c) : TFOpLambda(c, "SlicingOpLambda") {}
};

}  // namespace

void register_tf_op_layers(Registrar& registrar) {
  // tf-keras exports neither class publicly: their configs carry the private module and
  // the class name as registered_name.
  registrar.set_module(ObjectKind::kLayer, "tf_keras.src.layers.core.tf_op_layer");
  register_layer<TFOpLambda>(registrar, "TFOpLambda");
  register_layer<SlicingOpLambda>(registrar, "SlicingOpLambda");
}

Tensor python_subscript(const Tensor& x, const Config& key_value, const std::string& subject) {
  const Config key = key_value.is_array() ? key_value : Config::array({key_value});
  // One bit per item in the strided slice's 64-bit masks (a file may hold any number).
  STRATA_CHECK(key.size() < 64, FormatError, subject, ": a subscript of ", key.size(),
               " items is not supported (at most 63)");
  std::vector<std::int64_t> begin, end, strides;
  StridedSliceMasks masks;
  auto int_or_null = [&](const Config& v, const char* what) -> std::optional<std::int64_t> {
    if (v.is_null()) return std::nullopt;
    STRATA_CHECK(v.is_number_integer(), FormatError, subject, ": slice ", what, " must be an integer or null, got ",
                 v.dump(), " (tensors in subscripts are not supported)");
    return v.get<std::int64_t>();
  };
  for (std::size_t i = 0; i < key.size(); ++i) {
    const Config& item = key[i];
    const std::int64_t bit = std::int64_t{1} << i;
    const std::string cls = item.is_object() ? item.value("class_name", std::string()) : std::string();
    const bool tf_slice = item.is_object() && (item.contains("start") || item.contains("stop") || item.contains("step"));
    if (item.is_null()) {  // tf.newaxis / None
      begin.push_back(0), end.push_back(0), strides.push_back(1);
      masks.new_axis_mask |= bit;
    } else if (cls == "__ellipsis__") {
      begin.push_back(0), end.push_back(0), strides.push_back(1);
      masks.ellipsis_mask |= bit;
    } else if (cls == "__slice__" || tf_slice) {
      const Config s = cls == "__slice__" ? item.value("config", Config::object()) : item;
      const auto start = int_or_null(s.value("start", Config()), "start");
      const auto stop = int_or_null(s.value("stop", Config()), "stop");
      const auto step = int_or_null(s.value("step", Config()), "step");
      STRATA_CHECK(!step || *step != 0, ValueError, subject, ": slice step must not be zero");
      begin.push_back(start.value_or(0));
      end.push_back(stop.value_or(0));
      strides.push_back(step.value_or(1));
      if (!start) masks.begin_mask |= bit;
      if (!stop) masks.end_mask |= bit;
    } else if (item.is_number_integer()) {
      const auto k = item.get<std::int64_t>();
      begin.push_back(k), end.push_back(k + 1), strides.push_back(1);
      masks.shrink_axis_mask |= bit;
    } else {
      STRATA_THROW(FormatError, subject, ": unsupported subscript item ", item.dump(),
                   " (integers, slices, null for a new axis and the ellipsis are supported)");
    }
  }
  return strided_slice(x, begin, end, strides, masks);
}

}  // namespace strata::layers
