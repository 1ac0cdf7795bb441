// strata::Checkpoint, CheckpointManager, load_checkpoint, latest_checkpoint and the model
// weight entry points, written and read by Strata (the plugins are loaded by test_main).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "checkpoint_test_util.hpp"
#include "format_checkpoint.hpp"
#include "strata/log.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/file_system.hpp"

namespace strata {
namespace {

using namespace ckpt_test;
namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clear_session();
    load_custom_plugin();
  }
};

TEST_F(CheckpointTest, GuideCustomLayerKeysSayVar) {
  const fs::path dir = fresh_dir("var");
  auto layer = std::make_shared<VarLayer>(5);
  Checkpoint ckpt({{"layer", layer}});
  const fs::path path = ckpt.save(dir / "custom_layer");
  EXPECT_EQ(path, dir / "custom_layer-1");
  const auto reader = load_checkpoint(path);
  const auto dtypes = reader->variable_to_dtype_map();
  EXPECT_EQ(dtypes, (std::map<std::string, DType>{{"_CHECKPOINTABLE_OBJECT_GRAPH", DType::kString},
                                                  {"layer/var/.ATTRIBUTES/VARIABLE_VALUE", DType::kInt32},
                                                  {"save_counter/.ATTRIBUTES/VARIABLE_VALUE", DType::kInt64}}));
  EXPECT_EQ(reader->get_tensor("layer/var/.ATTRIBUTES/VARIABLE_VALUE").item<std::int32_t>(), 5);
  EXPECT_EQ(latest_checkpoint(dir), path);
  EXPECT_EQ(read_checkpoint_state(dir)->all_model_checkpoint_paths, std::vector<std::string>{"custom_layer-1"});

  auto other = std::make_shared<VarLayer>(0);
  Checkpoint restored({{"layer", other}});
  restored.restore(path).assert_consumed();
  EXPECT_EQ(other->var().value().item<std::int32_t>(), 5);
  EXPECT_EQ(restored.save_counter(), 1);
  // Restoring from the directory means its latest checkpoint.
  Variable(other->var()).assign(Tensor::scalar<std::int32_t>(0));
  restored.restore(dir).assert_consumed();
  EXPECT_EQ(other->var().value().item<std::int32_t>(), 5);
}

TEST_F(CheckpointTest, SaveNumbersAndWriteDoesNot) {
  const fs::path dir = fresh_dir("numbers");
  auto layer = std::make_shared<VarLayer>(1);
  Checkpoint ckpt({{"layer", layer}});
  EXPECT_EQ(ckpt.save(dir / "ckpt"), dir / "ckpt-1");
  Variable(layer->var()).assign(Tensor::scalar<std::int32_t>(2));
  EXPECT_EQ(ckpt.save(dir / "ckpt"), dir / "ckpt-2");
  EXPECT_EQ(ckpt.save_counter(), 2);
  EXPECT_EQ(latest_checkpoint(dir), dir / "ckpt-2");
  ckpt.restore(dir / "ckpt-1").assert_consumed();
  EXPECT_EQ(layer->var().value().item<std::int32_t>(), 1);
  EXPECT_EQ(ckpt.save_counter(), 1);

  auto plain = std::make_shared<VarLayer>(7);
  Checkpoint w({{"layer", plain}});
  EXPECT_EQ(w.write(dir / "plain"), dir / "plain");
  EXPECT_FALSE(load_checkpoint(dir / "plain")->has_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE"));
  EXPECT_EQ(latest_checkpoint(dir), dir / "ckpt-2");  // write() leaves the state file alone
  EXPECT_THROW(w.write(dir / "plain", /*overwrite=*/false), IOError);
}

TEST_F(CheckpointTest, ManagerKeepsTheNewestAndRemembersThem) {
  const fs::path dir = fresh_dir("manager") / "run";
  auto layer = std::make_shared<VarLayer>(0);
  Checkpoint ckpt({{"layer", layer}});
  {
    CheckpointManager manager(ckpt, dir, 2, "ck");
    for (int i = 1; i <= 3; ++i) {
      Variable(layer->var()).assign(Tensor::scalar<std::int32_t>(10 * i));
      EXPECT_EQ(manager.save(), dir / ("ck-" + std::to_string(i)));
    }
    EXPECT_EQ(manager.checkpoints(), (std::vector<fs::path>{dir / "ck-2", dir / "ck-3"}));
    EXPECT_EQ(manager.latest_checkpoint(), dir / "ck-3");
  }
  EXPECT_FALSE(fs::exists(dir / "ck-1.index"));
  EXPECT_FALSE(fs::exists(dir / "ck-1.data-00000-of-00001"));
  const auto state = read_checkpoint_state(dir);
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->model_checkpoint_path, "ck-3");
  EXPECT_EQ(state->all_model_checkpoint_paths, (std::vector<std::string>{"ck-2", "ck-3"}));
  EXPECT_EQ(state->all_model_checkpoint_timestamps.size(), 2u);
  EXPECT_TRUE(state->last_preserved_timestamp.has_value());
  // A new manager over the same directory continues from the state file.
  CheckpointManager again(ckpt, dir, 2, "ck");
  EXPECT_EQ(again.checkpoints(), (std::vector<fs::path>{dir / "ck-2", dir / "ck-3"}));
  EXPECT_EQ(again.save(), dir / "ck-4");
  EXPECT_FALSE(fs::exists(dir / "ck-2.index"));
  auto fresh = std::make_shared<VarLayer>(0);
  Checkpoint({{"layer", fresh}}).restore(*latest_checkpoint(dir)).assert_consumed();
  EXPECT_EQ(fresh->var().value().item<std::int32_t>(), 30);
}

TEST_F(CheckpointTest, ModelWeightsRoundTripThroughTheExtensionlessPath) {
  const fs::path dir = fresh_dir("model");
  auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      make_layer("Dense", Config{{"units", 3}, {"activation", "relu"}, {"batch_input_shape", {nullptr, 4}}}),
      make_layer("Dropout", Config{{"rate", 0.5}}), make_layer("Dense", Config{{"units", 2}})});
  model->save_weights(dir / "weights");
  EXPECT_TRUE(fs::exists(dir / "weights.index"));
  EXPECT_EQ(format_for_loading(dir / "weights", "", true)->name(), "checkpoint");
  EXPECT_EQ(read_checkpoint_state(dir)->model_checkpoint_path, "weights");
  const auto keys = load_checkpoint(dir / "weights")->keys();
  EXPECT_EQ(keys, (std::vector<std::string>{"_CHECKPOINTABLE_OBJECT_GRAPH", "layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE",
                                            "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE",
                                            "layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE",
                                            "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE"}));
  auto copy = std::dynamic_pointer_cast<Model>(clone_model(*model));
  copy->load_weights(dir / "weights").assert_consumed();
  const Tensor x = Tensor::from_vector<float>({0.1f, -0.2f, 0.3f, 0.4f, 1, 2, 3, 4}, Shape{2, 4});
  EXPECT_EQ(copy->predict(x).to_vector<float>(), model->predict(x).to_vector<float>());
  // ".ckpt" is this format's extension too.
  model->save_weights(dir / "w.ckpt");
  EXPECT_TRUE(fs::exists(dir / "w.ckpt.index"));
  copy->load_weights(dir / "w.ckpt").assert_consumed();
  // H5-only options are refused, as Keras does.
  LoadOptions by_name;
  by_name.by_name = true;
  EXPECT_THROW(copy->load_weights(dir / "weights", by_name), ValueError);
}

TEST_F(CheckpointTest, GuideSubModelWeightsLoadIntoALargerModel) {
  const fs::path dir = fresh_dir("submodel");
  auto functional = guide_mlp();
  auto pretrained = std::make_shared<Functional>(functional->inputs(),
                                                 std::vector<Tensor>{functional->layers().back()->input()},
                                                 "pretrained_model");
  pretrained->save_weights(dir / "pretrained_ckpt");
  clear_session();
  auto model = guide_mlp(5, "new_model");
  LoadStatus status = model->load_weights(dir / "pretrained_ckpt");
  EXPECT_EQ(status.restored(), 4u);
  EXPECT_TRUE(status.unused_values().empty());
  ASSERT_EQ(status.unset_weights().size(), 2u);
  EXPECT_NE(status.unset_weights()[0].find("layer_with_weights-2/kernel"), std::string::npos) << status.unset_weights()[0];
  EXPECT_THROW(status.assert_consumed(), ValueError);
  EXPECT_THROW(status.assert_existing_objects_matched(), ValueError);
  status.expect_partial();
  for (std::size_t i = 1; i <= 2; ++i) {
    EXPECT_EQ(model->layers()[i]->get_weights()[0].to_vector<float>(),
              functional->layers()[i]->get_weights()[0].to_vector<float>());
  }
}

std::shared_ptr<Model> built_subclassed_model() {
  auto sub = model_from_config(Config{{"class_name", "SubclassedModel"}, {"config", Config::object()}});
  sub->predict(Tensor::zeros(DType::kFloat32, Shape{1, 784}));  // builds the layers
  return sub;
}

TEST_F(CheckpointTest, GuideNamedPiecesRestoreIntoASubclassedModel) {
  const fs::path dir = fresh_dir("pieces");
  auto functional = guide_mlp();
  auto first_dense = functional->layers()[1];
  auto last_dense = functional->layers().back();
  const fs::path path = Checkpoint({{"dense", first_dense},
                                    {"kernel", weight_of(*last_dense, "kernel")},
                                    {"bias", weight_of(*last_dense, "bias")}})
                            .save(dir / "ckpt");
  auto sub = built_subclassed_model();
  auto sub_first = sub->get_layer("dense_1");
  auto sub_last = sub->get_layer("predictions");
  Checkpoint({{"dense", sub_first}, {"kernel", weight_of(*sub_last, "kernel")}, {"bias", weight_of(*sub_last, "bias")}})
      .restore(path)
      .assert_consumed();
  EXPECT_EQ(sub_first->get_weights()[0].to_vector<float>(), first_dense->get_weights()[0].to_vector<float>());
  EXPECT_EQ(weight_of(*sub_last, "bias").value().to_vector<float>(), weight_of(*last_dense, "bias").value().to_vector<float>());
}

TEST_F(CheckpointTest, RestoringIntoTheWrongObjectsIsAnError) {
  const fs::path dir = fresh_dir("wrong");
  auto layer = std::make_shared<VarLayer>(3);
  const fs::path path = Checkpoint({{"layer", layer}}).save(dir / "ckpt");
  auto other = std::make_shared<VarLayer>(0);
  try {
    Checkpoint({{"something_else", other}}).restore(path);
    FAIL() << "restoring nothing must throw";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("matched nothing"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("layer"), std::string::npos) << e.what();
  }
  // A model with a different structure: nothing of it is in the checkpoint.
  auto model = guide_mlp();
  EXPECT_THROW(model->load_weights(path), ValueError);
  // A model that is not built yet has no weights to restore into: the error says so.
  model->save_weights(dir / "mlp");
  auto unbuilt = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{dense(64, "a"), dense(10, "b")});
  try {
    unbuilt->load_weights(dir / "mlp");
    FAIL() << "restoring into an unbuilt model must throw";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("not built"), std::string::npos) << e.what();
  }
}

TEST_F(CheckpointTest, ShapeMismatchIsAnErrorAndChangesNothing) {
  const fs::path dir = fresh_dir("shape");
  auto a = guide_mlp(10);
  a->save_weights(dir / "ckpt");
  clear_session();
  auto b = guide_mlp(7);
  const auto before = b->get_weights()[0].to_vector<float>();
  EXPECT_THROW(b->load_weights(dir / "ckpt"), ShapeError);
  EXPECT_EQ(b->get_weights()[0].to_vector<float>(), before);
}

TEST_F(CheckpointTest, AnUncheckedIncompleteStatusWarns) {
  const fs::path dir = fresh_dir("warn");
  auto small = guide_mlp(10);
  auto pretrained = std::make_shared<Functional>(small->inputs(), std::vector<Tensor>{small->layers().back()->input()});
  pretrained->save_weights(dir / "ckpt");
  std::string logged;
  auto previous = set_log_sink([&](LogLevel, std::string_view text) { logged += std::string(text) + "\n"; });
  {
    auto model = guide_mlp(5);
    model->load_weights(dir / "ckpt");
  }
  set_log_sink(previous);
  EXPECT_NE(logged.find("never checked"), std::string::npos) << logged;
}

TEST_F(CheckpointTest, TrackedListsBecomeListNodes) {
  class Blocks final : public Layer {
   public:
    Blocks() : Layer("Blocks") { track("blocks", std::vector<std::shared_ptr<Layer>>{dense(2, "b0"), dense(3, "b1")}); }
    std::vector<Tensor> call(const std::vector<Tensor>& in, const CallContext& ctx) const override {
      std::vector<Tensor> x = in;
      for (const auto& c : children()) x = (*c.layer)(x, ctx);
      return x;
    }
  };
  const fs::path dir = fresh_dir("lists");
  auto layer = std::make_shared<Blocks>();
  (*layer)(Tensor::zeros(DType::kFloat32, Shape{1, 4}));
  Checkpoint({{"net", layer}}).write(dir / "ckpt");
  const auto reader = load_checkpoint(dir / "ckpt");
  EXPECT_TRUE(reader->has_tensor("net/blocks/0/kernel/.ATTRIBUTES/VARIABLE_VALUE"));
  EXPECT_TRUE(reader->has_tensor("net/blocks/1/bias/.ATTRIBUTES/VARIABLE_VALUE"));
  const auto graph = reader->object_graph();
  ASSERT_TRUE(graph.has_value());
  // root -> net -> blocks (a list node) -> 0, 1
  const auto& net = graph->nodes[static_cast<std::size_t>(graph->nodes[0].children[0].node_id)];
  ASSERT_EQ(net.children.size(), 1u);
  EXPECT_EQ(net.children[0].local_name, "blocks");
  const auto& list = graph->nodes[static_cast<std::size_t>(net.children[0].node_id)];
  ASSERT_EQ(list.children.size(), 2u);
  EXPECT_EQ(list.children[1].local_name, "1");
}

TEST_F(CheckpointTest, OptimizerStateRoundTripsAndTrainingContinuesIdentically) {
  const fs::path dir = fresh_dir("optimizer");
  auto make = [] {
    auto m = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
        make_layer("Dense", Config{{"units", 3}, {"batch_input_shape", {nullptr, 4}}, {"name", "d0"}}),
        make_layer("Dense", Config{{"units", 2}, {"name", "d1"}})});
    m->compile(Config{{"class_name", "Adam"}, {"config", {{"learning_rate", 0.05}}}}, Config("mse"));
    return m;
  };
  const Tensor x = Tensor::from_vector<float>({0.1f, -0.2f, 0.3f, 0.4f, 1, 2, 3, 4, -1, 0.5f, 0, 2}, Shape{3, 4});
  const Tensor y = Tensor::from_vector<float>({1, 0, 0, 1, 0.5f, 0.5f}, Shape{3, 2});
  auto a = make();
  for (int i = 0; i < 3; ++i) a->train_on_batch({x}, {y});
  a->save_weights(dir / "ckpt");
  const auto keys = load_checkpoint(dir / "ckpt")->keys();
  for (const char* k : {"optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE", "optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE",
                        "optimizer/_variables/1/.ATTRIBUTES/VARIABLE_VALUE", "optimizer/_variables/8/.ATTRIBUTES/VARIABLE_VALUE"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  }
  EXPECT_EQ(keys.size(), 1u + 4u + 2u + 8u);
  clear_session();
  auto b = make();
  b->optimizer()->set_learning_rate(0.5);
  b->load_weights(dir / "ckpt").assert_consumed();
  EXPECT_EQ(b->optimizer()->iterations().value().item<std::int64_t>(), 3);
  EXPECT_NEAR(b->optimizer()->learning_rate(), 0.05, 1e-9);
  for (int i = 0; i < 2; ++i) {
    a->train_on_batch({x}, {y});
    b->train_on_batch({x}, {y});
  }
  const auto wa = a->get_weights(), wb = b->get_weights();
  for (std::size_t i = 0; i < wa.size(); ++i) EXPECT_EQ(wa[i].to_vector<float>(), wb[i].to_vector<float>()) << i;
}

// write_with_graph returns, from the write itself, exactly the graph and the values the
// files hold (what the SavedModel writer mirrors instead of reading the files back), and
// writes what write() writes: no state file, no save counter.
TEST_F(CheckpointTest, WriteWithGraphReturnsWhatTheFilesHold) {
  const fs::path dir = fresh_dir("with_graph");
  auto m = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      make_layer("Dense", Config{{"units", 3}, {"batch_input_shape", {nullptr, 4}}, {"name", "d0"}}),
      make_layer("Dense", Config{{"units", 2}, {"name", "d1"}})});
  m->compile(Config{{"class_name", "Adam"}, {"config", {{"learning_rate", 0.05}}}}, Config("mse"));
  m->train_on_batch({Tensor::from_vector<float>(std::vector<float>(8, 0.5f), Shape{2, 4})},
                    {Tensor::from_vector<float>(std::vector<float>(4, 1.0f), Shape{2, 2})});
  const WrittenCheckpoint written = Checkpoint::with_root(m).write_with_graph(dir / "w");
  EXPECT_EQ(written.prefix, dir / "w");
  EXPECT_FALSE(fs::exists(dir / "checkpoint"));
  const auto reader = load_checkpoint(dir / "w");
  const auto stored = reader->object_graph();
  ASSERT_TRUE(stored.has_value());
  ASSERT_EQ(written.object_graph.nodes.size(), stored->nodes.size());
  for (std::size_t n = 0; n < stored->nodes.size(); ++n) {
    const auto &a = written.object_graph.nodes[n], &b = stored->nodes[n];
    ASSERT_EQ(a.children.size(), b.children.size()) << "node " << n;
    for (std::size_t c = 0; c < a.children.size(); ++c) {
      EXPECT_EQ(a.children[c].node_id, b.children[c].node_id) << "node " << n;
      EXPECT_EQ(a.children[c].local_name, b.children[c].local_name) << "node " << n;
    }
    ASSERT_EQ(a.attributes.size(), b.attributes.size()) << "node " << n;
    for (std::size_t k = 0; k < a.attributes.size(); ++k) {
      EXPECT_EQ(a.attributes[k].checkpoint_key, b.attributes[k].checkpoint_key) << "node " << n;
      EXPECT_EQ(a.attributes[k].full_name, b.attributes[k].full_name) << "node " << n;
    }
    EXPECT_EQ(a.has_checkpoint_values, b.has_checkpoint_values) << "node " << n;
  }
  std::size_t values = 0;
  for (const auto& key : reader->keys()) {
    if (key == "_CHECKPOINTABLE_OBJECT_GRAPH") continue;
    ++values;
    const auto it = written.values.find(key);
    ASSERT_NE(it, written.values.end()) << key;
    EXPECT_EQ(it->second.dtype, reader->dtype(key)) << key;
    EXPECT_EQ(it->second.shape, reader->shape(key)) << key;
  }
  EXPECT_EQ(values, written.values.size());
  EXPECT_EQ(values, 4u + 2u + 8u);  // kernels and biases, iterations and learning rate, Adam slots
  EXPECT_FALSE(reader->has_tensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE"));
}

TEST_F(CheckpointTest, DescribeListsKeysAndTheGraph) {
  const fs::path dir = fresh_dir("describe");
  auto layer = std::make_shared<VarLayer>(5);
  const fs::path path = Checkpoint({{"layer", layer}}).save(dir / "ckpt");
  const std::string text = get_format("checkpoint")->describe(path);
  EXPECT_NE(text.find("layer/var/.ATTRIBUTES/VARIABLE_VALUE  int32 ()"), std::string::npos) << text;
  EXPECT_NE(text.find("save_counter/.ATTRIBUTES/VARIABLE_VALUE  int64 ()"), std::string::npos) << text;
  EXPECT_NE(text.find("[1] layer -> var=[3]"), std::string::npos) << text;
}

TEST_F(CheckpointTest, SniffLooksForTheIndexMagic) {
  const fs::path dir = fresh_dir("sniff");
  auto format = get_format("checkpoint");
  EXPECT_FALSE(format->sniff(dir / "nothing"));
  std::ofstream(dir / "junk.index") << "this is not a table, it is just some text long enough for a footer.....";
  EXPECT_FALSE(format->sniff(dir / "junk"));
  Checkpoint({{"layer", std::make_shared<VarLayer>(1)}}).write(dir / "real");
  EXPECT_TRUE(format->sniff(dir / "real"));
}

TEST_F(CheckpointTest, StateFileTextIsTensorFlows) {
  CheckpointState s;
  s.model_checkpoint_path = "ck-3";
  s.all_model_checkpoint_paths = {"ck-2", "ck-3"};
  EXPECT_EQ(ckpt::state_to_text(s), "model_checkpoint_path: \"ck-3\"\nall_model_checkpoint_paths: \"ck-2\"\n"
                                    "all_model_checkpoint_paths: \"ck-3\"\n");
  // What TensorFlow's CheckpointManager wrote (timestamps included) parses.
  const auto parsed = ckpt::state_from_text(
      "model_checkpoint_path: \"ck-3\"\nall_model_checkpoint_paths: \"ck-2\"\nall_model_checkpoint_paths: \"ck-3\"\n"
      "all_model_checkpoint_timestamps: 1795891443.8395169\nall_model_checkpoint_timestamps: 1795891443.8562288\n"
      "last_preserved_timestamp: 1795891442.7649326\n",
      "state");
  EXPECT_EQ(parsed.all_model_checkpoint_paths.size(), 2u);
  EXPECT_DOUBLE_EQ(parsed.all_model_checkpoint_timestamps[1], 1795891443.8562288);
  EXPECT_DOUBLE_EQ(*parsed.last_preserved_timestamp, 1795891442.7649326);
  EXPECT_THROW(ckpt::state_from_text("model_checkpoint_path: 3 4 {", "state"), FormatError);
}

}  // namespace
}  // namespace strata
