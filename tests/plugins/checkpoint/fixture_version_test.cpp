// Which TensorFlow / tf-keras wrote the checkpoint fixture set in use: tests/data/checkpoint is
// 2.17.1 / 2.17.0's; a directory given by $STRATA_CHECKPOINT_FIXTURE_DIR
// (tests/interop/fixture_set_current_venv.sh checkpoint, the second version) must say the version
// $STRATA_CHECKPOINT_FIXTURE_TF_KERAS names (versions.json, written by
// generate_checkpoint_fixtures.py).
#include <gtest/gtest.h>

#include <iostream>

#include "checkpoint_test_util.hpp"
#include "strata/config.hpp"
#include "strata/plugin/file_system.hpp"

namespace strata {
namespace {

using ckpt_test::kFixtures;

TEST(CheckpointFixtureFiles, WrittenByTheExpectedTfKerasVersion) {
  const Config versions = Config::parse(read_file(kFixtures / "versions.json"));
  const std::string tf_keras = versions.at("tf_keras").get<std::string>();
  std::cout << "[ fixtures ] " << kFixtures.string() << ": written by tf-keras " << tf_keras << ", tensorflow "
            << versions.at("tensorflow").get<std::string>() << std::endl;
  RecordProperty("tf_keras", tf_keras);
  const std::string want = strata::test::expected_fixture_tf_keras("STRATA_CHECKPOINT_FIXTURE_DIR",
                                                                   "STRATA_CHECKPOINT_FIXTURE_TF_KERAS", "2.17.0");
  if (!want.empty()) {
    EXPECT_EQ(tf_keras, want) << "fixtures in " << kFixtures.string();
  }
}

}  // namespace
}  // namespace strata
