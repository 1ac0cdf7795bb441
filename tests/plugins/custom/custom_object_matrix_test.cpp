// Issue 19, "custom objects: every kind, every way". One cell per
//   kind   {layer, model, activation, loss, metric, initializer, regularizer, constraint,
//           optimizer, learning-rate schedule}
//   way    {plugin, custom_objects at load time, custom-object scope, registered by the host
//           program without a shared library}
//   format {H5, SavedModel, JSON architecture}
// Each cell builds a model that uses the one custom object (plus built-in parts), trains it
// one step, saves it, loads it with the class available only through that way, and checks
// that the loaded model has the same config, weights, predictions, training config and
// optimizer state, evaluates the same and trains one more step to the same weights. The
// file is also loaded in a fresh process that has none of the classes
// (custom_object_matrix_probe), which must fail with an UnknownObjectError naming the kind
// and the class; for custom_objects and the scope the same load in this process without
// them must fail the same way.
//
// The classes (matrix_objects.hpp) are registered under a different name per way: the test
// plugin registers "*_plugin", this program puts "*_objects" and "*_scope" into CustomObjects
// sets (never into the registry) and registers "*_host" through a Registrar of its own, so
// one way never hides another's miss.
//
// Also: the free functions that deserialize one object of each kind (deserialize_layer,
// get_activation, get_loss, ..., model_from_config) with custom_objects, in a scope and
// without.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <optional>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "matrix_objects.hpp"
#include "strata/custom_objects.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/plugins.hpp"
#include "strata/saving.hpp"
#include "strata/serialization.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;
using strata_matrix::Names;

enum class Kind { kLayer, kModel, kActivation, kLoss, kMetric, kInitializer, kRegularizer, kConstraint, kOptimizer, kSchedule };
enum class Way { kPlugin, kObjects, kScope, kHost };
enum class Fmt { kH5, kSavedModel, kJson };

const char* kind_text(Kind k) {
  switch (k) {
    case Kind::kLayer: return "layer";
    case Kind::kModel: return "model";
    case Kind::kActivation: return "activation";
    case Kind::kLoss: return "loss";
    case Kind::kMetric: return "metric";
    case Kind::kInitializer: return "initializer";
    case Kind::kRegularizer: return "regularizer";
    case Kind::kConstraint: return "constraint";
    case Kind::kOptimizer: return "optimizer";
    case Kind::kSchedule: return "learning_rate_schedule";
  }
  return "?";
}
const char* way_text(Way w) {
  switch (w) {
    case Way::kPlugin: return "plugin";
    case Way::kObjects: return "objects";
    case Way::kScope: return "scope";
    case Way::kHost: return "host";
  }
  return "?";
}
const char* fmt_text(Fmt f) {
  switch (f) {
    case Fmt::kH5: return "h5";
    case Fmt::kSavedModel: return "savedmodel";
    case Fmt::kJson: return "json";
  }
  return "?";
}

ObjectKind object_kind(Kind k) {
  switch (k) {
    case Kind::kLayer: return ObjectKind::kLayer;
    case Kind::kModel: return ObjectKind::kModel;
    case Kind::kActivation: return ObjectKind::kActivation;
    case Kind::kLoss: return ObjectKind::kLoss;
    case Kind::kMetric: return ObjectKind::kMetric;
    case Kind::kInitializer: return ObjectKind::kInitializer;
    case Kind::kRegularizer: return ObjectKind::kRegularizer;
    case Kind::kConstraint: return ObjectKind::kConstraint;
    case Kind::kOptimizer: return ObjectKind::kOptimizer;
    case Kind::kSchedule: return ObjectKind::kLearningRateSchedule;
  }
  return ObjectKind::kLayer;
}

// The registered name of the custom class of `kind` for `way`.
std::string class_for(Kind k, const Names& n) {
  switch (k) {
    case Kind::kLayer: return n.layer();
    case Kind::kModel: return n.model();
    case Kind::kActivation: return n.activation();
    case Kind::kLoss: return n.loss();
    case Kind::kMetric: return n.metric();
    case Kind::kInitializer: return n.initializer();
    case Kind::kRegularizer: return n.regularizer();
    case Kind::kConstraint: return n.constraint();
    case Kind::kOptimizer: return n.optimizer();
    case Kind::kSchedule: return n.schedule();
  }
  return "?";
}

// The kinds a JSON architecture does not hold: they live in the training config, which
// model.to_json() does not write (Keras's neither).
bool training_only(Kind k) {
  return k == Kind::kLoss || k == Kind::kMetric || k == Kind::kOptimizer || k == Kind::kSchedule;
}

void load_plugin() {
  PluginManager::global().load(fs::path(STRATA_TEST_CUSTOM_PLUGIN_DIR) / "strata-test-custom-objects.so");
}

// The host program's own registration: no shared library, a Registrar on the global registry.
void register_host_classes() {
  static const bool done = [] {
    Registrar registrar(Registry::global(), "matrix-host-program");
    strata_matrix::add_all(registrar, Names{"host"});
    registrar.commit();
    return true;
  }();
  (void)done;
}

CustomObjects objects_for(const Names& names) {
  CustomObjects objects;
  strata_matrix::add_all(objects, names);
  return objects;
}

Tensor ramp(std::int64_t rows, std::int64_t cols, float scale, int offset) {
  std::vector<float> v(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(static_cast<int>((i + offset) % 11) - 5);
  return Tensor::from_vector<float>(v, Shape{rows, cols});
}
Tensor xs() { return ramp(6, 4, 0.1f, 0); }
Tensor ys() { return ramp(6, 3, 0.07f, 3); }

Config object(const std::string& cls, Config config) { return Config{{"class_name", cls}, {"config", std::move(config)}}; }

// The model of one cell, built while `names` are available. Every model is compiled (the
// cell's custom loss/metric/optimizer/schedule, else mse/SGD) and trained one step.
std::shared_ptr<Model> build_model(Kind k, const Names& n) {
  std::shared_ptr<Model> model;
  Config dense{{"units", 3}, {"name", "dense"}};
  switch (k) {
    case Kind::kLayer: {
      Tensor in = Input(Shape{4}, "x");
      Tensor out = (*make_layer(n.layer(), Config{{"units", 3}, {"name", "mx_layer"}}))(in);
      model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out}, "cell");
      break;
    }
    case Kind::kModel: {
      ObjectResolver resolver;
      model = (*resolver.require<ObjectKind::kModel>(n.model()))(Config{{"name", "cell"}, {"units", 3}});
      model->predict(xs());  // builds it
      break;
    }
    case Kind::kActivation: dense["activation"] = n.activation(); break;
    case Kind::kInitializer: dense["kernel_initializer"] = object(n.initializer(), Config{{"value", 0.125}}); break;
    case Kind::kRegularizer: dense["kernel_regularizer"] = object(n.regularizer(), Config{{"l", 0.03}}); break;
    case Kind::kConstraint: dense["kernel_constraint"] = object(n.constraint(), Config{{"limit", 0.2}}); break;
    default: break;
  }
  if (!model) {
    Tensor in = Input(Shape{4}, "x");
    Tensor out = (*make_layer("Dense", dense))(in);
    model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out}, "cell");
  }
  Config optimizer = object("SGD", Config{{"learning_rate", 0.1}});
  Config loss = "mse";
  Config metrics = Config::array({"mae"});
  if (k == Kind::kOptimizer) optimizer = object(n.optimizer(), Config{{"learning_rate", 0.2}});
  if (k == Kind::kSchedule) optimizer = object("SGD", Config{{"learning_rate", object(n.schedule(), Config{{"initial", 0.3}})}});
  if (k == Kind::kLoss) loss = object(n.loss(), Config{{"scale", 3.0}, {"name", "mx_loss"}});
  if (k == Kind::kMetric) metrics = Config::array({object(n.metric(), Config{{"name", "worst"}})});
  model->compile(optimizer, loss, metrics);
  model->train_on_batch({xs()}, {ys()});
  return model;
}

std::vector<std::vector<float>> values(const std::vector<Tensor>& ts) {
  std::vector<std::vector<float>> out;
  for (const auto& t : ts) out.push_back(t.to_vector<float>());
  return out;
}
std::vector<std::vector<float>> optimizer_values(const Model& m) {
  std::vector<std::vector<float>> out;
  for (const auto& v : m.optimizer()->variables()) {
    const Tensor t = v.value();
    out.push_back(t.dtype() == DType::kFloat32 ? t.to_vector<float>() : std::vector<float>{static_cast<float>(t.to_vector<std::int64_t>().at(0))});
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the probe on `path`; returns its stdout.
std::string probe(Fmt f, const fs::path& path, int* rc) {
  const std::string cmd = std::string("'") + STRATA_MATRIX_PROBE + "' " + fmt_text(f) + " '" + path.string() + "' 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  if (!pipe) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe)) out += buf;
  const int status = pclose(pipe);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

bool names_miss(const UnknownObjectError& e, const std::string& kind, const std::string& cls) {
  for (const auto& m : e.missing()) {
    if (m.kind == kind && m.name == cls) return true;
  }
  return false;
}

using Cell = std::tuple<Kind, Way, Fmt>;

class CustomObjectMatrix : public ::testing::TestWithParam<Cell> {
 protected:
  void SetUp() override {
    clear_session();
    dir_ = fs::temp_directory_path() / ("strata_matrix_" + std::to_string(::getpid()) + "_" + cell_name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string cell_name() const {
    const auto [k, w, f] = GetParam();
    return std::string(kind_text(k)) + "_" + way_text(w) + "_" + fmt_text(f);
  }
  fs::path dir_;
};

TEST_P(CustomObjectMatrix, SavesLoadsAndFailsWithoutTheClass) {
  const Kind kind = std::get<0>(GetParam());
  const Way way = std::get<1>(GetParam());
  const Fmt fmt = std::get<2>(GetParam());
  if (fmt == Fmt::kJson && training_only(kind)) {
    GTEST_SKIP() << "not applicable: a " << kind_text(kind)
                 << " lives in the training config, which a JSON architecture (model.to_json()) does not hold";
  }
  const Names names{way_text(way)};
  const std::string cls = class_for(kind, names);
  const CustomObjects objects = objects_for(names);
  if (way == Way::kPlugin) load_plugin();
  if (way == Way::kHost) register_host_classes();
  if (way == Way::kObjects || way == Way::kScope) {
    ASSERT_FALSE(Registry::global().contains(object_kind(kind), cls)) << cls << " must not be in the registry";
  }

  // Build and save with the class available.
  std::shared_ptr<Model> original;
  const fs::path file = dir_ / (fmt == Fmt::kH5 ? "model.h5" : fmt == Fmt::kSavedModel ? "model_sm" : "model.json");
  const fs::path bare = dir_ / "model_no_traces";  // SavedModel without traces: the class is needed
  {
    std::optional<CustomObjectScope> scope;
    if (way == Way::kObjects || way == Way::kScope) scope.emplace(objects);
    original = build_model(kind, names);
    SaveOptions options;
    switch (fmt) {
      case Fmt::kH5:
        options.format = "h5";
        original->save(file, options);
        break;
      case Fmt::kSavedModel:
        options.format = "savedmodel";
        original->save(file, options);
        options.save_traces = false;
        original->save(bare, options);
        break;
      case Fmt::kJson: {
        std::ofstream(file) << model_to_json(*original);
        break;
      }
    }
  }

  // Load with the class available only through `way`.
  auto load = [&](bool with_way) -> std::shared_ptr<Model> {
    const CustomObjects* co = with_way && way == Way::kObjects ? &objects : nullptr;
    std::optional<CustomObjectScope> scope;
    if (with_way && way == Way::kScope) scope.emplace(objects);
    if (fmt == Fmt::kJson) return model_from_json(slurp(file), co);
    LoadOptions options;
    options.format = fmt_text(fmt);
    options.custom_objects = co;
    return load_model(with_way ? file : (fmt == Fmt::kSavedModel ? bare : file), options);
  };
  std::shared_ptr<Model> loaded;
  try {
    loaded = load(true);
  } catch (const std::exception& e) {
    FAIL() << "loading " << cell_name() << ": " << e.what();
  }
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(model_to_json(*loaded), model_to_json(*original));
  if (fmt == Fmt::kJson) {
    // An architecture has no weights: build (a subclassed model from its config is unbuilt
    // until called, as in Keras) and copy them.
    loaded->predict(xs());
    loaded->set_weights(original->get_weights());
  } else {
    EXPECT_EQ(values(loaded->get_weights()), values(original->get_weights()));
  }
  EXPECT_EQ(loaded->predict(xs()).to_vector<float>(), original->predict(xs()).to_vector<float>());
  if (fmt != Fmt::kJson) {
    ASSERT_TRUE(loaded->is_compiled());
    EXPECT_EQ(loaded->training_config().dump(), original->training_config().dump());
    EXPECT_EQ(optimizer_values(*loaded), optimizer_values(*original));
    // Used after the load, outside any scope, as a user would.
    const Logs a = original->evaluate(xs(), ys());
    const Logs b = loaded->evaluate(xs(), ys());
    EXPECT_EQ(a.items(), b.items());
    original->train_on_batch({xs()}, {ys()});
    loaded->train_on_batch({xs()}, {ys()});
    EXPECT_EQ(values(loaded->get_weights()), values(original->get_weights()));
  }

  // Without the class: this process (custom_objects and scope ways only), and a fresh one.
  if (way == Way::kObjects || way == Way::kScope) {
    try {
      load(false);
      ADD_FAILURE() << "loaded without " << cls;
    } catch (const UnknownObjectError& e) {
      EXPECT_TRUE(names_miss(e, kind_text(kind), cls)) << e.what();
    }
  }
  int rc = -1;
  const std::string out = probe(fmt, fmt == Fmt::kSavedModel ? bare : file, &rc);
  EXPECT_EQ(rc, 3) << out;
  EXPECT_NE(out.find(std::string("UNKNOWN ") + kind_text(kind) + " " + cls + "\n"), std::string::npos) << out;
}

std::string cell_label(const ::testing::TestParamInfo<Cell>& info) {
  return std::string(kind_text(std::get<0>(info.param))) + "_" + way_text(std::get<1>(info.param)) + "_" +
         fmt_text(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    Cells, CustomObjectMatrix,
    ::testing::Combine(::testing::Values(Kind::kLayer, Kind::kModel, Kind::kActivation, Kind::kLoss, Kind::kMetric,
                                         Kind::kInitializer, Kind::kRegularizer, Kind::kConstraint, Kind::kOptimizer,
                                         Kind::kSchedule),
                       ::testing::Values(Way::kPlugin, Way::kObjects, Way::kScope, Way::kHost),
                       ::testing::Values(Fmt::kH5, Fmt::kSavedModel, Fmt::kJson)),
    cell_label);

// ---- one object at a time: deserialize_layer and friends ----------------------------------

// Serialises one object of `kind` built from `names`, then deserialises it with the free
// function Keras users know (keras.layers.deserialize, keras.losses.deserialize, ...).
// Returns {class_name, config} of the result.
std::pair<std::string, Config> roundtrip(Kind k, const Names& n, const CustomObjects* co) {
  switch (k) {
    case Kind::kLayer: {
      auto l = deserialize_layer(object(n.layer(), Config{{"units", 2}, {"name", "l"}}), co);
      return {l->class_name(), l->get_config()};
    }
    case Kind::kModel: {
      auto m = model_from_config(object(n.model(), Config{{"units", 2}, {"name", "m"}}), co);
      return {m->class_name(), m->get_config()};
    }
    case Kind::kActivation: {
      auto a = get_activation(Config(n.activation()), co);
      return {a->class_name(), a->get_config()};
    }
    case Kind::kLoss: {
      auto l = get_loss(object(n.loss(), Config{{"scale", 4.0}}), co);
      return {l->class_name(), l->get_config()};
    }
    case Kind::kMetric: {
      auto m = get_metric(object(n.metric(), Config{{"name", "w"}}), co);
      return {m->class_name(), m->get_config()};
    }
    case Kind::kInitializer: {
      auto i = get_initializer(object(n.initializer(), Config{{"value", 0.5}}), co);
      return {i->class_name(), i->get_config()};
    }
    case Kind::kRegularizer: {
      auto r = get_regularizer(object(n.regularizer(), Config{{"l", 0.5}}), co);
      return {r->class_name(), r->get_config()};
    }
    case Kind::kConstraint: {
      auto c = get_constraint(object(n.constraint(), Config{{"limit", 0.5}}), co);
      return {c->class_name(), c->get_config()};
    }
    case Kind::kOptimizer: {
      auto o = get_optimizer(object(n.optimizer(), Config{{"learning_rate", 0.5}}), co);
      return {o->class_name(), o->get_config()};
    }
    case Kind::kSchedule: {
      auto s = get_learning_rate_schedule(object(n.schedule(), Config{{"initial", 0.5}}), co);
      return {s->class_name(), s->get_config()};
    }
  }
  return {};
}

using OneObject = std::tuple<Kind, Way>;
class DeserializeOne : public ::testing::TestWithParam<OneObject> {};

TEST_P(DeserializeOne, WithTheWayAndWithout) {
  const Kind kind = std::get<0>(GetParam());
  const Way way = std::get<1>(GetParam());
  const Names names{way_text(way)};
  const std::string cls = class_for(kind, names);
  const CustomObjects objects = objects_for(names);
  if (way == Way::kPlugin) load_plugin();
  if (way == Way::kHost) register_host_classes();
  std::pair<std::string, Config> got;
  {
    std::optional<CustomObjectScope> scope;
    if (way == Way::kScope) scope.emplace(objects);
    got = roundtrip(kind, names, way == Way::kObjects ? &objects : nullptr);
  }
  EXPECT_EQ(got.first, cls);
  // The config has the keys the file gave (and the base class's).
  const std::map<Kind, std::pair<const char*, double>> key{
      {Kind::kLayer, {"units", 2}},       {Kind::kModel, {"units", 2}},  {Kind::kLoss, {"scale", 4.0}},
      {Kind::kInitializer, {"value", 0.5}}, {Kind::kRegularizer, {"l", 0.5}}, {Kind::kConstraint, {"limit", 0.5}},
      {Kind::kOptimizer, {"learning_rate", 0.5}}, {Kind::kSchedule, {"initial", 0.5}}};
  if (const auto it = key.find(kind); it != key.end()) {
    ASSERT_TRUE(got.second.contains(it->second.first)) << got.second.dump();
    EXPECT_DOUBLE_EQ(got.second[it->second.first].get<double>(), it->second.second) << got.second.dump();
  }
  if (way == Way::kObjects || way == Way::kScope) {
    try {
      roundtrip(kind, names, nullptr);
      ADD_FAILURE() << "deserialized " << cls << " without it";
    } catch (const UnknownObjectError& e) {
      EXPECT_TRUE(names_miss(e, kind_text(kind), cls)) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Objects, DeserializeOne,
    ::testing::Combine(::testing::Values(Kind::kLayer, Kind::kModel, Kind::kActivation, Kind::kLoss, Kind::kMetric,
                                         Kind::kInitializer, Kind::kRegularizer, Kind::kConstraint, Kind::kOptimizer,
                                         Kind::kSchedule),
                       ::testing::Values(Way::kPlugin, Way::kObjects, Way::kScope, Way::kHost)),
    [](const ::testing::TestParamInfo<OneObject>& info) {
      return std::string(kind_text(std::get<0>(info.param))) + "_" + way_text(std::get<1>(info.param));
    });

}  // namespace
}  // namespace strata
