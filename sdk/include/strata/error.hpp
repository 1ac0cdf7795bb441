// Errors. Every failure Strata reports is an exception derived from strata::Error; the
// kind says what went wrong (bad value, bad shape, unknown class, corrupt file, I/O,
// plugin, backend), the message says what, where and what to do.
//
// Library code reports with STRATA_CHECK / STRATA_THROW, which format their message only
// on failure and record the source location. Callers that know the wider situation add
// "while ..." frames with ErrorContext::push instead of passing file names down:
//
//   auto frame = ErrorContext::push("loading layer '", name, "' from '", file, "'");
//   STRATA_CHECK(rank <= kMaxRank, FormatError, "dataset '", path, "' has rank ", rank);
//
// An error captures the frames active on its thread when it is constructed.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

STRATA_API_BEGIN

namespace strata {

// Base of every Strata exception. what() is the message followed by one
// "  while <frame>" line per context frame, innermost first.
class Error : public std::runtime_error {
 public:
  explicit Error(std::string message);
  Error(std::string message, const char* file, int line);
  ~Error() override;
  Error(const Error&) = default;
  Error& operator=(const Error&) = default;

  // The message without context frames.
  const std::string& message() const noexcept { return message_; }
  // The "while ..." frames active when the error was made, innermost first.
  const std::vector<std::string>& context() const noexcept { return context_; }
  // Source location of the check that failed ("" and 0 when unknown).
  const char* file() const noexcept { return file_; }
  int line() const noexcept { return line_; }
  // "ValueError", "FormatError", ...
  virtual const char* kind() const noexcept;

 private:
  std::string message_;
  std::vector<std::string> context_;
  const char* file_ = "";
  int line_ = 0;
};

#define STRATA_DECLARE_ERROR_KIND(Name)                    \
  class Name : public Error {                              \
   public:                                                 \
    using Error::Error;                                    \
    ~Name() override;                                      \
    const char* kind() const noexcept override;            \
  }

// An argument or state that makes no sense ("units must be positive").
STRATA_DECLARE_ERROR_KIND(ValueError);
// Shapes that do not fit together, or a shape that is not fully known when it must be.
STRATA_DECLARE_ERROR_KIND(ShapeError);
// A file or stream whose content is not what its format says (truncated, corrupt, foreign).
STRATA_DECLARE_ERROR_KIND(FormatError);
// The operating system refused a file operation.
STRATA_DECLARE_ERROR_KIND(IOError);
// A plugin could not be loaded or registered, or plugin code failed with an exception that
// is not a strata::Error (the original is nested: std::rethrow_if_nested recovers it).
STRATA_DECLARE_ERROR_KIND(PluginError);
// A device or kernel failed, or memory was asked of a device in a way it cannot serve.
STRATA_DECLARE_ERROR_KIND(BackendError);

#undef STRATA_DECLARE_ERROR_KIND

// Names one class a load could not resolve; see UnknownObjectError.
struct UnknownObject {
  std::string kind;                      // "layer", "activation", ...
  std::string name;                      // as written in the file / config
  std::vector<std::string> suggestions;  // close registered names, best first; when
                                         // `ambiguous`, every `package>Name` candidate
  std::string context;                   // where it was needed (may be empty)
  // The bare name matched several registered `package>Name` entries, so no one of them was
  // chosen: reported as ambiguous, with the candidates in `suggestions` and, at the same
  // index, who registered each in `candidate_providers` ("" when unknown).
  bool ambiguous = false;
  std::vector<std::string> candidate_providers = {};
};

// One or more classes named by a config are not registered, not in custom_objects and
// not in any active CustomObjectScope. All misses of one load are reported together.
// A ValueError, as Keras's "Unknown layer" is: `catch (const ValueError&)` catches it, and
// a handler that wants to tell it apart catches UnknownObjectError first (kind() and the C
// API's code still say UnknownObjectError / STRATA_UNKNOWN_OBJECT).
class UnknownObjectError : public ValueError {
 public:
  explicit UnknownObjectError(std::vector<UnknownObject> missing);
  // `note` is appended to the message: what the runtime knows that may explain the miss
  // (no plugin loaded at all; plugins refused or shadowed, with their reasons).
  UnknownObjectError(std::vector<UnknownObject> missing, const std::string& note);
  ~UnknownObjectError() override;
  const char* kind() const noexcept override;
  const std::vector<UnknownObject>& missing() const noexcept { return missing_; }

 private:
  std::vector<UnknownObject> missing_;
};

namespace detail {

template <class... Args>
std::string concat(const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return {};
  } else {
    std::ostringstream out;
    (out << ... << args);
    return std::move(out).str();
  }
}

template <class E>
[[noreturn]] void throw_error(const char* file, int line, std::string message) {
  throw E(std::move(message), file, line);
}

// One context frame: its text, or a function that makes the text from `data` when an
// error is made (lazy frames of hot paths).
struct ContextEntry {
  std::string text;
  std::string (*describe)(const void* data) = nullptr;
  const void* data = nullptr;
};
// The thread's context frames, innermost last. Lives in libstrata.so so that every
// plugin shares one stack per thread.
std::vector<ContextEntry>& context_stack();

}  // namespace detail

// RAII frame that adds "while <what>" to every Strata error made on this thread while
// it is alive. Frames must be destroyed in reverse order of creation (scoped use).
class ErrorContext {
 public:
  class Frame {
   public:
    explicit Frame(std::string text);
    ~Frame();
    Frame(const Frame&) = delete;
    Frame& operator=(const Frame&) = delete;
  };

  template <class... Args>
  [[nodiscard]] static Frame push(const Args&... args) {
    return Frame(detail::concat(args...));
  }

  // A frame whose text `describe(data)` is only made if an error is made while it is
  // alive: for hot paths (a graph's nodes), where building the text each time would cost
  // more than the work. `data` must outlive the frame.
  class LazyFrame {
   public:
    LazyFrame(std::string (*describe)(const void* data), const void* data);
    ~LazyFrame();
    LazyFrame(const LazyFrame&) = delete;
    LazyFrame& operator=(const LazyFrame&) = delete;
  };
};

}  // namespace strata

// Throws `Kind` with the concatenation of the remaining arguments when `cond` is false.
// The message arguments are evaluated only on failure.
#define STRATA_CHECK(cond, Kind, ...)                                                  \
  do {                                                                                 \
    if (!(cond)) [[unlikely]] {                                                        \
      ::strata::detail::throw_error<::strata::Kind>(__FILE__, __LINE__,                \
                                                    ::strata::detail::concat(__VA_ARGS__)); \
    }                                                                                  \
  } while (false)

#define STRATA_THROW(Kind, ...)                                                        \
  ::strata::detail::throw_error<::strata::Kind>(__FILE__, __LINE__,                    \
                                                ::strata::detail::concat(__VA_ARGS__))

STRATA_API_END
