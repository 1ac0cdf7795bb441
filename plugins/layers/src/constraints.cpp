// Keras's weight constraints MaxNorm, NonNeg, UnitNorm and MinMaxNorm (with tf-keras's
// aliases). Norms are taken over `axis` (an int or a list), with Keras's epsilon 1e-7.
#include <algorithm>

#include "common.hpp"

namespace strata::layers {
namespace {

constexpr double kEpsilon = 1e-7;  // Keras backend.epsilon()

std::vector<std::int64_t> axes_of(const Config& axis) {
  if (axis.is_number()) return {axis.get<std::int64_t>()};
  std::vector<std::int64_t> out;
  for (const auto& a : axis) out.push_back(a.get<std::int64_t>());
  return out;
}

Config axis_config(const Config& c) {
  const Config* v = find_key(c, "axis");
  if (!v) return 0;
  STRATA_CHECK(v->is_number_integer() || (v->is_array() && std::all_of(v->begin(), v->end(), [](const Config& a) {
                                            return a.is_number_integer();
                                          })),
               FormatError, "constraint axis must be an integer or a list of integers, got ", v->dump());
  return *v;
}

Tensor norms(const Tensor& w, const Config& axis) { return sqrt(sum(square(w), axes_of(axis), /*keepdims=*/true)); }

Tensor clip(const Tensor& x, double lo, double hi) {
  return minimum(maximum(x, scalar_like(x, lo)), scalar_like(x, hi));
}

class MaxNorm final : public Constraint {
 public:
  explicit MaxNorm(const Config& c) : max_value_(get_number(c, "max_value", 2)), axis_(axis_config(c)) {}
  std::string class_name() const override { return "MaxNorm"; }
  Tensor operator()(const Tensor& w) const override {
    const Tensor n = norms(w, axis_);
    const Tensor desired = clip(n, 0.0, max_value_.get<double>());
    return w * (desired / (n + kEpsilon));
  }
  Config get_config() const override { return Config{{"max_value", max_value_}, {"axis", axis_}}; }

 private:
  Config max_value_, axis_;
};

class NonNeg final : public Constraint {
 public:
  explicit NonNeg(const Config&) {}
  std::string class_name() const override { return "NonNeg"; }
  Tensor operator()(const Tensor& w) const override {
    return w * cast(greater_equal(w, scalar_like(w, 0.0)), w.dtype());
  }
};

class UnitNorm final : public Constraint {
 public:
  explicit UnitNorm(const Config& c) : axis_(axis_config(c)) {}
  std::string class_name() const override { return "UnitNorm"; }
  Tensor operator()(const Tensor& w) const override { return w / (norms(w, axis_) + kEpsilon); }
  Config get_config() const override { return Config{{"axis", axis_}}; }

 private:
  Config axis_;
};

class MinMaxNorm final : public Constraint {
 public:
  explicit MinMaxNorm(const Config& c)
      : min_value_(get_number(c, "min_value", 0.0)),
        max_value_(get_number(c, "max_value", 1.0)),
        rate_(get_number(c, "rate", 1.0)),
        axis_(axis_config(c)) {}
  std::string class_name() const override { return "MinMaxNorm"; }
  Tensor operator()(const Tensor& w) const override {
    const Tensor n = norms(w, axis_);
    const double rate = rate_.get<double>();
    const Tensor desired = clip(n, min_value_.get<double>(), max_value_.get<double>()) * rate + n * (1.0 - rate);
    return w * (desired / (n + kEpsilon));
  }
  Config get_config() const override {
    return Config{{"min_value", min_value_}, {"max_value", max_value_}, {"rate", rate_}, {"axis", axis_}};
  }

 private:
  Config min_value_, max_value_, rate_, axis_;
};

template <class T>
KindValue<ObjectKind::kConstraint> make() {
  return [](const Config& c) -> std::shared_ptr<Constraint> { return std::make_shared<T>(c); };
}

}  // namespace

void register_constraints(Registrar& registrar) {
  for (const char* name : {"MaxNorm", "max_norm", "maxnorm"}) registrar.add<ObjectKind::kConstraint>(name, make<MaxNorm>());
  for (const char* name : {"NonNeg", "non_neg", "nonneg"}) registrar.add<ObjectKind::kConstraint>(name, make<NonNeg>());
  for (const char* name : {"UnitNorm", "unit_norm", "unitnorm"}) registrar.add<ObjectKind::kConstraint>(name, make<UnitNorm>());
  for (const char* name : {"MinMaxNorm", "min_max_norm"}) registrar.add<ObjectKind::kConstraint>(name, make<MinMaxNorm>());
}

}  // namespace strata::layers
