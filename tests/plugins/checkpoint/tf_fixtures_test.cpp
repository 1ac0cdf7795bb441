// Checkpoints written by TensorFlow 2.17.1 / tf-keras 2.17.0 (tests/data/checkpoint, made by
// generate_checkpoint_fixtures.py; or 2.21's, written at test time into a cache, when
// $STRATA_CHECKPOINT_FIXTURE_DIR names them) read and restored by Strata; Strata's checkpoints of the
// same models keyed exactly as TensorFlow keys them; and (label interop, needs the venv)
// Strata's checkpoints read back by TensorFlow and tf-keras.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "bundle.hpp"
#include "checkpoint_test_util.hpp"
#include "format_checkpoint.hpp"
#include "npy.hpp"
#include "strata/plugin/file_system.hpp"
#include "interop_venv.hpp"

namespace strata {
namespace {

using namespace ckpt_test;
namespace fs = std::filesystem;
using testing::read_npy;

const char* const kModelCases[] = {"sequential", "functional", "nested", "rnn", "guide_pretrained"};
const char* const kOptimizerCases[] = {"adam", "legacy_adam"};

std::shared_ptr<Model> model_of(const std::string& name) {
  clear_session();
  return model_from_json(read_file(kFixtures / name / "model.json"));
}

void compile_like_the_fixture(Model& model) {
  model.compile(Config{{"class_name", "Adam"}, {"config", {{"learning_rate", 0.01}}}}, Config("mse"));
}

// keys.json: {key: [dtype, shape]} as tf.train.load_checkpoint listed them.
Config keys_json(const std::string& name) { return parse_python_json(read_file(kFixtures / name / "keys.json"), "keys.json"); }

void expect_keys_like(const CheckpointReader& reader, const Config& want, const std::string& what) {
  std::map<std::string, std::pair<std::string, Shape>> got, expected;
  for (const auto& [k, d] : reader.variable_to_dtype_map()) got[k] = {std::string(dtype_name(d)), reader.shape(k)};
  for (auto it = want.begin(); it != want.end(); ++it) {
    std::string dtype = (*it)[0].get<std::string>();
    if (dtype == "string") dtype = "string";
    expected[it.key()] = {dtype, Shape((*it)[1].get<std::vector<std::int64_t>>())};
  }
  EXPECT_EQ(got.size(), expected.size()) << what;
  for (const auto& [k, v] : expected) {
    auto it = got.find(k);
    if (it == got.end()) {
      ADD_FAILURE() << what << ": missing key " << k;
      continue;
    }
    EXPECT_EQ(it->second.first, v.first) << what << ": dtype of " << k;
    EXPECT_EQ(it->second.second, v.second) << what << ": shape of " << k;
  }
  for (const auto& [k, v] : got) {
    if (!expected.count(k)) ADD_FAILURE() << what << ": extra key " << k;
  }
}

// The generator leaves snappy/ out of a second-version directory when the system python3 has
// no snappy module (python3-snappy); the committed set always has it.
constexpr const char* kNoSnappy =
    "no snappy/ in this second-version fixture directory (the generator's system python3 has no python3-snappy)";
bool no_snappy_case() {
  return strata::test::fixture_dir_overridden("STRATA_CHECKPOINT_FIXTURE_DIR") && !fs::exists(kFixtures / "snappy");
}

class TfFixtures : public ::testing::Test {
 protected:
  void SetUp() override {
    clear_session();
    load_custom_plugin();
  }
};

TEST_F(TfFixtures, ReaderListsEveryKeyDtypeShapeAndReadsEveryValue) {
  for (const std::string name : {"sequential", "functional", "nested", "rnn", "guide_pretrained", "adam", "legacy_adam",
                                 "snappy"}) {
    const std::string keys_from = name == "snappy" ? "sequential" : name;
    if (name == "snappy" && no_snappy_case()) continue;
    const auto reader = load_checkpoint(kFixtures / name / "ckpt");
    expect_keys_like(*reader, keys_json(keys_from), name);
    for (const auto& k : reader->keys()) {
      const Tensor t = reader->get_tensor(k);
      EXPECT_EQ(t.shape(), reader->shape(k)) << name << " " << k;
    }
  }
  // The directory's `checkpoint` file (written by Keras's save_weights) names the prefix.
  EXPECT_EQ(latest_checkpoint(kFixtures / "sequential"), kFixtures / "sequential" / "ckpt");
}

TEST_F(TfFixtures, SnappyIndexGivesTheSameValues) {
  if (no_snappy_case()) GTEST_SKIP() << kNoSnappy;
  const auto plain = load_checkpoint(kFixtures / "sequential/ckpt");
  const auto snappy = load_checkpoint(kFixtures / "snappy/ckpt");
  for (const auto& k : plain->keys()) {
    if (k == "_CHECKPOINTABLE_OBJECT_GRAPH") continue;
    EXPECT_EQ(snappy->get_tensor(k).to_vector<float>(), plain->get_tensor(k).to_vector<float>()) << k;
  }
  auto model = model_of("sequential");
  model->load_weights(kFixtures / "snappy/ckpt").assert_consumed();
  expect_close(model->predict(read_npy(kFixtures / "sequential/x.npy")), read_npy(kFixtures / "sequential/y.npy"));
}

TEST_F(TfFixtures, RestoredModelsPredictWhatKerasPredicted) {
  for (const std::string name : kModelCases) {
    auto model = model_of(name);
    model->load_weights(kFixtures / name / "ckpt").assert_consumed();
    expect_close(model->predict(read_npy(kFixtures / name / "x.npy")), read_npy(kFixtures / name / "y.npy"), 1e-5, 1e-5,
                 name);
  }
}

TEST_F(TfFixtures, StrataKeysTheSameModelsExactlyAsTensorFlow) {
  const fs::path dir = fresh_dir("samekeys");
  for (const std::string name : {"sequential", "functional", "nested", "rnn", "guide_pretrained", "adam"}) {
    auto model = model_of(name);
    if (name == "adam") compile_like_the_fixture(*model);
    model->load_weights(kFixtures / name / "ckpt").assert_consumed();
    model->save_weights(dir / name);
    expect_keys_like(*load_checkpoint(dir / name), keys_json(name), name);
  }
}

TEST_F(TfFixtures, SequentialIndexAndObjectGraphAreByteIdentical) {
  // For a model whose TensorFlow graph has no value-less helper nodes, Strata writes the very
  // same object graph and index (names, node ids, attributes, offsets, checksums). Not tied to
  // one version: TensorFlow 2.17.1 and 2.21.0 write these three files byte for byte alike (the
  // second version, checkpoint.fixtures.current_venv, runs this against 2.21's).
  const fs::path dir = fresh_dir("identical");
  auto model = model_of("sequential");
  model->load_weights(kFixtures / "sequential/ckpt").assert_consumed();
  model->save_weights(dir / "ckpt");
  EXPECT_EQ(read_file(dir / "ckpt.index"), read_file(kFixtures / "sequential/ckpt.index"));
  EXPECT_EQ(read_file(dir / "ckpt.data-00000-of-00001"), read_file(kFixtures / "sequential/ckpt.data-00000-of-00001"));
  EXPECT_EQ(read_file(dir / "checkpoint"), read_file(kFixtures / "sequential/checkpoint"));
}

TEST_F(TfFixtures, OptimizerStateRestoresAndTrainingResumesAsInKeras) {
  for (const std::string name : kOptimizerCases) {
    auto model = model_of(name);
    compile_like_the_fixture(*model);
    LoadStatus status = model->load_weights(kFixtures / name / "ckpt");
    if (name == "legacy_adam") {
      // OptimizerV2's hyper-parameter variables have no counterpart in a tf-keras 2.11+ optimizer.
      EXPECT_EQ(status.unused_values(), (std::vector<std::string>{"optimizer/beta_1/.ATTRIBUTES/VARIABLE_VALUE",
                                                                  "optimizer/beta_2/.ATTRIBUTES/VARIABLE_VALUE",
                                                                  "optimizer/decay/.ATTRIBUTES/VARIABLE_VALUE"}));
      status.assert_existing_objects_matched();
    } else {
      status.assert_consumed();
    }
    EXPECT_EQ(model->optimizer()->iterations().value().item<std::int64_t>(), 3) << name;
    expect_close(model->predict(read_npy(kFixtures / name / "x.npy")), read_npy(kFixtures / name / "y.npy"), 1e-5, 1e-5,
                 name);
    const Tensor xt = read_npy(kFixtures / name / "xt.npy"), yt = read_npy(kFixtures / name / "yt.npy");
    for (int i = 0; i < 2; ++i) model->train_on_batch({xt}, {yt});
    const auto weights = model->get_weights();
    for (std::size_t i = 0; i < weights.size(); ++i) {
      expect_close(weights[i], read_npy(kFixtures / name / ("after_" + std::to_string(i) + ".npy")), 1e-5, 1e-4,
                   name + " weight " + std::to_string(i) + " after resuming");
    }
    EXPECT_EQ(model->optimizer()->iterations().value().item<std::int64_t>(), 5) << name;
  }
}

TEST_F(TfFixtures, GuideCustomLayerCheckpoint) {
  const fs::path path = kFixtures / "custom_layer/custom_layer-1";
  const auto reader = load_checkpoint(path);
  EXPECT_EQ(reader->variable_to_dtype_map(),
            (std::map<std::string, DType>{{"_CHECKPOINTABLE_OBJECT_GRAPH", DType::kString},
                                          {"layer/var/.ATTRIBUTES/VARIABLE_VALUE", DType::kInt32},
                                          {"save_counter/.ATTRIBUTES/VARIABLE_VALUE", DType::kInt64}}));
  // The stored graph names the variable var_a, the key says var.
  const auto graph = reader->object_graph();
  ASSERT_TRUE(graph.has_value());
  bool found = false;
  for (const auto& n : graph->nodes) {
    for (const auto& a : n.attributes) found |= a.full_name == "var_a" && a.checkpoint_key == "layer/var/.ATTRIBUTES/VARIABLE_VALUE";
  }
  EXPECT_TRUE(found);
  auto layer = std::make_shared<VarLayer>(0);
  Checkpoint ckpt({{"layer", layer}});
  ckpt.restore(path).assert_consumed();
  EXPECT_EQ(layer->var().value().item<std::int32_t>(), 5);
  EXPECT_EQ(ckpt.save_counter(), 1);
  EXPECT_EQ(latest_checkpoint(kFixtures / "custom_layer"), path);
}

TEST_F(TfFixtures, GuideNamedPiecesIntoASubclassedModel) {
  auto sub = model_from_config(Config{{"class_name", "SubclassedModel"}, {"config", Config::object()}});
  sub->predict(Tensor::zeros(DType::kFloat32, Shape{1, 784}));
  auto first = sub->get_layer("dense_1");
  auto last = sub->get_layer("predictions");
  Checkpoint({{"dense", first}, {"kernel", weight_of(*last, "kernel")}, {"bias", weight_of(*last, "bias")}})
      .restore(kFixtures / "guide_pieces/ckpt-1")
      .assert_consumed();
  const fs::path d = kFixtures / "guide_pieces";
  expect_close(weight_of(*first, "kernel").value(), read_npy(d / "dense_kernel.npy"), 0, 0);
  expect_close(weight_of(*first, "bias").value(), read_npy(d / "dense_bias.npy"), 0, 0);
  expect_close(weight_of(*last, "kernel").value(), read_npy(d / "kernel.npy"), 0, 0);
  expect_close(weight_of(*last, "bias").value(), read_npy(d / "bias.npy"), 0, 0);
}

TEST_F(TfFixtures, GuidePretrainedWeightsIntoANewModel) {
  clear_session();
  auto model = guide_mlp(5, "new_model");
  LoadStatus status = model->load_weights(kFixtures / "guide_pretrained/ckpt");
  EXPECT_EQ(status.restored(), 4u);
  EXPECT_EQ(status.unset_weights().size(), 2u);
  EXPECT_THROW(status.assert_existing_objects_matched(), ValueError);
  status.expect_partial();
}

// ---- Strata writes, TensorFlow reads (label interop) -----------------------------------------------

using strata::test::interop_venv;

// Rewrites a checkpoint Strata wrote through the writer's parallel path: its values spread
// over two data shards written by two threads, as a save of a large model does.
void rewrite_in_parallel_shards(const fs::path& prefix) {
  CheckpointContents c;
  std::optional<CheckpointObjectGraph> graph;
  {
    ckpt::BundleReader r(prefix);
    for (const auto& key : r.keys()) {
      if (key != ckpt::kObjectGraphKey) c.tensors.emplace_back(key, r.get_tensor(key, Device::cpu()));
    }
    graph = r.object_graph();
  }
  c.object_graph = graph ? &*graph : nullptr;
  ckpt::write_bundle(prefix, c, {.parallel_from_bytes = 0, .max_data_shards = 2, .cores = 2});
  ASSERT_GE(ckpt::BundleReader(prefix).index().header.num_shards, 2);
}

TEST_F(TfFixtures, InteropTensorFlowReadsStrataCheckpoints) {
  const fs::path python = interop_venv() / "bin/python";
  if (!fs::exists(python)) GTEST_SKIP() << "no TensorFlow venv at " << interop_venv() << " (tests/interop/setup_venv.sh makes it)";
  const fs::path dir = fresh_dir("interop");
  for (const std::string name : {"sequential", "functional", "nested", "rnn", "guide_pretrained", "adam"}) {
    auto model = model_of(name);
    if (name == "adam") compile_like_the_fixture(*model);
    model->load_weights(kFixtures / name / "ckpt").assert_consumed();
    // New values, so that TensorFlow must read Strata's bytes to predict what Strata predicts.
    std::vector<Tensor> changed;
    for (const auto& w : model->get_weights()) {
      auto v = w.to_vector<float>();
      for (auto& e : v) e = e * 0.5f + 0.1f;
      changed.push_back(Tensor::from_vector<float>(v, w.shape()));
    }
    model->set_weights(changed);
    fs::create_directories(dir / name);
    model->save_weights(dir / name / "ckpt");
    // Saved twice, a prefix switches to the two-shard layout (DECISIONS.md): TensorFlow must
    // read that too.
    if (name == "functional" || name == "adam") model->save_weights(dir / name / "ckpt");
    // Values spread over data shards written in parallel (large saves): TensorFlow must read
    // those too, the adam one with an empty third shard (the layout after two shards).
    if (name == "nested" || name == "adam") rewrite_in_parallel_shards(dir / name / "ckpt");
    testing::write_npy(dir / name / "strata_y.npy", model->predict(read_npy(kFixtures / name / "x.npy")));
  }
  auto layer = std::make_shared<VarLayer>(5);
  fs::create_directories(dir / "custom_layer");
  Checkpoint({{"layer", layer}}).save(dir / "custom_layer" / "custom_layer");

  const fs::path log = dir / "verify.log";
  const std::string cmd = "TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 '" + python.string() + "' '" +
                          STRATA_CHECKPOINT_GENERATOR + "' --out '" + kFixtures.string() + "' --verify '" + dir.string() +
                          "' > '" + log.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  const std::string output = read_file(log);
  EXPECT_EQ(rc, 0) << output;
  std::cout << output;
}

}  // namespace
}  // namespace strata
