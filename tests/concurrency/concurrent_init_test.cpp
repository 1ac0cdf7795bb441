// The first initialize() raced by several threads (issue 20, "Threads"): no main() has
// initialized the runtime before, so every thread's call may be the one that loads the
// plugins. Each thread then lists the plugins, looks a class up and loads a model; all of
// them must see the one, complete runtime. A program of its own because the other test
// programs' main() initializes first.
#include <atomic>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "strata/config.hpp"
#include "strata/model.hpp"
#include "strata/plugins.hpp"
#include "strata/registry.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"
#include "strata/tensor.hpp"

int main() {
  namespace fs = std::filesystem;
  constexpr int kThreads = 8;
  const fs::path json = fs::temp_directory_path() / ("strata_concurrent_init_" + std::to_string(::getpid()) + ".json");
  {
    std::FILE* f = std::fopen(json.c_str(), "w");
    if (f == nullptr) return 1;
    std::fputs(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "name": "x"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}})", f);
    std::fclose(f);
  }
  std::vector<std::size_t> plugin_counts(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      try {
        if (t % 2 == 0) strata::initialize();  // the others start with load_model, which initializes
        auto model = strata::load_model(json);
        const auto y = model->predict(strata::Tensor::zeros(strata::DType::kFloat32, strata::Shape{4, 3}));
        if (y.shape() != strata::Shape{4, 2}) errors[static_cast<std::size_t>(t)] = "wrong output shape";
        if (!strata::Registry::global().contains(strata::ObjectKind::kLayer, "LSTM")) {
          errors[static_cast<std::size_t>(t)] = "LSTM is not registered after initialize()";
        }
        plugin_counts[static_cast<std::size_t>(t)] = strata::PluginManager::global().plugins().size();
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(t)] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  fs::remove(json);
  int failures = 0;
  for (int t = 0; t < kThreads; ++t) {
    if (!errors[static_cast<std::size_t>(t)].empty()) {
      std::fprintf(stderr, "thread %d: %s\n", t, errors[static_cast<std::size_t>(t)].c_str());
      ++failures;
    } else if (plugin_counts[static_cast<std::size_t>(t)] != plugin_counts[0] || plugin_counts[0] == 0) {
      std::fprintf(stderr, "thread %d saw %zu plugins, thread 0 %zu\n", t, plugin_counts[static_cast<std::size_t>(t)],
                   plugin_counts[0]);
      ++failures;
    }
  }
  std::printf("%d threads initialized concurrently, %zu plugins each: %s\n", kThreads, plugin_counts[0],
              failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
