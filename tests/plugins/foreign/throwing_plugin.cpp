// The test plugin "test-throwing": plugin code that throws what plugin code should not
// (std::out_of_range, nlohmann's out_of_range from `at`, an int, a type of its own) from
// every entry point the runtime calls, chosen by the input, so that
// foreign_exception_test.cpp can check that hosts, the CLI and the C API only ever see a
// strata::Error naming this plugin.
//
//  - layer "ThrowingLayer": config {"throw": KIND, "in": "from_config" | "build" | "call" |
//    "get_config"}; KIND "json" reads the missing key "units" with Config::at, the way a
//    plugin reading an untrusted file by hand would.
//  - activation "ThrowingActivation", initializer "ThrowingInitializer": the factory throws
//    config["throw"]; optimizer "ThrowingOptimizer", loss "ThrowingLoss", metric
//    "ThrowingMetric": likewise, or, with config["in"], the method it names (update_step,
//    build_slots; call; update_state, result).
//  - device type "throwdev" (host memory) with a Relu:throwdev:float32 kernel that throws
//    by the value of the input's first element: 1 out_of_range, 2 int, 3 own type, 4
//    out_of_range inside an OpenMP parallel region, 5 a strata::ValueError inside one;
//    other values compute Relu (in a parallel region).
//  - device type "throwcount": the backend's device_count throws std::out_of_range.
//  - format "throwing" (extension ".throwing", sniffs every .throwing file): a method
//    throws when the file name is "<method>-<KIND>.throwing" (sniff, describe, load_model,
//    save_model); otherwise it fails with a ValueError.
//  - a probe that throws std::out_of_range when STRATA_TEST_PROBE_THROWS is set.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "strata/activations.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/initializers.hpp"
#include "strata/layer.hpp"
#include "strata/losses.hpp"
#include "strata/metrics.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/optimizer.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/kernel_util.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

using strata::Config;
using strata::Tensor;

// A type of the plugin's own, unrelated to std::exception.
struct PluginOwnError {
  int code;
};

[[noreturn]] void throw_kind(const std::string& kind) {
  if (kind == "json") {
    (void)Config::object().at("units");  // nlohmann's out_of_range: key 'units' not found
  } else if (kind == "int") {
    throw 42;
  } else if (kind == "own") {
    throw PluginOwnError{7};
  } else if (kind == "strata") {
    STRATA_THROW(ValueError, "test-throwing reports a ValueError as it should");
  }
  throw std::out_of_range("test-throwing read past the end (" + kind + ")");
}

std::string string_key(const Config& c, const char* key) {
  return c.is_object() && c.contains(key) && c[key].is_string() ? c[key].get<std::string>() : std::string();
}

class ThrowingLayer final : public strata::Layer {
 public:
  explicit ThrowingLayer(const Config& c)
      : Layer("ThrowingLayer", c), kind_(string_key(c, "throw")), in_(string_key(c, "in")) {
    if (in_ == "from_config") throw_kind(kind_);
  }
  void build(const std::vector<strata::Shape>&) override {
    if (in_ == "build") throw_kind(kind_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const strata::CallContext&) const override {
    if (in_ == "call") throw_kind(kind_);
    return {inputs.at(0)};
  }
  Config get_config() const override {
    if (in_ == "get_config") throw_kind(kind_);
    Config c = Layer::get_config();
    c["throw"] = kind_;
    c["in"] = in_;
    return c;
  }

 private:
  std::string kind_, in_;
};

// Host memory under its own device type.
class HostDevice final : public strata::BackendDevice {
 public:
  explicit HostDevice(const char* type) : type_(type) {}
  strata::Device device() const override { return strata::Device(type_, 0); }
  std::string description() const override { return "test-throwing host memory"; }
  bool host_accessible() const override { return true; }
  void* allocate(std::size_t bytes) override { return std::malloc(bytes ? bytes : 1); }
  void deallocate(void* p, std::size_t) noexcept override { std::free(p); }
  void copy_from_host(void* d, const void* s, std::size_t n) override { std::memcpy(d, s, n); }
  void copy_to_host(void* d, const void* s, std::size_t n) override { std::memcpy(d, s, n); }
  void copy_within(void* d, const void* s, std::size_t n) override { std::memmove(d, s, n); }
  void synchronize() override {}

 private:
  const char* type_;
};

class HostBackend final : public strata::Backend {
 public:
  HostBackend(const char* type, bool count_throws) : type_(type), count_throws_(count_throws), device_(type) {}
  std::string_view device_type() const override { return type_; }
  int device_count() const override {
    if (count_throws_) throw std::out_of_range("test-throwing cannot count its devices");
    return 1;
  }
  strata::BackendDevice& device(int) override { return device_; }

 private:
  const char* type_;
  bool count_throws_;
  HostDevice device_;
};

// Relu on two threads (when OpenMP is on), throwing by the first input value as the header
// says. The parallel region catches with RegionErrors, as every region in a backend must.
void relu_kernel(strata::KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.allocate_output(0);
  const auto* in = static_cast<const float*>(x.data());
  auto* out = static_cast<float*>(y.mutable_data());
  const auto n = static_cast<std::int64_t>(x.num_elements());
  const float mode = n > 0 ? in[0] : 0.0f;
  if (mode == 1.0f) throw_kind("out_of_range");
  if (mode == 2.0f) throw_kind("int");
  if (mode == 3.0f) throw_kind("own");
  strata::kernel_util::RegionErrors errors;
#pragma omp parallel num_threads(2)
  {
    errors.run([&] {
#ifdef _OPENMP
      const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
      const std::int64_t t = 0, nt = 1;
#endif
      if (mode == 4.0f) throw_kind("out_of_range");
      if (mode == 5.0f) throw_kind("strata");
      for (std::int64_t i = n * t / nt; i < n * (t + 1) / nt; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
    });
  }
  errors.rethrow_if_any();
}

// Throws by the file name ("<method>-<KIND>.throwing"); see the header.
class ThrowingFormat final : public strata::Format {
 public:
  std::string name() const override { return "throwing"; }
  std::vector<std::string> extensions() const override { return {".throwing"}; }
  unsigned capabilities() const override { return strata::kSaveModel | strata::kLoadModel; }
  bool sniff(const std::filesystem::path& path) const override {
    maybe_throw("sniff", path);
    return path.extension() == ".throwing";
  }
  void save_model(const strata::Model&, const std::filesystem::path& path, const strata::SaveOptions&) const override {
    maybe_throw("save_model", path);
    STRATA_THROW(ValueError, "test-throwing saves nothing");
  }
  std::shared_ptr<strata::Model> load_model(const std::filesystem::path& path,
                                            const strata::LoadOptions&) const override {
    maybe_throw("load_model", path);
    STRATA_THROW(ValueError, "test-throwing loads nothing");
  }
  std::string describe(const std::filesystem::path& path) const override {
    maybe_throw("describe", path);
    return "format: throwing\n";
  }

 private:
  static void maybe_throw(const std::string& method, const std::filesystem::path& path) {
    const std::string stem = path.stem().string();
    if (stem.rfind(method + "-", 0) == 0) throw_kind(stem.substr(method.size() + 1));
  }
};

// Throw in the method named by config["in"] (in the factory when there is none).
class ThrowingOptimizer final : public strata::Optimizer {
 public:
  explicit ThrowingOptimizer(const Config& c)
      : Optimizer("ThrowingOptimizer", c, 0.01), kind_(string_key(c, "throw")), in_(string_key(c, "in")) {}
  void build_slots(const std::vector<strata::Variable>&) override {
    if (in_ == "build_slots") throw_kind(kind_);
  }
  void update_step(const Tensor&, const strata::Variable&, const Tensor&, std::int64_t) override {
    if (in_ == "update_step") throw_kind(kind_);
  }

 private:
  std::string kind_, in_;
};

class ThrowingLoss final : public strata::Loss {
 public:
  explicit ThrowingLoss(const Config& c)
      : Loss("ThrowingLoss", c, "throwing_loss"), kind_(string_key(c, "throw")), in_(string_key(c, "in")) {}
  Tensor call(const Tensor&, const Tensor& y_pred) const override {
    if (in_ == "call") throw_kind(kind_);
    return strata::mean(y_pred * y_pred, {-1});
  }

 private:
  std::string kind_, in_;
};

class ThrowingMetric final : public strata::Metric {
 public:
  explicit ThrowingMetric(const Config& c)
      : Metric("ThrowingMetric", c, "throwing_metric"), kind_(string_key(c, "throw")), in_(string_key(c, "in")) {}
  void update_state(const Tensor&, const Tensor&, const Tensor&) override {
    if (in_ == "update_state") throw_kind(kind_);
  }
  Tensor result() const override {
    if (in_ == "result") throw_kind(kind_);
    return Tensor::scalar<float>(0.0f);
  }

 private:
  std::string kind_, in_;
};

template <class Base, class T = Base>
std::shared_ptr<Base> throwing_factory(const Config& c) {
  if (string_key(c, "in").empty()) throw_kind(string_key(c, "throw"));
  if constexpr (std::is_same_v<Base, T>) {
    throw_kind(string_key(c, "throw"));
  } else {
    return std::make_shared<T>(c);
  }
}

void register_all(strata::Registrar& r) {
  using strata::ObjectKind;
  r.add<ObjectKind::kLayer>("ThrowingLayer", [](const Config& c) { return std::make_shared<ThrowingLayer>(c); });
  r.add<ObjectKind::kActivation>("ThrowingActivation", throwing_factory<strata::Activation>);
  r.add<ObjectKind::kInitializer>("ThrowingInitializer", throwing_factory<strata::Initializer>);
  r.add<ObjectKind::kOptimizer>("ThrowingOptimizer", throwing_factory<strata::Optimizer, ThrowingOptimizer>);
  r.add<ObjectKind::kLoss>("ThrowingLoss", throwing_factory<strata::Loss, ThrowingLoss>);
  r.add<ObjectKind::kMetric>("ThrowingMetric", throwing_factory<strata::Metric, ThrowingMetric>);
  r.add<ObjectKind::kBackend>("throwdev", [] { return std::make_shared<HostBackend>("throwdev", false); });
  r.add<ObjectKind::kBackend>("throwcount", [] { return std::make_shared<HostBackend>("throwcount", true); });
  strata::add_kernel(r, "Relu", "throwdev", strata::DType::kFloat32, relu_kernel);
  r.add<ObjectKind::kFormat>("throwing", [] { return std::make_shared<ThrowingFormat>(); });
}

int probe(char*, std::size_t) {
  if (std::getenv("STRATA_TEST_PROBE_THROWS") != nullptr) throw std::out_of_range("test-throwing probe failed");
  return 1;
}

}  // namespace

STRATA_PLUGIN("test-throwing", "1.0.0", "plugin code that throws foreign exceptions (tests)", register_all);
STRATA_PLUGIN_PROBE(probe);
