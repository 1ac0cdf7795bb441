// Model-level throughput and latency of the guide's 784-64-64-10 MLP:
//   fit throughput (samples/s) at batch 32 and 256 (one train_step per iteration),
//   predict latency at batch 1 and throughput at batch 1024.
// Reusable: --batch=N and --steps=N run one extra fit and predict measurement with
// those values (printed as plain lines), besides the Google Benchmark cases, so that a
// comparison with tf-keras and ONNX Runtime can drive this program with the same settings.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <random>

#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/strata.hpp"

namespace {

using namespace strata;

std::shared_ptr<Model> mlp() {
  Tensor inputs = Input(Shape{784}, "digits");
  Tensor x = (*make_layer("Dense", Config{{"units", 64}, {"activation", "relu"}}))(inputs);
  x = (*make_layer("Dense", Config{{"units", 64}, {"activation", "relu"}}))(x);
  Tensor outputs = (*make_layer("Dense", Config{{"units", 10}}))(x);
  auto model = std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs}, "3_layer_mlp");
  model->compile(Config("rmsprop"),
                 Config{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
  return model;
}

Tensor features(std::int64_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(0, 1);
  std::vector<float> v(static_cast<std::size_t>(n * 784));
  for (auto& x : v) x = d(rng);
  return Tensor::from_vector<float>(v, Shape{n, 784});
}

Tensor labels(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i % 10;
  return Tensor::from_vector<std::int64_t>(v, Shape{n});
}

void BM_FitStep(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  auto model = mlp();
  const Tensor x = features(batch), y = labels(batch);
  model->train_on_batch({x}, {y});  // warm-up: build slots, primitives
  for (auto _ : state) benchmark::DoNotOptimize(model->train_step({x}, {y}, Tensor()));
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_FitStep)->Arg(32)->Arg(256)->Unit(benchmark::kMicrosecond);

void BM_Predict(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  auto model = mlp();
  const Tensor x = features(batch);
  model->predict(x, batch);
  for (auto _ : state) benchmark::DoNotOptimize(model->predict(x, batch));
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Predict)->Arg(1)->Arg(1024)->Unit(benchmark::kMicrosecond);

// --batch=N --steps=N: one plain measurement for scripts comparing peers.
void custom_run(std::int64_t batch, int steps) {
  auto model = mlp();
  const Tensor x = features(batch), y = labels(batch);
  model->train_on_batch({x}, {y});
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) model->train_step({x}, {y}, Tensor());
  const double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  model->predict(x, batch);
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) model->predict(x, batch);
  const double pred_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "strata fit batch=" << batch << " samples/s=" << static_cast<double>(batch * steps) / fit_s << "\n"
            << "strata predict batch=" << batch << " latency_us=" << pred_s / steps * 1e6
            << " samples/s=" << static_cast<double>(batch * steps) / pred_s << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t batch = 0;
  int steps = 100;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--batch=", 8) == 0) batch = std::atoll(argv[i] + 8);
    else if (std::strncmp(argv[i], "--steps=", 8) == 0) steps = std::atoi(argv[i] + 8);
    else rest.push_back(argv[i]);
  }
  strata::initialize();
  strata::set_random_seed(1);
  if (batch > 0) {
    custom_run(batch, steps);
    return 0;
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
