#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "strata/log.hpp"

namespace strata {
namespace {

// Counts how often it is formatted.
struct Counter {
  int* n;
  friend std::ostream& operator<<(std::ostream& o, const Counter& c) {
    ++*c.n;
    return o << "x";
  }
};

struct Captured {
  std::vector<std::pair<LogLevel, std::string>> lines;
};

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_level_ = log_level();
    previous_sink_ = set_log_sink([this](LogLevel l, std::string_view t) { captured_.lines.emplace_back(l, t); });
  }
  void TearDown() override {
    set_log_sink(previous_sink_);
    set_log_level(previous_level_);
  }
  Captured captured_;
  LogLevel previous_level_{};
  LogSink previous_sink_;
};

TEST_F(LogTest, ThresholdDropsLowerLevelsBeforeFormatting) {
  set_log_level(LogLevel::kWarning);
  int formatted = 0;
  auto count = Counter{&formatted};
  log_info("info ", count);
  log_debug("debug ", count);
  EXPECT_EQ(formatted, 0);
  log_warning("warn ", count);
  log_error("error ", 7);
  ASSERT_EQ(captured_.lines.size(), 2u);
  EXPECT_EQ(formatted, 1);
  EXPECT_EQ(captured_.lines[0].first, LogLevel::kWarning);
  EXPECT_EQ(captured_.lines[0].second, "warn x");
  EXPECT_EQ(captured_.lines[1].second, "error 7");
}

TEST_F(LogTest, OffSilencesEverything) {
  set_log_level(LogLevel::kOff);
  log_error("nothing");
  EXPECT_TRUE(captured_.lines.empty());
}

TEST(LogLevelParse, AcceptsDocumentedSpellings) {
  EXPECT_EQ(parse_log_level("debug"), LogLevel::kDebug);
  EXPECT_EQ(parse_log_level("INFO"), LogLevel::kInfo);
  EXPECT_EQ(parse_log_level("warn"), LogLevel::kWarning);
  EXPECT_EQ(parse_log_level("warning"), LogLevel::kWarning);
  EXPECT_EQ(parse_log_level("error"), LogLevel::kError);
  EXPECT_EQ(parse_log_level("off"), LogLevel::kOff);
  EXPECT_THROW(parse_log_level("loud"), ValueError);
}

}  // namespace
}  // namespace strata
