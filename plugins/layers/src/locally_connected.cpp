// LocallyConnected1D and LocallyConnected2D: convolutions whose weights are not shared
// between output positions (tf-keras 2.21; Keras 3 removed them).
//
// tf-keras stores the kernel in one of three layouts, chosen by `implementation`, and each
// is loaded as saved:
//   1: (output positions, window * channels, filters), the window flattened
//      (kernel offsets..., channels) for channels_last and (channels, kernel offsets...) for
//      channels_first; padding "valid" only;
//   2: a dense (input..., output...) kernel multiplied by a 0/1 connectivity mask
//      (channels_last (in spatial..., in channels, out spatial..., filters), channels_first
//      (in channels, in spatial..., filters, out spatial...));
//   3: a 1-D vector of the connected weights only: entry k is the weight of the k-th of the
//      (output index, input index) pairs in sorted order, the indices flattening
//      (spatial..., channels) or (channels, spatial...) as the data format does.
// With padding "same" (implementations 2 and 3) output position o of an axis reads the
// inputs [o * stride - k // 2, o * stride + k - k // 2) that exist (tf-keras's
// conv_utils.conv_connected_inputs), not TensorFlow's "same".
//
// Every implementation runs the same way: a Conv2D with a constant 0/1 filter extracts each
// output position's window (zeros where the window leaves the input), each position's
// (window * channels, filters) matrix is implementation 1's kernel as stored or, for 2 and 3,
// a Gather of the kernel (a constant index map; a zero where a window entry lies outside the
// input), and one einsum multiplies them. Gradients come from those ops. The bias (output spatial..., filters) is added
// as tf-keras does: reshaped, not transposed, to (filters, spatial...) for channels_first.
#include <algorithm>
#include <numeric>

#include "common.hpp"

namespace strata::layers {
namespace {

std::int64_t product(const std::vector<std::int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::int64_t{1}, std::multiplies<>());
}

// Row-major multi-index of `flat` over `dims`.
std::vector<std::int64_t> unravel(std::int64_t flat, const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> idx(dims.size());
  for (std::size_t i = dims.size(); i-- > 0;) {
    idx[i] = flat % dims[i];
    flat /= dims[i];
  }
  return idx;
}

std::int64_t ravel(const std::vector<std::int64_t>& idx, const std::vector<std::int64_t>& dims) {
  std::int64_t flat = 0;
  for (std::size_t i = 0; i < dims.size(); ++i) flat = flat * dims[i] + idx[i];
  return flat;
}

Tensor float_constant(const std::vector<double>& values, const Shape& shape, const Tensor& like) {
  if (like.dtype() == DType::kFloat64) return Tensor::from_vector<double>(values, shape, like.device());
  const Tensor f = Tensor::from_vector<float>(std::vector<float>(values.begin(), values.end()), shape, like.device());
  return like.dtype() == DType::kFloat32 ? f : cast(f, like.dtype());
}

class LocallyConnected : public Layer {
 public:
  LocallyConnected(std::string class_name, const Config& c, std::size_t rank)
      : Layer(std::move(class_name), c), rank_(rank) {
    auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
    const ConfigReader r(c, *this);
    filters_ = r.required<std::int64_t>("filters", Range::positive());
    kernel_size_ = r.int_tuple("kernel_size", rank_, Range::positive());
    strides_ = r.int_tuple("strides", rank_, std::vector<std::int64_t>(rank_, 1), Range::positive());
    padding_ = r.one_of("padding", {"valid", "same"}, "valid");
    data_format_ = r.one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
    activation_ = activation_at(c, "activation");
    use_bias_ = r.optional<bool>("use_bias", true);
    kernel_initializer_ = initializer_at(c, "kernel_initializer", "glorot_uniform");
    bias_initializer_ = initializer_at(c, "bias_initializer", "zeros");
    kernel_regularizer_ = regularizer_at(c, "kernel_regularizer");
    bias_regularizer_ = regularizer_at(c, "bias_regularizer");
    activity_regularizer_ = regularizer_at(c, "activity_regularizer");
    kernel_constraint_ = constraint_at(c, "kernel_constraint");
    bias_constraint_ = constraint_at(c, "bias_constraint");
    implementation_ = r.optional<std::int64_t>("implementation", 1);
    STRATA_CHECK(implementation_ >= 1 && implementation_ <= 3, ValueError,
                 r.describe("implementation must be 1, 2 or 3, got "), implementation_);
    STRATA_CHECK(padding_ == "valid" || implementation_ != 1, ValueError,
                 r.describe("padding \"same\" needs implementation 2 or 3 (as in tf-keras, implementation 1 supports "
                            "only \"valid\")"));
  }

  void build(const std::vector<Shape>& shapes) override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, rank_ + 2);
    const auto& d = s.dims();
    if (channels_first()) {
      channels_ = d[1];
      in_.assign(d.begin() + 2, d.end());
    } else {
      channels_ = d.back();
      in_.assign(d.begin() + 1, d.end() - 1);
    }
    const std::string subject = ConfigReader::subject_of(*this);
    STRATA_CHECK(channels_ > 0 && std::all_of(in_.begin(), in_.end(), [](std::int64_t v) { return v > 0; }), ShapeError,
                 subject, ": the spatial and channel dimensions of the inputs must be known, got ", s.to_string());
    out_.clear();
    for (std::size_t i = 0; i < rank_; ++i) {
      out_.push_back(conv_output_length(in_[i], kernel_size_[i], padding_, strides_[i]));
      STRATA_CHECK(out_.back() > 0, ValueError, subject, ": one of the dimensions in the output is <= 0 (inputs ",
                   s.to_string(), ", kernel_size ", int_list(kernel_size_).dump(), ", strides ",
                   int_list(strides_).dump(), "); consider increasing the input size");
    }
    const std::int64_t positions = product(out_), window = product(kernel_size_);
    const std::int64_t in_positions = product(in_);
    std::vector<std::int64_t> kernel_shape;
    if (implementation_ == 1) {
      kernel_shape = {positions, checked_mul(window, channels_, subject + ": the kernel"), filters_};
    } else if (implementation_ == 2) {
      if (channels_first()) {
        kernel_shape.push_back(channels_);
        kernel_shape.insert(kernel_shape.end(), in_.begin(), in_.end());
        kernel_shape.push_back(filters_);
        kernel_shape.insert(kernel_shape.end(), out_.begin(), out_.end());
      } else {
        kernel_shape = in_;
        kernel_shape.push_back(channels_);
        kernel_shape.insert(kernel_shape.end(), out_.begin(), out_.end());
        kernel_shape.push_back(filters_);
      }
    }
    if (implementation_ != 3) checked_element_count(kernel_shape, subject + ": the kernel");
    checked_element_count({positions, window, channels_, filters_}, subject + ": the kernel");
    checked_element_count({in_positions, channels_}, subject + ": the input");
    make_index_map();
    if (implementation_ == 3) kernel_shape = {connections_};
    kernel_ =
        add_weight("kernel", Shape(kernel_shape), kernel_initializer_, true, kernel_regularizer_, kernel_constraint_);
    if (use_bias_) {
      std::vector<std::int64_t> bias_shape = out_;
      bias_shape.push_back(filters_);
      bias_ = add_weight("bias", Shape(bias_shape), bias_initializer_, true, bias_regularizer_, bias_constraint_);
    }
  }

  std::vector<Shape> compute_output_shape(const std::vector<Shape>& shapes) const override {
    const Shape& s = single_shape(*this, shapes);
    require_rank(*this, s, rank_ + 2);
    const auto& d = s.dims();
    std::vector<std::int64_t> out{d[0]};
    if (channels_first()) out.push_back(filters_);
    for (std::size_t i = 0; i < rank_; ++i) {
      const std::int64_t len = channels_first() ? d[i + 2] : d[i + 1];
      out.push_back(conv_output_length(len, kernel_size_[i], padding_, strides_[i]));
    }
    if (!channels_first()) out.push_back(filters_);
    return {Shape(out)};
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    Tensor x = single_input(*this, inputs);
    require_rank(*this, x.shape(), rank_ + 2);
    if (channels_first()) {  // windows are read channels_last; the window order is the kernel's
      std::vector<std::int64_t> p{0};
      for (std::size_t i = 0; i < rank_; ++i) p.push_back(static_cast<std::int64_t>(i + 2));
      p.push_back(1);
      x = transpose(x, p);
    }
    const std::int64_t positions = product(out_), window = product(kernel_size_), width = window * channels_;
    // Pad so that every window is a "valid" one: k // 2 before (same) and what the last window
    // needs after.
    std::vector<std::pair<std::int64_t, std::int64_t>> paddings{{0, 0}};
    bool padded = false;
    for (std::size_t i = 0; i < rank_; ++i) {
      const std::int64_t before = padding_ == "same" ? kernel_size_[i] / 2 : 0;
      const std::int64_t after =
          std::max<std::int64_t>((out_[i] - 1) * strides_[i] + kernel_size_[i] - before - in_[i], 0);
      paddings.emplace_back(before, after);
      padded = padded || before > 0 || after > 0;
    }
    paddings.emplace_back(0, 0);
    if (padded) x = pad(x, paddings);
    if (rank_ == 1) x = expand_dims(x, 1);
    const std::int64_t kh = rank_ == 1 ? 1 : kernel_size_[0], kw = kernel_size_.back();
    // Filter (kh, kw, channels, width): a one at the window entry's place in the kernel's order.
    std::vector<double> select(static_cast<std::size_t>(kh * kw * channels_ * width), 0.0);
    for (std::int64_t a = 0; a < kh; ++a) {
      for (std::int64_t b = 0; b < kw; ++b) {
        for (std::int64_t ch = 0; ch < channels_; ++ch) {
          const std::int64_t offset = a * kw + b;
          const std::int64_t j = channels_first() ? ch * window + offset : offset * channels_ + ch;
          select[static_cast<std::size_t>(((a * kw + b) * channels_ + ch) * width + j)] = 1.0;
        }
      }
    }
    const Tensor filter = float_constant(select, Shape{kh, kw, channels_, width}, x);
    const std::pair<std::int64_t, std::int64_t> strides{rank_ == 1 ? 1 : strides_[0], strides_.back()};
    const Tensor patches = reshape(conv2d(x, filter, strides, Padding::kValid), Shape{-1, positions, width});
    // Each position's (width, filters) matrix: implementation 1's kernel as it is, the others'
    // gathered from the kernel with a zero appended.
    const Tensor kernel = read(kernel_);
    Tensor matrices;
    if (implementation_ == 1) {
      matrices = kernel;
    } else {
      const Tensor flat = concat({reshape(kernel, Shape{-1}), zeros(Shape{1}, kernel.dtype(), kernel.device())}, 0);
      const Tensor index =
          Tensor::from_vector<std::int64_t>(index_map_, Shape{positions, width, filters_}, kernel.device());
      matrices = gather(flat, index, 0);
    }
    Tensor y = einsum("bpj,pjf->bpf", {patches, matrices});
    std::vector<std::int64_t> out_shape{-1};
    if (channels_first()) {
      y = transpose(y, {0, 2, 1});
      out_shape.push_back(filters_);
      out_shape.insert(out_shape.end(), out_.begin(), out_.end());
    } else {
      out_shape.insert(out_shape.end(), out_.begin(), out_.end());
      out_shape.push_back(filters_);
    }
    y = reshape(y, Shape(out_shape));
    if (use_bias_) {
      std::vector<std::int64_t> b(out_shape.begin() + 1, out_shape.end());
      y = y + reshape(read(bias_), Shape(b));  // a reshape, not a transpose, as tf-keras
    }
    y = (*activation_)(y);
    add_activity_regularization(*this, activity_regularizer_, y);
    return {y};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["filters"] = filters_;
    c["kernel_size"] = int_list(kernel_size_);
    c["strides"] = int_list(strides_);
    c["padding"] = padding_;
    c["data_format"] = data_format_;
    c["activation"] = activation_config(activation_);
    c["use_bias"] = use_bias_;
    c["kernel_initializer"] = serialized_or_null(kernel_initializer_);
    c["bias_initializer"] = serialized_or_null(bias_initializer_);
    c["kernel_regularizer"] = serialized_or_null(kernel_regularizer_);
    c["bias_regularizer"] = serialized_or_null(bias_regularizer_);
    c["activity_regularizer"] = serialized_or_null(activity_regularizer_);
    c["kernel_constraint"] = serialized_or_null(kernel_constraint_);
    c["bias_constraint"] = serialized_or_null(bias_constraint_);
    c["implementation"] = implementation_;
    return c;
  }

 private:
  bool channels_first() const { return data_format_ == "channels_first"; }

  // Implementations 2 and 3: index_map_[(p * width + j) * filters + f] is the flat kernel
  // entry that weighs window entry j of output position p for filter f, or the appended zero
  // (the kernel's size) where that window entry lies outside the input. Implementation 1's
  // kernel is already laid out so (no map). Sets connections_ (implementation 3's size).
  void make_index_map() {
    if (implementation_ == 1) return;
    const std::int64_t positions = product(out_), window = product(kernel_size_), width = window * channels_;
    const std::int64_t in_positions = product(in_);
    // The input position window entry w of output position p reads, or -1 outside the input.
    auto input_position = [&](std::int64_t p, std::int64_t w) {
      const auto op = unravel(p, out_);
      const auto kk = unravel(w, kernel_size_);
      std::vector<std::int64_t> ip(rank_);
      for (std::size_t i = 0; i < rank_; ++i) {
        ip[i] = op[i] * strides_[i] - (padding_ == "same" ? kernel_size_[i] / 2 : 0) + kk[i];
        if (ip[i] < 0 || ip[i] >= in_[i]) return std::int64_t{-1};
      }
      return ravel(ip, in_);
    };
    auto out_index = [&](std::int64_t p, std::int64_t f) {
      return channels_first() ? f * positions + p : p * filters_ + f;
    };
    auto in_index = [&](std::int64_t ip, std::int64_t ch) {
      return channels_first() ? ch * in_positions + ip : ip * channels_ + ch;
    };
    // Implementation 3's entries: the connected (output index, input index) pairs, sorted.
    std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
    if (implementation_ == 3) {
      for (std::int64_t p = 0; p < positions; ++p) {
        for (std::int64_t w = 0; w < window; ++w) {
          const std::int64_t ip = input_position(p, w);
          if (ip < 0) continue;
          for (std::int64_t ch = 0; ch < channels_; ++ch) {
            for (std::int64_t f = 0; f < filters_; ++f) pairs.emplace_back(out_index(p, f), in_index(ip, ch));
          }
        }
      }
      std::sort(pairs.begin(), pairs.end());
      connections_ = static_cast<std::int64_t>(pairs.size());
    }
    const std::int64_t zero = implementation_ == 2 ? in_positions * channels_ * positions * filters_ : connections_;
    index_map_.assign(static_cast<std::size_t>(positions * width * filters_), zero);
    for (std::int64_t p = 0; p < positions; ++p) {
      for (std::int64_t w = 0; w < window; ++w) {
        const std::int64_t ip = input_position(p, w);
        if (ip < 0) continue;
        for (std::int64_t ch = 0; ch < channels_; ++ch) {
          const std::int64_t j = channels_first() ? ch * window + w : w * channels_ + ch;
          for (std::int64_t f = 0; f < filters_; ++f) {
            std::int64_t k = 0;
            if (implementation_ == 2) {
              k = channels_first() ? ((ch * in_positions + ip) * filters_ + f) * positions + p
                                   : ((ip * channels_ + ch) * positions + p) * filters_ + f;
            } else {
              const auto it =
                  std::lower_bound(pairs.begin(), pairs.end(), std::make_pair(out_index(p, f), in_index(ip, ch)));
              k = it - pairs.begin();
            }
            index_map_[static_cast<std::size_t>((p * width + j) * filters_ + f)] = k;
          }
        }
      }
    }
  }

  std::size_t rank_;
  std::int64_t filters_ = 0, implementation_ = 1;
  std::vector<std::int64_t> kernel_size_, strides_;
  std::string padding_, data_format_;
  std::shared_ptr<Activation> activation_;
  bool use_bias_ = true;
  std::shared_ptr<Initializer> kernel_initializer_, bias_initializer_;
  std::shared_ptr<Regularizer> kernel_regularizer_, bias_regularizer_, activity_regularizer_;
  std::shared_ptr<Constraint> kernel_constraint_, bias_constraint_;
  // Set by build: the input's and output's spatial lengths, its channels, the index map.
  std::int64_t channels_ = 0, connections_ = 0;
  std::vector<std::int64_t> in_, out_, index_map_;
  Variable kernel_, bias_;
};

class LocallyConnected1D final : public LocallyConnected {
 public:
  explicit LocallyConnected1D(const Config& c) : LocallyConnected("LocallyConnected1D", c, 1) {}
};
class LocallyConnected2D final : public LocallyConnected {
 public:
  explicit LocallyConnected2D(const Config& c) : LocallyConnected("LocallyConnected2D", c, 2) {}
};

}  // namespace

void register_locally_connected_layers(Registrar& registrar) {
  register_layer<LocallyConnected1D>(registrar, "LocallyConnected1D");
  register_layer<LocallyConnected2D>(registrar, "LocallyConnected2D");
}

}  // namespace strata::layers
