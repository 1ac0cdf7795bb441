#include "op_cases.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "strata/ops.hpp"

namespace strata::testing {
namespace {

constexpr DType F32 = DType::kFloat32, F64 = DType::kFloat64, I32 = DType::kInt32, I64 = DType::kInt64,
                BOOL = DType::kBool;
const std::vector<DType> kF = {F32, F64};
const std::vector<DType> kN = {F32, F64, I32, I64};

std::string tag(DType d) {
  std::string s(dtype_name(d));
  return s;
}

CaseInput R(DType d, Shape s, double lo = -2.0, double hi = 2.0) {
  CaseInput in;
  in.dtype = d;
  in.shape = std::move(s);
  in.lo = lo;
  in.hi = hi;
  return in;
}
CaseInput V(DType d, Shape s, std::vector<double> values) {
  CaseInput in;
  in.dtype = d;
  in.shape = std::move(s);
  in.values = std::move(values);
  return in;
}
// A host int64 input.
CaseInput H(std::vector<std::int64_t> v) {
  CaseInput in;
  in.dtype = I64;
  in.shape = Shape{static_cast<std::int64_t>(v.size())};
  in.values.assign(v.begin(), v.end());
  in.host = true;
  in.differentiable = false;
  return in;
}
CaseInput Hs(std::int64_t v) {
  CaseInput in = H({v});
  in.shape = Shape{};
  return in;
}
CaseInput H2(std::vector<std::int64_t> v, Shape s) {
  CaseInput in = H(std::move(v));
  in.shape = std::move(s);
  return in;
}
CaseInput Ints(DType d, Shape s, std::vector<double> v) {
  CaseInput in = V(d, std::move(s), std::move(v));
  in.differentiable = false;
  return in;
}

bool is_int(DType d) { return d == I32 || d == I64; }

struct Builder {
  std::vector<OpCase> cases;
  void add(std::string name, std::string op, std::vector<CaseInput> inputs, Attrs attrs = {}, double rtol = 1e-5,
           double atol = 1e-6, bool gradient = true) {
    OpCase c;
    c.name = std::move(name);
    c.op = std::move(op);
    c.inputs = std::move(inputs);
    c.attrs = std::move(attrs);
    c.rtol = rtol;
    c.atol = atol;
    c.gradient = gradient;
    cases.push_back(std::move(c));
  }
};

void elementwise(Builder& b) {
  struct Bin {
    const char* op;
    double lo0, hi0, lo1, hi1;
    std::vector<DType> dtypes;
  };
  const Bin bins[] = {
      {"AddV2", -3, 3, -3, 3, kN},          {"Sub", -3, 3, -3, 3, kN},
      {"Mul", -3, 3, -3, 3, kN},            {"RealDiv", -10, 10, 1, 5, kN},
      {"Maximum", -3, 3, -3, 3, kN},        {"Minimum", -3, 3, -3, 3, kN},
      {"Pow", 0.5, 2, -2, 2, kF},           {"SquaredDifference", -3, 3, -3, 3, kN},
  };
  const std::pair<Shape, Shape> shapes[] = {{Shape{3, 4}, Shape{3, 4}},       {Shape{3, 1}, Shape{1, 4}},
                                            {Shape{2, 3}, Shape{}},           {Shape{2, 3, 4}, Shape{4}},
                                            {Shape{}, Shape{2, 2}},           {Shape{0, 3}, Shape{3}}};
  const char* shape_names[] = {"same", "bcast", "scalar", "rank", "scalar_left", "empty"};
  for (const auto& bin : bins) {
    for (DType d : bin.dtypes) {
      for (std::size_t s = 0; s < std::size(shapes); ++s) {
        b.add(std::string(bin.op) + "_" + tag(d) + "_" + shape_names[s], bin.op,
              {R(d, shapes[s].first, bin.lo0, bin.hi0), R(d, shapes[s].second, bin.lo1, bin.hi1)});
      }
    }
  }
  b.add("Pow_int32", "Pow", {R(I32, Shape{3, 4}, -3, 3), R(I32, Shape{3, 4}, 0, 3)});
  // Atan2(y, x): both operands away from 0, so the points stay away from the origin and the
  // branch cut (x < 0, y = 0) for the finite differences.
  for (DType d : kF) {
    for (std::size_t s = 0; s < std::size(shapes); ++s) {
      CaseInput y = R(d, shapes[s].first, -3, 3), x = R(d, shapes[s].second, -3, 3);
      y.min_abs = x.min_abs = 0.3;
      b.add(std::string("Atan2_") + tag(d) + "_" + shape_names[s], "Atan2", {y, x});
    }
  }
  for (const char* op : {"Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"}) {
    for (DType d : kN) {
      b.add(std::string(op) + "_" + tag(d), op, {R(d, Shape{3, 4}, -2, 2), R(d, Shape{4}, -2, 2)});
    }
  }
  for (const char* op : {"Equal", "NotEqual", "LogicalAnd", "LogicalOr"}) {
    b.add(std::string(op) + "_bool", op, {R(BOOL, Shape{3, 4}), R(BOOL, Shape{3, 1})});
  }
  b.add("LogicalNot_bool", "LogicalNot", {R(BOOL, Shape{5})});
  for (DType d : {F32, F64, I32, I64, BOOL}) {
    b.add("SelectV2_" + tag(d), "SelectV2", {R(BOOL, Shape{3, 1}), R(d, Shape{3, 4}), R(d, Shape{4})});
  }
  for (DType d : kN) {
    b.add("AddN_" + tag(d), "AddN", {R(d, Shape{2, 3}), R(d, Shape{2, 3}), R(d, Shape{2, 3})});
  }

  struct Un {
    const char* op;
    double lo, hi, min_abs;
    std::vector<DType> dtypes;
  };
  const Un uns[] = {
      {"Neg", -3, 3, 0, kN},         {"Abs", -3, 3, 0.05, kN},     {"Sign", -3, 3, 0, kN},
      {"Square", -3, 3, 0, kN},      {"Sqrt", 0.1, 3, 0, kF},      {"Rsqrt", 0.1, 3, 0, kF},
      {"Reciprocal", 0.5, 2, 0, kF}, {"Exp", -3, 3, 0, kF},        {"Log", 0.1, 3, 0, kF},
      {"Log1p", -0.5, 3, 0, kF},     {"Erf", -3, 3, 0, kF},        {"Floor", -3, 3, 0, kF},
      {"Erfc", -3, 3, 0, kF},
      {"Sin", -4, 4, 0, kF},         {"Cos", -4, 4, 0, kF},        {"Tan", -1.3, 1.3, 0, kF},
      {"Asin", -0.95, 0.95, 0, kF},  {"Acos", -0.95, 0.95, 0, kF}, {"Atan", -4, 4, 0, kF},
      {"Sinh", -3, 3, 0, kF},        {"Cosh", -3, 3, 0, kF},       {"Asinh", -4, 4, 0, kF},
      {"Acosh", 1.05, 4, 0, kF},     {"Atanh", -0.95, 0.95, 0, kF},
      {"Relu", -3, 3, 0.05, kN},     {"Relu6", -2, 8, 0.05, kF},   {"Elu", -3, 3, 0.05, kF},
      {"Selu", -3, 3, 0.05, kF},     {"Sigmoid", -20, 20, 0, kF},  {"Tanh", -5, 5, 0, kF},
      {"Softplus", -30, 30, 0, kF},  {"Softsign", -3, 3, 0.05, kF}, {"Identity", -3, 3, 0, kN},
      {"StopGradient", -3, 3, 0, kN},
      // strata::all_reduce's op: the identity with no distributed step running (tests/mpi runs it across ranks).
      {"strata.CrossReplicaAllReduce", -3, 3, 0, kN},
  };
  for (const auto& u : uns) {
    for (DType d : u.dtypes) {
      CaseInput in = R(d, Shape{3, 5}, u.lo, u.hi);
      in.min_abs = u.min_abs;
      b.add(std::string(u.op) + "_" + tag(d), u.op, {in});
    }
  }
  // Relu6: values away from both kinks (0 and 6).
  for (DType d : kF) b.add("Relu6_kinks_" + tag(d), "Relu6", {V(d, Shape{2, 4}, {-1.5, -0.3, 0.4, 2.5, 5.5, 6.7, 7.9, 3.3})});
  b.add("Relu_empty_float32", "Relu", {R(F32, Shape{0, 4})});
  b.add("Tanh_scalar_float32", "Tanh", {R(F32, Shape{})});
  for (bool approx : {false, true}) {
    for (DType d : kF) {
      b.add(std::string("Gelu_") + (approx ? "tanh_" : "erf_") + tag(d), "Gelu", {R(d, Shape{3, 5}, -4, 4)},
            {{"approximate", approx}});
    }
  }
  // Casts between numeric types (truncation toward zero, bool as 0/1, half rounding).
  const DType sources[] = {F32, F64, I32, I64, BOOL};
  const DType targets[] = {F32, F64, I32, I64, BOOL, DType::kFloat16, DType::kBFloat16, DType::kInt8, DType::kUInt8};
  for (DType from : sources) {
    for (DType to : targets) {
      if (from == to) continue;
      const bool unsigned_to = to == DType::kUInt8;
      CaseInput in = R(from, Shape{12}, unsigned_to ? 0 : -50, unsigned_to ? 100 : 50);
      in.differentiable = is_floating(from) && is_floating(to);
      b.add("Cast_" + tag(from) + "_to_" + tag(to), "Cast", {in}, {{"DstT", to}, {"Truncate", false}}, 1e-5, 1e-6,
            is_floating(from) && is_floating(to));
    }
  }
  for (DType from : {DType::kFloat16, DType::kBFloat16, DType::kInt8, DType::kUInt8}) {
    b.add("Cast_" + tag(from) + "_to_float32", "Cast", {R(from, Shape{12}, 0, 60)}, {{"DstT", F32}, {"Truncate", false}},
          1e-5, 1e-6, false);
  }
  // Issue 22: loops cloned per CPU feature level (backend-onednn's dispatch.hpp) round as the
  // baseline build: bitwise the reference's (tolerance 0) on a size that runs the vector
  // bodies and their remainders (below oneDNN's reorder threshold).
  const std::pair<DType, DType> wide_casts[] = {{F32, F64}, {F64, F32}, {F32, I32}, {F64, I64}, {I32, F32},
                                                {I64, F64}, {F32, DType::kFloat16}, {F64, DType::kBFloat16}};
  for (const auto& [from, to] : wide_casts) {
    b.add("Cast_wide_" + tag(from) + "_to_" + tag(to), "Cast", {R(from, Shape{1003}, -3000, 3000)},
          {{"DstT", to}, {"Truncate", false}}, 0, 0, false);
  }
  // float16 above oneDNN's reorder threshold (1 << 14) also stays in the loop: bitwise.
  b.add("Cast_large_float32_to_float16", "Cast", {R(F32, Shape{17000}, -70000, 70000)},
        {{"DstT", DType::kFloat16}, {"Truncate", false}}, 0, 0, false);
  b.add("Cast_large_float16_to_float32", "Cast", {R(DType::kFloat16, Shape{17000}, -60000, 60000)},
        {{"DstT", F32}, {"Truncate", false}}, 0, 0, false);

  // Gradient helpers.
  const double alpha_scale = 1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
  struct G2 {
    const char* op;
    double lo0, hi0, lo1, hi1;
  };
  const G2 g2s[] = {
      {"ReluGrad", -2, 2, -2, 2},           {"Relu6Grad", -2, 2, -1, 7},  {"EluGrad", -2, 2, -0.9, 2},
      {"SeluGrad", -2, 2, -alpha_scale + 0.1, 2}, {"SigmoidGrad", 0.05, 0.95, -2, 2}, {"TanhGrad", -0.95, 0.95, -2, 2},
      {"SoftplusGrad", -2, 2, -5, 5},       {"SoftsignGrad", -2, 2, -3, 3}, {"RsqrtGrad", 0.2, 2, -2, 2},
      {"SqrtGrad", 0.2, 2, -2, 2},
  };
  for (const auto& g : g2s) {
    for (DType d : kF) {
      b.add(std::string(g.op) + "_" + tag(d), g.op, {R(d, Shape{3, 4}, g.lo0, g.hi0), R(d, Shape{3, 4}, g.lo1, g.hi1)});
    }
  }
  for (bool approx : {false, true}) {
    for (DType d : kF) {
      b.add(std::string("GeluGrad_") + (approx ? "tanh_" : "erf_") + tag(d), "GeluGrad",
            {R(d, Shape{3, 4}), R(d, Shape{3, 4}, -3, 3)}, {{"approximate", approx}});
    }
  }
}

void reductions(Builder& b) {
  const std::vector<std::vector<std::int64_t>> axes_list = {{1}, {0, 2}, {}, {-1}};
  const char* axes_names[] = {"axis1", "axes02", "none", "last"};
  for (const char* op : {"Sum", "Mean", "Max", "Min", "Prod"}) {
    const bool prod = std::string(op) == "Prod";
    for (DType d : kN) {
      for (std::size_t a = 0; a < axes_list.size(); ++a) {
        for (bool keep : {false, true}) {
          b.add(std::string(op) + "_" + tag(d) + "_" + axes_names[a] + (keep ? "_keep" : ""), op,
                {R(d, Shape{2, 3, 4}, prod ? 0.5 : -3, prod ? 1.5 : 3), H(axes_list[a])}, {{"keep_dims", keep}});
        }
      }
      b.add(std::string(op) + "_" + tag(d) + "_empty", op, {R(d, Shape{0, 3}), H({0})}, {{"keep_dims", false}}, 1e-5,
            1e-6, false);
    }
  }
  for (DType d : kN) {
    for (std::int64_t axis : {0, 1, -1}) {
      for (DType out : {I32, I64}) {
        b.add("ArgMax_" + tag(d) + "_axis" + std::to_string(axis + 1) + "_" + tag(out), "ArgMax",
              {R(d, Shape{3, 5}, -2, 2), Hs(axis)}, {{"output_type", out}});
      }
    }
  }
  b.add("ArgMax_ties_int32", "ArgMax", {Ints(I32, Shape{2, 4}, {1, 3, 3, 0, 2, 2, 2, 2}), Hs(1)}, {{"output_type", I64}});
  for (DType d : kN) {
    for (bool exclusive : {false, true}) {
      for (bool reverse : {false, true}) {
        for (std::int64_t axis : {0, 1, -1}) {
          b.add("Cumsum_" + tag(d) + "_axis" + (axis < 0 ? std::string("m1") : std::to_string(axis)) +
                    (exclusive ? "_excl" : "") + (reverse ? "_rev" : ""),
                "Cumsum", {R(d, Shape{3, 4}, -3, 3), Hs(axis)}, {{"exclusive", exclusive}, {"reverse", reverse}});
        }
      }
    }
    b.add("Cumsum_" + tag(d) + "_rank3_axis1", "Cumsum", {R(d, Shape{2, 5, 3}, -3, 3), Hs(1)});
    b.add("Cumsum_" + tag(d) + "_empty", "Cumsum", {R(d, Shape{0, 3}), Hs(1)}, {}, 1e-5, 1e-6, false);
  }
  // Many lines of a long axis: the cpu backend's threaded path.
  b.add("Cumsum_float32_large", "Cumsum", {R(F32, Shape{64, 37, 5}, -2, 2), Hs(1)}, {{"reverse", true}}, 1e-5, 1e-5,
        false);
  for (DType d : kF) {
    for (bool exclusive : {false, true}) {
      for (bool reverse : {false, true}) {
        for (std::int64_t axis : {0, 1}) {
          b.add("Cumprod_" + tag(d) + "_axis" + std::to_string(axis) + (exclusive ? "_excl" : "") + (reverse ? "_rev" : ""),
                "Cumprod", {R(d, Shape{3, 4}, 0.5, 1.5), Hs(axis)}, {{"exclusive", exclusive}, {"reverse", reverse}});
        }
      }
    }
  }
}

Attrs masks(std::int64_t begin, std::int64_t end, std::int64_t ellipsis, std::int64_t new_axis, std::int64_t shrink) {
  return {{"begin_mask", begin}, {"end_mask", end}, {"ellipsis_mask", ellipsis}, {"new_axis_mask", new_axis},
          {"shrink_axis_mask", shrink}};
}

void arrays(Builder& b) {
  for (DType d : {F32, F64, I32, I64, BOOL}) {
    b.add("Reshape_" + tag(d), "Reshape", {R(d, Shape{2, 3, 4}), H({4, -1})});
    b.add("Transpose_" + tag(d), "Transpose", {R(d, Shape{2, 3, 4}), H({2, 0, 1})});
    b.add("ConcatV2_" + tag(d), "ConcatV2", {R(d, Shape{2, 3}), R(d, Shape{2, 1}), R(d, Shape{2, 2}), Hs(1)},
          {{"N", std::int64_t{3}}});
    b.add("Pack_" + tag(d), "Pack", {R(d, Shape{2, 3}), R(d, Shape{2, 3})}, {{"axis", std::int64_t{1}}, {"N", std::int64_t{2}}});
    b.add("Tile_" + tag(d), "Tile", {R(d, Shape{2, 1, 3}), H({2, 3, 1})});
    b.add("StridedSlice_reverse_" + tag(d), "StridedSlice", {R(d, Shape{4, 5}), H({0, -1}), H({0, 0}), H({1, -1})},
          masks(1, 3, 0, 0, 0));
  }
  b.add("Transpose_4d_float32", "Transpose", {R(F32, Shape{2, 3, 4, 5}), H({0, 3, 1, 2})});
  b.add("ConcatV2_axis0_empty_float32", "ConcatV2", {R(F32, Shape{0, 3}), R(F32, Shape{2, 3}), Hs(0)}, {{"N", std::int64_t{2}}});
  b.add("ConcatV2_negaxis_float64", "ConcatV2", {R(F64, Shape{2, 2, 3}), R(F64, Shape{2, 2, 1}), Hs(-1)}, {{"N", std::int64_t{2}}});
  for (std::int64_t axis : {0, -1}) {
    b.add("Pack_axis" + std::to_string(axis + 1) + "_float32", "Pack", {R(F32, Shape{3}), R(F32, Shape{3}), R(F32, Shape{3})},
          {{"axis", axis}, {"N", std::int64_t{3}}});
  }
  for (DType d : kN) {
    b.add("Split_" + tag(d), "Split", {Hs(1), R(d, Shape{2, 6})}, {{"num_split", std::int64_t{3}}});
    b.add("Slice_" + tag(d), "Slice", {R(d, Shape{4, 5, 3}), H({1, 0, 1}), H({2, -1, 2})});
    b.add("Pad_" + tag(d), "Pad", {R(d, Shape{2, 3}), H2({1, 2, 0, 1}, Shape{2, 2})});
    b.add("BroadcastTo_" + tag(d), "BroadcastTo", {R(d, Shape{3, 1}), H({2, 3, 4})});
    b.add("ZerosLike_" + tag(d), "ZerosLike", {R(d, Shape{2, 3})});
    b.add("OnesLike_" + tag(d), "OnesLike", {R(d, Shape{2, 3})});
    b.add("Fill_" + tag(d), "Fill", {H({2, 3}), R(d, Shape{})});
    b.add("ExpandDims_" + tag(d), "ExpandDims", {R(d, Shape{2, 3}), Hs(-1)});
    b.add("Squeeze_" + tag(d), "Squeeze", {R(d, Shape{2, 1, 3, 1})}, {{"squeeze_dims", std::vector<std::int64_t>{1}}});
    for (DType it : {I32, I64}) {
      b.add("GatherV2_axis0_" + tag(d) + "_" + tag(it), "GatherV2",
            {R(d, Shape{5, 3}), Ints(it, Shape{2, 2}, {4, 0, 2, 2}), Hs(0)}, {{"batch_dims", std::int64_t{0}}});
    }
    b.add("GatherV2_axis1_" + tag(d), "GatherV2", {R(d, Shape{2, 4, 3}), Ints(I64, Shape{3}, {3, 1, 3}), Hs(1)},
          {{"batch_dims", std::int64_t{0}}});
    b.add("GatherV2_batchdims_" + tag(d), "GatherV2",
          {R(d, Shape{2, 4, 3}), Ints(I32, Shape{2, 2}, {0, 3, 2, 2}), Hs(1)}, {{"batch_dims", std::int64_t{1}}}, 1e-5,
          1e-6, false);
    b.add("UnsortedSegmentSum_" + tag(d), "UnsortedSegmentSum",
          {R(d, Shape{5, 2}), Ints(I64, Shape{5}, {0, 2, 0, 7, -1}), Hs(3)});
  }
  b.add("Squeeze_all_float32", "Squeeze", {R(F32, Shape{1, 2, 1})});
  b.add("Slice_empty_float32", "Slice", {R(F32, Shape{3, 4}), H({1, 1}), H({0, 2})});
  // StridedSlice variants (float32).
  b.add("StridedSlice_basic", "StridedSlice", {R(F32, Shape{5, 6}), H({1, 0}), H({4, 6}), H({1, 2})}, masks(0, 0, 0, 0, 0));
  b.add("StridedSlice_negative_indices", "StridedSlice", {R(F32, Shape{5, 6}), H({-3, -5}), H({-1, -1}), H({1, 3})},
        masks(0, 0, 0, 0, 0));
  b.add("StridedSlice_stride_neg2", "StridedSlice", {R(F32, Shape{7}), H({6}), H({0}), H({-2})}, masks(0, 0, 0, 0, 0));
  b.add("StridedSlice_shrink", "StridedSlice", {R(F32, Shape{4, 5}), H({2, 1}), H({3, 4}), H({1, 1})}, masks(0, 0, 0, 0, 1));
  b.add("StridedSlice_new_axis", "StridedSlice", {R(F32, Shape{4, 5}), H({0, 0, 1}), H({0, 4, 3}), H({1, 1, 1})},
        masks(0, 0, 0, 1, 0));
  b.add("StridedSlice_ellipsis", "StridedSlice", {R(F32, Shape{2, 3, 4}), H({0, 1}), H({0, 3}), H({1, 1})},
        masks(0, 0, 1, 0, 0));
  b.add("StridedSlice_clamped", "StridedSlice", {R(F32, Shape{4}), H({-10}), H({10}), H({1})}, masks(0, 0, 0, 0, 0));
  b.add("StridedSliceGrad_basic", "StridedSliceGrad", {H({5, 6}), H({1, 0}), H({4, 6}), H({1, 2}), R(F32, Shape{3, 3})},
        masks(0, 0, 0, 0, 0));
  b.add("StridedSliceGrad_shrink_reverse", "StridedSliceGrad", {H({4, 5}), H({2, 0}), H({3, 0}), H({1, -1}), R(F64, Shape{5})},
        masks(2, 2, 0, 0, 1));
  for (std::int64_t axis : {-1, 0}) {
    for (DType d : kN) {
      CaseInput ind = Ints(I64, Shape{4}, {0, 2, 5, 1});
      b.add("OneHot_axis" + std::to_string(axis + 1) + "_" + tag(d), "OneHot",
            {ind, Hs(3), V(d, Shape{}, {5}), V(d, Shape{}, {-1})}, {{"axis", axis}});
    }
  }
  for (DType out : {I32, I64}) b.add("Shape_" + tag(out), "Shape", {R(F32, Shape{2, 0, 3})}, {{"out_type", out}});
}

Attrs conv(std::int64_t stride, const char* padding, std::int64_t dilation) {
  return {{"strides", std::vector<std::int64_t>{1, stride, stride, 1}},
          {"padding", std::string(padding)},
          {"data_format", std::string("NHWC")},
          {"dilations", std::vector<std::int64_t>{1, dilation, dilation, 1}}};
}
Attrs pool(std::int64_t k, std::int64_t stride, const char* padding) {
  return {{"ksize", std::vector<std::int64_t>{1, k, k, 1}},
          {"strides", std::vector<std::int64_t>{1, stride, stride, 1}},
          {"padding", std::string(padding)},
          {"data_format", std::string("NHWC")}};
}

std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d, bool same) {
  const std::int64_t eff = (k - 1) * d + 1;
  return same ? (in + s - 1) / s : (in - eff) / s + 1;
}

void nn(Builder& b) {
  for (DType d : {F32, F64, I32, I64}) {
    const double lo = is_int(d) ? -3 : -1, hi = is_int(d) ? 3 : 1;
    b.add("MatMul_" + tag(d), "MatMul", {R(d, Shape{3, 4}, lo, hi), R(d, Shape{4, 5}, lo, hi)});
    b.add("MatMul_ta_" + tag(d), "MatMul", {R(d, Shape{4, 3}, lo, hi), R(d, Shape{4, 5}, lo, hi)}, {{"transpose_a", true}});
    b.add("MatMul_tb_" + tag(d), "MatMul", {R(d, Shape{3, 4}, lo, hi), R(d, Shape{5, 4}, lo, hi)}, {{"transpose_b", true}});
    b.add("MatMul_tatb_" + tag(d), "MatMul", {R(d, Shape{4, 3}, lo, hi), R(d, Shape{5, 4}, lo, hi)},
          {{"transpose_a", true}, {"transpose_b", true}});
  }
  b.add("MatMul_big_float32", "MatMul", {R(F32, Shape{33, 70}, -1, 1), R(F32, Shape{70, 17}, -1, 1)}, {}, 1e-5, 1e-5);
  b.add("MatMul_vector_float32", "MatMul", {R(F32, Shape{1, 64}, -1, 1), R(F32, Shape{64, 10}, -1, 1)}, {}, 1e-5, 1e-5);
  b.add("MatMul_empty_float32", "MatMul", {R(F32, Shape{0, 4}), R(F32, Shape{4, 3})});
  for (DType d : kF) {
    b.add("BatchMatMulV2_" + tag(d), "BatchMatMulV2", {R(d, Shape{2, 3, 4}, -1, 1), R(d, Shape{2, 4, 5}, -1, 1)});
    b.add("BatchMatMulV2_bcast_" + tag(d), "BatchMatMulV2", {R(d, Shape{2, 1, 3, 4}, -1, 1), R(d, Shape{3, 4, 2}, -1, 1)});
    b.add("BatchMatMulV2_adj_" + tag(d), "BatchMatMulV2", {R(d, Shape{2, 4, 3}, -1, 1), R(d, Shape{1, 5, 4}, -1, 1)},
          {{"adj_x", true}, {"adj_y", true}});
    b.add("BiasAdd_" + tag(d), "BiasAdd", {R(d, Shape{2, 3, 4}), R(d, Shape{4})}, {{"data_format", std::string("NHWC")}});
    b.add("BiasAddGrad_" + tag(d), "BiasAddGrad", {R(d, Shape{2, 3, 4})}, {{"data_format", std::string("NHWC")}});
    b.add("Softmax_" + tag(d), "Softmax", {R(d, Shape{3, 5}, -50, 50)});
    b.add("LogSoftmax_" + tag(d), "LogSoftmax", {R(d, Shape{3, 5}, -50, 50)});
    b.add("Softmax_3d_" + tag(d), "Softmax", {R(d, Shape{2, 3, 4}, -3, 3)});
    b.add("SoftmaxGrad_" + tag(d), "SoftmaxGrad", {R(d, Shape{3, 5}, 0.05, 0.5), R(d, Shape{3, 5})});
    // The cloned C++ loops (issue 22) on rows that run their vector bodies: float32 bitwise
    // the reference's; float64 (whose reference rounds its sums differently) within 1e-10.
    // float32 Softmax of this size is oneDNN's.
    const bool f32 = d == DType::kFloat32;
    b.add("LogSoftmax_wide_" + tag(d), "LogSoftmax", {R(d, Shape{3, 1003}, -50, 50)}, {}, f32 ? 0 : 1e-5,
          f32 ? 0 : 1e-6, false);
    if (!f32) b.add("Softmax_wide_" + tag(d), "Softmax", {R(d, Shape{3, 1003}, -50, 50)}, {}, 1e-5, 1e-6, false);
  }
  struct ConvCfg {
    const char* name;
    std::int64_t stride;
    const char* padding;
    std::int64_t dilation;
  };
  const ConvCfg cfgs[] = {{"s1_valid", 1, "VALID", 1}, {"s1_same", 1, "SAME", 1}, {"s2_same", 2, "SAME", 1},
                          {"s2_valid", 2, "VALID", 1}, {"d2_same", 1, "SAME", 2}};
  for (DType d : kF) {
    for (const auto& cfg : cfgs) {
      const bool same = std::string(cfg.padding) == "SAME";
      const std::int64_t n = 2, h = 7, w = 6, ci = 3, co = 4, k = 3;
      const std::int64_t oh = out_size(h, k, cfg.stride, cfg.dilation, same), ow = out_size(w, k, cfg.stride, cfg.dilation, same);
      const Attrs a = conv(cfg.stride, cfg.padding, cfg.dilation);
      b.add(std::string("Conv2D_") + cfg.name + "_" + tag(d), "Conv2D", {R(d, Shape{n, h, w, ci}, -1, 1), R(d, Shape{k, k, ci, co}, -1, 1)}, a);
      b.add(std::string("Conv2DBackpropInput_") + cfg.name + "_" + tag(d), "Conv2DBackpropInput",
            {H({n, h, w, ci}), R(d, Shape{k, k, ci, co}, -1, 1), R(d, Shape{n, oh, ow, co}, -1, 1)}, a);
      b.add(std::string("Conv2DBackpropFilter_") + cfg.name + "_" + tag(d), "Conv2DBackpropFilter",
            {R(d, Shape{n, h, w, ci}, -1, 1), H({k, k, ci, co}), R(d, Shape{n, oh, ow, co}, -1, 1)}, a);
      const std::int64_t m = 2;
      b.add(std::string("DepthwiseConv2dNative_") + cfg.name + "_" + tag(d), "DepthwiseConv2dNative",
            {R(d, Shape{n, h, w, ci}, -1, 1), R(d, Shape{k, k, ci, m}, -1, 1)}, a);
      b.add(std::string("DepthwiseConv2dNativeBackpropInput_") + cfg.name + "_" + tag(d),
            "DepthwiseConv2dNativeBackpropInput", {H({n, h, w, ci}), R(d, Shape{k, k, ci, m}, -1, 1), R(d, Shape{n, oh, ow, ci * m}, -1, 1)},
            a);
      b.add(std::string("DepthwiseConv2dNativeBackpropFilter_") + cfg.name + "_" + tag(d),
            "DepthwiseConv2dNativeBackpropFilter", {R(d, Shape{n, h, w, ci}, -1, 1), H({k, k, ci, m}), R(d, Shape{n, oh, ow, ci * m}, -1, 1)},
            a);
    }
    b.add("Conv2D_1x1_" + tag(d), "Conv2D", {R(d, Shape{1, 4, 4, 8}, -1, 1), R(d, Shape{1, 1, 8, 16}, -1, 1)}, conv(1, "VALID", 1));
    // One input channel (backend-onednn's direct loop, small_conv.hpp): blocks of 8 and of
    // 16 output channels, a partial block, padding on every side, strides, dilation.
    b.add("Conv2D_c1_o8_" + tag(d), "Conv2D", {R(d, Shape{3, 9, 11, 1}, -1, 1), R(d, Shape{3, 3, 1, 8}, -1, 1)},
          conv(1, "VALID", 1));
    b.add("Conv2D_c1_o20_same_s2_" + tag(d), "Conv2D", {R(d, Shape{2, 10, 13, 1}, -1, 1), R(d, Shape{3, 3, 1, 20}, -1, 1)},
          conv(2, "SAME", 1));
    b.add("Conv2D_c1_o5_same_d2_" + tag(d), "Conv2D", {R(d, Shape{2, 8, 19, 1}, -1, 1), R(d, Shape{5, 3, 1, 5}, -1, 1)},
          conv(1, "SAME", 2));
    struct PoolCfg {
      const char* name;
      std::int64_t k, stride;
      const char* padding;
    };
    const PoolCfg pools[] = {{"k2s2_valid", 2, 2, "VALID"}, {"k3s2_same", 3, 2, "SAME"}, {"k3s1_same", 3, 1, "SAME"},
                             {"k2s1_valid", 2, 1, "VALID"}};
    for (const auto& p : pools) {
      const bool same = std::string(p.padding) == "SAME";
      const std::int64_t n = 2, h = 7, w = 6, c = 3;
      const std::int64_t oh = out_size(h, p.k, p.stride, 1, same), ow = out_size(w, p.k, p.stride, 1, same);
      const Attrs a = pool(p.k, p.stride, p.padding);
      b.add(std::string("MaxPool_") + p.name + "_" + tag(d), "MaxPool", {R(d, Shape{n, h, w, c})}, a);
      b.add(std::string("AvgPool_") + p.name + "_" + tag(d), "AvgPool", {R(d, Shape{n, h, w, c})}, a);
      b.add(std::string("AvgPoolGrad_") + p.name + "_" + tag(d), "AvgPoolGrad", {H({n, h, w, c}), R(d, Shape{n, oh, ow, c})}, a);
      // MaxPoolGrad with ties: integer-valued input; orig_output is derived with MaxPool.
      CaseInput orig = R(d, Shape{n, h, w, c}, -2, 2);
      orig.integers = true;
      orig.differentiable = false;
      CaseInput pooled;
      pooled.dtype = d;
      pooled.shape = Shape{n, oh, ow, c};
      pooled.differentiable = false;
      pooled.derive = [a](const std::vector<Tensor>& ins) { return execute1("MaxPool", {ins[0]}, a); };
      b.add(std::string("MaxPoolGrad_") + p.name + "_" + tag(d), "MaxPoolGrad", {orig, pooled, R(d, Shape{n, oh, ow, c})}, a,
            1e-5, 1e-6, false);
    }
  }
  // Image resizing: up, down and mixed sizes under each of TensorFlow's coordinate rules
  // (legacy, align_corners, half_pixel_centers), and the gradients of each.
  struct ResizeCfg {
    const char* name;
    bool align_corners, half_pixel;
  };
  const ResizeCfg resize_cfgs[] = {{"legacy", false, false}, {"align", true, false}, {"halfpixel", false, true}};
  const std::pair<const char*, std::vector<std::int64_t>> resize_sizes[] = {
      {"up", {7, 9}}, {"down", {2, 3}}, {"mixed", {6, 2}}, {"one", {1, 1}}};
  for (DType d : kF) {
    for (const auto& cfg : resize_cfgs) {
      const Attrs a{{"align_corners", cfg.align_corners}, {"half_pixel_centers", cfg.half_pixel}};
      for (const auto& [size_name, size] : resize_sizes) {
        const std::string suffix = std::string("_") + cfg.name + "_" + size_name + "_" + tag(d);
        const Shape out{2, size[0], size[1], 3};
        for (const char* op : {"ResizeBilinear", "ResizeNearestNeighbor"}) {
          b.add(std::string(op) + suffix, op, {R(d, Shape{2, 4, 5, 3}), H(size)}, a);
        }
        b.add("ResizeBilinearGrad" + suffix, "ResizeBilinearGrad", {R(d, out), R(d, Shape{2, 4, 5, 3})}, a, 1e-5, 1e-6,
              false);
        b.add("ResizeNearestNeighborGrad" + suffix, "ResizeNearestNeighborGrad", {R(d, out), H({4, 5})}, a, 1e-5,
              1e-6, false);
      }
    }
  }
  for (const char* op : {"RandomStandardNormal", "RandomUniform", "TruncatedNormal"}) {
    for (DType d : kF) {
      b.add(std::string(op) + "_" + tag(d), op, {H({3, 1000})},
            {{"dtype", d}, {"seed", std::int64_t{1234}}, {"seed2", std::int64_t{99}}}, 1e-5, 1e-6, false);
      // Element i is a pure function of (seed, seed2, i): bitwise on every backend.
      b.add(std::string(op) + "_exact_" + tag(d), op, {H({3, 1001})},
            {{"dtype", d}, {"seed", std::int64_t{7}}, {"seed2", std::int64_t{3}}}, 0, 0, false);
    }
  }
}

// The fused optimizer updates, with the hyperparameters of a third Adam step and of SGD
// with momentum; v >= 0 as an Adam second moment is.
void optimizer_updates(Builder& b) {
  for (DType d : kF) {
    const auto s = [d](double x) { return V(d, Shape{}, {x}); };
    for (bool nesterov : {false, true}) {
      const std::string suffix = std::string(nesterov ? "_nesterov_" : "_") + tag(d);
      Attrs a;
      a.set("use_nesterov", nesterov);
      b.add("ResourceApplyAdam" + suffix, "ResourceApplyAdam",
            {R(d, Shape{3, 5}), R(d, Shape{3, 5}), R(d, Shape{3, 5}, 0, 2), s(0.9 * 0.9 * 0.9), s(0.999 * 0.999 * 0.999),
             s(0.01), s(0.9), s(0.999), s(1e-7), R(d, Shape{3, 5})},
            a, 1e-5, 1e-6, false);
      b.cases.back().optional_kernel = true;
      b.add("ResourceApplyKerasMomentum" + suffix, "ResourceApplyKerasMomentum",
            {R(d, Shape{4, 3}), R(d, Shape{4, 3}), s(0.05), R(d, Shape{4, 3}), s(0.8)}, a, 1e-5, 1e-6, false);
      b.cases.back().optional_kernel = true;
    }
  }
}

// The fused Keras updates (strata.Keras*), each option on and off, with the coefficients of
// a third step; second moments and accumulators positive as an optimizer keeps them.
void keras_optimizer_updates(Builder& b) {
  for (DType d : kF) {
    const auto s = [d](double x) { return V(d, Shape{}, {x}); };
    const Shape sh{3, 5};
    const auto add = [&](const std::string& name, const char* op, std::vector<CaseInput> in, Attrs a = {}) {
      b.add(name + "_" + tag(d), op, std::move(in), a, 1e-5, 1e-6, false);
      b.cases.back().optional_kernel = true;
    };
    for (bool amsgrad : {false, true}) {
      Attrs a;
      a.set("amsgrad", amsgrad);
      std::vector<CaseInput> in{R(d, sh), R(d, sh), R(d, sh, 0, 2)};
      if (amsgrad) in.push_back(R(d, sh, 0, 2));
      for (double x : {0.01, std::sqrt(1 - 0.999 * 0.999 * 0.999), 1 - 0.9 * 0.9 * 0.9, 0.1, 0.001, 1e-7}) {
        in.push_back(s(x));
      }
      in.push_back(R(d, sh));
      add(amsgrad ? "KerasAdam_amsgrad" : "KerasAdam", "strata.KerasAdam", std::move(in), a);
    }
    for (bool centered : {false, true}) {
      for (bool momentum : {false, true}) {
        Attrs a;
        a.set("centered", centered);
        a.set("use_momentum", momentum);
        std::vector<CaseInput> in{R(d, sh), R(d, sh, 1, 2)};
        if (centered) in.push_back(R(d, sh, -0.1, 0.1));
        if (momentum) in.push_back(R(d, sh));
        for (double x : {0.01, 0.9, 0.1, 0.5, 1e-7}) in.push_back(s(x));
        in.push_back(R(d, sh));
        add(std::string("KerasRMSprop") + (centered ? "_centered" : "") + (momentum ? "_momentum" : ""),
            "strata.KerasRMSprop", std::move(in), a);
      }
    }
    add("KerasAdagrad", "strata.KerasAdagrad", {R(d, sh), R(d, sh, 0.1, 2), s(0.01), s(1e-7), R(d, sh)});
    add("KerasAdadelta", "strata.KerasAdadelta",
        {R(d, sh), R(d, sh, 0, 2), R(d, sh, 0, 2), s(0.01), s(0.95), s(0.05), s(1e-7), R(d, sh)});
    add("KerasAdamax", "strata.KerasAdamax",
        {R(d, sh), R(d, sh), R(d, sh, 0, 2), s(0.01), s(1 - 0.9 * 0.9 * 0.9), s(0.1), s(0.999), s(1e-7), R(d, sh)});
    add("KerasNadam", "strata.KerasNadam",
        {R(d, sh), R(d, sh), R(d, sh, 0, 2), s(0.01), s(0.1), s(0.001), s(0.4), s(0.95), s(0.6), s(0.9), s(0.003),
         s(1e-7), R(d, sh)});
    add("KerasFtrl", "strata.KerasFtrl",
        {R(d, sh), R(d, sh, 0.1, 2), R(d, sh), s(0.01), s(0.5), s(0.001), s(0.01), s(0.1), s(0.04), R(d, sh)});
  }
}

// The layers plugin's ops (preprocessing_encoding.cpp): skipped where that plugin is not loaded.
// String inputs stay on the host, as string tensors do.
void encoding_ops(Builder& b) {
  const auto text = [](std::vector<std::string> v) {
    CaseInput in;
    in.dtype = DType::kString;
    in.shape = Shape{static_cast<std::int64_t>(v.size())};
    in.host = true;
    in.derive = [v](const std::vector<Tensor>&) { return Tensor::from_strings(v, Shape{static_cast<std::int64_t>(v.size())}); };
    return in;
  };
  const std::vector<std::string> words = {"", "a", "hello", "a longer text, over thirty-two bytes long", "x"};
  b.add("StringToHashBucketFast", "StringToHashBucketFast", {text(words)}, Attrs{{"num_buckets", std::int64_t{7}}}, 0, 0,
        false);
  b.add("StringToHashBucketStrong", "StringToHashBucketStrong", {text(words)},
        Attrs{{"num_buckets", std::int64_t{7}}, {"key", std::vector<std::int64_t>{3, -4}}}, 0, 0, false);
  b.add("AsString_int64", "AsString", {R(I64, Shape{6}, -1000, 1000)}, {}, 0, 0, false);
  b.add("Equal_string", "Equal", {text(words), text({"a"})}, {}, 0, 0, false);
  CaseInput column = R(I64, Shape{5, 1}, -50, 50);
  column.host = true;
  CaseInput strings = text(words);
  strings.derive = [words](const std::vector<Tensor>&) { return Tensor::from_strings(words, Shape{5, 1}); };
  strings.shape = Shape{5, 1};
  b.add("SparseCross_hashed", "SparseCross", {strings, column},
        Attrs{{"N", std::int64_t{0}}, {"hashed_output", true}, {"num_buckets", std::int64_t{100}},
              {"hash_key", std::int64_t{0xDECAFCAFFE}}, {"sparse_types", std::vector<std::int64_t>{}},
              {"out_type", DType::kInt64}, {"internal_type", DType::kString}},
        0, 0, false);
  b.add("strata.CheckCategoryRange_int64", "strata.CheckCategoryRange", {R(I64, Shape{2, 3}, 0, 5)},
        Attrs{{"depth", std::int64_t{5}}, {"subject", std::string("test")}}, 0, 0, false);

  // index_lookup.cpp, text_vectorization.cpp: every input on the host.
  const auto host_tensor = [](Tensor t) {
    CaseInput in;
    in.dtype = t.dtype();
    in.shape = t.shape();
    in.host = true;
    in.derive = [t](const std::vector<Tensor>&) { return t; };
    return in;
  };
  b.add("strata.LookupTableFind_string", "strata.LookupTableFind",
        {text({"a", "hello", "x"}), host_tensor(Tensor::from_vector<std::int64_t>({2, 3, 4}, Shape{3})), text(words),
         host_tensor(Tensor::scalar<std::int64_t>(1))},
        {}, 0, 0, false);
  b.add("strata.LookupTableFind_int64_oov_buckets", "strata.LookupTableFind",
        {host_tensor(Tensor::from_vector<std::int64_t>({7, -3, 12}, Shape{3})),
         host_tensor(Tensor::from_vector<std::int64_t>({3, 4, 5}, Shape{3})),
         host_tensor(Tensor::from_vector<std::int64_t>({12, 0, -3, 99, -8, 7}, Shape{6})),
         host_tensor(Tensor::scalar<std::int64_t>(0))},
        Attrs{{"num_oov_buckets", std::int64_t{2}}, {"oov_start", std::int64_t{1}}}, 0, 0, false);
  const std::vector<std::string> sentences = {"Hello, World!", "  the  cat sat ", "", "ÄBC déf"};
  b.add("strata.TextTokenize_whitespace", "strata.TextTokenize", {text(sentences)},
        Attrs{{"standardize", std::string("lower_and_strip_punctuation")}, {"split", std::string("whitespace")},
              {"sequence_length", std::int64_t{-1}}},
        0, 0, false);
  b.add("strata.TextTokenize_character_bigrams", "strata.TextTokenize", {text(sentences)},
        Attrs{{"standardize", std::string("lower")}, {"split", std::string("character")},
              {"ngrams", std::vector<std::int64_t>{1, 2}}, {"sequence_length", std::int64_t{6}}},
        0, 0, false);
}

std::vector<OpCase> build() {
  Builder b;
  elementwise(b);
  reductions(b);
  arrays(b);
  nn(b);
  optimizer_updates(b);
  keras_optimizer_updates(b);
  encoding_ops(b);
  return std::move(b.cases);
}

}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = build();
  return cases;
}

std::vector<OpCase> gradient_cases() {
  std::vector<OpCase> out;
  for (const auto& c : op_cases()) {
    if (!c.gradient) continue;
    bool has_f64 = false, has_other_float = false;
    for (const auto& in : c.inputs) {
      if (in.host || !in.differentiable) continue;
      if (in.dtype == F64) has_f64 = true;
      if (in.dtype == F32) has_other_float = true;
    }
    if (!has_f64 || has_other_float) continue;
    out.push_back(c);
  }
  return out;
}

Tensor make_input(const CaseInput& input, std::uint64_t salt, const Device& device) {
  const std::int64_t n = input.shape.num_elements();
  std::vector<double> v = input.values;
  if (v.empty()) {
    std::mt19937_64 rng(salt);
    std::uniform_real_distribution<double> dist(input.lo, input.hi);
    v.resize(static_cast<std::size_t>(n));
    for (auto& x : v) {
      x = dist(rng);
      if (std::abs(x) < input.min_abs) x += x >= 0 ? input.min_abs : -input.min_abs;
      if (input.dtype == BOOL) x = x > (input.lo + input.hi) / 2 ? 1 : 0;
      if (is_integer(input.dtype) || input.integers) x = std::floor(x);
    }
  }
  const Device where = input.host ? Device::cpu() : device;
  switch (input.dtype) {
    case DType::kFloat32: return Tensor::from_vector<float>(std::vector<float>(v.begin(), v.end()), input.shape, where);
    case DType::kFloat64: return Tensor::from_vector<double>(v, input.shape, where);
    case DType::kInt32: return Tensor::from_vector<std::int32_t>(std::vector<std::int32_t>(v.begin(), v.end()), input.shape, where);
    case DType::kInt64: return Tensor::from_vector<std::int64_t>(std::vector<std::int64_t>(v.begin(), v.end()), input.shape, where);
    case DType::kInt8: return Tensor::from_vector<std::int8_t>(std::vector<std::int8_t>(v.begin(), v.end()), input.shape, where);
    case DType::kUInt8: return Tensor::from_vector<std::uint8_t>(std::vector<std::uint8_t>(v.begin(), v.end()), input.shape, where);
    case DType::kBool: return Tensor::from_bools(std::vector<std::uint8_t>(v.begin(), v.end()), input.shape, where);
    case DType::kFloat16: {
      std::vector<float16> h;
      for (double x : v) h.emplace_back(static_cast<float>(x));
      return Tensor::from_vector<float16>(h, input.shape, where);
    }
    case DType::kBFloat16: {
      std::vector<bfloat16> h;
      for (double x : v) h.emplace_back(static_cast<float>(x));
      return Tensor::from_vector<bfloat16>(h, input.shape, where);
    }
    default: break;
  }
  throw ValueError("make_input: unsupported dtype");
}

namespace {
std::vector<double> as_doubles(const Tensor& t) {
  switch (t.dtype()) {
    case DType::kFloat32: { auto v = t.to_vector<float>(); return {v.begin(), v.end()}; }
    case DType::kFloat64: return t.to_vector<double>();
    case DType::kInt32: { auto v = t.to_vector<std::int32_t>(); return {v.begin(), v.end()}; }
    case DType::kInt64: { auto v = t.to_vector<std::int64_t>(); return {v.begin(), v.end()}; }
    case DType::kInt8: { auto v = t.to_vector<std::int8_t>(); return {v.begin(), v.end()}; }
    case DType::kUInt8: { auto v = t.to_vector<std::uint8_t>(); return {v.begin(), v.end()}; }
    case DType::kBool: { auto v = t.to(Device::cpu()); const bool* p = v.host_data<bool>(); return std::vector<double>(p, p + v.num_elements()); }
    case DType::kFloat16: { std::vector<double> o; for (auto h : t.to_vector<float16>()) o.push_back(static_cast<float>(h)); return o; }
    case DType::kBFloat16: { std::vector<double> o; for (auto h : t.to_vector<bfloat16>()) o.push_back(static_cast<float>(h)); return o; }
    default: break;
  }
  throw ValueError("compare: unsupported dtype");
}
}  // namespace

std::vector<Tensor> reference_inputs(const OpCase& c) {
  std::vector<Tensor> ins;
  std::uint64_t salt = std::hash<std::string>()(c.name);
  for (const auto& in : c.inputs) {
    ins.push_back(in.derive ? in.derive(ins) : make_input(in, salt++, Device("ref:0")));
  }
  return ins;
}

std::string compare_tensors(const Tensor& got, const Tensor& ref, double rtol, double atol) {
  std::ostringstream err;
  if (got.dtype() != ref.dtype()) {
    err << "dtype " << dtype_name(got.dtype()) << " vs reference " << dtype_name(ref.dtype());
    return err.str();
  }
  if (!(got.shape() == ref.shape())) {
    err << "shape " << got.shape().to_string() << " vs reference " << ref.shape().to_string();
    return err.str();
  }
  if (got.dtype() == DType::kString) {
    const auto g = got.strings(), r = ref.strings();
    for (std::size_t i = 0; i < g.size(); ++i) {
      if (g[i] != r[i]) return "[" + std::to_string(i) + "] got '" + g[i] + "' ref '" + r[i] + "'";
    }
    return "";
  }
  const auto g = as_doubles(got), r = as_doubles(ref);
  int shown = 0;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const bool both_nan = std::isnan(g[i]) && std::isnan(r[i]);
    const bool same_inf = std::isinf(g[i]) && g[i] == r[i];
    if (both_nan || same_inf) continue;
    if (!(std::abs(g[i] - r[i]) <= atol + rtol * std::abs(r[i]))) {
      ++bad;
      if (shown++ < 5) err << "[" << i << "] got " << g[i] << " ref " << r[i] << "; ";
    }
  }
  if (bad) err << bad << " of " << g.size() << " elements differ";
  return err.str();
}

}  // namespace strata::testing
