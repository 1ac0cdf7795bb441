// Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.
// Element-wise merges follow Keras: inputs of lower rank get size-1 axes inserted after
// the batch axis, then NumPy broadcasting applies; the output mask is the AND of the
// input masks. Concatenate's mask concatenates the masks (all-true for inputs without
// one) and keeps the steps where every part is valid.
#include "common.hpp"

namespace strata::layers {
namespace {

// Keras's _compute_elemwise_op_output_shape over the non-batch dimensions.
std::vector<std::int64_t> broadcast_dims(const Layer& layer, std::vector<std::int64_t> a, std::vector<std::int64_t> b) {
  if (a.size() < b.size()) std::swap(a, b);
  std::vector<std::int64_t> out(a.begin(), a.end() - static_cast<std::ptrdiff_t>(b.size()));
  for (std::size_t k = 0; k < b.size(); ++k) {
    const std::int64_t i = a[a.size() - b.size() + k], j = b[k];
    if (i == Shape::kUnknown || j == Shape::kUnknown) {
      out.push_back(Shape::kUnknown);
    } else if (i == 1) {
      out.push_back(j);
    } else if (j == 1 || i == j) {
      out.push_back(i);
    } else {
      STRATA_THROW(ValueError, "layer '", layer.name(), "' (", layer.class_name(), "): inputs have incompatible shapes ",
                   Shape(a).to_string(), " and ", Shape(b).to_string());
    }
  }
  return out;
}

class Merge : public Layer, public InferenceTraceable {
 public:
  Merge(std::string class_name, const Config& c, std::size_t exact_inputs = 0)
      : Layer(std::move(class_name), c), exact_inputs_(exact_inputs) {
    set_supports_masking(true);
  }

  void build(const std::vector<Shape>& shapes) override {
    STRATA_CHECK(!shapes.empty(), ValueError, "a merge layer ('", name(), "') must be called on a list of inputs");
    STRATA_CHECK(exact_inputs_ == 0 || shapes.size() == exact_inputs_, ValueError, "a ", class_name(), " layer ('",
                 name(), "') must be called on exactly ", exact_inputs_, " inputs, got ", shapes.size());
    std::int64_t batch = Shape::kUnknown;
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      require_rank(*this, shapes[i], 1, /*at_least=*/true);
      const auto& d = shapes[i].dims();
      if (d[0] != Shape::kUnknown) {
        STRATA_CHECK(batch == Shape::kUnknown || batch == d[0], ValueError, "layer '", name(),
                     "': cannot merge tensors with different batch sizes");
        batch = d[0];
      }
      std::vector<std::int64_t> rest(d.begin() + 1, d.end());
      out = i == 0 ? rest : broadcast_dims(*this, out, rest);
    }
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    STRATA_CHECK(!inputs.empty(), ValueError, "a merge layer ('", name(), "') must be called on a list of inputs");
    STRATA_CHECK(exact_inputs_ == 0 || inputs.size() == exact_inputs_, ValueError, "a ", class_name(), " layer ('",
                 name(), "') must be called on exactly ", exact_inputs_, " inputs, got ", inputs.size());
    std::size_t max_rank = 0;
    for (const auto& x : inputs) max_rank = std::max(max_rank, x.rank());
    std::vector<Tensor> xs;
    for (Tensor x : inputs) {
      while (x.rank() < max_rank) x = expand_dims(x, 1);
      xs.push_back(x);
    }
    return {merge(xs)};
  }

  std::vector<Tensor> compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const override {
    Tensor out;
    for (const auto& m : masks) {
      if (!m.defined()) continue;
      out = out.defined() ? logical_and(out, m) : m;
    }
    if (!out.defined()) return {};
    return {out};
  }

 protected:
  virtual Tensor merge(const std::vector<Tensor>& xs) const = 0;

 private:
  std::size_t exact_inputs_;
};

class Add final : public Merge {
 public:
  explicit Add(const Config& c) : Merge("Add", c) {}

 protected:
  Tensor merge(const std::vector<Tensor>& xs) const override {
    Tensor out = xs[0];
    for (std::size_t i = 1; i < xs.size(); ++i) out = out + xs[i];
    return out;
  }
};

class Subtract final : public Merge {
 public:
  explicit Subtract(const Config& c) : Merge("Subtract", c, 2) {}

 protected:
  Tensor merge(const std::vector<Tensor>& xs) const override { return xs[0] - xs[1]; }
};

class Multiply final : public Merge {
 public:
  explicit Multiply(const Config& c) : Merge("Multiply", c) {}

 protected:
  Tensor merge(const std::vector<Tensor>& xs) const override {
    Tensor out = xs[0];
    for (std::size_t i = 1; i < xs.size(); ++i) out = out * xs[i];
    return out;
  }
};

class Average final : public Merge {
 public:
  explicit Average(const Config& c) : Merge("Average", c) {}

 protected:
  Tensor merge(const std::vector<Tensor>& xs) const override {
    Tensor out = xs[0];
    for (std::size_t i = 1; i < xs.size(); ++i) out = out + xs[i];
    return out / static_cast<double>(xs.size());
  }
};

class Maximum final : public Merge {
 public:
  explicit Maximum(const Config& c) : Merge("Maximum", c) {}

 protected:
  Tensor merge(const std::vector<Tensor>& xs) const override {
    Tensor out = xs[0];
    for (std::size_t i = 1; i < xs.size(); ++i) out = maximum(out, xs[i]);
    return out;
  }
};

class Minimum final : public Merge {
 public:
  explicit Minimum(const Config& c) : Merge("Minimum", c) {}

 protected:
  Tensor merge(const std::vector<Tensor>& xs) const override {
    Tensor out = xs[0];
    for (std::size_t i = 1; i < xs.size(); ++i) out = minimum(out, xs[i]);
    return out;
  }
};

class Concatenate final : public Layer, public InferenceTraceable {
 public:
  explicit Concatenate(const Config& c) : Layer("Concatenate", c) {
    auto frame = ErrorContext::push("reading the config of Concatenate layer '", name(), "'");
    axis_ = get_int(c, "axis", -1);
    set_supports_masking(true);
  }

  void build(const std::vector<Shape>& shapes) override {
    STRATA_CHECK(!shapes.empty(), ValueError, "a Concatenate layer ('", name(), "') must be called on a list of inputs");
    const std::size_t rank = shapes[0].rank();
    for (const auto& s : shapes) {
      STRATA_CHECK(s.rank() == rank, ValueError, "a Concatenate layer ('", name(),
                   "') requires inputs with matching shapes except for the concatenation axis; got ranks ", rank,
                   " and ", s.rank());
    }
    const std::size_t axis = shapes[0].normalize_axis(axis_);
    for (std::size_t d = 0; d < rank; ++d) {
      if (d == axis) continue;
      std::int64_t known = Shape::kUnknown;
      for (const auto& s : shapes) {
        const std::int64_t v = s.dims()[d];
        if (v == Shape::kUnknown) continue;
        STRATA_CHECK(known == Shape::kUnknown || known == v, ValueError, "a Concatenate layer ('", name(),
                     "') requires inputs with matching shapes except for the concatenation axis; got ",
                     shapes[0].to_string(), " and ", s.to_string());
        known = v;
      }
    }
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    STRATA_CHECK(!inputs.empty(), ValueError, "a Concatenate layer ('", name(), "') must be called on a list of inputs");
    return {concat(inputs, axis_)};
  }

  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) const override {
    if (std::none_of(masks.begin(), masks.end(), [](const Tensor& m) { return m.defined(); })) return {};
    // Masks as wide as their input keep that width; narrower ones get a trailing axis.
    bool full_width = false;
    for (std::size_t i = 0; i < masks.size() && i < inputs.size(); ++i) {
      if (masks[i].defined() && masks[i].rank() == inputs[i].rank()) full_width = true;
    }
    std::vector<Tensor> parts;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& x = inputs[i];
      const Tensor m = i < masks.size() ? masks[i] : Tensor();
      if (m.defined()) {
        parts.push_back(m.rank() < x.rank() ? expand_dims(m, -1) : m);
      } else if (full_width) {
        parts.push_back(cast(ones_like(x), DType::kBool));
      } else {
        // All-true of x's shape with a last axis of 1: what Keras's ones_like(x) gives
        // after the reduction over the last axis, and concatenable along any axis.
        std::vector<std::int64_t> begin(x.rank(), 0), size(x.rank(), -1);
        size.back() = 1;
        parts.push_back(cast(ones_like(slice(x, begin, size)), DType::kBool));
      }
    }
    return {reduce_all(concat(parts, axis_), {-1})};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["axis"] = axis_;
    return c;
  }

 private:
  std::int64_t axis_ = -1;
};

// Dot: tf-keras's backend.batch_dot of two inputs over one axis each (after optional L2
// normalization along those axes), written as an einsum: the batch axis is shared, the
// output has the other axes of x then those of y, and (batch,) becomes (batch, 1).
class Dot final : public Layer {
 public:
  explicit Dot(const Config& c) : Layer("Dot", c) {
    auto frame = ErrorContext::push("reading the config of Dot layer '", name(), "'");
    const ConfigReader r(c, *this);
    const Config* axes = r.find("axes");
    STRATA_CHECK(axes != nullptr && !axes->is_null(), FormatError, ConfigReader::subject_of(*this),
                 ": 'axes' is required");
    STRATA_CHECK(axes->is_number_integer() || (axes->is_array() && axes->size() == 2 && (*axes)[0].is_number_integer() &&
                                               (*axes)[1].is_number_integer()),
                 ValueError, ConfigReader::subject_of(*this),
                 ": 'axes' must be an integer or a list of two integers, got ", axes->dump());
    axes_config_ = *axes;
    normalize_ = r.optional("normalize", false);
    set_supports_masking(true);
  }

  void build(const std::vector<Shape>& shapes) override {
    STRATA_CHECK(shapes.size() == 2, ValueError, ConfigReader::subject_of(*this),
                 ": a Dot layer should be called on a list of 2 inputs, got ", shapes.size());
    const auto axes = resolved(shapes[0].rank(), shapes[1].rank());
    const std::int64_t a = shapes[0].dims()[static_cast<std::size_t>(axes.first)];
    const std::int64_t b = shapes[1].dims()[static_cast<std::size_t>(axes.second)];
    STRATA_CHECK(a == Shape::kUnknown || b == Shape::kUnknown || a == b, ValueError, ConfigReader::subject_of(*this),
                 ": incompatible input shapes: axis values ", a, " (at axis ", axes.first, ") != ", b, " (at axis ",
                 axes.second, "). Full input shapes: ", shapes[0].to_string(), ", ", shapes[1].to_string());
  }

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    STRATA_CHECK(inputs.size() == 2, ValueError, ConfigReader::subject_of(*this),
                 ": a Dot layer should be called on exactly 2 inputs, got ", inputs.size());
    Tensor x = inputs[0], y = inputs[1];
    const auto axes = resolved(x.rank(), y.rank());
    if (normalize_) {
      x = l2_normalize(x, axes.first);
      y = l2_normalize(y, axes.second);
    }
    // Letters: batch 'a', contracted 'b', the rest of x and y after them.
    std::string tx, ty, out = "a";
    char next = 'c';
    for (std::size_t i = 0; i < x.rank(); ++i) {
      if (i == 0) {
        tx += 'a';
      } else if (static_cast<std::int64_t>(i) == axes.first) {
        tx += 'b';
      } else {
        tx += next;
        out += next++;
      }
    }
    for (std::size_t i = 0; i < y.rank(); ++i) {
      if (i == 0) {
        ty += 'a';
      } else if (static_cast<std::int64_t>(i) == axes.second) {
        ty += 'b';
      } else {
        ty += next;
        out += next++;
      }
    }
    Tensor z = einsum(tx + "," + ty + "->" + out, {x, y});
    if (z.rank() == 1) z = expand_dims(z, 1);
    return {z};
  }

  std::vector<Tensor> compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) const override {
    Tensor out;
    for (const auto& m : masks) {
      if (m.defined()) out = out.defined() ? logical_and(out, m) : m;
    }
    if (!out.defined()) return {};
    return {out};
  }

  Config get_config() const override {
    Config c = Layer::get_config();
    c["axes"] = axes_config_;
    c["normalize"] = normalize_;
    return c;
  }

 private:
  // tf-keras: negative axes modulo each input's rank; the batch axis cannot be contracted.
  std::pair<std::int64_t, std::int64_t> resolved(std::size_t rank_x, std::size_t rank_y) const {
    std::int64_t a = 0, b = 0;
    if (axes_config_.is_number_integer()) {
      a = b = axes_config_.get<std::int64_t>();
    } else {
      a = axes_config_[0].get<std::int64_t>();
      b = axes_config_[1].get<std::int64_t>();
    }
    const auto rx = static_cast<std::int64_t>(rank_x), ry = static_cast<std::int64_t>(rank_y);
    if (a < 0) a = ((a % rx) + rx) % rx;
    if (b < 0) b = ((b % ry) + ry) % ry;
    STRATA_CHECK(rank_x >= 2 && rank_y >= 2 && a >= 1 && a < rx && b >= 1 && b < ry, ValueError,
                 ConfigReader::subject_of(*this), ": axes ", axes_config_.dump(),
                 " do not name a non-batch axis of inputs of rank ", rank_x, " and ", rank_y);
    return {a, b};
  }

  // tf.linalg.l2_normalize: x / sqrt(max(sum(x^2), 1e-12)).
  static Tensor l2_normalize(const Tensor& x, std::int64_t axis) {
    return x * rsqrt(maximum(sum(square(x), {axis}, true), scalar_like(x, 1e-12)));
  }

  Config axes_config_;
  bool normalize_ = false;
};

}  // namespace

void register_merge_layers(Registrar& registrar) {
  register_layer<Add>(registrar, "Add");
  register_layer<Subtract>(registrar, "Subtract");
  register_layer<Multiply>(registrar, "Multiply");
  register_layer<Average>(registrar, "Average");
  register_layer<Maximum>(registrar, "Maximum");
  register_layer<Minimum>(registrar, "Minimum");
  register_layer<Concatenate>(registrar, "Concatenate");
  register_layer<Dot>(registrar, "Dot");
}

}  // namespace strata::layers
