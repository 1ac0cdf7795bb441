// Models whose graphs compute trigonometric functions and cumulative sums (issue 23: the Sin,
// Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Atan2, Cumsum and Cumprod ops),
// against real tf-keras and Keras 3 (label interop; skips without the venv). The models come
// from tests/interop/generate_trig_models.py at test time (cached under
// ~/.cache/strata/trig-models):
//   - tf-keras (TFOpLambda layers of tf.math.*): a sinusoidal positional encoding computed in
//     the model from tf.math.cumsum, sin and cos, and every mapped function at once; from H5
//     and SavedModel (built from the config, and revived from the traces, whose nodes are the
//     ops themselves). Strata predicts what tf-keras predicted (1e-5), one SGD step gives
//     tf-keras's weights (1e-5), and tf-keras loads Strata's H5 and SavedModel and predicts
//     the same.
//   - Keras 3 (op layers Sin ... Arctan2, Cumsum, Cumprod of keras.src.ops.numpy): Strata
//     predicts Keras 3's outputs (1e-5) and its gradients of sum(y²)/2 w.r.t. the weights
//     (1e-4); Keras 3 loads the archive Strata writes and predicts the same.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/registry.hpp"
#include "strata/revived.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kGenerator = fs::path(STRATA_SOURCE_DIR) / "tests/interop/generate_trig_models.py";

fs::path generated() {
  return test::generated_fixtures("trig-models", kGenerator);
}

// "" when |got - want| <= tol (1 + |want|) everywhere, else the first difference.
std::string mismatch(const Tensor& got_t, const Tensor& want_t, double tol) {
  if (got_t.shape() != want_t.shape()) {
    return "shape " + got_t.shape().to_string() + ", expected " + want_t.shape().to_string();
  }
  const auto got = cast(got_t.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  const auto want = cast(want_t.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!(std::fabs(got[i] - want[i]) <= tol + tol * std::fabs(want[i]))) {
      std::ostringstream s;
      s << "element " << i << ": " << got[i] << ", expected " << want[i];
      return s.str();
    }
  }
  return "";
}

fs::path fresh(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("strata-trig-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

bool have_formats(std::initializer_list<const char*> formats, std::string& missing) {
  for (const char* f : formats) {
    if (!Registry::global().contains(ObjectKind::kFormat, f)) {
      missing = f;
      return false;
    }
  }
  return true;
}

// ---- tf-keras ------------------------------------------------------------------------------

struct TfCase {
  std::string model;
  std::string file;  // saved.h5 or saved_sm
  bool traces;       // SavedModel revived from its traces
};

class TrigTfKeras : public ::testing::TestWithParam<TfCase> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    std::string missing;
    if (!have_formats({"h5", "savedmodel"}, missing)) GTEST_SKIP() << "format " << missing << " is not built";
    clear_session();
    dir_ = generated() / GetParam().model;
  }
  std::shared_ptr<Model> load() const {
    LoadOptions o;
    o.revive_from_traces = GetParam().traces;
    auto m = load_model(dir_ / GetParam().file, o);
    EXPECT_EQ(is_revived(*m), GetParam().traces);
    return m;
  }
  fs::path dir_;
};

TEST_P(TrigTfKeras, PredictsAndTrainsAsTfKeras) {
  const auto model = load();
  const Tensor x = read_npy(dir_ / "x0.npy");
  EXPECT_EQ(mismatch(model->predict(x), read_npy(dir_ / "y0.npy"), 1e-5), "");

  ASSERT_TRUE(model->is_compiled());
  const double loss = model->train_on_batch({read_npy(dir_ / "tx.npy")}, {read_npy(dir_ / "ty.npy")}).at("loss");
  EXPECT_TRUE(std::isfinite(loss));
  const Config index = Config::parse(test::read_text(generated() / "index.json"))["models"][GetParam().model];
  const auto weights = model->weights();
  ASSERT_EQ(weights.size(), index["weights"].get<std::size_t>());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    EXPECT_EQ(weights[i].name(), index["weight_names"][i].get<std::string>());
    EXPECT_EQ(mismatch(weights[i].value(), read_npy(dir_ / ("after" + std::to_string(i) + ".npy")), 1e-5), "")
        << "weight " << weights[i].name() << " after one step";
  }
}

// Strata's H5 and SavedModel of the model, loaded by tf-keras, predict what tf-keras predicted.
TEST_P(TrigTfKeras, TfKerasLoadsStrataFiles) {
  if (GetParam().traces) GTEST_SKIP() << "written once per model, from the class-built load";
  const auto model = load();
  const fs::path work = fresh(GetParam().model + "_" + GetParam().file);
  for (const char* format : {"h5", "savedmodel"}) {
    SCOPED_TRACE(format);
    const fs::path back = work / (std::string("back") + (format[0] == 'h' ? ".h5" : "_sm"));
    SaveOptions options;
    options.format = format;
    save_model(*model, back, options);
    std::string out;
    EXPECT_EQ(test::run_capturing(quoted(test::venv_python()) + " " + quoted(kGenerator) + " --check-tfkeras " +
                                      quoted(back) + " " + quoted(dir_ / "x0.npy") + " " + quoted(dir_ / "y0.npy"),
                                  out),
              0)
        << out;
    EXPECT_NE(out.find("ok"), std::string::npos) << out;
  }
  fs::remove_all(work);
}

std::vector<TfCase> tf_cases() {
  std::vector<TfCase> out;
  for (const char* model : {"tfk_positional", "tfk_trig_all"}) {
    out.push_back({model, "saved.h5", false});
    out.push_back({model, "saved_sm", false});
    out.push_back({model, "saved_sm", true});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Models, TrigTfKeras, ::testing::ValuesIn(tf_cases()),
                         [](const ::testing::TestParamInfo<TfCase>& info) {
                           return info.param.model + (info.param.file == "saved.h5" ? "_h5" : "_savedmodel") +
                                  (info.param.traces ? "_traces" : "");
                         });

// ---- Keras 3 -------------------------------------------------------------------------------

class TrigKeras3 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    std::string missing;
    if (!have_formats({"keras"}, missing)) GTEST_SKIP() << "format " << missing << " is not built";
    clear_session();
    dir_ = generated() / "k3_trig";
    index_ = Config::parse(test::read_text(generated() / "index.json"))["models"]["k3_trig"];
  }
  std::vector<Tensor> read_all(const char* prefix, std::size_t n) const {
    std::vector<Tensor> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(read_npy(dir_ / (prefix + std::to_string(i) + ".npy")));
    return out;
  }
  fs::path dir_;
  Config index_;
};

TEST_F(TrigKeras3, PredictsAndDifferentiatesAsKeras3) {
  const auto model = load_model(dir_ / "model.keras");
  const auto inputs = read_all("x", index_["inputs"].get<std::size_t>());
  const auto n_outputs = index_["outputs"].get<std::size_t>();
  const auto want = read_all("y", n_outputs);
  const auto got = model->predict(inputs);
  ASSERT_EQ(got.size(), n_outputs);
  for (std::size_t o = 0; o < n_outputs; ++o) {
    EXPECT_EQ(dtype_name(got[o].dtype()), dtype_name(want[o].dtype())) << "output " << o;
    EXPECT_EQ(mismatch(got[o], want[o], 1e-5), "") << "output " << o;
  }

  GradientTape tape;
  const auto ys = (*model)(inputs);
  std::vector<Tensor> terms;
  for (const auto& y : ys) terms.push_back(sum(square(y)) * 0.5);
  const Tensor loss = add_n(terms);
  const auto n_weights = index_["weights"].get<std::size_t>();
  ASSERT_EQ(model->weights().size(), n_weights);
  const auto grads = tape.gradient(loss, model->weights());
  const auto want_grads = read_all("g", n_weights);
  for (std::size_t i = 0; i < n_weights; ++i) {
    const std::string name = model->weights()[i].name();
    if (!grads[i].defined()) {  // the frozen frequencies: Keras 3's gradient is zeros there too
      EXPECT_EQ(mismatch(zeros_like(want_grads[i]), want_grads[i], 0.0), "") << "no gradient for " << name;
      continue;
    }
    EXPECT_EQ(mismatch(grads[i], want_grads[i], 1e-4), "") << "gradient of " << name;
  }
}

TEST_F(TrigKeras3, Keras3LoadsStrataArchive) {
  const auto model = load_model(dir_ / "model.keras");
  const fs::path work = fresh("k3_trig");
  save_model(*model, work / "model.keras");
  std::string files;
  for (std::size_t i = 0; i < index_["inputs"].get<std::size_t>(); ++i)
    files += " " + quoted(dir_ / ("x" + std::to_string(i) + ".npy"));
  for (std::size_t i = 0; i < index_["outputs"].get<std::size_t>(); ++i)
    files += " " + quoted(dir_ / ("y" + std::to_string(i) + ".npy"));
  std::string out;
  EXPECT_EQ(test::run_capturing(quoted(test::venv_python()) + " " + quoted(kGenerator) + " --check-keras3 " +
                                    quoted(work / "model.keras") + files,
                                out),
            0)
      << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
  fs::remove_all(work);
}

}  // namespace
}  // namespace strata
