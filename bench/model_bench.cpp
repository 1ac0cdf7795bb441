// Model-level throughput and latency of the guide's 784-64-64-10 MLP:
//   fit throughput (samples/s) at batch 32 and 256 (one train_step per iteration),
//   predict latency at batch 1 and throughput at batch 1024.
//   a fit epoch against the same steps through train_on_batch (BM_FitEpoch,
//   BM_TrainOnBatchEpoch: 20 batches of 256 samples, shuffled by fit, pre-sliced for
//   train_on_batch, as a user would write that loop).
// --epoch-pairs=N runs N interleaved (fit epoch, train_on_batch epoch) wall-clock pairs and
// prints each ratio; --epoch-mode=fit|tob runs 3 epochs of one kind only (for callgrind).
// --traced-pairs=N runs N interleaved (traced, eager) train-step pairs at batch 32 and 256 (50
// train_on_batch steps each, one model per path) and prints each ratio.
// Reusable: --batch=N and --steps=N run one extra fit and predict measurement with
// those values (printed as plain lines), besides the Google Benchmark cases, so that a
// comparison with tf-keras and ONNX Runtime can drive this program with the same settings.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/strata.hpp"
#include "strata/training.hpp"

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

constexpr std::int64_t kEpochBatch = 256, kEpochSteps = 20;

struct EpochData {
  Tensor x, y;
  std::vector<Tensor> bx, by;  // the same samples in batches
  EpochData() : x(features(kEpochBatch * kEpochSteps)), y(labels(kEpochBatch * kEpochSteps)) {
    for (std::int64_t s = 0; s < kEpochSteps; ++s) {
      bx.push_back(slice(x, {s * kEpochBatch, 0}, {kEpochBatch, 784}));
      by.push_back(slice(y, {s * kEpochBatch}, {kEpochBatch}));
      bx.back() = bx.back() + 0.0;  // contiguous copies, as a user's own batches are
      by.back() = identity(by.back());
    }
  }
};

FitOptions epoch_options() {
  FitOptions o;
  o.batch_size = kEpochBatch;
  o.epochs = 1;
  o.verbose = 0;
  return o;
}

void fit_epoch(Model& model, const EpochData& d) { model.fit(d.x, d.y, epoch_options()); }

void train_on_batch_epoch(Model& model, const EpochData& d) {
  for (std::size_t s = 0; s < d.bx.size(); ++s) model.train_on_batch({d.bx[s]}, {d.by[s]});
}

void BM_FitEpoch(benchmark::State& state) {
  auto model = mlp();
  const EpochData d;
  fit_epoch(*model, d);
  for (auto _ : state) fit_epoch(*model, d);
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(kEpochBatch * kEpochSteps), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_FitEpoch)->Unit(benchmark::kMillisecond);

void BM_TrainOnBatchEpoch(benchmark::State& state) {
  auto model = mlp();
  const EpochData d;
  train_on_batch_epoch(*model, d);
  for (auto _ : state) train_on_batch_epoch(*model, d);
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(kEpochBatch * kEpochSteps), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TrainOnBatchEpoch)->Unit(benchmark::kMillisecond);

// Interleaved wall-clock pairs: fit epoch / train_on_batch epoch, one model each.
void epoch_pairs(int pairs) {
  auto fit_model = mlp(), tob_model = mlp();
  const EpochData d;
  fit_epoch(*fit_model, d);
  train_on_batch_epoch(*tob_model, d);
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < pairs; ++i) {
    auto t0 = clock::now();
    fit_epoch(*fit_model, d);
    const double fit_s = std::chrono::duration<double>(clock::now() - t0).count();
    t0 = clock::now();
    train_on_batch_epoch(*tob_model, d);
    const double tob_s = std::chrono::duration<double>(clock::now() - t0).count();
    std::cout << "pair " << i << " fit_ms=" << fit_s * 1e3 << " train_on_batch_ms=" << tob_s * 1e3
              << " ratio=" << fit_s / tob_s << "\n";
  }
}

// Interleaved wall-clock pairs: the traced train step / the eager one.
void traced_pairs(int pairs) {
  for (const std::int64_t batch : {std::int64_t{32}, std::int64_t{256}}) {
    auto traced = mlp(), eager = mlp();
    const Tensor x = features(batch), y = labels(batch);
    const auto steps = [&](Model& model, bool on) {
      set_traced_train_step_enabled(on);
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 50; ++i) model.train_on_batch({x}, {y});
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    steps(*traced, true);
    steps(*eager, false);
    for (int i = 0; i < pairs; ++i) {
      const double t = steps(*traced, true);
      const double e = steps(*eager, false);
      std::cout << "batch " << batch << " pair " << i << " traced_us_per_step=" << t / 50 * 1e6
                << " eager_us_per_step=" << e / 50 * 1e6 << " traced/eager=" << t / e << "\n";
    }
  }
  set_traced_train_step_enabled(true);
}

void epoch_mode(const std::string& mode) {
  auto model = mlp();
  const EpochData d;
  for (int i = 0; i < 3; ++i) {
    if (mode == "fit") {
      fit_epoch(*model, d);
    } else {
      train_on_batch_epoch(*model, d);
    }
  }
}

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
  int steps = 100, pairs = 0, tpairs = 0;
  std::string mode;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--batch=", 8) == 0) batch = std::atoll(argv[i] + 8);
    else if (std::strncmp(argv[i], "--steps=", 8) == 0) steps = std::atoi(argv[i] + 8);
    else if (std::strncmp(argv[i], "--epoch-pairs=", 14) == 0) pairs = std::atoi(argv[i] + 14);
    else if (std::strncmp(argv[i], "--epoch-mode=", 13) == 0) mode = argv[i] + 13;
    else if (std::strncmp(argv[i], "--traced-pairs=", 15) == 0) tpairs = std::atoi(argv[i] + 15);
    else rest.push_back(argv[i]);
  }
  strata::initialize();
  strata::set_random_seed(1);
  if (batch > 0) {
    custom_run(batch, steps);
    return 0;
  }
  if (tpairs > 0) {
    traced_pairs(tpairs);
    return 0;
  }
  if (pairs > 0) {
    epoch_pairs(pairs);
    return 0;
  }
  if (!mode.empty()) {
    epoch_mode(mode);
    return 0;
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
