#include <gtest/gtest.h>

#include "strata/error.hpp"

namespace strata {
namespace {

int g_evaluations = 0;
std::string costly() {
  ++g_evaluations;
  return "costly";
}

TEST(Error, CheckEvaluatesMessageOnlyOnFailure) {
  g_evaluations = 0;
  STRATA_CHECK(1 + 1 == 2, ValueError, costly());
  EXPECT_EQ(g_evaluations, 0);
  EXPECT_THROW(STRATA_CHECK(false, ValueError, costly()), ValueError);
  EXPECT_EQ(g_evaluations, 1);
}

TEST(Error, CheckFormatsArgumentsAndRecordsLocation) {
  try {
    STRATA_CHECK(3 < 2, FormatError, "dataset '", "w", "' has rank ", 40, " (max ", 32, ")");
    FAIL() << "no throw";
  } catch (const FormatError& e) {
    EXPECT_EQ(e.message(), "dataset 'w' has rank 40 (max 32)");
    EXPECT_STREQ(e.what(), "dataset 'w' has rank 40 (max 32)");
    EXPECT_STREQ(e.kind(), "FormatError");
    EXPECT_NE(std::string(e.file()).find("error_test.cpp"), std::string::npos);
    EXPECT_GT(e.line(), 0);
  }
}

TEST(Error, KindsDeriveFromErrorAndNameThemselves) {
  auto kind_of = [](auto thrower) -> std::string {
    try {
      thrower();
    } catch (const Error& e) {
      return e.kind();
    }
    return "none";
  };
  EXPECT_EQ(kind_of([] { STRATA_THROW(ValueError, "x"); }), "ValueError");
  EXPECT_EQ(kind_of([] { STRATA_THROW(ShapeError, "x"); }), "ShapeError");
  EXPECT_EQ(kind_of([] { STRATA_THROW(IOError, "x"); }), "IOError");
  EXPECT_EQ(kind_of([] { STRATA_THROW(PluginError, "x"); }), "PluginError");
  EXPECT_EQ(kind_of([] { STRATA_THROW(BackendError, "x"); }), "BackendError");
  EXPECT_EQ(kind_of([] { throw UnknownObjectError({{"layer", "X", {}, ""}}); }), "UnknownObjectError");
}

TEST(Error, ContextFramesAreCapturedInnermostFirstAndPopped) {
  try {
    auto outer = ErrorContext::push("loading model from '", "m.h5", "'");
    auto inner = ErrorContext::push("reading layer '", "dense", "'");
    STRATA_THROW(FormatError, "weight count mismatch");
  } catch (const Error& e) {
    ASSERT_EQ(e.context().size(), 2u);
    EXPECT_EQ(e.context()[0], "reading layer 'dense'");
    EXPECT_EQ(e.context()[1], "loading model from 'm.h5'");
    EXPECT_STREQ(e.what(),
                 "weight count mismatch\n  while reading layer 'dense'\n  while loading model from 'm.h5'");
  }
  // Frames are gone once their scopes ended.
  try {
    STRATA_THROW(ValueError, "later");
  } catch (const Error& e) {
    EXPECT_TRUE(e.context().empty());
    EXPECT_STREQ(e.what(), "later");
  }
}

TEST(Error, UnknownObjectErrorNamesEveryMissAndWhatToDo) {
  UnknownObjectError one({{"layer", "custom_layer", {"CustomLayer"}, ""}});
  EXPECT_STREQ(one.what(),
               "Unknown layer: 'custom_layer'. Did you mean 'CustomLayer'? Load a plugin that provides it "
               "(`strata plugins` lists what is loaded) or pass it in custom_objects.");
  UnknownObjectError two({{"layer", "custom_layer", {}, "layer 'l1' of model 'm'"},
                          {"activation", "custom_activation", {"a", "b"}, ""}});
  const std::string text = two.what();
  EXPECT_NE(text.find("2 unknown objects"), std::string::npos);
  EXPECT_NE(text.find("Unknown layer: 'custom_layer' (needed by layer 'l1' of model 'm')."), std::string::npos);
  EXPECT_NE(text.find("Unknown activation: 'custom_activation'. Did you mean 'a' or 'b'?"), std::string::npos);
  EXPECT_NE(text.find("pass them in custom_objects"), std::string::npos);
  EXPECT_EQ(two.missing().size(), 2u);
}

}  // namespace
}  // namespace strata
