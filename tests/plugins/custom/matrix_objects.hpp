// One custom class of every config-built kind (layer, model, activation, loss, metric,
// initializer, regularizer, constraint, optimizer, learning-rate schedule), written against
// the SDK only. The class name each instance reports is given at registration, so the same
// code is registered under a different name for each way of supplying it (the test plugin
// registers the "*_plugin" names; custom_object_matrix_test the "*_objects", "*_scope" and
// "*_host" names) and one process can hold them all without one way hiding another.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "strata/activations.hpp"
#include "strata/constraints.hpp"
#include "strata/initializers.hpp"
#include "strata/layer.hpp"
#include "strata/losses.hpp"
#include "strata/metrics.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/optimizer.hpp"
#include "strata/regularizers.hpp"

namespace strata_matrix {

using strata::Config;
using strata::Tensor;

inline double number(const Config& c, const char* key, double fallback) {
  return c.is_object() && c.contains(key) && c[key].is_number() ? c[key].get<double>() : fallback;
}

// call = relu(x @ w + b); weights "w" (glorot_uniform), "b" (zeros).
class MxLayer final : public strata::Layer {
 public:
  MxLayer(std::string cls, const Config& c) : Layer(std::move(cls), c), units_(static_cast<std::int64_t>(number(c, "units", 3))) {}
  void build(const std::vector<strata::Shape>& shapes) override {
    const auto in = shapes.at(0).dims().back();
    w_ = add_weight("w", strata::Shape{in, units_}, strata::get_initializer(Config("glorot_uniform")));
    b_ = add_weight("b", strata::Shape{units_}, strata::get_initializer(Config("zeros")));
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext&) const override {
    return {strata::relu(strata::matmul(inputs[0], strata::read(w_)) + strata::read(b_))};
  }
  Config get_config() const override {
    Config c = Layer::get_config();
    c["units"] = units_;
    return c;
  }

 private:
  std::int64_t units_;
  strata::Variable w_, b_;
};

// A subclassed model with a config: one Dense child of `units` units, then tanh.
class MxModel final : public strata::Model {
 public:
  MxModel(std::string cls, const Config& c) : Model(std::move(cls), c), units_(static_cast<std::int64_t>(number(c, "units", 3))) {
    dense_ = strata::make_layer("Dense", Config{{"units", units_}, {"name", "inner_dense"}});
    track("inner_dense", dense_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext& ctx) const override {
    return {strata::tanh((*dense_)(inputs, ctx)[0])};
  }
  Config get_config() const override { return Config{{"name", name()}, {"units", units_}}; }

 private:
  std::int64_t units_;
  std::shared_ptr<strata::Layer> dense_;
};

// x * sigmoid(x) (swish), under the registered name.
class MxActivation final : public strata::Activation {
 public:
  explicit MxActivation(std::string cls) : cls_(std::move(cls)) {}
  std::string class_name() const override { return cls_; }
  Tensor operator()(const Tensor& x) const override { return x * strata::sigmoid(x); }

 private:
  std::string cls_;
};

// Mean absolute error times `scale` per sample.
class MxLoss final : public strata::Loss {
 public:
  MxLoss(std::string cls, const Config& c) : Loss(std::move(cls), c, "mx_loss"), scale_(number(c, "scale", 2.0)) {}
  Tensor call(const Tensor& y_true, const Tensor& y_pred) const override {
    return strata::mean(strata::abs(y_pred - y_true), {-1}) * scale_;
  }
  Config get_config() const override {
    Config c = Loss::get_config();
    c["scale"] = scale_;
    return c;
  }

 private:
  double scale_;
};

// The largest absolute error seen.
class MxMetric final : public strata::Metric {
 public:
  MxMetric(std::string cls, const Config& c) : Metric(std::move(cls), c, "mx_metric") { worst_ = add_state("worst"); }
  void update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor&) override {
    const Tensor batch = strata::max(strata::abs(y_pred - y_true));
    worst_.assign(strata::maximum(worst_.value(), strata::cast(batch, worst_.dtype())));
  }
  Tensor result() const override { return worst_.value(); }

 private:
  strata::Variable worst_;
};

// A constant `value` (Keras's Constant).
class MxInitializer final : public strata::Initializer {
 public:
  MxInitializer(std::string cls, const Config& c) : cls_(std::move(cls)), value_(number(c, "value", 0.25)) {}
  std::string class_name() const override { return cls_; }
  Config get_config() const override { return Config{{"value", value_}}; }
  Tensor operator()(const strata::Shape& shape, strata::DType dtype) const override {
    return strata::fill(shape, value_, dtype);
  }

 private:
  std::string cls_;
  double value_;
};

// l * sum(|w|^3).
class MxRegularizer final : public strata::Regularizer {
 public:
  MxRegularizer(std::string cls, const Config& c) : cls_(std::move(cls)), l_(number(c, "l", 0.01)) {}
  std::string class_name() const override { return cls_; }
  Config get_config() const override { return Config{{"l", l_}}; }
  Tensor operator()(const Tensor& w) const override {
    const Tensor a = strata::abs(w);
    return strata::sum(a * a * a) * l_;
  }

 private:
  std::string cls_;
  double l_;
};

// Clips every weight into [-limit, limit].
class MxConstraint final : public strata::Constraint {
 public:
  MxConstraint(std::string cls, const Config& c) : cls_(std::move(cls)), limit_(number(c, "limit", 0.1)) {}
  std::string class_name() const override { return cls_; }
  Config get_config() const override { return Config{{"limit", limit_}}; }
  Tensor operator()(const Tensor& w) const override {
    return strata::minimum(strata::maximum(w, strata::scalar_like(w, -limit_)), strata::scalar_like(w, limit_));
  }

 private:
  std::string cls_;
  double limit_;
};

// Plain gradient descent with a "velocity" slot: v = 0.5 v + g; w -= lr * v.
class MxOptimizer final : public strata::Optimizer {
 public:
  MxOptimizer(std::string cls, const Config& c) : Optimizer(std::move(cls), c, 0.05) {}

 protected:
  void build_slots(const std::vector<strata::Variable>& variables) override {
    for (const auto& v : variables) add_slot(v, "velocity");
  }
  void update_step(const Tensor& g, const strata::Variable& var, const Tensor& lr, std::int64_t) override {
    const strata::Variable& v = slot(var, "velocity");
    const Tensor new_v = v.value() * strata::scalar_like(g, 0.5) + g;
    strata::assign_variable(v, new_v);
    strata::assign_variable(var, var.value() - lr * new_v);
  }
};

// initial / (1 + step).
class MxSchedule final : public strata::LearningRateSchedule {
 public:
  MxSchedule(std::string cls, const Config& c) : cls_(std::move(cls)), initial_(number(c, "initial", 0.1)) {}
  std::string class_name() const override { return cls_; }
  Config get_config() const override { return Config{{"initial", initial_}}; }
  double operator()(std::int64_t step) const override { return initial_ / (1.0 + static_cast<double>(step)); }

 private:
  std::string cls_;
  double initial_;
};

// The registered names of one way: "MxLayer_<suffix>", ...
struct Names {
  std::string suffix;
  std::string layer() const { return "MxLayer_" + suffix; }
  std::string model() const { return "MxModel_" + suffix; }
  std::string activation() const { return "mx_activation_" + suffix; }
  std::string loss() const { return "MxLoss_" + suffix; }
  std::string metric() const { return "MxMetric_" + suffix; }
  std::string initializer() const { return "MxInitializer_" + suffix; }
  std::string regularizer() const { return "MxRegularizer_" + suffix; }
  std::string constraint() const { return "MxConstraint_" + suffix; }
  std::string optimizer() const { return "MxOptimizer_" + suffix; }
  std::string schedule() const { return "MxSchedule_" + suffix; }
};

// Adds every class under `names` to `sink` (a Registrar or a CustomObjects: both have
// add<K>(name, value)).
template <class Sink>
void add_all(Sink& sink, const Names& names) {
  using K = strata::ObjectKind;
  {
    const std::string n = names.layer();
    sink.template add<K::kLayer>(n, [n](const Config& c) -> std::shared_ptr<strata::Layer> { return std::make_shared<MxLayer>(n, c); });
  }
  {
    const std::string n = names.model();
    sink.template add<K::kModel>(n, [n](const Config& c) -> std::shared_ptr<strata::Model> { return std::make_shared<MxModel>(n, c); });
  }
  {
    const std::string n = names.activation();
    sink.template add<K::kActivation>(n, [n](const Config&) -> std::shared_ptr<strata::Activation> { return std::make_shared<MxActivation>(n); });
  }
  {
    const std::string n = names.loss();
    sink.template add<K::kLoss>(n, [n](const Config& c) -> std::shared_ptr<strata::Loss> { return std::make_shared<MxLoss>(n, c); });
  }
  {
    const std::string n = names.metric();
    sink.template add<K::kMetric>(n, [n](const Config& c) -> std::shared_ptr<strata::Metric> { return std::make_shared<MxMetric>(n, c); });
  }
  {
    const std::string n = names.initializer();
    sink.template add<K::kInitializer>(n, [n](const Config& c) -> std::shared_ptr<strata::Initializer> {
      return std::make_shared<MxInitializer>(n, c);
    });
  }
  {
    const std::string n = names.regularizer();
    sink.template add<K::kRegularizer>(n, [n](const Config& c) -> std::shared_ptr<strata::Regularizer> {
      return std::make_shared<MxRegularizer>(n, c);
    });
  }
  {
    const std::string n = names.constraint();
    sink.template add<K::kConstraint>(n, [n](const Config& c) -> std::shared_ptr<strata::Constraint> {
      return std::make_shared<MxConstraint>(n, c);
    });
  }
  {
    const std::string n = names.optimizer();
    sink.template add<K::kOptimizer>(n, [n](const Config& c) -> std::shared_ptr<strata::Optimizer> {
      return std::make_shared<MxOptimizer>(n, c);
    });
  }
  {
    const std::string n = names.schedule();
    sink.template add<K::kLearningRateSchedule>(n, [n](const Config& c) -> std::shared_ptr<strata::LearningRateSchedule> {
      return std::make_shared<MxSchedule>(n, c);
    });
  }
}

}  // namespace strata_matrix
