// `strata convert CKPT OUT --weights-into ARCH` of a compiled model's TF checkpoint (its
// weights and its optimizer's values), issue 19: a bare architecture (to_json) cannot take
// the optimizer's values, so the convert fails naming them and --expect-partial; with
// --expect-partial the model's weights convert; a compiled ARCH (H5 with its training
// configuration) takes the optimizer's values too, without the flag.
#include "cli_test_util.hpp"
#include "strata/saving.hpp"
#include "strata/training.hpp"

namespace strata::clitest {
namespace {

std::shared_ptr<Model> compiled_model() {
  auto model = std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{
          make_layer("Dense", Config{{"units", 3}, {"activation", "relu"}, {"name", "hidden"}, {"batch_input_shape", {nullptr, 4}}}),
          make_layer("Dense", Config{{"units", 2}, {"name", "head"}})},
      "convert_model");
  model->compile(Config{{"class_name", "Adam"}, {"config", {{"learning_rate", 0.01}}}}, Config("mse"));
  return model;
}

void expect_equal(const std::vector<Tensor>& got, const std::vector<Tensor>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].to(Device::cpu()).to_vector<float>(), want[i].to(Device::cpu()).to_vector<float>()) << what << " " << i;
  }
}

std::vector<Tensor> slot_values(const Optimizer& opt) {
  std::vector<Tensor> out;
  for (const auto& s : opt.slots()) out.push_back(s.slot.value());
  return out;
}

class CliConvert : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    trained_ = compiled_model();
    FitOptions options;
    options.verbose = 0;
    options.epochs = 2;
    options.batch_size = 8;
    trained_->fit(random_tensor(Shape{16, 4}, 1), random_tensor(Shape{16, 2}, 2), options);
    save_weights(*trained_, dir_ / "ckpt");  // no extension: a TF checkpoint, optimizer included
    ASSERT_TRUE(fs::exists(dir_ / "ckpt.index"));
    std::ofstream(dir_ / "model.json") << model_to_json(*trained_);
    save_model(*compiled_model(), dir_ / "arch.h5");  // other (fresh) weights, Adam compiled
  }
  fs::path dir_;
  std::shared_ptr<Model> trained_;
};

TEST_F(CliConvert, BareArchitectureNamesTheLeftValuesAndExpectPartial) {
  std::string out;
  EXPECT_EQ(run_strata("convert " + q(dir_ / "ckpt") + " " + q(dir_ / "out.h5") + " --weights-into " + q(dir_ / "model.json"), out),
            1)
      << out;
  EXPECT_EQ(count_lines(out), 1u) << out;
  for (const char* needle : {"strata: error: ValueError", "values that no weight of", "optimizer", "--expect-partial"}) {
    EXPECT_NE(out.find(needle), std::string::npos) << needle << " missing in " << out;
  }
  EXPECT_FALSE(fs::exists(dir_ / "out.h5"));
}

TEST_F(CliConvert, ExpectPartialConvertsTheModelsWeights) {
  std::string out;
  ASSERT_EQ(run_strata("convert " + q(dir_ / "ckpt") + " " + q(dir_ / "out.h5") + " --weights-into " + q(dir_ / "model.json") +
                           " --expect-partial",
                       out),
            0)
      << out;
  EXPECT_NE(out.find("no weight of the model took (--expect-partial)"), std::string::npos) << out;
  auto model = model_from_json(test::read_text(dir_ / "model.json"));
  model->load_weights(dir_ / "out.h5").assert_consumed();
  expect_equal(model->get_weights(), trained_->get_weights(), "weights");
}

TEST_F(CliConvert, CompiledArchitectureTakesTheOptimizerValues) {
  std::string out;
  ASSERT_EQ(run_strata("convert " + q(dir_ / "ckpt") + " " + q(dir_ / "out") + " --weights-into " + q(dir_ / "arch.h5"), out), 0)
      << out;
  // The new checkpoint holds the weights and the optimizer's state of the trained model.
  auto model = load_model(dir_ / "arch.h5");
  ASSERT_TRUE(model->is_compiled());
  model->load_weights(dir_ / "out").assert_consumed();
  expect_equal(model->get_weights(), trained_->get_weights(), "weights");
  EXPECT_EQ(model->optimizer()->iterations().value().item<std::int64_t>(), 4);
  expect_equal(slot_values(*model->optimizer()), slot_values(*trained_->optimizer()), "optimizer slots");
}

}  // namespace
}  // namespace strata::clitest
