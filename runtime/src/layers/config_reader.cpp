#include "strata/config_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "strata/error.hpp"
#include "strata/layer.hpp"

namespace strata {
namespace {

// Shortest text of a bound: 1 rather than 1.000000.
std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return std::move(out).str();
}

// An integer type's limit, exactly (the double 2^63 stands for int64's maximum, the
// largest value the reader returns).
std::string limit_text(double v) {
  if (v >= 9223372036854775807.0) return "9223372036854775807";
  if (v <= -9223372036854775808.0) return "-9223372036854775808";
  return std::to_string(static_cast<std::int64_t>(v));
}

std::string with_article(const std::string& words) {
  const bool vowel = !words.empty() && std::string_view("aeiou").find(words.front()) != std::string_view::npos;
  return (vowel ? "an " : "a ") + words;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A JSON value as an int64: kOk, kNotInteger (wrong type, fraction, not finite) or
// kTooLarge (an integer, or integral float, beyond int64).
enum class IntParse { kOk, kNotInteger, kTooLarge };

IntParse parse_int(const Config& v, std::int64_t& out) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return IntParse::kTooLarge;
    out = static_cast<std::int64_t>(u);
    return IntParse::kOk;
  }
  if (v.is_number_integer()) {
    out = v.get<std::int64_t>();
    return IntParse::kOk;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::trunc(d) != d) return IntParse::kNotInteger;
    // Range first: converting a double outside int64's range is undefined behaviour.
    // 2^63 is the first double past int64's maximum.
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return IntParse::kTooLarge;
    out = static_cast<std::int64_t>(d);
    return IntParse::kOk;
  }
  return IntParse::kNotInteger;
}

// Keras 3 and H5 files may wrap tuples as {"class_name": "__tuple__", "items": [...]}.
const Config& unwrap_tuple(const Config& v) { return v.is_object() && v.contains("items") ? v["items"] : v; }

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string out = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + (dims.size() == 1 ? ",)" : ")");
}

}  // namespace

// ---- Range ------------------------------------------------------------------------------------

Range Range::positive() { return greater_than(0.0); }
Range Range::non_negative() { return at_least(0.0); }

Range Range::at_least(double lo) {
  Range r;
  r.lo_ = lo;
  return r;
}

Range Range::greater_than(double lo) {
  Range r = at_least(lo);
  r.lo_open_ = true;
  return r;
}

Range Range::at_most(double hi) {
  Range r;
  r.hi_ = hi;
  return r;
}

Range Range::closed(double lo, double hi) {
  Range r;
  r.lo_ = lo;
  r.hi_ = hi;
  return r;
}

Range Range::half_open(double lo, double hi) {
  Range r = closed(lo, hi);
  r.hi_open_ = true;
  return r;
}

bool Range::contains(double value) const noexcept {
  if (std::isnan(value)) return false;
  const bool above = lo_open_ ? value > lo_ : value >= lo_;
  const bool below = hi_open_ ? value < hi_ : value <= hi_;
  return above && below;
}

std::string Range::describe(std::string_view noun, bool plural) const {
  std::string words;
  const bool lo_set = std::isfinite(lo_), hi_set = std::isfinite(hi_);
  std::string condition;
  if (lo_set && lo_ == 0.0 && !hi_set) {
    words = lo_open_ ? "positive " : "non-negative ";
  } else if (lo_set && hi_set) {
    condition = std::string(" in ") + (lo_open_ ? "(" : "[") + number_text(lo_) + ", " + number_text(hi_) +
                (hi_open_ ? ")" : "]");
  } else if (lo_set) {
    condition = (lo_open_ ? " > " : " >= ") + number_text(lo_);
  } else if (hi_set) {
    condition = (hi_open_ ? " < " : " <= ") + number_text(hi_);
  }
  words += std::string(noun) + (plural ? "s" : "") + condition;
  return plural ? words : with_article(words);
}

// ---- ConfigReader -----------------------------------------------------------------------------

ConfigReader::ConfigReader(const Config& config, std::string subject)
    : config_(&config), subject_(std::move(subject)) {
  STRATA_CHECK(config.is_object() || config.is_null(), FormatError,
               describe("the config must be a JSON object, got " + config.dump()));
}

ConfigReader::ConfigReader(const Config& config, const Layer& layer) : ConfigReader(config, subject_of(layer)) {}

std::string ConfigReader::subject_of(const Layer& layer) {
  return "layer '" + layer.name() + "' (" + layer.class_name() + ")";
}

const Config* ConfigReader::find(std::string_view key) const {
  if (!config_->is_object()) return nullptr;
  auto it = config_->find(key);
  if (it == config_->end() || it->is_null()) return nullptr;
  return &*it;
}

std::string ConfigReader::describe(std::string_view message) const {
  return subject_.empty() ? std::string(message) : subject_ + ": " + std::string(message);
}

namespace {

std::string key_text(const std::string& subject, std::string_view key) {
  return (subject.empty() ? "config key '" : "'") + std::string(key) + "'";
}

}  // namespace

void ConfigReader::missing(std::string_view key, const std::string& expected) const {
  STRATA_THROW(FormatError, describe(key_text(subject_, key) + " is missing; it must be " + expected));
}

void ConfigReader::wrong_type(std::string_view key, const std::string& expected, const Config& got) const {
  STRATA_THROW(FormatError, describe(key_text(subject_, key) + " must be " + expected + ", got " + got.dump()));
}

void ConfigReader::out_of_range(std::string_view key, const std::string& expected, const Config& got) const {
  STRATA_THROW(ValueError, describe(key_text(subject_, key) + " must be " + expected + ", got " + got.dump()));
}

bool ConfigReader::to_bool(std::string_view key, const Config& v) const {
  if (v.is_boolean()) return v.get<bool>();
  std::int64_t i = 0;
  if (v.is_number_integer() && parse_int(v, i) == IntParse::kOk && (i == 0 || i == 1)) return i == 1;
  wrong_type(key, "true or false", v);
}

std::int64_t ConfigReader::to_int(std::string_view key, const Config& v, const Range& range, double lo,
                                  double hi) const {
  const std::string expected = range.describe("integer");
  // Past the limits of the type asked for: say which limit.
  const auto limit = [&](bool above) {
    return expected + (above ? " no larger than " + limit_text(hi) : " no smaller than " + limit_text(lo));
  };
  std::int64_t out = 0;
  switch (parse_int(v, out)) {
    case IntParse::kNotInteger:
      wrong_type(key, expected, v);
    case IntParse::kTooLarge:
      // Not even a 64-bit integer: no valid file holds it (FormatError, as before the reader).
      wrong_type(key, limit(v.is_number_unsigned() || v.get<double>() > 0), v);
    case IntParse::kOk:
      break;
  }
  const auto d = static_cast<double>(out);
  if (d < lo || d > hi) out_of_range(key, limit(d > hi), v);
  if (!range.contains(d)) out_of_range(key, expected, v);
  return out;
}

double ConfigReader::to_double(std::string_view key, const Config& v, const Range& range) const {
  const std::string expected = range.describe("number");
  if (!v.is_number()) wrong_type(key, expected, v);
  const auto d = v.get<double>();
  if (!range.contains(d)) out_of_range(key, expected, v);
  return d;
}

std::string ConfigReader::to_string(std::string_view key, const Config& v) const {
  if (!v.is_string()) wrong_type(key, "a string", v);
  return v.get<std::string>();
}

Config ConfigReader::number(std::string_view key, const Config& fallback, const Range& range) const {
  const Config* v = find(key);
  if (v == nullptr) return fallback;
  to_double(key, *v, range);
  return *v;
}

std::string ConfigReader::one_of(std::string_view key, const std::vector<std::string>& allowed,
                                 std::string_view fallback) const {
  const Config* v = find(key);
  if (v == nullptr) return std::string(fallback);
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "\"" : ", \"") + a + "\"";
  const std::string expected = "one of " + list;
  if (!v->is_string()) wrong_type(key, expected, *v);
  const std::string word = lower(v->get<std::string>());
  for (const auto& a : allowed) {
    if (lower(a) == word) return a;
  }
  wrong_type(key, expected, *v);
}

std::vector<std::int64_t> ConfigReader::int_tuple(std::string_view key, std::size_t n,
                                                  const std::vector<std::int64_t>& fallback,
                                                  const Range& each) const {
  const Config* v = find(key);
  if (v == nullptr) return fallback;
  const std::string expected =
      each.describe("integer") + " or a list of " + std::to_string(n) + " " + each.describe("integer", true);
  const Config& list = unwrap_tuple(*v);
  std::vector<std::int64_t> out;
  auto take = [&](const Config& e) {
    std::int64_t i = 0;
    const IntParse parsed = parse_int(e, i);
    if (parsed == IntParse::kNotInteger) wrong_type(key, expected, *v);
    if (parsed == IntParse::kTooLarge || !each.contains(static_cast<double>(i))) out_of_range(key, expected, *v);
    out.push_back(i);
  };
  if (list.is_number()) {
    take(list);
    return std::vector<std::int64_t>(n, out.front());
  }
  if (!list.is_array() || list.size() != n) wrong_type(key, expected, *v);
  for (const auto& e : list) take(e);
  return out;
}

std::vector<std::int64_t> ConfigReader::int_tuple(std::string_view key, std::size_t n, const Range& each) const {
  if (!has(key)) {
    missing(key,
            each.describe("integer") + " or a list of " + std::to_string(n) + " " + each.describe("integer", true));
  }
  return int_tuple(key, n, {}, each);
}

std::vector<std::int64_t> ConfigReader::int_list(std::string_view key, const std::vector<std::int64_t>& fallback,
                                                 const Range& each) const {
  const Config* v = find(key);
  if (v == nullptr) return fallback;
  const std::string expected = each.describe("integer") + " or a list of " + each.describe("integer", true);
  const Config& list = unwrap_tuple(*v);
  std::vector<std::int64_t> out;
  auto take = [&](const Config& e) {
    std::int64_t i = 0;
    const IntParse parsed = parse_int(e, i);
    if (parsed == IntParse::kNotInteger) wrong_type(key, expected, *v);
    if (parsed == IntParse::kTooLarge || !each.contains(static_cast<double>(i))) out_of_range(key, expected, *v);
    out.push_back(i);
  };
  if (list.is_number()) {
    take(list);
    return out;
  }
  if (!list.is_array()) wrong_type(key, expected, *v);
  for (const auto& e : list) take(e);
  return out;
}

std::optional<std::vector<double>> ConfigReader::number_list(std::string_view key, const Range& each) const {
  const Config* v = find(key);
  if (v == nullptr) return std::nullopt;
  const std::string expected = each.describe("number") + " or a list of " + each.describe("number", true);
  const Config& list = unwrap_tuple(*v);
  std::vector<double> out;
  auto take = [&](const Config& e) {
    if (!e.is_number()) wrong_type(key, expected, *v);
    const auto d = e.get<double>();
    if (!each.contains(d)) out_of_range(key, expected, *v);
    out.push_back(d);
  };
  if (list.is_number()) {
    take(list);
    return out;
  }
  if (!list.is_array()) wrong_type(key, expected, *v);
  for (const auto& e : list) take(e);
  return out;
}

std::optional<Shape> ConfigReader::shape(std::string_view key) const {
  const Config* v = find(key);
  if (v == nullptr) return std::nullopt;
  return shape_value(key, *v);
}

std::vector<Shape> ConfigReader::shapes(std::string_view key) const {
  const Config* v = find(key);
  if (v == nullptr) return {};
  const Config& list = unwrap_tuple(*v);
  std::vector<Shape> out;
  if (list.is_array() && !list.empty() && (list[0].is_array() || list[0].is_object())) {
    for (const auto& one : list) out.push_back(shape_value(key, one));
  } else {
    out.push_back(shape_value(key, *v));
  }
  return out;
}

Shape ConfigReader::shape_value(std::string_view key, const Config& v) const {
  const std::string expected = "a list of at most " + std::to_string(kMaxRank) + " non-negative integers or nulls";
  const Config& list = unwrap_tuple(v);
  if (!list.is_array()) wrong_type(key, expected, v);
  STRATA_CHECK(list.size() <= kMaxRank, ValueError,
               describe(key_text(subject_, key) + " has " + std::to_string(list.size()) + " dimensions; at most " +
                        std::to_string(kMaxRank) + " are supported"));
  std::vector<std::int64_t> dims;
  for (const auto& e : list) {
    if (e.is_null()) {
      dims.push_back(Shape::kUnknown);
      continue;
    }
    std::int64_t i = 0;
    const IntParse parsed = parse_int(e, i);
    if (parsed == IntParse::kNotInteger) wrong_type(key, expected, v);
    if (parsed == IntParse::kTooLarge || i < 0) out_of_range(key, expected, v);
    dims.push_back(i);
  }
  return Shape(std::move(dims));
}

// ---- checked size arithmetic --------------------------------------------------------------------

std::int64_t checked_add(std::int64_t a, std::int64_t b, std::string_view what) {
  STRATA_CHECK(a >= 0 && b >= 0, ValueError, what, ": a size is negative (", a, " + ", b, ")");
  STRATA_CHECK(a <= std::numeric_limits<std::int64_t>::max() - b, ValueError, what, ": ", a, " + ", b,
               " does not fit in a 64-bit size");
  return a + b;
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b, std::string_view what) {
  STRATA_CHECK(a >= 0 && b >= 0, ValueError, what, ": a size is negative (", a, " x ", b, ")");
  STRATA_CHECK(b == 0 || a <= std::numeric_limits<std::int64_t>::max() / b, ValueError, what, ": ", a, " x ", b,
               " does not fit in a 64-bit size");
  return a * b;
}

std::int64_t checked_element_count(const std::vector<std::int64_t>& dims, std::string_view what) {
  std::int64_t n = 1;
  for (const auto d : dims) {
    STRATA_CHECK(d >= 0, ValueError, what, " of shape ", dims_text(dims), " has a negative or unknown dimension");
  }
  for (const auto d : dims) {
    STRATA_CHECK(d == 0 || n <= std::numeric_limits<std::int64_t>::max() / d, ValueError, what, " of shape ",
                 dims_text(dims), " has more elements than fit in a 64-bit size");
    n *= d;
  }
  return n;
}

std::int64_t checked_byte_size(const std::vector<std::int64_t>& dims, std::int64_t element_size,
                               std::string_view what) {
  const std::int64_t n = checked_element_count(dims, what);
  STRATA_CHECK(element_size > 0 && (n == 0 || element_size <= std::numeric_limits<std::int64_t>::max() / n),
               ValueError, what, " of shape ", dims_text(dims), " needs more bytes than fit in a 64-bit size");
  return n * element_size;
}

namespace config {

ConfigReader reader(const Config& config) {
  static const Config empty = Config::object();
  return ConfigReader(config.is_object() ? config : empty, "");
}

const Config* find_key(const Config& config, std::string_view key) { return reader(config).find(key); }
bool get_bool(const Config& config, std::string_view key, bool fallback) { return reader(config).optional(key, fallback); }
std::int64_t get_int(const Config& config, std::string_view key, std::int64_t fallback) {
  return reader(config).optional(key, fallback);
}
double get_double(const Config& config, std::string_view key, double fallback) {
  return reader(config).optional(key, fallback);
}
std::string get_string(const Config& config, std::string_view key, const std::string& fallback) {
  return reader(config).optional(key, fallback);
}
Config get_number(const Config& config, std::string_view key, const Config& fallback) {
  return reader(config).number(key, fallback);
}

}  // namespace config

}  // namespace strata
