// Keras 3 nodes with keyword tensors (issue 18), against files real Keras 3.15 wrote
// (tests/data/keras3_nodes, made by tests/interop/generate_keras3_nodes.py; no Python here).
// Keras 3 writes a call as {"args": [...], "kwargs": {...}} with "__keras_tensor__" objects
// among the positional arguments after the first and in keyword arguments
// (MultiHeadAttention's value/key/attention_mask, an RNN's initial_state, a cell's states).
// For each model: it loads from Keras 3's legacy H5 and from its to_json(), predicts what
// Keras 3 predicted, and Strata's config writes each node as tf-keras writes the same
// architecture (tf-keras's node dialect: Strata does not write Keras 3 nodes).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "strata/model.hpp"
#include "strata/saving.hpp"
#include "strata/tensor.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(STRATA_SOURCE_DIR) / "tests" / "data" / "keras3_nodes";

Config read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return Config::parse(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

const Config& index() {
  static const Config i = read_json(kDir / "index.json");
  return i;
}

// A nested list of numbers as a float tensor.
Tensor tensor_of(const Config& v) {
  std::vector<std::int64_t> dims;
  for (const Config* p = &v; p->is_array(); p = &(*p)[0]) dims.push_back(static_cast<std::int64_t>(p->size()));
  std::vector<float> values;
  std::function<void(const Config&)> flat = [&](const Config& e) {
    if (e.is_array()) {
      for (const auto& x : e) flat(x);
    } else {
      values.push_back(e.get<float>());
    }
  };
  flat(v);
  return Tensor::from_vector(values, Shape(dims));
}

class Keras3Nodes : public ::testing::TestWithParam<std::string> {
 protected:
  const Config& entry() const { return index()["models"][GetParam()]; }

  void expect_predictions(const Model& model) const {
    std::vector<Tensor> inputs;
    for (const auto& x : entry()["inputs"]) inputs.push_back(tensor_of(x));
    const auto got = model.predict(inputs);
    const Config& refs = entry()["outputs"];
    ASSERT_EQ(got.size(), refs.size());
    for (std::size_t o = 0; o < got.size(); ++o) {
      const Tensor ref = tensor_of(refs[o]);
      ASSERT_EQ(got[o].shape().to_string(), ref.shape().to_string()) << "output " << o;
      const auto g = got[o].to_vector<float>();
      const auto r = ref.to_vector<float>();
      for (std::size_t i = 0; i < r.size(); ++i) {
        ASSERT_LE(std::abs(g[i] - r[i]), 1e-5 + 1e-5 * std::abs(r[i])) << "output " << o << " element " << i;
      }
    }
  }

  // Each node as tf-keras writes the same architecture.
  void expect_tf_keras_nodes(const Model& model) const {
    const Config config = model_config(model)["config"];
    const Config& expected = entry()["tf_keras_inbound_nodes"];
    std::size_t seen = 0;
    for (const auto& layer : config["layers"]) {
      const std::string name = layer["name"].get<std::string>();
      if (!expected.contains(name)) continue;
      ++seen;
      EXPECT_EQ(layer["inbound_nodes"].dump(), expected[name].dump()) << "layer " << name;
    }
    EXPECT_EQ(seen, expected.size());
  }
};

TEST_P(Keras3Nodes, LoadsKeras3LegacyH5AndPredictsAsKeras3) {
  const auto model = load_model(kDir / (GetParam() + ".h5"));
  expect_predictions(*model);
  expect_tf_keras_nodes(*model);
}

TEST_P(Keras3Nodes, LoadsKeras3ToJsonAndWritesTfKerasNodes) {
  std::ifstream in(kDir / (GetParam() + ".json"), std::ios::binary);
  const auto model = model_from_json(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
  expect_tf_keras_nodes(*model);
  // Strata's own config (tf-keras's dialect) builds the same model again.
  const auto again = model_from_config(model_config(*model));
  EXPECT_EQ(model_config(*again).dump(), model_config(*model).dump());
}

// tf-keras loads Strata's H5 save of the model Keras 3 wrote (nodes in tf-keras's dialect)
// and predicts what Keras 3 predicted.
TEST_P(Keras3Nodes, TfKerasLoadsStrataH5OfTheKeras3ModelAndPredictsTheSame) {
  const fs::path python = test::interop_venv() / "bin/python";
  if (!fs::exists(python)) GTEST_SKIP() << "no tf-keras venv at " << python;
  const auto model = load_model(kDir / (GetParam() + ".h5"));
  const auto dir = fs::temp_directory_path() / ("strata_keras3_nodes_" + GetParam() + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  save_model(*model, dir / "model.h5");
  std::ofstream(dir / "check.py") << R"(import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np, tf_keras as keras
d, index, name = sys.argv[1], sys.argv[2], sys.argv[3]
entry = json.load(open(index))["models"][name]
if tuple(int(v) for v in keras.__version__.split(".")[:2]) < (2, 21):
    print("skip: tf-keras", keras.__version__)  # refuses the InputLayer key 'optional' Keras 3 wrote
    sys.exit(0)
m = keras.models.load_model(os.path.join(d, "model.h5"))
got = m.predict([np.array(x, dtype="float32") for x in entry["inputs"]], verbose=0)
got = got if isinstance(got, list) else [got]
for i, ref in enumerate(entry["outputs"]):
    ref = np.array(ref, dtype="float32")
    ok = got[i].shape == ref.shape and bool(np.all(np.abs(got[i] - ref) <= 1e-5 + 1e-5 * np.abs(ref)))
    print("output", i, "ok" if ok else "differs")
)";
  const std::string cmd = "'" + python.string() + "' '" + (dir / "check.py").string() + "' '" + dir.string() + "' '" +
                          (kDir / "index.json").string() + "' " + GetParam() + " 2>&1";
  std::string out;
  if (FILE* pipe = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    ::pclose(pipe);
  }
  fs::remove_all(dir);
  // Strata writes back the InputLayer key `optional` as read (Keras 3 and tf-keras 2.21 write
  // it); tf-keras before 2.21 refuses it.
  if (out.rfind("skip: ", 0) == 0) GTEST_SKIP() << out;
  for (std::size_t i = 0; i < entry()["outputs"].size(); ++i) {
    EXPECT_NE(out.find("output " + std::to_string(i) + " ok"), std::string::npos) << out;
  }
}

TEST(Keras3NodesFixtures, WrittenByKeras3) {
  EXPECT_EQ(index()["keras"].get<std::string>().substr(0, 2), "3.");
  EXPECT_EQ(index()["models"].size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Keras3, Keras3Nodes,
                         ::testing::Values("rnn_initial_state", "mha_keyword_tensors", "cell_states"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace strata
