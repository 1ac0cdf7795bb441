// oneDNN plumbing of the backend-onednn plugin: the one CPU engine, a stream per
// thread, and the primitive cache.
//
// The cache maps a key (op, shapes, attributes: everything a primitive descriptor is
// built from) to a ready primitive, so that repeated calls with the same shapes (the
// batch-1 MLP, a training loop) never rebuild one. A cached primitive runs with a
// user-provided scratchpad from a per-thread buffer and binds its arguments through
// memory objects taken from a small per-primitive pool, so one primitive may execute on
// many threads at once. oneDNN types stay inside this plugin; oneDNN errors become
// strata::BackendError carrying oneDNN's status text.
//
// Threads: a primitive is created and runs with the calling thread's OpenMP thread count
// set to the team it was built for (threads.hpp), and the cache keeps one entry per key
// and team size (oneDNN sizes a primitive's parallel regions when it is created). A
// primitive whose work is small (is_small_work) is built for one thread even when the
// team is larger: oneDNN then calls its kernel on the calling thread, with no OpenMP region.
//
// Thread safety: everything here may be called from many threads at once.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <atomic>
#include <cstring>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "threads.hpp"

namespace strata::onednn {

// The CPU engine (created on first use, never destroyed).
dnnl::engine& engine();

// [[noreturn]] Throws BackendError for a oneDNN error raised while `what`.
[[noreturn]] void throw_dnnl_error(const dnnl::error& e, std::string_view what);

// Builds a cache key from raw values, in an inline buffer (no allocation for keys up to
// kInline bytes, which covers every key but those of concatenations of many inputs).
class KeyBuilder {
 public:
  explicit KeyBuilder(std::string_view op) {
    append(op.data(), op.size());
    append("", 1);
  }
  KeyBuilder(const KeyBuilder&) = delete;
  KeyBuilder& operator=(const KeyBuilder&) = delete;

  KeyBuilder& add(std::int64_t v) {
    append(&v, sizeof v);
    return *this;
  }
  KeyBuilder& add(const std::vector<std::int64_t>& v) {
    add(static_cast<std::int64_t>(v.size()));
    append(v.data(), v.size() * sizeof(std::int64_t));
    return *this;
  }
  KeyBuilder& add(std::string_view bytes) {
    add(static_cast<std::int64_t>(bytes.size()));
    append(bytes.data(), bytes.size());
    return *this;
  }
  KeyBuilder& add(float v) {
    append(&v, sizeof v);
    return *this;
  }
  std::string_view str() const noexcept {
    return overflow_.empty() ? std::string_view(inline_, size_) : std::string_view(overflow_);
  }

 private:
  static constexpr std::size_t kInline = 384;
  void append(const void* p, std::size_t n) {
    if (overflow_.empty() && size_ + n <= kInline) {
      std::memcpy(inline_ + size_, p, n);
      size_ += n;
      return;
    }
    if (overflow_.empty()) overflow_.assign(inline_, size_);
    overflow_.append(static_cast<const char*>(p), n);
  }
  char inline_[kInline];
  std::size_t size_ = 0;
  std::string overflow_;
};

// A ready primitive with the memory descriptors of its arguments, in a fixed order.
class CachedPrimitive {
 public:
  CachedPrimitive(dnnl::primitive primitive, std::vector<std::pair<int, dnnl::memory::desc>> args,
                  dnnl::memory::desc scratchpad, int threads = 1, bool small = false);
  ~CachedPrimitive();
  CachedPrimitive(const CachedPrimitive&) = delete;
  CachedPrimitive& operator=(const CachedPrimitive&) = delete;

  // Runs the primitive on this thread's stream with the given host addresses, one per
  // argument in the order given at construction, and waits for it. Throws BackendError
  // when oneDNN fails.
  void execute(std::initializer_list<const void*> handles) const;
  void execute(const std::vector<const void*>& handles) const;

  // The memory descriptor of argument i (in the order given at construction).
  const dnnl::memory::desc& arg_desc(std::size_t i) const { return args_[i].second; }

  // The thread count it was built for and runs with.
  int threads() const noexcept { return threads_; }

  // Cache epoch of the last use, for eviction.
  mutable std::atomic<std::uint64_t> last_use{0};

 private:
  struct Binding;
  std::unique_ptr<Binding> acquire() const;
  void release(std::unique_ptr<Binding> b) const;
  void run(const void* const* handles, std::size_t n) const;

  dnnl::primitive primitive_;
  std::vector<std::pair<int, dnnl::memory::desc>> args_;
  dnnl::memory::desc scratchpad_;
  std::size_t scratchpad_bytes_ = 0;
  int threads_ = 1;
  bool small_ = false;  // built for one thread because its work is small
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Binding>> free_;
};

// What a cache miss builds: the primitive, its arguments (id, descriptor) in the order
// execute() takes their addresses, and its scratchpad descriptor.
struct PrimitiveSpec {
  dnnl::primitive primitive;
  std::vector<std::pair<int, dnnl::memory::desc>> args;
  dnnl::memory::desc scratchpad;
};

// Whether a primitive's work is small enough to run on the calling thread: an estimate
// from its kind and argument sizes (elements moved, plus multiply-adds / 16 for matmul,
// inner product and convolution) below 2 * kGrainCheap, the cut-off of parallel_for.
bool is_small_work(const PrimitiveSpec& spec);

// The cache's two halves; use cached_primitive(). `team`: the thread count of the lookup.
std::shared_ptr<const CachedPrimitive> find_cached_primitive(std::string_view key, int team);
std::shared_ptr<const CachedPrimitive> insert_cached_primitive(std::string_view key, int team, PrimitiveSpec spec,
                                                               int threads, bool small);

// The cached primitive for `key` and the calling thread's team (team_threads()),
// building it with `make()` (returning a PrimitiveSpec) on a miss, with OpenMP's thread
// count set to the team, or to 1 when the work is small. `make` should build with
// user_scratchpad() attributes. oneDNN errors (an unsupported configuration) become
// BackendError naming `op`.
template <class Make>
std::shared_ptr<const CachedPrimitive> cached_primitive(std::string_view op, std::string_view key, Make&& make) {
  const int team = team_threads();
  if (auto hit = find_cached_primitive(key, team)) return hit;
  PrimitiveSpec spec;
  int threads = team;
  bool small = false;
  try {
    {
      OmpThreads scope(team);
      spec = make();
    }
    if (team > 1 && is_small_work(spec)) {
      OmpThreads scope(1);
      spec = make();
      threads = 1;
      small = true;
    }
  } catch (const dnnl::error& e) {
    throw_dnnl_error(e, std::string("creating the oneDNN primitive of op ").append(op));
  }
  return insert_cached_primitive(key, team, std::move(spec), threads, small);
}

// A 64-byte aligned buffer of at least `bytes` owned by the calling thread, one per
// slot (slot 0 holds primitives' scratchpads; kernels use slots 1 and up for staging,
// e.g. reordered weights). Valid until the next call for the same slot on this thread.
void* thread_buffer(std::size_t slot, std::size_t bytes);

// Attributes with a user-managed scratchpad (the one every cached primitive uses).
dnnl::primitive_attr user_scratchpad();

// Memory descriptor for float32 data of `dims` with explicit element `strides`.
dnnl::memory::desc strided_f32(const std::vector<std::int64_t>& dims, const std::vector<std::int64_t>& strides,
                               dnnl::memory::data_type type = dnnl::memory::data_type::f32);
// Row-major (plain) descriptor.
dnnl::memory::desc plain(const std::vector<std::int64_t>& dims,
                         dnnl::memory::data_type type = dnnl::memory::data_type::f32);

// Number of entries the cache keeps before evicting the least recently used; default
// 1024, STRATA_ONEDNN_CACHE_CAPACITY overrides it.
std::size_t primitive_cache_capacity();

}  // namespace strata::onednn
