// The C API seen from a host: error codes by exception type, the checks of caller
// buffers, float64 input, outputs written only on success, the plugin/device/log/version
// calls, output shapes without running, and the versioned function table.
//
// Models are built here with fixed initializers so every expected value is computed by
// hand (see make_models). Suite CApi needs no plugin (label unit); the others load the
// build's plugins (label plugin).
#include "strata/c_api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "strata/plugin/backend.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/strata.hpp"
#include "c_api_test_util.hpp"
#include "strata/version.hpp"

namespace fs = std::filesystem;

namespace {

using strata::capi_test::Status;

fs::path temp_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("strata_c_api_test_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

strata::Config constant(double v) { return strata::Config{{"class_name", "Constant"}, {"config", {{"value", v}}}}; }

// features (4) -> Dense(3, relu, kernel 0.5, bias 0.1) "hidden" -> Dense(2, kernel 1) "scores".
// [1, 2, 3, 4] -> hidden 5.1 each -> scores 15.3 each; [-1, -2, -3, -4] -> 0.
// a (3), b (3) -> Add -> Dense(1, kernel 1) "total": [1, 2, 3] + [10, 20, 30] -> 66.
void make_models() {
  static bool made = false;
  if (made) return;
  strata::initialize();
  using strata::Config;
  {
    strata::Tensor in = strata::Input(strata::Shape{4}, "features");
    strata::Tensor h = (*strata::make_layer("Dense", Config{{"units", 3},
                                                            {"activation", "relu"},
                                                            {"kernel_initializer", constant(0.5)},
                                                            {"bias_initializer", constant(0.1)},
                                                            {"name", "hidden"}}))(in);
    strata::Tensor out = (*strata::make_layer("Dense", Config{{"units", 2},
                                                              {"kernel_initializer", "ones"},
                                                              {"bias_initializer", "zeros"},
                                                              {"name", "scores"}}))(h);
    strata::save_model(strata::Functional({in}, {out}, "dense"), temp_dir() / "dense.json");
  }
  {
    strata::Tensor a = strata::Input(strata::Shape{3}, "a");
    strata::Tensor b = strata::Input(strata::Shape{3}, "b");
    strata::Tensor sum = (*strata::make_layer("Add", Config{{"name", "add"}}))(std::vector<strata::Tensor>{a, b})[0];
    strata::Tensor out = (*strata::make_layer("Dense", Config{{"units", 1},
                                                              {"kernel_initializer", "ones"},
                                                              {"bias_initializer", "zeros"},
                                                              {"name", "total"}}))(sum);
    strata::save_model(strata::Functional({a, b}, {out}, "two_inputs"), temp_dir() / "two_inputs.json");
  }
  {
    // A float16 input: a dtype strata_dtype has no value for.
    strata::Tensor h = strata::Input(strata::Shape{4}, "half", strata::DType::kFloat16);
    strata::Tensor out = (*strata::make_layer("Activation", Config{{"activation", "linear"}, {"name", "same"},
                                                                   {"dtype", "float16"}}))(h);
    strata::save_model(strata::Functional({h}, {out}, "half"), temp_dir() / "half.json");
  }
  {
    // Its output may be its input itself: predict hands back the borrowed input tensor.
    strata::Tensor x = strata::Input(strata::Shape{4}, "x");
    strata::Tensor out = (*strata::make_layer("Activation", Config{{"activation", "linear"}, {"name", "same"}}))(x);
    strata::save_model(strata::Functional({x}, {out}, "identity"), temp_dir() / "identity.json");
  }
  made = true;
}

strata_model* load(const std::string& name) {
  make_models();
  strata_model* model = nullptr;
  Status s(strata_model_load((temp_dir() / name).c_str(), nullptr, &model));
  EXPECT_TRUE(s.ok()) << s.message();
  return model;
}

struct ModelHandle {
  explicit ModelHandle(const std::string& name) : m(load(name)) {}
  ~ModelHandle() { strata_model_release(m); }
  ModelHandle(const ModelHandle&) = delete;
  ModelHandle& operator=(const ModelHandle&) = delete;
  strata_model* m;
};

strata_buffer buffer(strata_dtype dtype, std::vector<int64_t> shape, void* data, size_t bytes) {
  strata_buffer b;
  std::memset(&b, 0, sizeof b);
  b.struct_size = sizeof b;
  b.dtype = dtype;
  b.rank = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) b.shape[i] = shape[i];
  b.data = data;
  b.capacity = b.size = bytes;
  return b;
}

// ---- error codes follow the exception's type --------------------------------------------

// Each derives from a Strata kind but reports another kind() string, as a plugin's own
// error class may.
#define RENAMED(Name, Base)                                                  \
  class Name : public Base {                                                 \
   public:                                                                   \
    explicit Name(const std::string& m) : Base(m) {}                         \
    const char* kind() const noexcept override { return "PluginSpecificError"; } \
  };
RENAMED(RenamedValue, strata::ValueError)
RENAMED(RenamedShape, strata::ShapeError)
RENAMED(RenamedFormat, strata::FormatError)
RENAMED(RenamedIO, strata::IOError)
RENAMED(RenamedPlugin, strata::PluginError)
RENAMED(RenamedBackend, strata::BackendError)
#undef RENAMED
class RenamedUnknown : public strata::UnknownObjectError {
 public:
  RenamedUnknown() : UnknownObjectError({strata::UnknownObject{"layer", "Missing", {}, ""}}) {}
  const char* kind() const noexcept override { return "PluginSpecificError"; }
};
// A plain strata::Error that claims to be a FormatError by its string only.
class ImpostorError : public strata::Error {
 public:
  explicit ImpostorError(const std::string& m) : Error(m) {}
  const char* kind() const noexcept override { return "FormatError"; }
};

// A format whose load throws what the path names.
class ThrowingFormat : public strata::Format {
 public:
  std::string name() const override { return "capi_test_throws"; }
  std::vector<std::string> extensions() const override { return {}; }
  unsigned capabilities() const override { return strata::kLoadModel; }
  bool sniff(const fs::path&) const override { return false; }
  std::shared_ptr<strata::Model> load_model(const fs::path& path, const strata::LoadOptions&) const override {
    const std::string what = path.string();
    if (what == "value") throw RenamedValue("thrown: value");
    if (what == "shape") throw RenamedShape("thrown: shape");
    if (what == "format") throw RenamedFormat("thrown: format");
    if (what == "io") throw RenamedIO("thrown: io");
    if (what == "plugin") throw RenamedPlugin("thrown: plugin");
    if (what == "backend") throw RenamedBackend("thrown: backend");
    if (what == "unknown") throw RenamedUnknown();
    if (what == "impostor") throw ImpostorError("thrown: impostor");
    if (what == "std") throw std::runtime_error("thrown: std");
    if (what == "bad_alloc") throw std::bad_alloc();
    throw 42;  // not an exception class at all
  }
};

void register_throwing_format() {
  static const bool done = [] {
    strata::initialize();
    strata::Registrar registrar(strata::Registry::global(), "c-api-test");
    registrar.add<strata::ObjectKind::kFormat>("capi_test_throws", [] { return std::make_shared<ThrowingFormat>(); });
    registrar.commit();
    return true;
  }();
  (void)done;
}

struct ThrowCase {
  const char* what;
  strata_code code;
  const char* message_part;
};

// Names the case in test listings (gtest would print the bytes).
void PrintTo(const ThrowCase& c, std::ostream* os) { *os << c.what; }

class CApiErrors : public ::testing::TestWithParam<ThrowCase> {};

TEST_P(CApiErrors, CodeFollowsTheExceptionTypeAndTheModelStaysUnset) {
  register_throwing_format();
  const ThrowCase& c = GetParam();
  strata_model* sentinel = reinterpret_cast<strata_model*>(0x1);
  strata_model* model = sentinel;
  Status s(strata_model_load(c.what, "capi_test_throws", &model));
  EXPECT_EQ(s.code(), c.code) << s.message();
  EXPECT_NE(s.message().find(c.message_part), std::string::npos) << s.message();
  EXPECT_EQ(model, sentinel) << "an out-parameter was written by a failed call";
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, CApiErrors,
    ::testing::Values(ThrowCase{"value", STRATA_VALUE_ERROR, "thrown: value"},
                      ThrowCase{"shape", STRATA_SHAPE_ERROR, "thrown: shape"},
                      ThrowCase{"format", STRATA_FORMAT_ERROR, "thrown: format"},
                      ThrowCase{"io", STRATA_IO_ERROR, "thrown: io"},
                      ThrowCase{"plugin", STRATA_PLUGIN_ERROR, "thrown: plugin"},
                      ThrowCase{"backend", STRATA_BACKEND_ERROR, "thrown: backend"},
                      ThrowCase{"unknown", STRATA_UNKNOWN_OBJECT, "Missing"},
                      ThrowCase{"impostor", STRATA_ERROR, "thrown: impostor"},
                      // Foreign exceptions from a plugin's format become PluginErrors naming
                      // the provider (the runtime's Format guard, core/foreign_exception.hpp).
                      ThrowCase{"std", STRATA_PLUGIN_ERROR, "thrown: std"},
                      ThrowCase{"bad_alloc", STRATA_ERROR, "out of memory"},
                      ThrowCase{"int", STRATA_PLUGIN_ERROR, "'c-api-test'"}),
    [](const ::testing::TestParamInfo<ThrowCase>& info) { return std::string(info.param.what); });

// ---- the versioned table, versions, log level (no plugin needed) --------------------------

TEST(CApi, GetApiGivesEveryVersionUpToTheRuntimesAndTheSameTable) {
  const strata_api* v1 = nullptr;
  const strata_api* current = nullptr;
  ASSERT_C_OK(strata_get_api(1, &v1));
  ASSERT_C_OK(strata_get_api(STRATA_C_API_VERSION, &current));
  ASSERT_NE(v1, nullptr);
  EXPECT_EQ(v1, current);
  // Each entry is the exported function of the same name.
  EXPECT_EQ(current->status_code, &strata_status_code);
  EXPECT_EQ(current->model_predict, &strata_model_predict);
  EXPECT_EQ(current->convert, &strata_convert);
  EXPECT_EQ(current->get_versions, &strata_get_versions);
  EXPECT_EQ(current->model_output_shapes, &strata_model_output_shapes);
}

TEST(CApi, GetApiRefusesANewerVersionThanTheRuntimesAndLeavesApiUnset) {
  const strata_api* sentinel = reinterpret_cast<const strata_api*>(0x1);
  const strata_api* api = sentinel;
  Status newer(strata_get_api(STRATA_C_API_VERSION + 1, &api));
  EXPECT_EQ(newer.code(), STRATA_INVALID_ARGUMENT);
  const std::string asked = "version " + std::to_string(STRATA_C_API_VERSION + 1);
  const std::string range = "versions 1 to " + std::to_string(STRATA_C_API_VERSION);
  EXPECT_NE(newer.message().find(asked), std::string::npos) << newer.message();
  EXPECT_NE(newer.message().find(range), std::string::npos) << newer.message();
  EXPECT_NE(newer.message().find("newer strata/c_api.h"), std::string::npos) << newer.message();
  EXPECT_EQ(api, sentinel);

  Status zero(strata_get_api(0, &api));
  EXPECT_EQ(zero.code(), STRATA_INVALID_ARGUMENT);
  EXPECT_NE(zero.message().find("versions start at 1"), std::string::npos) << zero.message();
  EXPECT_EQ(api, sentinel);
}

TEST(CApi, VersionsAreTheRuntimesAndThePluginAbis) {
  strata_versions v;
  std::memset(&v, 0, sizeof v);
  v.struct_size = sizeof v;
  ASSERT_C_OK(strata_get_versions(&v));
  EXPECT_EQ(v.struct_size, sizeof v);
  EXPECT_EQ(v.major, static_cast<uint32_t>(STRATA_VERSION_MAJOR));
  EXPECT_EQ(v.minor, static_cast<uint32_t>(STRATA_VERSION_MINOR));
  EXPECT_EQ(v.patch, static_cast<uint32_t>(STRATA_VERSION_PATCH));
  EXPECT_STREQ(v.version, STRATA_VERSION_STRING);
  EXPECT_STREQ(v.version, strata_version());
  EXPECT_EQ(v.plugin_abi_major, static_cast<uint32_t>(STRATA_PLUGIN_ABI_MAJOR));
  EXPECT_EQ(v.plugin_abi_minor, static_cast<uint32_t>(STRATA_PLUGIN_ABI_MINOR));
  EXPECT_EQ(v.c_api_version, static_cast<uint32_t>(STRATA_C_API_VERSION));
  EXPECT_STREQ(v.toolchain_tag, STRATA_TOOLCHAIN_TAG);
}

TEST(CApi, AStructSizeOfZeroOrBeyondTheRuntimesIsRefusedAndNothingWritten) {
  strata_versions v;
  std::memset(&v, 0, sizeof v);
  Status zero(strata_get_versions(&v));
  EXPECT_EQ(zero.code(), STRATA_INVALID_ARGUMENT);
  EXPECT_NE(zero.message().find("strata_versions.struct_size is 0"), std::string::npos) << zero.message();
  EXPECT_EQ(v.version, nullptr);

  // A host built against a newer header whose struct has grown.
  struct Bigger {
    strata_versions v;
    uint64_t appended;
  } big;
  std::memset(&big, 0, sizeof big);
  big.v.struct_size = sizeof big;
  Status newer(strata_get_versions(&big.v));
  EXPECT_EQ(newer.code(), STRATA_INVALID_ARGUMENT);
  EXPECT_NE(newer.message().find("another strata/c_api.h"), std::string::npos) << newer.message();
  EXPECT_EQ(big.v.version, nullptr);
}

TEST(CApi, LogLevelIsTheLoggersAndAnUnknownLevelIsRefused) {
  const strata::LogLevel before = strata::log_level();
  EXPECT_C_OK(strata_set_log_level(STRATA_LOG_DEBUG));
  EXPECT_EQ(strata::log_level(), strata::LogLevel::kDebug);
  strata_log_level got = STRATA_LOG_OFF;
  EXPECT_C_OK(strata_get_log_level(&got));
  EXPECT_EQ(got, STRATA_LOG_DEBUG);

  strata::set_log_level(strata::LogLevel::kError);
  EXPECT_C_OK(strata_get_log_level(&got));
  EXPECT_EQ(got, STRATA_LOG_ERROR);

  Status bad(strata_set_log_level(static_cast<strata_log_level>(42)));
  EXPECT_EQ(bad.code(), STRATA_INVALID_ARGUMENT);
  EXPECT_NE(bad.message().find("42"), std::string::npos) << bad.message();
  EXPECT_EQ(strata::log_level(), strata::LogLevel::kError);
  strata::set_log_level(before);
}

TEST(CApi, NullArgumentsAreRefused) {
  Status a(strata_get_api(1, nullptr));
  EXPECT_EQ(a.code(), STRATA_INVALID_ARGUMENT);
  Status b(strata_get_versions(nullptr));
  EXPECT_EQ(b.code(), STRATA_INVALID_ARGUMENT);
  Status c(strata_model_load(nullptr, nullptr, nullptr));
  EXPECT_EQ(c.code(), STRATA_INVALID_ARGUMENT);
  Status d(strata_get_plugins(nullptr));
  EXPECT_EQ(d.code(), STRATA_INVALID_ARGUMENT);
}

// ---- plugins and devices -----------------------------------------------------------------

TEST(CApiLists, PluginsAreListedWithTheirFieldsIncludingARefusedOne) {
  const fs::path bogus = temp_dir() / "strata-not-a-plugin.so";
  {
    std::FILE* f = std::fopen(bogus.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("not an ELF file\n", f);
    std::fclose(f);
  }
  EXPECT_C_OK(strata_init(nullptr, 0));  // the search path first: a refused file stops strata_init
  const char* paths[] = {bogus.c_str()};
  Status refused(strata_init(paths, 1));
  EXPECT_EQ(refused.code(), STRATA_PLUGIN_ERROR) << refused.message();

  strata_plugin_list* list = nullptr;
  ASSERT_C_OK(strata_get_plugins(&list));
  size_t n = 0;
  EXPECT_C_OK(strata_plugin_list_count(list, &n));
  bool saw_json = false, saw_bogus = false;
  for (size_t i = 0; i < n; ++i) {
    strata_plugin_info p;
    std::memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    ASSERT_C_OK(strata_plugin_list_get(list, i, &p));
    if (std::string(p.name) == "format-json" && p.state == STRATA_PLUGIN_LOADED) {
      saw_json = true;
      EXPECT_STREQ(p.version, "0.1.0");
      EXPECT_EQ(fs::path(p.path).extension(), ".so");
      EXPECT_TRUE(fs::exists(p.path)) << p.path;
      EXPECT_STREQ(p.reason, "");
      EXPECT_STREQ(p.status, "loaded");
      EXPECT_EQ(p.usable, 1);
      EXPECT_EQ(p.abi_major, static_cast<uint32_t>(STRATA_PLUGIN_ABI_MAJOR));
    }
    if (fs::path(p.path) == bogus) {
      saw_bogus = true;
      EXPECT_EQ(p.state, STRATA_PLUGIN_REFUSED);
      EXPECT_STRNE(p.reason, "");
      EXPECT_EQ(std::string(p.status).rfind("refused", 0), 0u) << p.status;
    }
  }
  EXPECT_TRUE(saw_json);
  EXPECT_TRUE(saw_bogus);

  strata_plugin_info untouched;
  std::memset(&untouched, 0, sizeof untouched);
  untouched.struct_size = sizeof untouched;
  Status out_of_range(strata_plugin_list_get(list, n, &untouched));
  EXPECT_EQ(out_of_range.code(), STRATA_INVALID_ARGUMENT);
  EXPECT_NE(out_of_range.message().find("out of range"), std::string::npos) << out_of_range.message();
  EXPECT_EQ(untouched.name, nullptr);
  strata_plugin_list_release(list);
}

TEST(CApiLists, APluginWhoseProbeSaysNoIsListedAsNotUsableWithTheReason) {
  EXPECT_C_OK(strata_init(nullptr, 0));
  const char* paths[] = {STRATA_TEST_UNUSABLE_PLUGIN};
  EXPECT_C_OK(strata_init(paths, 1));
  strata_plugin_list* list = nullptr;
  ASSERT_C_OK(strata_get_plugins(&list));
  size_t n = 0;
  EXPECT_C_OK(strata_plugin_list_count(list, &n));
  bool seen = false;
  for (size_t i = 0; i < n; ++i) {
    strata_plugin_info p;
    std::memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    ASSERT_C_OK(strata_plugin_list_get(list, i, &p));
    if (std::string(p.name) != "test-unusable") continue;
    seen = true;
    EXPECT_EQ(p.state, STRATA_PLUGIN_LOADED);
    EXPECT_EQ(p.usable, 0);
    EXPECT_STREQ(p.reason, "no test hardware (simulated)");  // the test plugin's probe
    EXPECT_STREQ(p.version, "1.2.3");
    EXPECT_STREQ(p.description, "test plugin for the loader tests");
  }
  EXPECT_TRUE(seen);
  strata_plugin_list_release(list);
}

// A backend without its driver: no device, a reason.
class DriverlessBackend : public strata::Backend {
 public:
  std::string_view device_type() const override { return "capidriverless"; }
  int device_count() const override { return 0; }
  strata::BackendDevice& device(int) override { throw strata::BackendError("no device"); }
  std::string unusable_reason() const override { return "no capidriverless driver (simulated)"; }
};

TEST(CApiLists, DevicesStartWithCpuAndListABackendThatCannotRunOnceWithItsReason) {
  EXPECT_C_OK(strata_init(nullptr, 0));
  static const bool registered = [] {
    strata::Registrar registrar(strata::Registry::global(), "c-api-test-backend");
    registrar.add<strata::ObjectKind::kBackend>("capidriverless", [] { return std::make_shared<DriverlessBackend>(); });
    registrar.commit();
    return true;
  }();
  (void)registered;
  strata_device_list* list = nullptr;
  ASSERT_C_OK(strata_get_devices(&list));
  size_t n = 0;
  EXPECT_C_OK(strata_device_list_count(list, &n));
  ASSERT_GE(n, 1u);
  std::vector<std::string> usable;
  int driverless = 0;
  for (size_t i = 0; i < n; ++i) {
    strata_device_info d;
    std::memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    ASSERT_C_OK(strata_device_list_get(list, i, &d));
    if (i == 0) {
      EXPECT_STREQ(d.name, "cpu:0");
      EXPECT_STREQ(d.type, "cpu");
      EXPECT_EQ(d.index, 0);
    }
    if (d.usable) {
      usable.push_back(d.name);
      EXPECT_STREQ(d.reason, "");
      EXPECT_STRNE(d.description, "") << d.name;
    } else {
      EXPECT_EQ(d.index, -1);
      EXPECT_STREQ(d.name, d.type);
      EXPECT_STRNE(d.reason, "") << d.name;
      EXPECT_STREQ(d.description, "");
    }
    if (std::string(d.type) == "capidriverless") {
      ++driverless;
      EXPECT_EQ(d.usable, 0);
      EXPECT_NE(std::string(d.reason).find("no capidriverless driver (simulated)"), std::string::npos) << d.reason;
    }
  }
  EXPECT_EQ(driverless, 1);
  std::vector<std::string> expected;
  for (const auto& dev : strata::available_devices()) expected.push_back(dev.to_string());
  EXPECT_EQ(usable, expected);
  strata_device_list_release(list);
}

// ---- models --------------------------------------------------------------------------------

TEST(CApiModels, PredictGivesTheHandComputedValues) {
  ModelHandle model("dense.json");
  ASSERT_NE(model.m, nullptr);
  float x[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  float y[4] = {-7, -7, -7, -7};
  strata_buffer in = buffer(STRATA_FLOAT32, {2, 4}, x, sizeof x);
  strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y);
  out.size = 0;
  ASSERT_C_OK(strata_model_predict(model.m, &in, 1, &out, 1));
  EXPECT_EQ(out.rank, 2);
  EXPECT_EQ(out.shape[0], 2);
  EXPECT_EQ(out.shape[1], 2);
  EXPECT_EQ(out.size, sizeof y);
  const float want[4] = {15.3f, 15.3f, 0.0f, 0.0f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], want[i], 1e-6 + 1e-5 * want[i]) << i;
}

// Issue 22: predict reads the caller's input memory in place (no copy) for the length of
// the call. Outputs are bitwise the C++ predict's; the inputs are not written; changing an
// input buffer after a call changes neither that call's outputs nor what a later call of
// other inputs gives; a later call sees the new values.
TEST(CApiModels, PredictReadsTheInputsInPlaceOnlyDuringTheCall) {
  ModelHandle model("dense.json");
  ASSERT_NE(model.m, nullptr);
  const auto cpp = strata::load_model(temp_dir() / "dense.json");
  std::vector<float> x = {0.25f, -1.5f, 3.0f, 0.125f, 7.0f, -2.0f, 0.5f, 1.0f};
  const std::vector<float> x0 = x;
  const auto cpp_predict = [&](const std::vector<float>& v) {
    return cpp->predict(strata::Tensor::from_vector(v, strata::Shape{2, 4}), 2).to_vector<float>();
  };
  const std::vector<float> want0 = cpp_predict(x0);
  float y[4] = {-7, -7, -7, -7};
  strata_buffer in = buffer(STRATA_FLOAT32, {2, 4}, x.data(), x.size() * sizeof(float));
  strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y);
  ASSERT_C_OK(strata_model_predict(model.m, &in, 1, &out, 1));
  EXPECT_EQ(x, x0) << "predict wrote into its input";
  EXPECT_EQ(std::memcmp(y, want0.data(), sizeof y), 0) << "the C API's outputs differ from the C++ predict's";

  for (auto& v : x) v = -v * 3.0f;  // the caller reuses its buffer
  const std::vector<float> want1 = cpp_predict(x);
  EXPECT_EQ(std::memcmp(y, want0.data(), sizeof y), 0) << "an earlier call's outputs changed with its input";
  ASSERT_C_OK(strata_model_predict(model.m, &in, 1, &out, 1));
  EXPECT_EQ(std::memcmp(y, want1.data(), sizeof y), 0) << "a later call did not read the new input";

  // Another call, from another buffer: the first buffer changing afterwards does not matter.
  std::vector<float> other = {1, 1, 1, 1, 2, 2, 2, 2};
  float z[4] = {};
  strata_buffer in2 = buffer(STRATA_FLOAT32, {2, 4}, other.data(), other.size() * sizeof(float));
  strata_buffer out2 = buffer(STRATA_FLOAT32, {}, z, sizeof z);
  ASSERT_C_OK(strata_model_predict(model.m, &in2, 1, &out2, 1));
  for (auto& v : x) v = 1e6f;
  EXPECT_EQ(std::memcmp(z, cpp_predict(other).data(), sizeof z), 0);
}

// A model whose output is its input: the output is copied out of the borrowed input during
// the call; after it, the caller's buffers are independent.
TEST(CApiModels, AnOutputThatIsTheInputIsCopiedOutDuringTheCall) {
  ModelHandle model("identity.json");
  ASSERT_NE(model.m, nullptr);
  float x[4] = {1.5f, -2.0f, 0.0f, 4.25f};
  float y[4] = {-7, -7, -7, -7};
  strata_buffer in = buffer(STRATA_FLOAT32, {1, 4}, x, sizeof x);
  strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y);
  ASSERT_C_OK(strata_model_predict(model.m, &in, 1, &out, 1));
  EXPECT_EQ(std::memcmp(x, y, sizeof x), 0);
  x[0] = 99.0f;
  EXPECT_EQ(y[0], 1.5f);
  ASSERT_C_OK(strata_model_predict(model.m, &in, 1, &out, 1));
  EXPECT_EQ(y[0], 99.0f);
}

TEST(CApiModels, Float64InputIsConvertedForAFloat32Input) {
  ModelHandle model("dense.json");
  ASSERT_NE(model.m, nullptr);
  double x[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  float y[4] = {-7, -7, -7, -7};
  strata_buffer in = buffer(STRATA_FLOAT64, {2, 4}, x, sizeof x);
  strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y);
  ASSERT_C_OK(strata_model_predict(model.m, &in, 1, &out, 1));
  const float want[4] = {15.3f, 15.3f, 0.0f, 0.0f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], want[i], 1e-6 + 1e-5 * want[i]) << i;
}

// One bad input buffer: the call fails with `code`, the message names the input and
// contains `part`, and the output buffer is untouched.
void expect_refused(strata_model* model, strata_buffer* inputs, size_t n_inputs, strata_code code,
                    const std::string& part) {
  float y[2] = {-7, -7};
  strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y);
  out.size = 12345;
  out.rank = 5;
  Status s(strata_model_predict(model, inputs, n_inputs, &out, 1));
  EXPECT_EQ(s.code(), code) << s.message();
  EXPECT_NE(s.message().find(part), std::string::npos) << "message: " << s.message() << "\nexpected: " << part;
  EXPECT_EQ(y[0], -7);
  EXPECT_EQ(out.size, 12345u);
  EXPECT_EQ(out.rank, 5);
}

TEST(CApiModels, InputBuffersAreCheckedAndErrorsNameTheInput) {
  ModelHandle model("two_inputs.json");
  ASSERT_NE(model.m, nullptr);
  float a[3] = {1, 2, 3}, b[3] = {10, 20, 30};
  int32_t bi[3] = {10, 20, 30};
  auto good = [&] {
    return std::vector<strata_buffer>{buffer(STRATA_FLOAT32, {1, 3}, a, sizeof a),
                                      buffer(STRATA_FLOAT32, {1, 3}, b, sizeof b)};
  };
  {
    float y[1] = {0};
    auto in = good();
    strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y);
    ASSERT_C_OK(strata_model_predict(model.m, in.data(), 2, &out, 1));
    EXPECT_NEAR(y[0], 66.0f, 1e-6 + 1e-5 * 66);
  }
  {
    auto in = good();
    in[1].struct_size = 0;
    expect_refused(model.m, in.data(), 2, STRATA_INVALID_ARGUMENT, "input 1 'b': strata_buffer.struct_size is 0");
  }
  {
    auto in = good();
    in[1].size = sizeof b - 4;
    expect_refused(model.m, in.data(), 2, STRATA_INVALID_ARGUMENT,
                   "input 1 'b': size is 8 bytes but a float32 (1, 3) value takes 12");
  }
  {
    auto in = good();
    in[1].capacity = sizeof b - 4;
    expect_refused(model.m, in.data(), 2, STRATA_INVALID_ARGUMENT,
                   "input 1 'b': size (12 bytes) is larger than capacity (8 bytes)");
  }
  {
    auto in = good();
    in[0].data = nullptr;
    expect_refused(model.m, in.data(), 2, STRATA_INVALID_ARGUMENT, "input 0 'a': data is NULL");
  }
  {
    auto in = good();
    in[0].rank = 9;
    expect_refused(model.m, in.data(), 2, STRATA_INVALID_ARGUMENT, "input 0 'a': rank 9 is out of range");
  }
  {
    auto in = good();
    in[0].shape[1] = -3;
    expect_refused(model.m, in.data(), 2, STRATA_INVALID_ARGUMENT, "input 0 'a': dimension 1 is -3");
  }
  {
    auto in = good();
    in[1] = buffer(STRATA_INT32, {1, 3}, bi, sizeof bi);
    expect_refused(model.m, in.data(), 2, STRATA_VALUE_ERROR, "input 1 'b': expected float32 (None, 3), got int32 (1, 3)");
  }
  {
    float b4[4] = {1, 2, 3, 4};
    auto in = good();
    in[1] = buffer(STRATA_FLOAT32, {1, 4}, b4, sizeof b4);
    expect_refused(model.m, in.data(), 2, STRATA_SHAPE_ERROR, "input 1 'b': expected float32 (None, 3), got float32 (1, 4)");
  }
  {
    auto in = good();
    in[1].dtype = static_cast<strata_dtype>(77);
    expect_refused(model.m, in.data(), 2, STRATA_INVALID_ARGUMENT, "input 1 'b': 77 is not a strata_dtype");
  }
  {
    auto in = good();
    expect_refused(model.m, in.data(), 1, STRATA_INVALID_ARGUMENT, "the model takes 2 input(s) but 1 were given");
  }
}

TEST(CApiModels, OutputBuffersAreCheckedBeforeAnyIsWritten) {
  ModelHandle model("dense.json");
  ASSERT_NE(model.m, nullptr);
  float x[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  float y[4] = {-7, -7, -7, -7};
  strata_buffer in = buffer(STRATA_FLOAT32, {2, 4}, x, sizeof x);
  {
    strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y - 1);
    Status s(strata_model_predict(model.m, &in, 1, &out, 1));
    EXPECT_EQ(s.code(), STRATA_SHAPE_ERROR);
    EXPECT_NE(s.message().find("output 0 'scores' needs 16 bytes (float32 (2, 2)) but its buffer holds 15"),
              std::string::npos)
        << s.message();
    EXPECT_EQ(y[0], -7);
    EXPECT_EQ(out.rank, 0);
  }
  {
    strata_buffer out = buffer(STRATA_FLOAT64, {}, y, sizeof y);
    Status s(strata_model_predict(model.m, &in, 1, &out, 1));
    EXPECT_EQ(s.code(), STRATA_VALUE_ERROR);
    EXPECT_NE(s.message().find("output 0 'scores' is float32 but its buffer is float64"), std::string::npos)
        << s.message();
    EXPECT_EQ(y[0], -7);
  }
  {
    strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y);
    out.struct_size = sizeof out + 8;
    Status s(strata_model_predict(model.m, &in, 1, &out, 1));
    EXPECT_EQ(s.code(), STRATA_INVALID_ARGUMENT);
    EXPECT_NE(s.message().find("output 0 'scores': strata_buffer.struct_size is"), std::string::npos)
        << s.message();
    EXPECT_EQ(y[0], -7);
  }
}

TEST(CApiModels, InfoDescribesInputsAndOutputsAndWritesNothingOnFailure) {
  ModelHandle model("dense.json");
  ASSERT_NE(model.m, nullptr);
  const char* name = nullptr;
  strata_dtype dtype = STRATA_BOOL;
  int64_t shape[STRATA_MAX_RANK] = {0};
  int32_t rank = -1;
  ASSERT_C_OK(strata_model_input_info(model.m, 0, &name, &dtype, shape, &rank));
  EXPECT_STREQ(name, "features");
  EXPECT_EQ(dtype, STRATA_FLOAT32);
  ASSERT_EQ(rank, 2);
  EXPECT_EQ(shape[0], -1);
  EXPECT_EQ(shape[1], 4);
  ASSERT_C_OK(strata_model_output_info(model.m, 0, &name, &dtype, shape, &rank));
  EXPECT_STREQ(name, "scores");
  EXPECT_EQ(shape[1], 2);

  const char* name2 = "untouched";
  strata_dtype dtype2 = STRATA_BOOL;
  int64_t shape2[STRATA_MAX_RANK] = {99};
  int32_t rank2 = 99;
  Status s(strata_model_output_info(model.m, 1, &name2, &dtype2, shape2, &rank2));
  EXPECT_EQ(s.code(), STRATA_INVALID_ARGUMENT);
  EXPECT_NE(s.message().find("the model has 1 output(s), so there is no output 1"), std::string::npos) << s.message();
  EXPECT_STREQ(name2, "untouched");
  EXPECT_EQ(dtype2, STRATA_BOOL);
  EXPECT_EQ(shape2[0], 99);
  EXPECT_EQ(rank2, 99);
}

TEST(CApiModels, InfoWritesNothingWhenTheDtypeHasNoCValue) {
  ModelHandle model("half.json");
  ASSERT_NE(model.m, nullptr);
  const char* name = "untouched";
  strata_dtype dtype = STRATA_BOOL;
  int64_t shape[STRATA_MAX_RANK] = {99};
  int32_t rank = 99;
  Status s(strata_model_input_info(model.m, 0, &name, &dtype, shape, &rank));
  EXPECT_EQ(s.code(), STRATA_VALUE_ERROR);
  EXPECT_NE(s.message().find("input 0 'half' is float16, which has no strata_dtype"), std::string::npos)
      << s.message();
  EXPECT_STREQ(name, "untouched");
  EXPECT_EQ(dtype, STRATA_BOOL);
  EXPECT_EQ(shape[0], 99);
  EXPECT_EQ(rank, 99);
}

TEST(CApiModels, OutputShapesWithoutRunning) {
  ModelHandle model("dense.json");
  ASSERT_NE(model.m, nullptr);
  strata_shape in{2, {5, 4}};
  strata_shape out{};
  ASSERT_C_OK(strata_model_output_shapes(model.m, &in, 1, &out, 1));
  ASSERT_EQ(out.rank, 2);
  EXPECT_EQ(out.dims[0], 5);
  EXPECT_EQ(out.dims[1], 2);

  strata_shape unknown_batch{2, {-1, 4}};
  ASSERT_C_OK(strata_model_output_shapes(model.m, &unknown_batch, 1, &out, 1));
  ASSERT_EQ(out.rank, 2);
  EXPECT_EQ(out.dims[0], -1);
  EXPECT_EQ(out.dims[1], 2);

  strata_shape wrong{2, {5, 3}};
  strata_shape untouched{7, {7}};
  Status s(strata_model_output_shapes(model.m, &wrong, 1, &untouched, 1));
  EXPECT_EQ(s.code(), STRATA_SHAPE_ERROR);
  EXPECT_NE(s.message().find("input 0 'features': expected float32 (None, 4), got shape (5, 3)"), std::string::npos)
      << s.message();
  EXPECT_EQ(untouched.rank, 7);

  Status few(strata_model_output_shapes(model.m, &in, 1, &untouched, 0));
  EXPECT_EQ(few.code(), STRATA_INVALID_ARGUMENT);
  EXPECT_EQ(untouched.rank, 7);
}

TEST(CApiModels, OutputShapesOfATwoInputModelNameTheInputThatDoesNotFit) {
  ModelHandle model("two_inputs.json");
  ASSERT_NE(model.m, nullptr);
  strata_shape in[2] = {{2, {5, 3}}, {2, {5, 3}}};
  strata_shape out{};
  ASSERT_C_OK(strata_model_output_shapes(model.m, in, 2, &out, 1));
  ASSERT_EQ(out.rank, 2);
  EXPECT_EQ(out.dims[0], 5);
  EXPECT_EQ(out.dims[1], 1);

  in[1] = strata_shape{3, {5, 3, 1}};
  Status s(strata_model_output_shapes(model.m, in, 2, &out, 1));
  EXPECT_EQ(s.code(), STRATA_SHAPE_ERROR);
  EXPECT_NE(s.message().find("input 1 'b': expected float32 (None, 3), got shape (5, 3, 1)"), std::string::npos)
      << s.message();
}

TEST(CApiModels, PredictAndOutputShapesRunConcurrentlyOnOneModel) {
  ModelHandle model("dense.json");
  ASSERT_NE(model.m, nullptr);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 25; ++k) {
        float x[4] = {1, 2, 3, 4};
        float y[2] = {0, 0};
        strata_buffer in = buffer(STRATA_FLOAT32, {1, 4}, x, sizeof x);
        strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y);
        strata_status* s = strata_model_predict(model.m, &in, 1, &out, 1);
        if (s || std::abs(y[0] - 15.3f) > 1e-4f || std::abs(y[1] - 15.3f) > 1e-4f) ++wrong;
        strata_status_release(s);
        strata_shape shape_in{2, {t + 1, 4}};
        strata_shape shape_out{};
        s = strata_model_output_shapes(model.m, &shape_in, 1, &shape_out, 1);
        if (s || shape_out.rank != 2 || shape_out.dims[0] != t + 1 || shape_out.dims[1] != 2) ++wrong;
        strata_status_release(s);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(CApiModels, TheTableRunsTheSameModel) {
  make_models();
  const strata_api* api = nullptr;
  ASSERT_C_OK(strata_get_api(1, &api));
  strata_model* model = nullptr;
  ASSERT_C_OK(api->model_load((temp_dir() / "dense.json").c_str(), nullptr, &model));
  float x[4] = {1, 2, 3, 4};
  float y[2] = {0, 0};
  strata_buffer in = buffer(STRATA_FLOAT32, {1, 4}, x, sizeof x);
  strata_buffer out = buffer(STRATA_FLOAT32, {}, y, sizeof y);
  EXPECT_C_OK(api->model_predict(model, &in, 1, &out, 1));
  EXPECT_NEAR(y[0], 15.3f, 1e-6 + 1e-5 * 15.3);
  EXPECT_NEAR(y[1], 15.3f, 1e-6 + 1e-5 * 15.3);
  api->model_release(model);
}

}  // namespace
