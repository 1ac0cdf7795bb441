// Optimizers and learning-rate schedules against tf-keras 2.17 (optimizers.json,
// schedules.json): five apply_gradients steps on two variables with a different gradient
// each step — the variables and every optimizer variable (iteration, then the slots in
// tf-keras's order and under its names) after each step — and get_config key for key.
#include <gtest/gtest.h>

#include "strata/optimizer.hpp"
#include "training_test_util.hpp"

namespace strata::training_tests {
namespace {

const Config& optimizer_fixture() {
  static const Config fixture = load_fixture("optimizers.json");
  return fixture;
}

std::vector<std::string> optimizer_case_names() {
  std::vector<std::string> names;
  for (const auto& c : optimizer_fixture()["cases"]) names.push_back(c["name"].get<std::string>());
  return names;
}

struct OptimizerParam {
  std::string device;
  std::string name;
};

class OptimizerTest : public ::testing::TestWithParam<OptimizerParam> {
 protected:
  void SetUp() override {
    const std::string reason = skip_reason(GetParam().device);
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
  static const Config& fixture_case() {
    for (const auto& c : optimizer_fixture()["cases"]) {
      if (c["name"] == GetParam().name) return c;
    }
    throw std::runtime_error("no optimizer case " + GetParam().name);
  }
};

TEST_P(OptimizerTest, MatchesTfKerasStepByStep) {
  const Config& fx = optimizer_fixture();
  const Config& c = fixture_case();
  DeviceScope scope{Device(GetParam().device)};
  Variable a("a", tensor_of(fx["initial"][0]));
  Variable b("b", tensor_of(fx["initial"][1]));
  auto opt = get_optimizer(Config{{"class_name", c["class_name"]}, {"config", c["config_in"]}});
  ASSERT_NE(opt, nullptr);
  EXPECT_EQ(opt->class_name(), c["class_name"].get<std::string>());
  for (std::size_t s = 0; s < c["steps"].size(); ++s) {
    SCOPED_TRACE("step " + std::to_string(s + 1));
    const Config& step = c["steps"][s];
    EXPECT_EQ(differ({opt->learning_rate()}, {step["learning_rate"].get<double>()}, 1e-6, 0), "") << "learning rate";
    opt->apply_gradients({tensor_of(fx["gradients"][s][0]), tensor_of(fx["gradients"][s][1])}, {a, b});
    EXPECT_EQ(differ(values(a.value()), ref_values(step["variables"][0])), "") << "variable a";
    EXPECT_EQ(differ(values(b.value()), ref_values(step["variables"][1])), "") << "variable b";
    const auto vars = opt->variables();
    ASSERT_EQ(vars.size(), step["optimizer_variables"].size());
    for (std::size_t i = 0; i < vars.size(); ++i) {
      EXPECT_EQ(differ(values(vars[i].value()), ref_values(step["optimizer_variables"][i])), "")
          << "optimizer variable " << vars[i].name();
    }
  }
  // Names and order: "iteration:0", "Adam/m/a:0", "Adam/v/a:0", ...
  const auto vars = opt->variables();
  ASSERT_EQ(vars.size(), c["variable_names"].size());
  for (std::size_t i = 0; i < vars.size(); ++i) {
    std::string want = c["variable_names"][i].get<std::string>();
    want = want.substr(0, want.rfind(':'));
    EXPECT_EQ(vars[i].name(), want) << "optimizer variable " << i;
  }
  EXPECT_EQ(vars[0].dtype(), DType::kInt64);
  EXPECT_EQ(vars[0].value().to(Device::cpu()).item<std::int64_t>(), static_cast<std::int64_t>(c["steps"].size()));
  expect_same_config(opt->get_config(), c["config"]);
}

std::vector<OptimizerParam> optimizer_params() {
  std::vector<OptimizerParam> out;
  for (const auto& d : test_devices()) {
    for (const auto& n : optimizer_case_names()) out.push_back({d, n});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(TfKeras, OptimizerTest, ::testing::ValuesIn(optimizer_params()),
                         [](const ::testing::TestParamInfo<OptimizerParam>& info) {
                           return info.param.name + "_" + info.param.device.substr(0, info.param.device.find(':'));
                         });

// A fresh optimizer built from another's get_config continues identically, and one
// whose state is restored with set_weights continues as if never rebuilt.
TEST(OptimizerRoundTrip, FromConfigAndSetWeightsContinueIdentically) {
  DeviceScope scope{Device("ref:0")};
  const Config& fx = optimizer_fixture();
  for (const char* cls : {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl"}) {
    SCOPED_TRACE(cls);
    Variable a("a", tensor_of(fx["initial"][0])), b("b", tensor_of(fx["initial"][1]));
    Variable a2("a", tensor_of(fx["initial"][0])), b2("b", tensor_of(fx["initial"][1]));
    auto opt = get_optimizer(Config{{"class_name", cls}, {"config", {{"learning_rate", 0.05}}}});
    for (int s = 0; s < 2; ++s) {
      opt->apply_gradients({tensor_of(fx["gradients"][s][0]), tensor_of(fx["gradients"][s][1])}, {a, b});
    }
    auto copy = get_optimizer(Config{{"class_name", opt->class_name()}, {"config", opt->get_config()}});
    expect_same_config(copy->get_config(), opt->get_config());
    a2.assign(a.value());
    b2.assign(b.value());
    copy->build({a2, b2});
    std::vector<Tensor> state;
    for (const auto& v : opt->variables()) state.push_back(v.value());
    copy->set_weights(state);
    for (int s = 2; s < 5; ++s) {
      opt->apply_gradients({tensor_of(fx["gradients"][s][0]), tensor_of(fx["gradients"][s][1])}, {a, b});
      copy->apply_gradients({tensor_of(fx["gradients"][s][0]), tensor_of(fx["gradients"][s][1])}, {a2, b2});
    }
    EXPECT_EQ(differ(values(a2.value()), values(a.value()), 0, 0), "");
    EXPECT_EQ(differ(values(b2.value()), values(b.value()), 0, 0), "");
  }
}

// Weights saved by tf-keras's legacy optimizers (slots grouped by kind: m0 m1 v0 v1) load
// with WeightLayout::kLegacy into the current classes, which then take the step the legacy
// optimizer took (legacy_optimizers.json).
TEST(OptimizerLegacyLayout, LegacyWeightsResumeTraining) {
  DeviceScope scope{Device("ref:0")};
  const Config fixture = load_fixture("legacy_optimizers.json");
  for (const auto& c : fixture["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    Variable a("a", tensor_of(c["variables_before"][0])), b("b", tensor_of(c["variables_before"][1]));
    auto opt = get_optimizer(Config{{"class_name", c["class_name"]}, {"config", c["config_in"]}});
    opt->build({a, b});
    std::vector<Tensor> weights;
    for (const auto& w : c["legacy_weights"]) weights.push_back(tensor_of(w));
    opt->set_weights(weights, Optimizer::WeightLayout::kLegacy);
    EXPECT_EQ(opt->iterations().value().to(Device::cpu()).item<std::int64_t>(), 3);
    opt->apply_gradients({tensor_of(c["gradient"][0]), tensor_of(c["gradient"][1])}, {a, b});
    EXPECT_EQ(differ(values(a.value()), ref_values(c["variables_after"][0])), "") << "variable a";
    EXPECT_EQ(differ(values(b.value()), ref_values(c["variables_after"][1])), "") << "variable b";
  }
}

// The same weights in the current layout are a different assignment: a legacy list must not
// pass for a current one by accident (a two-variable Adam's m1 and v0 trade places).
TEST(OptimizerLegacyLayout, LayoutsAssignDifferentSlots) {
  DeviceScope scope{Device("ref:0")};
  Variable a("a", Tensor::from_vector<float>({0.f}, Shape{1})), b("b", Tensor::from_vector<float>({0.f}, Shape{1}));
  auto opt = get_optimizer(Config{{"class_name", "Adam"}, {"config", Config::object()}});
  opt->build({a, b});
  std::vector<Tensor> w{Tensor::from_vector<std::int64_t>({7}, Shape{})};
  for (float v : {1.f, 2.f, 3.f, 4.f}) w.push_back(Tensor::from_vector<float>({v}, Shape{1}));
  auto slot = [&](const Variable& v, const std::string& kind) {
    for (const auto& s : opt->slots()) {
      if (s.variable == v && s.name == kind) return s.slot.value().to(Device::cpu()).item<float>();
    }
    throw std::runtime_error("no slot " + kind);
  };
  opt->set_weights(w, Optimizer::WeightLayout::kLegacy);  // m_a m_b v_a v_b
  EXPECT_EQ(slot(a, "m"), 1.f);
  EXPECT_EQ(slot(b, "m"), 2.f);
  EXPECT_EQ(slot(a, "v"), 3.f);
  opt->set_weights(w);  // m_a v_a m_b v_b
  EXPECT_EQ(slot(b, "m"), 3.f);
  EXPECT_EQ(slot(a, "v"), 2.f);
}

// ---- names ----------------------------------------------------------------------------------

// The registered names are contracts: class names, the lowercase aliases compile()
// accepts, and the "Custom>Name" form tf-keras 2.11-2.17 write in H5 training_config.
TEST(OptimizerNames, ClassNamesAliasesAndCustomPrefix) {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"SGD", "sgd"},       {"Adam", "adam"},       {"AdamW", "adamw"},   {"RMSprop", "rmsprop"}, {"Adagrad", "adagrad"},
      {"Adadelta", "adadelta"}, {"Adamax", "adamax"}, {"Nadam", "nadam"}, {"Ftrl", "ftrl"}};
  for (const auto& [cls, alias] : names) {
    for (const std::string& n : {cls, alias, "Custom>" + cls}) {
      EXPECT_TRUE(Registry::global().contains(ObjectKind::kOptimizer, n)) << n;
      auto opt = get_optimizer(Config(n));
      EXPECT_EQ(opt->class_name(), cls) << n;
      EXPECT_EQ(opt->name(), cls) << n;
    }
  }
}

// Keras 3's optimizer configs: the keys it adds load, null or set, and come back in
// get_config; values Keras refuses are ValueErrors naming the optimizer and the key.
// (Their numerics against real Keras: interop.strata_optimizer_options_tests.)
TEST(OptimizerKeras3, Keras3KeysLoadAndBadValuesAreRefused) {
  const Config config = Config::parse(R"({"module": "keras.optimizers", "class_name": "Adam", "config": {
      "name": "adam", "learning_rate": 0.0010000000474974513, "weight_decay": null, "clipnorm": null,
      "global_clipnorm": null, "clipvalue": null, "use_ema": false, "ema_momentum": 0.99,
      "ema_overwrite_frequency": null, "loss_scale_factor": null, "gradient_accumulation_steps": null,
      "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}, "registered_name": null})");
  EXPECT_EQ(get_optimizer(config)->class_name(), "Adam");
  {
    Config c = config;
    c["config"]["loss_scale_factor"] = 128.0;
    c["config"]["gradient_accumulation_steps"] = 4;
    c["config"]["use_ema"] = true;
    c["config"]["ema_overwrite_frequency"] = 3;
    const Config back = get_optimizer(c)->get_config();
    EXPECT_EQ(back["loss_scale_factor"], 128.0);
    EXPECT_EQ(back["gradient_accumulation_steps"], 4);
    EXPECT_EQ(back["use_ema"], true);
    EXPECT_EQ(back["ema_overwrite_frequency"], 3);
  }
  for (const auto& [key, value] : std::vector<std::pair<std::string, Config>>{{"loss_scale_factor", 0.0},
                                                                              {"gradient_accumulation_steps", 1},
                                                                              {"gradient_accumulation_steps", 2.5},
                                                                              {"ema_momentum", 1.5},
                                                                              {"ema_overwrite_frequency", 0}}) {
    Config c = config;
    c["config"]["use_ema"] = true;
    c["config"][key] = value;
    try {
      (void)get_optimizer(c);
      ADD_FAILURE() << key << "=" << value.dump() << " was accepted";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("'adam'"), std::string::npos) << e.what();
    }
  }
}

// Gradient accumulation by hand: SGD(lr 1) with 2 steps updates on every second call with
// the mean of the two gradients; iterations counts calls.
TEST(OptimizerKeras3, GradientAccumulationAppliesTheMeanEverySecondCall) {
  DeviceScope scope{Device("ref:0")};
  auto opt = get_optimizer(Config::parse(
      R"({"class_name": "SGD", "config": {"learning_rate": 1.0, "gradient_accumulation_steps": 2}})"));
  Variable w("w", Tensor::from_vector<float>({1.0f}, Shape{1}));
  opt->apply_gradients({Tensor::from_vector<float>({0.5f}, Shape{1})}, {w});
  EXPECT_EQ(w.value().to_vector<float>()[0], 1.0f);
  opt->apply_gradients({Tensor::from_vector<float>({0.25f}, Shape{1})}, {w});
  EXPECT_EQ(w.value().to_vector<float>()[0], 1.0f - 0.375f);
  EXPECT_EQ(opt->iterations().value().item<std::int64_t>(), 2);
  ASSERT_EQ(opt->variables().size(), 3u);  // iteration, the accumulator, then SGD's own m (tf-keras makes it always)
  EXPECT_EQ(opt->slots()[0].name, "gradient_accumulator");
}

TEST(OptimizerNames, CustomAdamFromH5TrainingConfig) {
  DeviceScope scope{Device("ref:0")};
  // optimizer_config as tf-keras 2.12 writes it into an H5 file's training_config.
  const Config config = Config::parse(R"({"class_name": "Custom>Adam", "config": {
      "name": "Adam", "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null,
      "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null, "jit_compile": true,
      "is_legacy_optimizer": false, "learning_rate": 0.0010000000474974513, "beta_1": 0.8, "beta_2": 0.99,
      "epsilon": 1e-07, "amsgrad": true}})");
  auto opt = get_optimizer(config);
  EXPECT_EQ(opt->class_name(), "Adam");
  EXPECT_EQ(opt->name(), "Adam");
  EXPECT_NEAR(opt->learning_rate(), 0.001, 1e-9);
  const Config c = opt->get_config();
  EXPECT_EQ(c["beta_1"], 0.8);
  EXPECT_EQ(c["beta_2"], 0.99);
  EXPECT_EQ(c["amsgrad"], true);
  EXPECT_EQ(c["jit_compile"], false);
  Variable w("w", Tensor::from_vector<float>({1.0f, 2.0f}, Shape{2}));
  opt->apply_gradients({Tensor::from_vector<float>({0.5f, -0.5f}, Shape{2})}, {w});
  ASSERT_EQ(opt->variables().size(), 4u);  // iteration, m, v, vhat
  EXPECT_EQ(opt->variables()[3].name(), "Adam/vhat/w");
  // A legacy-named learning rate and a serialised schedule read too.
  auto legacy = get_optimizer(Config::parse(R"({"class_name": "Custom>SGD", "config": {"lr": 0.5}})"));
  EXPECT_NEAR(legacy->learning_rate(), 0.5, 1e-9);
  auto scheduled = get_optimizer(Config::parse(R"({"class_name": "Custom>RMSprop", "config": {"learning_rate":
      {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 1,
       "decay_rate": 0.5}}}})"));
  EXPECT_NEAR(scheduled->learning_rate(), 0.1, 1e-7);
  EXPECT_EQ(scheduled->get_config()["ema_overwrite_frequency"], 100);
}

TEST(OptimizerNames, InvalidArgumentsAreRefused) {
  EXPECT_THROW(get_optimizer(Config::parse(R"({"class_name": "SGD", "config": {"momentum": 1.5}})")), ValueError);
  EXPECT_THROW(get_optimizer(Config::parse(R"({"class_name": "Ftrl", "config": {"learning_rate_power": 0.5}})")),
               ValueError);
  EXPECT_THROW(get_optimizer(Config::parse(R"({"class_name": "Adam", "config": {"use_ema": true, "ema_momentum": -1}})")),
               ValueError);
  EXPECT_THROW(get_optimizer(Config("NoSuchOptimizer")), UnknownObjectError);
}

// ---- schedules --------------------------------------------------------------------------------

TEST(LearningRateSchedules, MatchTfKeras) {
  const auto fixture = load_fixture("schedules.json");  // kept alive: the loop walks into it
  for (const auto& c : fixture["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto s = get_learning_rate_schedule(c["serialized"]);
    ASSERT_NE(s, nullptr);
    std::vector<double> got;
    for (std::int64_t step = 0; step < static_cast<std::int64_t>(c["values"].size()); ++step) got.push_back((*s)(step));
    EXPECT_EQ(differ(got, c["values"].get<std::vector<double>>(), 1e-6, 0), "");
    expect_same_config(serialize(*s, ObjectKind::kLearningRateSchedule), c["serialized"]);
  }
}

TEST(LearningRateSchedules, PiecewiseNeedsOneMoreValueThanBoundaries) {
  EXPECT_THROW(get_learning_rate_schedule(Config::parse(
                   R"({"class_name": "PiecewiseConstantDecay", "config": {"boundaries": [1, 2], "values": [0.1]}})")),
               ValueError);
}

}  // namespace
}  // namespace strata::training_tests
