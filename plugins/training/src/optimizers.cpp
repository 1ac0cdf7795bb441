// The tf-keras (>= 2.11) optimizers: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax,
// Nadam and Ftrl. Each creates its slots in the order and under the names tf-keras's
// build() uses and updates a variable with tf-keras's update_step formula, written in
// ops on the variable's device. Hyper-parameters tf-keras turns into float32 tensors
// (beta powers, Nadam's momentum schedule) are computed here on the host with float32
// rounding at each step, so the arithmetic is the same as tf-keras's. Where the variable's
// device has a kernel for it, an update runs as one fused op (ResourceApplyKerasMomentum or
// strata.Keras*, runtime/src/ops/defs_optimizer.cpp) that rounds exactly as the composed ops
// below; the state (slots, their names and order) is the same on both paths, so training
// resumes across them (another device, STRATA_FUSED_UPDATES=0) with the same values.
//
// Clipping, weight decay, the learning rate (and its schedule) and the iteration counter
// are the runtime's Optimizer base class's.
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <functional>
#include <vector>

#include "common.hpp"
#include "strata/optimizer.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"

namespace strata::training {
namespace {

// Rounds a host-computed value to the precision of `dtype` (float32 unless float64):
// computing each operation in double and rounding it gives the correctly rounded
// float32 result of +, -, *, / and sqrt.
struct Precision {
  DType dtype;
  double operator()(double x) const {
    return dtype == DType::kFloat64 ? x : static_cast<double>(static_cast<float>(x));
  }
  // tf.pow(base, step) in this precision.
  double pow(double base, double exponent) const {
    if (dtype == DType::kFloat64) return std::pow(base, exponent);
    return static_cast<double>(std::pow(static_cast<float>(base), static_cast<float>(exponent)));
  }
};

void set(const Variable& variable, const Tensor& value) { Variable(variable).assign(value); }

// Whether the backend of this variable's device has a kernel for the fused update `op`
// (the runtime's ResourceApplyKerasMomentum and strata.Keras* ops, runtime/src/ops/
// defs_optimizer.cpp), for its dtype. Any backend may register one; where none does, the
// optimizers compose element-wise ops. Backend-neutral: no device type is named here.
// STRATA_FUSED_UPDATES=0 in the environment turns the fused updates off (read at each update,
// for debugging numerics and for the tests that compare the two paths).
bool has_fused_update(const char* op, const Variable& var) {
  const char* env = std::getenv("STRATA_FUSED_UPDATES");
  if (env != nullptr && std::string_view(env) == "0") return false;
  return Registry::global().contains(ObjectKind::kKernel, kernel_key(op, var.device().type(), var.dtype()));
}

// Runs the fused Keras update `op` (runtime/src/ops/defs_optimizer.cpp: inputs the variable,
// `slots`, `scalars` and the gradient; outputs the new variable and slots) and assigns its
// results, where the variable's device has a kernel for it; false (nothing done) elsewhere.
// Each scalar is rounded to the variable's dtype as the composed update's
// scalar_like(tensor, x) rounds it, so the two paths compute the same values.
bool fused_update(const char* op, const Variable& var, const std::vector<const Variable*>& slots, const Tensor& lr,
                  const std::vector<double>& scalars, const Tensor& g, const Attrs& attrs = {}) {
  if (!has_fused_update(op, var)) return false;
  std::vector<Tensor> inputs;
  inputs.reserve(2 + slots.size() + scalars.size());
  inputs.push_back(var.value());
  for (const Variable* s : slots) inputs.push_back(s->value());
  bool first = true;
  for (const double x : scalars) {
    // The first scalar is the learning rate tensor itself (a schedule's value).
    inputs.push_back(first ? lr : scalar_like(lr, x));
    first = false;
  }
  inputs.push_back(g);
  const auto out = execute(op, inputs, attrs);
  std::size_t i = 1;
  for (const Variable* s : slots) set(*s, out[i++]);
  set(var, out[0]);
  return true;
}

// The keys every tf-keras optimizer writes, echoed as they were given, and the
// subclass's own keys after them.
class KerasOptimizer : public Optimizer {
 public:
  KerasOptimizer(std::string class_name, const Config& config, double default_learning_rate,
                 Config ema_overwrite_default = nullptr)
      : Optimizer(std::move(class_name), config, default_learning_rate),
        weight_decay_(get_value(config, "weight_decay", nullptr)),
        clipnorm_(get_value(config, "clipnorm", nullptr)),
        global_clipnorm_(get_value(config, "global_clipnorm", nullptr)),
        clipvalue_(get_value(config, "clipvalue", nullptr)),
        ema_momentum_(get_number(config, "ema_momentum", 0.99)),
        ema_overwrite_frequency_(get_value(config, "ema_overwrite_frequency", std::move(ema_overwrite_default))) {}

  Config get_config() const override {
    Config c = Optimizer::get_config();
    // tf-keras keeps these as the Python numbers it was given (0.004, not 0.004000000189).
    c["weight_decay"] = weight_decay_;
    c["clipnorm"] = clipnorm_;
    c["global_clipnorm"] = global_clipnorm_;
    c["clipvalue"] = clipvalue_;
    c["ema_momentum"] = ema_momentum_;
    c["ema_overwrite_frequency"] = ema_overwrite_frequency_;
    add_config(c);
    return c;
  }

 protected:
  virtual void add_config(Config& c) const = 0;

 private:
  Config weight_decay_, clipnorm_, global_clipnorm_, clipvalue_, ema_momentum_, ema_overwrite_frequency_;
};

// ---- SGD ----------------------------------------------------------------------------------

class SGD final : public KerasOptimizer {
 public:
  explicit SGD(const Config& c)
      : KerasOptimizer("SGD", c, 0.01),
        momentum_(ConfigReader(c, "optimizer 'SGD'").number("momentum", 0.0, Range::closed(0.0, 1.0))),
        nesterov_(get_bool(c, "nesterov", false)) {}

 protected:
  // tf-keras creates "m" for every variable, whatever the momentum.
  void build_slots(const std::vector<Variable>& variables) override {
    for (const auto& v : variables) add_slot(v, "m");
  }
  void update_step(const Tensor& g, const Variable& var, const Tensor& lr, std::int64_t) override {
    const Variable& m = slot(var, "m");
    if (has_fused_update("ResourceApplyKerasMomentum", var)) {
      Attrs attrs;
      attrs.set("use_nesterov", nesterov_);
      const auto out = execute("ResourceApplyKerasMomentum",
                               {var.value(), m.value(), lr, g, scalar_like(lr, momentum_.get<double>())}, attrs);
      set(m, out[1]);
      set(var, out[0]);
      return;
    }
    const Tensor momentum = scalar_like(lr, momentum_.get<double>());
    const Tensor new_m = neg(g) * lr + m.value() * momentum;
    set(m, new_m);
    if (nesterov_) {
      set(var, var.value() + (neg(g) * lr + new_m * momentum));
    } else {
      set(var, var.value() + new_m);
    }
  }
  void add_config(Config& c) const override {
    c["momentum"] = momentum_;
    c["nesterov"] = nesterov_;
  }

 private:
  Config momentum_;
  bool nesterov_;
};

// ---- Adam and AdamW -------------------------------------------------------------------------

class Adam : public KerasOptimizer {
 public:
  Adam(std::string class_name, const Config& c)
      : KerasOptimizer(std::move(class_name), c, 0.001), beta_1_(get_number(c, "beta_1", 0.9)),
        beta_2_(get_number(c, "beta_2", 0.999)), epsilon_(get_number(c, "epsilon", 1e-7)),
        amsgrad_(get_bool(c, "amsgrad", false)) {}
  explicit Adam(const Config& c) : Adam("Adam", c) {}

 protected:
  // m and v interleaved per variable, then every vhat.
  void build_slots(const std::vector<Variable>& variables) override {
    for (const auto& v : variables) {
      add_slot(v, "m");
      add_slot(v, "v");
    }
    if (amsgrad_) {
      for (const auto& v : variables) add_slot(v, "vhat");
    }
  }
  void update_step(const Tensor& g, const Variable& var, const Tensor& lr, std::int64_t step) override {
    const double beta_1 = beta_1_.get<double>(), beta_2 = beta_2_.get<double>();
    const Precision p{var.dtype()};
    const double beta_1_power = p.pow(p(beta_1), static_cast<double>(step));
    const double beta_2_power = p.pow(p(beta_2), static_cast<double>(step));
    const Variable& m = slot(var, "m");
    const Variable& v = slot(var, "v");
    Attrs attrs;
    attrs.set("amsgrad", amsgrad_);
    const double bias_sqrt = p(std::sqrt(p(1.0 - beta_2_power))), bias_1 = p(1.0 - beta_1_power);
    std::vector<const Variable*> slots{&m, &v};
    if (amsgrad_) slots.push_back(&slot(var, "vhat"));
    if (fused_update("strata.KerasAdam", var, slots, lr,
                     {0.0, bias_sqrt, bias_1, 1.0 - beta_1, 1.0 - beta_2, epsilon_.get<double>()}, g, attrs)) {
      return;
    }
    const Tensor alpha = lr * scalar_like(lr, bias_sqrt) / scalar_like(lr, bias_1);
    const Tensor new_m = m.value() + (g - m.value()) * (1.0 - beta_1);
    Tensor new_v = v.value() + (square(g) - v.value()) * (1.0 - beta_2);
    set(m, new_m);
    set(v, new_v);
    if (amsgrad_) {
      const Variable& vhat = slot(var, "vhat");
      new_v = maximum(vhat.value(), new_v);
      set(vhat, new_v);
    }
    set(var, var.value() - (new_m * alpha) / (sqrt(new_v) + epsilon_.get<double>()));
  }
  void add_config(Config& c) const override {
    c["beta_1"] = beta_1_;
    c["beta_2"] = beta_2_;
    c["epsilon"] = epsilon_;
    c["amsgrad"] = amsgrad_;
  }

 private:
  Config beta_1_, beta_2_, epsilon_;
  bool amsgrad_;
};

// tf-keras's AdamW requires a weight decay (default 0.004); the decay itself is the base
// class's decoupled weight decay, applied before the Adam step.
Config with_default_weight_decay(const Config& c) {
  Config out = c.is_object() ? c : Config::object();
  if (!find_key(out, "weight_decay")) out["weight_decay"] = 0.004;
  return out;
}

class AdamW final : public Adam {
 public:
  // AdamW's get_config writes weight_decay again, which keeps its place among the base
  // keys.
  explicit AdamW(const Config& c) : Adam("AdamW", with_default_weight_decay(c)) {}
};

// ---- RMSprop --------------------------------------------------------------------------------

class RMSprop final : public KerasOptimizer {
 public:
  explicit RMSprop(const Config& c)
      : KerasOptimizer("RMSprop", c, 0.001, 100), rho_(get_number(c, "rho", 0.9)),
        momentum_(get_number(c, "momentum", 0.0)), epsilon_(get_number(c, "epsilon", 1e-7)),
        centered_(get_bool(c, "centered", false)) {}

 protected:
  // Every velocity, then every momentum (momentum > 0), then every average gradient
  // (centered).
  void build_slots(const std::vector<Variable>& variables) override {
    for (const auto& v : variables) add_slot(v, "velocity");
    if (momentum() > 0) {
      for (const auto& v : variables) add_slot(v, "momentum");
    }
    if (centered_) {
      for (const auto& v : variables) add_slot(v, "average_gradient");
    }
  }
  void update_step(const Tensor& g, const Variable& var, const Tensor& lr, std::int64_t) override {
    const double rho = rho_.get<double>();
    const Variable& velocity = slot(var, "velocity");
    {
      Attrs attrs;
      attrs.set("centered", centered_);
      attrs.set("use_momentum", momentum() > 0);
      std::vector<const Variable*> slots{&velocity};
      if (centered_) slots.push_back(&slot(var, "average_gradient"));
      if (momentum() > 0) slots.push_back(&slot(var, "momentum"));
      if (fused_update("strata.KerasRMSprop", var, slots, lr, {0.0, rho, 1.0 - rho, momentum(), epsilon_.get<double>()},
                       g, attrs)) {
        return;
      }
    }
    const Tensor new_velocity = velocity.value() * rho + square(g) * (1.0 - rho);
    set(velocity, new_velocity);
    Tensor denominator;
    if (centered_) {
      const Variable& average = slot(var, "average_gradient");
      const Tensor new_average = average.value() * rho + g * (1.0 - rho);
      set(average, new_average);
      denominator = new_velocity - square(new_average) + epsilon_.get<double>();
    } else {
      denominator = new_velocity + epsilon_.get<double>();
    }
    const Tensor increment = lr * g * rsqrt(denominator);
    if (momentum() > 0) {
      const Variable& mom = slot(var, "momentum");
      const Tensor new_mom = mom.value() * momentum() + increment;
      set(mom, new_mom);
      set(var, var.value() + neg(new_mom));
    } else {
      set(var, var.value() + neg(increment));
    }
  }
  void add_config(Config& c) const override {
    c["rho"] = rho_;
    c["momentum"] = momentum_;
    c["epsilon"] = epsilon_;
    c["centered"] = centered_;
  }

 private:
  double momentum() const { return momentum_.get<double>(); }
  Config rho_, momentum_, epsilon_;
  bool centered_;
};

// ---- Adagrad --------------------------------------------------------------------------------

class Adagrad final : public KerasOptimizer {
 public:
  explicit Adagrad(const Config& c)
      : KerasOptimizer("Adagrad", c, 0.001), initial_accumulator_value_(get_number(c, "initial_accumulator_value", 0.1)),
        epsilon_(get_number(c, "epsilon", 1e-7)) {}

 protected:
  void build_slots(const std::vector<Variable>& variables) override {
    for (const auto& v : variables) add_slot(v, "accumulator", initial_accumulator_value_.get<double>());
  }
  void update_step(const Tensor& g, const Variable& var, const Tensor& lr, std::int64_t) override {
    const Variable& acc = slot(var, "accumulator");
    if (fused_update("strata.KerasAdagrad", var, {&acc}, lr, {0.0, epsilon_.get<double>()}, g)) return;
    const Tensor new_acc = acc.value() + g * g;
    set(acc, new_acc);
    set(var, var.value() - lr * g / sqrt(new_acc + epsilon_.get<double>()));
  }
  void add_config(Config& c) const override {
    c["initial_accumulator_value"] = initial_accumulator_value_;
    c["epsilon"] = epsilon_;
  }

 private:
  Config initial_accumulator_value_, epsilon_;
};

// ---- Adadelta -------------------------------------------------------------------------------

class Adadelta final : public KerasOptimizer {
 public:
  explicit Adadelta(const Config& c)
      : KerasOptimizer("Adadelta", c, 0.001), rho_(get_number(c, "rho", 0.95)), epsilon_(get_number(c, "epsilon", 1e-7)) {}

 protected:
  // accumulated_grad and accumulated_delta_var interleaved per variable.
  void build_slots(const std::vector<Variable>& variables) override {
    for (const auto& v : variables) {
      add_slot(v, "accumulated_grad");
      add_slot(v, "accumulated_delta_var");
    }
  }
  void update_step(const Tensor& g, const Variable& var, const Tensor& lr, std::int64_t) override {
    const double rho = rho_.get<double>(), eps = epsilon_.get<double>();
    const Variable& acc_grad = slot(var, "accumulated_grad");
    const Variable& acc_delta = slot(var, "accumulated_delta_var");
    if (fused_update("strata.KerasAdadelta", var, {&acc_grad, &acc_delta}, lr, {0.0, rho, 1.0 - rho, eps}, g)) return;
    const Tensor new_acc_grad = acc_grad.value() * rho + g * (1.0 - rho) * g;
    set(acc_grad, new_acc_grad);
    const Tensor delta_var = neg(sqrt(acc_delta.value() + eps)) * g / sqrt(new_acc_grad + eps);
    set(acc_delta, acc_delta.value() * rho + delta_var * (1.0 - rho) * delta_var);
    set(var, var.value() + lr * delta_var);
  }
  void add_config(Config& c) const override {
    c["rho"] = rho_;
    c["epsilon"] = epsilon_;
  }

 private:
  Config rho_, epsilon_;
};

// ---- Adamax ---------------------------------------------------------------------------------

class Adamax final : public KerasOptimizer {
 public:
  explicit Adamax(const Config& c)
      : KerasOptimizer("Adamax", c, 0.001), beta_1_(get_number(c, "beta_1", 0.9)), beta_2_(get_number(c, "beta_2", 0.999)),
        epsilon_(get_number(c, "epsilon", 1e-7)) {}

 protected:
  void build_slots(const std::vector<Variable>& variables) override {
    for (const auto& v : variables) {
      add_slot(v, "m");
      add_slot(v, "u");
    }
  }
  void update_step(const Tensor& g, const Variable& var, const Tensor& lr, std::int64_t step) override {
    const double beta_1 = beta_1_.get<double>(), beta_2 = beta_2_.get<double>();
    const Precision p{var.dtype()};
    const double beta_1_power = p.pow(p(beta_1), static_cast<double>(step));
    const Variable& m = slot(var, "m");
    const Variable& u = slot(var, "u");
    if (fused_update("strata.KerasAdamax", var, {&m, &u}, lr,
                     {0.0, p(1.0 - beta_1_power), 1.0 - beta_1, beta_2, epsilon_.get<double>()}, g)) {
      return;
    }
    const Tensor new_m = m.value() + (g - m.value()) * (1.0 - beta_1);
    const Tensor new_u = maximum(u.value() * beta_2, abs(g));
    set(m, new_m);
    set(u, new_u);
    const Tensor one_minus_power = scalar_like(lr, p(1.0 - beta_1_power));
    set(var, var.value() - (lr * new_m) / (one_minus_power * (new_u + epsilon_.get<double>())));
  }
  void add_config(Config& c) const override {
    c["beta_1"] = beta_1_;
    c["beta_2"] = beta_2_;
    c["epsilon"] = epsilon_;
  }

 private:
  Config beta_1_, beta_2_, epsilon_;
};

// ---- Nadam ----------------------------------------------------------------------------------

class Nadam final : public KerasOptimizer {
 public:
  explicit Nadam(const Config& c)
      : KerasOptimizer("Nadam", c, 0.001), beta_1_(get_number(c, "beta_1", 0.9)), beta_2_(get_number(c, "beta_2", 0.999)),
        epsilon_(get_number(c, "epsilon", 1e-7)) {}

 protected:
  void build_slots(const std::vector<Variable>& variables) override {
    for (const auto& v : variables) {
      add_slot(v, "m");
      add_slot(v, "v");
    }
  }
  void update_step(const Tensor& g, const Variable& var, const Tensor& lr, std::int64_t step) override {
    const Precision p{var.dtype()};
    const double beta_1 = p(beta_1_.get<double>()), beta_2 = p(beta_2_.get<double>());
    const double decay = p(0.96);
    auto u_at = [&](std::int64_t s) {
      return p(beta_1 * p(1.0 - p(0.5 * p.pow(decay, static_cast<double>(s)))));
    };
    // tf-keras keeps the running product of u_1 ... u_t in a variable of its own (not
    // among optimizer.variables); it is a function of the step, so it is recomputed here.
    double u_product_t = 1.0;
    for (std::int64_t s = 1; s <= step; ++s) u_product_t = p(u_product_t * u_at(s));
    const double u_t = u_at(step), u_t_1 = u_at(step + 1);
    const double u_product_t_1 = p(u_product_t * u_t_1);
    const double beta_2_power = p.pow(beta_2, static_cast<double>(step));

    const Variable& m = slot(var, "m");
    const Variable& v = slot(var, "v");
    if (fused_update("strata.KerasNadam", var, {&m, &v}, lr,
                     {0.0, p(1.0 - beta_1), p(1.0 - beta_2), u_t_1, p(1.0 - u_product_t_1), p(1.0 - u_t),
                      p(1.0 - u_product_t), p(1.0 - beta_2_power), epsilon_.get<double>()},
                     g)) {
      return;
    }
    // beta_1 and beta_2 are float32 tensors here, so 1 - beta is rounded in float32.
    const Tensor new_m = m.value() + (g - m.value()) * scalar_like(lr, p(1.0 - beta_1));
    const Tensor new_v = v.value() + (square(g) - v.value()) * scalar_like(lr, p(1.0 - beta_2));
    set(m, new_m);
    set(v, new_v);
    const Tensor m_hat = scalar_like(lr, u_t_1) * new_m / scalar_like(lr, p(1.0 - u_product_t_1)) +
                         scalar_like(lr, p(1.0 - u_t)) * g / scalar_like(lr, p(1.0 - u_product_t));
    const Tensor v_hat = new_v / scalar_like(lr, p(1.0 - beta_2_power));
    set(var, var.value() - (m_hat * lr) / (sqrt(v_hat) + epsilon_.get<double>()));
  }
  void add_config(Config& c) const override {
    c["beta_1"] = beta_1_;
    c["beta_2"] = beta_2_;
    c["epsilon"] = epsilon_;
  }

 private:
  Config beta_1_, beta_2_, epsilon_;
};

// ---- Ftrl -----------------------------------------------------------------------------------

class Ftrl final : public KerasOptimizer {
 public:
  explicit Ftrl(const Config& c)
      : Ftrl(c, ConfigReader(c, "optimizer 'Ftrl'")) {}

 private:
  // tf-keras's Ftrl refuses these ranges in its constructor.
  Ftrl(const Config& c, const ConfigReader& r)
      : KerasOptimizer("Ftrl", c, 0.001),
        learning_rate_power_(r.number("learning_rate_power", -0.5, Range::at_most(0.0))),
        initial_accumulator_value_(r.number("initial_accumulator_value", 0.1, Range::non_negative())),
        l1_(r.number("l1_regularization_strength", 0.0, Range::non_negative())),
        l2_(r.number("l2_regularization_strength", 0.0, Range::non_negative())),
        l2_shrinkage_(r.number("l2_shrinkage_regularization_strength", 0.0, Range::non_negative())),
        beta_(r.number("beta", 0.0)) {}

 protected:
  // accumulator (starting at initial_accumulator_value) and linear, per variable.
  void build_slots(const std::vector<Variable>& variables) override {
    for (const auto& v : variables) {
      add_slot(v, "accumulator", initial_accumulator_value_.get<double>());
      add_slot(v, "linear");
    }
  }
  void update_step(const Tensor& g, const Variable& var, const Tensor& lr, std::int64_t) override {
    const Variable& accum = slot(var, "accumulator");
    const Variable& linear = slot(var, "linear");
    const double power = -learning_rate_power_.get<double>();
    const double l1 = l1_.get<double>();
    if (fused_update("strata.KerasFtrl", var, {&accum, &linear}, lr,
                     {0.0, power, l1, l2_.get<double>(), beta_.get<double>(), 2.0 * l2_shrinkage_.get<double>()}, g)) {
      return;
    }
    const Tensor l2_reg = scalar_like(lr, l2_.get<double>()) + scalar_like(lr, beta_.get<double>()) / (lr * 2.0);
    const Tensor w = var.value();
    const Tensor grad_to_use = g + w * (2.0 * l2_shrinkage_.get<double>());
    const Tensor old_accum = accum.value();
    const Tensor new_accum = old_accum + pow(g, scalar_like(g, 2.0));
    const Tensor power_t = scalar_like(g, power);
    const Tensor new_linear =
        linear.value() + (grad_to_use - (pow(new_accum, power_t) - pow(old_accum, power_t)) / lr * w);
    set(linear, new_linear);
    const Tensor quadratic = pow(new_accum, power_t) / lr + l2_reg * 2.0;
    const Tensor clipped = clip(new_linear, -l1, l1);
    set(var, (clipped - new_linear) / quadratic);
    set(accum, new_accum);
  }
  void add_config(Config& c) const override {
    c["learning_rate_power"] = learning_rate_power_;
    c["initial_accumulator_value"] = initial_accumulator_value_;
    c["l1_regularization_strength"] = l1_;
    c["l2_regularization_strength"] = l2_;
    c["l2_shrinkage_regularization_strength"] = l2_shrinkage_;
    c["beta"] = beta_;
  }

 private:
  Config learning_rate_power_, initial_accumulator_value_, l1_, l2_, l2_shrinkage_, beta_;
};

template <class T>
void add_optimizer(Registrar& r, const std::string& name, const std::string& alias) {
  ConfigFactory<Optimizer> make = [](const Config& c) -> std::shared_ptr<Optimizer> { return std::make_shared<T>(c); };
  r.add<ObjectKind::kOptimizer>(name, make);
  r.add<ObjectKind::kOptimizer>(alias, make);
  // tf-keras 2.11-2.17 write the new optimizers as "Custom>Adam" in H5 training_config.
  r.add<ObjectKind::kOptimizer>("Custom>" + name, make);
}

}  // namespace

void register_optimizers(Registrar& r) {
  add_optimizer<SGD>(r, "SGD", "sgd");
  add_optimizer<Adam>(r, "Adam", "adam");
  add_optimizer<AdamW>(r, "AdamW", "adamw");
  add_optimizer<RMSprop>(r, "RMSprop", "rmsprop");
  add_optimizer<Adagrad>(r, "Adagrad", "adagrad");
  add_optimizer<Adadelta>(r, "Adadelta", "adadelta");
  add_optimizer<Adamax>(r, "Adamax", "adamax");
  add_optimizer<Nadam>(r, "Nadam", "nadam");
  add_optimizer<Ftrl>(r, "Ftrl", "ftrl");
}

}  // namespace strata::training
