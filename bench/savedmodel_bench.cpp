// Inference through a loaded SavedModel (its traced graph, optimised by the cpu backend's
// passes: MatMul + BiasAdd + activation fused) against eager inference of the same model,
// side by side in one run, for the guide's 784-64-64-10 MLP and a small CNN, at batch 1
// (latency) and 1024 (throughput).
//
//   build/bin/strata_bench_savedmodel
//
// Each iteration times the three contenders back to back on the same input:
//   eager_predict  model->predict(x)               (Keras's predict: batching, concatenation)
//   eager_call     (*model)({x})                   (the layers' call, no predict machinery)
//   graph          saved_model::load(dir) serving_default({x})
// The reported time is the graph's; counters give the speed-ups graph vs each eager path.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "bench_io.hpp"
#include "strata/model.hpp"
#include "bench_models.hpp"
#include "strata/ops.hpp"
#include "strata/saved_model.hpp"
#include "strata/strata.hpp"

namespace {

using namespace strata;
namespace fs = std::filesystem;

using bench::cnn_model;
using bench::mlp_model;

using bench::random_input;

struct Case {
  std::shared_ptr<Model> model;
  saved_model::LoadedSavedModel loaded;
};

Case& setup(int which) {
  static Case cases[2];
  Case& c = cases[which];
  if (!c.model) {
    initialize();
    c.model = which == 0 ? mlp_model() : cnn_model();
    const fs::path dir = bench::bench_dir("savedmodel") / (which == 0 ? "mlp" : "cnn");
    save_model(*c.model, dir);
    c.loaded = saved_model::load(dir);
  }
  return c;
}

void BM_Inference(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::int64_t batch = state.range(1);
  Case& c = setup(which);
  const Tensor x = random_input(which == 0 ? Shape{batch, 784} : Shape{batch, 28, 28, 1});
  const auto& serve = c.loaded.signatures.at("serving_default");
  // Warm-up (primitive caches, first allocations) of all three.
  (void)c.model->predict(x, batch);
  (void)(*c.model)({x});
  (void)serve({x});
  const int reps = batch == 1 ? 200 : 4;
  std::vector<double> predict_t, call_t, graph_t;
  for (auto _ : state) {
    auto t0 = bench::Clock::now();
    for (int r = 0; r < reps; ++r) benchmark::DoNotOptimize(c.model->predict(x, batch));
    predict_t.push_back(bench::seconds_since(t0) / reps);
    t0 = bench::Clock::now();
    for (int r = 0; r < reps; ++r) benchmark::DoNotOptimize((*c.model)({x}));
    call_t.push_back(bench::seconds_since(t0) / reps);
    t0 = bench::Clock::now();
    for (int r = 0; r < reps; ++r) benchmark::DoNotOptimize(serve({x}));
    graph_t.push_back(bench::seconds_since(t0) / reps);
    state.SetIterationTime(graph_t.back());
  }
  state.SetLabel(which == 0 ? "mlp_784_64_64_10" : "small_cnn");
  state.counters["eager_predict_us"] = bench::median(predict_t) * 1e6;
  state.counters["eager_call_us"] = bench::median(call_t) * 1e6;
  state.counters["graph_us"] = bench::median(graph_t) * 1e6;
  state.counters["graph_vs_eager_predict"] = bench::median(predict_t) / bench::median(graph_t);
  state.counters["graph_vs_eager_call"] = bench::median(call_t) / bench::median(graph_t);
}

BENCHMARK(BM_Inference)
    ->ArgNames({"model", "batch"})
    ->Args({0, 1})
    ->Args({0, 1024})
    ->Args({1, 1})
    ->Args({1, 1024})
    ->Iterations(15)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
