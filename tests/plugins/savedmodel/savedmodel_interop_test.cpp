// Label interop: what TensorFlow 2.17 / tf-keras 2.17 say about a SavedModel written by
// Strata (needs the venv of tests/interop/setup_venv.sh; skips with the reason without it).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "fixture_dir.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/npy.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;

fs::path venv_python() {
  const char* env = std::getenv("STRATA_INTEROP_VENV");
  const char* home = std::getenv("HOME");
  const fs::path venv = env ? fs::path(env) : fs::path(home ? home : "/root") / ".cache/strata/interop-venv";
  return venv / "bin" / "python";
}

std::string run(const std::string& cmd, int& rc) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = ::pclose(p);
  rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// What TensorFlow says of the SavedModel Strata writes for `model`: the loader script's
// lines, each "<level>: ok ..." or "<level>: FAILED ...". x is the test input, tx/ty a
// training batch for tf-keras's fit after load_model.
std::string tensorflow_verdict(const strata::Model& model, const std::string& name, const strata::Tensor& x,
                               const strata::Tensor& tx, const strata::Tensor& ty, int& rc) {
  const fs::path root = fs::temp_directory_path() / ("strata_sm_interop_" + name + "_" + std::to_string(::getpid()));
  const fs::path dir = root / "m";
  fs::remove_all(root);
  strata::save_model(model, dir);
  strata::write_npy(root / "x.npy", x);
  strata::write_npy(root / "strata_y.npy", model.predict(x));
  strata::write_npy(root / "tx.npy", tx);
  strata::write_npy(root / "ty.npy", ty);
  const std::string out = run(venv_python().string() + " " + STRATA_SAVEDMODEL_KERAS_LOADER + " " + dir.string() + " " +
                                  (root / "x.npy").string() + " " + (root / "strata_y.npy").string() + " " +
                                  (root / "tx.npy").string() + " " + (root / "ty.npy").string() + " 2>/dev/null",
                              rc);
  std::printf("TensorFlow said of '%s':\n%s", name.c_str(), out.c_str());
  fs::remove_all(root);
  return out;
}

void expect_all_levels_ok(const std::string& out, int rc) {
  EXPECT_EQ(rc, 0) << out;
  for (const char* level : {"tf-load: ok", "call: ok", "cli: ok", "cli-run: ok", "keras-load: ok", "keras-fit: ok",
                            "checkpoint: ok", "keys: ok"}) {
    EXPECT_NE(out.find(level), std::string::npos) << level << " missing in:\n" << out;
  }
}

// TensorFlow runs Strata's SavedModels: tf.saved_model.load's serving_default signature and
// its __call__ return what Strata predicts, saved_model_cli lists the signature and its
// shapes and runs it through TF1's session loader, tf-keras's load_model rebuilds the model from the per-layer Keras metadata,
// predicts the same, comes back compiled with the saved optimizer and trains on, and the
// variables read as a checkpoint. The models: tf-keras's fixtures, loaded in Strata and
// saved again.
class SavedModelInterop : public ::testing::TestWithParam<std::string> {};

TEST_P(SavedModelInterop, TensorFlowRunsStrataSavedModels) {
  const fs::path py = venv_python();
  if (!fs::exists(py)) GTEST_SKIP() << "no interop venv at " << py << " (run tests/interop/setup_venv.sh)";
  const fs::path fixtures = strata::test::fixture_dir("STRATA_SAVEDMODEL_FIXTURE_DIR", STRATA_SAVEDMODEL_FIXTURES);
  auto model = strata::load_model(fixtures / GetParam());
  int rc = -1;
  const std::string out = tensorflow_verdict(*model, GetParam(), strata::read_npy(fixtures / (GetParam() + ".x.npy")),
                                             strata::read_npy(fixtures / (GetParam() + ".tx.npy")),
                                             strata::read_npy(fixtures / (GetParam() + ".ty.npy")), rc);
  RecordProperty("tf_output", out);
  expect_all_levels_ok(out, rc);
  EXPECT_NE(out.find("optimizer Adam"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Models, SavedModelInterop,
                         ::testing::Values("dense_sequential", "conv_bn_functional", "lstm_sequential"));

// A model built and trained in Strata, with layers of many kinds (convolution, batch
// normalization, pooling, a nested Sequential with dropout, a GRU over the image's rows,
// concatenation, layer normalization, kernel and activity regularizers, so its traces carry
// loss terms): every level above holds for it too.
TEST(SavedModelInteropZoo, TensorFlowRunsAStrataTrainedModelOfManyLayerKinds) {
  const fs::path py = venv_python();
  if (!fs::exists(py)) GTEST_SKIP() << "no interop venv at " << py << " (run tests/interop/setup_venv.sh)";
  using strata::Config;
  using strata::make_layer;
  strata::Tensor image = strata::Input(strata::Shape{6, 6, 2}, "image");
  strata::Tensor h = (*make_layer("Conv2D", Config{{"filters", 4}, {"kernel_size", 3}, {"padding", "same"}}))(image);
  h = (*make_layer("BatchNormalization"))(h);
  h = (*make_layer("Activation", Config{{"activation", "relu"}}))(h);
  h = (*make_layer("MaxPooling2D", Config{{"pool_size", 2}}))(h);
  strata::Tensor a = (*make_layer("Flatten"))(h);
  const Config l2{{"class_name", "L2"}, {"config", Config{{"l2", 0.01}}}};
  a = (*make_layer("Dense", Config{{"units", 8}, {"activation", "relu"}, {"kernel_regularizer", l2},
                                   {"activity_regularizer", l2}}))(a);
  strata::Tensor b = (*make_layer("GlobalAveragePooling2D"))(h);
  auto head = std::make_shared<strata::Sequential>(
      std::vector<std::shared_ptr<strata::Layer>>{make_layer("Dense", Config{{"units", 6}, {"activation", "tanh"}}),
                                                  make_layer("Dropout", Config{{"rate", 0.25}})},
      "head");
  b = (*head)(b);
  strata::Tensor rows = (*make_layer("Reshape", Config{{"target_shape", {6, 12}}}))(image);
  strata::Tensor c = (*make_layer("GRU", Config{{"units", 5}}))(rows);
  strata::Tensor joined = (*make_layer("Concatenate"))(std::vector<strata::Tensor>{a, b, c})[0];
  joined = (*make_layer("LayerNormalization"))(joined);
  strata::Tensor out = (*make_layer("Dense", Config{{"units", 3}, {"activation", "softmax"}}))(joined);
  strata::Functional model({image}, {out}, "zoo");
  model.compile(Config{{"class_name", "Adam"}, {"config", Config{{"learning_rate", 0.01}}}},
                Config("categorical_crossentropy"));
  const strata::Tensor tx = strata::random_normal(strata::Shape{16, 6, 6, 2}, strata::DType::kFloat32, 0, 1, 7);
  const strata::Tensor ty = strata::one_hot(strata::argmax(strata::random_normal(strata::Shape{16, 3}, strata::DType::kFloat32, 0, 1, 8), 1), 3);
  strata::FitOptions fit;
  fit.epochs = 2;
  fit.batch_size = 8;
  fit.verbose = 0;
  model.fit(tx, ty, fit);
  int rc = -1;
  const std::string verdict =
      tensorflow_verdict(model, "zoo", strata::random_normal(strata::Shape{5, 6, 6, 2}, strata::DType::kFloat32, 0, 1, 9),
                         tx, ty, rc);
  RecordProperty("tf_output", verdict);
  expect_all_levels_ok(verdict, rc);
}

// Causal attention on sequences of unknown length (MultiHeadAttention and Attention with
// use_causal_mask), trained in Strata on 6 steps and run by TensorFlow on 9: the traced
// serving function computes its masks from the sequence (Slice, OnesLike, Cumsum,
// GreaterEqual) rather than holding a constant of the training length, and every level holds.
TEST(SavedModelInteropCausal, TensorFlowRunsCausalAttentionOnAnotherSequenceLength) {
  const fs::path py = venv_python();
  if (!fs::exists(py)) GTEST_SKIP() << "no interop venv at " << py << " (run tests/interop/setup_venv.sh)";
  const std::string json = R"({"class_name": "Functional", "config": {"name": "causal", "trainable": true, "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [null, null, 4], "dtype": "float32", "name": "x"},
     "name": "x", "inbound_nodes": []},
    {"class_name": "MultiHeadAttention", "config": {"name": "mha", "num_heads": 2, "key_dim": 2}, "name": "mha",
     "inbound_nodes": [[["x", 0, 0, {"value": ["x", 0, 0], "use_causal_mask": true}]]]},
    {"class_name": "Attention", "config": {"name": "att"}, "name": "att",
     "inbound_nodes": [[["mha", 0, 0, {"use_causal_mask": true}], ["mha", 0, 0, {"use_causal_mask": true}]]]},
    {"class_name": "Dense", "config": {"name": "out", "units": 3}, "name": "out",
     "inbound_nodes": [[["att", 0, 0, {}]]]}],
    "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}})";
  auto model = strata::model_from_json(json);
  model->compile(strata::Config{{"class_name", "Adam"}, {"config", strata::Config{{"learning_rate", 0.01}}}},
                 strata::Config("mse"));
  const strata::Tensor tx = strata::random_normal(strata::Shape{16, 6, 4}, strata::DType::kFloat32, 0, 1, 11);
  const strata::Tensor ty = strata::random_normal(strata::Shape{16, 6, 3}, strata::DType::kFloat32, 0, 1, 12);
  strata::FitOptions fit;
  fit.epochs = 2;
  fit.batch_size = 8;
  fit.verbose = 0;
  model->fit(tx, ty, fit);
  int rc = -1;
  const std::string verdict = tensorflow_verdict(
      *model, "causal", strata::random_normal(strata::Shape{5, 9, 4}, strata::DType::kFloat32, 0, 1, 13), tx, ty, rc);
  RecordProperty("tf_output", verdict);
  expect_all_levels_ok(verdict, rc);
}

}  // namespace

// The serving signature is keyed by the model's names, as tf-keras keys it: inputs by their
// Input layers' names, outputs by Keras's output_names (the output layers' names, a repeated
// one suffixed _1, _2, ...), and TensorFlow flattens both in key order, so the keys here are
// chosen to sort differently from the model's order. TensorFlow's signature call and
// saved_model_cli's session run return, under each key, what Strata predicts for that output;
// tf-keras, loading the file and saving it again, writes the same keys.
TEST(SavedModelInteropSignature, KeyedByTheModelsInputAndOutputNames) {
  const fs::path py = venv_python();
  if (!fs::exists(py)) GTEST_SKIP() << "no interop venv at " << py << " (run tests/interop/setup_venv.sh)";
  using strata::Config;
  using strata::make_layer;
  strata::Tensor x = strata::Input(strata::Shape{3}, "x");
  strata::Tensor a_in = strata::Input(strata::Shape{2}, "a_in");
  auto zeta = make_layer("Dense", Config{{"units", 2}, {"name", "zeta"}});
  strata::Tensor z = (*zeta)(x);
  strata::Tensor cat = (*make_layer("Concatenate", Config{{"name", "alpha"}}))(std::vector<strata::Tensor>{x, a_in})[0];
  strata::Tensor m = (*make_layer("Dense", Config{{"units", 1}, {"name", "mid"}}))(cat);
  strata::Functional model({x, a_in}, {z, cat, m, z}, "named");
  const strata::Tensor xv = strata::random_normal(strata::Shape{4, 3}, strata::DType::kFloat32, 0, 1, 3);
  const strata::Tensor av = strata::random_normal(strata::Shape{4, 2}, strata::DType::kFloat32, 0, 1, 4);
  const auto want = model.predict(std::vector<strata::Tensor>{xv, av});
  ASSERT_EQ(want.size(), 4u);

  const fs::path root = fs::temp_directory_path() / ("strata_sm_keys_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "in");
  strata::save_model(model, root / "m");
  strata::write_npy(root / "in" / "x.npy", xv);
  strata::write_npy(root / "in" / "a_in.npy", av);
  int rc = -1;
  const std::string out = run(py.string() + " " + STRATA_SAVEDMODEL_SIGNATURE_RUN + " " + (root / "m").string() + " " +
                                  (root / "in").string() + " " + (root / "out").string() + " 2>&1",
                              rc);
  std::printf("TensorFlow said:\n%s", out.c_str());
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("inputs: a_in x\n"), std::string::npos) << out;
  EXPECT_NE(out.find("outputs: alpha mid zeta zeta_1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("tf-keras: inputs: a_in x outputs: alpha mid zeta zeta_1"), std::string::npos) << out;
  const std::pair<const char*, std::size_t> by_key[] = {{"zeta", 0}, {"alpha", 1}, {"mid", 2}, {"zeta_1", 3}};
  for (const char* how : {"tf", "cli"}) {
    for (const auto& [key, index] : by_key) {
      const fs::path file = root / "out" / how / (std::string(key) + ".npy");
      ASSERT_TRUE(fs::exists(file)) << file << "\n" << out;
      const strata::Tensor got = strata::read_npy(file);
      EXPECT_LE(strata::max(strata::abs(strata::sub(got, want[index]))).item<float>(), 1e-5f) << how << " " << key;
    }
  }
  fs::remove_all(root);
}
