#include "strata/log.hpp"

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace strata {
namespace {

LogLevel initial_level() {
  const char* env = std::getenv("STRATA_LOG_LEVEL");
  if (env == nullptr || *env == '\0') return LogLevel::kWarning;
  try {
    return parse_log_level(env);
  } catch (const Error&) {
    std::fprintf(stderr, "strata: warning: STRATA_LOG_LEVEL='%s' is not one of debug, info, "
                         "warning, error, off; using warning\n", env);
    return LogLevel::kWarning;
  }
}

std::atomic<int>& level_storage() {
  static std::atomic<int> level{static_cast<int>(initial_level())};
  return level;
}

struct SinkState {
  std::mutex mutex;
  LogSink sink;
};
SinkState& sink_state() {
  static SinkState* state = new SinkState();  // outlives static destructors of plugins
  return *state;
}

}  // namespace

LogLevel log_level() noexcept { return static_cast<LogLevel>(level_storage().load(std::memory_order_relaxed)); }
void set_log_level(LogLevel level) noexcept { level_storage().store(static_cast<int>(level)); }

LogLevel parse_log_level(std::string_view text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "debug") return LogLevel::kDebug;
  if (t == "info") return LogLevel::kInfo;
  if (t == "warning" || t == "warn") return LogLevel::kWarning;
  if (t == "error") return LogLevel::kError;
  if (t == "off" || t == "none") return LogLevel::kOff;
  STRATA_THROW(ValueError, "unknown log level '", text, "': use debug, info, warning, error or off");
}

std::string_view log_level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "unknown";
}

LogSink set_log_sink(LogSink sink) {
  auto& state = sink_state();
  std::lock_guard lock(state.mutex);
  std::swap(state.sink, sink);
  return sink;
}

void log_message(LogLevel level, std::string_view text) {
  if (level < log_level() || level == LogLevel::kOff) return;
  auto& state = sink_state();
  std::lock_guard lock(state.mutex);
  if (state.sink) {
    state.sink(level, text);
    return;
  }
  // The default sink: the one place in the library that writes to stderr.
  std::string line = "strata: ";
  line += log_level_name(level);
  line += ": ";
  line += text;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace strata
