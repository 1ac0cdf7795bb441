// The traced train step (runtime/src/training/traced_step.cpp): fit through the traced graph
// and fit through the eager GradientTape step give the same weights and logs over 100 steps
// (the guide's MLP, a CNN with BatchNormalization, a multi-output model with sample weights
// and metrics); training resumed across the two paths (weights and optimizer state into a
// new model) matches an uninterrupted run; models the trace cannot reproduce exactly run
// eagerly and still learn; toggling a layer's trainable flag or compiling again retraces;
// the switch turns the traced step off. traced_train_step_stats() shows which path ran, so a
// test of the traced path fails when the step silently ran eagerly.
//
// Tolerance: the model conformance suite's for weights after training (tests/ops/
// model_conformance_test.cpp: |got - ref| <= 1e-5 + 1e-4 |ref|). With no training-safe graph
// pass registered the two paths run the same ops in the same order and agree bitwise; a
// fusing pass would change only the fused ops' rounding, which that tolerance covers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "strata/model.hpp"
#include "strata/training.hpp"
#include "training_test_util.hpp"

namespace strata::training_tests {
namespace {

constexpr double kRtol = 1e-4, kAtol = 1e-5;

Device train_device() {
  return skip_reason("cpu:0").empty() ? Device("cpu:0") : Device("ref:0");
}

Tensor uniform(const Shape& shape, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (auto& e : v) e = u(rng);
  return Tensor::from_vector<float>(v, shape, train_device());
}

Tensor labels(std::int64_t n, std::int64_t classes, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(classes));
  return Tensor::from_vector<std::int64_t>(v, Shape{n}, train_device());
}

std::shared_ptr<Layer> layer(std::string_view cls, Config config) {
  return make_layer(cls, config);
}

// The largest |got - ref| / (atol + rtol |ref|) over the weights: <= 1 passes.
double worst_ratio(const std::vector<Tensor>& got, const std::vector<Tensor>& ref) {
  EXPECT_EQ(got.size(), ref.size());
  double worst = 0;
  for (std::size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    const auto g = values(got[i]);
    const auto r = values(ref[i]);
    EXPECT_EQ(g.size(), r.size());
    for (std::size_t k = 0; k < std::min(g.size(), r.size()); ++k) {
      worst = std::max(worst, std::abs(g[k] - r[k]) / (kAtol + kRtol * std::abs(r[k])));
    }
  }
  return worst;
}

void expect_history_close(const History& got, const History& ref) {
  ASSERT_EQ(got.history.size(), ref.history.size());
  for (const auto& [key, values] : ref.history) {
    ASSERT_TRUE(got.history.count(key)) << key;
    const auto& g = got.history.at(key);
    ASSERT_EQ(g.size(), values.size()) << key;
    for (std::size_t i = 0; i < g.size(); ++i) {
      EXPECT_LE(std::abs(g[i] - values[i]), kAtol + kRtol * std::abs(values[i])) << key << " epoch " << i;
    }
  }
}

struct FitRun {
  History history;
  std::vector<Tensor> weights;
  TracedTrainStepStats stats;
};

struct Case {
  std::function<std::shared_ptr<Model>()> build;
  std::function<void(Model&)> compile;
  std::vector<Tensor> x, y;
  Tensor sample_weight;
  std::int64_t batch_size = 32;
  int epochs = 10;
};

FitRun fit_once(const Case& c, bool traced) {
  clear_session();
  set_random_seed(7);
  DeviceScope scope{train_device()};
  auto model = c.build();
  c.compile(*model);
  set_traced_train_step_enabled(traced);
  reset_traced_train_step_stats();
  FitOptions options;
  options.batch_size = c.batch_size;
  options.epochs = c.epochs;
  options.verbose = 0;
  options.sample_weight = c.sample_weight;
  FitRun run;
  run.history = model->fit(c.x, c.y, options);
  run.stats = traced_train_step_stats();
  run.weights = model->get_weights();
  for (const auto& v : model->optimizer()->variables()) run.weights.push_back(v.value().to(Device::cpu()));
  set_traced_train_step_enabled(true);
  return run;
}

class TracedStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Registry::global().contains(ObjectKind::kLayer, "Dense")) GTEST_SKIP() << "the layers plugin is not loaded";
    set_traced_train_step_enabled(true);
  }
  void TearDown() override { set_traced_train_step_enabled(true); }

  // 100 steps each way: the traced run took the traced path every step, the eager run
  // never, and they agree.
  static void expect_paths_agree(const Case& c, std::int64_t steps) {
    const FitRun traced = fit_once(c, true);
    const FitRun eager = fit_once(c, false);
    EXPECT_EQ(traced.stats.traced_steps, static_cast<std::uint64_t>(steps));
    EXPECT_EQ(traced.stats.eager_steps, 0u);
    EXPECT_EQ(traced.stats.fallbacks, 0u);
    EXPECT_EQ(eager.stats.traced_steps, 0u);
    EXPECT_EQ(eager.stats.eager_steps, static_cast<std::uint64_t>(steps));
    const double worst = worst_ratio(traced.weights, eager.weights);
    std::cout << "[ traced   ] worst |traced - eager| / (atol + rtol |eager|) over weights and optimizer state: "
              << worst << "\n";
    EXPECT_LE(worst, 1.0);
    expect_history_close(traced.history, eager.history);
  }
};

Case mlp_case(std::int64_t batch = 32) {
  Case c;
  c.build = [] {
    return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
        layer("Dense", {{"units", 64}, {"activation", "relu"}, {"input_shape", {784}}}),
        layer("Dense", {{"units", 64}, {"activation", "relu"}}), layer("Dense", {{"units", 10}})});
  };
  c.compile = [](Model& m) {
    m.compile(Config{{"class_name", "adam"}, {"config", {{"learning_rate", 0.001}}}},
              Config{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}},
              Config::array({"accuracy"}));
  };
  c.x = {uniform(Shape{320, 784}, 1, 0.0f, 1.0f)};
  c.y = {labels(320, 10, 2)};
  c.batch_size = batch;
  return c;
}

TEST_F(TracedStepTest, GuideMlpMatchesEagerOver100Steps) {
  expect_paths_agree(mlp_case(), 100);
}

TEST_F(TracedStepTest, CnnWithBatchNormalizationMatchesEagerOver100Steps) {
  Case c;
  c.build = [] {
    Tensor x = Input(Shape{8, 8, 3}, "image");
    Tensor h = (*layer("Conv2D", {{"filters", 6}, {"kernel_size", 3}, {"padding", "same"}}))(x);
    h = (*layer("BatchNormalization", {}))(h);
    h = (*layer("Activation", {{"activation", "relu"}}))(h);
    h = (*layer("MaxPooling2D", {{"pool_size", 2}}))(h);
    h = (*layer("Flatten", {}))(h);
    h = (*layer("Dense", {{"units", 3}, {"activation", "softmax"}}))(h);
    return std::make_shared<Functional>(std::vector<Tensor>{x}, std::vector<Tensor>{h}, "cnn");
  };
  c.compile = [](Model& m) {
    m.compile(Config{{"class_name", "sgd"}, {"config", {{"learning_rate", 0.05}, {"momentum", 0.9}}}},
              Config("sparse_categorical_crossentropy"), Config::array({"accuracy"}));
  };
  c.x = {uniform(Shape{160, 8, 8, 3}, 3)};
  c.y = {labels(160, 3, 4)};
  c.batch_size = 16;
  c.epochs = 10;
  expect_paths_agree(c, 100);
}

std::shared_ptr<Model> two_headed() {
  Tensor x = Input(Shape{12}, "features");
  Tensor h = (*layer("Dense", {{"units", 16}, {"activation", "tanh"}, {"kernel_regularizer", "l2"}}))(x);
  Tensor value = (*layer("Dense", {{"units", 1}, {"name", "value"}}))(h);
  Tensor kind = (*layer("Dense", {{"units", 4}, {"activation", "softmax"}, {"name", "kind"}}))(h);
  return std::make_shared<Functional>(std::vector<Tensor>{x}, std::vector<Tensor>{value, kind}, "two_headed");
}

TEST_F(TracedStepTest, MultiOutputModelWithSampleWeightsAndMetricsMatchesEager) {
  Case c;
  c.build = two_headed;
  c.compile = [](Model& m) {
    m.compile(Config{{"class_name", "rmsprop"}, {"config", {{"learning_rate", 0.005}}}},
              Config{{"value", "mse"}, {"kind", "sparse_categorical_crossentropy"}},
              Config{{"value", Config::array({"mae"})}, {"kind", Config::array({"accuracy"})}},
              Config{{"value", 0.5}, {"kind", 2.0}});
  };
  c.x = {uniform(Shape{200, 12}, 5)};
  c.y = {uniform(Shape{200, 1}, 6), labels(200, 4, 7)};
  c.sample_weight = uniform(Shape{200}, 8, 0.1f, 2.0f);
  c.batch_size = 20;
  c.epochs = 10;
  expect_paths_agree(c, 100);
  // The logs the multi-output fit reports are all there.
  const FitRun traced = fit_once(c, true);
  for (const char* key : {"loss", "value_loss", "kind_loss", "value_mae", "kind_accuracy"}) {
    EXPECT_TRUE(traced.history.history.count(key)) << key;
  }
}

// The last batch of an epoch is smaller: a second signature, a second graph.
TEST_F(TracedStepTest, EachInputSignatureHasItsGraph) {
  Case c = mlp_case();
  c.x = {uniform(Shape{80, 784}, 1, 0.0f, 1.0f)};
  c.y = {labels(80, 10, 2)};
  c.epochs = 3;
  const FitRun run = fit_once(c, true);
  EXPECT_EQ(run.stats.traces, 2u);  // batches of 32 and of 16
  EXPECT_EQ(run.stats.traced_steps, 9u);
}

// Sequences whose length changes from batch to batch: a few lengths (buckets) are traced once
// each and reused; many lengths in turn would retrace at every step, costing more than the
// traced steps save, so once the cache of 8 signatures has turned over, new lengths run
// eagerly while the cached ones stay traced.
TEST_F(TracedStepTest, ManySequenceLengthsStopRetracingAndKeepTheCachedOnes) {
  if (!Registry::global().contains(ObjectKind::kLayer, "LSTM")) GTEST_SKIP() << "no LSTM";
  clear_session();
  set_random_seed(3);
  DeviceScope scope{train_device()};
  Tensor x = Input(Shape{Shape::kUnknown, 2}, "sequence");
  Tensor h = (*layer("LSTM", {{"units", 3}}))(x);
  h = (*layer("Dense", {{"units", 1}}))(h);
  Functional model({x}, {h}, "lengths");
  model.compile(Config("sgd"), Config("mse"));
  const Tensor y = uniform(Shape{4, 1}, 30);
  auto step = [&](std::int64_t length) { model.train_on_batch({uniform(Shape{4, length, 2}, 31)}, {y}); };
  // Four buckets, three rounds: four traces, every step traced.
  reset_traced_train_step_stats();
  for (int round = 0; round < 3; ++round) {
    for (std::int64_t length : {3, 5, 7, 9}) step(length);
  }
  EXPECT_EQ(traced_train_step_stats().traces, 4u);
  EXPECT_EQ(traced_train_step_stats().traced_steps, 12u);
  // Twenty lengths, twice: the cache holds 8, so tracing stops after 8 signatures have been
  // dropped (16 traces in all, the four buckets' included); the rest run eagerly.
  reset_traced_train_step_stats();
  for (int round = 0; round < 2; ++round) {
    for (std::int64_t length = 10; length < 30; ++length) step(length);
  }
  const auto stats = traced_train_step_stats();
  EXPECT_EQ(stats.traces, 12u);
  EXPECT_EQ(stats.traced_steps + stats.eager_steps, 40u);
  EXPECT_EQ(stats.eager_steps, 20u);  // 22..29 twice, and 10..13 once dropped
  // The 8 most recently traced lengths are still traced.
  reset_traced_train_step_stats();
  step(19);
  EXPECT_EQ(traced_train_step_stats().traced_steps, 1u);
  EXPECT_EQ(traced_train_step_stats().traces, 0u);
}

// Dropout in the traced graph draws fresh values every step, from the same seed stream as the
// eager step (under set_random_seed the two paths agree).
TEST_F(TracedStepTest, DropoutDrawsFreshMasksEachStepFromTheEagerStream) {
  Case c;
  c.build = [] {
    return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
        layer("Dense", {{"units", 32}, {"activation", "relu"}, {"input_shape", {10}}}),
        layer("Dropout", {{"rate", 0.5}}), layer("Dense", {{"units", 1}})});
  };
  c.compile = [](Model& m) {
    m.compile(Config{{"class_name", "sgd"}, {"config", {{"learning_rate", 0.0}}}}, Config("mse"));
  };
  c.x = {uniform(Shape{32, 10}, 9)};
  c.y = {uniform(Shape{32, 1}, 10)};
  c.epochs = 20;
  c.batch_size = 32;
  const FitRun traced = fit_once(c, true);
  EXPECT_EQ(traced.stats.traced_steps, 20u);
  // Learning rate 0, one batch: only the dropout mask changes the loss from step to step.
  const auto& loss = traced.history.history.at("loss");
  std::vector<double> distinct(loss.begin(), loss.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  EXPECT_GT(distinct.size(), 15u);
  const FitRun eager = fit_once(c, false);
  expect_history_close(traced.history, eager.history);
}

// N steps on one path, the weights and the optimizer state moved into a new model compiled
// afresh, N more on the other path: the weights match 2N uninterrupted steps. Both directions.
TEST_F(TracedStepTest, ResumingAcrossThePathsMatchesAnUninterruptedRun) {
  Case c = mlp_case();
  c.epochs = 10;
  FitOptions options;
  options.batch_size = 32;
  options.verbose = 0;
  options.shuffle = false;  // the same batches in both halves as in the whole run
  const auto whole = [&] {
    clear_session();
    set_random_seed(7);
    DeviceScope scope{train_device()};
    auto model = c.build();
    c.compile(*model);
    options.epochs = 10;
    set_traced_train_step_enabled(true);
    model->fit(c.x, c.y, options);
    auto w = model->get_weights();
    for (const auto& v : model->optimizer()->variables()) w.push_back(v.value().to(Device::cpu()));
    return w;
  }();
  for (const bool first_traced : {true, false}) {
    SCOPED_TRACE(first_traced ? "traced, then eager" : "eager, then traced");
    clear_session();
    set_random_seed(7);
    DeviceScope scope{train_device()};
    auto model = c.build();
    c.compile(*model);
    set_traced_train_step_enabled(first_traced);
    reset_traced_train_step_stats();
    options.epochs = 5;
    model->fit(c.x, c.y, options);
    EXPECT_EQ(traced_train_step_stats().traced_steps, first_traced ? 50u : 0u);
    // What a save with the optimizer holds (weights, iteration, slots), into a new model
    // compiled afresh, as load_model gives one (the H5 round trip of these values is the
    // format tests' business).
    const auto weights = model->get_weights();
    std::vector<Tensor> optimizer_state;
    for (const auto& v : model->optimizer()->variables()) optimizer_state.push_back(v.value().to(Device::cpu()));
    clear_session();
    auto resumed = c.build();
    c.compile(*resumed);
    resumed->set_weights(weights);
    resumed->optimizer()->build(resumed->trainable_weights());
    resumed->optimizer()->set_weights(optimizer_state);
    ASSERT_TRUE(resumed->is_compiled());
    set_traced_train_step_enabled(!first_traced);
    reset_traced_train_step_stats();
    resumed->fit(c.x, c.y, options);
    EXPECT_EQ(traced_train_step_stats().traced_steps, first_traced ? 0u : 50u);
    auto w = resumed->get_weights();
    for (const auto& v : resumed->optimizer()->variables()) w.push_back(v.value().to(Device::cpu()));
    EXPECT_EQ(resumed->optimizer()->iterations().value().to(Device::cpu()).item<std::int64_t>(), 100);
    const double worst = worst_ratio(w, whole);
    std::cout << "[ resume   ] worst ratio " << worst << "\n";
    EXPECT_LE(worst, 1.0);
  }
}

// Models the trace cannot reproduce exactly: each runs eagerly (one fallback, no traced step)
// and still learns.
TEST_F(TracedStepTest, UntraceableModelsFallBackToTheEagerStepAndStillTrain) {
  struct Fallback {
    const char* name;
    std::function<std::shared_ptr<Model>()> build;
    Config optimizer;
  };
  const Config sgd{{"class_name", "sgd"}, {"config", {{"learning_rate", 0.05}}}};
  const std::vector<Fallback> cases = {
      {"seeded dropout",
       [] {
         return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
             layer("Dense", {{"units", 16}, {"activation", "relu"}, {"input_shape", {6}}}),
             layer("Dropout", {{"rate", 0.2}, {"seed", 3}}), layer("Dense", {{"units", 1}})});
       },
       sgd},
      {"add_loss in call",
       [] {
         return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
             layer("Dense", {{"units", 16}, {"activation", "relu"}, {"input_shape", {6}}}),
             layer("ActivityRegularization", {{"l2", 0.01}}), layer("Dense", {{"units", 1}})});
       },
       sgd},
      {"activity regularizer",
       [] {
         return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
             layer("Dense",
                   {{"units", 16}, {"activation", "relu"}, {"input_shape", {6}}, {"activity_regularizer", "l2"}}),
             layer("Dense", {{"units", 1}})});
       },
       sgd},
      {"loss-scaling optimizer",
       [] {
         return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
             layer("Dense", {{"units", 16}, {"activation", "relu"}, {"input_shape", {6}}}),
             layer("Dense", {{"units", 1}})});
       },
       Config::parse(R"({"class_name": "LossScaleOptimizerV3", "config": {
           "inner_optimizer": {"module": "keras.optimizers", "class_name": "SGD", "config": {"learning_rate": 0.05},
                               "registered_name": null},
           "dynamic": true, "initial_scale": 1024.0, "dynamic_growth_steps": 2000}})")},
  };
  const Tensor x = uniform(Shape{64, 6}, 11);
  const Tensor y = sum(x, {1}, true);
  for (const auto& f : cases) {
    SCOPED_TRACE(f.name);
    clear_session();
    set_random_seed(3);
    DeviceScope scope{train_device()};
    auto model = f.build();
    model->compile(f.optimizer, Config("mse"));
    reset_traced_train_step_stats();
    FitOptions options;
    options.batch_size = 16;
    options.epochs = 15;
    options.verbose = 0;
    const History h = model->fit(x, y, options);
    const auto stats = traced_train_step_stats();
    EXPECT_EQ(stats.traced_steps, 0u);
    EXPECT_EQ(stats.eager_steps, 60u);
    EXPECT_LE(stats.fallbacks, 1u);
    EXPECT_LT(h.history.at("loss").back(), 0.5 * h.history.at("loss").front());
  }
}

TEST_F(TracedStepTest, StatefulRecurrentLayersRunEagerly) {
  if (!Registry::global().contains(ObjectKind::kLayer, "SimpleRNN")) GTEST_SKIP() << "no SimpleRNN";
  clear_session();
  set_random_seed(5);
  DeviceScope scope{train_device()};
  Sequential model({layer("SimpleRNN", {{"units", 4}, {"stateful", true}, {"batch_input_shape", {8, 3, 2}}}),
                    layer("Dense", {{"units", 1}})});
  model.compile(Config("sgd"), Config("mse"));
  reset_traced_train_step_stats();
  const Tensor x = uniform(Shape{8, 3, 2}, 12);
  const Tensor y = uniform(Shape{8, 1}, 13);
  for (int i = 0; i < 3; ++i) model.train_on_batch({x}, {y});
  EXPECT_EQ(traced_train_step_stats().traced_steps, 0u);
  EXPECT_EQ(traced_train_step_stats().eager_steps, 3u);
}

// A recurrent model (without stateful=True its LSTM and GRU carry nothing between calls):
// traced every step, the loop unrolled into ops over the batch's known length, and the same
// result as the eager step.
TEST_F(TracedStepTest, RecurrentModelMatchesEager) {
  if (!Registry::global().contains(ObjectKind::kLayer, "LSTM")) GTEST_SKIP() << "no LSTM";
  Case c;
  c.build = [] {
    Tensor x = Input(Shape{5, 3}, "sequence");
    Tensor h = (*layer("LSTM", {{"units", 6}, {"return_sequences", true}}))(x);
    h = (*layer("GRU", {{"units", 4}}))(h);
    h = (*layer("Dense", {{"units", 1}}))(h);
    return std::make_shared<Functional>(std::vector<Tensor>{x}, std::vector<Tensor>{h}, "rnn");
  };
  c.compile = [](Model& m) {
    m.compile(Config{{"class_name", "adam"}, {"config", {{"learning_rate", 0.01}}}}, Config("mse"));
  };
  c.x = {uniform(Shape{40, 5, 3}, 18)};
  c.y = {uniform(Shape{40, 1}, 19)};
  c.batch_size = 8;
  c.epochs = 4;
  expect_paths_agree(c, 20);
}

// A BiLSTM tagger on padded sentences of unknown length: Embedding(mask_zero) masks the
// padding through Bidirectional(LSTM) and the per-step Dense, whose loss skips the padded
// steps. Traced every step and the same as the eager step.
TEST_F(TracedStepTest, MaskedBidirectionalTaggerMatchesEager) {
  for (const char* cls : {"Embedding", "Bidirectional", "LSTM"}) {
    if (!Registry::global().contains(ObjectKind::kLayer, cls)) GTEST_SKIP() << "no " << cls;
  }
  Case c;
  c.build = [] {
    Tensor x = Input(Shape{Shape::kUnknown}, "words", DType::kInt64);
    Tensor h = (*layer("Embedding", {{"input_dim", 20}, {"output_dim", 5}, {"mask_zero", true}}))(x);
    h = (*layer("Bidirectional", {{"layer", {{"class_name", "LSTM"},
                                             {"config", {{"units", 4}, {"return_sequences", true}}}}}}))(h);
    h = (*layer("Dense", {{"units", 3}}))(h);
    return std::make_shared<Functional>(std::vector<Tensor>{x}, std::vector<Tensor>{h}, "tagger");
  };
  c.compile = [](Model& m) {
    m.compile(Config{{"class_name", "adam"}, {"config", {{"learning_rate", 0.01}}}},
              Config{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
  };
  // 24 sentences of 7 steps, each padded with zeros after a length of 2..7.
  std::mt19937 rng(23);
  std::vector<std::int64_t> words(24 * 7, 0), tags(24 * 7, 0);
  for (std::size_t i = 0; i < 24; ++i) {
    const std::size_t length = 2 + rng() % 6;
    for (std::size_t t = 0; t < length; ++t) {
      words[i * 7 + t] = 1 + static_cast<std::int64_t>(rng() % 19);
      tags[i * 7 + t] = words[i * 7 + t] % 3;
    }
  }
  c.x = {Tensor::from_vector<std::int64_t>(words, Shape{24, 7}, train_device())};
  c.y = {Tensor::from_vector<std::int64_t>(tags, Shape{24, 7}, train_device())};
  c.batch_size = 8;
  c.epochs = 5;
  expect_paths_agree(c, 15);
}

// Freezing a layer changes the trainable weights: a new graph, whose step leaves the frozen
// layer alone. Compiling again starts a new set of graphs.
TEST_F(TracedStepTest, TrainableToggleAndRecompileRetrace) {
  clear_session();
  set_random_seed(9);
  DeviceScope scope{train_device()};
  auto first = layer("Dense", {{"units", 8}, {"activation", "relu"}, {"input_shape", {5}}});
  Sequential model({first, layer("Dense", {{"units", 1}})});
  model.compile(Config{{"class_name", "sgd"}, {"config", {{"learning_rate", 0.1}}}}, Config("mse"));
  const Tensor x = uniform(Shape{16, 5}, 14);
  const Tensor y = uniform(Shape{16, 1}, 15);
  reset_traced_train_step_stats();
  model.train_on_batch({x}, {y});
  model.train_on_batch({x}, {y});
  EXPECT_EQ(traced_train_step_stats().traces, 1u);
  first->set_trainable(false);
  const auto frozen = first->get_weights();
  model.train_on_batch({x}, {y});
  model.train_on_batch({x}, {y});
  EXPECT_EQ(traced_train_step_stats().traces, 2u);
  EXPECT_EQ(traced_train_step_stats().traced_steps, 4u);
  EXPECT_EQ(worst_ratio(first->get_weights(), frozen), 0.0);
  first->set_trainable(true);  // the first graph again
  model.train_on_batch({x}, {y});
  EXPECT_EQ(traced_train_step_stats().traces, 2u);
  EXPECT_GT(worst_ratio(first->get_weights(), frozen), 1.0);
  model.compile(Config{{"class_name", "sgd"}, {"config", {{"learning_rate", 0.1}}}}, Config("mse"));
  model.train_on_batch({x}, {y});
  EXPECT_EQ(traced_train_step_stats().traces, 3u);
  EXPECT_EQ(traced_train_step_stats().traced_steps, 6u);
}

TEST_F(TracedStepTest, TheSwitchTurnsTheTracedStepOff) {
  clear_session();
  DeviceScope scope{train_device()};
  Sequential model({layer("Dense", {{"units", 1}, {"input_shape", {3}}})});
  model.compile(Config("sgd"), Config("mse"));
  const Tensor x = uniform(Shape{4, 3}, 16);
  const Tensor y = uniform(Shape{4, 1}, 17);
  reset_traced_train_step_stats();
  set_traced_train_step_enabled(false);
  EXPECT_FALSE(traced_train_step_enabled());
  model.train_on_batch({x}, {y});
  EXPECT_EQ(traced_train_step_stats().eager_steps, 1u);
  EXPECT_EQ(traced_train_step_stats().traced_steps, 0u);
  set_traced_train_step_enabled(true);
  model.train_on_batch({x}, {y});
  EXPECT_EQ(traced_train_step_stats().traced_steps, 1u);
}

}  // namespace
}  // namespace strata::training_tests
