// Robustness on a busy machine (issue 22, "Spinning"): the same work in three conditions,
// interleaved round by round in one run, with DEFAULT settings (no thread or OpenMP
// variables set by the user):
//
//   1thr   one thread (STRATA_NUM_THREADS=1 and OMP_NUM_THREADS=1 in the measuring process)
//   idle   two threads, nothing else running on purpose
//   busy   two threads while a CPU-bound neighbour PROCESS (a forked child that spins)
//          holds a core
//   busy1  one thread with the same neighbour
//
// Cases: a traced MLP 784-64-64-10 at batch 1024 (a SavedModel revived: its graph) called
// in bursts of 50 calls after pauses of 300 ms (median per call) and called back to back, a
// training step (train_on_batch, RMSprop, MLP, batch 256) and the small CNN's traced
// graph at batch 1024. Each condition runs in a fresh process (this program re-executed
// with --worker), because OpenMP reads its settings once, when it is loaded; the variables
// named above are removed from the workers' environment except where the condition sets
// them. Prints each case's mean time per call in each condition (back-to-back calls for
// about --seconds; the median and range over rounds) and the ratios busy/idle (speed
// relative to idle: >= 0.5 is the target), busy/1thr and busy/busy1 (>= 1: never
// slower than one thread with the same neighbour).
//
//   build/bin/strata_bench_busy [--rounds N] [--seconds S] [--env NAME=VALUE]...
//   build/bin/strata_bench_busy --alternate N   (the peer benchmark's pattern: see alternate())
//
// --env sets a variable in every measuring process (after the clean-up above), to compare
// a non-default setting (e.g. --env GOMP_SPINCOUNT=10000, --env OMP_WAIT_POLICY=active).
//
// The machine should otherwise be quiet: other load counts as more neighbours.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench_models.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/saved_model.hpp"
#include "strata/strata.hpp"

namespace {

using namespace strata;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kCases[] = {"mlp_bursts_b1024", "mlp_graph_b1024", "train_step_b256", "cnn_graph_b1024"};
constexpr int kNumCases = 4;
constexpr const char* kConditions[] = {"1thr", "idle", "busy", "busy1"};

using bench::cnn_model;
using bench::mlp_model;

using bench::random_input;

Tensor labels(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i % 10;
  return Tensor::from_vector<std::int64_t>(v, Shape{n});
}

// Mean seconds per call of f, called back to back for about `seconds` (at least 5 calls):
// a rate, so the time the process waits for a core counts (a median of single calls would
// hide it).
template <class F>
double time_calls(F&& f, double seconds) {
  f();  // warm-up: primitives, slots, caches
  std::int64_t calls = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  while (calls < 5 || elapsed < seconds) {
    f();
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return elapsed / static_cast<double>(calls);
}

// Work in bursts, as a server (or the peer benchmark) calls: `bursts` times, a pause of
// 300 ms and then 50 calls back to back, each timed; the median seconds per call over all
// bursts. A governor that decides per time window rather than on the work running now
// shows here: a burst is shorter than its sample interval.
template <class F>
double time_bursts(F&& f, int bursts) {
  f();  // warm-up
  std::vector<double> times;
  for (int b = 0; b < bursts; ++b) {
    ::usleep(300'000);
    for (int i = 0; i < 50; ++i) {
      const auto t0 = Clock::now();
      f();
      times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// The measuring process: prints "case seconds" lines.
int worker(double seconds) {
  initialize();
  const fs::path dir = fs::temp_directory_path() / ("strata_bench_busy_" + std::to_string(::getpid()));
  save_model(*mlp_model(), dir / "mlp");
  save_model(*cnn_model(), dir / "cnn");
  auto mlp_graph = saved_model::load(dir / "mlp");
  auto cnn_graph = saved_model::load(dir / "cnn");
  const auto& mlp_serve = mlp_graph.signatures.at("serving_default");
  const auto& cnn_serve = cnn_graph.signatures.at("serving_default");
  const Tensor x_mlp = random_input(Shape{1024, 784});
  const Tensor x_cnn = random_input(Shape{1024, 28, 28, 1});
  auto trained = mlp_model();
  trained->compile(Config("rmsprop"),
                   Config{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
  const Tensor x_train = random_input(Shape{256, 784});
  const Tensor y_train = labels(256);

  std::printf("%s %.9f\n", kCases[0],
              time_bursts([&] { (void)mlp_serve({x_mlp}); }, std::max(3, static_cast<int>(seconds * 3))));
  std::printf("%s %.9f\n", kCases[1], time_calls([&] { (void)mlp_serve({x_mlp}); }, seconds));
  std::printf("%s %.9f\n", kCases[2],
              time_calls([&] { (void)trained->train_on_batch({x_train}, {y_train}); }, seconds));
  std::printf("%s %.9f\n", kCases[3], time_calls([&] { (void)cnn_serve({x_cnn}); }, seconds));
  std::fflush(stdout);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}

pid_t start_neighbour() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A session of its own, as another program's process would be: with the kernel's
    // autogroup scheduling a child in this program's session would share its CPU share.
    ::setsid();
    volatile unsigned long spin = 0;
    for (;;) spin = spin + 1;
  }
  return pid;
}

// Runs this program as a worker in `condition`; returns case -> seconds.
std::vector<std::string> g_env;  // --env NAME=VALUE, for the workers

std::map<std::string, double> run_condition(const std::string& self, const std::string& condition, double seconds) {
  // The neighbour first: it must not hold the pipe's write end (the read below waits for
  // the worker's end of file).
  const pid_t neighbour = condition == "busy" || condition == "busy1" ? start_neighbour() : -1;
  int fds[2];
  if (::pipe(fds) != 0) std::exit(2);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    for (const char* v : {"OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_THREAD_LIMIT", "OMP_DYNAMIC",
                          "STRATA_NUM_THREADS"}) {
      ::unsetenv(v);
    }
    if (condition == "1thr" || condition == "busy1") {
      ::setenv("STRATA_NUM_THREADS", "1", 1);
      ::setenv("OMP_NUM_THREADS", "1", 1);
    }
    for (const std::string& e : g_env) {
      const auto eq = e.find('=');
      if (eq != std::string::npos) ::setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
    }
    const std::string secs = std::to_string(seconds);
    ::execl(self.c_str(), self.c_str(), "--worker", secs.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (neighbour > 0) {
    ::kill(neighbour, SIGKILL);
    ::waitpid(neighbour, nullptr, 0);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "worker for condition %s failed (status %d)\n", condition.c_str(), status);
    std::exit(1);
  }
  std::map<std::string, double> r;
  char name[64];
  double s = 0;
  for (const char* p = out.c_str(); std::sscanf(p, "%63s %lf", name, &s) == 2;) {
    r[name] = s;
    p = std::strchr(p, '\n');
    if (p == nullptr) break;
    ++p;
  }
  return r;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// --alternate N: the peer benchmark's pattern in this process (default settings, 2
// threads): N rounds of a burst of 50 traced-MLP calls with nothing else running on purpose,
// then a neighbour process, 200 ms, a burst with it, the neighbour killed, 300 ms pauses
// between bursts. Prints the median ms per call of each round's idle and busy burst: a
// governor that decides on earlier work runs a busy burst with the idle burst's team.
int alternate(int rounds) {
  initialize();
  const fs::path dir = fs::temp_directory_path() / ("strata_bench_busy_" + std::to_string(::getpid()));
  save_model(*mlp_model(), dir / "mlp");
  auto graph = saved_model::load(dir / "mlp");
  const auto& serve = graph.signatures.at("serving_default");
  const Tensor x = random_input(Shape{1024, 784});
  auto burst = [&] {
    std::vector<double> times;
    for (int i = 0; i < 50; ++i) {
      const auto t0 = Clock::now();
      (void)serve({x});
      times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return median(times) * 1e3;
  };
  (void)burst();
  std::vector<double> idle, busy;
  for (int r = 0; r < rounds; ++r) {
    ::usleep(300'000);
    idle.push_back(burst());
    const pid_t n = start_neighbour();
    ::usleep(200'000);
    busy.push_back(burst());
    ::kill(n, SIGKILL);
    ::waitpid(n, nullptr, 0);
    std::printf("round %d: idle %.3f ms, busy %.3f ms\n", r + 1, idle.back(), busy.back());
    std::fflush(stdout);
  }
  std::printf("median over rounds: idle %.3f ms, busy %.3f ms\n", median(idle), median(busy));
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--worker") == 0) return worker(std::atof(argv[2]));
  if (argc >= 3 && std::strcmp(argv[1], "--alternate") == 0) return alternate(std::max(1, std::atoi(argv[2])));
  int rounds = 3;
  double seconds = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::max(0.05, std::atof(argv[i + 1]));
    if (std::strcmp(argv[i], "--env") == 0) g_env.emplace_back(argv[i + 1]);
  }
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::printf("strata_bench_busy: %d rounds, ~%.2f s per case; cpus online: %ld", rounds, seconds,
              ::sysconf(_SC_NPROCESSORS_ONLN));
  for (const std::string& e : g_env) std::printf("; %s", e.c_str());
  double load = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  std::printf("; load average %.2f at the start\n", load);
  // samples[case][condition] over rounds
  std::map<std::string, std::map<std::string, std::vector<double>>> samples;
  for (int r = 0; r < rounds; ++r) {
    for (const char* cond : kConditions) {
      for (const auto& [name, s] : run_condition(self, cond, seconds)) samples[name][cond].push_back(s);
    }
    std::printf("round %d done\n", r + 1);
    std::fflush(stdout);
  }
  std::printf("\n%-18s %-6s %12s %12s %12s\n", "case", "cond", "median_ms", "min_ms", "max_ms");
  for (int c = 0; c < kNumCases; ++c) {
    auto& by_cond = samples[kCases[c]];
    for (const char* cond : kConditions) {
      const auto& v = by_cond[cond];
      std::printf("%-18s %-6s %12.3f %12.3f %12.3f\n", kCases[c], cond, median(v) * 1e3,
                  *std::min_element(v.begin(), v.end()) * 1e3, *std::max_element(v.begin(), v.end()) * 1e3);
    }
  }
  std::printf(
      "\nratios (speed, > 1 is faster): idle/1thr, busy/idle (target >= 0.5), busy/1thr, busy/busy1 (target >= 1), "
      "median [range over rounds]\n");
  for (int c = 0; c < kNumCases; ++c) {
    auto& by_cond = samples[kCases[c]];
    auto ratio = [&](const char* num_cond, const char* den_cond) {
      // speed of num_cond relative to den_cond = time(den) / time(num), per round
      std::vector<double> v;
      const auto& num = by_cond[num_cond];
      const auto& den = by_cond[den_cond];
      for (std::size_t i = 0; i < std::min(num.size(), den.size()); ++i) v.push_back(den[i] / num[i]);
      std::sort(v.begin(), v.end());
      char text[96];
      std::snprintf(text, sizeof text, "%.2f [%.2f-%.2f]", median(v), v.front(), v.back());
      return std::string(text);
    };
    std::printf("%-18s idle/1thr %-18s busy/idle %-18s busy/1thr %-18s busy/busy1 %s\n", kCases[c],
                ratio("idle", "1thr").c_str(), ratio("busy", "idle").c_str(), ratio("busy", "1thr").c_str(),
                ratio("busy", "busy1").c_str());
  }
  return 0;
}
