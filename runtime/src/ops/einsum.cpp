// einsum (strata/ops.hpp) lowered to Sum, Transpose, Reshape and one MatMul/BatchMatMulV2:
// labels in both operands and the output are batch dimensions, labels in both operands only
// are contracted, the others are the rows of a and the columns of b; labels of one operand
// found nowhere else are summed first. The one-operand form transposes and/or reduces.
// Since only these ops are used, every backend runs it and gradients come from the ops.
// One implementation for the layers (EinsumDense, MultiHeadAttention, Dot) and the
// SavedModel reviver's TensorFlow `Einsum` op.
#include <algorithm>
#include <cctype>
#include <map>
#include <vector>

#include "strata/error.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

// A label: a letter's code, or kEllipsis + k for the k-th broadcast dimension counted
// from the right of the "...".
using Label = int;
constexpr Label kEllipsis = 1000;

struct Term {
  std::vector<Label> labels;
  bool has_ellipsis = false;
  std::size_t letters = 0;  // labels written as letters
};

Term parse_term(const std::string& equation, const std::string& text) {
  Term t;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "...") == 0) {
      STRATA_CHECK(!t.has_ellipsis, ValueError, "einsum equation '", equation, "': a term has two ellipses");
      t.has_ellipsis = true;
      t.labels.push_back(-1);  // placeholder, expanded per operand rank
      i += 3;
      continue;
    }
    const char c = text[i];
    STRATA_CHECK(std::isalpha(static_cast<unsigned char>(c)), ValueError, "einsum equation '", equation,
                 "': unexpected character '", std::string(1, c), "' (labels are letters, broadcasting is '...')");
    STRATA_CHECK(std::find(t.labels.begin(), t.labels.end(), static_cast<Label>(c)) == t.labels.end(), ValueError,
                 "einsum equation '", equation, "': label '", std::string(1, c),
                 "' is repeated within one term (diagonals are not supported)");
    t.labels.push_back(static_cast<Label>(c));
    ++t.letters;
    ++i;
  }
  return t;
}

// Replaces the ellipsis placeholder by `n` broadcast labels.
std::vector<Label> expand(const Term& t, std::size_t n) {
  std::vector<Label> out;
  for (Label l : t.labels) {
    if (l != -1) {
      out.push_back(l);
      continue;
    }
    for (std::size_t k = n; k-- > 0;) out.push_back(kEllipsis + static_cast<Label>(k));
  }
  return out;
}

struct Parsed {
  std::vector<std::vector<Label>> inputs;
  std::vector<Label> output;
};

Parsed parse(const std::string& raw, const std::vector<const Tensor*>& operands) {
  std::string equation;
  for (char c : raw) {
    if (!std::isspace(static_cast<unsigned char>(c))) equation += c;
  }
  const auto arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  std::vector<std::string> terms;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= lhs.size(); ++i) {
    if (i == lhs.size() || lhs[i] == ',') {
      terms.push_back(lhs.substr(start, i - start));
      start = i + 1;
    }
  }
  STRATA_CHECK(terms.size() == operands.size(), ValueError, "einsum equation '", raw, "' has ", terms.size(),
               " input terms but ", operands.size(), " operands were given");
  Parsed p;
  std::size_t broadcast = 0;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const Term t = parse_term(raw, terms[i]);
    const Shape& s = operands[i]->shape();
    STRATA_CHECK(s.has_known_rank(), ShapeError, "einsum '", raw, "' needs operands of known rank");
    const std::size_t rank = s.rank();
    STRATA_CHECK(t.has_ellipsis ? rank >= t.letters : rank == t.letters, ShapeError, "einsum equation '", raw,
                 "': term '", terms[i], "' does not fit operand ", i, " of shape ", s.to_string());
    const std::size_t n = t.has_ellipsis ? rank - t.letters : 0;
    broadcast = std::max(broadcast, n);
    p.inputs.push_back(expand(t, n));
  }
  if (arrow != std::string::npos) {
    const Term out = parse_term(raw, equation.substr(arrow + 2));
    p.output = expand(out, out.has_ellipsis ? broadcast : 0);
  } else {
    std::map<Label, int> counts;
    for (const auto& in : p.inputs) {
      for (Label l : in) ++counts[l];
    }
    for (std::size_t k = broadcast; k-- > 0;) p.output.push_back(kEllipsis + static_cast<Label>(k));
    for (const auto& [l, n] : counts) {
      if (l < kEllipsis && n == 1) p.output.push_back(l);
    }
  }
  for (Label l : p.output) {
    const bool found = std::any_of(p.inputs.begin(), p.inputs.end(), [&](const std::vector<Label>& in) {
      return std::find(in.begin(), in.end(), l) != in.end();
    });
    STRATA_CHECK(found, ValueError, "einsum equation '", raw, "': output label '",
                 l >= kEllipsis ? std::string("...") : std::string(1, static_cast<char>(l)),
                 "' appears in no input term");
  }
  return p;
}

bool contains(const std::vector<Label>& v, Label l) {
  return std::find(v.begin(), v.end(), l) != v.end();
}

std::int64_t index_of(const std::vector<Label>& v, Label l) {
  return static_cast<std::int64_t>(std::find(v.begin(), v.end(), l) - v.begin());
}

// Sums away the labels of `x` that `keep` does not name; returns the new label list.
Tensor reduce_to(const Tensor& x, std::vector<Label>& labels, const std::vector<Label>& keep) {
  std::vector<std::int64_t> axes;
  std::vector<Label> kept;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (contains(keep, labels[i])) {
      kept.push_back(labels[i]);
    } else {
      axes.push_back(static_cast<std::int64_t>(i));
    }
  }
  labels = kept;
  return axes.empty() ? x : sum(x, axes);
}

Tensor permute(const Tensor& x, const std::vector<Label>& from, const std::vector<Label>& to) {
  std::vector<std::int64_t> perm;
  bool identity_perm = true;
  for (std::size_t i = 0; i < to.size(); ++i) {
    perm.push_back(index_of(from, to[i]));
    identity_perm = identity_perm && perm.back() == static_cast<std::int64_t>(i);
  }
  return identity_perm ? x : transpose(x, perm);
}

// One dimension of a reshape target: the product of the dimensions `axes` of `source`.
struct Dim {
  const Tensor* source;
  std::vector<std::int64_t> axes;
};

// Reshapes x to the dimensions `dims`; a static shape when at most one is unknown at
// this point, else a shape computed with Shape ops when the graph runs.
Tensor reshape_to(const Tensor& x, const std::vector<Dim>& dims) {
  std::vector<std::int64_t> known;
  int unknown = 0;
  for (const Dim& d : dims) {
    std::int64_t n = 1;
    for (auto a : d.axes) {
      const std::int64_t s = d.source->shape()[static_cast<std::size_t>(a)];
      n = (s == Shape::kUnknown || n == Shape::kUnknown) ? Shape::kUnknown : n * s;
    }
    unknown += n == Shape::kUnknown ? 1 : 0;
    known.push_back(n);
  }
  if (x.shape().is_fully_defined() && Shape(known) == x.shape()) return x;
  if (unknown <= 1) return reshape(x, Shape(known));
  std::vector<Tensor> parts;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (known[i] != Shape::kUnknown) {
      parts.push_back(int_tensor({known[i]}));
      continue;
    }
    const Tensor shape = shape_of(*dims[i].source);
    Tensor n;
    for (auto a : dims[i].axes) {
      const Tensor s = slice(shape, {a}, {1});
      n = n.defined() ? mul(n, s) : s;
    }
    parts.push_back(n);
  }
  const Tensor y = execute1("Reshape", {x, concat(parts, 0)});
  // Shape inference sees no constant target and leaves every dimension unknown; adding
  // zeros of the dimensions known here (1 for the unknown ones) gives them back by
  // broadcasting. Only symbolic calls get here: eager tensors have every dimension known.
  std::vector<std::int64_t> pin;
  bool any = false;
  for (auto d : known) {
    pin.push_back(d == Shape::kUnknown ? 1 : d);
    any = any || d > 1;
  }
  return any ? y + zeros(Shape(pin), x.dtype(), x.device()) : y;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t count) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < count; ++i) out.push_back(from + i);
  return out;
}

Tensor einsum1(const std::string& equation, const Tensor& a) {
  Parsed p = parse(equation, {&a});
  std::vector<Label> labels = p.inputs[0];
  const Tensor reduced = reduce_to(a, labels, p.output);
  return permute(reduced, labels, p.output);
}

Tensor einsum2(const std::string& equation, const Tensor& a, const Tensor& b) {
  Parsed p = parse(equation, {&a, &b});
  std::vector<Label> la = p.inputs[0], lb = p.inputs[1];
  const std::vector<Label>& out = p.output;
  // Labels of one operand found neither in the other nor in the output are summed first.
  std::vector<Label> keep_a = out, keep_b = out;
  keep_a.insert(keep_a.end(), lb.begin(), lb.end());
  keep_b.insert(keep_b.end(), la.begin(), la.end());
  const Tensor ra = reduce_to(a, la, keep_a);
  const Tensor rb = reduce_to(b, lb, keep_b);
  std::vector<Label> batch, contracted, free_a, free_b;
  for (Label l : la) {
    if (contains(lb, l)) {
      (contains(out, l) ? batch : contracted).push_back(l);
    } else {
      free_a.push_back(l);
    }
  }
  for (Label l : lb) {
    if (!contains(la, l)) free_b.push_back(l);
  }
  // Labels of the output in the order they come out of the matmul.
  std::vector<Label> order_a = batch, order_b = batch;
  order_a.insert(order_a.end(), free_a.begin(), free_a.end());
  order_a.insert(order_a.end(), contracted.begin(), contracted.end());
  order_b.insert(order_b.end(), contracted.begin(), contracted.end());
  order_b.insert(order_b.end(), free_b.begin(), free_b.end());
  const Tensor ta = permute(ra, la, order_a);
  const Tensor tb = permute(rb, lb, order_b);
  const auto nb = static_cast<std::int64_t>(batch.size());
  const auto nfa = static_cast<std::int64_t>(free_a.size());
  const auto nc = static_cast<std::int64_t>(contracted.size());
  const auto nfb = static_cast<std::int64_t>(free_b.size());
  std::vector<Dim> dims_a, dims_b;
  for (std::int64_t i = 0; i < nb; ++i) {
    dims_a.push_back({&ta, {i}});
    dims_b.push_back({&tb, {i}});
  }
  dims_a.push_back({&ta, range(nb, nfa)});
  dims_a.push_back({&ta, range(nb + nfa, nc)});
  dims_b.push_back({&tb, range(nb, nc)});
  dims_b.push_back({&tb, range(nb + nc, nfb)});
  const Tensor product = matmul(reshape_to(ta, dims_a), reshape_to(tb, dims_b));
  std::vector<Dim> dims_out;
  for (std::int64_t i = 0; i < nb; ++i) dims_out.push_back({&product, {i}});
  for (std::int64_t i = 0; i < nfa; ++i) dims_out.push_back({&ta, {nb + i}});
  for (std::int64_t i = 0; i < nfb; ++i) dims_out.push_back({&tb, {nb + nc + i}});
  const Tensor y = reshape_to(product, dims_out);
  std::vector<Label> order_y = batch;
  order_y.insert(order_y.end(), free_a.begin(), free_a.end());
  order_y.insert(order_y.end(), free_b.begin(), free_b.end());
  return permute(y, order_y, out);
}

}  // namespace

Tensor einsum(const std::string& equation, const std::vector<Tensor>& inputs) {
  STRATA_CHECK(inputs.size() == 1 || inputs.size() == 2, ValueError, "einsum equation '", equation, "': ",
               inputs.size(), " operands (one or two are supported)");
  return inputs.size() == 1 ? einsum1(equation, inputs[0]) : einsum2(equation, inputs[0], inputs[1]);
}

}  // namespace strata
