// The .npy format (numpy/lib/format.py documents it): the magic "\x93NUMPY", a major and a
// minor version byte, the header length (uint16 little-endian in 1.0, uint32 in 2.0/3.0),
// then the header - a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}
// padded with spaces and a final '\n' so the data starts at a multiple of 64 - then the raw
// elements. Strings are fixed-width: '<U<n>' holds n UTF-32LE code points per element,
// '|S<n>' n bytes, both padded with NULs, which numpy strips when it reads an element.
#include "strata/npy.hpp"

#include "strata/plugin/file_system.hpp"
#include "strata/plugin/file_text.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
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

std::uint32_t read_le(const unsigned char* p, std::size_t bytes);

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

// The width n of a '<Un' (code points) or '|Sn' (bytes) string dtype, or nullopt for
// other descrs. numpy writes '|S' for bytes ('S' alone is bytes too, as is '<S'/'>S': one
// byte per element has no order) and '<U' on little-endian machines.
struct StringDescr {
  bool unicode = false;
  std::size_t width = 0;
};
std::optional<StringDescr> string_descr(std::string_view descr, std::string_view source) {
  if (descr.size() < 2) return std::nullopt;
  std::size_t i = 0;
  if (descr[0] == '<' || descr[0] == '|' || descr[0] == '=' || descr[0] == '>') ++i;
  const char kind = descr[i];
  if (kind != 'U' && kind != 'S') return std::nullopt;
  if (kind == 'U' && descr[0] == '>') {
    STRATA_THROW(FormatError, "'", source, "' holds big-endian strings '", file_text(descr),
                 "'; only little-endian '<U' is supported");
  }
  StringDescr out;
  out.unicode = kind == 'U';
  const std::string_view digits = descr.substr(i + 1);
  STRATA_CHECK(!digits.empty() && digits.size() <= 12 &&
                   std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }),
               FormatError, "'", source, "' holds string dtype '", file_text(descr), "' without a valid width");
  for (const char c : digits) out.width = out.width * 10 + static_cast<std::size_t>(c - '0');
  // numpy never writes width 0 (an empty string is '<U1'); with no bytes per element the
  // data-size check would let a huge shape through to an array of that many strings.
  STRATA_CHECK(out.width > 0, FormatError, "'", source, "' holds string dtype '", file_text(descr),
               "' of width 0, which numpy does not write");
  return out;
}

// Appends code point `cp` as UTF-8; false for a surrogate or a value above U+10FFFF.
bool append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp <= 0x10ffff) {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    return false;
  }
  return true;
}

// The code points of `s` when it is valid UTF-8 (no overlong forms, no surrogates).
std::optional<std::vector<std::uint32_t>> decode_utf8(std::string_view s) {
  std::vector<std::uint32_t> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (b0 < 0x80) {
      n = 1;
      cp = b0;
    } else if ((b0 & 0xe0) == 0xc0) {
      n = 2;
      cp = b0 & 0x1f;
    } else if ((b0 & 0xf0) == 0xe0) {
      n = 3;
      cp = b0 & 0x0f;
    } else if ((b0 & 0xf8) == 0xf0) {
      n = 4;
      cp = b0 & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + n > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
    out.push_back(cp);
    i += n;
  }
  return out;
}

Tensor parse_strings(const unsigned char* data, std::size_t count, const StringDescr& descr, const Shape& shape,
                     std::string_view source) {
  std::vector<std::string> values(count);
  const std::size_t item = descr.unicode ? 4 * descr.width : descr.width;
  for (std::size_t e = 0; e < count; ++e) {
    const unsigned char* p = data + e * item;
    std::string& v = values[e];
    if (descr.unicode) {
      std::size_t n = descr.width;
      while (n > 0 && read_le(p + 4 * (n - 1), 4) == 0) --n;  // numpy strips trailing NULs
      for (std::size_t k = 0; k < n; ++k) {
        STRATA_CHECK(append_utf8(v, read_le(p + 4 * k, 4)), FormatError, "'", source, "' has string element ", e,
                     " with code point ", read_le(p + 4 * k, 4), ", which is no Unicode scalar value");
      }
    } else {
      std::size_t n = descr.width;
      while (n > 0 && p[n - 1] == 0) --n;
      v.assign(reinterpret_cast<const char*>(p), n);
    }
  }
  return Tensor::from_strings(values, shape);
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

namespace {

// What a .npy header says: where the data starts and how it is laid out.
struct NpyLayout {
  DType dtype = DType::kInvalid;
  std::optional<StringDescr> strings;
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;
  std::size_t item = 0;   // bytes per element
  std::size_t count = 0;  // elements
};

// The layout from the file's first bytes (`bytes` holds at least the preamble and header;
// FormatError when they are not there or wrong).
NpyLayout parse_layout(std::basic_string_view<unsigned char> bytes, std::string_view source) {
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

  NpyLayout layout;
  layout.strings = string_descr(*header.descr, source);
  const auto dtype = layout.strings ? std::optional<DType>(DType::kString) : dtype_from_descr(*header.descr);
  STRATA_CHECK(dtype.has_value(), FormatError, "'", source, "' holds dtype '", file_text(*header.descr),
               "'; supported: little-endian float32 '<f4', float64 '<f8', int32 '<i4', int64 '<i8', bool '|b1', "
               "uint8 '|u1', strings '<U<n>' and '|S<n>'");
  STRATA_CHECK(!*header.fortran_order, FormatError, "'", source,
               "' is in Fortran order; only C order is supported (save np.ascontiguousarray(a))");
  layout.dtype = *dtype;
  std::size_t item = dtype_size(*dtype);
  if (layout.strings) {
    STRATA_CHECK(layout.strings->width <= (std::numeric_limits<std::size_t>::max() >> 3), FormatError, "'", source,
                 "' declares strings of ", layout.strings->width, " characters");
    item = layout.strings->unicode ? 4 * layout.strings->width : layout.strings->width;
  }
  std::size_t count = 1;
  for (const auto d : *header.shape) {
    STRATA_CHECK(d == 0 || count <= std::numeric_limits<std::size_t>::max() / std::max<std::size_t>(item, 1) /
                                         static_cast<std::size_t>(d),
                 FormatError, "'", source, "' has a shape too large to address: ", python_tuple(*header.shape));
    count *= static_cast<std::size_t>(d);
  }
  layout.shape = *header.shape;
  layout.data_offset = prefix + header_len;
  layout.item = item;
  layout.count = count;
  return layout;
}

// `count` elements of `layout`'s dtype at `data`, as a cpu tensor of `shape`.
Tensor tensor_from(const NpyLayout& layout, const unsigned char* data, std::size_t count, const Shape& shape,
                   std::string_view source) {
  if (layout.strings) return parse_strings(data, count, *layout.strings, shape, source);
  if (layout.dtype == DType::kBool) {
    std::vector<std::uint8_t> values(data, data + count);
    for (std::size_t i = 0; i < count; ++i) {
      STRATA_CHECK(values[i] <= 1, FormatError, "'", source, "' has bool element ", i, " = ",
                   static_cast<int>(values[i]), " (not 0 or 1)");
    }
    return Tensor::from_bools(values, shape, Device::cpu());
  }
  return Tensor::from_host(layout.dtype, shape, data, count * layout.item, Device::cpu());
}

}  // namespace

Tensor parse_npy(std::string_view text, std::string_view source) {
  const std::basic_string_view<unsigned char> bytes(reinterpret_cast<const unsigned char*>(text.data()), text.size());
  const NpyLayout layout = parse_layout(bytes, source);
  const std::size_t available = bytes.size() - layout.data_offset;
  STRATA_CHECK(available == layout.count * layout.item, FormatError, "'", source, "' should hold ",
               layout.count * layout.item, " data bytes for shape ", python_tuple(layout.shape), " and dtype ",
               dtype_name(layout.dtype), ", found ", available);
  return tensor_from(layout, bytes.data() + layout.data_offset, layout.count, Shape(layout.shape), source);
}

Tensor read_npy_rows(const std::filesystem::path& path, std::int64_t start, std::int64_t rows) {
  const std::string source = path.string();
  std::ifstream in(path, std::ios::binary);
  STRATA_CHECK(in.good(), IOError, "cannot open '", source, "' for reading");
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::size_t>(in.tellg());
  // The preamble says how long the header is; read both.
  std::string head(std::min<std::size_t>(file_size, kMagicLen + 6), '\0');
  in.seekg(0);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  std::size_t head_len = head.size();
  if (head.size() >= kMagicLen + 6 && std::memcmp(head.data(), kMagic, kMagicLen) == 0) {
    const auto* p = reinterpret_cast<const unsigned char*>(head.data());
    const std::size_t len_bytes = p[6] == 1 ? 2 : 4;
    head_len = std::min(file_size, kMagicLen + 2 + len_bytes + read_le(p + 8, len_bytes));
  }
  head.resize(head_len);
  in.seekg(0);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  const NpyLayout layout =
      parse_layout(std::basic_string_view<unsigned char>(reinterpret_cast<const unsigned char*>(head.data()), head.size()),
                   source);
  STRATA_CHECK(file_size - layout.data_offset == layout.count * layout.item, FormatError, "'", source,
               "' should hold ", layout.count * layout.item, " data bytes for shape ", python_tuple(layout.shape),
               " and dtype ", dtype_name(layout.dtype), ", found ", file_size - layout.data_offset);
  STRATA_CHECK(!layout.shape.empty(), ValueError, "read_npy_rows: '", source, "' holds a scalar, which has no rows");
  const std::int64_t total = layout.shape[0];
  STRATA_CHECK(start >= 0 && rows >= 0 && start <= total && rows <= total - start, ValueError, "read_npy_rows: rows [",
               start, ", ", start + rows, ") of '", source, "', which has ", total, " rows");
  const std::size_t row_elements = total == 0 ? 0 : layout.count / static_cast<std::size_t>(total);
  const std::size_t count = row_elements * static_cast<std::size_t>(rows);
  std::vector<unsigned char> data(count * layout.item);
  in.seekg(static_cast<std::streamoff>(layout.data_offset + static_cast<std::size_t>(start) * row_elements * layout.item));
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()));
  STRATA_CHECK(in.good() || data.empty(), IOError, "cannot read rows [", start, ", ", start + rows, ") of '", source, "'");
  std::vector<std::int64_t> shape = layout.shape;
  shape[0] = rows;
  return tensor_from(layout, data.data(), count, Shape(shape), source);
}

Tensor read_npy_mapped(const std::filesystem::path& path) {
  const std::string source = path.string();
  const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  STRATA_CHECK(fd >= 0, IOError, "cannot open '", source, "' for reading: ", std::strerror(errno));
  struct ::stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
    ::close(fd);
    return read_npy(path);  // not a regular file (a pipe), or empty: read_npy says what is wrong
  }
  const auto file_size = static_cast<std::size_t>(st.st_size);
  // Private and writable: pages stay the page cache's until something writes to one, which
  // then gets a copy of its own (nothing in the file changes).
  void* mapping = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping == MAP_FAILED) return read_npy(path);
  NpyLayout layout;
  try {
    layout = parse_layout(std::basic_string_view<unsigned char>(static_cast<const unsigned char*>(mapping), file_size),
                          source);
    STRATA_CHECK(file_size - layout.data_offset == layout.count * layout.item, FormatError, "'", source,
                 "' should hold ", layout.count * layout.item, " data bytes for shape ", python_tuple(layout.shape),
                 " and dtype ", dtype_name(layout.dtype), ", found ", file_size - layout.data_offset);
  } catch (...) {
    ::munmap(mapping, file_size);
    throw;
  }
  // Strings and bools are converted, and the data must start 64-byte aligned within the first
  // page (numpy pads its headers so): anything else is read.
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  if (layout.strings || layout.dtype == DType::kBool || layout.count == 0 || layout.data_offset % 64 != 0 ||
      layout.data_offset >= page) {
    ::munmap(mapping, file_size);
    return read_npy(path);
  }
  try {
    return Tensor::from_file_mapping(layout.dtype, Shape(layout.shape), mapping, layout.data_offset,
                                     layout.count * layout.item);
  } catch (...) {
    ::munmap(mapping, file_size);
    throw;
  }
}

std::string npy_bytes(const Tensor& tensor) {
  STRATA_CHECK(tensor.defined() && !tensor.is_symbolic(), ValueError,
               "write_npy needs a concrete tensor, not an undefined or symbolic one");
  // Strings: '<U<n>' (what numpy makes of Python str) when every element is UTF-8 without
  // NUL code points, n the longest element's code points (at least 1, as numpy); else '|S<n>'.
  std::string string_data;
  std::string string_descr_text;
  if (tensor.dtype() == DType::kString) {
    const auto values = tensor.strings();
    std::vector<std::vector<std::uint32_t>> decoded;
    bool unicode = true;
    std::size_t width = 1;
    for (const auto& v : values) {
      auto cps = decode_utf8(v);
      if (!cps || std::find(cps->begin(), cps->end(), 0u) != cps->end()) {
        unicode = false;
        break;
      }
      width = std::max(width, cps->size());
      decoded.push_back(std::move(*cps));
    }
    if (unicode) {
      string_descr_text = "<U" + std::to_string(width);
      string_data.assign(decoded.size() * 4 * width, '\0');
      for (std::size_t e = 0; e < decoded.size(); ++e) {
        for (std::size_t k = 0; k < decoded[e].size(); ++k) {
          for (std::size_t b = 0; b < 4; ++b) {
            string_data[(e * width + k) * 4 + b] = static_cast<char>((decoded[e][k] >> (8 * b)) & 0xff);
          }
        }
      }
    } else {
      width = 1;
      for (const auto& v : values) width = std::max(width, v.size());
      string_descr_text = "|S" + std::to_string(width);
      string_data.assign(values.size() * width, '\0');
      for (std::size_t e = 0; e < values.size(); ++e) values[e].copy(string_data.data() + e * width, values[e].size());
    }
  }
  const char* descr = tensor.dtype() == DType::kString ? string_descr_text.c_str() : descr_of(tensor.dtype());
  STRATA_CHECK(descr != nullptr, ValueError, "write_npy: dtype ", dtype_name(tensor.dtype()),
               " has no .npy spelling here; supported: float32, float64, int32, int64, bool, uint8, string");
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
  if (tensor.dtype() == DType::kString) return out + string_data;
  const std::size_t offset = out.size();
  out.resize(offset + tensor.nbytes());
  if (tensor.nbytes()) tensor.copy_to_host(out.data() + offset, tensor.nbytes());
  return out;
}

void write_npy(const std::filesystem::path& path, const Tensor& tensor) {
  write_file_atomically(path, npy_bytes(tensor));
}

}  // namespace strata
