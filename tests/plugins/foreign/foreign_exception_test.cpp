// Foreign exceptions (not strata::Error) thrown by plugin code reach hosts, the CLI and the
// C API as a typed PluginError naming the plugin, the class and the method. The plugin
// "test-throwing" (throwing_plugin.cpp) throws std::out_of_range, nlohmann's out_of_range,
// an int and a type of its own from every entry point the runtime calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <unistd.h>

#include "strata/c_api.h"
#include "strata/strata.hpp"
#include "strata/optimizer.hpp"
#include "strata/losses.hpp"
#include "strata/metrics.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/saving.hpp"
#include "strata/serialization.hpp"
#include "strata/training.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

const fs::path kPlugin = fs::path(STRATA_TEST_THROWING_PLUGIN_DIR) / "strata-test-throwing.so";
constexpr const char* kPluginName = "test-throwing";

void load_throwing_plugin() { PluginManager::global().load(kPlugin); }

// Each way the plugin throws, and what the error must then say about the exception.
struct Thrown {
  const char* kind;    // the plugin's name for it (throwing_plugin.cpp)
  const char* detail;  // part of the PluginError's message
};
void PrintTo(const Thrown& t, std::ostream* os) { *os << t.kind; }
constexpr std::array<Thrown, 4> kThrown{{
    {"out_of_range", "std::out_of_range: test-throwing read past the end (out_of_range)"},
    {"json", "key 'units' not found"},
    {"int", "an exception of type 'int', which is not a std::exception"},
    {"own", "PluginOwnError', which is not a std::exception"},
}};

// Runs `f`, which must throw a strata::Error of `kind` whose message holds every one of
// `parts`; returns the message.
std::string expect_error(const std::function<void()>& f, const std::string& kind,
                         const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    const std::string what = e.what();
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << "missing '" << p << "' in: " << what;
    return what;
  } catch (...) {
    ADD_FAILURE() << "a foreign exception escaped (expected " << kind << ")";
    return {};
  }
  ADD_FAILURE() << "nothing was thrown (expected " << kind << ")";
  return {};
}

std::string plugin_error(const std::function<void()>& f, const std::string& site, const Thrown& thrown) {
  return expect_error(f, "PluginError", {site + " of plugin '" + kPluginName + "'", thrown.detail});
}

Config layer_config(const std::string& kind, const std::string& in) {
  return Config{{"class_name", "ThrowingLayer"}, {"config", {{"name", "thrower"}, {"throw", kind}, {"in", in}}}};
}

std::string sequential_json(const Config& layer) {
  return Config{{"class_name", "Sequential"}, {"config", {{"name", "seq"}, {"layers", Config::array({layer})}}}}.dump();
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("strata-foreign-" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

class ForeignExceptions : public ::testing::TestWithParam<Thrown> {
 protected:
  void SetUp() override { load_throwing_plugin(); }
};

TEST_P(ForeignExceptions, LayerFromConfig) {
  const Thrown t = GetParam();
  const std::string what =
      plugin_error([&] { deserialize_layer(layer_config(t.kind, "from_config")); },
                   "layer 'ThrowingLayer'", t);
  EXPECT_NE(what.find("failed in from_config"), std::string::npos) << what;
  EXPECT_NE(what.find("while reading the config of layer 'thrower'"), std::string::npos) << what;
}

TEST_P(ForeignExceptions, LayerBuildCallAndGetConfig) {
  const Thrown t = GetParam();
  for (const char* in : {"build", "call"}) {
    auto layer = deserialize_layer(layer_config(t.kind, in));
    const Tensor x = Tensor::from_vector<float>({1, 2}, Shape{1, 2});
    const std::string what = plugin_error([&] { (*layer)(x); }, "layer 'ThrowingLayer'", t);
    EXPECT_NE(what.find(std::string("failed in ") + in), std::string::npos) << what;
  }
  auto layer = deserialize_layer(layer_config(t.kind, "get_config"));
  plugin_error([&] { serialize_layer(*layer); }, "layer 'ThrowingLayer'", t);
}

TEST_P(ForeignExceptions, ModelJsonNamingTheLayer) {
  const Thrown t = GetParam();
  const std::string what = plugin_error(
      [&] { model_from_json(sequential_json(layer_config(t.kind, "from_config"))); }, "layer 'ThrowingLayer'", t);
  EXPECT_NE(what.find("while building Sequential model 'seq' from its config"), std::string::npos) << what;
}

TEST_P(ForeignExceptions, OtherFactories) {
  const Thrown t = GetParam();
  auto serialized = [&](const char* cls) { return Config{{"class_name", cls}, {"config", {{"throw", t.kind}}}}; };
  plugin_error([&] { get_activation(serialized("ThrowingActivation")); }, "activation 'ThrowingActivation'", t);
  plugin_error([&] { get_initializer(serialized("ThrowingInitializer")); }, "initializer 'ThrowingInitializer'", t);
  plugin_error([&] { deserialize<ObjectKind::kOptimizer>(serialized("ThrowingOptimizer")); },
               "optimizer 'ThrowingOptimizer'", t);
  plugin_error([&] { deserialize<ObjectKind::kLoss>(serialized("ThrowingLoss")); }, "loss 'ThrowingLoss'", t);
  plugin_error([&] { deserialize<ObjectKind::kMetric>(serialized("ThrowingMetric")); }, "metric 'ThrowingMetric'", t);
}

TEST_P(ForeignExceptions, FormatMethods) {
  const Thrown t = GetParam();
  TempDir dir;
  const std::string kind = t.kind;
  const auto format = get_format("throwing");
  plugin_error([&] { format->describe(dir.write("describe-" + kind + ".throwing", "x")); },
               "format 'throwing'", t);
  plugin_error([&] { load_model(dir.write("load_model-" + kind + ".throwing", "x")); }, "format 'throwing'", t);
  plugin_error([&] { load_model(dir.write("sniff-" + kind + ".throwing", "x")); }, "format 'throwing'", t);
  auto model = model_from_json(sequential_json(layer_config("", "")));
  const std::string what = plugin_error(
      [&] { save_model(*model, dir.path() / ("save_model-" + kind + ".throwing")); }, "format 'throwing'", t);
  EXPECT_NE(what.find("failed in save_model"), std::string::npos) << what;
  EXPECT_NE(what.find("while saving model 'seq'"), std::string::npos) << what;
}

TEST_P(ForeignExceptions, TrainingObjects) {
  const Thrown t = GetParam();
  // A 2 -> 1 Dense model from the layers plugin, fitted on one batch.
  const std::string json = Config{{"class_name", "Sequential"},
                                  {"config",
                                   {{"name", "fit"},
                                    {"layers", Config::array({Config{{"class_name", "InputLayer"},
                                                                     {"config", {{"batch_input_shape", {nullptr, 2}}}}},
                                                              Config{{"class_name", "Dense"},
                                                                     {"config", {{"units", 1}}}}})}}}}
                               .dump();
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, Shape{2, 2});
  const Tensor y = Tensor::from_vector<float>({1, 0}, Shape{2, 1});
  FitOptions quiet;
  quiet.verbose = 0;
  auto object = [&](const char* cls, const char* in) {
    return Config{{"class_name", cls}, {"config", {{"throw", t.kind}, {"in", in}}}};
  };
  const Config sgd{{"class_name", "SGD"}, {"config", Config::object()}};
  const Config mse("mse");
  auto fit_with = [&](const Config& optimizer, const Config& loss, const Config& metrics) {
    auto model = model_from_json(json);
    model->compile(optimizer, loss, metrics);
    model->fit(x, y, quiet);
  };
  plugin_error([&] { fit_with(object("ThrowingOptimizer", "update_step"), mse, Config()); },
               "optimizer 'ThrowingOptimizer'", t);
  plugin_error([&] { fit_with(object("ThrowingOptimizer", "build_slots"), mse, Config()); },
               "optimizer 'ThrowingOptimizer'", t);
  plugin_error([&] { fit_with(sgd, object("ThrowingLoss", "call"), Config()); }, "loss 'ThrowingLoss'", t);
  plugin_error([&] { fit_with(sgd, mse, Config::array({object("ThrowingMetric", "update_state")})); },
               "metric 'ThrowingMetric'", t);
  plugin_error([&] { fit_with(sgd, mse, Config::array({object("ThrowingMetric", "result")})); },
               "metric 'ThrowingMetric'", t);
}

INSTANTIATE_TEST_SUITE_P(Kinds, ForeignExceptions, ::testing::ValuesIn(kThrown),
                         [](const auto& info) { return std::string(info.param.kind); });

// ---- kernels -------------------------------------------------------------------------------

// Relu on the plugin's "throwdev" device, throwing by the first value (throwing_plugin.cpp).
Tensor relu_on_throwdev(float first) {
  load_throwing_plugin();
  const Tensor x = Tensor::from_vector<float>({first, -1.0f, 2.5f, -3.0f}, Shape{4}, Device("throwdev", 0));
  return relu(x);
}

TEST(ForeignExceptionKernels, KernelThrowsAreTranslatedPerOp) {
  const std::string site = "kernel 'Relu:throwdev:float32'";
  plugin_error([] { relu_on_throwdev(1); }, site, kThrown[0]);
  plugin_error([] { relu_on_throwdev(2); }, site, kThrown[2]);
  plugin_error([] { relu_on_throwdev(3); }, site, kThrown[3]);
}

TEST(ForeignExceptionKernels, ExceptionInsideAnOpenMpRegionReachesTheCaller) {
  // Without RegionErrors the exception would leave the region and terminate the process.
  const std::string what = expect_error([] { relu_on_throwdev(4); }, "PluginError",
                                        {"kernel 'Relu:throwdev:float32' of plugin 'test-throwing' failed in compute",
                                         "std::out_of_range: test-throwing read past the end"});
  // A strata::Error thrown inside the region keeps its kind.
  expect_error([] { relu_on_throwdev(5); }, "ValueError", {"test-throwing reports a ValueError as it should"});
  // And the kernel still works: relu(0, -1, 2.5, -3) by hand.
  EXPECT_EQ(relu_on_throwdev(0).to_vector<float>(), (std::vector<float>{0, 0, 2.5f, 0}));
}

TEST(ForeignExceptionKernels, BackendMethods) {
  load_throwing_plugin();
  expect_error([] { Tensor::zeros(DType::kFloat32, Shape{2}, Device("throwcount", 0)); }, "PluginError",
               {"backend 'throwcount' of plugin 'test-throwing' failed in device_count",
                "std::out_of_range: test-throwing cannot count its devices"});
}

// ---- the original exception stays reachable -------------------------------------------------

TEST(ForeignExceptionNesting, OriginalExceptionIsNested) {
  load_throwing_plugin();
  try {
    deserialize_layer(layer_config("own", "from_config"));
    FAIL() << "nothing thrown";
  } catch (const PluginError& e) {
    bool found = false;
    try {
      std::rethrow_if_nested(e);
    } catch (int) {
      ADD_FAILURE() << "wrong nested type";
    } catch (...) {
      found = true;
    }
    EXPECT_TRUE(found);
  }
}

// ---- the probe ------------------------------------------------------------------------------

TEST(ForeignExceptionProbe, ThrowingProbeRefusesThePluginWithATypedError) {
  ASSERT_EQ(::setenv("STRATA_TEST_PROBE_THROWS", "1", 1), 0);
  Registry registry;
  PluginManager manager(registry);
  expect_error([&] { manager.load(kPlugin); }, "PluginError",
               {"cannot load plugin '" + fs::weakly_canonical(kPlugin).string(),
                "its probe threw (a probe must not throw)", "std::out_of_range: test-throwing probe failed"});
  ::unsetenv("STRATA_TEST_PROBE_THROWS");
  EXPECT_FALSE(registry.contains(ObjectKind::kLayer, "ThrowingLayer"));
}

// ---- the realistic case: a Dense config without "units" ------------------------------------------

TEST(ForeignExceptionRealistic, DenseWithoutUnitsIsATypedErrorNamingTheLayer) {
  const Config dense{{"class_name", "Dense"}, {"config", Config::object()}};
  try {
    model_from_json(sequential_json(dense));
    FAIL() << "nothing thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Dense"), std::string::npos) << e.what();
  }
}

// ---- the CLI and the C API ---------------------------------------------------------------------

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  pclose(pipe);
  return out;
}

TEST_P(ForeignExceptions, CliPrintsOneLineAndExitsOne) {
  const Thrown t = GetParam();
  TempDir dir;
  const fs::path model = dir.write("model.json", sequential_json(layer_config(t.kind, "from_config")));
  const std::string out = run(std::string(STRATA_CLI_PATH) + " --plugin " + kPlugin.string() + " info " +
                              model.string() + " 2>&1 >/dev/null; echo \"rc=$?\"");
  EXPECT_NE(out.find("strata: error: PluginError: layer 'ThrowingLayer' of plugin 'test-throwing' failed in "
                     "from_config with "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(t.detail), std::string::npos) << out;
  EXPECT_NE(out.find("while loading a model from '" + model.string() + "'"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;  // the error line and rc=
}

TEST_P(ForeignExceptions, CApiReturnsPluginErrorStatus) {
  const Thrown t = GetParam();
  TempDir dir;
  const fs::path model = dir.write("model.json", sequential_json(layer_config(t.kind, "from_config")));
  const std::string plugin = kPlugin.string();
  const char* paths[] = {plugin.c_str()};
  strata_status* init = strata_init(paths, 1);
  ASSERT_EQ(init, nullptr) << strata_status_message(init);
  strata_model* loaded = nullptr;
  strata_status* status = strata_model_load(model.c_str(), nullptr, &loaded);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(loaded, nullptr);
  EXPECT_EQ(strata_status_code(status), STRATA_PLUGIN_ERROR) << strata_status_message(status);
  const std::string message = strata_status_message(status);
  EXPECT_NE(message.find("layer 'ThrowingLayer' of plugin 'test-throwing' failed in from_config"), std::string::npos)
      << message;
  EXPECT_NE(message.find(t.detail), std::string::npos) << message;
  strata_status_release(status);
}

}  // namespace
}  // namespace strata
