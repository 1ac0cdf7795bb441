// SyncBatchNormalization across processes (issue 24), run under mpirun (2 and 3 ranks; CTest
// label `mpi`; `strata_mpi_syncbn_test [GLOBAL_BATCH]`, 2 batches per epoch, 2 epochs):
// BatchNormalization(synchronized=True) trained data-parallel by the "mpi"
// collective equals plain BatchNormalization trained in ONE process on the same global batch
// — the weights, the moving statistics and the loss history. The oracle runs in every rank's
// own process, with no strategy. A control trains the same model with synchronized=False
// under the strategy: its moving statistics (each replica's own) must differ from the
// oracle's, which shows the check can fail.
//
// Tolerance: 2e-5 relative + 1e-6. The replicas' statistics are sums of per-shard sums
// (another float summation order than one process's single reduction) and the variance is
// E[x^2] - mean^2 (tf-keras's formula) where the oracle takes mean((x - mean)^2): both are
// rounding differences of a few ulps of values O(1) per step, over 4 steps.
//
// Uneven splits (global batch 7 on 2 and 3 ranks) are the case that needs the training step
// to scale each replica's loss by local/global batch BEFORE differentiating: scaling the
// gradients afterwards equals it only when nothing in the forward pass crosses replicas, and
// SyncBN's all-reduce does (replica r's gradient then receives the others' upstream
// gradients scaled 1/n_r' and rescaled by n_r/N instead of n_r'/N; kernel -0.2726 against
// the oracle's -0.2807 before the fix). Even splits are exact either way (the factors agree).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "strata/distribute.hpp"
#include "strata/strata.hpp"

namespace {

using namespace strata;

static std::int64_t kBatch = 6;  // the global batch (argv[1]); 2 batches per epoch
static std::int64_t kSamples = 12;

std::shared_ptr<Model> make_model(const std::string& cls, const Config& bn) {
  set_random_seed(11);
  Tensor in = Input(Shape{4}, "x");
  Tensor h = (*make_layer("Dense", Config{{"units", 3}, {"name", "d1"}}))(in);
  h = (*make_layer(cls, bn))(h);
  Tensor out = (*make_layer("Dense", Config{{"units", 1}, {"name", "d2"}}))(h);
  return std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out}, "syncbn");
}

Tensor data(const Shape& shape, float salt) {
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i) * 0.37f + salt) * (1.0f + salt);
  return Tensor::from_vector<float>(v, shape);
}

struct Run {
  std::vector<std::vector<float>> weights;
  std::vector<double> losses;
};

Run train(const std::string& cls, const Config& bn, const DistributionStrategy* strategy) {
  auto model = make_model(cls, bn);
  const Config sgd{{"class_name", "SGD"}, {"config", Config{{"learning_rate", 0.1}, {"momentum", 0.0}}}};
  FitOptions fit;
  fit.batch_size = kBatch;
  fit.epochs = 2;
  fit.shuffle = false;
  fit.verbose = 0;
  History history;
  if (strategy != nullptr) {
    auto scope = strategy->scope();
    model->compile(sgd, Config("mse"));
    history = model->fit(data(Shape{kSamples, 4}, 0.5f), data(Shape{kSamples, 1}, 1.5f), fit);
  } else {
    model->compile(sgd, Config("mse"));
    history = model->fit(data(Shape{kSamples, 4}, 0.5f), data(Shape{kSamples, 1}, 1.5f), fit);
  }
  Run r;
  for (const auto& w : model->get_weights()) r.weights.push_back(cast(w, DType::kFloat32).to_vector<float>());
  r.losses = history.history.at("loss");
  return r;
}

bool close(float a, float b) {
  return std::fabs(a - b) <= 1e-6f + 2e-5f * std::fabs(b);
}

// Where `got` differs from `want` ("" when it does not).
std::string differs(const Run& got, const Run& want) {
  if (got.weights.size() != want.weights.size()) return "different numbers of weights";
  for (std::size_t i = 0; i < got.weights.size(); ++i) {
    for (std::size_t j = 0; j < got.weights[i].size(); ++j) {
      if (!close(got.weights[i][j], want.weights[i][j])) {
        return "weight " + std::to_string(i) + "[" + std::to_string(j) + "]: " + std::to_string(got.weights[i][j]) +
               " vs " + std::to_string(want.weights[i][j]);
      }
    }
  }
  for (std::size_t e = 0; e < want.losses.size(); ++e) {
    if (e >= got.losses.size() || !close(static_cast<float>(got.losses[e]), static_cast<float>(want.losses[e]))) {
      return "loss of epoch " + std::to_string(e);
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) kBatch = std::atoll(argv[1]), kSamples = 2 * kBatch;
  try {
    initialize();
    DistributionStrategy strategy("mpi");
    const int rank = strategy.rank(), size = strategy.num_replicas_in_sync();
    const Config bn_plain{{"name", "bn"}, {"momentum", 0.5}};
    Config bn_sync = bn_plain;
    bn_sync["synchronized"] = true;
    const Run oracle = train("BatchNormalization", bn_plain, nullptr);
    int failures = 0;
    const std::pair<std::string, Config> cases[] = {{"BatchNormalization", bn_sync},
                                                    {"SyncBatchNormalization", bn_plain}};
    for (const auto& [cls, config] : cases) {
      const std::string why = differs(train(cls, config, &strategy), oracle);
      std::printf("rank %d/%d: %s(%s) on %d processes vs BatchNormalization in one: %s\n", rank, size, cls.c_str(),
                  config.dump().c_str(), size, why.empty() ? "equal" : why.c_str());
      failures += !why.empty();
    }
    // The control: without synchronisation each replica's moving statistics are its shard's.
    const Run local = train("BatchNormalization", bn_plain, &strategy);
    const bool control_differs = !differs(local, oracle).empty();
    std::printf("rank %d/%d: control (synchronized=False on %d processes) %s the oracle\n", rank, size, size,
                control_differs ? "differs from" : "EQUALS");
    failures += !control_differs;
    strategy.barrier();
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sync_batchnorm_mpi_test: %s\n", e.what());
    return 1;
  }
}
