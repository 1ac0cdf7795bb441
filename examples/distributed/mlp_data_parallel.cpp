// The guide's 784-64-64-10 MLP trained data-parallel over MPI (issue 24):
//
//   mpirun -np 2 ./distributed_mlp [OUT.keras]
//
// (as root in a container add --allow-run-as-root --oversubscribe
// --mca btl_vader_single_copy_mechanism none; one thread per rank: -x STRATA_NUM_THREADS=1).
// Every rank builds the same model and data; the strategy shards each global batch of 64
// across the ranks, sums the gradients and keeps the metrics global; rank 0 prints the
// progress and writes the model. Run without mpirun it trains in one process.
#include <cmath>
#include <iostream>

#include "strata/distribute.hpp"
#include "strata/strata.hpp"

int main(int argc, char** argv) {
  using namespace strata;
  try {
    initialize();
    DistributionStrategy strategy("mpi");  // joins the job mpirun started (a job of 1 without it)

    // Data: 1024 samples of 784 features, labels from a fixed linear rule.
    const std::int64_t n = 1024;
    std::vector<float> xs(static_cast<std::size_t>(n * 784));
    std::vector<std::int64_t> ys(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      double score = 0;
      for (std::int64_t j = 0; j < 784; ++j) {
        const float v = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 0.013 * static_cast<double>(j)));
        xs[static_cast<std::size_t>(i * 784 + j)] = v;
        if (j < 10) score += v * static_cast<double>(j + 1);
      }
      ys[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(std::abs(std::floor(score))) % 10;
    }
    const Tensor x = Tensor::from_vector(xs, Shape{n, 784});
    const Tensor y = Tensor::from_vector(ys, Shape{n});

    set_random_seed(42);  // the same initial weights and shuffling on every rank
    Tensor inputs = Input(Shape{784}, "digits");
    Tensor h = (*make_layer("Dense", Config{{"units", 64}, {"activation", "relu"}, {"name", "dense_1"}}))(inputs);
    h = (*make_layer("Dense", Config{{"units", 64}, {"activation", "relu"}, {"name", "dense_2"}}))(h);
    Tensor out = (*make_layer("Dense", Config{{"units", 10}, {"name", "predictions"}}))(h);
    auto model = std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{out}, "3_layer_mlp");
    {
      auto scope = strategy.scope();  // compiled inside the scope: fit trains data-parallel
      model->compile(Config("rmsprop"),
                     Config{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}},
                     Config::array({"accuracy"}));
    }
    FitOptions fit;
    fit.batch_size = 64;  // the global batch
    fit.epochs = 3;
    fit.verbose = 2;  // printed by rank 0 only
    const History history = model->fit(x, y, fit);
    if (strategy.is_chief()) {
      std::cout << strategy.num_replicas_in_sync() << " replica(s); final loss " << history.history.at("loss").back()
                << "\n";
      if (argc > 1) model->save(argv[1]);  // only the chief writes
    }
    return 0;
  } catch (const Error& e) {
    std::cerr << "distributed_mlp: " << e.kind() << ": " << e.what() << "\n";
    return 1;
  }
}
