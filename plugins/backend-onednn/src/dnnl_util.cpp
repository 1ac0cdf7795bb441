#include "dnnl_util.hpp"

#include <oneapi/dnnl/dnnl_debug.h>

#include <algorithm>
#include <cstdlib>
#include <shared_mutex>
#include <unordered_map>

#include "common.hpp"
#include "strata/error.hpp"

namespace strata::onednn {

dnnl::engine& engine() {
  // Leaked on purpose: kernels may run during static destruction of other libraries.
  static dnnl::engine* e = [] {
    try {
      return new dnnl::engine(dnnl::engine::kind::cpu, 0);
    } catch (const dnnl::error& err) {
      throw_dnnl_error(err, "creating the CPU engine");
    }
  }();
  return *e;
}

void throw_dnnl_error(const dnnl::error& e, std::string_view what) {
  STRATA_THROW(BackendError, "oneDNN failed while ", what, ": ", e.what(), " (status ", dnnl_status2str(e.status),
               ")");
}

namespace {

dnnl::stream& thread_stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

// A per-thread, 64-byte aligned scratch area for primitives' scratchpads.
class ScratchBuffer {
 public:
  ~ScratchBuffer() { std::free(data_); }
  void* get(std::size_t bytes) {
    if (bytes > size_) {
      std::free(data_);
      data_ = nullptr;
      size_ = 0;
      const std::size_t rounded = (bytes + 63) / 64 * 64;
      data_ = std::aligned_alloc(64, rounded);
      STRATA_CHECK(data_ != nullptr, BackendError, "out of host memory allocating a ", bytes,
                   "-byte oneDNN scratchpad");
      size_ = rounded;
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

constexpr std::size_t kThreadBuffers = 4;

ScratchBuffer& thread_scratch(std::size_t slot = 0) {
  thread_local ScratchBuffer buffers[kThreadBuffers];
  return buffers[slot];
}

// The cache's logical clock: advanced by every insertion (a miss), so "last used at
// epoch e" orders entries by recency closely enough for eviction, while an execution
// only reads it (no shared read-modify-write per call).
std::atomic<std::uint64_t>& epoch() {
  static std::atomic<std::uint64_t> e{0};
  return e;
}

}  // namespace

// Memory objects bound to one execution at a time: taken from the pool, pointed at the
// call's buffers with set_data_handle, returned afterwards. The C argument array is
// built once, so an execution allocates nothing.
struct CachedPrimitive::Binding {
  std::vector<dnnl::memory> memories;  // one per argument, in order
  dnnl::memory scratchpad;
  std::vector<dnnl_exec_arg_t> args;
};

CachedPrimitive::CachedPrimitive(dnnl::primitive primitive, std::vector<std::pair<int, dnnl::memory::desc>> args,
                                 dnnl::memory::desc scratchpad, int threads, bool small)
    : primitive_(std::move(primitive)), args_(std::move(args)), scratchpad_(std::move(scratchpad)),
      threads_(threads), small_(small) {
  scratchpad_bytes_ = scratchpad_.get_size();
}

CachedPrimitive::~CachedPrimitive() = default;

std::unique_ptr<CachedPrimitive::Binding> CachedPrimitive::acquire() const {
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      auto b = std::move(free_.back());
      free_.pop_back();
      return b;
    }
  }
  auto b = std::make_unique<Binding>();
  b->memories.reserve(args_.size());
  for (const auto& [id, md] : args_) {
    b->memories.emplace_back(md, engine(), static_cast<void*>(nullptr));
    b->args.push_back({id, b->memories.back().get()});
  }
  if (scratchpad_bytes_ > 0) {
    b->scratchpad = dnnl::memory(scratchpad_, engine(), static_cast<void*>(nullptr));
    b->args.push_back({DNNL_ARG_SCRATCHPAD, b->scratchpad.get()});
  }
  return b;
}

void CachedPrimitive::release(std::unique_ptr<Binding> b) const {
  std::lock_guard lock(mutex_);
  free_.push_back(std::move(b));
}

void CachedPrimitive::run(const void* const* handles, std::size_t n) const {
  STRATA_CHECK(n == args_.size(), BackendError, "internal error: a oneDNN primitive takes ", args_.size(),
               " buffers, got ", n);
  const std::uint64_t now = epoch().load(std::memory_order_relaxed);
  if (last_use.load(std::memory_order_relaxed) != now) last_use.store(now, std::memory_order_relaxed);
  std::unique_ptr<Binding> b;
  try {
    b = acquire();
    for (std::size_t i = 0; i < n; ++i) b->memories[i].set_data_handle(const_cast<void*>(handles[i]));
    if (scratchpad_bytes_ > 0) b->scratchpad.set_data_handle(thread_scratch().get(scratchpad_bytes_));
    dnnl::stream& s = thread_stream();
    if (!small_) before_region();
    OmpThreads team(threads_);
    dnnl::error::wrap_c_api(dnnl_primitive_execute(primitive_.get(), s.get(), static_cast<int>(b->args.size()),
                                                   b->args.data()),
                            "could not execute a primitive");
    s.wait();
  } catch (const dnnl::error& e) {
    if (b) release(std::move(b));
    throw_dnnl_error(e, "executing a primitive");
  } catch (...) {
    if (b) release(std::move(b));
    throw;
  }
  release(std::move(b));
}

void CachedPrimitive::execute(std::initializer_list<const void*> handles) const {
  run(handles.begin(), handles.size());
}

void CachedPrimitive::execute(const std::vector<const void*>& handles) const { run(handles.data(), handles.size()); }

std::size_t primitive_cache_capacity() {
  static const std::size_t capacity = [] {
    std::size_t c = 1024;
    if (const char* env = std::getenv("STRATA_ONEDNN_CACHE_CAPACITY")) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(env, &end, 10);
      if (end != env && *end == '\0' && v > 0) c = static_cast<std::size_t>(v);
    }
    return c;
  }();
  return capacity;
}

namespace {

// A cache key: the kernel's key bytes and the team size of the lookup. Hash and equality
// accept the view form, so lookups build no std::string.
struct Key {
  std::string bytes;
  int team = 1;
};
struct KeyView {
  std::string_view bytes;
  int team = 1;
};
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(KeyView k) const noexcept {
    return std::hash<std::string_view>()(k.bytes) ^ (static_cast<std::size_t>(k.team) * 0x9e3779b97f4a7c15ULL);
  }
  std::size_t operator()(const Key& k) const noexcept { return (*this)(KeyView{k.bytes, k.team}); }
};
struct KeyEqual {
  using is_transparent = void;
  static KeyView view(const Key& k) noexcept { return {k.bytes, k.team}; }
  static KeyView view(KeyView k) noexcept { return k; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    const KeyView x = view(a), y = view(b);
    return x.team == y.team && x.bytes == y.bytes;
  }
};

// The process-wide primitive cache: lookups share a reader lock; a miss builds the
// primitive without any lock (two threads may build the same one; the first insert
// wins) and inserts under the writer lock, evicting the least recently used half when
// full. Entries are shared_ptrs, so an evicted primitive finishes its running calls.
class PrimitiveCache {
 public:
  std::shared_ptr<const CachedPrimitive> find(KeyView key) const {
    std::shared_lock lock(mutex_);
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : it->second;
  }

  std::shared_ptr<const CachedPrimitive> insert(KeyView key, std::shared_ptr<const CachedPrimitive> p) {
    std::unique_lock lock(mutex_);
    p->last_use.store(epoch().fetch_add(1, std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    auto [it, inserted] = map_.emplace(Key{std::string(key.bytes), key.team}, std::move(p));
    if (inserted && map_.size() > primitive_cache_capacity()) evict_locked(it->first);
    return it->second;
  }

 private:
  void evict_locked(const Key& keep) {
    std::vector<std::pair<std::uint64_t, const Key*>> ages;
    ages.reserve(map_.size());
    for (const auto& [k, v] : map_) {
      if (&k != &keep) ages.emplace_back(v->last_use.load(std::memory_order_relaxed), &k);
    }
    const std::size_t drop = ages.size() / 2;
    std::nth_element(ages.begin(), ages.begin() + static_cast<std::ptrdiff_t>(drop), ages.end());
    std::vector<Key> victims;
    for (std::size_t i = 0; i < drop; ++i) victims.push_back(*ages[i].second);
    for (const auto& k : victims) map_.erase(k);
  }

  mutable std::shared_mutex mutex_;
  std::unordered_map<Key, std::shared_ptr<const CachedPrimitive>, KeyHash, KeyEqual> map_;
};

PrimitiveCache& cache() {
  static PrimitiveCache* c = new PrimitiveCache();  // leaked: see engine()
  return *c;
}

}  // namespace

std::shared_ptr<const CachedPrimitive> find_cached_primitive(std::string_view key, int team) {
  return cache().find(KeyView{key, team});
}

std::shared_ptr<const CachedPrimitive> insert_cached_primitive(std::string_view key, int team, PrimitiveSpec spec,
                                                               int threads, bool small) {
  auto p = std::make_shared<const CachedPrimitive>(std::move(spec.primitive), std::move(spec.args),
                                                   std::move(spec.scratchpad), threads, small);
  return cache().insert(KeyView{key, team}, std::move(p));
}

bool is_small_work(const PrimitiveSpec& spec) {
  const dnnl::memory::desc* src = nullptr;
  const dnnl::memory::desc* weights = nullptr;
  const dnnl::memory::desc* dst = nullptr;
  std::int64_t moved = 0;
  for (const auto& [id, md] : spec.args) {
    if (id == DNNL_ARG_SRC) src = &md;
    if (id == DNNL_ARG_WEIGHTS) weights = &md;
    if (id == DNNL_ARG_DST) dst = &md;
    const auto dims = md.dims();
    std::int64_t n = 1;
    for (const auto d : dims) n *= d;
    moved += n;
  }
  std::int64_t macs = 0;
  if (src != nullptr && weights != nullptr && dst != nullptr) {
    auto elements = [](const dnnl::memory::desc& md) {
      std::int64_t n = 1;
      for (const auto d : md.dims()) n *= d;
      return n;
    };
    const auto kind = spec.primitive.get_kind();
    const auto sd = src->dims(), wd = weights->dims();
    if ((kind == dnnl::primitive::kind::matmul || kind == dnnl::primitive::kind::inner_product) && !sd.empty()) {
      // dst elements x the reduced dimension (K: the last of the source's; inner product
      // reduces over all of a source row)
      const std::int64_t k = kind == dnnl::primitive::kind::matmul
                                 ? sd.back()
                                 : elements(*src) / std::max<std::int64_t>(1, sd[0]);
      macs = elements(*dst) * k;
    } else if (kind == dnnl::primitive::kind::convolution && !wd.empty()) {
      // dst elements x (weights per output channel); grouped weights lead with [G, OC/G]
      const std::int64_t outputs = wd.size() > sd.size() ? wd[0] * wd[1] : wd[0];
      macs = elements(*dst) * (elements(*weights) / std::max<std::int64_t>(1, outputs));
    }
  }
  return moved + macs / 16 < 2 * kGrainCheap;
}

void* thread_buffer(std::size_t slot, std::size_t bytes) {
  STRATA_CHECK(slot > 0 && slot < kThreadBuffers, BackendError, "internal error: thread buffer slot ", slot);
  return thread_scratch(slot).get(bytes);
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::memory::desc strided_f32(const std::vector<std::int64_t>& dims, const std::vector<std::int64_t>& strides,
                               dnnl::memory::data_type type) {
  return dnnl::memory::desc(dnnl::memory::dims(dims.begin(), dims.end()), type,
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

dnnl::memory::desc plain(const std::vector<std::int64_t>& dims, dnnl::memory::data_type type) {
  std::vector<std::int64_t> d = dims.empty() ? std::vector<std::int64_t>{1} : dims;
  std::vector<std::int64_t> strides(d.size(), 1);
  for (std::size_t i = d.size(); i-- > 1;) strides[i - 1] = strides[i] * d[i];
  return strided_f32(d, strides, type);
}

}  // namespace strata::onednn
