// One rank of tests/mpi's jobs: `mpirun -np N strata_mpi_worker OUT [key=value ...]` trains
// the guide's MLP data-parallel over the "mpi" collective and rank 0 writes the result to
// OUT (mpi_training.hpp). Keys: samples, batch, epochs, shuffle (0/1), initial_epoch,
// checkpoint_dir, resume_from, die_rank.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "mpi_training.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/npy.hpp"
#include "strata/runtime.hpp"
#include "strata/threads.hpp"

namespace {

// Kills this process (as `kill -9` would) at its third batch.
class Die final : public strata::Callback {
 public:
  void on_train_batch_begin(int batch, const strata::Logs&) override {
    if (batch == 2) ::kill(::getpid(), SIGKILL);
  }
};

// Stops answering (a hung peer that does not die) at its third batch.
class Stall final : public strata::Callback {
 public:
  void on_train_batch_begin(int batch, const strata::Logs&) override {
    if (batch == 2) std::this_thread::sleep_for(std::chrono::minutes(10));
  }
};

}  // namespace

// all_reduce across the ranks inside a tape: rank r holds x_r = [r+1, 2(r+1)]; y = sum_r x_r
// (the same on every rank) and each rank's loss is sum(y * y). The total loss over ranks is
// R * sum(y^2), whose gradient for x_r is R * 2y: the sum-all-reduce of the upstream 2y.
int check_all_reduce(const strata::DistributionStrategy& strategy, const char* out) {
  using strata::Tensor;
  const int r = strategy.rank(), n = strategy.num_replicas_in_sync();
  const auto scope = strategy.scope();
  const Tensor x = Tensor::from_vector<float>({static_cast<float>(r + 1), static_cast<float>(2 * (r + 1))},
                                              strata::Shape{2}, strata::Device::cpu());
  strata::GradientTape tape;
  tape.watch(x);
  const Tensor y = strata::all_reduce(x, strata::ReduceOp::kSum);
  const Tensor loss = strata::sum(y * y);
  const auto grad = tape.gradient(loss, std::vector<Tensor>{x})[0].to_vector<float>();
  const float s1 = static_cast<float>(n * (n + 1) / 2);
  const auto yv = y.to_vector<float>();
  const bool ok = yv[0] == s1 && yv[1] == 2 * s1 && grad[0] == static_cast<float>(n) * 2 * s1 &&
                  grad[1] == static_cast<float>(n) * 4 * s1;
  if (!ok) {
    std::cerr << "rank " << r << ": y = " << yv[0] << "," << yv[1] << " grad = " << grad[0] << "," << grad[1] << "\n";
    return 1;
  }
  if (strategy.is_chief()) std::ofstream(out) << "ok\n";
  return 0;
}

// A host application feeding its own shard (fit_replica_batches): the data lies in
// DIR/x.npy and DIR/y.npy; every rank reads only its rows of each global batch of `batch`
// (unshuffled) with read_npy_rows, split unevenly on purpose (rank r of R takes rows
// [len*r^2/R^2, len*(r+1)^2/R^2) of a batch of len), and trains `epochs` epochs.
int fit_from_callback(const strata::mpi_test::Spec& spec, const std::string& dir, const char* out) {
  using namespace strata;
  DistributionStrategy strategy("mpi");
  const std::int64_t r = strategy.rank(), n = strategy.num_replicas_in_sync();
  auto model = mpi_test::guide_mlp();
  {
    auto scope = strategy.scope();
    mpi_test::compile(*model);
  }
  const std::int64_t steps = (spec.samples + spec.batch - 1) / spec.batch;
  const ReplicaBatchFn batches = [&](int, std::int64_t step) {
    const std::int64_t start = step * spec.batch, len = std::min(spec.batch, spec.samples - start);
    const std::int64_t lo = len * r * r / (n * n), hi = len * (r + 1) * (r + 1) / (n * n);
    ReplicaBatch b;
    b.x.push_back(read_npy_rows(dir + "/x.npy", start + lo, hi - lo));
    b.y.push_back(read_npy_rows(dir + "/y.npy", start + lo, hi - lo));
    return b;
  };
  FitOptions options;
  options.epochs = spec.epochs;
  options.verbose = 0;
  const History history = fit_replica_batches(*model, batches, steps, options);
  mpi_test::Result result;
  for (const auto& w : model->weights()) {
    const auto v = w.value().to_vector<float>();
    result.weights.insert(result.weights.end(), v.begin(), v.end());
  }
  result.history = history.history;
  if (strategy.is_chief()) mpi_test::write(result, out);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: strata_mpi_worker OUT [key=value ...]\n";
    return 2;
  }
  try {
    strata::initialize();
    strata::set_num_threads(1);
    strata::mpi_test::Spec spec;
    std::string npy_dir;  // set: fit_from_callback
    if (argc > 2 && std::string(argv[2]) == "all_reduce") {
      const strata::DistributionStrategy strategy("mpi");
      return check_all_reduce(strategy, argv[1]);
    }
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      const auto eq = arg.find('=');
      const std::string key = arg.substr(0, eq), value = arg.substr(eq + 1);
      if (key == "samples")
        spec.samples = std::stoll(value);
      else if (key == "batch")
        spec.batch = std::stoll(value);
      else if (key == "epochs")
        spec.epochs = std::stoi(value);
      else if (key == "shuffle")
        spec.shuffle = value == "1";
      else if (key == "initial_epoch")
        spec.initial_epoch = std::stoi(value);
      else if (key == "checkpoint_dir")
        spec.checkpoint_dir = value;
      else if (key == "resume_from")
        spec.resume_from = value;
      else if (key == "die_rank")
        spec.die_rank = std::stoi(value);
      else if (key == "cnn")
        spec.cnn = value == "1";
      else if (key == "stall_rank")
        spec.stall_rank = std::stoi(value);
      else if (key == "npy_dir")
        npy_dir = value;
      else {
        std::cerr << "unknown key " << key << "\n";
        return 2;
      }
    }
    if (!npy_dir.empty()) return fit_from_callback(spec, npy_dir, argv[1]);
    strata::DistributionStrategy strategy("mpi");
    std::vector<std::shared_ptr<strata::Callback>> extra;
    if (spec.die_rank == strategy.rank()) extra.push_back(std::make_shared<Die>());
    if (spec.stall_rank == strategy.rank()) extra.push_back(std::make_shared<Stall>());
    const auto result = strata::mpi_test::train(spec, &strategy, extra);
    if (strategy.is_chief()) strata::mpi_test::write(result, argv[1]);
    return 0;
  } catch (const strata::Error& e) {
    std::cerr << "strata_mpi_worker: " << e.kind() << ": " << e.what() << "\n";
    return 1;
  }
}
