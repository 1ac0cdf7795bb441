#include "strata/graph.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "layers/call_arguments.hpp"
#include "ops/gradient_ready.hpp"
#include "ops/internal.hpp"
#include "strata/layer.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/registry.hpp"

namespace strata {
namespace internal {

// Graphs whose plans keep values computed from weights (Plan's WeightRole): when such a
// graph's last node is freed, its plans go with it (forget_plans_of), so that the values do
// not outlive the model. Counted so that freeing nodes looks nothing up while there are none.
std::atomic<std::size_t> g_weight_cached_graphs{0};
void forget_plans_of(const GraphNode* last);

namespace {
// Program order of the variable reads and assignments recorded while tracing (TensorFlow's
// automatic control dependencies: ops on one variable run in the order the trace made
// them). Beside the nodes, keyed by address (GraphNode's layout is ABI); an entry goes when
// its node is freed, before the address can be reused.
struct VariableOrder {
  std::mutex mutex;
  std::unordered_map<const GraphNode*, std::uint64_t> sequence;
  std::uint64_t next = 0;
};
VariableOrder& variable_order() {
  static auto* order = new VariableOrder();  // never destroyed: nodes may be freed at exit
  return *order;
}
bool is_variable_op(const GraphNode& node) { return node.op == "ReadVariableOp" || node.op == "AssignVariableOp"; }
void note_variable_op(const GraphNode* node) {
  auto& order = variable_order();
  const std::lock_guard<std::mutex> lock(order.mutex);
  order.sequence[node] = order.next++;
}

// Graph's walk puts every output's inputs first and the assignments last, so a read the
// trace made after an assignment of the same variable (SpectralNormalization's wrapped layer
// reading the kernel it has just normalised) would run before it. Where the trace's order
// says otherwise, the nodes are sorted again with those orderings as extra edges (each read
// after the assignment before it, each assignment after the reads and the assignment
// before it), keeping the walk's order wherever it is free. The trace's order is a
// topological order of the data edges too, so the extra edges make no cycle.
void order_variable_ops(std::vector<std::shared_ptr<GraphNode>>& nodes) {
  struct Event {
    std::uint64_t seq;
    std::size_t index;
    bool assign;
  };
  std::map<std::uint64_t, std::vector<Event>> by_variable;
  {
    auto& order = variable_order();
    const std::lock_guard<std::mutex> lock(order.mutex);
    if (order.sequence.empty()) return;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const GraphNode& n = *nodes[i];
      if (!is_variable_op(n) || !n.variable.defined()) continue;
      const auto it = order.sequence.find(&n);
      if (it == order.sequence.end()) continue;
      by_variable[n.variable.id()].push_back({it->second, i, n.op == "AssignVariableOp"});
    }
  }
  std::vector<std::pair<std::size_t, std::size_t>> edges;  // (before, after)
  bool out_of_order = false;
  for (auto& [id, events] : by_variable) {
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.seq < b.seq; });
    std::optional<std::size_t> last_assign;
    std::vector<std::size_t> reads_since;
    for (const Event& e : events) {
      if (e.assign) {
        if (last_assign) edges.emplace_back(*last_assign, e.index);
        for (const std::size_t r : reads_since) edges.emplace_back(r, e.index);
        reads_since.clear();
        last_assign = e.index;
      } else {
        if (last_assign) edges.emplace_back(*last_assign, e.index);
        reads_since.push_back(e.index);
      }
    }
  }
  for (const auto& [a, b] : edges) out_of_order = out_of_order || a > b;
  if (!out_of_order) return;
  std::unordered_map<const GraphNode*, std::size_t> index;
  for (std::size_t i = 0; i < nodes.size(); ++i) index[nodes[i].get()] = i;
  std::vector<std::vector<std::size_t>> after(nodes.size());
  std::vector<std::size_t> waiting(nodes.size(), 0);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& in : nodes[i]->inputs) {
      after[index.at(in.node().get())].push_back(i);
      ++waiting[i];
    }
  }
  for (const auto& [a, b] : edges) {
    after[a].push_back(b);
    ++waiting[b];
  }
  // Kahn's algorithm, the smallest walk position first.
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (waiting[i] == 0) ready.insert(i);
  }
  std::vector<std::shared_ptr<GraphNode>> sorted;
  sorted.reserve(nodes.size());
  while (!ready.empty()) {
    const std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    sorted.push_back(nodes[i]);
    for (const std::size_t j : after[i]) {
      if (--waiting[j] == 0) ready.insert(j);
    }
  }
  // A graph whose nodes were not all recorded in one trace (a pass's rewrite reading a
  // variable again) may admit no such order: it keeps the walk's, as before.
  if (sorted.size() != nodes.size()) return;
  nodes = std::move(sorted);
}

// Nodes whose last reference went while another node was being freed: freed by the
// outermost deleter's loop, so freeing a chain never nests. The list lives on the outermost
// call's stack; the thread_local is a plain pointer to it (trivially destructible), so nodes
// freed after the thread's TLS destructors ran (static objects at exit) are still safe.
struct NodeDeleter {
  void operator()(GraphNode* node) const {
    thread_local std::vector<GraphNode*>* pending = nullptr;
    if (pending != nullptr) {
      pending->push_back(node);
      return;
    }
    std::vector<GraphNode*> list{node};
    pending = &list;
    while (!list.empty()) {
      GraphNode* next = list.back();
      list.pop_back();
      if (is_variable_op(*next)) {
        auto& order = variable_order();
        const std::lock_guard<std::mutex> lock(order.mutex);
        order.sequence.erase(next);
      }
      if (g_weight_cached_graphs.load(std::memory_order_relaxed) != 0) forget_plans_of(next);
      delete next;  // may push the nodes it held the last references to
    }
    pending = nullptr;
  }
};
}  // namespace

std::shared_ptr<GraphNode> new_graph_node() { return std::shared_ptr<GraphNode>(new GraphNode(), NodeDeleter{}); }

namespace {
std::string scoped_name(const std::string& base) {
  std::string name;
  for (const auto& s : thread_state().name_scopes) name += s + "/";
  return name + base;
}
}  // namespace

Tensor capture_constant(const Tensor& value) {
  auto node = new_graph_node();
  node->op = "Const";
  node->name = scoped_name("Const");
  node->value = value;
  node->attrs.set("dtype", value.dtype());
  node->outputs = {{value.dtype(), value.shape()}};
  return Tensor::symbolic(value.dtype(), value.shape(), node, 0, value.device());
}

Tensor capture_variable(const Variable& variable) {
  auto node = new_graph_node();
  node->op = "ReadVariableOp";
  node->name = scoped_name(variable.name());
  node->variable = variable;
  node->attrs.set("dtype", variable.dtype());
  node->outputs = {{variable.dtype(), variable.shape()}};
  note_variable_op(node.get());
  return Tensor::symbolic(variable.dtype(), variable.shape(), node, 0, variable.device());
}

void record_assign(const Variable& variable, const Tensor& value) {
  auto node = new_graph_node();
  node->op = "AssignVariableOp";
  node->name = scoped_name("AssignVariableOp");
  node->variable = variable;
  node->attrs.set("dtype", variable.dtype());
  node->inputs = {value.is_symbolic() ? value : capture_constant(value)};
  note_variable_op(node.get());
  thread_state().side_effects.push_back(std::move(node));
}

}  // namespace internal

Tensor placeholder(const TensorSpec& spec) {
  auto node = internal::new_graph_node();
  node->op = "Placeholder";
  node->name = spec.name.empty() ? std::string("Placeholder") : spec.name;
  node->attrs.set("dtype", spec.dtype);
  node->attrs.set("shape", spec.shape);
  node->outputs = {{spec.dtype, spec.shape}};
  return Tensor::symbolic(spec.dtype, spec.shape, node, 0);
}

NameScope::NameScope(std::string name) { internal::thread_state().name_scopes.push_back(std::move(name)); }
NameScope::~NameScope() {
  auto& scopes = internal::thread_state().name_scopes;
  if (!scopes.empty()) scopes.pop_back();
}

TraceScope::TraceScope() { ++internal::thread_state().trace_depth; }
TraceScope::~TraceScope() { --internal::thread_state().trace_depth; }
bool is_tracing() noexcept { return internal::thread_state().trace_depth > 0; }

Graph::Graph(std::vector<Tensor> inputs, std::vector<Tensor> outputs, std::string name,
             std::vector<std::shared_ptr<GraphNode>> side_effects)
    : name_(std::move(name)), inputs_(std::move(inputs)), outputs_(std::move(outputs)), side_effects_(std::move(side_effects)) {
  std::unordered_set<const GraphNode*> placeholders;
  for (const auto& in : inputs_) {
    STRATA_CHECK(in.is_symbolic() && in.node()->op == "Placeholder", ValueError, "graph '", name_,
                 "': every input must be a placeholder");
    placeholders.insert(in.node().get());
  }
  // Post-order walk from the outputs (iterative: graphs may be deep).
  std::unordered_set<const GraphNode*> visited;
  std::vector<std::shared_ptr<GraphNode>> roots;
  for (const auto& out : outputs_) {
    STRATA_CHECK(out.is_symbolic(), ValueError, "graph '", name_, "': outputs must be symbolic tensors");
    roots.push_back(out.node());
  }
  roots.insert(roots.end(), side_effects_.begin(), side_effects_.end());
  for (const auto& root : roots) {
    std::vector<std::pair<std::shared_ptr<GraphNode>, std::size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (visited.count(node.get())) {
        stack.pop_back();
        continue;
      }
      if (next < node->inputs.size()) {
        const Tensor& in = node->inputs[next++];
        if (!visited.count(in.node().get())) stack.emplace_back(in.node(), 0);
        continue;
      }
      if (node->op == "Placeholder") {
        STRATA_CHECK(placeholders.count(node.get()), ValueError, "graph '", name_, "': an output depends on placeholder '",
                     node->name, "', which is not among the graph's inputs");
      }
      visited.insert(node.get());
      nodes_.push_back(node);
      stack.pop_back();
    }
  }
  internal::order_variable_ops(nodes_);
  index_slots();
}



std::vector<Variable> Graph::captured_variables() const {
  std::vector<Variable> out;
  std::unordered_set<std::uint64_t> seen;  // by id (one per variable); a scan of `out` was quadratic
  bool undefined_seen = false;
  for (const auto& node : nodes_) {
    if (node->op != "ReadVariableOp" && node->op != "AssignVariableOp") continue;
    const bool first = node->variable.defined() ? seen.insert(node->variable.id()).second : !std::exchange(undefined_seen, true);
    if (first) out.push_back(node->variable);
  }
  return out;
}

namespace {
thread_local internal::GraphOutputHook t_graph_output;
}  // namespace

namespace internal {
GraphOutputScope::GraphOutputScope(GraphOutputHook hook) : previous_(std::move(t_graph_output)) {
  t_graph_output = std::move(hook);
}
GraphOutputScope::~GraphOutputScope() { t_graph_output = std::move(previous_); }
}  // namespace internal

namespace {
struct NodeWhere {
  const GraphNode* node;
  const std::string* graph;
};
std::string describe_node(const void* data) {
  const auto* w = static_cast<const NodeWhere*>(data);
  return detail::concat("running node '", w->node->name, "' (", w->node->op, ") of graph '", *w->graph, "'");
}
}  // namespace

// Where each node's inputs and the graph's outputs come from, as (node index, output)
// pairs, so that run() indexes vectors instead of hashing nodes.
void Graph::index_slots() {
  std::unordered_map<const GraphNode*, int> index;
  for (std::size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = static_cast<int>(i);
  input_slots_.assign(nodes_.size(), {});
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    for (const auto& in : nodes_[i]->inputs) input_slots_[i].push_back({index.at(in.node().get()), in.output_index()});
  }
  output_slots_.clear();
  for (const auto& out : outputs_) output_slots_.push_back({index.at(out.node().get()), out.output_index()});
  input_nodes_.clear();
  for (const auto& in : inputs_) input_nodes_.push_back(index.count(in.node().get()) ? index.at(in.node().get()) : -1);
  // Op definitions looked up once (by name, in the registry); one not registered yet is
  // looked up again when the graph runs.
  op_defs_.assign(nodes_.size(), nullptr);
  kinds_.assign(nodes_.size(), NodeKind::kOp);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const std::string& op = nodes_[i]->op;
    NodeKind& kind = kinds_[i];
    if (op == "Placeholder") kind = NodeKind::kPlaceholder;
    else if (op == "Const") kind = NodeKind::kConst;
    else if (op == "ReadVariableOp") kind = NodeKind::kRead;
    else if (op == "AssignVariableOp") kind = NodeKind::kAssign;
    else if (op == kLayerCallOp) kind = NodeKind::kLayerCall;
    if (kind != NodeKind::kOp) continue;
    try {
      op_defs_[i] = &op_def(op);
    } catch (const Error&) {
      op_defs_[i] = nullptr;
    }
  }
}

namespace {

// ---- plans ------------------------------------------------------------------------------------
// Graph::run compiles a plan per input signature (each input's dtype and shape, the device,
// the registry's generation): every op node's output metas inferred once and its kernel
// resolved once (internal::plan_op). Later runs with that signature skip shape inference
// and kernel lookup; a node whose inputs differ from what it was planned for (a variable
// assigned a value of another shape, moved to another device) runs through run_op as
// before. Plans live beside the graphs (Graph's layout is part of the ABI), keyed by the
// graph's last node and checked against its outputs, and shared by copies of a graph (the
// same nodes compute the same values).

struct Signature {
  std::vector<TensorMeta> inputs;
  const BackendDevice* device = nullptr;
  std::uint64_t generation = 0;
  bool operator==(const Signature& o) const {
    if (device != o.device || generation != o.generation || inputs.size() != o.inputs.size()) return false;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].dtype != o.inputs[i].dtype || !(inputs[i].shape == o.inputs[i].shape)) return false;
    }
    return true;
  }
};

// Values computed from weights alone (the BatchNormalization-folded filters of an inference
// graph, a cast of a weight): with the same signature and the same weight values, a run
// uses those of the run before instead of computing them again. A node's role: computed as
// usual (kNormal); computed from constants and variable reads only, with every reader
// among such nodes (kInterior: skipped when the cache is used); or such a node read by
// another node or a graph output (kCached: taken from the cache). The cache is keyed by the
// ids of the variables' values, which assign() replaces, so a new value is never missed (a
// write into a value's buffer in place is not an assignment and is not seen). Values are
// kept only once two runs in a row have read the same weights, so training, which assigns
// new weights every step, keeps nothing between steps.
enum class WeightRole : std::uint8_t { kNormal, kInterior, kCached };

struct WeightValues {
  std::vector<std::uint64_t> key;
  std::vector<std::vector<Tensor>> values;  // per kCached node, in node order
};

struct Plan {
  Signature signature;
  std::vector<std::optional<internal::PlannedOp>> ops;  // per node; nullopt: run_op
  std::vector<WeightRole> roles;     // empty: nothing is computed from weights alone
  std::vector<std::size_t> key_reads;  // the variable reads the weight-only nodes use
  mutable std::mutex weights_mutex;
  mutable std::vector<std::uint64_t> last_key;  // the weights the run before read
  mutable std::shared_ptr<const WeightValues> weights;
};

struct PlanEntry {
  std::weak_ptr<GraphNode> last;  // expired: the graph is gone (its address may be reused)
  std::vector<std::pair<const GraphNode*, int>> outputs;
  std::size_t node_count = 0;
  std::vector<std::shared_ptr<const Plan>> plans;  // newest last
  bool weight_cached = false;  // a plan may keep values computed from weights (counted)
};

constexpr std::size_t kPlansPerGraph = 8;

struct PlanTable {
  std::mutex mutex;
  std::unordered_map<const GraphNode*, PlanEntry> entries;
  std::size_t sweep_at = 64;
};
PlanTable& plan_table() {
  static auto* table = new PlanTable();  // never destroyed: graphs may run during exit
  return *table;
}

bool plans_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("STRATA_GRAPH_PLANS");
    return env == nullptr || std::string_view(env) != "0";
  }();
  return enabled;
}

std::vector<std::pair<const GraphNode*, int>> output_keys(const std::vector<Tensor>& outputs) {
  std::vector<std::pair<const GraphNode*, int>> out;
  out.reserve(outputs.size());
  for (const auto& o : outputs) out.emplace_back(o.node().get(), o.output_index());
  return out;
}

std::shared_ptr<const Plan> find_plan(const std::shared_ptr<GraphNode>& last, const std::vector<Tensor>& outputs,
                                      std::size_t node_count, const Signature& signature) {
  auto& table = plan_table();
  std::lock_guard lock(table.mutex);
  const auto it = table.entries.find(last.get());
  if (it == table.entries.end()) return nullptr;
  const PlanEntry& e = it->second;
  if (e.last.expired() || e.node_count != node_count || e.outputs != output_keys(outputs)) return nullptr;
  for (auto p = e.plans.rbegin(); p != e.plans.rend(); ++p) {
    if ((*p)->signature == signature) return *p;
  }
  return nullptr;
}

void store_plan(const std::shared_ptr<GraphNode>& last, const std::vector<Tensor>& outputs, std::size_t node_count,
                std::shared_ptr<const Plan> plan) {
  auto& table = plan_table();
  std::lock_guard lock(table.mutex);
  const auto uncount = [](const PlanEntry& entry) {
    if (entry.weight_cached) internal::g_weight_cached_graphs.fetch_sub(1, std::memory_order_relaxed);
  };
  if (table.entries.size() >= table.sweep_at) {  // forget graphs that are gone
    for (auto it = table.entries.begin(); it != table.entries.end();) {
      if (it->second.last.expired()) {
        uncount(it->second);
        it = table.entries.erase(it);
      } else {
        ++it;
      }
    }
    table.sweep_at = std::max<std::size_t>(64, table.entries.size() * 2);
  }
  PlanEntry& e = table.entries[last.get()];
  auto keys = output_keys(outputs);
  if (e.last.expired() || e.node_count != node_count || e.outputs != keys) {
    uncount(e);
    e = PlanEntry{};
    e.last = last;
    e.outputs = std::move(keys);
    e.node_count = node_count;
  }
  if (!plan->roles.empty() && !e.weight_cached) {
    e.weight_cached = true;
    internal::g_weight_cached_graphs.fetch_add(1, std::memory_order_relaxed);
  }
  if (e.plans.size() >= kPlansPerGraph) e.plans.erase(e.plans.begin());
  e.plans.push_back(std::move(plan));
}

}  // namespace

void internal::forget_plans_of(const GraphNode* last) {
  PlanEntry gone;
  {
    auto& table = plan_table();
    std::lock_guard lock(table.mutex);
    const auto it = table.entries.find(last);
    if (it == table.entries.end() || !it->second.weight_cached) return;
    internal::g_weight_cached_graphs.fetch_sub(1, std::memory_order_relaxed);
    gone = std::move(it->second);
    table.entries.erase(it);
  }
  // `gone` (its plans and their kept values) is freed here, outside the table's lock.
}

namespace {

bool weight_cache_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("STRATA_WEIGHT_CACHE");
    return env == nullptr || std::string_view(env) != "0";
  }();
  return enabled;
}

}  // namespace

std::vector<Tensor> Graph::run(const std::vector<Tensor>& inputs) const {
  STRATA_CHECK(inputs.size() == inputs_.size(), ValueError, "graph '", name_, "' takes ", inputs_.size(),
               " inputs, got ", inputs.size());
  std::vector<std::vector<Tensor>> values(nodes_.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& spec = inputs_[i];
    STRATA_CHECK(inputs[i].dtype() == spec.dtype(), ValueError, "graph '", name_, "' input ", i, " ('",
                 spec.node()->name, "') must be ", dtype_name(spec.dtype()), ", got ", dtype_name(inputs[i].dtype()));
    STRATA_CHECK(inputs[i].shape().is_compatible_with(spec.shape()), ShapeError, "graph '", name_, "' input ", i,
                 " ('", spec.node()->name, "') must have shape ", spec.shape().to_string(), ", got ",
                 inputs[i].shape().to_string());
    if (input_nodes_[i] >= 0) values[static_cast<std::size_t>(input_nodes_[i])] = {inputs[i]};
  }
  const auto value = [&](const std::pair<int, int>& slot) -> const Tensor& {
    return values[static_cast<std::size_t>(slot.first)].at(static_cast<std::size_t>(slot.second));
  };
  const Device device = inputs.empty() ? default_device() : inputs.front().device();

  // The nodes computed from weights alone and how a run treats them (WeightRole), or nothing
  // when the graph assigns variables or calls layers (their reads may change within a run).
  const auto plan_weight_roles = [this](Plan& plan) {
    if (!weight_cache_enabled()) return;
    const std::size_t n = nodes_.size();
    std::vector<bool> weight_only(n, false);
    for (std::size_t i = 0; i < n; ++i) {
      const NodeKind kind = kinds_[i];
      if (kind == NodeKind::kAssign || kind == NodeKind::kLayerCall) return;
      if (kind == NodeKind::kConst || kind == NodeKind::kRead) {
        weight_only[i] = true;
      } else if (kind == NodeKind::kOp && op_defs_[i] != nullptr && !op_defs_[i]->stateful && !input_slots_[i].empty()) {
        weight_only[i] = std::all_of(input_slots_[i].begin(), input_slots_[i].end(),
                                     [&](const auto& slot) { return weight_only[static_cast<std::size_t>(slot.first)]; });
      }
    }
    std::vector<bool> read_outside(n, false), read_inside(n, false);
    for (std::size_t j = 0; j < n; ++j) {
      for (const auto& slot : input_slots_[j]) {
        (weight_only[j] ? read_inside : read_outside)[static_cast<std::size_t>(slot.first)] = true;
      }
    }
    for (const auto& slot : output_slots_) read_outside[static_cast<std::size_t>(slot.first)] = true;
    std::vector<WeightRole> roles(n, WeightRole::kNormal);
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!weight_only[i]) continue;
      if (kinds_[i] == NodeKind::kOp) {
        roles[i] = read_outside[i] ? WeightRole::kCached : WeightRole::kInterior;
        any = any || read_outside[i];
      } else if (!read_outside[i]) {
        roles[i] = WeightRole::kInterior;  // a constant or read only weight-only nodes use
      }
      if (kinds_[i] == NodeKind::kRead && read_inside[i]) plan.key_reads.push_back(i);
    }
    if (any) {
      plan.roles = std::move(roles);
    } else {
      plan.key_reads.clear();
    }
  };

  // The plan for this signature, or a new one compiled by this run. Not while tracing (ops
  // record nodes then) nor for graphs holding symbolic inputs.
  std::shared_ptr<const Plan> plan;
  std::shared_ptr<Plan> compiling;
  const bool plannable = plans_enabled() && !nodes_.empty() && internal::thread_state().trace_depth == 0 &&
                         std::none_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.is_symbolic(); });
  if (plannable) {
    Signature signature;
    signature.inputs.reserve(inputs.size());
    for (const auto& in : inputs) signature.inputs.push_back({in.dtype(), in.shape()});
    signature.device = inputs.empty() ? nullptr : &inputs.front().backend_device();
    signature.generation = Registry::global().generation();
    plan = find_plan(nodes_.back(), outputs_, nodes_.size(), signature);
    if (!plan) {
      compiling = std::make_shared<Plan>();
      compiling->signature = std::move(signature);
      compiling->ops.resize(nodes_.size());
      plan_weight_roles(*compiling);
    }
  }

  // Values computed from weights alone (Plan's WeightRole): this run's key, and the values of
  // a run before that read the same weights (`cached`), or the values this run keeps (`keep`).
  const Plan* weight_plan = plan ? plan.get() : compiling.get();
  std::shared_ptr<const WeightValues> cached;
  std::shared_ptr<WeightValues> keep;
  if (weight_plan != nullptr && !weight_plan->roles.empty() &&
      internal::thread_state().autocast == DType::kInvalid) {
    std::vector<std::uint64_t> key;
    key.reserve(weight_plan->key_reads.size());
    for (const std::size_t i : weight_plan->key_reads) key.push_back(nodes_[i]->variable.value().id());
    std::lock_guard lock(weight_plan->weights_mutex);
    if (weight_plan->weights && weight_plan->weights->key == key) {
      cached = weight_plan->weights;
    } else if (weight_plan->last_key == key) {
      keep = std::make_shared<WeightValues>();
      keep->key = key;
    } else {
      weight_plan->last_key = std::move(key);
    }
  }
  std::size_t next_cached = 0;

  // Each value is dropped after the last node that reads it has run, so a run holds only
  // the live intermediates (as eager execution does) and their blocks go back to the
  // device's cache for the next nodes, instead of every intermediate of the graph at once.
  std::vector<std::size_t> last_use(nodes_.size(), 0);
  for (std::size_t j = 0; j < nodes_.size(); ++j) {
    for (const auto& slot : input_slots_[j]) last_use[static_cast<std::size_t>(slot.first)] = j;
  }
  for (const auto& slot : output_slots_) last_use[static_cast<std::size_t>(slot.first)] = nodes_.size();
  // A GraphOutputScope's hook (for this run only, not for graphs its nodes run): each output
  // is reported once the node producing it has run (gradient_ready.hpp).
  const internal::GraphOutputHook on_output = std::exchange(t_graph_output, {});
  std::vector<std::pair<std::size_t, std::size_t>> unreported;  // (producing node, output), by node
  std::size_t next_report = 0;
  if (on_output) {
    for (std::size_t j = 0; j < output_slots_.size(); ++j) {
      unreported.emplace_back(static_cast<std::size_t>(output_slots_[j].first), j);
    }
    std::stable_sort(unreported.begin(), unreported.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  const auto report_outputs_before = [&](std::size_t i) {
    for (; next_report < unreported.size() && unreported[next_report].first < i; ++next_report) {
      on_output(unreported[next_report].second, value(output_slots_[unreported[next_report].second]));
    }
  };
  const auto release_inputs = [&](std::size_t i) {
    if (keep && weight_plan->roles[i] == WeightRole::kCached) keep->values.push_back(values[i]);
    for (const auto& slot : input_slots_[i]) {
      const auto k = static_cast<std::size_t>(slot.first);
      if (last_use[k] == i) values[k].clear();
    }
  };

  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (on_output) report_outputs_before(i);
    const auto& node = nodes_[i];
    const NodeKind kind = kinds_[i];
    if (kind == NodeKind::kPlaceholder) continue;
    if (cached) {
      const WeightRole role = weight_plan->roles[i];
      if (role == WeightRole::kInterior) continue;
      if (role == WeightRole::kCached) {
        values[i] = cached->values[next_cached++];
        continue;
      }
    }
    if (kind == NodeKind::kConst) {
      values[i] = {node->value.device() == device ? node->value : node->value.to(device)};
      continue;
    }
    if (kind == NodeKind::kRead) {
      values[i] = {read(node->variable)};
      continue;
    }
    if (kind == NodeKind::kAssign) {
      assign_variable(node->variable, value(input_slots_[i].at(0)));
      release_inputs(i);
      continue;
    }
    std::vector<Tensor> args;
    args.reserve(input_slots_[i].size());
    for (const auto& slot : input_slots_[i]) args.push_back(value(slot));
    if (kind == NodeKind::kLayerCall) {
      CallContext ctx;
      ctx.training = node->attrs.get_or<bool>("training", false);
      values[i] = internal::run_layer_node(*node, args, ctx).tensors;
      release_inputs(i);
      continue;
    }
    const NodeWhere where{node.get(), &name_};
    ErrorContext::LazyFrame frame(describe_node, &where);
    const OpDef& def = op_defs_[i] ? *op_defs_[i] : op_def(node->op);
    if (plan) {
      const auto& op = plan->ops[i];
      if (op && internal::plan_matches(*op, args)) {
        values[i] = internal::run_planned_op(*op, std::move(args), node->attrs);
        release_inputs(i);
        continue;
      }
    } else if (compiling) {
      // Const inputs stand for themselves in the shape check (a Reshape's target shape).
      std::vector<Tensor> stand_ins(args.size());
      for (std::size_t k = 0; k < args.size(); ++k) {
        if (kinds_[static_cast<std::size_t>(input_slots_[i][k].first)] == NodeKind::kConst) stand_ins[k] = node->inputs[k];
      }
      auto& op = compiling->ops[i];
      op = internal::plan_op(def, args, node->attrs, stand_ins);
      if (op) {
        values[i] = internal::run_planned_op(*op, std::move(args), node->attrs);
        release_inputs(i);
        continue;
      }
    }
    values[i] = internal::run_op(def, std::move(args), node->attrs);
    release_inputs(i);
  }
  if (on_output) report_outputs_before(nodes_.size());
  std::vector<Tensor> out;
  out.reserve(outputs_.size());
  for (const auto& slot : output_slots_) out.push_back(value(slot));
  if (keep) {
    std::lock_guard lock(weight_plan->weights_mutex);
    weight_plan->weights = std::move(keep);
  }
  if (compiling) store_plan(nodes_.back(), outputs_, nodes_.size(), std::move(compiling));
  return out;
}

std::string Graph::to_string() const {
  std::ostringstream s;
  for (const auto& node : nodes_) {
    s << node->name << " = " << node->op << "(";
    for (std::size_t i = 0; i < node->inputs.size(); ++i) {
      if (i) s << ", ";
      s << node->inputs[i].node()->name;
      if (node->inputs[i].output_index()) s << ":" << node->inputs[i].output_index();
    }
    s << ")";
    if (!node->attrs.empty()) s << " " << node->attrs.to_string();
    s << " -> ";
    for (std::size_t i = 0; i < node->outputs.size(); ++i) {
      if (i) s << ", ";
      s << dtype_name(node->outputs[i].dtype) << node->outputs[i].shape.to_string();
    }
    s << "\n";
  }
  return s.str();
}

Graph trace(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
            const std::vector<TensorSpec>& specs, std::string name) {
  std::vector<Tensor> inputs;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    TensorSpec spec = specs[i];
    if (spec.name.empty()) spec.name = detail::concat("input_", i);
    inputs.push_back(placeholder(spec));
  }
  std::vector<Tensor> outputs;
  // This trace's assignments; an enclosing trace's are set aside until it ends.
  std::vector<std::shared_ptr<GraphNode>> side_effects, outer = std::move(internal::thread_state().side_effects);
  internal::thread_state().side_effects.clear();
  try {
    TraceScope scope;
    outputs = fn(inputs);
  } catch (...) {
    internal::thread_state().side_effects = std::move(outer);
    throw;
  }
  side_effects = std::move(internal::thread_state().side_effects);
  internal::thread_state().side_effects = std::move(outer);
  for (auto& o : outputs) {
    if (!o.is_symbolic()) o = internal::capture_constant(o);
  }
  return Graph(std::move(inputs), std::move(outputs), std::move(name), std::move(side_effects));
}

// ---- passes -----------------------------------------------------------------------------------

Graph rewrite_graph(const Graph& graph, const NodeRewrite& rewrite) {
  std::unordered_map<const GraphNode*, std::size_t> uses;
  for (const auto& node : graph.nodes()) {
    for (const auto& in : node->inputs) ++uses[in.node().get()];
  }
  for (const auto& out : graph.outputs()) ++uses[out.node().get()];
  std::vector<TensorSpec> specs;
  for (const auto& in : graph.inputs()) specs.emplace_back(in.shape(), in.dtype(), in.node()->name);
  return trace(
      [&](const std::vector<Tensor>& placeholders) {
        std::unordered_map<const GraphNode*, std::vector<Tensor>> values;
        for (std::size_t i = 0; i < placeholders.size(); ++i) values[graph.inputs()[i].node().get()] = {placeholders[i]};
        RewriteContext ctx;
        ctx.value_of = [&](const Tensor& t) { return values.at(t.node().get()).at(static_cast<std::size_t>(t.output_index())); };
        ctx.uses = [&](const GraphNode& n) {
          const auto it = uses.find(&n);
          return it == uses.end() ? std::size_t{0} : it->second;
        };
        for (const auto& node : graph.nodes()) {
          if (node->op == "Placeholder") continue;
          if (auto replaced = rewrite(*node, ctx)) {
            values[node.get()] = std::move(*replaced);
            continue;
          }
          std::vector<Tensor> args;
          for (const auto& in : node->inputs) args.push_back(ctx.value_of(in));
          if (node->op == "Const") {
            values[node.get()] = {node->value};
          } else if (node->op == "ReadVariableOp") {
            values[node.get()] = {read(node->variable)};
          } else if (node->op == "AssignVariableOp") {
            assign_variable(node->variable, args.at(0));
            values[node.get()] = {};
          } else if (node->op == kLayerCallOp) {
            CallContext call;
            call.training = node->attrs.get_or<bool>("training", false);
            values[node.get()] = internal::run_layer_node(*node, args, call).tensors;
          } else {
            values[node.get()] = execute(node->op, std::move(args), node->attrs);
          }
        }
        std::vector<Tensor> outputs;
        for (const auto& out : graph.outputs()) outputs.push_back(ctx.value_of(out));
        return outputs;
      },
      specs, graph.name());
}

namespace {
std::mutex g_passes_mutex;
std::vector<GraphPass>& passes() {
  static auto* p = new std::vector<GraphPass>();
  return *p;
}
}  // namespace

void register_graph_pass(GraphPass pass) {
  STRATA_CHECK(!pass.name.empty() && pass.run, ValueError, "a graph pass needs a name and a function");
  std::lock_guard lock(g_passes_mutex);
  for (auto& p : passes()) {
    if (p.name == pass.name && p.device_type == pass.device_type) {
      p = std::move(pass);  // a reloaded plugin replaces its pass
      return;
    }
  }
  passes().push_back(std::move(pass));
}

std::vector<std::string> graph_passes(std::string_view device_type) {
  std::lock_guard lock(g_passes_mutex);
  std::vector<std::string> out;
  for (const auto& p : passes()) {
    if (p.device_type == device_type) out.push_back(p.name);
  }
  return out;
}

namespace {
// -1: not set by set_graph_passes_enabled (STRATA_GRAPH_PASSES decides), 0 / 1: set.
std::atomic<int> g_passes_enabled{-1};
}  // namespace

void set_graph_passes_enabled(bool enabled) noexcept { g_passes_enabled.store(enabled ? 1 : 0); }

bool graph_passes_enabled() noexcept {
  const int set = g_passes_enabled.load();
  if (set >= 0) return set == 1;
  static const bool from_env = [] {  // read once: eager layers ask on every call
    const char* env = std::getenv("STRATA_GRAPH_PASSES");
    return env == nullptr || std::string_view(env) != "0";
  }();
  return from_env;
}

Graph optimize_graph(const Graph& graph, const Device& device, bool for_inference) {
  if (!graph_passes_enabled()) return graph;
  std::vector<GraphPass> todo;
  {
    std::lock_guard lock(g_passes_mutex);
    for (const auto& p : passes()) {
      if (p.device_type == device.type() && (for_inference || !p.inference_only)) todo.push_back(p);
    }
  }
  Graph g = graph;
  for (const auto& p : todo) {
    auto frame = ErrorContext::push("running graph pass '", p.name, "' on graph '", graph.name(), "'");
    g = p.run(g);
  }
  return g;
}

}  // namespace strata
