#include "strata/plugin/file_text.hpp"

#include <cstdio>

namespace strata {

std::string file_text(std::string_view bytes, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  for (; i < bytes.size(); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    char piece[8] = {static_cast<char>(c), '\0'};
    if (c == '\\') {
      piece[1] = '\\';
      piece[2] = '\0';
    } else if (c < 0x20 || c >= 0x7f) {
      std::snprintf(piece, sizeof piece, "\\x%02x", c);
    }
    const std::string_view p(piece);
    if (out.size() + p.size() > max_bytes) break;
    out += p;
  }
  if (i < bytes.size()) out += "... (" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

}  // namespace strata
