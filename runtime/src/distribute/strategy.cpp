// DistributionStrategy (strata/distribute.hpp) and the training loop's hooks
// (distribute/replica.hpp): sharding, fused gradient buckets, metric and variable sync.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "distribute/replica.hpp"
#include "ops/gradient_ready.hpp"
#include "strata/distribute.hpp"
#include "strata/plugin/collective.hpp"
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
// The global batch size of the step fit is about to run on this thread (replica_shard()),
// for the model it named; taken by that step's ReplicaStep.
thread_local const Model* t_shard_model = nullptr;
thread_local std::int64_t t_shard_global_batch = -1;

std::size_t element_size(DType dtype) {
  return dtype_size(dtype);
}

bool is_float(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat64;
}

void write_flag(char* data, DType dtype, double value) {
  if (dtype == DType::kFloat32) {
    const auto v = static_cast<float>(value);
    std::memcpy(data, &v, sizeof v);
  } else {
    std::memcpy(data, &value, sizeof value);
  }
}

double read_flag(const char* data, DType dtype) {
  if (dtype == DType::kFloat32) {
    float v;
    std::memcpy(&v, data, sizeof v);
    return v;
  }
  double v;
  std::memcpy(&v, data, sizeof v);
  return v;
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

ReplicaStep::ReplicaStep(const Model& model) : model_(&model) {
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
  if (t_shard_model == &model) global_batch_ = t_shard_global_batch;
  t_shard_model = nullptr;
  t_shard_global_batch = -1;
  previous_active_ = t_active;
  t_active = strategy_;
  for (const auto& m : model.metrics()) {
    for (const auto& v : m->variables()) snapshot_.emplace_back(v.id(), to_doubles(v.value()));
  }
}

ReplicaStep::~ReplicaStep() {
  if (strategy_) t_active = previous_active_;
}

Tensor ReplicaStep::scale_loss(const Tensor& loss, std::int64_t local_batch) {
  const double factor = loss_factor(local_batch);
  if (!strategy_) return loss;
  if (local_batch <= 0) return loss;  // NaN (the mean of nothing); its gradients are replaced by zeros
  return loss * scalar_like(loss, factor);
}

double ReplicaStep::loss_factor(std::int64_t local_batch) {
  if (!strategy_) return 1.0;
  local_batch_ = local_batch;
  if (global_batch_ < 0) {
    // train_on_batch on the caller's own shard: the replicas' batch sizes, summed.
    Communicator& comm = strategy_->communicator();
    std::vector<char> bytes(sizeof(double));
    const auto local = static_cast<double>(local_batch);
    std::memcpy(bytes.data(), &local, sizeof local);
    Staged staged(comm, bytes, DType::kFloat64, 1);
    comm.all_reduce(staged.data(), 1, DType::kFloat64, ReduceOp::kSum);
    staged.finish();
    double global = 0;
    std::memcpy(&global, bytes.data(), sizeof global);
    global_batch_ = static_cast<std::int64_t>(global);
    count_calls_ = 1;
  }
  STRATA_CHECK(global_batch_ > 0, ValueError, "distributed training: the global batch is empty");
  if (local_batch <= 0) return 0.0;
  return static_cast<double>(local_batch) / static_cast<double>(global_batch_);
}

// Gradient buckets: runs of gradients of one floating dtype, in reverse order (the last
// layers' gradients first, as a backward pass produces them), each at most `cap` bytes
// unless one gradient alone is larger. A bucket's all-reduce is launched once all its
// members are in; every replica plans the same buckets and completes them in the same order
// (the same model's backward walk), so the replicas launch the same collectives in order.
struct ReplicaStep::Reducer {
  struct Bucket {
    DType dtype;
    std::vector<std::size_t> members;  // source indices
    std::size_t elements = 0;
    std::size_t ready = 0;
    std::vector<char> data;
    std::unique_ptr<Staged> staged;
    std::unique_ptr<CollectiveRequest> request;
  };
  Communicator* comm = nullptr;
  std::int64_t local_batch = 1;
  std::vector<Bucket> buckets;
  std::vector<std::ptrdiff_t> bucket_of;  // per source: its bucket, -1 none
  std::vector<Tensor> grads;              // per source, as reported
  std::vector<std::size_t> sizes;         // per source: its planned element count
  std::vector<Shape> shapes;              // per source: its gradient's shape
  std::vector<Device> devices;            // per source: where its gradient goes
  std::vector<std::size_t> launch_order;  // buckets, in the order they were launched
  std::size_t tested = 0;                 // launch_order[0, tested) are known complete
  std::size_t reported = 0;               // sources ready() has seen
  bool in_backward = false;               // ready() is called while the gradients are computed
  DistributedStepStats stats;

  // `items[k]`: source k's dtype and element count; sources of another dtype than float32 and
  // float64 (or `skip[k]`) are not reduced. A bucket holds its members' gradients and then
  // one flag per member (1: this replica has a gradient for it), so a variable that has a
  // gradient on any replica gets the sum everywhere (an empty shard may have none), and one
  // that has none on every replica keeps none (the optimizer skips it, as in one process).
  void plan(const std::vector<std::pair<DType, std::size_t>>& items, const std::vector<bool>& skip, std::size_t cap) {
    bucket_of.assign(items.size(), -1);
    grads.assign(items.size(), Tensor());
    sizes.assign(items.size(), 0);
    for (std::size_t k = items.size(); k-- > 0;) {
      const auto [dtype, n] = items[k];
      if (skip[k] || !is_float(dtype)) continue;
      const std::size_t bytes = n * element_size(dtype);
      if (buckets.empty() || buckets.back().dtype != dtype ||
          (buckets.back().elements > 0 && (buckets.back().elements * element_size(dtype) + bytes) > cap)) {
        buckets.push_back(Bucket{dtype, {}, 0, 0, {}, nullptr, nullptr});
      }
      buckets.back().members.push_back(k);
      buckets.back().elements += n;
      bucket_of[k] = static_cast<std::ptrdiff_t>(buckets.size() - 1);
      sizes[k] = n;
    }
    for (auto& bucket : buckets) bucket.elements += bucket.members.size();  // the flags
    stats.gradient_buckets = buckets.size();
  }

  void ready(std::size_t k, const Tensor& g) {
    if (k >= bucket_of.size() || bucket_of[k] < 0) return;
    grads[k] = g;
    ++reported;
    Bucket& bucket = buckets[static_cast<std::size_t>(bucket_of[k])];
    if (++bucket.ready == bucket.members.size()) launch(bucket);
    // Give the launched all-reduces a chance to progress (MPI's advance only inside MPI calls).
    while (tested < launch_order.size() && buckets[launch_order[tested]].request->test()) ++tested;
  }

  void launch(Bucket& bucket) {
    const std::size_t esize = element_size(bucket.dtype);
    bucket.data.assign(bucket.elements * esize, 0);
    std::size_t offset = 0;
    for (std::size_t k : bucket.members) {
      const Tensor& g = grads[k];
      if (g.defined()) {
        STRATA_CHECK(g.dtype() == bucket.dtype && static_cast<std::size_t>(g.num_elements()) == sizes[k], ValueError,
                     "distributed training: a gradient of dtype ", dtype_name(g.dtype()), " and ", g.num_elements(),
                     " elements for a variable of dtype ", dtype_name(bucket.dtype), " and ", sizes[k]);
        const Tensor host = g.to(Device::cpu());
        // An empty shard adds nothing (its loss is NaN); an undefined gradient adds zeros.
        if (local_batch > 0) host.copy_to_host(bucket.data.data() + offset, host.nbytes());
      }
      offset += sizes[k] * esize;
    }
    for (std::size_t k : bucket.members) {
      write_flag(bucket.data.data() + offset, bucket.dtype, grads[k].defined() ? 1.0 : 0.0);
      offset += esize;
    }
    bucket.staged = std::make_unique<Staged>(*comm, bucket.data, bucket.dtype, bucket.elements);
    bucket.request = comm->all_reduce_async(bucket.staged->data(), bucket.elements, bucket.dtype, ReduceOp::kSum);
    launch_order.push_back(static_cast<std::size_t>(&bucket - buckets.data()));
    stats.collective_calls += 1;
    stats.bytes_reduced += bucket.data.size();
    // Overlapped: launched while the backward pass still had gradients to compute.
    if (in_backward && reported < bucket_of.size()) stats.buckets_overlapped += 1;
  }

  // Launches what is left (in plan order), waits for every bucket, writes the sums to `out`.
  void finish(std::vector<Tensor>& out) {
    for (auto& bucket : buckets) {
      if (!bucket.request) launch(bucket);
    }
    for (std::size_t b : launch_order) {
      buckets[b].request->wait();
      buckets[b].staged->finish();
    }
    for (auto& bucket : buckets) {
      const std::size_t esize = element_size(bucket.dtype);
      std::size_t offset = 0, flag = bucket.data.size() - bucket.members.size() * esize;
      for (std::size_t k : bucket.members) {
        const std::size_t bytes = sizes[k] * esize;
        if (read_flag(bucket.data.data() + flag, bucket.dtype) > 0) {
          out[k] = Tensor::from_host(bucket.dtype, shapes[k], bucket.data.data() + offset, bytes, devices[k]);
        } else {
          out[k] = Tensor();  // no replica has a gradient for it
        }
        offset += bytes;
        flag += esize;
      }
    }
  }
};

std::shared_ptr<void> ReplicaStep::overlap_backward(const std::vector<Variable>& vars) {
  if (!strategy_) return nullptr;
  return std::make_shared<internal::GradientReadyScope>(gradient_ready_hook(vars));
}

internal::GradientReadyHook ReplicaStep::gradient_ready_hook(const std::vector<Variable>& vars) {
  if (!strategy_) return {};
  auto reducer = std::make_shared<Reducer>();
  reducer->comm = &strategy_->communicator();
  reducer->local_batch = local_batch_;
  std::vector<std::pair<DType, std::size_t>> items;
  for (const auto& v : vars) {
    items.emplace_back(v.dtype(), static_cast<std::size_t>(v.shape().num_elements()));
    reducer->shapes.push_back(v.shape());
    reducer->devices.push_back(v.device());
  }
  reducer->plan(items, std::vector<bool>(vars.size(), false),
                std::max<std::size_t>(strategy_->options().bucket_bytes, 1));
  reducer->stats.collective_calls = count_calls_;
  reducer->in_backward = true;
  reducer_ = reducer;
  return [weak = std::weak_ptr<Reducer>(reducer)](std::size_t k, const Tensor& g) {
    if (auto r = weak.lock()) r->ready(k, g);
  };
}

void ReplicaStep::reduce_gradients(std::vector<Tensor>& grads, std::int64_t local_batch) {
  if (!strategy_) return;
  local_batch_ = local_batch;
  std::shared_ptr<Reducer> reducer = std::move(reducer_);
  if (reducer && reducer->grads.size() != grads.size()) reducer.reset();  // not these gradients
  if (reducer) reducer->in_backward = false;
  if (!reducer && model_ != nullptr) {
    // No overlap (a caller that differentiated without overlap_backward, e.g. a traced
    // step): plan from the trainable variables when these are their gradients, so that a
    // replica without some gradients (an empty shard) plans the same buckets as the others.
    const std::vector<Variable> vars = model_->trainable_weights();
    bool matches = vars.size() == grads.size();
    for (std::size_t k = 0; matches && k < grads.size(); ++k) {
      matches = !grads[k].defined() ||
                (grads[k].dtype() == vars[k].dtype() && grads[k].num_elements() == vars[k].shape().num_elements());
    }
    if (matches) {
      (void)gradient_ready_hook(vars);  // plans the buckets; its hook is not used
      reducer = std::move(reducer_);
      reducer->in_backward = false;
      for (std::size_t k = grads.size(); k-- > 0;) reducer->ready(k, grads[k]);
    }
  }
  if (!reducer) {
    // Gradients of something else: plan from the gradients themselves.
    reducer = std::make_shared<Reducer>();
    reducer->comm = &strategy_->communicator();
    reducer->local_batch = local_batch;
    std::vector<std::pair<DType, std::size_t>> items;
    std::vector<bool> skip;
    for (const auto& g : grads) {
      if (g.defined()) {
        STRATA_CHECK(is_float(g.dtype()), ValueError, "distributed training: gradients of dtype ",
                     dtype_name(g.dtype()), " cannot be all-reduced (float32 and float64 only)");
      }
      items.emplace_back(g.defined() ? g.dtype() : DType::kFloat32,
                         g.defined() ? static_cast<std::size_t>(g.num_elements()) : 0);
      reducer->shapes.push_back(g.defined() ? g.shape() : Shape{});
      reducer->devices.push_back(g.defined() ? g.device() : Device::cpu());
      skip.push_back(!g.defined());
    }
    reducer->plan(items, skip, std::max<std::size_t>(strategy_->options().bucket_bytes, 1));
    reducer->stats.collective_calls = count_calls_;
    for (std::size_t k = grads.size(); k-- > 0;) reducer->ready(k, grads[k]);
  } else {
    for (std::size_t k = 0; k < grads.size(); ++k) {
      if (grads[k].defined()) {
        STRATA_CHECK(is_float(grads[k].dtype()), ValueError, "distributed training: gradients of dtype ",
                     dtype_name(grads[k].dtype()), " cannot be all-reduced (float32 and float64 only)");
      }
    }
  }
  reducer->local_batch = local_batch;
  reducer->finish(grads);
  const std::lock_guard<std::mutex> lock(strategy_->impl()->stats_mutex);
  strategy_->impl()->last = reducer->stats;
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
  t_shard_model = &model;  // the step that trains on this shard scales its loss by 1/len
  t_shard_global_batch = len;
  return {start + lo, hi - lo};
}

}  // namespace internal
}  // namespace strata
