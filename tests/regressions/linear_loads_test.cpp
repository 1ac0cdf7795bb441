// Reported (issue 20, "super-linear work on adversarial sizes"): `strata info` of a
// checkpoint whose object graph is a 100000-deep chain (a 1 MB file) built the full path of
// every object (c/c/c/..., 10^10 bytes in all) and passed 4 GB; reviving a SavedModel whose
// function is a long chain of nodes grew worse than quadratically (20000 nodes 1.7 s, 80000
// nodes 114 s). Loading and describing are now linear in the file's size, and the `info`
// listing is capped. The files are made here (linear_loads_files.hpp); what is checked is
// how the work grows (twice the size takes at most 2.5 times as long, the best of three
// runs each) and the memory of `strata info` (at most 256 MiB, measured by the kernel), not
// absolute times. scripts/linear_loads.sh measures the figures in docs/RELIABILITY.md.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>

#include "linear_loads_files.hpp"
#include "strata/format.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define STRATA_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_TEST_ASAN 1
#endif
#endif

namespace strata {
namespace {

namespace fs = std::filesystem;
namespace ll = test::linear_loads;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("strata-linear-loads-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The best of three runs of `fn`, in seconds.
double best_of_three(const std::function<void()>& fn) {
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// Twice the size takes at most 2.5 times as long (a quadratic cost takes 4 times).
void expect_linear(const char* what, int n, double t1, double t2) {
  EXPECT_LE(t2, 2.5 * t1) << what << ": " << n << " took " << t1 << " s, " << 2 * n << " took " << t2
                          << " s (ratio " << t2 / t1 << ", at most 2.5 for linear work)";
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
  const ChildRun run = run_info(prefix, dir / "info.txt", rlim_t{1} << 30);
  ASSERT_EQ(run.status, 0) << run.output.substr(0, 2000);
#ifndef STRATA_TEST_ASAN
  EXPECT_LE(run.max_rss_kib, 256 * 1024) << "strata info used " << run.max_rss_kib / 1024 << " MiB";
#endif
  EXPECT_NE(run.output.find("object graph: 100001 nodes"), std::string::npos) << run.output.substr(0, 2000);
  EXPECT_NE(run.output.find("nodes not listed"), std::string::npos) << run.output.substr(run.output.size() - 2000);
  EXPECT_LE(run.output.size(), std::size_t{4} << 20) << "the listing is not capped";
}

TEST(LinearLoads, DescribingACheckpointGrowsLinearlyWithItsDepthAndWidth) {
  const auto format = get_format("checkpoint");
  const fs::path dir = scratch("describe");
  constexpr int kN = 20000;
  for (const bool wide : {false, true}) {
    double t[2];
    for (int k = 0; k < 2; ++k) {
      const fs::path prefix = dir / ((wide ? "wide" : "chain") + std::to_string(k));
      if (wide) ll::write_wide_checkpoint(prefix, kN << k);
      else ll::write_chain_checkpoint(prefix, kN << k);
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
  constexpr int kN = 25000;
  for (const char* op : {"Neg", "Identity", "AddV2"}) {
    double t[2];
    for (int k = 0; k < 2; ++k) {
      const fs::path path = dir / (std::string(op) + std::to_string(k));
      ll::write_chain_savedmodel(path, kN << k, op);
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

TEST(LinearLoads, LoadingASavedModelGrowsLinearlyWithItsFunctionsInputs) {
  const fs::path dir = scratch("savedmodel_wide");
  constexpr int kN = 10000;
  double t[2];
  for (int k = 0; k < 2; ++k) {
    const fs::path path = dir / ("wide" + std::to_string(k));
    ll::write_wide_savedmodel(path, kN << k);
    t[k] = best_of_three([&] { (void)load_model(path); });
  }
  expect_linear("loading a SavedModel whose function takes N inputs", kN, t[0], t[1]);
}

}  // namespace
}  // namespace strata
