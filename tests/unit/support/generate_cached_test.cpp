// test::generate_cached (tests/support/interop_venv.hpp): the interop tests' generated-file
// caches are filled once per run even when ctest starts two of a fixture's test processes at
// once. Before it, a second process saw the first file of a half-written cache and read
// files that were not there yet (savedmodel.Models/KerasStatefulInterop.* failed so on a
// fresh machine, stop 22's CI).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "interop_venv.hpp"

namespace fs = std::filesystem;

namespace {

fs::path fresh(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("strata_generate_cached_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A generator that writes `first`, works for a while, then writes the marker.
int slow_generator(const fs::path& out, std::string&) {
  fs::create_directories(out);
  std::ofstream(out / "first") << "1";
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  std::ofstream(out / "second") << "2";
  std::ofstream(out / "done") << "";
  return 0;
}

TEST(GenerateCached, ASecondProcessWaitsForTheFirstAndNeverGeneratesAgain) {
  const fs::path root = fresh("race");
  const fs::path dir = root / "cache";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string out;
    ::_exit(strata::test::generate_cached(dir, "done", slow_generator, out));
  }
  // Let the child start writing, then ask for the same cache.
  for (int i = 0; i < 200 && !fs::exists(dir.string() + ".lock"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int second_runs = 0;
  std::string out;
  EXPECT_EQ(strata::test::generate_cached(
                dir, "done",
                [&](const fs::path& o, std::string& text) { return ++second_runs, slow_generator(o, text); }, out),
            0);
  EXPECT_TRUE(fs::exists(dir / "second")) << "the cache was read before it was complete";
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(second_runs, 0) << "the second process generated the cache again";
  fs::remove_all(root);
}

TEST(GenerateCached, AFailedGenerationLeavesNoCacheAndIsRetried) {
  const fs::path root = fresh("fail");
  const fs::path dir = root / "cache";
  std::string out;
  EXPECT_EQ(strata::test::generate_cached(
                dir, "done",
                [](const fs::path& o, std::string&) {
                  fs::create_directories(o);
                  std::ofstream(o / "first") << "1";
                  return 3;
                },
                out),
            3);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_EQ(strata::test::generate_cached(dir, "done", slow_generator, out), 0);
  EXPECT_TRUE(fs::exists(dir / "done"));
  // A generator that exits 0 without its marker is a failure too.
  const fs::path other = root / "other";
  EXPECT_NE(strata::test::generate_cached(
                other, "done", [](const fs::path& o, std::string&) { return fs::create_directories(o), 0; }, out),
            0);
  EXPECT_FALSE(fs::exists(other));
  fs::remove_all(root);
}

}  // namespace
