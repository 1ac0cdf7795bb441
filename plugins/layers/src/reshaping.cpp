// Reshaping layers: Flatten, Reshape, Permute, RepeatVector (padding and cropping: spatial.cpp).
#include <algorithm>
#include <array>
#include <iterator>
#include <numeric>

#include "common.hpp"

namespace strata::layers {
namespace {

// Reshapes x to (batch,) + rest, where rest may hold one -1. The batch dimension of a
// symbolic input may be unknown: then -1 goes there when rest can be resolved from x's
// known dimensions, else the shape is computed when the graph runs.
Tensor reshape_keep_batch(const Tensor& x, std::vector<std::int64_t> rest) {
  const Shape& s = x.shape();
  const std::int64_t batch = s.dims().at(0);
  std::vector<std::int64_t> dims{batch};
  if (batch != Shape::kUnknown) {
    dims.insert(dims.end(), rest.begin(), rest.end());
    return reshape(x, Shape(dims));
  }
  const auto unknown_in_rest = std::find(rest.begin(), rest.end(), Shape::kUnknown);
  bool input_known = true;
  std::int64_t known = 1;
  for (std::size_t i = 1; i < s.rank(); ++i) {
    if (s.dims()[i] == Shape::kUnknown) input_known = false;
    else known *= s.dims()[i];
  }
  if (unknown_in_rest != rest.end() && input_known) {
    std::int64_t other = 1;
    for (auto d : rest) {
      if (d != Shape::kUnknown) other *= d;
    }
    STRATA_CHECK(other > 0 && known % other == 0, ShapeError, "cannot reshape ", s.to_string(), " to (batch, ",
                 Shape(rest).to_string(), ")");
    *unknown_in_rest = known / other;
  }
  if (std::find(rest.begin(), rest.end(), Shape::kUnknown) == rest.end()) {
    dims.insert(dims.end(), rest.begin(), rest.end());
    return reshape(x, Shape(dims));
  }
  const Tensor target = concat({slice(shape_of(x), {0}, {1}), int_tensor(rest)}, 0);
  return execute1("Reshape", {x, target});
}

class Flatten final : public Layer, public InferenceTraceable {
 public:
  explicit Flatten(const Config& c) : Layer("Flatten", c) {
    auto frame = ErrorContext::push("reading the config of Flatten layer '", name(), "'");
    data_format_ = get_data_format(c);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    Tensor x = single_input(*this, inputs);
    require_rank(*this, x.shape(), 1, /*at_least=*/true);
    const std::size_t rank = x.rank();
    if (data_format_ == "channels_first" && rank > 1) {
      std::vector<std::int64_t> perm{0};
      for (std::size_t i = 2; i < rank; ++i) perm.push_back(static_cast<std::int64_t>(i));
      perm.push_back(1);
      x = transpose(x, perm);
    }
    if (rank == 1) return {expand_dims(x, 1)};
    return {reshape_keep_batch(x, {Shape::kUnknown})};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["data_format"] = data_format_;
    return c;
  }

 private:
  std::string data_format_;
};

class Reshape final : public Layer, public InferenceTraceable {
 public:
  explicit Reshape(const Config& c) : Layer("Reshape", c) {
    auto frame = ErrorContext::push("reading the config of Reshape layer '", name(), "'");
    STRATA_CHECK(find_key(c, "target_shape"), FormatError, "Reshape needs \"target_shape\"");
    target_ = get_int_or_list(c, "target_shape", {});
    int unknown = 0;
    for (auto d : target_) {
      STRATA_CHECK(d > 0 || d == -1, ValueError, "Reshape: target_shape dimensions must be positive or -1, got ",
                   int_list(target_).dump());
      unknown += d == -1;
    }
    STRATA_CHECK(unknown <= 1, ValueError, "Reshape: target_shape may hold at most one -1, got ", int_list(target_).dump());
    std::vector<std::int64_t> known;
    std::copy_if(target_.begin(), target_.end(), std::back_inserter(known), [](std::int64_t d) { return d > 0; });
    checked_element_count(known, ConfigReader::subject_of(*this) + ": target_shape");
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    require_rank(*this, x.shape(), 1, /*at_least=*/true);
    return {reshape_keep_batch(x, target_)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["target_shape"] = int_list(target_);
    return c;
  }

 private:
  std::vector<std::int64_t> target_;
};

class Permute final : public Layer {
 public:
  explicit Permute(const Config& c) : Layer("Permute", c) {
    auto frame = ErrorContext::push("reading the config of Permute layer '", name(), "'");
    STRATA_CHECK(find_key(c, "dims"), FormatError, "Permute needs \"dims\"");
    dims_ = get_int_or_list(c, "dims", {});
    std::vector<std::int64_t> sorted = dims_;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      STRATA_CHECK(sorted[i] == static_cast<std::int64_t>(i + 1), ValueError,
                   "Permute: dims must be a permutation of 1..", dims_.size(), " (the batch axis is not permuted), got ",
                   int_list(dims_).dump());
    }
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    require_rank(*this, x.shape(), dims_.size() + 1);
    std::vector<std::int64_t> perm{0};
    perm.insert(perm.end(), dims_.begin(), dims_.end());
    return {transpose(x, perm)};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["dims"] = int_list(dims_);
    return c;
  }

 private:
  std::vector<std::int64_t> dims_;
};

class RepeatVector final : public Layer {
 public:
  explicit RepeatVector(const Config& c) : Layer("RepeatVector", c) {
    auto frame = ErrorContext::push("reading the config of RepeatVector layer '", name(), "'");
    n_ = ConfigReader(c, *this).required<std::int64_t>("n", Range::non_negative());
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    const Tensor& x = single_input(*this, inputs);
    require_rank(*this, x.shape(), 2);
    // n comes from a file: one sample's output (n x features) must have a size.
    const std::int64_t features = x.shape().dims()[1];
    if (features != Shape::kUnknown) checked_mul(n_, features, ConfigReader::subject_of(*this) + ": n x features");
    return {tile(expand_dims(x, 1), {1, n_, 1})};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["n"] = n_;
    return c;
  }

 private:
  std::int64_t n_ = 1;
};

}  // namespace

void register_reshaping_layers(Registrar& registrar) {
  register_layer<Flatten>(registrar, "Flatten");
  register_layer<Reshape>(registrar, "Reshape");
  register_layer<Permute>(registrar, "Permute");
  register_layer<RepeatVector>(registrar, "RepeatVector");
}

}  // namespace strata::layers
