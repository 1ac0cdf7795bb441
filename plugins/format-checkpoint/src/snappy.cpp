#include "snappy.hpp"

#include <cstdint>
#include <cstring>

#include "strata/error.hpp"

namespace strata::ckpt {

std::string snappy_uncompress(std::string_view in, std::string_view what) {
  std::size_t pos = 0;
  std::uint64_t length = 0;
  for (int shift = 0;; shift += 7) {
    STRATA_CHECK(pos < in.size() && shift <= 28, FormatError, what,
                 ": Snappy block has a truncated or overlong length prefix");
    const auto b = static_cast<unsigned char>(in[pos++]);
    length |= static_cast<std::uint64_t>(b & 0x7fu) << shift;
    if ((b & 0x80u) == 0) break;
  }
  STRATA_CHECK(length <= 0xffffffffu, FormatError, what, ": Snappy block declares ", length, " bytes (more than 4 GiB)");
  // The densest element is a 3-byte copy of 64 bytes, so a valid stream of n bytes never
  // expands to more than 22 n bytes: a larger claim is corrupt, found before allocating.
  const std::uint64_t body = in.size() - pos;
  STRATA_CHECK(length <= body * 22 + 64, FormatError, what, ": Snappy block of ", in.size(), " bytes declares ",
               length, " uncompressed bytes, more than any valid block of that size can hold");
  std::string out;
  out.resize(static_cast<std::size_t>(length));
  char* dst = out.data();
  std::size_t produced = 0;
  const std::size_t total = out.size();
  auto need = [&](std::size_t n) {
    STRATA_CHECK(in.size() - pos >= n, FormatError, what, ": Snappy block is truncated at byte ", pos);
  };
  while (pos < in.size()) {
    const auto tag = static_cast<unsigned char>(in[pos++]);
    const unsigned type = tag & 3u;
    if (type == 0) {  // literal
      std::size_t len = (tag >> 2) + 1u;
      if (len > 60) {
        const std::size_t extra = len - 60;  // 1..4 little-endian bytes of len - 1
        need(extra);
        std::size_t v = 0;
        for (std::size_t i = 0; i < extra; ++i) v |= static_cast<std::size_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
        pos += extra;
        len = v + 1;
      }
      need(len);
      STRATA_CHECK(len <= total - produced, FormatError, what, ": Snappy literal of ", len,
                   " bytes runs past the declared length ", total);
      std::memcpy(dst + produced, in.data() + pos, len);
      pos += len;
      produced += len;
      continue;
    }
    std::size_t len = 0;
    std::size_t offset = 0;
    if (type == 1) {
      need(1);
      len = 4 + ((tag >> 2) & 7u);
      offset = (static_cast<std::size_t>(tag >> 5) << 8) | static_cast<unsigned char>(in[pos]);
      pos += 1;
    } else if (type == 2) {
      need(2);
      len = 1 + (tag >> 2);
      offset = static_cast<unsigned char>(in[pos]) | (static_cast<std::size_t>(static_cast<unsigned char>(in[pos + 1])) << 8);
      pos += 2;
    } else {
      need(4);
      len = 1 + (tag >> 2);
      std::uint32_t v;
      std::memcpy(&v, in.data() + pos, 4);
      offset = v;
      pos += 4;
    }
    STRATA_CHECK(offset > 0 && offset <= produced, FormatError, what, ": Snappy copy at byte ", pos,
                 " refers to offset ", offset, " with only ", produced, " bytes produced");
    STRATA_CHECK(len <= total - produced, FormatError, what, ": Snappy copy of ", len,
                 " bytes runs past the declared length ", total);
    // Copies may overlap their own output (run-length style), so go byte by byte then.
    char* d = dst + produced;
    const char* s = d - offset;
    if (offset >= len) {
      std::memcpy(d, s, len);
    } else {
      for (std::size_t i = 0; i < len; ++i) d[i] = s[i];
    }
    produced += len;
  }
  STRATA_CHECK(produced == total, FormatError, what, ": Snappy block ends after ", produced, " of its declared ", total,
               " bytes");
  return out;
}

}  // namespace strata::ckpt
