// The training that tests/mpi runs twice: under mpirun with a DistributionStrategy (the
// worker, mpi_worker.cpp) and in one process without one (the oracle, mpi_test.cpp).
#pragma once

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/distribute.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"

namespace strata::mpi_test {

struct Spec {
  std::int64_t samples = 200;
  bool cnn = false;  // a small CNN (Conv2D, MaxPooling2D, Flatten, Dense) instead of the MLP
  std::int64_t batch = 32;
  int epochs = 3;
  bool shuffle = true;
  int initial_epoch = 0;
  std::string checkpoint_dir;  // ModelCheckpoint writes DIR/ckpt_{epoch:02d}.keras every epoch
  std::string resume_from;     // a .keras file to continue from (with initial_epoch)
  int die_rank = -1;           // this rank SIGKILLs itself at its 3rd batch
  int stall_rank = -1;         // this rank stops answering (sleeps) at its 3rd batch
};

struct Result {
  std::vector<float> weights;                          // every weight, concatenated
  std::map<std::string, std::vector<double>> history;  // per epoch
};

// Deterministic data for the guide's 784-64-64-10 MLP: inputs from a fixed formula, labels
// from a fixed linear rule (learnable, so the loss moves).
inline std::pair<Tensor, Tensor> data(std::int64_t n) {
  std::vector<float> x(static_cast<std::size_t>(n * 784));
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    double score = 0;
    for (std::int64_t j = 0; j < 784; ++j) {
      const float v =
          static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 0.011 * static_cast<double>(j * j % 97)));
      x[static_cast<std::size_t>(i * 784 + j)] = v;
      if (j < 10) score += v * static_cast<double>(j + 1);
    }
    y[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(std::abs(std::floor(score))) % 10;
  }
  return {Tensor::from_vector(x, Shape{n, 784}), Tensor::from_vector(y, Shape{n})};
}

inline std::shared_ptr<Model> guide_mlp() {
  set_random_seed(1234);  // the same initial weights everywhere (fit also broadcasts rank 0's)
  auto dense = [](std::int64_t units, const char* name, const char* activation) {
    return make_layer("Dense", Config{{"units", units}, {"activation", activation}, {"name", name}});
  };
  Tensor inputs = Input(Shape{784}, "digits");
  Tensor h = (*dense(64, "dense_1", "relu"))(inputs);
  h = (*dense(64, "dense_2", "relu"))(h);
  Tensor out = (*dense(10, "predictions", "linear"))(h);
  auto model = std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{out}, "3_layer_mlp");
  return model;
}

inline void compile(Model& model) {
  // SGD with momentum, not Adam: Adam's step ignores the gradient's scale, so a wrong
  // 1/global-batch factor would go unnoticed.
  model.compile(Config{{"class_name", "SGD"}, {"config", {{"learning_rate", 0.05}, {"momentum", 0.9}}}},
                Config{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}},
                Config::array({"accuracy"}));
}

// Trains per `spec`, under `strategy` when given (the model is then compiled in its scope).
// Conv2D(4, 3x3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(10) on the same inputs as 28x28x1
// images: the kernel's gradient sums over the batch and the positions.
inline std::shared_ptr<Model> small_cnn() {
  set_random_seed(4321);
  Tensor inputs = Input(Shape{28, 28, 1}, "image");
  Tensor h = (*make_layer(
      "Conv2D", Config{{"filters", 4}, {"kernel_size", {3, 3}}, {"activation", "relu"}, {"name", "conv"}}))(inputs);
  h = (*make_layer("MaxPooling2D", Config{{"pool_size", {2, 2}}, {"name", "pool"}}))(h);
  h = (*make_layer("Flatten", Config{{"name", "flatten"}}))(h);
  Tensor out = (*make_layer("Dense", Config{{"units", 10}, {"name", "predictions"}}))(h);
  return std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{out}, "small_cnn");
}

inline Result train(const Spec& spec, const DistributionStrategy* strategy,
                    std::vector<std::shared_ptr<Callback>> extra = {}) {
  set_random_seed(77);
  std::shared_ptr<Model> model;
  if (!spec.resume_from.empty()) {
    model = load_model(spec.resume_from);
    if (strategy) strategy->distribute(*model);
  } else {
    model = spec.cnn ? small_cnn() : guide_mlp();
    if (strategy) {
      auto scope = strategy->scope();
      compile(*model);
    } else {
      compile(*model);
    }
  }
  set_random_seed(77);  // fit's shuffling follows the global seed
  auto [x, y] = data(spec.samples);
  if (spec.cnn) x = x.reshape(Shape{spec.samples, 28, 28, 1});
  FitOptions options;
  options.batch_size = spec.batch;
  options.epochs = spec.epochs;
  options.initial_epoch = spec.initial_epoch;
  options.shuffle = spec.shuffle;
  options.verbose = 0;
  options.callbacks = std::move(extra);
  if (!spec.checkpoint_dir.empty()) {
    options.callbacks.push_back(std::make_shared<ModelCheckpoint>(spec.checkpoint_dir + "/ckpt_{epoch:02d}.keras"));
  }
  const History history = model->fit(x, y, options);
  Result r;
  for (const auto& w : model->weights()) {
    const auto v = w.value().to_vector<float>();
    r.weights.insert(r.weights.end(), v.begin(), v.end());
  }
  r.history = history.history;
  return r;
}

inline void write(const Result& r, const std::string& path) {
  std::ofstream out(path);
  out.precision(9);
  out << r.weights.size() << "\n";
  for (float w : r.weights) out << w << "\n";
  out << r.history.size() << "\n";
  for (const auto& [k, v] : r.history) {
    out << k << " " << v.size();
    for (double d : v) out << " " << d;
    out << "\n";
  }
}

inline Result read(const std::string& path) {
  std::ifstream in(path);
  Result r;
  std::size_t n = 0;
  in >> n;
  r.weights.resize(n);
  for (auto& w : r.weights) in >> w;
  std::size_t keys = 0;
  in >> keys;
  for (std::size_t k = 0; k < keys; ++k) {
    std::string name;
    std::size_t len = 0;
    in >> name >> len;
    auto& v = r.history[name];
    v.resize(len);
    for (auto& d : v) in >> d;
  }
  return r;
}

}  // namespace strata::mpi_test
