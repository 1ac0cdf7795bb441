// Tracing and graphs on the ref device.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "ref_backend.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/registry.hpp"

namespace strata {
namespace {

class GraphTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::register_ref_backend(); }
  DeviceScope scope_{Device("ref:0")};
};

Tensor dense(const Tensor& x, const Variable& w, const Variable& b) { return relu(matmul(x, read(w)) + read(b)); }

TEST_F(GraphTest, TracedFunctionEqualsEagerAndKeepsUnknownBatch) {
  Variable w("w", Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.5f}, Shape{3, 2}));
  Variable b("b", Tensor::from_vector<float>({0.1f, -0.2f}, Shape{2}));
  Graph g = trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{dense(in[0], w, b)}; },
                  {{Shape{Shape::kUnknown, 3}, DType::kFloat32, "x"}});
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0].shape(), (Shape{Shape::kUnknown, 2}));
  EXPECT_EQ(g.captured_variables().size(), 2u);
  for (std::int64_t batch : {1, 4}) {
    std::vector<float> xs;
    for (std::int64_t i = 0; i < batch * 3; ++i) xs.push_back(static_cast<float>(i % 5) - 2.0f);
    Tensor x = Tensor::from_vector<float>(xs, Shape{batch, 3});
    const auto eager = dense(x, w, b).to_vector<float>();
    const auto traced = g.run({x})[0].to_vector<float>();
    EXPECT_EQ(traced, eager);
  }
}

// Shape inference sees a constant behind an integer Cast (TensorFlow's graphs and Strata's
// exports put one before Split's int32 axis): the outputs keep known shapes.
TEST_F(GraphTest, ShapeInferenceReadsConstantsThroughIntegerCasts) {
  Graph g = trace(
      [](const std::vector<Tensor>& in) {
        const Tensor axis = cast(Tensor::scalar<std::int64_t>(1), DType::kInt32);
        Attrs attrs;
        attrs.set("num_split", std::int64_t{3});
        return execute("Split", {axis, in[0]}, attrs);
      },
      {{Shape{Shape::kUnknown, 6}, DType::kFloat32, "x"}});
  ASSERT_EQ(g.outputs().size(), 3u);
  bool cast_recorded = false;
  for (const auto& node : g.nodes()) cast_recorded = cast_recorded || node->op == "Cast";
  EXPECT_TRUE(cast_recorded) << g.to_string();
  for (const auto& o : g.outputs()) EXPECT_EQ(o.shape(), (Shape{Shape::kUnknown, 2})) << g.to_string();
  const auto parts = g.run({Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, Shape{1, 6})});
  EXPECT_EQ(parts[2].to_vector<float>(), (std::vector<float>{4, 5}));
}

// A Reshape target whose element count overflows int64 (found by the SavedModel fuzzer, a
// Const shape of a traced graph) is a ShapeError, also while tracing.
TEST_F(GraphTest, ReshapeTargetsThatOverflowAreShapeErrors) {
  const std::int64_t big = std::int64_t{1} << 40;
  EXPECT_THROW(
      trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{reshape(in[0], Shape{big, big, -1})}; },
            {{Shape{Shape::kUnknown, 6}, DType::kFloat32, "x"}}),
      ShapeError);
  EXPECT_THROW(reshape(Tensor::from_vector<float>({1, 2, 3, 4}, Shape{4}), Shape{big, big}), ShapeError);
}

TEST_F(GraphTest, VariablesStayReferencesAndConstantsAreCaptured) {
  Variable w("w", Tensor::from_vector<double>({2.0}, Shape{1}));
  Tensor c = Tensor::from_vector<double>({10.0}, Shape{1});
  Graph g = trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * read(w) + c}; },
                  {{Shape{1}, DType::kFloat64}});
  Tensor x = Tensor::from_vector<double>({3.0}, Shape{1});
  EXPECT_EQ(g.run({x})[0].to_vector<double>(), std::vector<double>{16.0});
  w.assign(Tensor::from_vector<double>({-1.0}, Shape{1}));
  EXPECT_EQ(g.run({x})[0].to_vector<double>(), std::vector<double>{7.0});  // sees the new value
  const std::string listing = g.to_string();
  EXPECT_NE(listing.find("ReadVariableOp"), std::string::npos) << listing;
  EXPECT_NE(listing.find("Const"), std::string::npos) << listing;
}

// A variable's reads and assignments run in the order they were traced (TensorFlow's
// automatic control dependencies): a read traced after an assignment sees the assigned
// value, one traced before it the value before, and two assignments keep their order.
TEST_F(GraphTest, VariableReadsAndAssignmentsRunInTracedOrder) {
  Variable v("v", Tensor::from_vector<double>({1.0}, Shape{1}));
  Graph g = trace(
      [&](const std::vector<Tensor>& in) {
        const Tensor before = read(v);
        assign_variable(v, before + in[0]);
        const Tensor after = read(v);
        assign_variable(v, after * 10.0);
        const Tensor last = read(v);
        return std::vector<Tensor>{before, after, last};
      },
      {{Shape{1}, DType::kFloat64}});
  const auto out = g.run({Tensor::from_vector<double>({2.0}, Shape{1})});
  EXPECT_EQ(out[0].to_vector<double>(), std::vector<double>{1.0});
  EXPECT_EQ(out[1].to_vector<double>(), std::vector<double>{3.0});
  EXPECT_EQ(out[2].to_vector<double>(), std::vector<double>{30.0});
  EXPECT_EQ(v.value().to_vector<double>(), std::vector<double>{30.0});
}

TEST_F(GraphTest, RandomOpsStayRandomUnlessSeeded) {
  Graph unseeded = trace([](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] + random_uniform(Shape{4}, DType::kFloat32, 0, 1, std::nullopt, Device("ref:0"))};
  }, {{Shape{4}}});
  Graph seeded = trace([](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{in[0] + random_uniform(Shape{4}, DType::kFloat32, 0, 1, 7, Device("ref:0"))};
  }, {{Shape{4}}});
  Tensor zero = zeros(Shape{4});
  EXPECT_NE(unseeded.run({zero})[0].to_vector<float>(), unseeded.run({zero})[0].to_vector<float>());
  EXPECT_EQ(seeded.run({zero})[0].to_vector<float>(), seeded.run({zero})[0].to_vector<float>());
}

TEST_F(GraphTest, NameScopesPrefixNodeNames) {
  Graph g = trace([](const std::vector<Tensor>& in) {
    NameScope outer("dense");
    Tensor a = in[0] + in[0];
    Tensor b = a + in[0];
    return std::vector<Tensor>{b};
  }, {{Shape{2}, DType::kFloat32, "x"}});
  std::vector<std::string> names;
  for (const auto& n : g.nodes()) names.push_back(n->name);
  EXPECT_EQ(names, (std::vector<std::string>{"x", "dense/AddV2", "dense/AddV2"}));
}

TEST_F(GraphTest, OutputsMustOnlyDependOnGraphInputs) {
  Tensor p = placeholder({Shape{2}, DType::kFloat32, "other"});
  Tensor q = placeholder({Shape{2}, DType::kFloat32, "x"});
  Tensor out = p + q;
  try {
    Graph g({q}, {out});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("placeholder 'other'"), std::string::npos) << e.what();
  }
}

TEST_F(GraphTest, SymbolicShapeInferenceReportsBadShapes) {
  Tensor x = placeholder({Shape{Shape::kUnknown, 3}});
  Tensor y = placeholder({Shape{Shape::kUnknown, 4}});
  EXPECT_THROW(x + y, ShapeError);
  Tensor w = Tensor::from_vector<float>(std::vector<float>(12, 1.0f), Shape{3, 4});
  Tensor h = matmul(x, w);
  EXPECT_TRUE(h.is_symbolic());
  EXPECT_EQ(h.shape(), (Shape{Shape::kUnknown, 4}));
  EXPECT_EQ(reshape(h, Shape{-1}).shape(), (Shape{Shape::kUnknown}));
  EXPECT_EQ(sum(h, {1}).shape(), (Shape{Shape::kUnknown}));
  EXPECT_THROW(h.to_vector<float>(), ValueError);  // symbolic: no values
}

TEST_F(GraphTest, RunningAGraphUnderATapeIsDifferentiable) {
  Variable w("w", Tensor::from_vector<double>({3.0}, Shape{1}));
  Graph g = trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{sum(square(in[0] * read(w)))}; },
                  {{Shape{1}, DType::kFloat64}});
  GradientTape tape;
  Tensor loss = g.run({Tensor::from_vector<double>({2.0}, Shape{1})})[0];  // (2w)^2
  EXPECT_EQ(tape.gradient(loss, std::vector<Variable>{w})[0].to_vector<double>(), std::vector<double>{24.0});  // 8w
}

TEST_F(GraphTest, InputsAreChecked) {
  Graph g = trace([](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * 2.0}; },
                  {{Shape{Shape::kUnknown, 2}, DType::kFloat32}});
  EXPECT_THROW(g.run({Tensor::from_vector<double>({1, 2}, Shape{1, 2})}), ValueError);
  EXPECT_THROW(g.run({Tensor::from_vector<float>({1, 2, 3}, Shape{1, 3})}), ShapeError);
  EXPECT_THROW(g.run({}), ValueError);
}

// ---- plans: Graph::run compiles one per input signature -----------------------------------------

// An op whose shape inference counts its calls: x * 2 on the ref device.
std::atomic<std::size_t> g_plan_test_peak{0};  // most ref:0 bytes live in a PlanTestDouble kernel
std::atomic<int> g_plan_test_infers{0};
void register_plan_test_op() {
  static std::once_flag once;
  std::call_once(once, [] {
    Registrar registrar(Registry::global(), "graph-plan-test");
    OpDef d;
    d.name = "PlanTestDouble";
    d.num_inputs = 1;
    d.not_differentiable = true;
    d.infer = [](const InferContext& c) -> std::vector<TensorMeta> {
      ++g_plan_test_infers;
      return {{c.dtype(0), c.shape(0)}};
    };
    registrar.add<ObjectKind::kOp>("PlanTestDouble", d);
    add_kernel(registrar, "PlanTestDouble", "ref", DType::kFloat32, [](KernelContext& ctx) {
      const Tensor& x = ctx.input(0);
      float* out = static_cast<float*>(testing::ref_host_pointer(ctx.allocate_output(0).mutable_data()));
      const float* in = static_cast<const float*>(testing::ref_host_pointer(x.data()));
      for (std::int64_t i = 0; i < x.num_elements(); ++i) out[i] = 2 * in[i];
      std::size_t seen = g_plan_test_peak.load();
      const std::size_t now = testing::ref_live_bytes();
      while (now > seen && !g_plan_test_peak.compare_exchange_weak(seen, now)) {
      }
    });
    registrar.commit();
  });
}

Tensor ramp(std::int64_t rows, std::int64_t cols, float start) {
  std::vector<float> v;
  for (std::int64_t i = 0; i < rows * cols; ++i) v.push_back(start + static_cast<float>(i % 7) - 3.0f);
  return Tensor::from_vector<float>(v, Shape{rows, cols});
}

// Shapes are inferred when a signature is first seen, not on every run; a new input shape
// compiles another plan; the outputs are those of the eager ops.
TEST_F(GraphTest, PlanInfersShapesOncePerSignature) {
  register_plan_test_op();
  Variable w("w", Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.5f}, Shape{3, 2}));
  Variable b("b", Tensor::from_vector<float>({0.1f, -0.2f}, Shape{2}));
  const auto fn = [&](const Tensor& x) { return execute1("PlanTestDouble", {dense(x, w, b)}); };
  Graph g = trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(in[0])}; },
                  {{Shape{Shape::kUnknown, 3}, DType::kFloat32, "x"}});
  const Tensor x2 = ramp(2, 3, 0.0f), x5 = ramp(5, 3, 1.0f);
  const int before = g_plan_test_infers.load();
  EXPECT_EQ(g.run({x2})[0].to_vector<float>(), fn(x2).to_vector<float>());
  const int compiled = g_plan_test_infers.load();
  EXPECT_GT(compiled, before + 1);  // the run compiled a plan (and the eager call inferred once)
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g.run({x2})[0].to_vector<float>(), fn(x2).to_vector<float>());
  EXPECT_EQ(g_plan_test_infers.load(), compiled + 3);  // the eager calls only
  // Another batch: another plan, right shapes.
  const auto y5 = g.run({x5})[0];
  EXPECT_EQ(y5.shape(), (Shape{5, 2}));
  EXPECT_EQ(y5.to_vector<float>(), fn(x5).to_vector<float>());
  EXPECT_GT(g_plan_test_infers.load(), compiled + 4);
  const int both = g_plan_test_infers.load();
  EXPECT_EQ(g.run({x2})[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(g.run({x5})[0].shape(), (Shape{5, 2}));
  EXPECT_EQ(g_plan_test_infers.load(), both);  // both plans kept
  // A copy of the graph runs the same nodes: it shares the plans.
  const Graph copy = g;
  EXPECT_EQ(copy.run({x2})[0].to_vector<float>(), fn(x2).to_vector<float>());
  EXPECT_EQ(g_plan_test_infers.load(), both + 1);
}

// A run drops each intermediate after its last reader: a chain of ten 4 KB nodes holds the
// caller's input, the node's input and its output (2 blocks, 3 with any rounding), not all ten (with
// and without a plan: the first run compiles, the second runs the plan).
TEST_F(GraphTest, RunsHoldOnlyTheLiveIntermediates) {
  register_plan_test_op();
  Graph g = trace(
      [](const std::vector<Tensor>& in) {
        Tensor t = in[0];
        for (int i = 0; i < 10; ++i) t = execute1("PlanTestDouble", {t});
        return std::vector<Tensor>{t};
      },
      {{Shape{1000}, DType::kFloat32, "x"}});
  const Tensor x = ramp(1, 1000, 0.0f).reshape(Shape{1000});
  constexpr std::size_t kBytes = 1000 * sizeof(float);
  for (int run = 0; run < 2; ++run) {
    const std::size_t before = testing::ref_live_bytes();
    g_plan_test_peak = 0;
    const Tensor y = g.run({x})[0];
    EXPECT_EQ(y.to_vector<float>()[5], 1024.0f * x.to_vector<float>()[5]);
    EXPECT_LE(g_plan_test_peak.load(), before + 3 * kBytes) << "run " << run;  // all ten: 10 * kBytes
  }
}

// Weights assigned between runs are what the next run reads; a variable given a value of
// another shape makes the planned nodes after it run unplanned (right shapes, no stale plan).
TEST_F(GraphTest, PlanSeesAssignedWeights) {
  Variable w("w", Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.5f}, Shape{3, 2}));
  Variable b("b", Tensor::from_vector<float>({0.1f, -0.2f}, Shape{2}));
  Graph g = trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{dense(in[0], w, b)}; },
                  {{Shape{Shape::kUnknown, 3}, DType::kFloat32, "x"}});
  const Tensor x = ramp(2, 3, 0.0f);
  EXPECT_EQ(g.run({x})[0].to_vector<float>(), dense(x, w, b).to_vector<float>());
  EXPECT_EQ(g.run({x})[0].to_vector<float>(), dense(x, w, b).to_vector<float>());
  w.assign(Tensor::from_vector<float>({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, Shape{3, 2}));
  b.assign(Tensor::from_vector<float>({-1.0f, 1.0f}, Shape{2}));
  const auto after = g.run({x})[0].to_vector<float>();
  EXPECT_EQ(after, dense(x, w, b).to_vector<float>());
  EXPECT_NE(after, (std::vector<float>{0, 0, 0, 0}));
}

// Values computed from weights alone (here w * 2, also a graph output so that its tensor can
// be seen) are computed by the first two runs of a signature, kept by the second (the same
// weights twice in a row) and taken from there afterwards; assigning a weight computes them
// again from the new value. Assigning before every run (training) keeps nothing.
TEST_F(GraphTest, PlanKeepsValuesComputedFromWeightsUntilAWeightIsAssigned) {
  Variable w("w", Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.5f}, Shape{3, 2}));
  Graph g = trace(
      [&](const std::vector<Tensor>& in) {
        const Tensor doubled = read(w) * 2.0;
        return std::vector<Tensor>{matmul(in[0], doubled), doubled};
      },
      {{Shape{Shape::kUnknown, 3}, DType::kFloat32, "x"}});
  const Tensor x = ramp(2, 3, 0.0f);
  auto expect_right = [&](const std::vector<Tensor>& out) {
    const Tensor doubled = w.value() * 2.0;
    EXPECT_EQ(out[0].to_vector<float>(), matmul(x, doubled).to_vector<float>());
    EXPECT_EQ(out[1].to_vector<float>(), doubled.to_vector<float>());
  };
  std::vector<std::vector<Tensor>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(g.run({x}));
    expect_right(runs.back());
  }
  EXPECT_NE(runs[1][1].id(), runs[0][1].id());  // computed by both
  EXPECT_EQ(runs[2][1].id(), runs[1][1].id());  // then kept
  EXPECT_EQ(runs[3][1].id(), runs[1][1].id());
  w.assign(Tensor::from_vector<float>({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, Shape{3, 2}));
  runs.clear();
  for (int i = 0; i < 3; ++i) {
    runs.push_back(g.run({x}));
    expect_right(runs.back());
  }
  EXPECT_NE(runs[0][1].id(), runs[1][1].id());
  EXPECT_EQ(runs[2][1].id(), runs[1][1].id());
  // A new weight before every run: computed every time, never kept.
  runs.clear();
  for (int i = 0; i < 3; ++i) {
    w.assign(w.value() + 1.0);
    runs.push_back(g.run({x}));
    expect_right(runs.back());
  }
  EXPECT_NE(runs[1][1].id(), runs[2][1].id());
}

// An op whose output shape depends on input values (Reshape to a shape the caller passes)
// is never planned: the same signature with other values gives other shapes.
TEST_F(GraphTest, PlanLeavesValueDependentShapesToEachRun) {
  Graph g = trace(
      [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{execute1("Reshape", {in[0], in[1]})}; },
      {{Shape{6}, DType::kFloat32, "x"}, {Shape{2}, DType::kInt64, "shape"}});
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{6});
  EXPECT_EQ(g.run({x, Tensor::from_vector<std::int64_t>({2, 3}, Shape{2})})[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(g.run({x, Tensor::from_vector<std::int64_t>({2, 3}, Shape{2})})[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(g.run({x, Tensor::from_vector<std::int64_t>({3, 2}, Shape{2})})[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(g.run({x, Tensor::from_vector<std::int64_t>({6, 1}, Shape{2})})[0].shape(), (Shape{6, 1}));
}

// Planned runs record on gradient tapes as the unplanned ones do.
TEST_F(GraphTest, PlannedRunsRecordOnTapes) {
  Variable w("w", Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.5f}, Shape{3, 2}));
  Variable b("b", Tensor::from_vector<float>({0.1f, -0.2f}, Shape{2}));
  Graph g = trace([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{dense(in[0], w, b)}; },
                  {{Shape{Shape::kUnknown, 3}, DType::kFloat32, "x"}});
  const Tensor x = ramp(2, 3, 0.0f);
  (void)g.run({x});  // compiles the plan
  std::vector<float> planned, eager;
  {
    GradientTape tape;
    const Tensor y = g.run({x})[0];
    planned = tape.gradient(sum(y), std::vector<Variable>{w})[0].to_vector<float>();
  }
  {
    GradientTape tape;
    const Tensor y = dense(x, w, b);
    eager = tape.gradient(sum(y), std::vector<Variable>{w})[0].to_vector<float>();
  }
  EXPECT_EQ(planned, eager);
}

TEST_F(GraphTest, GraphPassesSwitch) {
  const bool was = graph_passes_enabled();
  set_graph_passes_enabled(false);
  EXPECT_FALSE(graph_passes_enabled());
  set_graph_passes_enabled(true);
  EXPECT_TRUE(graph_passes_enabled());
  set_graph_passes_enabled(was);
}

}  // namespace
}  // namespace strata
