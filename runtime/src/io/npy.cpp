// The .npy format (numpy/lib/format.py documents it): the magic "\x93NUMPY", a major and a
// minor version byte, the header length (uint16 little-endian in 1.0, uint32 in 2.0/3.0),
// then the header - a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}
// padded with spaces and a final '\n' so the data starts at a multiple of 64 - then the raw
// elements.
#include "strata/npy.hpp"

#include "strata/plugin/file_system.hpp"
#include "strata/plugin/file_text.hpp"

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
constexpr std::size_t kAlign = 64;
// numpy leaves room for the first dimension to grow to this many digits.
constexpr std::size_t kGrowthAxisMaxDigits = 21;

struct DtypeCode {
  DType dtype;
  const char* descr;  // as numpy writes it
};
constexpr DtypeCode kCodes[] = {
    {DType::kFloat32, "<f4"}, {DType::kFloat64, "<f8"}, {DType::kInt32, "<i4"},
    {DType::kInt64, "<i8"},   {DType::kBool, "|b1"},    {DType::kUInt8, "|u1"},
};

std::optional<DType> dtype_from_descr(std::string_view descr) {
  for (const auto& code : kCodes) {
    if (descr == code.descr) return code.dtype;
  }
  // One-byte types have no byte order; numpy also reads '<u1' / '=b1' spellings.
  if (descr == "<u1" || descr == "=u1" || descr == ">u1") return DType::kUInt8;
  if (descr == "<b1" || descr == "=b1" || descr == ">b1") return DType::kBool;
  return std::nullopt;
}

const char* descr_of(DType dtype) {
  for (const auto& code : kCodes) {
    if (code.dtype == dtype) return code.descr;
  }
  return nullptr;
}

// A parser for the header dict: string keys, values that are strings, True/False or a
// tuple of non-negative integers. Python's literal syntax, as much as numpy writes.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  struct Header {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<std::int64_t>> shape;
  };

  Header parse() {
    Header h;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        h.descr = parse_string();
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        h.shape = parse_tuple();
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail("text after the closing '}'");
    if (!h.descr || !h.fortran_order || !h.shape) fail("it lacks one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    STRATA_THROW(FormatError, "'", source_, "': bad .npy header (", what, " at offset ", pos_, "): '",
                 file_text(text_), "'");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const auto end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return value;
  }
  bool parse_bool() {
    skip_space();
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<std::int64_t> parse_tuple() {
    expect('(');
    std::vector<std::int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++pos_;
        return dims;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a non-negative integer dimension");
      std::int64_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const int digit = peek() - '0';
        if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fail("dimension too large");
        value = value * 10 + digit;
        ++pos_;
      }
      dims.push_back(value);
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in the shape");
      }
    }
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t pos_ = 0;
};

std::uint32_t read_le(const unsigned char* p, std::size_t bytes) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return v;
}

std::string python_tuple(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims[i]);
  }
  if (dims.size() == 1) s += ",";
  return s + ")";
}

}  // namespace

Tensor read_npy(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  return parse_npy(bytes, path.string());
}

Tensor parse_npy(std::string_view text, std::string_view source) {
  const std::basic_string_view<unsigned char> bytes(reinterpret_cast<const unsigned char*>(text.data()), text.size());
  STRATA_CHECK(bytes.size() >= kMagicLen + 4 && std::memcmp(bytes.data(), kMagic, kMagicLen) == 0, FormatError, "'",
               source, "' is not a .npy file (no \\x93NUMPY magic)");
  const int major = bytes[6], minor = bytes[7];
  STRATA_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, FormatError, "'", source,
               "' has .npy format version ", major, ".", minor, "; supported: 1.0, 2.0, 3.0");
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  const std::size_t prefix = kMagicLen + 2 + len_bytes;
  STRATA_CHECK(bytes.size() >= prefix, FormatError, "'", source, "' is truncated inside the .npy preamble");
  const std::size_t header_len = read_le(bytes.data() + 8, len_bytes);
  STRATA_CHECK(header_len <= bytes.size() - prefix, FormatError, "'", source, "' declares a ", header_len,
               "-byte header but only ", bytes.size() - prefix, " bytes follow");
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + prefix), header_len);
  const auto header = HeaderParser(header_text, source).parse();

  const auto dtype = dtype_from_descr(*header.descr);
  STRATA_CHECK(dtype.has_value(), FormatError, "'", source, "' holds dtype '", file_text(*header.descr),
               "'; supported: little-endian float32 '<f4', float64 '<f8', int32 '<i4', int64 '<i8', bool '|b1', "
               "uint8 '|u1'");
  STRATA_CHECK(!*header.fortran_order, FormatError, "'", source,
               "' is in Fortran order; only C order is supported (save np.ascontiguousarray(a))");

  const std::size_t item = dtype_size(*dtype);
  std::size_t count = 1;
  for (const auto d : *header.shape) {
    STRATA_CHECK(d == 0 || count <= std::numeric_limits<std::size_t>::max() / item / static_cast<std::size_t>(d),
                 FormatError, "'", source, "' has a shape too large to address: ", python_tuple(*header.shape));
    count *= static_cast<std::size_t>(d);
  }
  const std::size_t data_offset = prefix + header_len;
  const std::size_t available = bytes.size() - data_offset;
  STRATA_CHECK(available == count * item, FormatError, "'", source, "' should hold ", count * item,
               " data bytes for shape ", python_tuple(*header.shape), " and dtype ", dtype_name(*dtype), ", found ",
               available);
  const unsigned char* data = bytes.data() + data_offset;
  const Shape shape(*header.shape);
  if (*dtype == DType::kBool) {
    std::vector<std::uint8_t> values(data, data + count);
    for (std::size_t i = 0; i < count; ++i) {
      STRATA_CHECK(values[i] <= 1, FormatError, "'", source, "' has bool element ", i, " = ",
                   static_cast<int>(values[i]), " (not 0 or 1)");
    }
    return Tensor::from_bools(values, shape, Device::cpu());
  }
  return Tensor::from_host(*dtype, shape, data, count * item, Device::cpu());
}

std::string npy_bytes(const Tensor& tensor) {
  STRATA_CHECK(tensor.defined() && !tensor.is_symbolic(), ValueError,
               "write_npy needs a concrete tensor, not an undefined or symbolic one");
  const char* descr = descr_of(tensor.dtype());
  STRATA_CHECK(descr != nullptr, ValueError, "write_npy: dtype ", dtype_name(tensor.dtype()),
               " has no .npy spelling here; supported: float32, float64, int32, int64, bool, uint8");
  const auto& dims = tensor.shape().dims();
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + python_tuple(dims) +
                       ", }";
  if (!dims.empty()) header.append(kGrowthAxisMaxDigits - std::to_string(dims[0]).size(), ' ');
  const std::size_t unpadded = kMagicLen + 2 + 2 + header.size() + 1;
  const std::size_t pad = kAlign - unpadded % kAlign;
  header.append(pad, ' ');
  header.push_back('\n');
  STRATA_CHECK(header.size() <= 0xffff, ValueError, "write_npy: shape ", python_tuple(dims),
               " needs a header longer than format 1.0 allows");
  std::string out(kMagic, kMagicLen);
  out.push_back(1);
  out.push_back(0);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  const std::size_t offset = out.size();
  out.resize(offset + tensor.nbytes());
  if (tensor.nbytes()) tensor.copy_to_host(out.data() + offset, tensor.nbytes());
  return out;
}

void write_npy(const std::filesystem::path& path, const Tensor& tensor) {
  write_file_atomically(path, npy_bytes(tensor));
}

}  // namespace strata
