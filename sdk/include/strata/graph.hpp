// Graphs of ops. Symbolic tensors (no values, possibly unknown dimensions) are the
// outputs of graph nodes; ops applied to them record new nodes instead of computing.
// That serves the Functional API (calling layers on Input() placeholders) and tracing:
// trace(fn, specs) runs fn once on placeholders and returns the Graph of what it did —
// every op, including reads of variables (which stay references to the variables) and
// random ops (which stay random). A Graph runs on any backend and gives what eager
// execution gives; run under a GradientTape, it is differentiable like eager code.
#pragma once

#include "strata/export.hpp"
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/attrs.hpp"
#include "strata/device.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata {

class Layer;
struct OpDef;

// One recorded op application. Ops named "Placeholder" (graph inputs), "Const" (an eager
// tensor captured by the graph, in `value`) and "ReadVariableOp" (a captured variable,
// in `variable`) have no inputs; "AssignVariableOp" (an assignment to `variable` of its
// one input) has no outputs. The Functional API records whole layer calls as nodes
// of op kLayerCallOp whose `layer` is the layer called (an InputLayer's placeholder
// carries its layer too).
struct GraphNode {
  std::string op;
  std::string name;  // name scopes + op ("dense/MatMul"); not unique (exporters make it so)
  Attrs attrs;
  std::vector<Tensor> inputs;
  std::vector<TensorMeta> outputs;
  Tensor value;
  Variable variable;
  std::shared_ptr<Layer> layer;
  std::vector<bool> output_has_mask;  // layer calls: which outputs carry a mask
};

inline constexpr const char* kLayerCallOp = "strata.LayerCall";

struct TensorSpec {
  TensorSpec(Shape shape_in = Shape::unknown_rank(), DType dtype_in = DType::kFloat32, std::string name_in = {})
      : shape(std::move(shape_in)), dtype(dtype_in), name(std::move(name_in)) {}
  Shape shape;
  DType dtype;
  std::string name;
};

// A new placeholder (Functional Input, trace argument).
Tensor placeholder(const TensorSpec& spec);

// Prefixes the names of nodes recorded on this thread while it lives ("dense/MatMul").
class NameScope {
 public:
  explicit NameScope(std::string name);
  ~NameScope();
  NameScope(const NameScope&) = delete;
  NameScope& operator=(const NameScope&) = delete;
};

class Graph {
 public:
  Graph() = default;
  // The graph computing `outputs` (symbolic) from `inputs` (placeholders), and performing
  // `side_effects` (AssignVariableOp nodes recorded by a trace) each time it runs. Throws
  // ValueError when an output depends on a placeholder not listed in `inputs`.
  Graph(std::vector<Tensor> inputs, std::vector<Tensor> outputs, std::string name = "graph",
        std::vector<std::shared_ptr<GraphNode>> side_effects = {});

  const std::string& name() const noexcept { return name_; }
  const std::vector<Tensor>& inputs() const noexcept { return inputs_; }
  const std::vector<Tensor>& outputs() const noexcept { return outputs_; }
  // Every node, inputs before the nodes that use them.
  const std::vector<std::shared_ptr<GraphNode>>& nodes() const noexcept { return nodes_; }
  // The assignments the graph performs (nodes of op "AssignVariableOp", input: the value).
  const std::vector<std::shared_ptr<GraphNode>>& side_effects() const noexcept { return side_effects_; }
  // The variables the graph reads or assigns, in the order it first uses them.
  std::vector<Variable> captured_variables() const;

  // Runs the graph on `inputs` (concrete tensors matching the placeholders' dtypes and
  // compatible shapes; ValueError/ShapeError naming the input otherwise). Ops run on the
  // inputs' device. Thread safety: run may be called from many threads at once.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;

  // One line per node, for debugging and tests.
  std::string to_string() const;

 private:
  std::string name_;
  std::vector<Tensor> inputs_;
  std::vector<Tensor> outputs_;
  std::vector<std::shared_ptr<GraphNode>> nodes_;
  std::vector<std::shared_ptr<GraphNode>> side_effects_;
  void index_slots();
  std::vector<std::vector<std::pair<int, int>>> input_slots_;  // per node: (node index, output)
  std::vector<std::pair<int, int>> output_slots_;
  std::vector<int> input_nodes_;  // per graph input: its node's index (-1: unused)
  std::vector<const OpDef*> op_defs_;  // per node, when registered at construction
  enum class NodeKind : std::uint8_t { kOp, kPlaceholder, kConst, kRead, kAssign, kLayerCall };
  std::vector<NodeKind> kinds_;
};

// Records every op on this thread into graph nodes while it lives, even ops whose inputs
// are all concrete (they are captured as Const nodes).
class TraceScope {
 public:
  TraceScope();
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;
};
// True while a TraceScope is active on this thread.
bool is_tracing() noexcept;

// Runs `fn` once on placeholders made from `specs` under a TraceScope and returns the
// resulting graph.
Graph trace(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
            const std::vector<TensorSpec>& specs, std::string name = "traced");

// ---- graph optimisation passes ---------------------------------------------------------------

// What a NodeRewrite sees besides the node: the rewritten value of any tensor of the
// original graph computed before the node, and how many times a node's outputs are used
// (by other nodes, graph outputs and side effects).
struct RewriteContext {
  std::function<Tensor(const Tensor&)> value_of;
  std::function<std::size_t(const GraphNode&)> uses;
};
// Returns the node's outputs computed another way (with any ops, on ctx.value_of of the
// original inputs), or nullopt to keep the node.
using NodeRewrite = std::function<std::optional<std::vector<Tensor>>(const GraphNode& node, const RewriteContext& ctx)>;
// Re-traces `graph` node by node, letting `rewrite` replace nodes; nodes nothing uses any
// more are dropped. The result computes the same outputs and performs the same assignments
// when every replacement is equivalent.
Graph rewrite_graph(const Graph& graph, const NodeRewrite& rewrite);

// A pass rewrites a graph into an equivalent one for one device type (a fusion, a
// folding). Backends register theirs when they load: the oneDNN backend fuses MatMul +
// BiasAdd + activation into one primitive. Inference-only passes may produce ops without
// gradients.
struct GraphPass {
  std::string name;
  std::string device_type;  // "cpu", "cuda"
  bool inference_only = true;
  std::function<Graph(const Graph&)> run;
};
void register_graph_pass(GraphPass pass);
// The names of the passes registered for `device_type`, in the order they run.
std::vector<std::string> graph_passes(std::string_view device_type);
// Applies the passes of `device`'s type in registration order (inference_only ones only
// when `for_inference`).
// Returns `graph` unchanged while graph passes are off (graph_passes_enabled()).
Graph optimize_graph(const Graph& graph, const Device& device, bool for_inference = true);
// Graph passes on or off for the whole process, e.g. to debug numerics: with passes off,
// graphs optimised afterwards (a SavedModel loaded, a signature revived) run their traced
// ops unfused. The default is on unless the environment variable STRATA_GRAPH_PASSES is
// "0"; set_graph_passes_enabled overrides the environment. ABI 2.5.
void set_graph_passes_enabled(bool enabled) noexcept;
bool graph_passes_enabled() noexcept;

}  // namespace strata

STRATA_API_END
