// `strata fit` and `strata evaluate` on compiled model files (issue 19): the saved output,
// History.history as JSON (Keras's key order), --initial-epoch, --checkpoint files,
// validation (split and explicit arrays), the evaluate lines, Keras's verbose=2 lines, and
// errors as one line with exit status 1. The comparison with tf-keras's own fit is in
// cli_fit_interop_test.cpp.
#include <fstream>
#include <regex>
#include <sstream>

#include "cli_test_util.hpp"
#include "strata/saving.hpp"
#include "strata/training.hpp"

namespace strata::clitest {
namespace {

std::shared_ptr<Model> small_model(bool compiled) {
  auto model = std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{
          make_layer("Dense", Config{{"units", 3}, {"activation", "relu"}, {"name", "hidden"}, {"batch_input_shape", {nullptr, 4}}}),
          make_layer("Dense", Config{{"units", 2}, {"name", "head"}})},
      "cli_fit_model");
  if (compiled) model->compile(Config("sgd"), Config("mse"), Config::array({"mae"}));
  return model;
}

class CliFit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    save_model(*small_model(true), dir_ / "model.h5");
    write_npy(dir_ / "x.npy", random_tensor(Shape{64, 4}, 1));
    write_npy(dir_ / "y.npy", random_tensor(Shape{64, 2}, 2));
  }
  std::string data() const { return " --x " + q(dir_ / "x.npy") + " --y " + q(dir_ / "y.npy"); }
  fs::path dir_;
};

Config read_json(const fs::path& p) { return parse_python_json(strata::test::read_text(p), p.string()); }

std::int64_t steps_taken(const fs::path& model_file) {
  return load_model(model_file)->optimizer()->iterations().value().item<std::int64_t>();
}

TEST_F(CliFit, TrainsSavesAndWritesTheHistory) {
  std::string out;
  ASSERT_EQ(run_strata("fit " + q(dir_ / "model.h5") + data() + " --epochs 3 --batch-size 16 --verbose 0 --save " +
                           q(dir_ / "out.h5") + " --history " + q(dir_ / "h.json"),
                       out),
            0)
      << out;
  ASSERT_TRUE(fs::exists(dir_ / "out.h5")) << out;
  auto trained = load_model(dir_ / "out.h5");
  ASSERT_TRUE(trained->is_compiled());
  EXPECT_EQ(steps_taken(dir_ / "out.h5"), 3 * 4);  // 64 samples in batches of 16, 3 epochs
  // The weights moved.
  auto before = load_model(dir_ / "model.h5");
  EXPECT_NE(trained->get_weights()[0].to_vector<float>(), before->get_weights()[0].to_vector<float>());
  const Config h = read_json(dir_ / "h.json");
  std::vector<std::string> keys;
  for (const auto& [k, v] : h.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"loss", "mae"}));
  for (const auto& k : keys) EXPECT_EQ(h[k].size(), 3u) << k;
  EXPECT_LT(h["loss"][2].get<double>(), h["loss"][0].get<double>());
  // No temporary file is left next to the outputs.
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_NE(e.path().extension(), ".tmp") << e.path();
}

TEST_F(CliFit, InitialEpochRunsTheRemainingEpochs) {
  std::string out;
  ASSERT_EQ(run_strata("fit " + q(dir_ / "model.h5") + data() + " --epochs 3 --initial-epoch 1 --batch-size 32 --save " +
                           q(dir_ / "out.h5") + " --history " + q(dir_ / "h.json") + " --verbose 2",
                       out),
            0)
      << out;
  EXPECT_EQ(read_json(dir_ / "h.json")["loss"].size(), 2u);
  EXPECT_EQ(steps_taken(dir_ / "out.h5"), 2 * 2);
  // Keras numbers the epochs from initial_epoch + 1.
  EXPECT_NE(out.find("Epoch 2/3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Epoch 3/3\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Epoch 1/3"), std::string::npos) << out;
}

TEST_F(CliFit, CheckpointSavesEveryEpoch) {
  std::string out;
  ASSERT_EQ(run_strata("fit " + q(dir_ / "model.h5") + data() + " --epochs 2 --verbose 0 --save " + q(dir_ / "out.h5") +
                           " --checkpoint " + q(dir_ / "ckpt-{epoch:02d}.h5"),
                       out),
            0)
      << out;
  ASSERT_TRUE(fs::exists(dir_ / "ckpt-01.h5")) << out;
  ASSERT_TRUE(fs::exists(dir_ / "ckpt-02.h5")) << out;
  EXPECT_EQ(steps_taken(dir_ / "ckpt-01.h5"), 2);
  // The last checkpoint is the trained model.
  const auto last = load_model(dir_ / "ckpt-02.h5")->get_weights(), saved = load_model(dir_ / "out.h5")->get_weights();
  ASSERT_EQ(last.size(), saved.size());
  for (std::size_t i = 0; i < last.size(); ++i) EXPECT_EQ(last[i].to_vector<float>(), saved[i].to_vector<float>());
}

TEST_F(CliFit, ValidationSplitHoldsOutTheLastSamples) {
  std::string out;
  ASSERT_EQ(run_strata("fit " + q(dir_ / "model.h5") + data() + " --epochs 2 --batch-size 16 --validation-split 0.25 "
                           "--verbose 0 --save " + q(dir_ / "out.h5") + " --history " + q(dir_ / "h.json"),
                       out),
            0)
      << out;
  const Config h = read_json(dir_ / "h.json");
  std::vector<std::string> keys;
  for (const auto& [k, v] : h.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"loss", "mae", "val_loss", "val_mae"}));
  for (const auto& k : keys) EXPECT_EQ(h[k].size(), 2u) << k;
  EXPECT_EQ(steps_taken(dir_ / "out.h5"), 2 * 3);  // 48 training samples in batches of 16
}

TEST_F(CliFit, ValidationArraysAgreeWithEvaluate) {
  write_npy(dir_ / "vx.npy", random_tensor(Shape{10, 4}, 3));
  write_npy(dir_ / "vy.npy", random_tensor(Shape{10, 2}, 4));
  std::string out;
  ASSERT_EQ(run_strata("fit " + q(dir_ / "model.h5") + data() + " --epochs 2 --verbose 0 --validation-x " +
                           q(dir_ / "vx.npy") + " --validation-y " + q(dir_ / "vy.npy") + " --save " + q(dir_ / "out.h5") +
                           " --history " + q(dir_ / "h.json"),
                       out),
            0)
      << out;
  const Config h = read_json(dir_ / "h.json");
  ASSERT_TRUE(h.contains("val_loss")) << h.dump();
  // Keras computes val_* at the end of the epoch with the final weights: the last ones are
  // what evaluate of the saved model reports.
  ASSERT_EQ(run_strata("evaluate " + q(dir_ / "out.h5") + " --x " + q(dir_ / "vx.npy") + " --y " + q(dir_ / "vy.npy") +
                           " --verbose 0",
                       out),
            0)
      << out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("^loss: (\\S+)\nmae: (\\S+)\n$"))) << out;
  EXPECT_DOUBLE_EQ(std::stod(m[1]), h["val_loss"][1].get<double>());
  EXPECT_DOUBLE_EQ(std::stod(m[2]), h["val_mae"][1].get<double>());
}

TEST_F(CliFit, EvaluatePrintsTheModelsLossAndMetrics) {
  std::string out;
  ASSERT_EQ(run_strata("evaluate " + q(dir_ / "model.h5") + data() + " --batch-size 20 --verbose 0", out), 0) << out;
  auto model = load_model(dir_ / "model.h5");
  const Logs logs = model->evaluate(read_npy(dir_ / "x.npy"), read_npy(dir_ / "y.npy"), 20, 0);
  std::ostringstream want;
  want << "loss: " << to_python_json(Config(logs.at("loss"))) << "\nmae: " << to_python_json(Config(logs.at("mae"))) << "\n";
  EXPECT_EQ(out, want.str());
}

// tf-keras 2.17 and 2.21, model.fit(x, y, epochs=2, verbose=2, validation_split=0.25):
//   Epoch 1/2
//   2/2 - 1s - loss: 1.3512 - mae: 1.0240 - val_loss: 1.3308 - val_mae: 1.0266 - 1s/epoch - 674ms/step
// and model.evaluate(x, y, verbose=2): "2/2 - 0s - loss: 1.0533 - mae: 0.8983 - 70ms/epoch - 35ms/step".
TEST_F(CliFit, VerboseTwoPrintsKerasEpochLines) {
  std::string out;
  ASSERT_EQ(run_strata("fit " + q(dir_ / "model.h5") + data() + " --epochs 2 --batch-size 24 --validation-split 0.25 "
                           "--verbose 2 --save " + q(dir_ / "out.h5"),
                       out),
            0)
      << out;
  const std::string t = "\\d+(s|ms|us)";
  const std::string num = "\\d+\\.\\d{4}";
  const std::string line = "2/2 - \\d+s - loss: " + num + " - mae: " + num + " - val_loss: " + num + " - val_mae: " + num +
                           " - " + t + "/epoch - " + t + "/step\n";
  EXPECT_TRUE(std::regex_search(out, std::regex("^Epoch 1/2\n" + line + "Epoch 2/2\n" + line + "saved '"))) << out;
  ASSERT_EQ(run_strata("evaluate " + q(dir_ / "model.h5") + data() + " --verbose 2", out), 0) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("^2/2 - \\d+s - loss: " + num + " - mae: " + num + " - " + t + "/epoch - " +
                                                t + "/step\nloss: ")))
      << out;
}

// The same lines through the C++ API (FitOptions::out), one epoch: no "Epoch" line, as Keras.
TEST(FitVerbose, TwoPrintsOneLinePerEpoch) {
  auto model = small_model(true);
  std::ostringstream text;
  FitOptions options;
  options.verbose = 2;
  options.out = &text;
  options.batch_size = 16;
  model->fit(random_tensor(Shape{32, 4}, 1), random_tensor(Shape{32, 2}, 2), options);
  EXPECT_TRUE(std::regex_match(text.str(), std::regex("2/2 - \\d+s - loss: \\d+\\.\\d{4} - mae: \\d+\\.\\d{4} - "
                                                      "\\d+(s|ms|us)/epoch - \\d+(s|ms|us)/step\n")))
      << text.str();
}

// ---- errors: one line on stderr, exit status 1 -------------------------------------------

void expect_one_line_error(const std::string& args, std::initializer_list<std::string> needles) {
  std::string out;
  EXPECT_EQ(run_strata(args, out), 1) << out;
  EXPECT_EQ(count_lines(out), 1u) << out;
  for (const auto& n : needles) EXPECT_NE(out.find(n), std::string::npos) << "'" << n << "' missing in: " << out;
}

TEST_F(CliFit, UncompiledModelIsAValueErrorSayingWhatToDo) {
  save_model(*small_model(false), dir_ / "plain.h5");
  for (const char* name : {"fit", "evaluate"}) {
    const std::string command = name;
    expect_one_line_error(command + " " + q(dir_ / "plain.h5") + data() + (command == "fit" ? " --save " + q(dir_ / "o.h5") : ""),
                          {"strata: error: ValueError", (dir_ / "plain.h5").string(), "no training configuration",
                           "model.compile"});
  }
  EXPECT_FALSE(fs::exists(dir_ / "o.h5"));
}

TEST_F(CliFit, ShapeMismatchNamesTheFileAndTheModelsShape) {
  write_npy(dir_ / "x5.npy", random_tensor(Shape{64, 5}, 1));
  expect_one_line_error("fit " + q(dir_ / "model.h5") + " --x " + q(dir_ / "x5.npy") + " --y " + q(dir_ / "y.npy") +
                            " --save " + q(dir_ / "o.h5"),
                        {"strata: error: ShapeError", "--x '" + (dir_ / "x5.npy").string() + "'", "(64, 5)", "(None, 4)"});
  write_npy(dir_ / "y1.npy", random_tensor(Shape{64, 3}, 1));
  expect_one_line_error("evaluate " + q(dir_ / "model.h5") + " --x " + q(dir_ / "x.npy") + " --y " + q(dir_ / "y1.npy"),
                        {"strata: error: ShapeError", "--y '" + (dir_ / "y1.npy").string() + "'"});
  // Samples that do not match between x and y.
  write_npy(dir_ / "y10.npy", random_tensor(Shape{10, 2}, 1));
  expect_one_line_error("fit " + q(dir_ / "model.h5") + " --x " + q(dir_ / "x.npy") + " --y " + q(dir_ / "y10.npy") +
                            " --save " + q(dir_ / "o.h5"),
                        {"strata: error: ShapeError", "64 samples"});
  // Two --x for a one-input model.
  expect_one_line_error("fit " + q(dir_ / "model.h5") + " --x " + q(dir_ / "x.npy") + data() + " --save " + q(dir_ / "o.h5"),
                        {"strata: error: ValueError", "1 inputs but 2 --x files", "model's input order"});
  EXPECT_FALSE(fs::exists(dir_ / "o.h5"));
}

TEST_F(CliFit, SaveToAnArchitectureOnlyFormatIsRefusedBeforeTraining) {
  expect_one_line_error("fit " + q(dir_ / "model.h5") + data() + " --save " + q(dir_ / "o.json"),
                        {"strata: error: ValueError", "o.json' is in format 'json', which does not hold a model's weights"});
  EXPECT_FALSE(fs::exists(dir_ / "o.json"));
}

TEST_F(CliFit, MissingFilesAreIOErrors) {
  expect_one_line_error("fit " + q(dir_ / "nope.h5") + data() + " --save " + q(dir_ / "o.h5"),
                        {"strata: error: IOError", (dir_ / "nope.h5").string(), "does not exist"});
  expect_one_line_error("fit " + q(dir_ / "model.h5") + " --x " + q(dir_ / "nox.npy") + " --y " + q(dir_ / "y.npy") +
                            " --save " + q(dir_ / "o.h5"),
                        {"strata: error: IOError", "--x '" + (dir_ / "nox.npy").string() + "' does not exist"});
  expect_one_line_error("evaluate " + q(dir_ / "model.h5") + " --x " + q(dir_ / "x.npy") + " --y " + q(dir_ / "noy.npy"),
                        {"strata: error: IOError", "--y '" + (dir_ / "noy.npy").string() + "' does not exist"});
}

TEST_F(CliFit, UsageErrorsExitTwo) {
  std::string out;
  EXPECT_EQ(run_strata("fit " + q(dir_ / "model.h5") + data(), out), 2) << out;  // no --save
  EXPECT_NE(out.find("save"), std::string::npos) << out;
  EXPECT_EQ(run_strata("fit " + q(dir_ / "model.h5") + data() + " --save o.h5 --validation-split 0.2 --validation-x " +
                           q(dir_ / "x.npy") + " --validation-y " + q(dir_ / "y.npy"),
                       out),
            2)
      << out;
  EXPECT_NE(out.find("either --validation-split or --validation-x"), std::string::npos) << out;
}

}  // namespace
}  // namespace strata::clitest
