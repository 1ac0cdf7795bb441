#include "strata/plugin/temp_files.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/plugin/file_system.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

constexpr std::string_view kMarker = ".strata-tmp-";

// Field 22 of /proc/<pid>/stat (start time, clock ticks since boot), or nothing when the
// process does not exist or /proc cannot tell.
std::optional<unsigned long long> process_start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  // The command name (field 2) is in parentheses and may hold spaces and ')': the fields
  // after it start after the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  unsigned long long start = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), start);
  if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return start;
}

// Parses the decimal number at the front of `s` (its length in `used`); nothing when
// there is none.
std::optional<unsigned long long> leading_number(std::string_view s, std::size_t& used) {
  unsigned long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  used = static_cast<std::size_t>(end - s.data());
  return v;
}

}  // namespace

std::string temporary_suffix() {
  static std::atomic<unsigned> counter{0};
  thread_local std::mt19937 rng{std::random_device{}()};
  // Read per save (one small /proc read), so a forked child names its own pid and start.
  // Without /proc the name holds the pid only; the clean-up then trusts the pid alone.
  const pid_t pid = ::getpid();
  const auto start = process_start_time(pid);
  return std::string(kMarker) + std::to_string(pid) + (start ? "-t" + std::to_string(*start) : std::string()) + "-" +
         std::to_string(counter++) + "-" + std::to_string(rng() % 100000);
}

bool is_abandoned_temporary(std::string_view name) {
  const auto at = name.find(kMarker);
  if (at == std::string_view::npos) return false;
  std::string_view rest = name.substr(at + kMarker.size());  // "<pid>-t<start>-<n>-<r>" or "<pid>-<n>..."
  std::size_t used = 0;
  const auto pid_value = leading_number(rest, used);
  if (!pid_value || *pid_value == 0 || *pid_value > 0x7fffffffULL || used >= rest.size() || rest[used] != '-') {
    return false;
  }
  const auto pid = static_cast<pid_t>(*pid_value);
  if (pid == ::getpid()) return false;  // this process: a save in progress on another thread
  rest.remove_prefix(used + 1);
  std::optional<unsigned long long> start;
  if (!rest.empty() && rest[0] == 't') {
    start = leading_number(rest.substr(1), used);
    if (!start) return false;
  }
  if (::kill(pid, 0) != 0) return errno == ESRCH;  // EPERM: it runs under another user
  // A process with this pid runs. It is the writer unless the name recorded another start
  // time (the writer died and the pid was given to a new process).
  if (!start) return false;
  const auto now = process_start_time(pid);
  return now && *now != *start;
}

std::size_t remove_abandoned_temporaries(const fs::path& dir, std::string_view name_prefix) {
  std::size_t removed = 0;
  std::error_code ec;
  fs::directory_iterator it(dir.empty() ? fs::path(".") : dir, ec);
  if (ec) return 0;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.compare(0, name_prefix.size(), name_prefix) != 0) continue;
    if (name.find(kMarker, name_prefix.size()) == std::string::npos) continue;
    if (!is_abandoned_temporary(std::string_view(name).substr(name_prefix.size()))) continue;
    try {
      file_system().remove_all(it->path());
      ++removed;
      log_debug("removed the temporary '", it->path().string(), "' of a save that did not finish (its process is gone)");
    } catch (const Error& e) {
      log_warning("the temporary '", it->path().string(), "' of a save that did not finish could not be removed: ",
                  e.message());
    } catch (const std::exception& e) {
      log_warning("the temporary '", it->path().string(), "' of a save that did not finish could not be removed: ",
                  e.what());
    }
  }
  return removed;
}

}  // namespace strata
