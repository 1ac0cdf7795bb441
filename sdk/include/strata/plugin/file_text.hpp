// Quoting bytes read from a file into an error message. A hostile file controls those bytes:
// they may be megabytes long or hold terminal control sequences, so every message that
// echoes file content goes through `file_text`, which bounds and escapes it (issue 20).
#pragma once

#include "strata/export.hpp"
#include <cstddef>
#include <string>
#include <string_view>

STRATA_API_BEGIN

namespace strata {

// The longest echo of file content in a message, in bytes of the escaped text.
inline constexpr std::size_t kMaxFileTextBytes = 200;

// `bytes` made safe to print: printable ASCII as it is, a backslash as "\\", every other
// byte (control bytes, DEL, bytes of non-ASCII characters) as "\xNN"; at most `max_bytes`
// of such text, then "... (N bytes)" giving the full length. No quotes are added. Never
// throws except std::bad_alloc. Thread safety: may be called concurrently.
std::string file_text(std::string_view bytes, std::size_t max_bytes = kMaxFileTextBytes);

}  // namespace strata

STRATA_API_END
