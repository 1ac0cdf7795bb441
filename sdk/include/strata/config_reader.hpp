// ConfigReader reads a Keras-style Config (a layer's, an optimizer's, any object's) with
// the checks a constructor needs, and reports what is wrong in one sentence that names
// the object, the key, what was expected and what was found:
//
//   ConfigReader r(config, *this);   // in a Layer subclass: "layer 'dense_1' (Dense)"
//   units_ = r.required<std::int64_t>("units", Range::positive());
//   use_bias_ = r.optional("use_bias", true);
//   padding_ = r.one_of("padding", {"valid", "same"}, "valid");
//   strides_ = r.int_tuple("strides", 2, {1, 1}, Range::positive());
//
//   -> ValueError "layer 'dense_1' (Dense): 'units' must be a positive integer, got -3"
//
// Keras semantics: a missing key and a JSON null read alike (the default applies, or a
// `required` key is reported missing); keys nobody asks about are ignored, so configs
// written by Keras 3 and by older Keras 2 read; integers may be written as integral
// floats (3.0). Error kinds: a missing required key, a value of the wrong JSON type (an
// integer beyond 64 bits included) or a word outside an enumeration is a FormatError (the
// config is not one of that class); a value of the right type outside its range, or a
// size whose arithmetic overflows, is a ValueError (what Keras's constructors raise).
//
// The checked size arithmetic at the bottom is for sizes computed from what a config (a
// file: hostile input) says, before anything is allocated.
//
// Thread safety: a reader only reads its config; distinct readers may be used
// concurrently, and one reader from many threads as long as nobody mutates the config.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "strata/config.hpp"
#include "strata/shape.hpp"

STRATA_API_BEGIN

namespace strata {

class Layer;

// The values a number may take, and the words a message uses for them. Default: any.
class Range {
 public:
  Range() = default;
  static Range positive();                       // > 0
  static Range non_negative();                   // >= 0
  static Range at_least(double lo);              // >= lo
  static Range greater_than(double lo);          // > lo
  static Range at_most(double hi);               // <= hi
  static Range closed(double lo, double hi);     // [lo, hi]
  static Range half_open(double lo, double hi);  // [lo, hi)

  bool contains(double value) const noexcept;
  // For messages: "a positive integer", "a number in [0, 1)", "integers >= 1" (plural).
  std::string describe(std::string_view noun, bool plural = false) const;

 private:
  double lo_ = -std::numeric_limits<double>::infinity();
  double hi_ = std::numeric_limits<double>::infinity();
  bool lo_open_ = false, hi_open_ = false;
};

class ConfigReader {
 public:
  // The longest shape `shape()` accepts (TensorFlow's TensorShape limit).
  static constexpr std::size_t kMaxRank = 254;

  // Reads `config`, which must outlive the reader. `subject` names the object in
  // messages ("layer 'dense_1' (Dense)", "optimizer 'SGD'"); with an empty subject,
  // messages say "config key 'units' ...". FormatError if `config` is neither a JSON
  // object nor null (null reads as an empty object).
  ConfigReader(const Config& config, std::string subject);
  // The subject is the layer's: "layer '<name()>' (<class_name()>)". Call it from a
  // subclass constructor after Layer's, which has read and made unique the name.
  ConfigReader(const Config& config, const Layer& layer);
  // "layer '<name()>' (<class_name()>)": for messages of later checks (build) that
  // should read like the reader's.
  static std::string subject_of(const Layer& layer);

  const Config& config() const noexcept { return *config_; }
  const std::string& subject() const noexcept { return subject_; }

  // config[key] when present and not null; nullptr otherwise.
  const Config* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // The value of `key` as T: bool (true/false; 0 and 1 are accepted, as Python's
  // truthiness makes them work in Keras), any integer type (checked against T's limits;
  // integral floats accepted), float/double, std::string, or Config (any value, as
  // written). `range` applies to numbers. Missing or null: FormatError naming the key.
  template <class T>
  T required(std::string_view key, const Range& range = {}) const {
    const Config* v = find(key);
    if (v == nullptr) missing(key, expected<T>(range));
    return convert<T>(key, *v, range);
  }
  // Like required, but missing or null gives `fallback` (not checked against `range`).
  template <class T>
  T optional(std::string_view key, const T& fallback, const Range& range = {}) const {
    const Config* v = find(key);
    return v == nullptr ? fallback : convert<T>(key, *v, range);
  }
  std::string optional(std::string_view key, const char* fallback) const {
    return optional<std::string>(key, std::string(fallback));
  }
  // Like required, but missing or null gives nullopt (keys whose Keras default is None).
  template <class T>
  std::optional<T> if_present(std::string_view key, const Range& range = {}) const {
    const Config* v = find(key);
    if (v == nullptr) return std::nullopt;
    return convert<T>(key, *v, range);
  }

  // A number kept exactly as written (an int stays an int), for keys that get_config
  // echoes back unchanged (Dropout's rate). Missing or null: `fallback`.
  Config number(std::string_view key, const Config& fallback, const Range& range = {}) const;

  // One of `allowed`, compared without regard to case (Keras lower-cases padding and
  // data_format); returns the spelling in `allowed`. Missing or null: `fallback`.
  // FormatError for any other word.
  std::string one_of(std::string_view key, const std::vector<std::string>& allowed,
                     std::string_view fallback) const;

  // An integer or a list of `n` integers (Keras's normalize_tuple: 3 reads {3, 3} for
  // n = 2), each in `each`. Lists may be wrapped as Keras 3 and H5 files wrap tuples,
  // {"class_name": "__tuple__", "items": [...]}. Missing or null: `fallback`.
  std::vector<std::int64_t> int_tuple(std::string_view key, std::size_t n, const std::vector<std::int64_t>& fallback,
                                      const Range& each = {}) const;
  // The same for a required key (Conv2D's kernel_size): missing or null is a FormatError.
  std::vector<std::int64_t> int_tuple(std::string_view key, std::size_t n, const Range& each) const;
  // An integer or a list of integers of any length (axes). Missing or null: `fallback`.
  std::vector<std::int64_t> int_list(std::string_view key, const std::vector<std::int64_t>& fallback,
                                     const Range& each = {}) const;
  // A number or a list of numbers (thresholds). Missing or null: nullopt.
  std::optional<std::vector<double>> number_list(std::string_view key, const Range& each = {}) const;
  // A list of non-negative integers or nulls (unknown dimensions), at most kMaxRank
  // long: input shapes, noise_shape. Missing or null: nullopt.
  std::optional<Shape> shape(std::string_view key) const;
  // A shape or a list of shapes (one per input: build_input_shape of a multi-input
  // model), each as shape() reads it. Missing or null: none.
  std::vector<Shape> shapes(std::string_view key) const;

  // "<subject>: <message>" (or just the message with an empty subject), for checks a
  // caller makes itself so that its messages read like the reader's.
  std::string describe(std::string_view message) const;

 private:
  [[noreturn]] void missing(std::string_view key, const std::string& expected) const;
  [[noreturn]] void wrong_type(std::string_view key, const std::string& expected, const Config& got) const;
  [[noreturn]] void out_of_range(std::string_view key, const std::string& expected, const Config& got) const;

  bool to_bool(std::string_view key, const Config& v) const;
  std::int64_t to_int(std::string_view key, const Config& v, const Range& range, double lo, double hi) const;
  double to_double(std::string_view key, const Config& v, const Range& range) const;
  std::string to_string(std::string_view key, const Config& v) const;
  Shape shape_value(std::string_view key, const Config& v) const;

  template <class T>
  static std::string expected(const Range& range) {
    if constexpr (std::is_same_v<T, bool>) {
      return "true or false";
    } else if constexpr (std::is_integral_v<T>) {
      return range.describe("integer");
    } else if constexpr (std::is_floating_point_v<T>) {
      return range.describe("number");
    } else if constexpr (std::is_same_v<T, std::string>) {
      return "a string";
    } else {
      return "a value";
    }
  }

  template <class T>
  T convert(std::string_view key, const Config& v, const Range& range) const {
    static_assert(std::is_arithmetic_v<T> || std::is_same_v<T, std::string> || std::is_same_v<T, Config>,
                  "ConfigReader reads bool, integers, floating point, std::string or Config");
    if constexpr (std::is_same_v<T, bool>) {
      return to_bool(key, v);
    } else if constexpr (std::is_integral_v<T>) {
      // T's own limits join the range, so a value that does not fit T is out of range.
      return static_cast<T>(to_int(key, v, range, static_cast<double>(std::numeric_limits<T>::lowest()),
                                   static_cast<double>(std::numeric_limits<T>::max())));
    } else if constexpr (std::is_floating_point_v<T>) {
      return static_cast<T>(to_double(key, v, range));
    } else if constexpr (std::is_same_v<T, std::string>) {
      return to_string(key, v);
    } else {
      return v;
    }
  }

  const Config* config_;
  std::string subject_;
};

// ---- one key, with a default --------------------------------------------------------------
// Shortcuts for code that reads a key here and there (Keras's `config.get(key, default)`),
// each through a ConfigReader with no subject and its semantics above: messages say
// "'<key>' must be ...", and the caller's ErrorContext frame names the object being read.
// A config that is not an object (an absent sub-config, a bare string) reads as empty.
// Code that reads many keys of one object reads better with a ConfigReader of its own.
namespace config {

// The reader these use: no subject, and a config that is not an object reads as empty.
ConfigReader reader(const Config& config);
// config[key] when present and not null, else null.
const Config* find_key(const Config& config, std::string_view key);
bool get_bool(const Config& config, std::string_view key, bool fallback);
// Integers; a float with an integral value (3.0) is accepted.
std::int64_t get_int(const Config& config, std::string_view key, std::int64_t fallback);
double get_double(const Config& config, std::string_view key, double fallback);
std::string get_string(const Config& config, std::string_view key, const std::string& fallback);
// A number kept exactly as written (an int stays an int), for keys Keras echoes back
// unchanged (Dropout's rate, Constant's value).
Config get_number(const Config& config, std::string_view key, const Config& fallback);

}  // namespace config

// ---- checked size arithmetic --------------------------------------------------------------
// For sizes computed from untrusted configs and files. Each throws ValueError naming
// `what` ("layer 'd' (Dense): the kernel") when an operand is negative or the result
// does not fit int64_t; none allocates or aborts.

std::int64_t checked_add(std::int64_t a, std::int64_t b, std::string_view what);
std::int64_t checked_mul(std::int64_t a, std::int64_t b, std::string_view what);
// The product of `dims` (1 for none). kUnknown is negative, so unknown dims are refused.
std::int64_t checked_element_count(const std::vector<std::int64_t>& dims, std::string_view what);
// checked_element_count(dims) * element_size, the bytes a dense tensor needs.
std::int64_t checked_byte_size(const std::vector<std::int64_t>& dims, std::int64_t element_size,
                               std::string_view what);

}  // namespace strata

STRATA_API_END
