// EinsumDense: y = activation(einsum(equation, x, kernel) + bias), as tf-keras 2.17's
// keras.layers.EinsumDense; the kernel and bias shapes follow from the equation, the
// input shape and the partial output_shape the way tf-keras derives them.
#include "einsum_dense.hpp"

#include <algorithm>
#include <regex>

namespace strata::layers {

std::vector<std::int64_t> read_output_shape(const Config& value, const Layer& layer, bool allow_unknown) {
  auto dim = [&](const Config& v) {
    if (allow_unknown && v.is_null()) return Shape::kUnknown;
    STRATA_CHECK(v.is_number_integer() && v.get<std::int64_t>() > 0, ValueError, ConfigReader::subject_of(layer),
                 allow_unknown ? ": 'output_shape' entries must be positive integers or null, got "
                               : ": 'output_shape' must be a positive integer or a list of them, got ",
                 value.dump());
    return v.get<std::int64_t>();
  };
  std::vector<std::int64_t> out;
  if (value.is_array()) {
    for (const auto& v : value) out.push_back(dim(v));
  } else {
    out.push_back(dim(value));
  }
  return out;
}

EinsumDense::EinsumDense(const Config& c) : Layer("EinsumDense", c) {
  auto frame = ErrorContext::push("reading the config of EinsumDense layer '", name(), "'");
  const ConfigReader r(c, *this);
  equation_ = r.required<std::string>("equation");
  const Config* shape = r.find("output_shape");
  STRATA_CHECK(shape != nullptr && !shape->is_null(), FormatError, ConfigReader::subject_of(*this),
               ": 'output_shape' is required");
  partial_output_shape_ = read_output_shape(*shape, *this, /*allow_unknown=*/true);
  if (const auto axes = r.if_present<std::string>("bias_axes")) bias_axes_ = *axes;
  activation_ = activation_at(c, "activation");
  kernel_bias_ = read_kernel_bias_settings(c);
  // The equation's form is checked now, so a bad config fails on load, not on build.
  analyze(std::nullopt);
}

// The kernel and bias shapes for an input of `input` (tf-keras's _analyze_einsum_string);
// without an input only the equation's form and the bias axes are checked.
EinsumDense::Analysis EinsumDense::analyze(const std::optional<Shape>& input) const {
  const std::string subject = ConfigReader::subject_of(*this);
  std::string eq;
  for (char ch : equation_) {
    if (ch != ' ') eq += ch;
  }
  std::smatch m;
  bool left_elided = false;
  static const std::regex plain("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)");
  static const std::regex left("\\.\\.\\.([a-zA-Z]+),([a-zA-Z]+)->\\.\\.\\.([a-zA-Z]+)");
  static const std::regex right("([a-zA-Z]{2,})\\.\\.\\.,([a-zA-Z]+)->([a-zA-Z]+)\\.\\.\\.");
  if (std::regex_match(eq, m, plain) || std::regex_match(eq, m, right)) {
  } else if (std::regex_match(eq, m, left)) {
    left_elided = true;
  } else {
    STRATA_THROW(ValueError, subject, ": invalid einsum equation '", equation_,
                 "'. Equations must be in the form [X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...");
  }
  const std::string in_spec = m[1], kernel_spec = m[2], out_spec = m[3];
  for (char ch : out_spec) {
    STRATA_CHECK(in_spec.find(ch) != std::string::npos || kernel_spec.find(ch) != std::string::npos, ValueError,
                 subject, ": dimension '", std::string(1, ch), "' of the output '", out_spec,
                 "' is in neither the input spec '", in_spec, "' nor the weight spec '", kernel_spec, "'");
  }
  for (char ch : kernel_spec) {
    STRATA_CHECK(in_spec.find(ch) != std::string::npos || out_spec.find(ch) != std::string::npos, ValueError, subject,
                 ": weight dimension '", std::string(1, ch), "' is in neither the input spec '", in_spec,
                 "' nor the output spec '", out_spec, "'");
  }
  if (bias_axes_) {
    for (char ch : *bias_axes_) {
      STRATA_CHECK(out_spec.find(ch) != std::string::npos, ValueError, subject, ": bias dimension '",
                   std::string(1, ch), "' was requested, but is not part of the output spec '", out_spec, "'");
    }
  }
  Analysis a;
  if (!input) return a;
  STRATA_CHECK(input->has_known_rank() && input->rank() >= in_spec.size(), ShapeError, subject, ": the equation '",
               equation_, "' does not fit inputs of shape ", input->to_string());
  const auto& in = input->dims();
  const std::size_t elided = in.size() - in_spec.size();
  STRATA_CHECK(elided == 0 || eq.find("...") != std::string::npos, ShapeError, subject, ": the equation '", equation_,
               "' does not fit inputs of shape ", input->to_string());
  // The full output shape as tf-keras lays it out: batch, the partial shape, elided dims.
  std::vector<std::int64_t> out = partial_output_shape_;
  out.insert(out.begin(), in[0]);
  if (elided > 0 && left_elided) {
    for (std::size_t i = 1; i < elided; ++i) out.insert(out.begin() + 1, in[i]);
  } else if (elided > 0) {
    for (std::size_t i = in.size() - elided; i < in.size(); ++i) out.push_back(in[i]);
  }
  // Every output letter indexes `out`: output_shape must give as many dimensions as the
  // equation's output has (tf-keras refuses other lengths too).
  STRATA_CHECK(out.size() == out_spec.size() + elided, ValueError, subject, ": output_shape ",
               int_list(partial_output_shape_).dump(), " does not fit the equation '", equation_,
               "' (its output '", out_spec, "') for inputs of shape ", input->to_string());
  auto in_index = [&](char ch) { return in_spec.find(ch) + (left_elided ? elided : 0); };
  auto out_index = [&](char ch) { return out_spec.find(ch) + (left_elided ? elided : 0); };
  for (char ch : in_spec) {
    if (out_spec.find(ch) == std::string::npos) continue;
    const std::int64_t di = in[in_index(ch)], dout = out[out_index(ch)];
    STRATA_CHECK(dout == Shape::kUnknown || dout == di, ShapeError, subject,
                 ": input shape and output shape do not match at shared dimension '", std::string(1, ch),
                 "'. Input shape is ", di, ", and output shape is ", dout);
  }
  for (char ch : kernel_spec) {
    const std::int64_t d = in_spec.find(ch) != std::string::npos ? in[in_index(ch)] : out[out_index(ch)];
    STRATA_CHECK(d != Shape::kUnknown, ShapeError, subject, ": weight dimension '", std::string(1, ch),
                 "' is unknown for inputs of shape ", input->to_string());
    a.kernel.push_back(d);
  }
  if (bias_axes_ && !bias_axes_->empty()) {
    std::size_t first = out_spec.size();
    for (char ch : *bias_axes_) first = std::min(first, out_spec.find(ch));
    std::vector<std::int64_t> bias;
    for (std::size_t i = first; i < out_spec.size(); ++i) {
      const char ch = out_spec[i];
      bias.push_back(bias_axes_->find(ch) != std::string::npos ? out[i + (left_elided ? elided : 0)] : 1);
      STRATA_CHECK(bias.back() != Shape::kUnknown, ShapeError, subject, ": bias dimension '", std::string(1, ch),
                   "' is unknown for inputs of shape ", input->to_string());
    }
    if (!left_elided) bias.insert(bias.end(), elided, 1);
    a.bias = bias;
  }
  return a;
}

void EinsumDense::build(const std::vector<Shape>& shapes) {
  const Analysis a = analyze(single_shape(*this, shapes));
  checked_element_count(a.kernel, ConfigReader::subject_of(*this) + ": the kernel");
  kernel_ = add_weight("kernel", Shape(a.kernel), kernel_bias_.kernel_initializer, true,
                       kernel_bias_.kernel_regularizer, kernel_bias_.kernel_constraint);
  if (a.bias) {
    bias_ = add_weight("bias", Shape(*a.bias), kernel_bias_.bias_initializer, true, kernel_bias_.bias_regularizer,
                       kernel_bias_.bias_constraint);
  }
}

std::vector<Tensor> EinsumDense::call(const std::vector<Tensor>& inputs, const CallContext&) const {
  Tensor y = einsum(equation_, {single_input(*this, inputs), read(kernel_)});
  if (bias_.defined()) y = y + read(bias_);
  y = (*activation_)(y);
  add_activity_regularization(*this, kernel_bias_.activity_regularizer, y);
  return {y};
}

Config EinsumDense::get_config() const {
  Config c = Layer::get_config();
  Config shape = Config::array();
  for (auto d : partial_output_shape_) shape.push_back(d == Shape::kUnknown ? Config(nullptr) : Config(d));
  c["output_shape"] = shape;
  c["equation"] = equation_;
  c["activation"] = activation_config(activation_);
  c["bias_axes"] = bias_axes_ ? Config(*bias_axes_) : Config(nullptr);
  write_kernel_bias_settings(kernel_bias_, c);
  return c;
}

void register_einsum_layers(Registrar& registrar) {
  register_layer<EinsumDense>(registrar, "EinsumDense");
}

}  // namespace strata::layers
