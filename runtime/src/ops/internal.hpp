// Private to the runtime: per-thread execution state shared by dispatch, tapes and
// tracing, and the registration of the built-in op definitions.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/op_def.hpp"

namespace strata {
class Registrar;
class BackendDevice;

struct GradientTape::State {
  struct Entry {
    const OpDef* def;
    Attrs attrs;
    std::vector<Tensor> inputs;
    std::vector<Tensor> outputs;
  };
  bool persistent = false;
  bool watch_accessed_variables = true;
  bool recording = true;
  bool used = false;
  std::unordered_set<std::uint64_t> tracked;                   // tensor ids the tape follows
  std::unordered_set<std::uint64_t> watched_variables;         // variable ids
  std::unordered_map<std::uint64_t, std::vector<Tensor>> reads;  // variable id -> values read
  std::vector<Entry> entries;

  bool tracks(const Tensor& t) const { return t.defined() && tracked.count(t.id()) > 0; }
};

namespace internal {

struct ThreadState {
  std::vector<GradientTape::State*> tapes;
  int trace_depth = 0;
  std::vector<std::string> name_scopes;
  // Assignments recorded while tracing (AssignVariableOp nodes): they have no outputs, so
  // trace() keeps them as the graph's side effects.
  std::vector<std::shared_ptr<GraphNode>> side_effects;
  // Keras's autocast scope: inside the call of a layer with a mixed-precision policy, the
  // half dtype that read() casts float32 variables to (and assign_variable casts back
  // from); kInvalid outside such a call (layers/layer.cpp sets it per layer call).
  DType autocast = DType::kInvalid;
};
ThreadState& thread_state();
// Set for good once some thread opens an autocast scope (a mixed-precision layer's call), so
// that read() and assign_variable() of processes without one skip the thread-local lookup.
extern std::atomic<bool> g_autocast_used;
inline bool autocast_used() noexcept { return g_autocast_used.load(std::memory_order_relaxed); }
// Marks `variable` as read in its own dtype inside autocast scopes (Keras's
// experimental_autocast=False: a weight a layer created with an explicit dtype, such as
// BatchNormalization's float32 statistics under a mixed policy). Thread safety: may be called
// concurrently.
void keep_dtype_under_autocast(const Variable& variable);

// A new, empty graph node whose destruction is iterative: releasing the last reference to
// the end of a long chain of nodes (a graph of 10^5 ops in a row) frees the chain in a loop
// instead of one nested destructor call per node, which overflowed the stack.
std::shared_ptr<GraphNode> new_graph_node();

// Runs one op in the mode the thread is in (graph recording or eager + tapes).
std::vector<Tensor> run_op(const OpDef& def, std::vector<Tensor> inputs, const Attrs& attrs);
// An op resolved once for concrete inputs of fixed dtypes, shapes and device (graph plans,
// ops/plan.cpp): its output metas (inferred once), device and kernel.
struct PlannedOp {
  const OpDef* def = nullptr;
  BackendDevice* device = nullptr;
  std::shared_ptr<const void> kernel;  // dispatch's resolved kernel
  std::vector<TensorMeta> inputs;      // what the plan holds for: dtype and shape of each input
  std::vector<TensorMeta> outputs;
};
// What run_op would do for `inputs` (concrete), resolved once; nullopt when the op cannot be
// planned: stateful (seeded) ops, inputs on several devices, output shapes that depend on
// input values (inference from the metas alone, with `stand_ins[i]` for input i where
// defined, e.g. a graph's Const, must give the same fully defined shapes), or any error
// (run_op then reports it). Call only in eager mode.
std::optional<PlannedOp> plan_op(const OpDef& def, const std::vector<Tensor>& inputs, const Attrs& attrs,
                                 const std::vector<Tensor>& stand_ins);
// True when `inputs` match what `op` was planned for (dtypes, shapes, device), so that
// run_planned_op may run them; false sends the caller to run_op.
bool plan_matches(const PlannedOp& op, const std::vector<Tensor>& inputs) noexcept;
// Runs a planned op: no shape inference, no kernel lookup; records on tapes as run_op.
std::vector<Tensor> run_planned_op(const PlannedOp& op, std::vector<Tensor> inputs, const Attrs& attrs);

// Lets active tapes know that `value` was read from `variable`.
void note_variable_read(const Variable& variable, const Tensor& value);
// A symbolic tensor for an eager value captured by a graph (a Const node).
Tensor capture_constant(const Tensor& value);
// A symbolic tensor reading `variable` (a ReadVariableOp node).
Tensor capture_variable(const Variable& variable);
// Records `variable = value` (an AssignVariableOp node) as a side effect of the trace.
void record_assign(const Variable& variable, const Tensor& value);

// Registers every built-in op definition (runtime/src/ops/defs_*.cpp).
void register_math_ops(Registrar& r);
void register_array_ops(Registrar& r);
void register_reduction_ops(Registrar& r);
void register_nn_ops(Registrar& r);
void register_random_ops(Registrar& r);
void register_optimizer_ops(Registrar& r);
void register_builtin_ops(Registrar& r);

// Shared by the op definitions.
Shape reduce_shape(const Shape& in, const std::optional<std::vector<std::int64_t>>& axes, bool keep_dims,
                   std::string_view op);
// Sums `grad` down to `shape` (undoing NumPy broadcasting).
Tensor unbroadcast(const Tensor& grad, const Shape& shape);
// Resolves the seeds of a stateful random op for one execution (0, 0 = unseeded).
std::pair<std::int64_t, std::int64_t> resolve_seeds(std::int64_t seed, std::int64_t seed2);

}  // namespace internal
}  // namespace strata
