// Which tf-keras wrote the training fixture set in use. tests/data/training is 2.17's and
// predates versions.json (generate_training_fixtures.py asserted TensorFlow 2.17 then; it writes
// versions.json since issue 18's second version). A directory given by
// $STRATA_TRAINING_FIXTURE_DIR (tests/interop/fixture_set_current_venv.sh training) must hold
// versions.json naming the version $STRATA_TRAINING_FIXTURE_TF_KERAS names.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "training_test_util.hpp"

namespace strata::training_tests {
namespace {

TEST(TrainingFixtureFiles, WrittenByTheExpectedTfKerasVersion) {
  const std::filesystem::path dir = strata::test::fixture_dir("STRATA_TRAINING_FIXTURE_DIR", STRATA_TRAINING_FIXTURES);
  const std::string want = strata::test::expected_fixture_tf_keras("STRATA_TRAINING_FIXTURE_DIR",
                                                                   "STRATA_TRAINING_FIXTURE_TF_KERAS", "2.17.0");
  if (!std::filesystem::exists(dir / "versions.json")) {
    // Only the committed 2.17 set may lack it.
    EXPECT_FALSE(strata::test::fixture_dir_overridden("STRATA_TRAINING_FIXTURE_DIR"))
        << dir << " has no versions.json: not written by generate_training_fixtures.py --out";
    EXPECT_EQ(want, "2.17.0");
    std::cout << "[ fixtures ] " << dir.string() << ": the committed tf-keras 2.17 set (no versions.json)" << std::endl;
    return;
  }
  const Config versions = load_fixture("versions.json");
  const std::string tf_keras = versions.at("tf_keras").get<std::string>();
  std::cout << "[ fixtures ] " << dir.string() << ": written by tf-keras " << tf_keras << ", tensorflow "
            << versions.at("tensorflow").get<std::string>() << std::endl;
  RecordProperty("tf_keras", tf_keras);
  if (!want.empty()) {
    EXPECT_EQ(tf_keras, want) << "fixtures in " << dir.string();
  }
}

}  // namespace
}  // namespace strata::training_tests
