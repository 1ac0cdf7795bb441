// Checkpoint stores as their own registry kind (strata/plugin/checkpoint_store.hpp): the
// runtime owns the object graph and the weights format a store appears as; a store only
// moves bytes. A second, in-memory store registered by this test shows that a third-party
// store gets save_weights/load_weights and tf.train.Checkpoint without writing any of it,
// that two loaded stores make the store-less calls ambiguous (PluginError naming both), and
// that what a store throws reaches the caller as a typed error naming it. Its own binary:
// the second store stays registered for the rest of the process.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "checkpoint_test_util.hpp"
#include "strata/plugin/checkpoint_store.hpp"
#include "strata/runtime.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata {
namespace {

using namespace ckpt_test;
namespace fs = std::filesystem;

// Checkpoints held in memory, by prefix.
struct Memory {
  std::mutex mutex;
  std::map<std::string, std::map<std::string, Tensor>> bundles;
  std::map<std::string, CheckpointObjectGraph> graphs;
  std::map<std::string, CheckpointState> states;
  bool throw_on_write = false;
};
Memory& memory() {
  static Memory m;
  return m;
}

class MemoryReader final : public CheckpointReader {
 public:
  MemoryReader(fs::path prefix, std::map<std::string, Tensor> values, std::optional<CheckpointObjectGraph> graph)
      : prefix_(std::move(prefix)), values_(std::move(values)), graph_(std::move(graph)) {}
  const fs::path& prefix() const override { return prefix_; }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_) out.push_back(k);
    return out;
  }
  bool has_tensor(std::string_view key) const override { return values_.count(std::string(key)) > 0; }
  DType dtype(std::string_view key) const override { return values_.at(std::string(key)).dtype(); }
  Shape shape(std::string_view key) const override { return values_.at(std::string(key)).shape(); }
  Tensor get_tensor(std::string_view key, const Device&) const override { return values_.at(std::string(key)); }
  std::optional<CheckpointObjectGraph> object_graph() const override { return graph_; }

 private:
  fs::path prefix_;
  std::map<std::string, Tensor> values_;
  std::optional<CheckpointObjectGraph> graph_;
};

class MemoryStore final : public CheckpointStore {
 public:
  std::string name() const override { return "memory_store"; }
  std::vector<std::string> weights_extensions() const override { return {".mem"}; }
  bool sniff(const fs::path& prefix) const override {
    std::lock_guard lock(memory().mutex);
    return memory().bundles.count(prefix.string()) > 0;
  }
  void write(const fs::path& prefix, const CheckpointContents& contents) const override {
    auto& m = memory();
    std::lock_guard lock(m.mutex);
    if (m.throw_on_write) throw std::out_of_range("map::at");  // what a careless store might leak
    auto& bundle = m.bundles[prefix.string()];
    bundle.clear();
    for (const auto& [key, value] : contents.tensors) bundle.emplace(key, value.to(Device::cpu()));
    if (contents.object_graph != nullptr) m.graphs[prefix.string()] = *contents.object_graph;
    if (contents.state) m.states[prefix.parent_path().string()] = *contents.state;
  }
  std::shared_ptr<CheckpointReader> open(const fs::path& prefix) const override {
    auto& m = memory();
    std::lock_guard lock(m.mutex);
    auto it = m.bundles.find(prefix.string());
    STRATA_CHECK(it != m.bundles.end(), IOError, "no checkpoint '", prefix.string(), "' in memory");
    std::optional<CheckpointObjectGraph> graph;
    if (auto g = m.graphs.find(prefix.string()); g != m.graphs.end()) graph = g->second;
    return std::make_shared<MemoryReader>(prefix, it->second, std::move(graph));
  }
  bool read_state(const fs::path& directory, CheckpointState& state) const override {
    auto& m = memory();
    std::lock_guard lock(m.mutex);
    auto it = m.states.find(directory.string());
    if (it == m.states.end()) return false;
    state = it->second;
    return true;
  }
  void write_state(const fs::path& directory, const CheckpointState& state) const override {
    auto& m = memory();
    std::lock_guard lock(m.mutex);
    m.states[directory.string()] = state;
  }
};

void register_memory_store() {
  static const bool done = [] {
    initialize();
    Registrar registrar(Registry::global(), "checkpoint-store-test");
    registrar.add<ObjectKind::kCheckpointStore>("memory_store", [] { return std::make_shared<MemoryStore>(); });
    registrar.commit();
    return true;
  }();
  (void)done;
}

std::shared_ptr<Sequential> small_model() {
  return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      make_layer("Dense", Config{{"units", 3}, {"activation", "relu"}, {"batch_input_shape", {nullptr, 4}}}),
      make_layer("Dense", Config{{"units", 2}})});
}

// First (also when every test of this binary runs in one process): before the second store.
TEST(CheckpointStore, TheBundleStoreIsAStoreAndTheWeightsFormatOfItsName) {
  initialize();
  EXPECT_TRUE(Registry::global().contains(ObjectKind::kCheckpointStore, "checkpoint"));
  EXPECT_FALSE(Registry::global().contains(ObjectKind::kFormat, "checkpoint"));
  EXPECT_EQ(kind_name(ObjectKind::kCheckpointStore), "checkpoint_store");
  EXPECT_EQ(kind_from_name("checkpoint_store"), ObjectKind::kCheckpointStore);
  auto format = get_format("checkpoint");
  EXPECT_EQ(format->name(), "checkpoint");
  EXPECT_EQ(format->capabilities(), unsigned{kSaveWeights | kLoadWeights});
  EXPECT_EQ(format->weights_extensions(), (std::vector<std::string>{"", ".ckpt"}));
  EXPECT_TRUE(format->model_extensions().empty());
  bool listed = false;
  for (const auto& f : available_formats()) listed = listed || f->name() == "checkpoint";
  EXPECT_TRUE(listed);
  // A whole-model save to a store is refused with the weights hint, as for any weights format.
  const fs::path dir = fresh_dir("store_refuses_models");
  SaveOptions options;
  options.format = "checkpoint";
  try {
    small_model()->save(dir / "m", options);
    FAIL() << "a checkpoint store saved a whole model";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("save_weights"), std::string::npos) << e.what();
  }
}

TEST(CheckpointStore, AThirdPartyStoreGetsSaveWeightsAndLoadWeightsByItsExtension) {
  register_memory_store();
  const fs::path dir = fresh_dir("memory_store");
  auto model = small_model();
  model->save_weights(dir / "w.mem");  // by extension: nothing touches the disk
  EXPECT_FALSE(fs::exists(dir / "w.mem.index"));
  auto copy = small_model();
  copy->load_weights(dir / "w.mem").assert_consumed();
  const Tensor x = Tensor::from_vector<float>({0.1f, -0.2f, 0.3f, 0.4f, 1, 2, 3, 4}, Shape{2, 4});
  EXPECT_EQ(copy->predict(x).to_vector<float>(), model->predict(x).to_vector<float>());
  // The runtime built the object graph (tf.keras's keys) and wrote the state file through it.
  {
    std::lock_guard lock(memory().mutex);
    const auto& bundle = memory().bundles.at((dir / "w.mem").string());
    EXPECT_EQ(bundle.count("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"), 1u);
    EXPECT_EQ(memory().states.at(dir.string()).model_checkpoint_path, "w.mem");
  }
  // The bundle store still works by its own name while two are loaded.
  model->save_weights(dir / "bundle");
  EXPECT_TRUE(fs::exists(dir / "bundle.index"));
  copy->load_weights(dir / "bundle").assert_consumed();
}

TEST(CheckpointStore, TwoLoadedStoresMakeTheStorelessCallsAPluginErrorNamingBoth) {
  register_memory_store();
  const fs::path dir = fresh_dir("two_stores");
  Checkpoint ckpt({{"model", std::shared_ptr<Layer>(small_model())}});
  for (auto call : {std::function<void()>([&] { ckpt.write(dir / "c"); }),
                    std::function<void()>([&] { (void)load_checkpoint(dir / "c"); })}) {
    try {
      call();
      FAIL() << "two checkpoint stores were not reported";
    } catch (const PluginError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("'checkpoint' (plugin format-checkpoint)"), std::string::npos) << m;
      EXPECT_NE(m.find("'memory_store' (plugin checkpoint-store-test)"), std::string::npos) << m;
    }
  }
}

TEST(CheckpointStore, WhatAStoreThrowsIsATypedErrorNamingIt) {
  register_memory_store();
  const fs::path dir = fresh_dir("throwing_store");
  memory().throw_on_write = true;
  try {
    small_model()->save_weights(dir / "w.mem");
    memory().throw_on_write = false;
    FAIL() << "the store's exception was lost";
  } catch (const PluginError& e) {
    memory().throw_on_write = false;
    const std::string m = e.what();
    EXPECT_NE(m.find("checkpoint-store-test"), std::string::npos) << m;
    EXPECT_NE(m.find("memory_store"), std::string::npos) << m;
    EXPECT_NE(m.find("map::at"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace strata
