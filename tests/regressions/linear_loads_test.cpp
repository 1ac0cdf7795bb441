// Reported (issue 20, "super-linear work on adversarial sizes"): `strata info` of a
// checkpoint whose object graph is a 100000-deep chain (a 1 MB file) built the full path of
// every object (c/c/c/..., 10^10 bytes in all) and passed 4 GB; reviving a SavedModel whose
// function is a long chain of nodes grew worse than quadratically (20000 nodes 1.7 s, 80000
// nodes 114 s). Loading and describing are now linear in the file's size, and the `info`
// listing is capped. The files are made here (linear_loads_files.hpp); what is checked is
// how the work grows (four times the size takes at most 10 times the CPU time, 16 being
// quadratic; the best of three runs each) and the memory of `strata info` (at most 256 MiB, measured by the kernel), not
// absolute times. scripts/linear_loads.sh measures the figures in docs/RELIABILITY.md.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <string>

#include "sanitizers.hpp"
#include "linear_loads_files.hpp"
#include "strata/format.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/revived.hpp"
#include "strata/saving.hpp"


namespace strata {
namespace {

namespace fs = std::filesystem;
namespace ll = test::linear_loads;

fs::path scratch_root() { return fs::temp_directory_path() / ("strata-linear-loads-" + std::to_string(::getpid())); }

fs::path scratch(const std::string& name) {
  const fs::path dir = scratch_root() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The generated files (about 15 MB) go when the program ends.
class RemoveScratch final : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(scratch_root(), ec);
  }
};
[[maybe_unused]] ::testing::Environment* const kRemoveScratch = ::testing::AddGlobalTestEnvironment(new RemoveScratch);

double cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// The best of three runs of `fn`, in seconds of this process's CPU time (the machine's
// other work does not count; the loads run on this thread).
double best_of_three(const std::function<void()>& fn) {
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const double start = cpu_seconds();
    fn();
    best = std::min(best, cpu_seconds() - start);
  }
  return best;
}

// Four times the size takes at most 10 times as long: a quadratic cost takes 16. Linear
// work takes 4 and, at these sizes, up to 8 (measured): the larger file's hash maps no
// longer fit the caches, so each node costs more. The issue's own figure (200000 nodes in at
// most 2.5 times the time of 100000, sizes at which both are out of cache) is measured by
// scripts/linear_loads.sh, too slow for an always-run test.
constexpr int kScale = 4;
constexpr int sized(int n, int k) { return k == 0 ? n : kScale * n; }
void expect_linear(const char* what, int n, double t1, double t2) {
  ::testing::Test::RecordProperty(std::string(what), detail::concat(n, ": ", t1, " s, ", kScale * n, ": ", t2, " s"));
  EXPECT_LE(t2, 10.0 * t1) << what << ": " << n << " took " << t1 << " s, " << kScale * n << " took " << t2
                          << " s (ratio " << t2 / t1 << ", at most 10 for linear work, 16 is quadratic)";
}

struct ChildRun {
  int status = -1;
  long max_rss_kib = 0;
  std::string output;
};

// Runs `strata info PATH` with its address space limited to `limit_bytes` (not under
// AddressSanitizer, which reserves terabytes of address space), stdout and stderr to a
// file; the kernel's figure of its peak resident memory.
ChildRun run_info(const fs::path& path, const fs::path& out_file, rlim_t limit_bytes) {
  ChildRun run;
  const pid_t pid = ::fork();
  if (pid == 0) {
#ifndef STRATA_TEST_ASAN
    const rlimit limit{limit_bytes, limit_bytes};
    ::setrlimit(RLIMIT_AS, &limit);
#else
    (void)limit_bytes;
#endif
    const int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) ::_exit(126);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(STRATA_CLI_PATH, "strata", "info", path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.max_rss_kib = usage.ru_maxrss;
  std::ifstream in(out_file, std::ios::binary);
  run.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return run;
}

// The issue's own case: `strata info` of a checkpoint whose object graph is a 100000-deep
// chain (a 1 MB index) within 256 MiB, the listing capped with a count of what was left out.
TEST(LinearLoads, InfoOfAHundredThousandDeepCheckpointStaysWithin256MiB) {
  const fs::path dir = scratch("info_chain");
  const fs::path prefix = dir / "ckpt";
  ll::write_chain_checkpoint(prefix, 100000);
  // A 4 GiB address-space limit: the old code ends in std::bad_alloc there (after about 30 s)
  // instead of filling the machine; loading every plugin of a full build fits it.
  const ChildRun run = run_info(prefix, dir / "info.txt", rlim_t{4} << 30);
  ASSERT_EQ(run.status, 0) << run.output.substr(0, 2000);
  // What the file costs, beyond what loading the plugins costs: a full build's plugins
  // (cuBLAS and cuDNN behind the CUDA plugin) take about 240 MiB before any file is read, so
  // the bound is on the difference to `info` of a 10-deep checkpoint in the same build.
  const fs::path small = dir / "small";
  ll::write_chain_checkpoint(small, 10);
  const ChildRun baseline = run_info(small, dir / "small.txt", rlim_t{4} << 30);
  ASSERT_EQ(baseline.status, 0) << baseline.output.substr(0, 2000);
#ifndef STRATA_TEST_ASAN
  EXPECT_LE(run.max_rss_kib - baseline.max_rss_kib, 256 * 1024)
      << "strata info used " << run.max_rss_kib / 1024 << " MiB, " << baseline.max_rss_kib / 1024
      << " MiB for a 10-deep checkpoint";
#endif
  EXPECT_NE(run.output.find("object graph: 100001 nodes"), std::string::npos) << run.output.substr(0, 2000);
  EXPECT_NE(run.output.find("nodes not listed"), std::string::npos) << run.output.substr(run.output.size() - 2000);
  EXPECT_LE(run.output.size(), std::size_t{4} << 20) << "the listing is not capped";
}

// Found by layer_config_fuzzer (a timeout): building a model nested N deep from its config
// copied each level's whole subtree, so a JSON file of nested Sequentials cost O(N x size)
// time and memory (a 635 KB file of 160 nested models: 815 MiB). Here 300 nested
// Sequentials around one 4 MiB string: 1.2 GB of copies before; now the file's size.
TEST(LinearLoads, InfoOfNestedModelsCopiesNoSubtreePerLevel) {
  const fs::path dir = scratch("nested_models");
  const auto write_nested = [&](const fs::path& path, int depth, std::size_t blob) {
    std::string json;
    for (int i = 0; i < depth; ++i) {
      json += R"({"class_name": "Sequential", "config": {"name": "s)" + std::to_string(i) + R"(", "layers": [)";
    }
    json += R"({"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [null, 3]}})";
    json += R"(], "notes": ")" + std::string(blob, 'x') + R"("}})";
    for (int i = 1; i < depth; ++i) json += "]}}";
    std::ofstream(path) << json;
  };
  write_nested(dir / "nested.json", 300, std::size_t{4} << 20);
  write_nested(dir / "flat.json", 1, 1);
  const ChildRun run = run_info(dir / "nested.json", dir / "nested.txt", rlim_t{8} << 30);
  ASSERT_EQ(run.status, 0) << run.output.substr(0, 2000);
  const ChildRun baseline = run_info(dir / "flat.json", dir / "flat.txt", rlim_t{8} << 30);
  ASSERT_EQ(baseline.status, 0) << baseline.output.substr(0, 2000);
#ifndef STRATA_TEST_ASAN
  EXPECT_LE(run.max_rss_kib - baseline.max_rss_kib, 128 * 1024)
      << "strata info of a 4 MiB file of 300 nested models used " << run.max_rss_kib / 1024 << " MiB, "
      << baseline.max_rss_kib / 1024 << " MiB for one model";
#endif
}

// Found by json_config_fuzzer (a timeout): a Functional layer called N times (N inbound
// nodes) took each next node by erasing the first of the list, O(N^2).
TEST(LinearLoads, AFunctionalLayerCalledNTimesLoadsLinearly) {
  const auto config = [](int n) {
    std::string nodes;
    for (int i = 0; i < n; ++i) nodes += std::string(i ? ", " : "") + R"([["in", 0, 0, {}]])";
    return R"({"class_name": "Functional", "config": {"name": "shared", "layers": [
        {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_input_shape": [null, 3]},
         "inbound_nodes": []},
        {"class_name": "Activation", "name": "act", "config": {"name": "act", "activation": "relu"},
         "inbound_nodes": [)" +
           nodes + R"(]}],
        "input_layers": [["in", 0, 0]], "output_layers": [["act", )" +
           std::to_string(n - 1) + R"(, 0]]}})";
  };
  constexpr int kN = 4000;
  double t[2];
  for (int k = 0; k < 2; ++k) {
    const std::string json = config(sized(kN, k));
    t[k] = best_of_three([&] { (void)model_from_json(json); });
  }
  expect_linear("a Functional layer with N inbound nodes", kN, t[0], t[1]);
}

TEST(LinearLoads, DescribingACheckpointGrowsLinearlyWithItsDepthAndWidth) {
  const auto format = get_format("checkpoint");
  const fs::path dir = scratch("describe");
  constexpr int kN = 10000;
  for (const bool wide : {false, true}) {
    double t[2];
    for (int k = 0; k < 2; ++k) {
      const fs::path prefix = dir / ((wide ? "wide" : "chain") + std::to_string(k));
      if (wide) ll::write_wide_checkpoint(prefix, sized(kN, k));
      else ll::write_chain_checkpoint(prefix, sized(kN, k));
      t[k] = best_of_three([&] { (void)format->describe(prefix); });
    }
    expect_linear(wide ? "describing a checkpoint whose root has N children" : "describing an N-deep checkpoint", kN,
                  t[0], t[1]);
  }
}

// Loading a SavedModel whose signature function is a chain of N nodes: the import (every
// node traced through the op registry), the graph, its optimisation and the model around it.
TEST(LinearLoads, LoadingASavedModelGrowsLinearlyWithItsFunctionsNodes) {
  const fs::path dir = scratch("savedmodel");
  constexpr int kN = 5000;
  for (const char* op : {"Neg", "AddV2"}) {
    double t[2];
    for (int k = 0; k < 2; ++k) {
      const fs::path path = dir / (std::string(op) + std::to_string(k));
      ll::write_chain_savedmodel(path, sized(kN, k), op);
      t[k] = best_of_three([&] { (void)load_model(path); });
    }
    expect_linear((std::string("loading a SavedModel whose function is a chain of N ") + op + " nodes").c_str(), kN,
                  t[0], t[1]);
  }
  // What was loaded is the signature: one input x, one output y.
  const auto model = load_model(dir / "Neg0");
  ASSERT_EQ(model->inputs().size(), 1u);
  EXPECT_EQ(model->inputs()[0].shape(), (Shape{Shape::kUnknown, 2}));
  EXPECT_EQ(model->outputs().size(), 1u);
}

// A model whose call is a chain of N ops, saved by Strata (the trace's N nodes of one name,
// "Neg", were named by trying "Neg_1", "Neg_2", ... from 1 each time: quadratic) and
// revived from its traced call (its class is registered nowhere).
TEST(LinearLoads, SavingAndRevivingAChainModelGrowLinearly) {
  const fs::path dir = scratch("revive");
  constexpr int kN = 2500;
  // Each load warns that ChainModel is not registered: not this test's subject.
  const auto previous = set_log_sink([](LogLevel, std::string_view) {});
  struct Restore {
    LogSink sink;
    ~Restore() { set_log_sink(sink); }
  } restore{previous};
  double save[2], revive[2];
  for (int k = 0; k < 2; ++k) {
    const fs::path path = dir / ("chain" + std::to_string(k));
    save[k] = best_of_three([&] { ll::write_revived_chain_savedmodel(path, sized(kN, k)); });
    revive[k] = best_of_three([&] { (void)load_model(path); });
  }
  expect_linear("saving a model whose call is a chain of N ops", kN, save[0], save[1]);
  expect_linear("reviving a model whose call is a chain of N ops", kN, revive[0], revive[1]);
  const auto model = load_model(dir / "chain0");
  EXPECT_TRUE(is_revived(*model)) << "the chain model was loaded from a class, not revived";
}

// A Sequential of N Dense layers revived from its traces: a function import per layer
// (each indexed the whole function library, about 4N functions: quadratic).
TEST(LinearLoads, RevivingAModelOfManyLayersGrowsLinearly) {
  const fs::path dir = scratch("revive_layers");
  constexpr int kN = 200;
  LoadOptions revive;
  revive.revive_from_traces = true;
  double t[2];
  for (int k = 0; k < 2; ++k) {
    const fs::path path = dir / ("layers" + std::to_string(k));
    try {
      ll::write_layers_savedmodel(path, sized(kN, k));
    } catch (const Error& e) {
      GTEST_SKIP() << "needs the layers plugin and a CPU backend (Dense and its initializer): " << e.what();
    }
    t[k] = best_of_three([&] { (void)load_model(path, revive); });
  }
  expect_linear("reviving a Sequential of N Dense layers", kN, t[0], t[1]);
  const auto model = load_model(dir / "layers0", revive);
  EXPECT_TRUE(is_revived(*model));
  EXPECT_EQ(model->layers().size(), static_cast<std::size_t>(kN));
}

TEST(LinearLoads, LoadingASavedModelGrowsLinearlyWithItsFunctionsInputs) {
  const fs::path dir = scratch("savedmodel_wide");
  constexpr int kN = 5000;
  double t[2];
  for (int k = 0; k < 2; ++k) {
    const fs::path path = dir / ("wide" + std::to_string(k));
    ll::write_wide_savedmodel(path, sized(kN, k));
    t[k] = best_of_three([&] { (void)load_model(path); });
  }
  expect_linear("loading a SavedModel whose function takes N inputs", kN, t[0], t[1]);
}

}  // namespace
}  // namespace strata
