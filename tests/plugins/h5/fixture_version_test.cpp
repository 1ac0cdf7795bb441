// Which tf-keras wrote the H5 fixture set in use: tests/data/h5 is 2.17.0's; a directory given
// by $STRATA_H5_FIXTURE_DIR (tests/interop/fixture_set_current_venv.sh h5, the second version)
// must say the version $STRATA_H5_FIXTURE_TF_KERAS names (index.json's meta, written by
// generate_h5_fixtures.py).
#include <gtest/gtest.h>

#include <iostream>

#include "fixture_dir.hpp"
#include "h5_test_util.hpp"

namespace strata::h5test {
namespace {

TEST(H5FixtureFiles, WrittenByTheExpectedTfKerasVersion) {
  const auto& meta = index()["meta"];
  const std::string tf_keras = meta["tf_keras"].get<std::string>();
  std::cout << "[ fixtures ] " << fixture_dir().string() << ": written by tf-keras " << tf_keras << ", tensorflow "
            << meta["tensorflow"].get<std::string>() << ", h5py " << meta["h5py"].get<std::string>() << "; Keras 3 file by "
            << index()["models"]["keras3_sequential"]["keras_version"].get<std::string>() << std::endl;
  RecordProperty("tf_keras", tf_keras);
  const std::string want =
      strata::test::expected_fixture_tf_keras("STRATA_H5_FIXTURE_DIR", "STRATA_H5_FIXTURE_TF_KERAS", "2.17.0");
  if (!want.empty()) {
    EXPECT_EQ(tf_keras, want) << "fixtures in " << fixture_dir().string();
  }
}

}  // namespace
}  // namespace strata::h5test
