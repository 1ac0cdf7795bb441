// Issue 20, sizes from configs: every size a config (a file: hostile input) gives a layer —
// units, filters, kernel sizes, vocabularies, shapes, their products — is checked before it is
// used, so a huge or negative one is a typed strata error naming the layer within a second:
// never a hang, a wrapped size, a bare std::bad_alloc or a crash. Sizes that fit in 64 bits
// but not in memory are refused before allocating (BackendError naming the layer and the
// bytes), and a SavedModel's config is held to the budget its variables allow (as H5's).
// The configs are generated here; expected outcomes follow from the sizes (first principles).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "strata/config.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/initializers.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/plugin/memory.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"

namespace {

namespace fs = std::filesystem;
using strata::Config;

constexpr std::int64_t k2p31 = std::int64_t{1} << 31;
constexpr std::int64_t k2p62 = std::int64_t{1} << 62;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

fs::path fresh_dir(const std::string& name) {
  std::string base = "strata_config_sizes_";
  base += std::to_string(::getpid());
  const fs::path d = fs::temp_directory_path() / base / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A Sequential model: an InputLayer of `input` (batch unknown) and `layer`, named 'x'.
Config sequential(const std::vector<std::int64_t>& input, Config layer) {
  Config shape = Config::array();
  shape.push_back(nullptr);
  for (const auto d : input) shape.push_back(d);
  layer["config"]["name"] = "x";
  Config in{{"class_name", "InputLayer"},
            {"config", {{"batch_input_shape", shape}, {"dtype", "float32"}, {"name", "in"}}}};
  return Config{{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", Config::array({in, layer})}}}};
}

Config layer(const std::string& class_name, Config config) { return Config{{"class_name", class_name}, {"config", config}}; }

// Runs `f`, which must throw a strata::Error whose message names `needle`, within a second.
// Returns the error's kind.
std::string expect_refused(const std::function<void()>& f, const std::string& needle, const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  std::string kind;
  try {
    f();
    ADD_FAILURE() << what << ": no error";
  } catch (const strata::Error& e) {
    kind = e.kind();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << what << ": " << e.kind() << ": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a strata error: " << e.what();
  }
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0) << what;
  return kind;
}

struct Case {
  std::string name;                              // family.field
  std::vector<std::int64_t> input;               // the model's input shape (no batch)
  std::function<Config(std::int64_t)> make;      // the layer, with the hostile value
  std::vector<std::int64_t> values;              // values that must be refused
};

// A value every size field must refuse: huge (2^31 with a large partner, whose product is
// far beyond any machine's memory), 2^62 (its products with small factors wrap), 2^63 - 1, -1.
const std::vector<std::int64_t> kAll{k2p31, k2p62, kMax, -1};
// Fields whose output size is the input's plus or times the value (no weight): 2^31 of
// them fits in 64 bits, so only the values that overflow (or are negative) are refused
// when the model is built.
const std::vector<std::int64_t> kOverflowing{k2p62, kMax, -1};

std::vector<Case> cases() {
  const auto dense = [](std::int64_t v) { return layer("Dense", {{"units", v}}); };
  const auto conv = [](const char* cls, const char* key) {
    return [cls, key](std::int64_t v) {
      Config c{{"filters", 2}, {"kernel_size", 1}};
      c[key] = v;
      return layer(cls, c);
    };
  };
  std::vector<Case> out{
      {"Dense.units", {1 << 20}, dense, kAll},
      {"Conv1D.filters", {4, 1 << 20}, conv("Conv1D", "filters"), kAll},
      {"Conv2D.filters", {4, 4, 1 << 20}, conv("Conv2D", "filters"), kAll},
      {"Conv3D.filters", {2, 2, 2, 1 << 20}, conv("Conv3D", "filters"), kAll},
      {"Conv2D.kernel_size", {8, 8, 1 << 20}, conv("Conv2D", "kernel_size"), kAll},
      {"Conv2DTranspose.filters", {4, 4, 1 << 20}, conv("Conv2DTranspose", "filters"), kAll},
      {"SeparableConv2D.filters", {4, 4, 1 << 20}, conv("SeparableConv2D", "filters"), kAll},
      {"DepthwiseConv2D.depth_multiplier", {4, 4, 1 << 20},
       [](std::int64_t v) { return layer("DepthwiseConv2D", {{"kernel_size", 1}, {"depth_multiplier", v}}); }, kAll},
      {"Embedding.input_dim", {3},
       [](std::int64_t v) { return layer("Embedding", {{"input_dim", v}, {"output_dim", 1 << 20}}); }, kAll},
      {"Embedding.output_dim", {3},
       [](std::int64_t v) { return layer("Embedding", {{"input_dim", 1 << 20}, {"output_dim", v}}); }, kAll},
      {"SimpleRNN.units", {5, 1 << 20}, [](std::int64_t v) { return layer("SimpleRNN", {{"units", v}}); }, kAll},
      {"LSTM.units", {5, 1 << 20}, [](std::int64_t v) { return layer("LSTM", {{"units", v}}); }, kAll},
      {"GRU.units", {5, 1 << 20}, [](std::int64_t v) { return layer("GRU", {{"units", v}}); }, kAll},
      {"Bidirectional.LSTM.units", {5, 1 << 20},
       [](std::int64_t v) { return layer("Bidirectional", {{"layer", layer("LSTM", {{"name", "l"}, {"units", v}})}}); },
       kAll},
      {"TimeDistributed.Dense.units", {5, 1 << 20},
       [](std::int64_t v) { return layer("TimeDistributed", {{"layer", layer("Dense", {{"name", "d"}, {"units", v}})}}); },
       kAll},
      {"EinsumDense.output_shape", {1 << 20},
       [](std::int64_t v) { return layer("EinsumDense", {{"equation", "ab,bc->ac"}, {"output_shape", v}}); }, kAll},
      {"LayerScale.projection_dim", {8},
       [](std::int64_t v) { return layer("LayerScale", {{"projection_dim", v}, {"init_values", 0.1}}); }, kAll},
      {"ZeroPadding1D.padding", {16, 3}, [](std::int64_t v) { return layer("ZeroPadding1D", {{"padding", v}}); },
       kOverflowing},
      {"ZeroPadding2D.padding", {8, 8, 3}, [](std::int64_t v) { return layer("ZeroPadding2D", {{"padding", v}}); },
       kOverflowing},
      {"ZeroPadding3D.padding", {4, 4, 4, 2}, [](std::int64_t v) { return layer("ZeroPadding3D", {{"padding", v}}); },
       kOverflowing},
      {"Cropping1D.cropping", {16, 3}, [](std::int64_t v) { return layer("Cropping1D", {{"cropping", v}}); }, kAll},
      {"Cropping2D.cropping", {8, 8, 3}, [](std::int64_t v) { return layer("Cropping2D", {{"cropping", v}}); }, kAll},
      {"UpSampling1D.size", {16, 3}, [](std::int64_t v) { return layer("UpSampling1D", {{"size", v}}); }, kOverflowing},
      {"UpSampling2D.size", {8, 8, 3}, [](std::int64_t v) { return layer("UpSampling2D", {{"size", v}}); }, kOverflowing},
      {"UpSampling2D.bilinear.size", {8, 8, 3},
       [](std::int64_t v) { return layer("UpSampling2D", {{"size", v}, {"interpolation", "bilinear"}}); }, kOverflowing},
      {"UpSampling3D.size", {4, 4, 4, 2}, [](std::int64_t v) { return layer("UpSampling3D", {{"size", v}}); },
       kOverflowing},
      {"MaxPooling1D.pool_size", {16, 3}, [](std::int64_t v) { return layer("MaxPooling1D", {{"pool_size", v}}); },
       kAll},
      {"AveragePooling2D.pool_size", {8, 8, 3},
       [](std::int64_t v) { return layer("AveragePooling2D", {{"pool_size", v}}); }, kAll},
      {"MaxPooling3D.pool_size", {4, 4, 4, 2}, [](std::int64_t v) { return layer("MaxPooling3D", {{"pool_size", v}}); },
       kAll},
      {"Reshape.target_shape", {8}, [](std::int64_t v) { return layer("Reshape", {{"target_shape", {v, v}}}); },
       kOverflowing},
      {"RepeatVector.n", {1 << 20}, [](std::int64_t v) { return layer("RepeatVector", {{"n", v}}); }, kOverflowing},
  };
  return out;
}

// The product of two fields overflowing int64 although each fits: every family above with two
// factors, at values whose product is 2^64.
std::vector<std::pair<std::string, Config>> overflowing_products() {
  const std::int64_t a = std::int64_t{1} << 32;
  return {
      {"Dense units x input", sequential({a}, layer("Dense", {{"units", a}}))},
      {"Conv2D filters x kernel", sequential({a, a, 1}, layer("Conv2D", {{"filters", a}, {"kernel_size", {a, 1}}}))},
      {"Embedding input_dim x output_dim", sequential({3}, layer("Embedding", {{"input_dim", a}, {"output_dim", a}}))},
      {"LSTM 4 x units", sequential({5, 3}, layer("LSTM", {{"units", std::int64_t{1} << 62}}))},
  };
}

// A one-layer Functional model calling MultiHeadAttention(query=value=input).
Config attention(std::int64_t heads, std::int64_t key_dim, std::int64_t features) {
  const std::string h = std::to_string(heads), k = std::to_string(key_dim), f = std::to_string(features);
  return Config::parse(R"({"class_name": "Functional", "config": {"name": "f", "layers": [
      {"class_name": "InputLayer", "name": "q", "inbound_nodes": [],
       "config": {"batch_input_shape": [null, 4, )" + f + R"(], "dtype": "float32", "name": "q"}},
      {"class_name": "MultiHeadAttention", "name": "x",
       "config": {"name": "x", "num_heads": )" + h + R"(, "key_dim": )" + k + R"(},
       "inbound_nodes": [[["q", 0, 0, {"value": ["q", 0, 0]}]]]}],
    "input_layers": [["q", 0, 0]], "output_layers": [["x", 0, 0]]}})");
}

TEST(ConfigSizes, EverySizeFieldRefusesHugeAndNegativeValuesNamingTheLayer) {
  for (const auto& c : cases()) {
    for (const auto v : c.values) {
      const Config model = sequential(c.input, c.make(v));
      const std::string what = c.name + " = " + std::to_string(v);
      expect_refused([&] { strata::model_from_config(model); }, "'x'", what);
    }
  }
}

// Found by layer_config_fuzzer: an Embedding whose input_length was an object or a string
// passed the constructor and threw nlohmann's type_error (not a strata::Error) from
// compute_output_shape, which ended the process. Keras takes None, an integer or a list.
TEST(ConfigSizes, EmbeddingInputLengthOfAnotherTypeIsAStrataError) {
  strata::initialize();
  const auto embedding = [](const std::string& input_length) {
    return strata::deserialize_layer(Config::parse(
        R"({"class_name": "Embedding", "config": {"name": "emb", "input_dim": 8, "output_dim": 3, "input_length": )" +
        input_length + "}}"));
  };
  for (const std::string bad : {R"({"config": 5})", R"("5")", "-3", "0", "1.5", R"([5, {}])", "true"}) {
    try {
      const auto layer = embedding(bad);
      (void)layer->compute_output_shape({strata::Shape({2, 5})});
      ADD_FAILURE() << "input_length " << bad << " was accepted";
    } catch (const strata::Error& e) {
      // The layer's own check, or the base layer's reading of the input shape it implies.
      const std::string what = e.what();
      EXPECT_TRUE(what.find("input_length") != std::string::npos || what.find("input_shape") != std::string::npos)
          << what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "input_length " << bad << ": not a strata::Error: " << e.what();
    }
  }
  for (const std::string good : {"5", "[5]", "null", "[null]"}) {
    EXPECT_EQ(embedding(good)->compute_output_shape({strata::Shape({2, 5})}).at(0), strata::Shape({2, 5, 3})) << good;
  }
}

// Found by json_config_fuzzer: an LSTM on an input whose sequence length the config gives as
// 2^32 split the sequence into 2^32 step tensors when the model was built, asking for the
// metadata of 2^32 tensors at once (a 170 GB allocation: std::bad_alloc, or the sanitizer's
// abort). Split now refuses more than 2^20 parts with a ShapeError, which reaches the caller
// as a strata::Error.
TEST(ConfigSizes, ARecurrentLayerOnAHugeSequenceLengthIsAStrataError) {
  for (const std::int64_t steps : {std::int64_t{1} << 32, (std::int64_t{1} << 20) + 1}) {
    const std::string json = R"({"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, )" +
                             std::to_string(steps) + R"(, 3], "dtype": "float32", "name": "in"}},
        {"class_name": "LSTM", "config": {"name": "lstm", "units": 2}}]}})";
    try {
      (void)strata::model_from_json(json);
      ADD_FAILURE() << steps << " steps were accepted";
    } catch (const strata::Error& e) {
      EXPECT_NE(std::string(e.what()).find("1048576"), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << steps << " steps: not a strata::Error: " << e.what();
    }
  }
}

// Found by layer_config_fuzzer (UBSan): a MultiHeadAttention whose config gives a value
// shape of rank 20, or an output_shape of 30 dimensions, named einsum dimensions past the
// 26 letters a-z (an out-of-bounds read). Now a typed error naming the layer.
TEST(ConfigSizes, MultiHeadAttentionRanksBeyondTheEinsumLettersAreRefused) {
  strata::initialize();
  const auto mha = [](const std::string& value_shape, const std::string& output_shape) {
    return strata::deserialize_layer(Config::parse(
        R"({"class_name": "MultiHeadAttention", "config": {"name": "mha", "num_heads": 2, "key_dim": 2,
            "query_shape": [null, 2, 3, 4], "key_shape": [null, 2, 2, 3], "value_shape": )" +
        value_shape + R"(, "output_shape": )" + output_shape + "}}"));
  };
  std::string deep = "[null", wide = "[2";
  for (int i = 0; i < 19; ++i) deep += ", 2";
  for (int i = 0; i < 29; ++i) wide += ", 2";
  deep += "]";
  wide += "]";
  const std::vector<std::pair<std::string, std::string>> cases = {{deep, "null"}, {"[null, 2, 2, 3]", wide}};
  for (const auto& [value_shape, output_shape] : cases) {
    try {
      (void)mha(value_shape, output_shape);
      ADD_FAILURE() << value_shape << " / " << output_shape << " was accepted";
    } catch (const strata::Error& e) {
      EXPECT_NE(std::string(e.what()).find("mha"), std::string::npos) << e.what();
    }
  }
  (void)mha("[null, 2, 2, 3]", "null");  // the fixture's own shapes still build
}

// Found by layer_config_fuzzer (ASan): an EinsumDense whose output_shape had fewer
// dimensions than its equation's output read past the shape it built.
TEST(ConfigSizes, EinsumDenseOutputShapeThatDoesNotFitTheEquationIsRefused) {
  strata::initialize();
  const auto layer = [](const std::string& equation, const std::string& output_shape) {
    return strata::deserialize_layer(Config::parse(R"({"class_name": "EinsumDense", "config": {"name": "ed", "equation": ")" +
                                                   equation + R"(", "output_shape": )" + output_shape +
                                                   R"(, "bias_axes": "c"}})"));
  };
  for (const auto& [equation, output_shape] : std::vector<std::pair<std::string, std::string>>{
           {"ab...,bc->ac...", "[]"}, {"...b,bc->...c", "[]"}, {"ab,bc->ac", "[]"}, {"ab,bc->ac", "[4, 4]"}}) {
    try {
      layer(equation, output_shape)->ensure_built({strata::Shape({2, 5, 3})});
      ADD_FAILURE() << equation << " with " << output_shape << " was accepted";
    } catch (const strata::Error& e) {
      EXPECT_NE(std::string(e.what()).find("ed"), std::string::npos) << e.what();
    }
  }
  layer("ab,bc->ac", "[4]")->ensure_built({strata::Shape({2, 5})});  // fits: builds
}

TEST(ConfigSizes, MultiHeadAttentionSizesAreRefusedNamingTheLayer) {
  for (const auto v : kAll) {
    expect_refused([&] { strata::model_from_config(attention(v, 4, 1 << 20)); }, "'x'", std::string("num_heads = ").append(std::to_string(v)));
    expect_refused([&] { strata::model_from_config(attention(2, v, 1 << 20)); }, "'x'", std::string("key_dim = ").append(std::to_string(v)));
  }
  expect_refused([&] { strata::model_from_config(attention(std::int64_t{1} << 32, std::int64_t{1} << 32, 8)); }, "'x'",
                 "num_heads x key_dim = 2^64");
}

TEST(ConfigSizes, ProductsThatOverflowInt64AreValueErrors) {
  for (const auto& product : overflowing_products()) {
    const auto& name = product.first;
    const auto& model = product.second;
    const std::string kind = expect_refused([&] { strata::model_from_config(model); }, "'x'", name);
    EXPECT_EQ(kind, "ValueError") << name;
  }
}

// The same configs through files: a .json architecture (format-json, whose load holds all
// weights to the machine's memory).
TEST(ConfigSizes, JsonFilesAreRefusedNamingTheLayer) {
  const fs::path dir = fresh_dir("json");
  for (const auto& c : cases()) {
    const fs::path p = dir / (c.name + ".json");
    {
      std::ofstream out(p);
      out << sequential(c.input, c.make(c.values.front())).dump();
    }
    expect_refused([&] { strata::load_model(p); }, "'x'", p.string());
  }
}

// A weight that fits in 64 bits but not in this machine: a BackendError naming the layer and
// the bytes asked, before anything is allocated (not a bad_alloc, not a lazily mapped
// allocation initialised until the machine runs out).
TEST(ConfigSizes, AWeightLargerThanTheMachineIsABackendErrorNamingTheLayer) {
  const std::uint64_t machine = strata::machine_memory_bytes();
  // float32 kernel of (1024, units): 4096 * units bytes, twice the machine (at most 2^62).
  const auto units = static_cast<std::int64_t>(std::min<std::uint64_t>(machine / 2048 + 1, std::uint64_t{1} << 50));
  const Config model = sequential({1024}, layer("Dense", {{"units", units}}));
  const std::string kind = expect_refused([&] { strata::model_from_config(model); }, "layer 'x' (Dense)", "Dense");
  EXPECT_EQ(kind, "BackendError");
  try {
    strata::model_from_config(model);
  } catch (const strata::BackendError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(std::to_string(std::uint64_t{4096} * static_cast<std::uint64_t>(units))), std::string::npos) << m;
    EXPECT_NE(m.find("check the layer's config"), std::string::npos) << m;
  }
}

// While a load's budget is open, all its weights together are held to the machine: two
// kernels of 60% of it each are refused at the second. Initializers are skipped (as an H5
// load does), so the first kernel is mapped but never touched.
TEST(ConfigSizes, WeightsOfOneLoadAddingUpBeyondTheMachineAreABackendError) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer writes the shadow of the mapped kernel (an eighth of it)";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
  GTEST_SKIP() << "a sanitizer writes the shadow of the mapped kernel (an eighth of it)";
#endif
#endif
  const std::uint64_t machine = strata::machine_memory_bytes();
  if (machine > (std::uint64_t{1} << 46)) GTEST_SKIP() << "more than 64 TiB of memory: " << machine;
  const auto units = static_cast<std::int64_t>(machine / 10 * 6 / 4096);
  // x: a (1024, units) kernel, then z: a (units, 1024) one, each 60% of the machine.
  Config model = sequential({1024}, layer("Dense", {{"units", units}}));
  model["config"]["layers"].push_back(layer("Dense", {{"name", "z"}, {"units", 1024}}));
  strata::WeightBudget budget(std::numeric_limits<std::uint64_t>::max(), "test");
  strata::SkipWeightInitializers skip;
  const std::string kind = expect_refused([&] { strata::model_from_config(model); }, "layer 'z' (Dense)", "two kernels");
  EXPECT_EQ(kind, "BackendError");
}

// Orthogonal (the recurrent kernels' default): a request whose Gram-Schmidt would take hours
// is refused at once, and an empty weight (a wrapped size once made one) costs nothing.
TEST(ConfigSizes, OrthogonalBoundsItsWork) {
  const auto init = strata::get_initializer(Config("orthogonal"));
  expect_refused([&] { (*init)(strata::Shape{16384, 65536}, strata::DType::kFloat32); }, "Orthogonal",
                 "16384 x 65536");
  const auto start = std::chrono::steady_clock::now();
  const strata::Tensor empty = (*init)(strata::Shape{k2p62, 0}, strata::DType::kFloat32);
  EXPECT_EQ(empty.num_elements(), 0);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
  expect_refused([&] { (*init)(strata::Shape{k2p62, 4, 1}, strata::DType::kFloat32); }, "Orthogonal", "2^64 rows");
}

// A SavedModel's keras_metadata.pb asking for more weights than its variables hold: refused
// before allocating, as an H5 model_config is (a FormatError naming the directory); a size
// that overflows is a ValueError naming the layer.
TEST(ConfigSizes, SavedModelConfigsRunUnderTheWeightBudget) {
  try {
    strata::get_format("savedmodel");
    strata::get_format("checkpoint");
  } catch (const strata::Error& e) {
    GTEST_SKIP() << "the format-savedmodel and format-checkpoint plugins are not built: " << e.what();
  }
  const fs::path dir = fresh_dir("savedmodel");
  const fs::path sm = dir / "m";
  strata::save_model(*strata::model_from_config(sequential({8}, layer("Dense", {{"units", 3}}))), sm);
  strata::keras::SavedMetadata md;
  {
    std::ifstream in(sm / "keras_metadata.pb", std::ios::binary);
    ASSERT_TRUE(md.ParseFromIstream(&in));
  }
  const auto with_units = [&](std::int64_t units, const fs::path& to) {
    fs::copy(sm, to, fs::copy_options::recursive);
    strata::keras::SavedMetadata edited = md;
    bool found = false;
    for (auto& node : *edited.mutable_nodes()) {
      std::string m = node.metadata();
      for (const char* written : {"\"units\": 3", "\"units\":3"}) {
        const std::string from = written;
        for (auto at = m.find(from); at != std::string::npos; at = m.find(from, at)) {
          std::string to_text = from.substr(0, from.size() - 1);
          to_text += std::to_string(units);
          m.replace(at, from.size(), to_text);
          at += to_text.size();
          found = true;
        }
      }
      node.set_metadata(m);
    }
    ASSERT_TRUE(found) << "no units in the metadata";
    std::ofstream out(to / "keras_metadata.pb", std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(edited.SerializeToOstream(&out));
  };
  // 8 x 10^8 float32: 3.2 GB of kernel, far beyond what a few hundred bytes of variables hold.
  with_units(100'000'000, dir / "big");
  EXPECT_EQ(expect_refused([&] { strata::load_model(dir / "big"); }, "big", "units 10^8"), "FormatError");
  with_units(k2p62, dir / "wrap");
  EXPECT_EQ(expect_refused([&] { strata::load_model(dir / "wrap"); }, "'x'", "units 2^62"), "ValueError");
}

#ifdef STRATA_CLI_PATH
// The CLI: `strata predict` of such a file exits 1 with one line naming the kind and the
// layer (an LSTM of 2^62 units, whose 4 * units once wrapped to 0 and made Orthogonal spin;
// a Dense whose kernel exceeds the machine; a ZeroPadding that once corrupted the heap).
TEST(ConfigSizes, CliPredictReportsOneLineNamingTheLayer) {
  const fs::path dir = fresh_dir("cli");
  const std::vector<std::pair<Config, std::string>> files{
      {sequential({5, 3}, layer("LSTM", {{"units", k2p62}})), "ValueError"},
      {sequential({1 << 20}, layer("Dense", {{"units", k2p31}})), "BackendError"},
      {sequential({16, 3}, layer("ZeroPadding1D", {{"padding", kMax}})), "ShapeError"},
  };
  strata::write_npy(dir / "x.npy", strata::zeros(strata::Shape{2, 5, 3}));
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::string name = "m";
    name += std::to_string(i);
    name += ".json";
    const fs::path model = dir / name;
    {
      std::ofstream out(model);
      out << files[i].first.dump();
    }
    const fs::path err = dir / "stderr.txt";
    std::string command = STRATA_CLI_PATH;
    for (const std::string& part : {std::string(" predict '"), model.string(), std::string("' --input '"),
                                    (dir / "x.npy").string(), std::string("' --output '"), (dir / "y.npy").string(),
                                    std::string("' 2> '"), err.string(), std::string("'")}) {
      command += part;
    }
    const auto start = std::chrono::steady_clock::now();
    const int status = std::system(command.c_str());
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0) << model;
    ASSERT_TRUE(WIFEXITED(status)) << model << ": " << status;
    EXPECT_EQ(WEXITSTATUS(status), 1) << model;
    std::ifstream in(err);
    std::string line, rest;
    std::getline(in, line);
    EXPECT_FALSE(std::getline(in, rest)) << "a second line: " << rest;
    std::string expected = "strata: error: ";
    expected += files[i].second;
    EXPECT_NE(line.find(expected), std::string::npos) << line;
    EXPECT_NE(line.find("'x'"), std::string::npos) << line;
  }
}
#endif

}  // namespace
