// Traced functions in a SavedModel (docs FORMATS.md §5): a Strata Graph written as a
// TensorFlow FunctionDef (op names and attrs are already TensorFlow's, DESIGN.md §3), and a
// FunctionDef of the library turned back into a Graph that runs on Strata's ops.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/graph.hpp"
#include "strata/tf/graph.pb.h"

namespace strata::savedmodel {

// Adds `graph` to `library` as FunctionDef `name`. Its arguments are the graph's inputs
// ("input_<i>", with their shapes in arg_attr `_output_shapes`) followed by one DT_RESOURCE
// argument per captured variable, in the order of `graph.captured_variables()` (TensorFlow's
// convention for captures: the SavedConcreteFunction's bound_inputs list them in that order).
// Outputs are "output_<i>". Throws ValueError when a node cannot be written (a whole-layer
// call node, a string constant too large).
void add_function(const Graph& graph, const std::string& name, tf::FunctionDefLibrary& library);

// What a function's arguments are bound to when it is imported.
struct ImportedArguments {
  std::vector<Variable> captured;  // the DT_RESOURCE arguments, in order
  // Captured constants (TensorFlow's TrackableConstant bound inputs, e.g. a tensor a
  // TFOpLambda layer was called with), bound in order to the function's last non-resource
  // arguments; the captures (variables and constants) are its trailing arguments.
  std::vector<Tensor> constants;
  // When not empty, the shapes of the function's placeholders instead of the declared ones
  // (a loop whose trip count is an input's length, unknown in the declaration, unrolls for
  // the length of one call's input).
  std::vector<Shape> input_shapes;
};

// A SavedModel graph's library functions and nodes by name (the first of a name wins),
// indexed once per load: a model revived with many layers imports a function, and reads
// its captured constants, per layer, and looking each up by a scan made that quadratic.
// Holds pointers into `graph`, which must outlive it.
struct GraphIndex {
  explicit GraphIndex(const tf::GraphDef& graph);
  std::unordered_map<std::string_view, const tf::FunctionDef*> functions;
  std::unordered_map<std::string_view, const tf::NodeDef*> nodes;
};

// The value of Const node `node` of `graph` (a TrackableConstant's operation). FormatError
// naming `what` when there is no such Const node.
Tensor graph_constant(const GraphIndex& graph, const std::string& node, std::string_view what);
Tensor graph_constant(const tf::GraphDef& graph, const std::string& node, std::string_view what);

// Builds the Graph of FunctionDef `name` of `library`: placeholders for its non-resource
// arguments, the captured variables bound to its resource arguments, every node executed
// symbolically through Strata's op registry (PartitionedCall / StatefulPartitionedCall of
// library functions are inlined). FormatError naming `what`, the function and the node for:
// a missing function, unknown ops (with the op name), inputs naming missing nodes or outputs,
// cycles, recursion, attrs of the wrong type, argument counts that do not match.
// Work linear in the size of the functions run (the library is not scanned).
Graph import_function(const GraphIndex& graph, const std::string& name, const ImportedArguments& args,
                      std::string_view what);

// A TensorShapeProto as a Shape (unknown rank, -1 dimensions unknown); FormatError naming
// `what` for a rank above 64 or a dimension below -1.
Shape shape_from_proto(const tf::TensorShapeProto& p, std::string_view what);

// The input shapes a function declares (arg_attr `_output_shapes`), unknown rank where absent.
std::vector<TensorSpec> function_input_specs(const tf::FunctionDef& function);
const tf::FunctionDef* find_function(const tf::FunctionDefLibrary& library, std::string_view name);

}  // namespace strata::savedmodel
