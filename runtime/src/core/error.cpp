#include "strata/error.hpp"
#include "strata/plugin/file_text.hpp"

#include <utility>

namespace strata {
namespace {

std::vector<std::string> snapshot_context() {
  const auto& stack = detail::context_stack();
  std::vector<std::string> out;
  out.reserve(stack.size());
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) out.push_back(it->describe ? it->describe(it->data) : it->text);
  return out;
}

std::string compose(const std::string& message, const std::vector<std::string>& context) {
  std::string out = message;
  for (const auto& frame : context) {
    out += "\n  while ";
    out += frame;
  }
  return out;
}

// Keras layers whose computation a config cannot carry in a form Strata runs: what to do.
const char* hint_for(const UnknownObject& m) {
  if (m.kind != "layer") return nullptr;
  if (m.name == "Lambda") {
    return " A Lambda layer's function is Python code (marshalled bytecode or a function name), which Strata "
           "cannot run: register a layer class named 'Lambda' in a plugin (or pass one in custom_objects) that "
           "computes the same function, or load the model's SavedModel with strata::saved_model::load, whose "
           "traces hold the function as TensorFlow ops.";
  }
  if (m.name == "DenseFeatures") {
    return " DenseFeatures computes TensorFlow feature columns, which its config describes as Python objects "
           "Strata does not model: register a layer class named 'DenseFeatures' in a plugin (or pass one in "
           "custom_objects) that computes the same features, or load the model's SavedModel with "
           "strata::saved_model::load, whose traces hold them as TensorFlow ops.";
  }
  return nullptr;
}

std::string describe_missing(const std::vector<UnknownObject>& missing) {
  auto one = [](const UnknownObject& m) {
    if (m.ambiguous) {
      std::string s = "Ambiguous " + m.kind + ": '" + file_text(m.name) + "'";
      if (!m.context.empty()) s += " (needed by " + m.context + ")";
      s += " matches " + std::to_string(m.suggestions.size()) + " registered classes: ";
      for (std::size_t i = 0; i < m.suggestions.size(); ++i) {
        s += (i ? ", '" : "'") + m.suggestions[i] + "'";
        if (i < m.candidate_providers.size() && !m.candidate_providers[i].empty()) {
          s += " from '" + m.candidate_providers[i] + "'";
        }
      }
      s += ". Name one of them in full (package>Name) in the file, or pass the class in custom_objects.";
      return s;
    }
    std::string s = "Unknown " + m.kind + ": '" + file_text(m.name) + "'";
    if (!m.context.empty()) s += " (needed by " + m.context + ")";
    s += ".";
    if (!m.suggestions.empty()) {
      s += " Did you mean ";
      for (std::size_t i = 0; i < m.suggestions.size(); ++i) {
        if (i) s += i + 1 == m.suggestions.size() ? " or " : ", ";
        s += "'" + m.suggestions[i] + "'";
      }
      s += "?";
    }
    if (const char* hint = hint_for(m)) s += hint;
    return s;
  };
  if (missing.size() == 1) {
    if (missing[0].ambiguous) return one(missing[0]);
    return one(missing[0]) +
           " Load a plugin that provides it (`strata plugins` lists what is loaded) or pass "
           "it in custom_objects.";
  }
  std::string out = std::to_string(missing.size()) + " unknown objects:";
  for (const auto& m : missing) out += "\n  - " + one(m);
  out +=
      "\nLoad plugins that provide them (`strata plugins` lists what is loaded) or pass them in "
      "custom_objects.";
  return out;
}

}  // namespace

namespace detail {
std::vector<ContextEntry>& context_stack() {
  thread_local std::vector<ContextEntry> stack;
  return stack;
}
}  // namespace detail

Error::Error(std::string message) : Error(std::move(message), "", 0) {}

Error::Error(std::string message, const char* file, int line)
    : std::runtime_error(std::string()),
      message_(std::move(message)),
      context_(snapshot_context()),
      file_(file),
      line_(line) {
  static_cast<std::runtime_error&>(*this) = std::runtime_error(compose(message_, context_));
}

Error::~Error() = default;
const char* Error::kind() const noexcept { return "Error"; }

#define STRATA_DEFINE_ERROR_KIND(Name)                    \
  Name::~Name() = default;                                \
  const char* Name::kind() const noexcept { return #Name; }

STRATA_DEFINE_ERROR_KIND(ValueError)
STRATA_DEFINE_ERROR_KIND(ShapeError)
STRATA_DEFINE_ERROR_KIND(FormatError)
STRATA_DEFINE_ERROR_KIND(IOError)
STRATA_DEFINE_ERROR_KIND(PluginError)
STRATA_DEFINE_ERROR_KIND(BackendError)
#undef STRATA_DEFINE_ERROR_KIND

UnknownObjectError::UnknownObjectError(std::vector<UnknownObject> missing)
    : ValueError(describe_missing(missing)), missing_(std::move(missing)) {}
UnknownObjectError::UnknownObjectError(std::vector<UnknownObject> missing, const std::string& note)
    : ValueError(describe_missing(missing) + note), missing_(std::move(missing)) {}
UnknownObjectError::~UnknownObjectError() = default;
const char* UnknownObjectError::kind() const noexcept { return "UnknownObjectError"; }

ErrorContext::Frame::Frame(std::string text) { detail::context_stack().push_back({std::move(text), nullptr, nullptr}); }
ErrorContext::LazyFrame::LazyFrame(std::string (*describe)(const void*), const void* data) {
  detail::context_stack().push_back({std::string(), describe, data});
}
ErrorContext::LazyFrame::~LazyFrame() {
  auto& stack = detail::context_stack();
  if (!stack.empty()) stack.pop_back();
}
ErrorContext::Frame::~Frame() {
  auto& stack = detail::context_stack();
  if (!stack.empty()) stack.pop_back();
}

}  // namespace strata
