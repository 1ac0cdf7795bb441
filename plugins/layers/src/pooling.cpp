// Pooling layers: MaxPooling1D/2D, AveragePooling1D/2D and the global poolings. 1D
// pooling runs as 2D pooling over a width-1 image, as tf-keras does; channels_first
// inputs are transposed to channels_last and back.
#include "common.hpp"

namespace strata::layers {
namespace {

enum class PoolKind { kMax, kAverage };

class Pooling : public Layer, public InferenceTraceable {
 public:
  Pooling(std::string class_name, const Config& c, std::size_t rank, PoolKind kind)
      : Layer(std::move(class_name), c), rank_(rank), kind_(kind) {
    auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
    const ConfigReader r(c, *this);
    // A zero stride has no output length; TensorFlow's pooling ops refuse it too.
    pool_size_ = r.int_tuple("pool_size", rank_, std::vector<std::int64_t>(rank_, 2), Range::positive());
    strides_ = r.int_tuple("strides", rank_, pool_size_, Range::positive());
    padding_ = r.one_of("padding", {"valid", "same"}, "valid");
    data_format_ = r.one_of("data_format", {"channels_last", "channels_first"}, "channels_last");
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    Tensor x = single_input(*this, inputs);
    require_rank(*this, x.shape(), rank_ + 2);
    const bool first = data_format_ == "channels_first";
    if (first) x = transpose(x, rank_ == 1 ? std::vector<std::int64_t>{0, 2, 1} : std::vector<std::int64_t>{0, 2, 3, 1});
    std::pair<std::int64_t, std::int64_t> ksize, strides;
    if (rank_ == 1) {
      x = expand_dims(x, 2);
      ksize = {pool_size_[0], 1};
      strides = {strides_[0], 1};
    } else {
      ksize = {pool_size_[0], pool_size_[1]};
      strides = {strides_[0], strides_[1]};
    }
    const Padding padding = padding_ == "same" ? Padding::kSame : Padding::kValid;
    Tensor y = kind_ == PoolKind::kMax ? max_pool2d(x, ksize, strides, padding) : avg_pool2d(x, ksize, strides, padding);
    if (rank_ == 1) y = squeeze(y, {2});
    if (first) y = transpose(y, rank_ == 1 ? std::vector<std::int64_t>{0, 2, 1} : std::vector<std::int64_t>{0, 3, 1, 2});
    return {y};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    if (rank_ == 1) {  // tf-keras's Pooling1D writes strides first
      c["strides"] = int_list(strides_);
      c["pool_size"] = int_list(pool_size_);
      c["padding"] = padding_;
    } else {
      c["pool_size"] = int_list(pool_size_);
      c["padding"] = padding_;
      c["strides"] = int_list(strides_);
    }
    c["data_format"] = data_format_;
    return c;
  }

 private:
  std::size_t rank_;
  PoolKind kind_;
  std::vector<std::int64_t> pool_size_, strides_;
  std::string padding_, data_format_;
};

class GlobalPooling : public Layer, public InferenceTraceable {
 public:
  GlobalPooling(std::string class_name, const Config& c, std::size_t rank, PoolKind kind)
      : Layer(std::move(class_name), c), rank_(rank), kind_(kind) {
    auto frame = ErrorContext::push("reading the config of ", this->class_name(), " layer '", name(), "'");
    data_format_ = get_data_format(c);
    keepdims_ = get_bool(c, "keepdims", false);
    // GlobalAveragePooling1D averages over the unmasked steps only, and consumes the mask.
    if (rank_ == 1 && kind_ == PoolKind::kAverage) set_supports_masking(true);
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext& ctx) const override {
    const Tensor& x = single_input(*this, inputs);
    require_rank(*this, x.shape(), rank_ + 2);
    const bool first = data_format_ == "channels_first";
    std::vector<std::int64_t> axes;
    for (std::size_t i = 0; i < rank_; ++i) axes.push_back(static_cast<std::int64_t>(i + (first ? 2 : 1)));
    if (kind_ == PoolKind::kMax) return {max(x, axes, keepdims_)};
    const Tensor mask = ctx.masks.empty() ? Tensor() : ctx.masks[0];
    if (rank_ == 1 && mask.defined()) {
      const Tensor m = expand_dims(cast(mask, x.dtype()), first ? 1 : 2);
      return {sum(x * m, axes, keepdims_) / sum(m, axes, keepdims_)};
    }
    return {mean(x, axes, keepdims_)};
  }

  std::vector<Tensor> compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>&) const override { return {}; }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["data_format"] = data_format_;
    c["keepdims"] = keepdims_;
    return c;
  }

 private:
  std::size_t rank_;
  PoolKind kind_;
  std::string data_format_;
  bool keepdims_ = false;
};

template <std::size_t Rank, PoolKind Kind>
class PoolingLayer final : public Pooling {
 public:
  static const char* name_of() {
    if constexpr (Kind == PoolKind::kMax) return Rank == 1 ? "MaxPooling1D" : "MaxPooling2D";
    return Rank == 1 ? "AveragePooling1D" : "AveragePooling2D";
  }
  explicit PoolingLayer(const Config& c) : Pooling(name_of(), c, Rank, Kind) {}
};

template <std::size_t Rank, PoolKind Kind>
class GlobalPoolingLayer final : public GlobalPooling {
 public:
  static const char* name_of() {
    if constexpr (Kind == PoolKind::kMax) return Rank == 1 ? "GlobalMaxPooling1D" : "GlobalMaxPooling2D";
    return Rank == 1 ? "GlobalAveragePooling1D" : "GlobalAveragePooling2D";
  }
  explicit GlobalPoolingLayer(const Config& c) : GlobalPooling(name_of(), c, Rank, Kind) {}
};

}  // namespace

void register_pooling_layers(Registrar& registrar) {
  using Max1 = PoolingLayer<1, PoolKind::kMax>;
  using Max2 = PoolingLayer<2, PoolKind::kMax>;
  using Avg1 = PoolingLayer<1, PoolKind::kAverage>;
  using Avg2 = PoolingLayer<2, PoolKind::kAverage>;
  using GMax1 = GlobalPoolingLayer<1, PoolKind::kMax>;
  using GMax2 = GlobalPoolingLayer<2, PoolKind::kMax>;
  using GAvg1 = GlobalPoolingLayer<1, PoolKind::kAverage>;
  using GAvg2 = GlobalPoolingLayer<2, PoolKind::kAverage>;
  register_layer<Max1>(registrar, "MaxPooling1D");
  register_layer<Max2>(registrar, "MaxPooling2D");
  register_layer<Avg1>(registrar, "AveragePooling1D");
  register_layer<Avg2>(registrar, "AveragePooling2D");
  register_layer<GMax1>(registrar, "GlobalMaxPooling1D");
  register_layer<GMax2>(registrar, "GlobalMaxPooling2D");
  register_layer<GAvg1>(registrar, "GlobalAveragePooling1D");
  register_layer<GAvg2>(registrar, "GlobalAveragePooling2D");
  // tf-keras's aliases.
  register_layer<Max1>(registrar, "MaxPool1D");
  register_layer<Max2>(registrar, "MaxPool2D");
  register_layer<Avg1>(registrar, "AvgPool1D");
  register_layer<Avg2>(registrar, "AvgPool2D");
  register_layer<GMax1>(registrar, "GlobalMaxPool1D");
  register_layer<GMax2>(registrar, "GlobalMaxPool2D");
  register_layer<GAvg1>(registrar, "GlobalAvgPool1D");
  register_layer<GAvg2>(registrar, "GlobalAvgPool2D");
}

}  // namespace strata::layers
