// Concurrency (issue 20, "Threads"): what EMBEDDING.md promises a host that uses Strata from
// several threads, checked on models loaded from every format. Each case computes its
// expected values on one thread first, then runs the same work from several threads at once
// and requires bit-identical results (the kernels are deterministic for a given batch size).
// Label `concurrency`; the point of these cases is the ThreadSanitizer build
// (scripts/tsan.sh), where a data race fails the test even when the values come out right.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "strata/c_api.h"
#include "strata/config.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/model.hpp"
#include "strata/plugins.hpp"
#include "strata/registry.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"
#include "strata/tensor.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

constexpr int kThreads = 6;

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw std::runtime_error(detail::concat(args...));
}
constexpr int kRounds = 6;

struct WorkDir {
  fs::path path = fs::temp_directory_path() / ("strata_concurrency_" + std::to_string(::getpid()));
  WorkDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~WorkDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

fs::path work_dir() {
  static const WorkDir dir;
  return dir.path;
}

// Keras configs: an MLP, a conv net with BatchNormalization (whose traced graph the
// backend fuses when revived; wide enough that oneDNN reorders its filters, so that predict
// from several threads shares the kept folded and reordered filters), and a masked LSTM on
// token ids.
const char* const kMlp = R"({"class_name": "Sequential", "config": {"name": "mlp", "layers": [
  {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8], "dtype": "float32", "name": "x"}},
  {"class_name": "Dense", "config": {"name": "d1", "units": 16, "activation": "relu"}},
  {"class_name": "Dense", "config": {"name": "d2", "units": 4, "activation": "softmax"}}]}})";

const char* const kConv = R"({"class_name": "Sequential", "config": {"name": "conv", "layers": [
  {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 6, 6, 8], "dtype": "float32", "name": "img"}},
  {"class_name": "Conv2D", "config": {"name": "c1", "filters": 32, "kernel_size": [3, 3], "padding": "same"}},
  {"class_name": "BatchNormalization", "config": {"name": "bn"}},
  {"class_name": "Activation", "config": {"name": "act", "activation": "relu"}},
  {"class_name": "GlobalAveragePooling2D", "config": {"name": "gap"}},
  {"class_name": "Dense", "config": {"name": "out", "units": 3}}]}})";

const char* const kMaskedLstm = R"({"class_name": "Sequential", "config": {"name": "tagger", "layers": [
  {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 7], "dtype": "int32", "name": "tokens"}},
  {"class_name": "Embedding", "config": {"name": "emb", "input_dim": 20, "output_dim": 5, "mask_zero": true}},
  {"class_name": "LSTM", "config": {"name": "lstm", "units": 6, "return_sequences": true}},
  {"class_name": "Dense", "config": {"name": "tag", "units": 3}}]}})";

// Token ids with trailing padding (0) of a length that depends on the row.
Tensor tokens(std::int64_t batch, int seed) {
  std::vector<std::int32_t> v(static_cast<std::size_t>(batch * 7));
  for (std::int64_t r = 0; r < batch; ++r) {
    const std::int64_t len = 1 + (r + seed) % 7;
    for (std::int64_t c = 0; c < 7; ++c) {
      v[static_cast<std::size_t>(r * 7 + c)] = c < len ? static_cast<std::int32_t>(1 + (r * 7 + c + seed) % 19) : 0;
    }
  }
  return Tensor::from_vector<std::int32_t>(v, Shape{batch, 7});
}

Tensor floats(const Shape& shape, int seed) {
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.05f * static_cast<float>(static_cast<int>((i * 7 + seed) % 23) - 11);
  return Tensor::from_vector<float>(v, shape);
}

struct Case {
  const char* name;
  const char* config;
  std::function<Tensor(std::int64_t batch, int seed)> input;
};

std::vector<Case> cases() {
  return {
      {"mlp", kMlp, [](std::int64_t b, int s) { return floats(Shape{b, 8}, s); }},
      {"conv", kConv, [](std::int64_t b, int s) { return floats(Shape{b, 6, 6, 8}, s); }},
      {"masked_lstm", kMaskedLstm, tokens},
  };
}

// A model of `c` with trained (not initial) weights, so that every weight, the BatchNorm
// statistics included, carries a value the file must restore.
std::shared_ptr<Model> trained(const Case& c) {
  auto model = model_from_json(c.config);
  model->compile(Config("adam"), Config("mse"));
  const Tensor x = c.input(8, 1);
  const Tensor y = floats(model->predict(x).shape(), 3);
  for (int i = 0; i < 3; ++i) model->train_on_batch({x}, {y});
  return model;
}

// How a model reaches the threads: saved in one format and loaded back.
using Loader = std::function<std::shared_ptr<Model>(const Model& model, const fs::path& dir)>;

std::vector<std::pair<std::string, Loader>> loaders() {
  return {
      {"h5",
       [](const Model& m, const fs::path& dir) {
         save_model(m, dir / "m.h5");
         return load_model(dir / "m.h5");
       }},
      {"savedmodel_classes",
       [](const Model& m, const fs::path& dir) {
         save_model(m, dir / "sm");
         return load_model(dir / "sm");
       }},
      {"savedmodel_revived",
       [](const Model& m, const fs::path& dir) {
         save_model(m, dir / "sm_traces");
         LoadOptions options;
         options.revive_from_traces = true;
         return load_model(dir / "sm_traces", options);
       }},
      {"json_checkpoint",
       [](const Model& m, const fs::path& dir) {
         save_weights(m, dir / "ckpt");
         auto loaded = model_from_json(model_to_json(m));
         // The optimizer's slots in the file have no optimizer to go to in an uncompiled model.
         load_weights(*loaded, dir / "ckpt").expect_partial();
         return loaded;
       }},
      {"json_h5_weights",
       [](const Model& m, const fs::path& dir) {
         save_weights(m, dir / "w.h5");
         auto loaded = model_from_json(model_to_json(m));
         load_weights(*loaded, dir / "w.h5");
         return loaded;
       }},
  };
}

// Runs `work(thread, round)` on kThreads threads at once, kRounds times each; the first
// exception of any thread fails the test with its message.
void run_threads(const std::function<void(int, int)>& work) {
  std::vector<std::string> errors(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      try {
        for (int r = 0; r < kRounds; ++r) work(t, r);
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(t)] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[static_cast<std::size_t>(t)], "") << "thread " << t;
}

const std::int64_t kBatches[] = {1, 3, 8};

// Predict on one model from several threads, each with its own batch size, on a model
// loaded from every format: the same bits as one thread alone.
TEST(Concurrency, PredictOnOneModelFromEveryFormat) {
  for (const auto& c : cases()) {
    const auto original = trained(c);
    for (const auto& [format, load] : loaders()) {
      SCOPED_TRACE(std::string(c.name) + " via " + format);
      const fs::path dir = work_dir() / (std::string(c.name) + "_" + format);
      fs::create_directories(dir);
      std::shared_ptr<Model> model;
      try {
        model = load(*original, dir);
      } catch (const Error& e) {
        ADD_FAILURE() << e.what();
        continue;
      }
      std::vector<Tensor> inputs;
      std::vector<std::vector<float>> expected;
      for (std::int64_t b : kBatches) {
        inputs.push_back(c.input(b, static_cast<int>(b)));
        expected.push_back(model->predict(inputs.back()).to_vector<float>());
      }
      // The file holds the trained model: the reload computes what the original does
      // (revived graphs may round differently, so this one is a tolerance).
      const auto from_original = original->predict(inputs.back()).to_vector<float>();
      ASSERT_EQ(from_original.size(), expected.back().size());
      for (std::size_t i = 0; i < from_original.size(); ++i) {
        ASSERT_NEAR(from_original[i], expected.back()[i], 1e-5) << i;
      }
      run_threads([&](int t, int r) {
        const std::size_t k = static_cast<std::size_t>((t + r) % 3);
        if (model->predict(inputs[k]).to_vector<float>() != expected[k]) {
          fail("thread ", t, " round ", r, ": predict on batch ", kBatches[k], " differs");
        }
      });
    }
  }
}

// A stateful GRU carries its state across predict calls; each thread has its own model
// (the state is the model's, as in Keras), loaded concurrently from one file, and its
// sequence of outputs equals one thread's.
TEST(Concurrency, StatefulModelsLoadedAndRunPerThread) {
  const char* const config = R"({"class_name": "Sequential", "config": {"name": "stateful", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [2, 3, 4], "dtype": "float32", "name": "seq"}},
    {"class_name": "GRU", "config": {"name": "gru", "units": 5, "stateful": true}},
    {"class_name": "Dense", "config": {"name": "out", "units": 2}}]}})";
  const fs::path file = work_dir() / "stateful.h5";
  save_model(*model_from_json(config), file);
  auto run_sequence = [](Model& model) {
    std::vector<float> out;
    for (int step = 0; step < 4; ++step) {
      const auto y = model.predict(floats(Shape{2, 3, 4}, step)).to_vector<float>();
      out.insert(out.end(), y.begin(), y.end());
    }
    return out;
  };
  const auto expected = run_sequence(*load_model(file));
  run_threads([&](int t, int r) {
    auto model = load_model(file);
    if (run_sequence(*model) != expected) fail("thread ", t, " round ", r, ": the stateful outputs differ");
  });
}

// Different models saved and loaded at once, in every format, each by its own thread to its
// own paths: every reload predicts what its original does.
TEST(Concurrency, DifferentModelsSavedAndLoadedAtOnce) {
  const auto all_cases = cases();
  const auto all_loaders = loaders();
  std::vector<std::shared_ptr<Model>> originals;
  std::vector<Tensor> inputs;
  std::vector<std::vector<float>> expected;
  for (int t = 0; t < kThreads; ++t) {
    const Case& c = all_cases[static_cast<std::size_t>(t) % all_cases.size()];
    originals.push_back(trained(c));
    inputs.push_back(c.input(3, t));
    expected.push_back(originals.back()->predict(inputs.back()).to_vector<float>());
  }
  run_threads([&](int t, int r) {
    const auto& [format, load] = all_loaders[static_cast<std::size_t>(t + r) % all_loaders.size()];
    const fs::path dir = work_dir() / ("saves_" + std::to_string(t) + "_" + std::to_string(r));
    fs::create_directories(dir);
    const auto loaded = load(*originals[static_cast<std::size_t>(t)], dir);
    const auto got = loaded->predict(inputs[static_cast<std::size_t>(t)]).to_vector<float>();
    const auto& want = expected[static_cast<std::size_t>(t)];
    if (got.size() != want.size()) fail("thread ", t, " via ", format, ": output size ", got.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (!(std::abs(got[i] - want[i]) <= 1e-5f)) fail("thread ", t, " via ", format, ": output ", i, " differs");
    }
    fs::remove_all(dir);
  });
}

// Training different models at once: each thread loads the same compiled model from one
// file and trains it on the same batches; every thread ends with the weights one thread
// alone gets (the gradient tape, the optimizers and the metrics keep no shared state).
TEST(Concurrency, DifferentModelsTrainedAtOnce) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const fs::path file = work_dir() / (std::string("train_") + c.name + ".h5");
    save_model(*trained(c), file);
    const Tensor x = c.input(4, 2);
    auto train = [&](Model& model) {
      const Tensor y = floats(model.predict(x).shape(), 5);
      for (int step = 0; step < 3; ++step) model.train_on_batch({x}, {y});
      std::vector<float> all;
      for (const auto& w : model.get_weights()) {
        const auto v = w.to_vector<float>();
        all.insert(all.end(), v.begin(), v.end());
      }
      return all;
    };
    const auto expected = train(*load_model(file));
    run_threads([&](int t, int r) {
      if (train(*load_model(file)) != expected) fail("thread ", t, " round ", r, ": the trained weights differ");
    });
  }
}

// initialize(), the plugin list and registry lookups from several threads while others
// build and run models.
TEST(Concurrency, InitializeAndPluginListingWhileModelsRun) {
  const auto model = model_from_json(kMlp);
  const Tensor x = floats(Shape{3, 8}, 0);
  const auto expected = model->predict(x).to_vector<float>();
  const std::size_t plugins = PluginManager::global().plugins().size();
  run_threads([&](int t, int r) {
    switch ((t + r) % 3) {
      case 0:
        initialize();
        if (!is_initialized()) fail("not initialized after initialize()");
        break;
      case 1:
        if (PluginManager::global().plugins().size() != plugins) fail("the plugin list changed");
        if (!Registry::global().contains(ObjectKind::kLayer, "Dense")) fail("Dense is not registered");
        break;
      default:
        if (model_from_json(kMlp)->predict(x).shape() != model->predict(x).shape() ||
            model->predict(x).to_vector<float>() != expected) {
          fail("predict differs while the runtime was listed");
        }
    }
  });
}

// The C API from several threads: each loads, describes, predicts and releases its own
// handle of one file, and all of them predict on one shared handle.
TEST(Concurrency, CApiFromSeveralThreads) {
  const fs::path file = work_dir() / "c_api.h5";
  const auto model = trained(cases()[0]);
  save_model(*model, file);
  const Tensor x = floats(Shape{2, 8}, 5);
  const auto expected = model->predict(x).to_vector<float>();
  const auto host_x = x.to_vector<float>();

  auto predict = [&](const strata_model* handle) {
    std::vector<float> out(expected.size());
    strata_buffer in{};
    in.struct_size = sizeof(strata_buffer);
    in.dtype = STRATA_FLOAT32;
    in.rank = 2;
    in.shape[0] = 2;
    in.shape[1] = 8;
    in.data = const_cast<float*>(host_x.data());
    in.capacity = in.size = host_x.size() * sizeof(float);
    strata_buffer result{};
    result.struct_size = sizeof(strata_buffer);
    result.dtype = STRATA_FLOAT32;
    result.data = out.data();
    result.capacity = out.size() * sizeof(float);
    if (strata_status* s = strata_model_predict(handle, &in, 1, &result, 1)) {
      const std::string message = strata_status_message(s);
      strata_status_release(s);
      fail("strata_model_predict: ", message);
    }
    return out;
  };

  strata_model* shared = nullptr;
  ASSERT_EQ(strata_model_load(file.c_str(), nullptr, &shared), nullptr);
  run_threads([&](int t, int r) {
    if (predict(shared) != expected) fail("thread ", t, " round ", r, ": shared handle differs");
    strata_model* own = nullptr;
    if (strata_status* s = strata_model_load(file.c_str(), nullptr, &own)) {
      const std::string message = strata_status_message(s);
      strata_status_release(s);
      fail("strata_model_load: ", message);
    }
    std::size_t count = 0;
    strata_status* s = strata_model_input_count(own, &count);
    const bool ok = s == nullptr && count == 1 && predict(own) == expected;
    strata_status_release(s);
    strata_model_release(own);
    if (!ok) fail("thread ", t, " round ", r, ": own handle differs");
  });
  strata_model_release(shared);
}

}  // namespace
}  // namespace strata
