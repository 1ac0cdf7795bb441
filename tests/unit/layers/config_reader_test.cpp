// ConfigReader: every accessor with present, missing, null, wrong-type and out-of-range
// values, the messages users see, and the checked size arithmetic. Expected messages are
// written by hand.
#include "strata/config_reader.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "strata/error.hpp"

namespace strata {
namespace {

// The message (without "while ..." frames) of the error `f` throws as kind E.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.message();
  } catch (const Error& e) {
    return std::string("wrong kind ") + e.kind() + ": " + e.message();
  }
  return "nothing thrown";
}

const char* kSubject = "layer 'x' (Dense)";

TEST(ConfigReader, MissingAndNullGiveTheDefault) {
  const Config c = Config::parse(R"({"a": null, "unknown_keras3_key": {"x": 1}})");
  const ConfigReader r(c, kSubject);
  EXPECT_FALSE(r.has("a"));
  EXPECT_FALSE(r.has("b"));
  EXPECT_EQ(r.find("a"), nullptr);
  EXPECT_EQ(r.optional<std::int64_t>("a", 7), 7);
  EXPECT_EQ(r.optional("b", true), true);
  EXPECT_EQ(r.optional("b", 0.5), 0.5);
  EXPECT_EQ(r.optional("b", "same"), "same");
  EXPECT_FALSE(r.if_present<double>("a"));
  EXPECT_EQ(r.number("a", Config(3)).dump(), "3");
  EXPECT_EQ(r.one_of("a", {"valid", "same"}, "valid"), "valid");
  EXPECT_EQ(r.int_tuple("a", 2, {1, 1}), (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(r.int_list("a", {-1}), (std::vector<std::int64_t>{-1}));
  EXPECT_FALSE(r.number_list("a"));
  EXPECT_FALSE(r.shape("a"));
  // A null config is an empty one (Keras's get_config of a layer with no arguments).
  const Config null_config;
  EXPECT_EQ(ConfigReader(null_config, kSubject).optional("use_bias", true), true);
}

TEST(ConfigReader, ANonObjectConfigIsAFormatError) {
  const Config c = Config::parse("[1, 2]");
  EXPECT_EQ(message_of<FormatError>([&] { ConfigReader(c, kSubject); }),
            "layer 'x' (Dense): the config must be a JSON object, got [1,2]");
}

TEST(ConfigReader, RequiredKeyMissingOrNull) {
  const Config c = Config::parse(R"({"units": null})");
  const ConfigReader r(c, kSubject);
  EXPECT_EQ(message_of<FormatError>([&] { r.required<std::int64_t>("units", Range::positive()); }),
            "layer 'x' (Dense): 'units' is missing; it must be a positive integer");
  EXPECT_EQ(message_of<FormatError>([&] { r.required<double>("rate"); }),
            "layer 'x' (Dense): 'rate' is missing; it must be a number");
  EXPECT_EQ(message_of<FormatError>([&] { r.required<std::string>("padding"); }),
            "layer 'x' (Dense): 'padding' is missing; it must be a string");
}

TEST(ConfigReader, Integers) {
  const Config c = Config::parse(
      R"({"i": 3, "f": 3.0, "neg": -3, "half": 2.5, "s": "3", "big": 18446744073709551615, "huge": 1e30, "tiny": -1e30,
          "b": true, "i32": 3000000000})");
  const ConfigReader r(c, kSubject);
  EXPECT_EQ(r.required<std::int64_t>("i"), 3);
  EXPECT_EQ(r.required<std::int64_t>("f", Range::positive()), 3);  // Keras writes 3.0 at times
  EXPECT_EQ(r.required<int>("neg"), -3);
  EXPECT_EQ(message_of<ValueError>([&] { r.required<std::int64_t>("neg", Range::positive()); }),
            "layer 'x' (Dense): 'neg' must be a positive integer, got -3");
  EXPECT_EQ(message_of<ValueError>([&] { r.required<std::int64_t>("neg", Range::non_negative()); }),
            "layer 'x' (Dense): 'neg' must be a non-negative integer, got -3");
  EXPECT_EQ(message_of<ValueError>([&] { r.required<std::int64_t>("i", Range::closed(0, 2)); }),
            "layer 'x' (Dense): 'i' must be an integer in [0, 2], got 3");
  EXPECT_EQ(message_of<ValueError>([&] { r.required<std::int64_t>("i", Range::at_least(4)); }),
            "layer 'x' (Dense): 'i' must be an integer >= 4, got 3");
  EXPECT_EQ(message_of<FormatError>([&] { r.required<std::int64_t>("half"); }),
            "layer 'x' (Dense): 'half' must be an integer, got 2.5");
  EXPECT_EQ(message_of<FormatError>([&] { r.required<std::int64_t>("s", Range::positive()); }),
            "layer 'x' (Dense): 's' must be a positive integer, got \"3\"");
  EXPECT_EQ(message_of<FormatError>([&] { r.required<std::int64_t>("b"); }),
            "layer 'x' (Dense): 'b' must be an integer, got true");
  // Beyond int64: no valid file holds it (FormatError); beyond a narrower asked type: out of
  // range (ValueError). Never a wrapped value.
  EXPECT_EQ(message_of<FormatError>([&] { r.required<std::int64_t>("big"); }),
            "layer 'x' (Dense): 'big' must be an integer no larger than 9223372036854775807, got 18446744073709551615");
  EXPECT_EQ(message_of<FormatError>([&] { r.required<std::int64_t>("huge"); }),
            "layer 'x' (Dense): 'huge' must be an integer no larger than 9223372036854775807, got 1e+30");
  EXPECT_EQ(message_of<FormatError>([&] { r.required<std::int64_t>("tiny"); }),
            "layer 'x' (Dense): 'tiny' must be an integer no smaller than -9223372036854775808, got -1e+30");
  EXPECT_EQ(message_of<ValueError>([&] { r.required<std::int32_t>("i32"); }),
            "layer 'x' (Dense): 'i32' must be an integer no larger than 2147483647, got 3000000000");
  EXPECT_EQ(r.required<std::int64_t>("i32"), 3000000000);
}

TEST(ConfigReader, NumbersBoolsStrings) {
  const Config c = Config::parse(R"({"rate": 1.5, "zero": 0, "one": 1, "two": 2, "t": true, "s": "x", "n": 0.25})");
  const ConfigReader r(c, kSubject);
  EXPECT_EQ(r.required<double>("n", Range::half_open(0, 1)), 0.25);
  EXPECT_EQ(r.required<double>("zero", Range::half_open(0, 1)), 0.0);  // an int is a number
  EXPECT_EQ(message_of<ValueError>([&] { r.required<double>("rate", Range::closed(0, 1)); }),
            "layer 'x' (Dense): 'rate' must be a number in [0, 1], got 1.5");
  EXPECT_EQ(message_of<ValueError>([&] { r.required<double>("one", Range::half_open(0, 1)); }),
            "layer 'x' (Dense): 'one' must be a number in [0, 1), got 1");
  EXPECT_EQ(message_of<ValueError>([&] { r.required<double>("zero", Range::positive()); }),
            "layer 'x' (Dense): 'zero' must be a positive number, got 0");
  EXPECT_EQ(message_of<FormatError>([&] { r.required<double>("s"); }),
            "layer 'x' (Dense): 's' must be a number, got \"x\"");
  EXPECT_EQ(r.required<bool>("t"), true);
  EXPECT_EQ(r.required<bool>("one"), true);  // Python truthiness of 0/1
  EXPECT_EQ(r.required<bool>("zero"), false);
  EXPECT_EQ(message_of<FormatError>([&] { r.required<bool>("two"); }),
            "layer 'x' (Dense): 'two' must be true or false, got 2");
  EXPECT_EQ(message_of<FormatError>([&] { r.required<bool>("s"); }),
            "layer 'x' (Dense): 's' must be true or false, got \"x\"");
  EXPECT_EQ(r.required<std::string>("s"), "x");
  EXPECT_EQ(message_of<FormatError>([&] { r.optional("t", "valid"); }),
            "layer 'x' (Dense): 't' must be a string, got true");
  EXPECT_EQ(r.if_present<double>("n"), 0.25);
  EXPECT_EQ(r.required<Config>("t").dump(), "true");
}

TEST(ConfigReader, NumberKeepsTheValueAsWritten) {
  const Config c = Config::parse(R"({"i": 1, "f": 0.5, "s": "x", "big": 3})");
  const ConfigReader r(c, kSubject);
  EXPECT_EQ(r.number("i", 0.0).dump(), "1");
  EXPECT_EQ(r.number("f", 0.0).dump(), "0.5");
  EXPECT_EQ(message_of<FormatError>([&] { r.number("s", 0.0); }), "layer 'x' (Dense): 's' must be a number, got \"x\"");
  EXPECT_EQ(message_of<ValueError>([&] { r.number("big", 0.0, Range::closed(0, 1)); }),
            "layer 'x' (Dense): 'big' must be a number in [0, 1], got 3");
}

TEST(ConfigReader, OneOf) {
  const Config c = Config::parse(R"({"padding": "SAME", "bad": "causal", "num": 1})");
  const ConfigReader r(c, kSubject);
  EXPECT_EQ(r.one_of("padding", {"valid", "same"}, "valid"), "same");  // Keras lower-cases
  EXPECT_EQ(message_of<FormatError>([&] { r.one_of("bad", {"valid", "same"}, "valid"); }),
            "layer 'x' (Dense): 'bad' must be one of \"valid\", \"same\", got \"causal\"");
  EXPECT_EQ(message_of<FormatError>([&] { r.one_of("num", {"valid", "same"}, "valid"); }),
            "layer 'x' (Dense): 'num' must be one of \"valid\", \"same\", got 1");
}

TEST(ConfigReader, IntTuple) {
  const Config c = Config::parse(R"({"k": 3, "k2": [3, 5], "tuple": {"class_name": "__tuple__", "items": [2, 2]},
                                     "zero": [3, 0], "three": [3, 3, 3], "f": [1.0, 2.5], "neg": -1})");
  const ConfigReader r(c, kSubject);
  EXPECT_EQ(r.int_tuple("k", 2, {1, 1}), (std::vector<std::int64_t>{3, 3}));
  EXPECT_EQ(r.int_tuple("k2", 2, {1, 1}), (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(r.int_tuple("tuple", 2, {1, 1}), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(message_of<ValueError>([&] { r.int_tuple("zero", 2, {1, 1}, Range::positive()); }),
            "layer 'x' (Dense): 'zero' must be a positive integer or a list of 2 positive integers, got [3,0]");
  EXPECT_EQ(message_of<ValueError>([&] { r.int_tuple("neg", 2, {1, 1}, Range::positive()); }),
            "layer 'x' (Dense): 'neg' must be a positive integer or a list of 2 positive integers, got -1");
  EXPECT_EQ(message_of<FormatError>([&] { r.int_tuple("three", 2, {1, 1}); }),
            "layer 'x' (Dense): 'three' must be an integer or a list of 2 integers, got [3,3,3]");
  EXPECT_EQ(message_of<FormatError>([&] { r.int_tuple("f", 2, {1, 1}); }),
            "layer 'x' (Dense): 'f' must be an integer or a list of 2 integers, got [1.0,2.5]");
  EXPECT_EQ(r.int_tuple("k2", 2, Range::positive()), (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(message_of<FormatError>([&] { r.int_tuple("missing", 2, Range::positive()); }),
            "layer 'x' (Dense): 'missing' is missing; it must be a positive integer or a list of 2 positive integers");
}

TEST(ConfigReader, IntListAndNumberList) {
  const Config c = Config::parse(R"({"axis": -1, "axes": [1, 2], "s": "x", "t": [0.5, 1], "bad": [0.5, 2]})");
  const ConfigReader r(c, kSubject);
  EXPECT_EQ(r.int_list("axis", {}), (std::vector<std::int64_t>{-1}));
  EXPECT_EQ(r.int_list("axes", {}), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(message_of<FormatError>([&] { r.int_list("s", {}); }),
            "layer 'x' (Dense): 's' must be an integer or a list of integers, got \"x\"");
  EXPECT_EQ(message_of<ValueError>([&] { r.int_list("axes", {}, Range::at_most(1)); }),
            "layer 'x' (Dense): 'axes' must be an integer <= 1 or a list of integers <= 1, got [1,2]");
  EXPECT_EQ(*r.number_list("t", Range::closed(0, 1)), (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(*r.number_list("axis"), (std::vector<double>{-1.0}));
  EXPECT_EQ(message_of<ValueError>([&] { r.number_list("bad", Range::closed(0, 1)); }),
            "layer 'x' (Dense): 'bad' must be a number in [0, 1] or a list of numbers in [0, 1], got [0.5,2]");
}

TEST(ConfigReader, Shape) {
  Config c = Config::parse(R"({"s": [null, 4], "neg": [2, -1], "str": "x", "f": [1.5]})");
  c["long"] = Config(std::vector<int>(255, 1));
  const ConfigReader r(c, kSubject);
  EXPECT_EQ(*r.shape("s"), (Shape{Shape::kUnknown, 4}));
  EXPECT_EQ(message_of<ValueError>([&] { r.shape("neg"); }),
            "layer 'x' (Dense): 'neg' must be a list of at most 254 non-negative integers or nulls, got [2,-1]");
  EXPECT_EQ(message_of<FormatError>([&] { r.shape("str"); }),
            "layer 'x' (Dense): 'str' must be a list of at most 254 non-negative integers or nulls, got \"x\"");
  EXPECT_EQ(message_of<FormatError>([&] { r.shape("f"); }),
            "layer 'x' (Dense): 'f' must be a list of at most 254 non-negative integers or nulls, got [1.5]");
  EXPECT_EQ(message_of<ValueError>([&] { r.shape("long"); }),
            "layer 'x' (Dense): 'long' has 255 dimensions; at most 254 are supported");
}

TEST(ConfigReader, Shapes) {
  const Config c = Config::parse(R"({"one": [null, 4], "two": [[null, 4], {"class_name": "__tuple__", "items": [2]}],
                                     "bad": [[1], [-2]], "scalar": []})");
  const ConfigReader r(c, kSubject);
  EXPECT_EQ(r.shapes("one"), (std::vector<Shape>{Shape{Shape::kUnknown, 4}}));
  EXPECT_EQ(r.shapes("two"), (std::vector<Shape>{Shape{Shape::kUnknown, 4}, Shape{2}}));
  EXPECT_EQ(r.shapes("scalar"), (std::vector<Shape>{Shape{}}));
  EXPECT_TRUE(r.shapes("missing").empty());
  EXPECT_EQ(message_of<ValueError>([&] { r.shapes("bad"); }),
            "layer 'x' (Dense): 'bad' must be a list of at most 254 non-negative integers or nulls, got [-2]");
}

TEST(ConfigReader, WithoutASubjectMessagesNameTheConfigKey) {
  const Config c = Config::parse(R"({"units": "three"})");
  EXPECT_EQ(message_of<FormatError>([&] { ConfigReader(c, "").required<std::int64_t>("units"); }),
            "config key 'units' must be an integer, got \"three\"");
  EXPECT_EQ(ConfigReader(c, "optimizer 'SGD'").describe("momentum is odd"), "optimizer 'SGD': momentum is odd");
}

// The one-key shortcuts: Keras's config.get(key, default), checked like the reader.
TEST(ConfigShortcuts, OneKeyWithADefault) {
  const Config c = Config::parse(R"({"units": 3.0, "rate": 1, "on": 1, "name": "d", "gone": null, "bad": "x"})");
  EXPECT_EQ(config::get_int(c, "units", 0), 3);
  EXPECT_EQ(config::get_int(c, "gone", 5), 5);
  EXPECT_EQ(config::get_double(c, "missing", 0.25), 0.25);
  EXPECT_EQ(config::get_bool(c, "on", false), true);
  EXPECT_EQ(config::get_string(c, "name", "n"), "d");
  EXPECT_EQ(config::get_number(c, "rate", Config(0.5)).dump(), "1");  // an int stays an int
  EXPECT_NE(config::find_key(c, "units"), nullptr);
  EXPECT_EQ(config::find_key(c, "gone"), nullptr);
  EXPECT_EQ(message_of<FormatError>([&] { config::get_int(c, "bad", 0); }),
            "config key 'bad' must be an integer, got \"x\"");
  // A config that is not an object (an absent or malformed sub-config) reads as empty.
  for (const char* text : {"null", "[1, 2]", "\"Dense\""}) {
    const Config other = Config::parse(text);
    EXPECT_EQ(config::get_int(other, "units", 4), 4) << text;
    EXPECT_EQ(config::find_key(other, "units"), nullptr) << text;
  }
}

TEST(CheckedArithmetic, ExactResultsAndOverflow) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(checked_add(kMax - 1, 1, "w"), kMax);
  EXPECT_EQ(checked_mul(3037000499, 3037000499, "w"), 9223372030926249001);  // floor(sqrt(2^63 - 1))^2
  EXPECT_EQ(checked_mul(0, kMax, "w"), 0);
  EXPECT_EQ(message_of<ValueError>([] { checked_add(kMax, 1, "the kernel"); }),
            "the kernel: 9223372036854775807 + 1 does not fit in a 64-bit size");
  EXPECT_EQ(message_of<ValueError>([] { checked_mul(3037000500, 3037000500, "the kernel"); }),
            "the kernel: 3037000500 x 3037000500 does not fit in a 64-bit size");
  EXPECT_EQ(message_of<ValueError>([] { checked_mul(-2, 3, "the kernel"); }),
            "the kernel: a size is negative (-2 x 3)");
  EXPECT_EQ(checked_element_count({}, "w"), 1);
  EXPECT_EQ(checked_element_count({2, 3, 4}, "w"), 24);
  EXPECT_EQ(checked_element_count({0, kMax, kMax}, "w"), 0);
  EXPECT_EQ(message_of<ValueError>([] { checked_element_count({16, std::int64_t{1} << 62}, "the kernel"); }),
            "the kernel of shape (16, 4611686018427387904) has more elements than fit in a 64-bit size");
  EXPECT_EQ(message_of<ValueError>([] { checked_element_count({-1, 3}, "the kernel"); }),
            "the kernel of shape (-1, 3) has a negative or unknown dimension");
  EXPECT_EQ(checked_byte_size({2, 3}, 4, "w"), 24);
  EXPECT_EQ(message_of<ValueError>([] { checked_byte_size({std::int64_t{1} << 62}, 4, "the kernel"); }),
            "the kernel of shape (4611686018427387904,) needs more bytes than fit in a 64-bit size");
}

}  // namespace
}  // namespace strata
