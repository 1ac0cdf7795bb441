#include "strata/threads.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/threads_env.hpp"
#include "strata/error.hpp"
#include "strata/log.hpp"

namespace strata {
namespace {

int initial_num_threads() {
  const char* env = std::getenv("STRATA_NUM_THREADS");
  if (env == nullptr || *env == '\0') return 0;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  if (end == env || *end != '\0' || v < 0 || v > 1'000'000) {
    log_warning("STRATA_NUM_THREADS='", env, "' is not a non-negative integer; using 0 (automatic)");
    return 0;
  }
  return static_cast<int>(v);
}

std::atomic<int>& process_setting() {
  static std::atomic<int> n{initial_num_threads()};
  return n;
}

// The calling thread's setting from ThreadScopes; 0: none.
thread_local int t_scope_threads = 0;

struct ModelSettings {
  std::mutex mutex;
  std::unordered_map<const Model*, int> by_model;
  std::atomic<bool> any{false};
};
ModelSettings& model_settings() {
  static auto* s = new ModelSettings();  // outlives static destructors that may free models
  return *s;
}

void check_count(int n, const char* what) {
  STRATA_CHECK(n >= 0, ValueError, what, ": the thread count must be >= 0 (0 = automatic), got ", n);
}

}  // namespace

void set_num_threads(int n) {
  check_count(n, "set_num_threads");
  process_setting().store(n, std::memory_order_relaxed);
}

int num_threads() noexcept {
  return process_setting().load(std::memory_order_relaxed);
}

void set_num_threads(const Model& model, int n) {
  check_count(n, "set_num_threads(model)");
  auto& s = model_settings();
  std::lock_guard lock(s.mutex);
  if (n == 0) {
    s.by_model.erase(&model);
  } else {
    s.by_model[&model] = n;
    s.any.store(true, std::memory_order_relaxed);
  }
}

int num_threads(const Model& model) noexcept {
  auto& s = model_settings();
  if (!s.any.load(std::memory_order_relaxed)) return 0;
  std::lock_guard lock(s.mutex);
  auto it = s.by_model.find(&model);
  return it == s.by_model.end() ? 0 : it->second;
}

ThreadScope::ThreadScope(int n) : previous_(t_scope_threads) {
  check_count(n, "ThreadScope");
  if (n > 0) t_scope_threads = n;
}

ThreadScope::~ThreadScope() {
  t_scope_threads = previous_;
}

int requested_num_threads() noexcept {
  return t_scope_threads > 0 ? t_scope_threads : process_setting().load(std::memory_order_relaxed);
}

namespace detail {

// Called by ~Model: a later model at the same address must not inherit the setting.
void forget_model_threads(const Model* model) noexcept {
  auto& s = model_settings();
  if (!s.any.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(s.mutex);
  s.by_model.erase(model);
}

int model_call_threads(const Model& model) noexcept {
  return t_scope_threads > 0 ? 0 : num_threads(model);
}

bool openmp_wait_policy_chosen() noexcept {
  for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return true;
  }
  return false;
}

bool libgomp_loaded() noexcept {
  void* handle = ::dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  ::dlclose(handle);
  return true;
}

namespace {
// Set once a plugin load under the default brought libgomp in: later loads find it loaded
// and that is no reason to log.
std::atomic<bool> g_libgomp_ours{false};
}  // namespace

OpenMpWaitDefault::OpenMpWaitDefault() {
  if (openmp_wait_policy_chosen() || g_libgomp_ours.load(std::memory_order_relaxed)) return;
  if (libgomp_loaded()) {
    static std::once_flag once;
    std::call_once(once, [] {
      log_info(
          "OpenMP (libgomp) was already loaded by the host program before Strata's plugins: its wait "
          "policy is the host's (Strata's default GOMP_SPINCOUNT=",
          kDefaultSpinCount,
          " is not applied; set OMP_WAIT_POLICY or GOMP_SPINCOUNT before the program starts to choose)");
    });
    return;
  }
  set_ = ::setenv("GOMP_SPINCOUNT", kDefaultSpinCount, 1) == 0;
}

OpenMpWaitDefault::~OpenMpWaitDefault() {
  if (!set_) return;
  ::unsetenv("GOMP_SPINCOUNT");
  if (libgomp_loaded()) g_libgomp_ours.store(true, std::memory_order_relaxed);
}

}  // namespace detail
}  // namespace strata
