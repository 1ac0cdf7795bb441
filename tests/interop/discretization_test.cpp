// An adapted tf-keras Discretization (issue 23): its state is the weight `summary` of shape
// (2, None), whose length depends on the data it was adapted on (strata/plugin/
// file_shaped_weights.hpp lets the built layer take the file's shape). Against real tf-keras
// (label interop; skips without the venv): files from tests/interop/generate_discretization.py
// at test time (cached under ~/.cache/strata/discretization). Strata loads tf-keras's H5,
// SavedModel and `.keras` and predicts what the adapted model predicted; tf-keras loads
// Strata's H5 and SavedModel and predicts the same.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kGenerator = fs::path(STRATA_SOURCE_DIR) / "tests/interop/generate_discretization.py";

fs::path generated() {
  return test::generated_fixtures("discretization", kGenerator);
}

std::vector<std::int64_t> ints(const Tensor& t) {
  return cast(t.to(Device::cpu()), DType::kInt64).to_vector<std::int64_t>();
}

struct Case {
  std::string name;
  std::string file;
};

class DiscretizationInterop : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    for (const char* f : {"h5", "keras", "savedmodel"}) {
      if (!Registry::global().contains(ObjectKind::kFormat, f)) GTEST_SKIP() << "format " << f << " is not built";
    }
    dir_ = generated() / GetParam().name;
  }
  fs::path dir_;
};

// tf-keras's own reload of its `.keras` file restores the summary but never derives the
// boundaries from it (its load does not call finalize_state: every value lands in bucket 0);
// the oracle is the adapted model's prediction, which H5 and SavedModel reloads reproduce.
TEST_P(DiscretizationInterop, LoadsTfKerasFileAndTfKerasLoadsStrataFiles) {
  const Config index = Config::parse(test::read_text(generated() / "index.json"))["cases"][GetParam().name];
  const auto model = load_model(dir_ / GetParam().file);
  const Tensor x = read_npy(dir_ / "x.npy");
  const std::vector<std::int64_t> want = ints(read_npy(dir_ / "pred.npy"));
  ASSERT_EQ(model->weights().size(), 1u);
  const auto shape = index["summary_shape"];
  EXPECT_EQ(model->weights()[0].shape(), (Shape{shape[0].get<std::int64_t>(), shape[1].get<std::int64_t>()}));
  EXPECT_EQ(ints(model->predict(x)), want);

  if (GetParam().file != "saved.h5") return;  // Strata's files: once per case
  for (const char* format : {"h5", "savedmodel"}) {
    const fs::path back =
        fs::temp_directory_path() / ("strata-discretization-" + GetParam().name + (format[0] == 'h' ? ".h5" : ""));
    fs::remove_all(back);
    SaveOptions options;
    options.format = format;
    save_model(*model, back, options);
    // Strata reads its own file back.
    EXPECT_EQ(ints(load_model(back)->predict(x)), want) << format;
    std::string out;
    ASSERT_EQ(test::run_capturing("'" + test::venv_python().string() + "' '" + kGenerator.string() + "' --check '" +
                                      back.string() + "' '" + (dir_ / "x.npy").string() + "'",
                                  out),
              0)
        << out;
    const Config r = Config::parse(out.substr(out.rfind("{\"pred\"")));
    std::vector<std::int64_t> got;
    for (const auto& row : r["pred"]) {
      for (const auto& v : row) got.push_back(v.get<std::int64_t>());
    }
    EXPECT_EQ(got, want) << format << ": " << out;
    EXPECT_EQ(r["bin_boundaries"].dump(), index["bin_boundaries"].dump()) << format;
    fs::remove_all(back);
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char* name : {"d10", "d1000", "d10_many", "d1000_count"}) {
    for (const char* file : {"saved.h5", "saved_sm", "saved.keras"}) out.push_back({name, file});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, DiscretizationInterop, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string file = info.param.file;
                           for (char& c : file) c = c == '.' ? '_' : c;
                           return info.param.name + "_" + file;
                         });

}  // namespace
}  // namespace strata
