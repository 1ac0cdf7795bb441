// Learning-rate schedules: ExponentialDecay, PiecewiseConstantDecay and CosineDecay as in
// tf-keras 2.17. tf-keras evaluates them as float32 tensors; they are evaluated here on
// the host in float32 arithmetic, which gives the same numbers.
#include <cmath>

#include "common.hpp"
#include "strata/optimizer.hpp"

namespace strata::training {
namespace {

float f32(double x) { return static_cast<float>(x); }

class ExponentialDecay final : public LearningRateSchedule {
 public:
  explicit ExponentialDecay(const Config& c)
      : initial_(get_number(c, "initial_learning_rate", nullptr)), decay_steps_(get_number(c, "decay_steps", nullptr)),
        decay_rate_(get_number(c, "decay_rate", nullptr)), staircase_(get_bool(c, "staircase", false)),
        name_(get_value(c, "name", nullptr)) {
    STRATA_CHECK(!initial_.is_null() && !decay_steps_.is_null() && !decay_rate_.is_null(), ValueError,
                 "ExponentialDecay needs initial_learning_rate, decay_steps and decay_rate");
  }
  std::string class_name() const override { return "ExponentialDecay"; }
  double operator()(std::int64_t step) const override {
    float p = f32(static_cast<double>(step)) / f32(decay_steps_.get<double>());
    if (staircase_) p = std::floor(p);
    return f32(initial_.get<double>()) * std::pow(f32(decay_rate_.get<double>()), p);
  }
  Config get_config() const override {
    return Config{{"initial_learning_rate", initial_}, {"decay_steps", decay_steps_}, {"decay_rate", decay_rate_},
                  {"staircase", staircase_}, {"name", name_}};
  }

 private:
  Config initial_, decay_steps_, decay_rate_;
  bool staircase_;
  Config name_;
};

class PiecewiseConstantDecay final : public LearningRateSchedule {
 public:
  explicit PiecewiseConstantDecay(const Config& c)
      : boundaries_(get_value(c, "boundaries", Config::array())), values_(get_value(c, "values", Config::array())),
        name_(get_value(c, "name", nullptr)) {
    STRATA_CHECK(boundaries_.is_array() && values_.is_array() && boundaries_.size() + 1 == values_.size(), ValueError,
                 "PiecewiseConstantDecay: the length of boundaries should be 1 less than the length of values, got ",
                 boundaries_.dump(), " and ", values_.dump());
    for (const auto& b : boundaries_) {
      STRATA_CHECK(b.is_number(), FormatError, "PiecewiseConstantDecay: boundaries must be numbers, got ", b.dump());
      // tf-keras casts the boundaries to the step's dtype (int64).
      bounds_.push_back(static_cast<std::int64_t>(b.get<double>()));
    }
    for (const auto& v : values_) {
      STRATA_CHECK(v.is_number(), FormatError, "PiecewiseConstantDecay: values must be numbers, got ", v.dump());
      levels_.push_back(f32(v.get<double>()));
    }
  }
  std::string class_name() const override { return "PiecewiseConstantDecay"; }
  // values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <=
  // boundaries[i], values[-1] after the last boundary.
  double operator()(std::int64_t step) const override {
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      if (step <= bounds_[i]) return levels_[i];
    }
    return levels_.back();
  }
  Config get_config() const override { return Config{{"boundaries", boundaries_}, {"values", values_}, {"name", name_}}; }

 private:
  Config boundaries_, values_, name_;
  std::vector<std::int64_t> bounds_;
  std::vector<float> levels_;
};

class CosineDecay final : public LearningRateSchedule {
 public:
  explicit CosineDecay(const Config& c)
      : initial_(get_number(c, "initial_learning_rate", nullptr)), decay_steps_(get_number(c, "decay_steps", nullptr)),
        alpha_(get_number(c, "alpha", 0.0)), name_(get_value(c, "name", nullptr)),
        warmup_target_(get_value(c, "warmup_target", nullptr)), warmup_steps_(get_number(c, "warmup_steps", 0)) {
    STRATA_CHECK(!initial_.is_null() && !decay_steps_.is_null(), ValueError,
                 "CosineDecay needs initial_learning_rate and decay_steps");
    STRATA_CHECK(warmup_target_.is_null() || warmup_target_.is_number(), FormatError,
                 "CosineDecay: warmup_target must be a number or null, got ", warmup_target_.dump());
  }
  std::string class_name() const override { return "CosineDecay"; }
  double operator()(std::int64_t step_in) const override {
    const float initial = f32(initial_.get<double>());
    const float decay_steps = f32(decay_steps_.get<double>());
    float step = f32(static_cast<double>(step_in));
    if (warmup_target_.is_null()) {
      step = std::min(step, decay_steps);
      return decay(step, decay_steps, initial);
    }
    const float target = f32(warmup_target_.get<double>());
    const float warmup_steps = f32(warmup_steps_.get<double>());
    step = std::min(step, decay_steps + warmup_steps);
    if (step < warmup_steps) {
      const float fraction = step / warmup_steps;
      return (target - initial) * fraction + initial;
    }
    return decay(step - warmup_steps, decay_steps, target);
  }
  Config get_config() const override {
    return Config{{"initial_learning_rate", initial_}, {"decay_steps", decay_steps_}, {"alpha", alpha_},
                  {"name", name_}, {"warmup_target", warmup_target_}, {"warmup_steps", warmup_steps_}};
  }

 private:
  float decay(float step, float decay_steps, float from) const {
    const float fraction = step / decay_steps;
    const float cosine = 0.5f * (1.0f + std::cos(f32(M_PI) * fraction));
    const double alpha = alpha_.get<double>();
    const float decayed = f32(1.0 - alpha) * cosine + f32(alpha);
    return from * decayed;
  }

  Config initial_, decay_steps_, alpha_, name_, warmup_target_, warmup_steps_;
};

template <class T>
void add_schedule(Registrar& r, const std::string& name) {
  r.add<ObjectKind::kLearningRateSchedule>(
      name, [](const Config& c) -> std::shared_ptr<LearningRateSchedule> { return std::make_shared<T>(c); });
}

}  // namespace

void register_schedules(Registrar& r) {
  add_schedule<ExponentialDecay>(r, "ExponentialDecay");
  add_schedule<PiecewiseConstantDecay>(r, "PiecewiseConstantDecay");
  add_schedule<CosineDecay>(r, "CosineDecay");
}

}  // namespace strata::training
