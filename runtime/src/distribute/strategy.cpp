// DistributionStrategy (strata/distribute.hpp) and the training loop's hooks
// (distribute/replica.hpp): sharding, fused gradient buckets, metric and variable sync.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "distribute/replica.hpp"
#include "strata/distribute.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/registry.hpp"

namespace strata {

struct DistributionStrategy::Impl {
  std::shared_ptr<Communicator> comm;
  DistributeOptions options;
  std::mutex stats_mutex;
  DistributedStepStats last;
};

namespace {

// ---- side tables ------------------------------------------------------------------------

struct Bindings {
  std::mutex mutex;
  std::unordered_map<const Model*, std::shared_ptr<DistributionStrategy>> strategy;
  // Models whose variables were broadcast under a strategy (by its Impl).
  std::unordered_map<const Model*, const void*> synced;
};
Bindings& bindings() {
  static auto* b = new Bindings();  // outlives static destructors that may free models
  return *b;
}

thread_local std::shared_ptr<DistributionStrategy> t_scope;   // innermost scope()
thread_local std::shared_ptr<DistributionStrategy> t_active;  // the strategy of the running step

std::size_t element_size(DType dtype) {
  return dtype_size(dtype);
}

bool is_float(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat64;
}

// Host buffer helpers for float32/float64 buckets.
void scale_into(char* dst, const Tensor& host, DType dtype, double factor) {
  const std::size_t n = static_cast<std::size_t>(host.num_elements());
  if (dtype == DType::kFloat32) {
    const float* src = host.host_data<float>();
    float* out = reinterpret_cast<float*>(dst);
    const float f = static_cast<float>(factor);
    for (std::size_t i = 0; i < n; ++i) out[i] = src[i] * f;
  } else {
    const double* src = host.host_data<double>();
    double* out = reinterpret_cast<double*>(dst);
    for (std::size_t i = 0; i < n; ++i) out[i] = src[i] * factor;
  }
}

void scale_in_place(char* data, std::size_t n, DType dtype, double factor) {
  if (dtype == DType::kFloat32) {
    float* p = reinterpret_cast<float*>(data);
    const float f = static_cast<float>(factor);
    for (std::size_t i = 0; i < n; ++i) p[i] *= f;
  } else {
    double* p = reinterpret_cast<double*>(data);
    for (std::size_t i = 0; i < n; ++i) p[i] *= factor;
  }
}

double read_count(const char* data, DType dtype) {
  if (dtype == DType::kFloat32) {
    float v;
    std::memcpy(&v, data, sizeof v);
    return v;
  }
  double v;
  std::memcpy(&v, data, sizeof v);
  return v;
}

void write_count(char* data, DType dtype, double value) {
  if (dtype == DType::kFloat32) {
    const auto v = static_cast<float>(value);
    std::memcpy(data, &v, sizeof v);
  } else {
    std::memcpy(data, &value, sizeof value);
  }
}

std::vector<double> to_doubles(const Tensor& t) {
  const Tensor host = t.to(Device::cpu());
  const std::size_t n = static_cast<std::size_t>(host.num_elements());
  std::vector<double> out(n);
  switch (host.dtype()) {
    case DType::kFloat32: {
      const float* p = host.host_data<float>();
      for (std::size_t i = 0; i < n; ++i) out[i] = p[i];
      break;
    }
    case DType::kFloat64: {
      const double* p = host.host_data<double>();
      std::copy(p, p + n, out.begin());
      break;
    }
    case DType::kInt64: {
      const std::int64_t* p = host.host_data<std::int64_t>();
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(p[i]);
      break;
    }
    case DType::kInt32: {
      const std::int32_t* p = host.host_data<std::int32_t>();
      for (std::size_t i = 0; i < n; ++i) out[i] = p[i];
      break;
    }
    default:
      STRATA_THROW(ValueError, "distributed training: cannot aggregate a metric state of dtype ",
                   dtype_name(host.dtype()), " across replicas");
  }
  return out;
}

Tensor from_doubles(const std::vector<double>& values, const Variable& like) {
  const Shape& shape = like.shape();
  switch (like.dtype()) {
    case DType::kFloat32: {
      std::vector<float> v(values.begin(), values.end());
      return Tensor::from_vector(v, shape, Device::cpu());
    }
    case DType::kFloat64:
      return Tensor::from_vector(values, shape, Device::cpu());
    case DType::kInt64: {
      std::vector<std::int64_t> v;
      for (double d : values) v.push_back(static_cast<std::int64_t>(d));
      return Tensor::from_vector(v, shape, Device::cpu());
    }
    case DType::kInt32: {
      std::vector<std::int32_t> v;
      for (double d : values) v.push_back(static_cast<std::int32_t>(d));
      return Tensor::from_vector(v, shape, Device::cpu());
    }
    default:
      break;
  }
  STRATA_THROW(ValueError, "distributed training: cannot aggregate a metric state of dtype ", dtype_name(like.dtype()));
}

std::vector<Variable> model_variables(const Model& model) {
  std::vector<Variable> vars = model.weights();
  if (model.is_compiled()) {
    for (auto& v : model.optimizer()->variables()) vars.push_back(v);
  }
  return vars;
}

// A host buffer as the communicator takes it: itself for a host collective, else a copy on
// the communicator's device type (NCCL: "cuda"), copied back by finish().
class Staged {
 public:
  Staged(const Communicator& comm, std::vector<char>& host, DType dtype, std::size_t count)
      : host_(host), bytes_(count * dtype_size(dtype)) {
    if (comm.device_type() == Device::cpu().type()) {
      data_ = host.data();
    } else {
      device_ = Tensor::from_host(dtype, Shape{static_cast<std::int64_t>(count)}, host.data(), bytes_,
                                  Device(comm.device_type()));
      data_ = device_.mutable_data();
    }
  }
  void* data() const noexcept { return data_; }
  void finish() {
    if (device_.defined()) device_.copy_to_host(host_.data(), bytes_);
  }

 private:
  std::vector<char>& host_;
  std::size_t bytes_;
  Tensor device_;
  void* data_ = nullptr;
};

}  // namespace

// ---- DistributionStrategy ---------------------------------------------------------------

DistributionStrategy::DistributionStrategy(const std::string& collective, DistributeOptions options) {
  auto factory = Registry::global().find<ObjectKind::kCollective>(collective);
  if (!factory) {
    std::string names;
    for (const auto& e : Registry::global().entries(ObjectKind::kCollective)) {
      names += (names.empty() ? "" : ", ") + e.name;
    }
    STRATA_THROW(ValueError, "no collective '", collective,
                 "' is registered (registered: ", names.empty() ? std::string("none") : names,
                 "); load its plugin (STRATA_PLUGIN_PATH, `strata plugins` lists what is loaded)");
  }
  auto comm = (*factory)(options.collective);
  STRATA_CHECK(comm != nullptr, CollectiveError, "the collective '", collective, "' returned no communicator");
  impl_ = std::make_shared<Impl>();
  impl_->comm = std::move(comm);
  impl_->options = std::move(options);
}

DistributionStrategy::DistributionStrategy(std::shared_ptr<Communicator> communicator, DistributeOptions options) {
  STRATA_CHECK(communicator != nullptr, ValueError, "DistributionStrategy needs a communicator");
  impl_ = std::make_shared<Impl>();
  impl_->comm = std::move(communicator);
  impl_->options = std::move(options);
}

DistributionStrategy::~DistributionStrategy() = default;

int DistributionStrategy::num_replicas_in_sync() const noexcept {
  return impl_->comm->size();
}
int DistributionStrategy::rank() const noexcept {
  return impl_->comm->rank();
}
bool DistributionStrategy::is_chief() const noexcept {
  return impl_->comm->rank() == 0;
}
Communicator& DistributionStrategy::communicator() const noexcept {
  return *impl_->comm;
}
const DistributeOptions& DistributionStrategy::options() const noexcept {
  return impl_->options;
}

DistributionStrategy::Scope::Scope(std::shared_ptr<void> previous) : previous_(std::move(previous)) {}
DistributionStrategy::Scope::Scope(Scope&& other) noexcept
    : previous_(std::move(other.previous_)), active_(other.active_) {
  other.active_ = false;
}
DistributionStrategy::Scope::~Scope() {
  if (active_) t_scope = std::static_pointer_cast<DistributionStrategy>(previous_);
}

DistributionStrategy::Scope DistributionStrategy::scope() const {
  Scope scope(t_scope);
  t_scope = std::make_shared<DistributionStrategy>(*this);
  return scope;
}

void DistributionStrategy::distribute(const Model& model) const {
  auto& b = bindings();
  const std::lock_guard<std::mutex> lock(b.mutex);
  b.strategy[&model] = std::make_shared<DistributionStrategy>(*this);
}

Tensor DistributionStrategy::reduce(ReduceOp op, const Tensor& value) const {
  STRATA_CHECK(value.defined() && !value.is_symbolic(), ValueError, "strategy.reduce needs a concrete tensor");
  const Tensor host = value.to(Device::cpu());
  std::vector<char> buffer(host.nbytes());
  host.copy_to_host(buffer.data(), buffer.size());
  if (impl_->comm->device_type() == Device::cpu().type()) {
    impl_->comm->all_reduce(buffer.data(), static_cast<std::size_t>(host.num_elements()), host.dtype(), op);
    return Tensor::from_host(host.dtype(), host.shape(), buffer.data(), buffer.size(), value.device());
  }
  // A device collective (NCCL): reduce the value where the communicator wants it.
  const Device device(impl_->comm->device_type());
  Tensor on_device = Tensor::from_host(host.dtype(), host.shape(), buffer.data(), buffer.size(), device);
  impl_->comm->all_reduce(on_device.mutable_data(), static_cast<std::size_t>(host.num_elements()), host.dtype(), op);
  return on_device.to(value.device());
}

void DistributionStrategy::broadcast_variables(const Model& model) const {
  Communicator& comm = *impl_->comm;
  const std::vector<Variable> vars = model_variables(model);
  std::uint64_t total = 0;
  for (const auto& v : vars) total += v.value().nbytes();
  std::uint64_t root_total = total;
  {
    std::vector<char> size_bytes(sizeof root_total);
    std::memcpy(size_bytes.data(), &root_total, sizeof root_total);
    Staged staged(comm, size_bytes, DType::kUInt8, size_bytes.size());
    comm.broadcast(staged.data(), size_bytes.size(), 0);
    staged.finish();
    std::memcpy(&root_total, size_bytes.data(), sizeof root_total);
  }
  STRATA_CHECK(root_total == total, ValueError, "broadcast_variables: model '", model.name(), "' on rank ", comm.rank(),
               " has ", total, " bytes of variables, rank 0 has ", root_total,
               " (the replicas must build the same model and optimizer)");
  std::vector<char> buffer(total);
  std::size_t offset = 0;
  for (const auto& v : vars) {
    const Tensor t = v.value();
    t.copy_to_host(buffer.data() + offset, t.nbytes());
    offset += t.nbytes();
  }
  if (!buffer.empty()) {
    Staged staged(comm, buffer, DType::kUInt8, buffer.size());
    comm.broadcast(staged.data(), buffer.size(), 0);
    staged.finish();
  }
  if (comm.rank() != 0) {
    offset = 0;
    for (auto v : vars) {
      const std::size_t bytes = v.value().nbytes();
      v.assign(Tensor::from_host(v.dtype(), v.shape(), buffer.data() + offset, bytes, Device::cpu()));
      offset += bytes;
    }
  }
  auto& b = bindings();
  const std::lock_guard<std::mutex> lock(b.mutex);
  b.synced[&model] = impl_.get();
}

void DistributionStrategy::barrier() const {
  impl_->comm->barrier();
}

DistributedStepStats DistributionStrategy::last_step_stats() const {
  const std::lock_guard<std::mutex> lock(impl_->stats_mutex);
  return impl_->last;
}

std::shared_ptr<DistributionStrategy> strategy_of(const Model& model) {
  {
    auto& b = bindings();
    const std::lock_guard<std::mutex> lock(b.mutex);
    auto it = b.strategy.find(&model);
    if (it != b.strategy.end()) return it->second;
  }
  return t_scope;
}

std::shared_ptr<DistributionStrategy> current_strategy() {
  return t_scope;
}

// ---- the training loop's hooks ------------------------------------------------------------

namespace internal {

std::shared_ptr<DistributionStrategy> active_strategy() {
  return t_active ? t_active : t_scope;
}

void bind_compiled_model(const Model& model) {
  if (!t_scope) return;
  auto& b = bindings();
  const std::lock_guard<std::mutex> lock(b.mutex);
  b.strategy[&model] = t_scope;
}

void forget_model_strategy(const Model* model) noexcept {
  auto& b = bindings();
  const std::lock_guard<std::mutex> lock(b.mutex);
  b.strategy.erase(model);
  b.synced.erase(model);
}

ReplicaStep::ReplicaStep(const Model& model) {
  strategy_ = strategy_of(model);
  if (!strategy_) return;
  bool synced = false;
  {
    auto& b = bindings();
    const std::lock_guard<std::mutex> lock(b.mutex);
    auto it = b.synced.find(&model);
    synced = it != b.synced.end() && it->second == strategy_->impl().get();
  }
  if (!synced) strategy_->broadcast_variables(model);
  previous_active_ = t_active;
  t_active = strategy_;
  for (const auto& m : model.metrics()) {
    for (const auto& v : m->variables()) snapshot_.emplace_back(v.id(), to_doubles(v.value()));
  }
}

ReplicaStep::~ReplicaStep() {
  if (strategy_) t_active = previous_active_;
}

void ReplicaStep::reduce_gradients(std::vector<Tensor>& grads, std::int64_t local_batch) {
  if (!strategy_) return;
  local_batch_ = local_batch;
  Communicator& comm = strategy_->communicator();
  const std::size_t cap = std::max<std::size_t>(strategy_->options().bucket_bytes, 1);

  // Buckets: runs of gradients of one floating dtype, in reverse order (the last layers'
  // gradients first, as a backward pass produces them), each at most `cap` bytes unless one
  // gradient alone is larger. The last float32/float64 bucket carries one more element: the
  // replica's batch size, so the sum gives the global batch size without another call.
  struct Bucket {
    DType dtype;
    std::vector<std::size_t> members;
    std::size_t elements = 0;
    bool carries_count = false;
    std::vector<char> data;
    std::unique_ptr<Staged> staged;
    std::unique_ptr<CollectiveRequest> request;
  };
  std::vector<Bucket> buckets;
  for (std::size_t k = grads.size(); k-- > 0;) {
    const Tensor& g = grads[k];
    if (!g.defined()) continue;
    STRATA_CHECK(is_float(g.dtype()), ValueError, "distributed training: gradients of dtype ", dtype_name(g.dtype()),
                 " cannot be all-reduced (float32 and float64 only)");
    const auto n = static_cast<std::size_t>(g.num_elements());
    const std::size_t bytes = n * element_size(g.dtype());
    if (buckets.empty() || buckets.back().dtype != g.dtype() ||
        (buckets.back().elements > 0 && (buckets.back().elements * element_size(g.dtype()) + bytes) > cap)) {
      buckets.push_back(Bucket{g.dtype(), {}, 0, false, {}, nullptr, nullptr});
    }
    buckets.back().members.push_back(k);
    buckets.back().elements += n;
  }
  if (buckets.empty()) buckets.push_back(Bucket{DType::kFloat32, {}, 0, false, {}, nullptr, nullptr});
  buckets.back().carries_count = true;  // its dtype is float32 or float64: counts are exact below 2^24
  const double factor = static_cast<double>(local_batch);

  DistributedStepStats stats;
  stats.gradient_buckets = buckets.size();
  // Pack and launch each bucket; the next one is packed while the previous is in flight.
  for (auto& bucket : buckets) {
    const std::size_t esize = element_size(bucket.dtype);
    const std::size_t count = bucket.elements + (bucket.carries_count ? 1 : 0);
    bucket.data.resize(count * esize);
    std::size_t offset = 0;
    for (std::size_t k : bucket.members) {
      const Tensor host = grads[k].to(Device::cpu());
      if (local_batch > 0) {
        scale_into(bucket.data.data() + offset, host, bucket.dtype, factor);
      } else {
        std::memset(bucket.data.data() + offset, 0, host.nbytes());  // an empty shard adds nothing (its loss is NaN)
      }
      offset += host.nbytes();
    }
    if (bucket.carries_count) write_count(bucket.data.data() + offset, bucket.dtype, factor);
    bucket.staged = std::make_unique<Staged>(comm, bucket.data, bucket.dtype, count);
    bucket.request = comm.all_reduce_async(bucket.staged->data(), count, bucket.dtype, ReduceOp::kSum);
    stats.collective_calls += 1;
    stats.bytes_reduced += bucket.data.size();
  }
  for (auto& bucket : buckets) {
    bucket.request->wait();
    bucket.staged->finish();
  }
  const Bucket& last = buckets.back();
  const double global_batch = read_count(last.data.data() + last.elements * element_size(last.dtype), last.dtype);
  STRATA_CHECK(global_batch > 0, ValueError, "distributed training: the global batch is empty");
  for (auto& bucket : buckets) {
    const std::size_t esize = element_size(bucket.dtype);
    scale_in_place(bucket.data.data(), bucket.elements, bucket.dtype, 1.0 / global_batch);
    std::size_t offset = 0;
    for (std::size_t k : bucket.members) {
      Tensor& g = grads[k];
      const std::size_t bytes = static_cast<std::size_t>(g.num_elements()) * esize;
      g = Tensor::from_host(bucket.dtype, g.shape(), bucket.data.data() + offset, bytes, g.device());
      offset += bytes;
    }
  }
  const std::lock_guard<std::mutex> lock(strategy_->impl()->stats_mutex);
  strategy_->impl()->last = stats;
}

void ReplicaStep::sync_metrics(const std::vector<std::shared_ptr<Metric>>& metrics) {
  if (!strategy_) return;
  Communicator& comm = strategy_->communicator();
  // Deltas since the step began, in float64; a state created during the step (a metric
  // built on the first batch) started from its reset value, zero for Keras's sums and counts.
  std::vector<Variable> vars;
  std::vector<std::vector<double>> before;
  std::vector<double> delta;
  for (const auto& m : metrics) {
    for (const auto& v : m->variables()) {
      std::vector<double> now = to_doubles(v.value());
      std::vector<double> old(now.size(), 0.0);
      for (const auto& [key, values] : snapshot_) {
        if (key == v.id() && values.size() == now.size()) old = values;
      }
      for (std::size_t i = 0; i < now.size(); ++i) delta.push_back(local_batch_ == 0 ? 0.0 : now[i] - old[i]);
      vars.push_back(v);
      before.push_back(std::move(old));
    }
  }
  if (delta.empty()) return;
  {
    std::vector<char> bytes(delta.size() * sizeof(double));
    std::memcpy(bytes.data(), delta.data(), bytes.size());
    Staged staged(comm, bytes, DType::kFloat64, delta.size());
    comm.all_reduce(staged.data(), delta.size(), DType::kFloat64, ReduceOp::kSum);
    staged.finish();
    std::memcpy(delta.data(), bytes.data(), bytes.size());
  }
  {
    const std::lock_guard<std::mutex> lock(strategy_->impl()->stats_mutex);
    strategy_->impl()->last.collective_calls += 1;
    strategy_->impl()->last.bytes_reduced += delta.size() * sizeof(double);
  }
  std::size_t offset = 0;
  for (std::size_t k = 0; k < vars.size(); ++k) {
    std::vector<double> value = before[k];
    for (double& x : value) x += delta[offset++];
    vars[k].assign(from_doubles(value, vars[k]));
  }
}

FitOptions distributed_fit_options(const Model& model, const FitOptions& options) {
  auto strategy = strategy_of(model);
  if (!strategy) return options;
  const int replicas = strategy->num_replicas_in_sync();
  STRATA_CHECK(options.batch_size >= replicas, ValueError, "fit: the global batch_size (", options.batch_size,
               ") must be at least the number of replicas (", replicas, ")");
  strategy->broadcast_variables(model);
  FitOptions out = options;
  if (!strategy->is_chief()) {
    out.verbose = 0;
    out.callbacks.clear();
    for (const auto& cb : options.callbacks) {
      // Files are the chief's: the other replicas hold the same values.
      if (dynamic_cast<const ModelCheckpoint*>(cb.get()) || dynamic_cast<const CSVLogger*>(cb.get())) continue;
      out.callbacks.push_back(cb);
    }
  }
  return out;
}

std::uint64_t agreed_seed(const Model& model, std::uint64_t seed) {
  auto strategy = strategy_of(model);
  if (!strategy) return seed;
  Communicator& comm = strategy->communicator();
  std::vector<char> bytes(sizeof seed);
  std::memcpy(bytes.data(), &seed, sizeof seed);
  Staged staged(comm, bytes, DType::kUInt8, bytes.size());
  comm.broadcast(staged.data(), bytes.size(), 0);
  staged.finish();
  std::memcpy(&seed, bytes.data(), sizeof seed);
  return seed;
}

std::pair<std::int64_t, std::int64_t> replica_shard(const Model& model, std::int64_t start, std::int64_t len) {
  auto strategy = strategy_of(model);
  if (!strategy) return {start, len};
  const std::int64_t r = strategy->rank();
  const std::int64_t n = strategy->num_replicas_in_sync();
  const std::int64_t lo = len * r / n;
  const std::int64_t hi = len * (r + 1) / n;
  return {start + lo, hi - lo};
}

}  // namespace internal
}  // namespace strata
