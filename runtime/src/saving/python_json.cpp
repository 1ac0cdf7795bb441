// Keras's JSON dialect: Python's json.dumps (separators ", " and ": ", ASCII only,
// NaN/Infinity tokens) and a parser that accepts those tokens.
#include <cmath>
#include <cstdio>

#include "strata/error.hpp"
#include "strata/plugin/file_text.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

// The deepest nesting of arrays and objects a JSON config may have. Real Keras configs
// nest a few dozen levels (each model nested in another adds three: the layer object, its
// "config" and its "layers" list; the deepest of the test fixtures is 14), and Python's
// json module refuses about 1000, so Keras itself cannot read anything deeper. Checking
// the text before it is parsed keeps every recursive walk over a parsed config (copies,
// comparisons, dumps, layer deserialization) within a known stack depth: nlohmann's
// parser is iterative, but copying, dumping and comparing a Config recurse per level.
constexpr std::size_t kMaxJsonDepth = 1000;

constexpr std::string_view kNaN = "\x01strata:NaN";
constexpr std::string_view kInf = "\x01strata:Infinity";
constexpr std::string_view kNegInf = "\x01strata:-Infinity";

void append_string(std::string& out, const std::string& s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    auto esc = [&](unsigned cp) {
      char buf[16];  // cp <= 0xffff ("\\uXXXX"); room for any unsigned keeps -Wformat-truncation quiet at -O1
      std::snprintf(buf, sizeof buf, "\\u%04x", cp & 0xffffu);
      out += buf;
    };
    if (c == '"') out += "\\\"", ++i;
    else if (c == '\\') out += "\\\\", ++i;
    else if (c == '\n') out += "\\n", ++i;
    else if (c == '\r') out += "\\r", ++i;
    else if (c == '\t') out += "\\t", ++i;
    else if (c == '\b') out += "\\b", ++i;
    else if (c == '\f') out += "\\f", ++i;
    else if (c < 0x20) esc(c), ++i;
    else if (c < 0x80) out += static_cast<char>(c), ++i;
    else {
      // Decode UTF-8 and escape as \uXXXX (surrogate pairs above U+FFFF), as ensure_ascii does.
      unsigned cp = 0;
      int len = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : (c >= 0xC0) ? 2 : 1;
      cp = len == 1 ? c : c & (0x3F >> (len - 1));
      for (int k = 1; k < len && i + static_cast<std::size_t>(k) < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0x3F);
      i += static_cast<std::size_t>(len);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        esc(0xD800 + (cp >> 10));
        esc(0xDC00 + (cp & 0x3FF));
      } else {
        esc(cp);
      }
    }
  }
  out += '"';
}

void append_number(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
  } else {
    out += Config(d).dump();  // shortest round-trip form, as Python's repr
  }
}

void dump(std::string& out, const Config& v) {
  switch (v.type()) {
    case Config::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        append_string(out, it.key());
        out += ": ";
        dump(out, *it);
      }
      out += '}';
      break;
    }
    case Config::value_t::array: {
      out += '[';
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        dump(out, v[i]);
      }
      out += ']';
      break;
    }
    case Config::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (s == kNaN) out += "NaN";
      else if (s == kInf) out += "Infinity";
      else if (s == kNegInf) out += "-Infinity";
      else append_string(out, s);
      break;
    }
    case Config::value_t::number_float: append_number(out, v.get<double>()); break;
    case Config::value_t::boolean: out += v.get<bool>() ? "true" : "false"; break;
    case Config::value_t::null: out += "null"; break;
    default: out += v.dump(); break;  // integers
  }
}

void restore_specials(Config& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == kNaN) v = std::nan("");
    else if (s == kInf) v = HUGE_VAL;
    else if (s == kNegInf) v = -HUGE_VAL;
  } else if (v.is_structured()) {
    for (auto& e : v) restore_specials(e);
  }
}

}  // namespace

std::string to_python_json(const Config& value) {
  std::string out;
  dump(out, value);
  return out;
}

Config parse_python_json(std::string_view text, std::string_view what) {
  // Replace the bare tokens NaN, Infinity and -Infinity (outside strings) by sentinel
  // strings, parse, then turn the sentinels back into numbers. The same pass refuses
  // nesting deeper than kMaxJsonDepth before anything recursive sees the text.
  std::string rewritten;
  rewritten.reserve(text.size());
  bool in_string = false;
  std::size_t depth = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      rewritten += c;
      if (c == '\\' && i + 1 < text.size()) rewritten += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      rewritten += c;
      continue;
    }
    if (c == '[' || c == '{') {
      ++depth;
      STRATA_CHECK(depth <= kMaxJsonDepth, FormatError, what, " nests arrays and objects more than ", kMaxJsonDepth,
                   " levels deep (at byte ", i,
                   "), Strata's limit for JSON configs (Keras configs nest a few dozen levels; Python's json "
                   "refuses about 1000): the file is damaged or was not written by Keras");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    auto token = [&](std::string_view t, std::string_view sentinel) {
      if (text.substr(i, t.size()) != t) return false;
      rewritten += '"';
      rewritten += "\\u0001";
      rewritten += sentinel.substr(1);
      rewritten += '"';
      i += t.size() - 1;
      return true;
    };
    if (token("-Infinity", kNegInf) || token("Infinity", kInf) || token("NaN", kNaN)) continue;
    rewritten += c;
  }
  Config parsed;
  try {
    parsed = Config::parse(rewritten);
  } catch (const std::exception& e) {
    // nlohmann's message ends with the token it read ("last read: '...'"): file bytes.
    const std::string message = e.what();
    const auto echo = message.find("; last read: '");
    STRATA_THROW(FormatError, what, " is not valid JSON: ",
                 echo == std::string::npos ? file_text(message, 400)
                                           : message.substr(0, echo) + "; last read: '" +
                                                 file_text(message.substr(echo + 14, message.size() - echo - 15)) + "'");
  }
  restore_specials(parsed);
  return parsed;
}

}  // namespace strata
