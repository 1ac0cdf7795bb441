// Keras's weight regularizers L1, L2 and L1L2 (with the aliases l1, l2, l1_l2), and
// OrthogonalRegularizer (tf-keras 2.13+ and Keras 3; alias orthogonal_regularizer). Like
// tf-keras, factors are cast to float32 on construction, so configs write
// 0.009999999776482582 for 0.01.
#include "common.hpp"

namespace strata::layers {
namespace {

class L1L2Regularizer final : public Regularizer {
 public:
  // `writes_l1`/`writes_l2`: which keys the class's config has (L1: l1, L2: l2, L1L2: both).
  L1L2Regularizer(std::string name, double l1, double l2, bool writes_l1, bool writes_l2)
      : name_(std::move(name)), l1_(round_to_float32(l1)), l2_(round_to_float32(l2)), writes_l1_(writes_l1), writes_l2_(writes_l2) {}

  std::string class_name() const override { return name_; }
  Tensor operator()(const Tensor& weight) const override {
    Tensor penalty;
    if (l1_ != 0.0) penalty = sum(abs(weight)) * l1_;
    if (l2_ != 0.0) {
      Tensor l2 = sum(square(weight)) * l2_;
      penalty = penalty.defined() ? penalty + l2 : l2;
    }
    return penalty.defined() ? penalty : scalar_like(weight, 0.0);
  }
  Config get_config() const override {
    Config c = Config::object();
    if (writes_l1_) c["l1"] = l1_;
    if (writes_l2_) c["l2"] = l2_;
    return c;
  }

 private:
  std::string name_;
  double l1_, l2_;
  bool writes_l1_, writes_l2_;
};

// factor * 0.5 * sum|off-diagonal of N N^T| / (size (size - 1) / 2), N the kernel with its
// rows ("rows") or columns ("columns") L2-normalized as Keras 3's ops.normalize does
// (x * min(rsqrt(sum x^2), 1 / 1e-7)). The off-diagonal sum is the whole sum less the
// diagonal, which is each row's (column's) sum of squares.
class OrthogonalRegularizer final : public Regularizer {
 public:
  explicit OrthogonalRegularizer(const Config& c) {
    const ConfigReader r(c, "regularizer OrthogonalRegularizer");
    factor_ = r.optional<double>("factor", 0.01, Range::non_negative());
    mode_ = r.one_of("mode", {"rows", "columns"}, "rows");
  }
  std::string class_name() const override { return "OrthogonalRegularizer"; }
  Tensor operator()(const Tensor& weight) const override {
    STRATA_CHECK(weight.shape().rank() == 2, ValueError,
                 "OrthogonalRegularizer applies to kernels of rank 2, got shape ", weight.shape().to_string());
    const bool rows = mode_ == "rows";
    const std::int64_t axis = rows ? 1 : 0;
    const Tensor inv = minimum(rsqrt(sum(square(weight), {axis}, true)), scalar_like(weight, 1e7));
    const Tensor n = weight * inv;
    const Tensor product = rows ? matmul(n, n, false, true) : matmul(n, n, true, false);
    const double size = static_cast<double>(weight.shape().dims()[rows ? 0 : 1]);
    const Tensor off_diagonal = sum(abs(product)) - sum(square(n));
    return off_diagonal * (factor_ * 0.5 / (size * (size - 1.0) / 2.0));
  }
  Config get_config() const override {
    Config c = Config::object();
    c["factor"] = factor_;
    c["mode"] = mode_;
    return c;
  }

 private:
  double factor_ = 0.01;
  std::string mode_;
};

double factor(const Config& c, const char* key, double fallback) {
  // tf-keras's L1/L2 also accept the pre-2.3 key "l".
  const double legacy = get_double(c, "l", fallback);
  return get_double(c, key, legacy);
}

}  // namespace

void register_regularizers(Registrar& registrar) {
  auto l1 = [](const Config& c) -> std::shared_ptr<Regularizer> {
    return std::make_shared<L1L2Regularizer>("L1", factor(c, "l1", 0.01), 0.0, true, false);
  };
  auto l2 = [](const Config& c) -> std::shared_ptr<Regularizer> {
    return std::make_shared<L1L2Regularizer>("L2", 0.0, factor(c, "l2", 0.01), false, true);
  };
  registrar.add<ObjectKind::kRegularizer>("L1", l1);
  registrar.add<ObjectKind::kRegularizer>("l1", l1);
  registrar.add<ObjectKind::kRegularizer>("L2", l2);
  registrar.add<ObjectKind::kRegularizer>("l2", l2);
  // The class defaults to no penalty; the l1_l2 function to 0.01 for both.
  registrar.add<ObjectKind::kRegularizer>("L1L2", [](const Config& c) -> std::shared_ptr<Regularizer> {
    return std::make_shared<L1L2Regularizer>("L1L2", get_double(c, "l1", 0.0), get_double(c, "l2", 0.0), true, true);
  });
  auto orthogonal = [](const Config& c) -> std::shared_ptr<Regularizer> {
    return std::make_shared<OrthogonalRegularizer>(c);
  };
  registrar.add<ObjectKind::kRegularizer>("OrthogonalRegularizer", orthogonal);
  registrar.add<ObjectKind::kRegularizer>("orthogonal_regularizer", orthogonal);
  registrar.add<ObjectKind::kRegularizer>("l1_l2", [](const Config& c) -> std::shared_ptr<Regularizer> {
    return std::make_shared<L1L2Regularizer>("L1L2", get_double(c, "l1", 0.01), get_double(c, "l2", 0.01), true, true);
  });
}

}  // namespace strata::layers
