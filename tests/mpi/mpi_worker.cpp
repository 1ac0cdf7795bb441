// One rank of tests/mpi's jobs: `mpirun -np N strata_mpi_worker OUT [key=value ...]` trains
// the guide's MLP data-parallel over the "mpi" collective and rank 0 writes the result to
// OUT (mpi_training.hpp). Keys: samples, batch, epochs, shuffle (0/1), initial_epoch,
// checkpoint_dir, resume_from, die_rank, stall_rank, cnn, npy_dir; or `all_reduce` (a
// differentiable all_reduce across the ranks) or `overlap DELAY_MS` (check_overlap).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "mpi_training.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/plugin/collective.hpp"
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

// Passes every call to the "mpi" communicator; while `measuring`, times the calls of
// all_reduce_async on the calling thread (rank 0) and makes rank 1 late for its first bucket
// by `delay` (a slower peer, as a real job has). Records whether the first bucket's
// all-reduce was still in flight when the step launched its last bucket.
class TimedCommunicator final : public strata::Communicator {
 public:
  TimedCommunicator(std::shared_ptr<strata::Communicator> inner, std::chrono::milliseconds delay)
      : inner_(std::move(inner)), delay_(delay) {}
  std::string name() const override { return inner_->name(); }
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::string device_type() const override { return inner_->device_type(); }
  void all_reduce(void* data, std::size_t count, strata::DType dtype, strata::ReduceOp op) override {
    inner_->all_reduce(data, count, dtype, op);
  }
  std::unique_ptr<strata::CollectiveRequest> all_reduce_async(void* data, std::size_t count, strata::DType dtype,
                                                              strata::ReduceOp op) override {
    if (measuring && launches == 0 && rank() == 1) std::this_thread::sleep_for(delay_);
    const auto start = std::chrono::steady_clock::now();
    auto request = inner_->all_reduce_async(data, count, dtype, op);
    if (measuring) {
      blocked += std::chrono::steady_clock::now() - start;
      ++launches;
      if (launches == 1) first = request.get();
    }
    return std::unique_ptr<strata::CollectiveRequest>(new Tracked(this, std::move(request)));
  }
  void broadcast(void* data, std::size_t bytes, int root) override { inner_->broadcast(data, bytes, root); }
  void all_gather(const void* send, void* recv, std::size_t bytes) override {
    inner_->all_gather(send, recv, bytes);
  }
  void barrier() override { inner_->barrier(); }
  [[noreturn]] void abort(const std::string& message) override {
    inner_->abort(message);
    std::abort();  // inner_->abort does not return
  }

  // The first bucket's request is in flight (not waited for, not complete) at each later launch.
  void note_launch() {
    if (measuring && first != nullptr && launches > 1) first_in_flight_at_last_launch = !first->test();
  }

  bool measuring = false;
  int launches = 0;
  std::chrono::steady_clock::duration blocked{};
  strata::CollectiveRequest* first = nullptr;
  bool first_in_flight_at_last_launch = false;

 private:
  // Notes each launch after the first (the request of the launch itself is made by then).
  class Tracked final : public strata::CollectiveRequest {
   public:
    Tracked(TimedCommunicator* owner, std::unique_ptr<strata::CollectiveRequest> inner)
        : owner_(owner), inner_(std::move(inner)) {
      owner_->note_launch();
    }
    ~Tracked() override {
      if (owner_->first == inner_.get()) owner_->first = nullptr;
    }
    void wait() override {
      if (owner_->first == inner_.get()) owner_->first = nullptr;  // waited for: no longer "in flight"
      inner_->wait();
    }
    bool test() override { return inner_->test(); }

   private:
    TimedCommunicator* owner_;
    std::unique_ptr<strata::CollectiveRequest> inner_;
  };

  std::shared_ptr<strata::Communicator> inner_;
  std::chrono::milliseconds delay_;
};

// Overlap of the gradient all-reduce with the backward pass: an eager train step of an MLP
// 784-256-256-256-10 whose gradients go into 6 buckets (a 64 KiB cap), while rank 1 is
// `delay_ms` late for the first bucket. Rank 0 writes how long its training thread was held
// in all_reduce_async during that step (with the collective's progress thread: microseconds,
// the backward pass goes on computing the next buckets while the first one's reduction waits
// for the peer on that thread; without it: about the delay, the walk stops in the first
// all-reduce), the launches, and whether the first bucket's all-reduce was still in flight
// when the last bucket was launched.
int check_overlap(int delay_ms, const char* out) {
  using namespace strata;
  set_traced_train_step_enabled(false);  // the eager step: its backward walk launches the buckets
  const auto factory = Registry::global().find<ObjectKind::kCollective>("mpi");
  if (!factory) throw ValueError("no \"mpi\" collective registered");
  CollectiveOptions collective{default_collective_timeout()};
  auto timed = std::make_shared<TimedCommunicator>((*factory)(collective), std::chrono::milliseconds(delay_ms));
  DistributeOptions options;
  options.bucket_bytes = std::size_t{64} << 10;
  DistributionStrategy strategy(timed, options);
  set_random_seed(5);
  Tensor in = Input(Shape{784}, "digits");
  Tensor h = in;
  for (int i = 0; i < 3; ++i) h = (*make_layer("Dense", Config{{"units", 256}, {"activation", "relu"}}))(h);
  Tensor logits = (*make_layer("Dense", Config{{"units", 10}}))(h);
  auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{logits}, "overlap_mlp");
  strategy.distribute(*model);
  mpi_test::compile(*model);
  const auto [x, y] = mpi_test::data(64);
  model->train_on_batch({x}, {y});  // the first step broadcasts the variables
  timed->measuring = true;
  model->train_on_batch({x}, {y});
  timed->measuring = false;
  const auto stats = strategy.last_step_stats();
  if (strategy.is_chief()) {
    std::ofstream(out) << "blocked_ms " << std::chrono::duration<double, std::milli>(timed->blocked).count()
                       << "\nlaunches " << timed->launches << "\nbuckets " << stats.gradient_buckets
                       << "\nfirst_in_flight_at_last_launch " << (timed->first_in_flight_at_last_launch ? 1 : 0)
                       << "\n";
  }
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
    if (argc > 3 && std::string(argv[2]) == "overlap") return check_overlap(std::stoi(argv[3]), argv[1]);
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
