// Optimizers and learning-rate schedules, with Keras's (tf-keras 2.11+) semantics and
// state layout. An optimizer owns an `iteration` counter and slot variables per trained
// variable; variables() lists them in the order tf-keras does (iteration first, then the
// slots in the order the optimizer's build creates them — Adam: m and v interleaved per
// variable; RMSprop: all velocities, then all momentums, then all average gradients),
// which is the order H5 files and checkpoints hold them in.
//
// Thread safety: an optimizer belongs to one training loop; not for concurrent use.
#pragma once

#include "strata/export.hpp"
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/serialization.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata {

class LearningRateSchedule : public Serializable {
 public:
  ~LearningRateSchedule() override;
  // The learning rate for 0-based step `step` (the optimizer's iteration count).
  virtual double operator()(std::int64_t step) const = 0;
};

std::shared_ptr<LearningRateSchedule> get_learning_rate_schedule(const Config& value,
                                                                 const CustomObjects* custom_objects = nullptr);

class Optimizer : public Serializable {
 public:
  // Reads the keys every optimizer shares: name, learning_rate (a number or a serialised
  // schedule), weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema (true is
  // refused), and ignores jit_compile / is_legacy_optimizer / ema settings.
  Optimizer(std::string class_name, const Config& config, double default_learning_rate);
  ~Optimizer() override;

  std::string class_name() const override { return class_name_; }
  const std::string& name() const noexcept { return name_; }

  // The number of steps applied so far (an int64 scalar variable named "iteration").
  const Variable& iterations() const noexcept { return iterations_; }
  // The learning rate for the next step.
  double learning_rate() const;
  // Sets a constant learning rate (replacing a schedule).
  void set_learning_rate(double lr);
  const std::shared_ptr<LearningRateSchedule>& learning_rate_schedule() const noexcept { return schedule_; }

  // Creates the slots of variables not seen before (Keras build). Idempotent.
  void build(const std::vector<Variable>& variables);
  // One step: clipping (clipvalue, clipnorm per gradient, global_clipnorm), decoupled
  // weight decay, the update of each variable whose gradient is defined, then the
  // variables' constraints are applied by the caller. iteration += 1.
  void apply_gradients(const std::vector<Tensor>& gradients, const std::vector<Variable>& variables);

  // iteration, then every slot, in tf-keras's order.
  std::vector<Variable> variables() const;
  // How a list of optimizer weights is ordered. kCurrent: tf-keras 2.11+ optimizers, what
  // variables() returns and what Strata writes (iteration, then each variable's slots in
  // turn: m0 v0 m1 v1 ...). kLegacy: tf-keras's legacy OptimizerV2 (iterations, then one slot
  // kind for every variable, then the next kind: m0 m1 ... v0 v1 ...), as files written by
  // Keras before 2.11 or with is_legacy_optimizer=True hold them.
  enum class WeightLayout { kCurrent, kLegacy };
  // Assigns variables() from `values` given in `layout` order (H5 optimizer_weights).
  // ValueError on a count mismatch, ShapeError naming the slot on a shape mismatch; nothing
  // is assigned unless everything matches.
  void set_weights(const std::vector<Tensor>& values, WeightLayout layout = WeightLayout::kCurrent);

  struct Slot {
    std::string name;   // "m", "v", "momentum", "velocity", ...
    Variable variable;  // the trained variable
    Variable slot;
  };
  const std::vector<Slot>& slots() const noexcept { return slots_; }

  // Base keys in tf-keras's order (name, weight_decay, clipnorm, global_clipnorm,
  // clipvalue, use_ema, ema_momentum, ema_overwrite_frequency, jit_compile,
  // is_legacy_optimizer, learning_rate), then the subclass's.
  Config get_config() const override;

 protected:
  // Create the slots of `variables` (only new ones are passed) with add_slot, in the
  // order tf-keras's build creates them.
  virtual void build_slots(const std::vector<Variable>& variables) = 0;
  // Update one variable. `lr` is a scalar of the variable's dtype on its device; `step`
  // the 1-based step number (iterations + 1) for bias corrections.
  virtual void update_step(const Tensor& gradient, const Variable& variable, const Tensor& lr, std::int64_t step) = 0;

  Variable add_slot(const Variable& variable, const std::string& slot_name, double initial_value = 0.0);
  // The slot `slot_name` of `variable` (ValueError when missing).
  const Variable& slot(const Variable& variable, const std::string& slot_name) const;
  // config helpers for subclasses
  static double config_double(const Config& c, const char* key, double fallback);
  static bool config_bool(const Config& c, const char* key, bool fallback);

 private:
  std::string class_name_;
  std::string name_;
  double learning_rate_ = 0.001;
  std::shared_ptr<LearningRateSchedule> schedule_;
  std::optional<double> weight_decay_, clipnorm_, clipvalue_, global_clipnorm_;
  Variable iterations_;
  std::vector<Slot> slots_;
  std::vector<std::uint64_t> built_ids_;
};

// "adam", "sgd", {"class_name": "Adam", "config": {...}}, "Custom>Adam", ...
// Keras's LossScaleOptimizer (tf-keras's LossScaleOptimizerV3 and legacy LossScaleOptimizer,
// Keras 3's LossScaleOptimizer, TF 2.2's {"optimizer", "loss_scale"} form) gives its inner
// optimizer, carrying the loss scale (loss_scale() below); saving writes the wrapper back.
std::shared_ptr<Optimizer> get_optimizer(const Config& value, const CustomObjects* custom_objects = nullptr);

// The loss scaling of mixed-precision training (Keras's LossScaleOptimizer) that an optimizer
// read from such a config carries; train_step multiplies the loss by `scale` and the optimizer
// divides the gradients by it. Dynamic: non-finite gradients skip the step and halve the
// scale; `growth_steps` finite steps in a row double it. Since plugin ABI 2.4.
struct LossScale {
  bool dynamic = true;
  double initial_scale = 32768.0;
  std::int64_t growth_steps = 2000;
  Variable scale;       // float32 scalar: the current loss scale
  Variable good_steps;  // int64 scalar: finite steps since the scale last changed
  // The wrapper's class as read ("LossScaleOptimizerV3", "LossScaleOptimizer") and, for
  // Keras 3's, its name; written back by saves.
  std::string class_name;
  std::string name;
};
// nullptr when `optimizer` has no loss scale.
const LossScale* loss_scale(const Optimizer& optimizer);

}  // namespace strata

STRATA_API_END
