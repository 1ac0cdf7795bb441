// Helpers shared by the save/load benchmarks: the plain file write/read baselines and
// peak-memory probes (Linux /proc).
#pragma once

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace strata::bench {

// STRATA_BENCH_DIR (default: the system temp directory) / strata_bench_<name>_<pid>.
inline std::filesystem::path bench_dir(const std::string& name) {
  const char* env = std::getenv("STRATA_BENCH_DIR");
  const std::filesystem::path dir = std::filesystem::path(env && *env ? env : std::filesystem::temp_directory_path().string()) /
                                    ("strata_bench_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}
inline long current_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}
// Resets VmHWM to the current RSS (Linux >= 4.0).
inline void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

using Clock = std::chrono::steady_clock;
inline double sum(const std::vector<double>& xs) {
  double total = 0;
  for (const double x : xs) total += x;
  return total;
}
// The median of per-iteration times (the mean of the middle two for an even count).
inline double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  const std::size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}
inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The plain baseline: write(2) the model's bytes, straight from the variables' memory (the
// same source the checkpoint reads), to a file and fsync it, as every Strata save does.
inline void plain_write(const std::filesystem::path& file, const std::vector<std::string_view>& pieces) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  for (const auto piece : pieces) {
    for (std::size_t done = 0; done < piece.size();) {
      const ssize_t n = ::write(fd, piece.data() + done, piece.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
  }
  ::fsync(fd);
  ::close(fd);
}

// The plain baseline: pread(2) all bytes into new memory, as a restore reads into new tensors.
inline void plain_read(const std::filesystem::path& file, std::size_t size) {
  std::unique_ptr<char[]> buffer(new char[size]);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::pread(fd, buffer.get() + done, size - done, static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  benchmark::DoNotOptimize(buffer.get());
}

}  // namespace strata::bench
