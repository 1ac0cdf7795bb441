// The one logger. Library code and plugins report warnings and diagnostics here, never
// on stderr directly. The level comes from STRATA_LOG_LEVEL (debug, info, warning,
// error, off; default warning) and can be changed at run time; a host application can
// redirect messages with set_log_sink.
#pragma once

#include "strata/export.hpp"
#include <functional>
#include <string_view>

#include "strata/error.hpp"

STRATA_API_BEGIN

namespace strata {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// Current threshold: messages below it are dropped before being formatted.
// Thread safety: may be called concurrently.
LogLevel log_level() noexcept;
void set_log_level(LogLevel level) noexcept;
// Parses "debug", "info", "warning"/"warn", "error", "off" (case-insensitive).
// Throws ValueError for anything else.
LogLevel parse_log_level(std::string_view text);
std::string_view log_level_name(LogLevel level) noexcept;

// Receives every message that passes the threshold. Thread safety: a sink may be called
// from several threads at once; calls are serialised by the logger.
using LogSink = std::function<void(LogLevel, std::string_view)>;
// Installs `sink` (an empty function restores the default, which writes
// "strata: warning: <text>" lines to stderr) and returns the previous one.
LogSink set_log_sink(LogSink sink);

// Delivers one message. Thread safety: may be called concurrently.
void log_message(LogLevel level, std::string_view text);

template <class... Args>
void log(LogLevel level, const Args&... args) {
  if (level >= log_level() && level != LogLevel::kOff) log_message(level, detail::concat(args...));
}
template <class... Args>
void log_debug(const Args&... args) { log(LogLevel::kDebug, args...); }
template <class... Args>
void log_info(const Args&... args) { log(LogLevel::kInfo, args...); }
template <class... Args>
void log_warning(const Args&... args) { log(LogLevel::kWarning, args...); }
template <class... Args>
void log_error(const Args&... args) { log(LogLevel::kError, args...); }

}  // namespace strata

STRATA_API_END
