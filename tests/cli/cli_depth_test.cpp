// Issue 20, nesting depth: a file nested 100k or 1M levels deep (JSON in a .json
// architecture, in an H5 file's model_config / training_config, in a SavedModel's
// keras_metadata.pb; protobuf messages in saved_model.pb) is a FormatError within a second,
// through the library and through `strata info`, `predict` and `convert` — never a stack
// overflow. Before the fix these crashed (SIGSEGV) in the Python-JSON post-pass. The deep
// files are generated here; the limit itself (1000 levels of JSON, protobuf's 100 levels of
// messages) is documented in docs/RELIABILITY.md "Nesting depth".
#include <hdf5.h>

#include <pthread.h>

#include <chrono>
#include <functional>

#include "cli_test_util.hpp"
#include "strata/saving.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"

namespace strata::clitest {
namespace {

using Clock = std::chrono::steady_clock;

// Release builds: the issue's second; sanitized builds run everything several times slower.
constexpr auto kTimeLimit = std::chrono::milliseconds(STRATA_DEPTH_TIME_LIMIT_MS);
constexpr std::size_t kDepths[] = {100'000, 1'000'000};

std::string nested_lists(std::size_t depth) {
  std::string s(depth, '[');
  s.append(depth, ']');
  return s;
}

// A Sequential model's JSON whose Dense layer's config holds `depth` nested lists: as
// deep as the file says, everything else ordinary.
std::string deep_model_json(std::size_t depth) {
  return R"({"class_name": "Sequential", "config": {"name": "deep", "layers": [{"class_name": "Dense", "config": )"
         R"({"name": "d", "units": 2, "batch_input_shape": [null, 3], "strata_deep": )" +
         nested_lists(depth) + "}}]}, \"keras_version\": \"2.17.0\", \"backend\": \"tensorflow\"}";
}

std::string deep_training_config(std::size_t depth) {
  return R"({"loss": "mse", "metrics": null, "optimizer_config": {"class_name": "Adam", "config": )"
         R"({"learning_rate": 0.001, "strata_deep": )" +
         nested_lists(depth) + "}}}";
}

std::shared_ptr<Model> small_model(bool compiled) {
  auto model = std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{
          make_layer("Dense", Config{{"units", 2}, {"name", "d"}, {"batch_input_shape", {nullptr, 3}}})},
      "small");
  if (compiled) model->compile(Config{{"class_name", "Adam"}, {"config", {{"learning_rate", 0.01}}}}, Config("mse"));
  return model;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << p;
}

// Replaces a root attribute of an H5 file by a variable-length string (as Strata and
// tf-keras write model_config), with the HDF5 C library.
void set_h5_attribute(const fs::path& file, const char* name, const std::string& value) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0) << file;
  if (H5Aexists(f, name) > 0) {
    ASSERT_GE(H5Adelete(f, name), 0);
  }
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(attr, 0);
  const char* data = value.c_str();
  EXPECT_GE(H5Awrite(attr, type, &data), 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Fclose(f);
}

// Sets the metadata JSON of node 0 (the model) in a SavedModel's keras_metadata.pb.
void set_root_metadata(const fs::path& dir, const std::string& json) {
  strata::keras::SavedMetadata md;
  {
    std::ifstream in(dir / "keras_metadata.pb", std::ios::binary);
    ASSERT_TRUE(md.ParseFromIstream(&in));
  }
  bool found = false;
  for (auto& node : *md.mutable_nodes()) {
    if (node.node_id() == 0) {
      node.set_metadata(json);
      found = true;
    }
  }
  ASSERT_TRUE(found);
  std::string bytes;
  ASSERT_TRUE(md.SerializeToString(&bytes));
  write_bytes(dir / "keras_metadata.pb", bytes);
}

void append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) v >>= 7, ++n;
  return n;
}

// The wire bytes of one more MetaGraphDef for saved_model.pb whose object graph has a
// concrete function with a canonicalized_input_signature of `depth` StructuredValues, each
// a list_value holding the next (SavedModel.meta_graphs = 2, MetaGraphDef.object_graph_def
// = 7, SavedObjectGraph.concrete_functions = 2 (map entry: key 1, value 2),
// SavedConcreteFunction.canonicalized_input_signature = 3, StructuredValue.list_value = 51,
// ListValue.values = 1). Built with lengths computed inside out, without recursion.
std::string deep_meta_graph(std::size_t depth) {
  // sv[k]: size of the StructuredValue k levels from the innermost (sv[0] empty).
  std::vector<std::uint64_t> sv(depth + 1, 0), list(depth + 1, 0);
  for (std::size_t k = 1; k <= depth; ++k) {
    list[k] = 1 + varint_size(sv[k - 1]) + sv[k - 1];
    sv[k] = 2 + varint_size(list[k]) + list[k];
  }
  std::string body;
  body.reserve(static_cast<std::size_t>(sv[depth]));
  for (std::size_t k = depth; k >= 1; --k) {
    body += "\x9a\x03";  // StructuredValue.list_value (51, length-delimited)
    append_varint(body, list[k]);
    body += '\x0a';  // ListValue.values (1)
    append_varint(body, sv[k - 1]);
  }
  auto wrap = [](std::uint8_t tag, const std::string& inner) {
    std::string out(1, static_cast<char>(tag));
    append_varint(out, inner.size());
    return out + inner;
  };
  const std::string function = wrap(0x1a, body);                      // canonicalized_input_signature (3)
  const std::string entry = wrap(0x0a, "f") + wrap(0x12, function);   // map entry: key, value
  const std::string object_graph = wrap(0x12, entry);                 // concrete_functions (2)
  const std::string meta_graph = wrap(0x3a, object_graph);            // object_graph_def (7)
  return wrap(0x12, meta_graph);                                      // SavedModel.meta_graphs (2)
}

void append_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << p;
}

// The library: load_model throws FormatError mentioning every needle, within the limit.
void expect_load_format_error(const fs::path& path, std::initializer_list<std::string> needles) {
  const auto start = Clock::now();
  try {
    load_model(path);
    ADD_FAILURE() << path << " loaded";
  } catch (const FormatError& e) {
    const std::string what = e.what();
    for (const auto& n : needles) EXPECT_NE(what.find(n), std::string::npos) << "'" << n << "' missing in: " << what;
  } catch (const Error& e) {
    ADD_FAILURE() << path << ": " << e.kind() << " instead of FormatError: " << e.what();
  }
  EXPECT_LT(Clock::now() - start, kTimeLimit) << path;
}

// The CLI: `strata ARGS` reports a FormatError with every needle (exit 1, or for `info`
// the model "not loadable" / the optimizer "unavailable" with exit 0), within the limit.
void expect_cli_format_error(const std::string& args, std::initializer_list<std::string> needles) {
  std::string out;
  const auto start = Clock::now();
  const int rc = run_strata(args, out);
  const auto took = Clock::now() - start;
  EXPECT_TRUE(rc == 0 || rc == 1) << "strata " << args << " exited " << rc << ":\n" << out.substr(0, 2000);
  for (const auto& n : needles) {
    EXPECT_NE(out.find(n), std::string::npos) << "'" << n << "' missing in `strata " << args << "`:\n" << out.substr(0, 2000);
  }
  EXPECT_NE(out.find("FormatError"), std::string::npos) << "strata " << args << ":\n" << out.substr(0, 2000);
  EXPECT_LT(took, kTimeLimit) << "strata " << args;
}

// info, predict and convert of `model`: each a FormatError naming the needles.
void expect_cli_refuses(const fs::path& dir, const fs::path& model, std::initializer_list<std::string> needles) {
  ASSERT_NO_THROW(write_npy(dir / "x.npy", random_tensor(Shape{2, 3}, 1)));
  expect_cli_format_error("info " + q(model), needles);
  expect_cli_format_error("predict " + q(model) + " --input " + q(dir / "x.npy") + " --output " + q(dir / "y.npy"), needles);
  EXPECT_FALSE(fs::exists(dir / "y.npy"));
  expect_cli_format_error("convert " + q(model) + " " + q(dir / "out.h5"), needles);
  EXPECT_FALSE(fs::exists(dir / "out.h5"));
}

TEST(NestingDepth, PythonJsonAcceptsTheLimitAndRefusesOneMore) {
  EXPECT_NO_THROW(parse_python_json(nested_lists(1000), "at the limit"));
  try {
    parse_python_json(nested_lists(1001), "'one.json'");
    ADD_FAILURE() << "1001 levels parsed";
  } catch (const FormatError& e) {
    const std::string what = e.what();
    for (const char* n : {"'one.json'", "1000 levels"}) EXPECT_NE(what.find(n), std::string::npos) << n << " in " << what;
  }
  // Brackets inside strings are text, not nesting.
  const std::string in_string = "[\"" + std::string(5000, '[') + "\", {\"k\": \"{{{{\"}]";
  EXPECT_EQ(parse_python_json(in_string, "strings").size(), 2u);
  // Objects count as arrays do.
  std::string objects;
  for (int i = 0; i < 1001; ++i) objects += "{\"a\": ";
  objects += "1" + std::string(1001, '}');
  EXPECT_THROW(parse_python_json(objects, "objects"), FormatError);
}

TEST(NestingDepth, PythonJsonRefusesDeepTextWithinTheTimeLimit) {
  for (const std::size_t depth : kDepths) {
    const auto start = Clock::now();
    EXPECT_THROW(parse_python_json(nested_lists(depth), "deep"), FormatError) << depth;
    EXPECT_THROW(model_from_json(deep_model_json(depth)), FormatError) << depth;
    EXPECT_LT(Clock::now() - start, kTimeLimit) << depth;
  }
}

TEST(NestingDepth, JsonArchitecture) {
  for (const std::size_t depth : kDepths) {
    const fs::path dir = fresh_dir("json_" + std::to_string(depth));
    std::ofstream(dir / "deep.json") << deep_model_json(depth);
    expect_load_format_error(dir / "deep.json", {"deep.json", "1000 levels"});
    expect_cli_refuses(dir, dir / "deep.json", {"deep.json", "1000 levels"});
    fs::remove_all(dir);  // megabytes at 1M levels
  }
}

TEST(NestingDepth, H5ModelConfig) {
  for (const std::size_t depth : kDepths) {
    const fs::path dir = fresh_dir("h5_model_config_" + std::to_string(depth));
    save_model(*small_model(false), dir / "deep.h5");
    set_h5_attribute(dir / "deep.h5", "model_config", deep_model_json(depth));
    expect_load_format_error(dir / "deep.h5", {"model_config", "deep.h5", "1000 levels"});
    expect_cli_refuses(dir, dir / "deep.h5", {"model_config", "1000 levels"});
    fs::remove_all(dir);  // megabytes at 1M levels
  }
}

TEST(NestingDepth, H5TrainingConfig) {
  for (const std::size_t depth : kDepths) {
    const fs::path dir = fresh_dir("h5_training_config_" + std::to_string(depth));
    save_model(*small_model(true), dir / "deep.h5");
    set_h5_attribute(dir / "deep.h5", "training_config", deep_training_config(depth));
    expect_load_format_error(dir / "deep.h5", {"training_config", "deep.h5", "1000 levels"});
    // `info` (which describes the training configuration) and convert (which keeps it)
    // refuse the file.
    expect_cli_format_error("info " + q(dir / "deep.h5"), {"training_config", "1000 levels"});
    expect_cli_format_error("convert " + q(dir / "deep.h5") + " " + q(dir / "out.h5"), {"training_config", "1000 levels"});
    EXPECT_FALSE(fs::exists(dir / "out.h5"));
    // `predict` loads without compiling (options.compile = false), so it never reads the
    // training configuration: it predicts, quickly.
    ASSERT_NO_THROW(write_npy(dir / "x.npy", random_tensor(Shape{2, 3}, 1)));
    std::string out;
    const auto start = Clock::now();
    EXPECT_EQ(run_strata("predict " + q(dir / "deep.h5") + " --input " + q(dir / "x.npy") + " --output " + q(dir / "y.npy"), out),
              0)
        << out.substr(0, 2000);
    EXPECT_LT(Clock::now() - start, kTimeLimit);
    EXPECT_TRUE(fs::exists(dir / "y.npy"));
    fs::remove_all(dir);  // megabytes at 1M levels
  }
}

TEST(NestingDepth, SavedModelKerasMetadata) {
  for (const std::size_t depth : kDepths) {
    const fs::path dir = fresh_dir("sm_metadata_" + std::to_string(depth));
    save_model(*small_model(false), dir / "deep");
    set_root_metadata(dir / "deep", deep_model_json(depth));
    expect_load_format_error(dir / "deep", {"keras_metadata.pb", "1000 levels"});
    expect_cli_refuses(dir, dir / "deep", {"keras_metadata.pb", "1000 levels"});
    fs::remove_all(dir);  // megabytes at 1M levels
  }
}

// saved_model.pb: protobuf's parser stops at 100 levels of nested messages (Strata keeps
// that default); a message nested deeper is a FormatError naming the file, not a crash.
TEST(NestingDepth, SavedModelProtobufMessages) {
  {
    // Shallow nesting of the same shape is a valid file: the extra meta graph is ignored.
    const fs::path dir = fresh_dir("sm_proto_shallow");
    save_model(*small_model(false), dir / "ok");
    append_bytes(dir / "ok" / "saved_model.pb", deep_meta_graph(20));
    EXPECT_NO_THROW(load_model(dir / "ok"));
  }
  for (const std::size_t depth : kDepths) {
    const fs::path dir = fresh_dir("sm_proto_" + std::to_string(depth));
    save_model(*small_model(false), dir / "deep");
    append_bytes(dir / "deep" / "saved_model.pb", deep_meta_graph(depth));
    expect_load_format_error(dir / "deep", {"saved_model.pb"});
    expect_cli_refuses(dir, dir / "deep", {"saved_model.pb"});
    fs::remove_all(dir);  // megabytes at 1M levels
  }
}

// Within the limit, a legitimately deep file still loads: models nested in models 300
// levels deep (900 levels of JSON, far beyond any real Keras file) build and predict, so
// the limit keeps every recursive walk (copies, dumps, nested from_config, calls) safe.
TEST(NestingDepth, NestedModelsBelowTheLimitLoad) {
  constexpr int kLevels = 300;
  std::string json = R"({"class_name": "Dense", "config": {"name": "d", "units": 2}})";
  for (int i = 0; i < kLevels; ++i) {
    json = R"({"class_name": "Sequential", "config": {"name": "s)" + std::to_string(i) + R"(", "layers": [)" +
           (i == 0 ? std::string(R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "name": "in"}}, )")
                   : std::string()) +
           json + "]}}";
  }
  std::shared_ptr<Model> model;
  ASSERT_NO_THROW(model = model_from_json(json));
  EXPECT_EQ(model->predict(random_tensor(Shape{2, 3}, 3)).shape(), (Shape{2, 2}));
}

// Runs `fn` on a thread with a `stack_bytes` stack (a host application's worker may have
// far less than the main thread's 8 MiB) and returns what it threw, "" when nothing.
std::string run_on_small_stack(std::size_t stack_bytes, const std::function<void()>& fn) {
  struct Job {
    const std::function<void()>* fn;
    std::string error;
  } job{&fn, {}};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_bytes);
  pthread_t thread;
  const int rc = pthread_create(
      &thread, &attr,
      [](void* p) -> void* {
        auto* j = static_cast<Job*>(p);
        try {
          (*j->fn)();
        } catch (const std::exception& e) {
          j->error = e.what();
        }
        return nullptr;
      },
      &job);
  pthread_attr_destroy(&attr);
  if (rc != 0) return "pthread_create failed";
  pthread_join(thread, nullptr);
  return job.error;
}

// A Functional model that is one chain of `n` linear Activation layers, as tf-keras's
// to_json spells it.
std::string chain_json(int n) {
  std::string json = R"({"class_name": "Functional", "config": {"name": "chain", "layers": [)"
                     R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", )"
                     R"("name": "in"}, "name": "in", "inbound_nodes": []})";
  std::string previous = "in";
  for (int i = 0; i < n; ++i) {
    const std::string name = "a" + std::to_string(i);
    json += R"(, {"class_name": "Activation", "config": {"name": ")" + name + R"(", "activation": "linear"}, "name": ")" +
            name + R"(", "inbound_nodes": [[[")" + previous + R"(", 0, 0, {}]]]})";
    previous = name;
  }
  json += R"(], "input_layers": [["in", 0, 0]], "output_layers": [[")" + previous + R"(", 0, 0]]}})";
  return json;
}

// A Functional model's layer graph is as deep as its longest chain of layers, which the
// file decides: building it walks the graph iteratively, so a long chain loads and predicts
// even on a small stack (the recursive walk overflowed a 1 MiB stack at 20k layers).
TEST(NestingDepth, LongFunctionalChainOnASmallStack) {
  constexpr int kLayers = 20'000;
  const std::string json = chain_json(kLayers);
  const Tensor x = random_tensor(Shape{2, 3}, 4);
  std::vector<float> got;
  const std::string error = run_on_small_stack(std::size_t{1} << 20, [&] {
    auto model = model_from_json(json);
    got = model->predict(x).to_vector<float>();
  });
  EXPECT_EQ(error, "");
  EXPECT_EQ(got, x.to_vector<float>());  // linear activations: the input itself
}

}  // namespace
}  // namespace strata::clitest
