// Issue 19 (stop 22): a compiled model whose BatchNormalization was frozen, saved with its
// optimizer, loads again with its classes and the same optimizer state, in every format
// that holds optimizer state (SavedModel, H5, TF checkpoint), whenever the layer was
// frozen: before compile, after a fit followed by a new compile, or after a fit without
// one. In the last case the optimizer keeps the slots it built for the layer's gamma and
// beta (tf-keras 2.17 does too: its saved optimizer.variables list Adam/m/norm/gamma), so
// the loader must build the optimizer over the variables the file's slots belong to, not
// over the variables trainable now. Before the fix the SavedModel and checkpoint loads threw
// ShapeError on optimizer/_variables/5 and the H5 load dropped the state with a warning.
// A Functional model also came back with the layer unfrozen, from every format: its config's
// top-level "trainable": true was applied to every layer (tf-keras's from_config leaves the
// layers' own flags alone).
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "interop_venv.hpp"
#include "strata/config.hpp"
#include "strata/layer.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/optimizer.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;
using strata::Config;

enum class Freeze { kBeforeCompile, kAfterFitRecompiled, kAfterFitNotRecompiled };

const char* freeze_name(Freeze f) {
  switch (f) {
    case Freeze::kBeforeCompile: return "before_compile";
    case Freeze::kAfterFitRecompiled: return "after_fit_recompiled";
    case Freeze::kAfterFitNotRecompiled: return "after_fit_not_recompiled";
  }
  return "?";
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("strata_frozen_opt_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

const char* kLayers = R"([
  {"class_name": "Dense", "config": {"name": "hidden", "units": 4, "activation": "relu"}},
  {"class_name": "BatchNormalization", "config": {"name": "norm"}},
  {"class_name": "Dense", "config": {"name": "scores", "units": 2}}])";

std::shared_ptr<strata::Model> make_net(bool sequential) {
  const Config layers = Config::parse(kLayers);
  if (sequential) {
    Config c = Config::parse(R"({"name": "seq_net", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 6], "dtype": "float32", "name": "features"}}]})");
    for (const auto& l : layers) c["layers"].push_back(l);
    return std::make_shared<strata::Sequential>(c);
  }
  const strata::Tensor in = strata::Input(strata::Shape({6}), "features");
  strata::Tensor h = in;
  for (const auto& l : layers) h = (*strata::make_layer(l["class_name"].get<std::string>(), l["config"]))(h);
  return std::make_shared<strata::Functional>(std::vector<strata::Tensor>{in}, std::vector<strata::Tensor>{h}, "fn_net");
}

strata::Tensor batch_x(float offset) {
  std::vector<float> v(24);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.07f * static_cast<float>(i) - 0.6f + offset;
  return strata::Tensor::from_vector(v, strata::Shape({4, 6}));
}
strata::Tensor batch_y() {
  std::vector<float> v(8);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.25f * static_cast<float>(i % 3) - 0.2f;
  return strata::Tensor::from_vector(v, strata::Shape({4, 2}));
}

// A trained model with its BatchNormalization frozen as `f` says.
std::shared_ptr<strata::Model> trained(bool sequential, Freeze f) {
  auto m = make_net(sequential);
  if (f == Freeze::kBeforeCompile) m->get_layer("norm")->set_trainable(false);
  m->compile(Config("adam"), Config("mse"));
  (void)m->train_on_batch({batch_x(0.0f)}, {batch_y()});
  if (f != Freeze::kBeforeCompile) {
    m->get_layer("norm")->set_trainable(false);
    if (f == Freeze::kAfterFitRecompiled) m->compile(Config("adam"), Config("mse"));
    (void)m->train_on_batch({batch_x(0.1f)}, {batch_y()});
  }
  return m;
}

void expect_same_optimizer_state(const strata::Model& want, const strata::Model& got) {
  ASSERT_TRUE(got.is_compiled());
  const auto w = want.optimizer()->variables(), g = got.optimizer()->variables();
  ASSERT_EQ(g.size(), w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    EXPECT_EQ(g[i].name(), w[i].name());
    if (w[i].dtype() == strata::DType::kInt64) {
      EXPECT_EQ(g[i].value().to_vector<std::int64_t>(), w[i].value().to_vector<std::int64_t>()) << w[i].name();
    } else {
      EXPECT_EQ(g[i].value().to_vector<float>(), w[i].value().to_vector<float>()) << w[i].name();
    }
  }
}

// One more step of both: the same loss and weights, bit for bit.
void expect_same_next_step(strata::Model& want, strata::Model& got) {
  const double lw = want.train_on_batch({batch_x(0.2f)}, {batch_y()}).at("loss");
  const double lg = got.train_on_batch({batch_x(0.2f)}, {batch_y()}).at("loss");
  EXPECT_EQ(lg, lw);
  const auto a = want.get_weights(), b = got.get_weights();
  ASSERT_EQ(b.size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(b[i].to_vector<float>(), a[i].to_vector<float>()) << "weight " << i;
}

class FrozenBatchNorm : public ::testing::TestWithParam<std::tuple<bool, Freeze>> {};

TEST_P(FrozenBatchNorm, OptimizerStateRoundTripsInEveryFormat) {
  const auto [sequential, freeze] = GetParam();
  const std::string tag = std::string(sequential ? "seq_" : "fn_") + freeze_name(freeze);
  const fs::path dir = fresh_dir(tag);
  // The slots of the frozen layer's gamma and beta exist only when it froze after the
  // optimizer built them without a new compile (as in tf-keras).
  {
    auto m = trained(sequential, freeze);
    const std::size_t want = freeze == Freeze::kAfterFitNotRecompiled ? 1 + 2 * 6 : 1 + 2 * 4;
    EXPECT_EQ(m->optimizer()->variables().size(), want);
  }
  {
    SCOPED_TRACE("SavedModel");
    auto m = trained(sequential, freeze);
    strata::save_model(*m, dir / "sm");
    auto loaded = strata::load_model(dir / "sm");
    EXPECT_FALSE(loaded->get_layer("norm")->trainable());
    expect_same_optimizer_state(*m, *loaded);
    expect_same_next_step(*m, *loaded);
  }
  {
    SCOPED_TRACE("H5");
    auto m = trained(sequential, freeze);
    strata::save_model(*m, dir / "m.h5");
    std::string warnings;
    auto previous = strata::set_log_sink([&](strata::LogLevel l, std::string_view text) {
      if (l >= strata::LogLevel::kWarning) warnings += std::string(text) + "\n";
    });
    std::shared_ptr<strata::Model> loaded;
    try {
      loaded = strata::load_model(dir / "m.h5");
    } catch (...) {
      strata::set_log_sink(previous);
      throw;
    }
    strata::set_log_sink(previous);
    EXPECT_EQ(warnings.find("optimizer"), std::string::npos) << warnings;
    EXPECT_FALSE(loaded->get_layer("norm")->trainable());
    expect_same_optimizer_state(*m, *loaded);
    expect_same_next_step(*m, *loaded);
  }
  {
    SCOPED_TRACE("TF checkpoint");
    auto m = trained(sequential, freeze);
    m->save_weights(dir / "ckpt");
    auto loaded = strata::model_from_json(strata::model_to_json(*m));
    loaded->compile(Config("adam"), Config("mse"));
    loaded->load_weights(dir / "ckpt");
    EXPECT_FALSE(loaded->get_layer("norm")->trainable());
    expect_same_optimizer_state(*m, *loaded);
    expect_same_next_step(*m, *loaded);
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(FrozenOptimizer, FrozenBatchNorm,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Values(Freeze::kBeforeCompile, Freeze::kAfterFitRecompiled,
                                                              Freeze::kAfterFitNotRecompiled)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "Sequential_" : "Functional_") +
                                  freeze_name(std::get<1>(info.param));
                         });

// tf-keras 2.17 reads the same optimizer state from Strata's SavedModels: its load_model
// (classes available) loads the file, and the file's optimizer values, read into a
// tf-keras optimizer built over the variables the Strata optimizer was built over, equal
// Strata's (iteration and every slot, bit for bit).
TEST(FrozenOptimizerInterop, TfKerasReadsTheSameOptimizerState) {
  const fs::path py = strata::test::venv_python();
  if (!fs::exists(py)) GTEST_SKIP() << "no interop venv at " << py;
  const fs::path dir = fresh_dir("interop");
  std::vector<std::shared_ptr<strata::Model>> models;
  std::string args;
  int k = 0;
  for (const Freeze f : {Freeze::kBeforeCompile, Freeze::kAfterFitRecompiled, Freeze::kAfterFitNotRecompiled}) {
    for (const bool sequential : {false, true}) {
      if (sequential && f != Freeze::kAfterFitNotRecompiled) continue;  // one Sequential: the case that failed
      models.push_back(trained(sequential, f));
      const fs::path sm = dir / ("m" + std::to_string(k++));
      strata::save_model(*models.back(), sm);
      args += " '" + sm.string() + ":" + (f == Freeze::kAfterFitNotRecompiled ? "all" : "trainable") + "'";
    }
  }
  std::string out;
  const int rc = strata::test::run_capturing("'" + py.string() + "' '" STRATA_OPTIMIZER_STATE_IN_KERAS "'" + args, out);
  ASSERT_EQ(rc, 0) << out;
  std::size_t at = 0;
  for (const auto& m : models) {
    SCOPED_TRACE(m->name());
    at = out.find("STATE ", at);
    ASSERT_NE(at, std::string::npos) << out;
    const auto end = out.find('\n', at);
    const Config k = Config::parse(out.substr(at + 6, end - at - 6));
    at = end;
    const auto mine = m->optimizer()->variables();
    ASSERT_EQ(k.size(), mine.size()) << k.dump();
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const std::string theirs = k[i]["name"].get<std::string>();  // "m/norm/gamma": no optimizer scope after a load
      EXPECT_TRUE(mine[i].name().ends_with(theirs)) << mine[i].name() << " vs " << theirs;
      std::vector<float> want;
      for (const auto& v : k[i]["values"]) want.push_back(static_cast<float>(v.get<double>()));
      const strata::Tensor value = strata::cast(mine[i].value(), strata::DType::kFloat32);
      EXPECT_EQ(value.to_vector<float>(), want) << mine[i].name();
    }
  }
  fs::remove_all(dir);
}

}  // namespace
