// tf-keras 2.17 reads back what Strata writes for layers called with call arguments: the
// per-node kwargs of a MultiHeadAttention called twice (one call causal and returning its
// scores) and of Attention/AdditiveAttention returning causal scores. Strata loads the
// fixture's architecture, saves it as H5 and predicts; tf-keras (the interop venv; skipped
// without it) loads the file and must predict the same for every output.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "interop_venv.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class AttentionReadBack : public ::testing::TestWithParam<std::string> {};

TEST_P(AttentionReadBack, TfKerasLoadsStrataH5AndPredictsTheSame) {
  if (!Registry::global().contains(ObjectKind::kFormat, "h5")) GTEST_SKIP() << "no format-h5 plugin in this build";
  const std::filesystem::path python = test::interop_venv() / "bin/python";
  if (!std::filesystem::exists(python)) GTEST_SKIP() << "no tf-keras venv at " << python;
  const std::filesystem::path fixtures = STRATA_KERAS_FIXTURE_DIR;
  const std::string name = GetParam();
  auto model = model_from_json(read_text(fixtures / (name + ".to_json.json")));
  const auto dir = std::filesystem::temp_directory_path() / ("strata_attn_readback_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<Tensor> xs;  // the fixture's inputs, as index.json lists them (files are shared)
  const Config index = Config::parse(read_text(fixtures / "index.json"));
  for (const auto& entry : index["models"]) {
    if (entry["name"] != name) continue;
    for (const auto& in : entry["inputs"]) xs.push_back(read_npy(fixtures / in["file"].get<std::string>()));
  }
  ASSERT_EQ(xs.size(), model->inputs().size()) << "index.json lists no inputs for " << name;
  const auto ys = (*model)(xs);
  for (std::size_t i = 0; i < xs.size(); ++i) write_npy(dir / ("x" + std::to_string(i) + ".npy"), xs[i]);
  for (std::size_t i = 0; i < ys.size(); ++i) write_npy(dir / ("y" + std::to_string(i) + ".npy"), ys[i]);
  save_model(*model, dir / "model.h5");
  std::ofstream(dir / "check.py") << R"(import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np, tf_keras as keras
d, n_in, n_out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
m = keras.models.load_model(os.path.join(d, "model.h5"))
got = m.predict([np.load(os.path.join(d, "x%d.npy" % i)) for i in range(n_in)], verbose=0)
got = got if isinstance(got, list) else [got]
for i in range(n_out):
    ref = np.load(os.path.join(d, "y%d.npy" % i))
    ok = got[i].shape == ref.shape and bool(np.all(np.abs(got[i] - ref) <= 1e-5 + 1e-5 * np.abs(ref)))
    print("output", i, "ok" if ok else "differs")
)";
  const std::string cmd = "'" + python.string() + "' '" + (dir / "check.py").string() + "' '" + dir.string() + "' " +
                          std::to_string(xs.size()) + " " + std::to_string(ys.size()) + " 2>&1";
  std::string out;
  if (FILE* pipe = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    ::pclose(pipe);
  }
  for (std::size_t i = 0; i < ys.size(); ++i) {
    EXPECT_NE(out.find("output " + std::to_string(i) + " ok"), std::string::npos) << out;
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AttentionReadBack,
                         ::testing::Values("mha_called_twice", "mha_keras_masks", "dense_attention_causal_scores"));
// Nested initial states and cells called on states (issue 18, call arguments in nodes).
INSTANTIATE_TEST_SUITE_P(NodeArguments, AttentionReadBack,
                         ::testing::Values("rnn_nested_initial_states", "cells_as_layers"));

}  // namespace
}  // namespace strata
