// Which tf-keras wrote the SavedModel fixture set in use: tests/data/savedmodel is 2.17.0's; a
// directory given by $STRATA_SAVEDMODEL_FIXTURE_DIR (tests/interop/fixture_set_current_venv.sh
// savedmodel, the second version) must say the version $STRATA_SAVEDMODEL_FIXTURE_TF_KERAS names
// (index.json, written by generate_savedmodel_fixtures.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "fixture_dir.hpp"

namespace {

TEST(SavedModelFixtureFiles, WrittenByTheExpectedTfKerasVersion) {
  const std::filesystem::path dir =
      strata::test::fixture_dir("STRATA_SAVEDMODEL_FIXTURE_DIR", STRATA_SAVEDMODEL_FIXTURES);
  std::ifstream in(dir / "index.json");
  ASSERT_TRUE(in) << "no index.json in " << dir;
  const auto index = nlohmann::json::parse(in);
  const std::string tf_keras = index.at("tf_keras").get<std::string>();
  std::cout << "[ fixtures ] " << dir.string() << ": written by tf-keras " << tf_keras << ", tensorflow "
            << index.at("tensorflow").get<std::string>() << std::endl;
  RecordProperty("tf_keras", tf_keras);
  const std::string want = strata::test::expected_fixture_tf_keras("STRATA_SAVEDMODEL_FIXTURE_DIR",
                                                                   "STRATA_SAVEDMODEL_FIXTURE_TF_KERAS", "2.17.0");
  if (!want.empty()) {
    EXPECT_EQ(tf_keras, want) << "fixtures in " << dir.string();
  }
}

}  // namespace
