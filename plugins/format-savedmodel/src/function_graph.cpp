#include "function_graph.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "strata/error.hpp"
#include "strata/layer.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/op_def.hpp"

namespace strata::savedmodel {
namespace {

// Bounds on what an imported function may ask for (a SavedModel is untrusted input).
constexpr int kMaxCallDepth = 32;
constexpr std::size_t kMaxNodes = std::size_t{1} << 20;
constexpr std::int64_t kMaxConstElements = std::int64_t{1} << 24;  // all constants of one import
constexpr std::int64_t kMaxIterations = std::int64_t{1} << 16;     // of one unrolled loop, elements of one list

// TensorFlow's output argument names, needed in FunctionDef input references
// ("node:arg:index"). Ops with one output argument list it here (default "output"); ops
// with several name them all, in order.
const std::map<std::string, std::vector<std::string>, std::less<>>& output_args() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> table = [] {
    std::map<std::string, std::vector<std::string>, std::less<>> t;
    const auto one = [&t](const char* arg, std::initializer_list<const char*> ops) {
      for (const char* op : ops) t[op] = {arg};
    };
    one("product", {"MatMul"});
    one("sum", {"AddN"});
    one("out", {"Cumprod", "Cumsum"});
    one("z", {"AddV2", "Add", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Pow", "SquaredDifference", "Equal",
              "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalOr", "RsqrtGrad",
              "SigmoidGrad", "SqrtGrad", "TanhGrad", "Atan2"});
    one("activations", {"Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Softplus", "Softsign"});
    one("backprops", {"ReluGrad", "Relu6Grad", "EluGrad", "SeluGrad", "SoftplusGrad", "SoftsignGrad"});
    one("softmax", {"Softmax"});
    one("logsoftmax", {"LogSoftmax"});
    one("y", {"Sigmoid", "Tanh", "Exp", "Log", "Log1p", "Neg", "Abs", "Sqrt", "Rsqrt", "Square", "Cast", "Transpose",
              "Erf", "Erfc", "Floor", "Reciprocal", "Sign", "LogicalNot", "OnesLike", "ZerosLike", "Sin", "Cos", "Tan",
              "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh"});
    one("value", {"ReadVariableOp"});
    one("resized_images", {"ResizeBilinear", "ResizeNearestNeighbor"});
    t["FusedBatchNorm"] = {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"};
    t["FusedBatchNormV3"] = {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"};
    t["Unique"] = {"y", "idx"};
    one("handle", {"TensorListReserve"});
    one("output_handle", {"TensorListFromTensor", "TensorListSetItem"});
    one("item", {"TensorListGetItem"});
    one("tensor", {"TensorListStack"});
    one("length", {"TensorListLength"});
    one("element_shape", {"TensorListElementShape"});
    t["TopKV2"] = {"values", "indices"};
    t["SparseCross"] = {"output_indices", "output_values", "output_shape"};  // the layers plugin's HashedCrossing
    return t;
  }();
  return table;
}

// "arg:index" naming output `index` of an `op` node.
std::string output_ref(const std::string& op, int index) {
  const auto it = output_args().find(op);
  if (it == output_args().end()) return "output:" + std::to_string(index);
  if (it->second.size() == 1) return it->second[0] + ":" + std::to_string(index);
  if (index < static_cast<int>(it->second.size())) return it->second[static_cast<std::size_t>(index)] + ":0";
  return "output:" + std::to_string(index);
}

// The output index "arg:index" refers to on an `op` node; -1 when `arg` is not one of its
// output arguments.
int output_index(const std::string& op, std::string_view arg, int index) {
  const auto it = output_args().find(op);
  if (it == output_args().end() || it->second.size() == 1) return index;
  for (std::size_t k = 0; k < it->second.size(); ++k) {
    if (it->second[k] == arg) return static_cast<int>(k) + index;
  }
  return -1;
}

void shape_to_proto(const Shape& shape, tf::TensorShapeProto& out) {
  if (!shape.has_known_rank()) {
    out.set_unknown_rank(true);
    return;
  }
  for (const std::int64_t d : shape.dims()) out.add_dim()->set_size(d < 0 ? -1 : d);
}

}  // namespace

Shape shape_from_proto(const tf::TensorShapeProto& p, std::string_view what) {
  if (p.unknown_rank()) return Shape::unknown_rank();
  STRATA_CHECK(p.dim_size() <= 64, FormatError, what, ": a shape of rank ", p.dim_size(), " (at most 64)");
  std::vector<std::int64_t> dims;
  for (const auto& d : p.dim()) {
    STRATA_CHECK(d.size() >= -1, FormatError, what, ": a shape with dimension ", d.size());
    dims.push_back(d.size() < 0 ? Shape::kUnknown : d.size());
  }
  return Shape(std::move(dims));
}

namespace {

void tensor_to_proto(const Tensor& value, tf::TensorProto& out) {
  out.set_dtype(static_cast<tf::DataType>(dtype_to_tf(value.dtype())));
  shape_to_proto(value.shape(), *out.mutable_tensor_shape());
  if (value.dtype() == DType::kString) {
    for (const auto& s : value.strings()) out.add_string_val(s);
    return;
  }
  std::string bytes(value.nbytes(), '\0');
  if (!bytes.empty()) value.copy_to_host(bytes.data(), bytes.size());
  out.set_tensor_content(std::move(bytes));
}

// TensorProto → Tensor: tensor_content, or the typed value fields where TensorFlow repeats
// the last value to fill the shape (and zeros when there is none).
Tensor tensor_from_proto(const tf::TensorProto& p, std::string_view what, std::int64_t& budget) {
  const DType dtype = dtype_from_tf(static_cast<int>(p.dtype()));
  const Shape shape = shape_from_proto(p.tensor_shape(), what);
  STRATA_CHECK(shape.has_known_rank(), FormatError, what, ": a constant of unknown rank");
  std::int64_t n = 1;
  for (const std::int64_t d : shape.dims()) {
    STRATA_CHECK(d >= 0 && (d == 0 || n <= kMaxConstElements / d), FormatError, what, ": a constant of shape ",
                 shape.to_string(), " (more than ", kMaxConstElements, " elements, or unknown dimensions)");
    n *= d;
  }
  STRATA_CHECK(n <= budget, FormatError, what, ": the constants of this function have more than ", kMaxConstElements,
               " elements together");
  budget -= n;
  const auto count = static_cast<std::size_t>(n);
  if (dtype == DType::kString) {
    std::vector<std::string> values(count);
    STRATA_CHECK(static_cast<std::size_t>(p.string_val_size()) <= count, FormatError, what, ": ",
                 p.string_val_size(), " strings for a constant of ", count, " elements");
    for (std::size_t i = 0; i < count; ++i) {
      if (p.string_val_size() > 0) values[i] = p.string_val(std::min<int>(static_cast<int>(i), p.string_val_size() - 1));
    }
    return Tensor::from_strings(values, shape);
  }
  const std::size_t width = dtype_size(dtype);
  if (!p.tensor_content().empty()) {
    STRATA_CHECK(p.tensor_content().size() == count * width, FormatError, what, ": the constant's content has ",
                 p.tensor_content().size(), " bytes, its shape ", shape.to_string(), " and dtype ", dtype_name(dtype),
                 " need ", count * width);
    return Tensor::from_host(dtype, shape, p.tensor_content().data(), p.tensor_content().size());
  }
  std::string bytes(count * width, '\0');
  const auto fill = [&](const auto& field, auto convert) {
    STRATA_CHECK(static_cast<std::size_t>(field.size()) <= count, FormatError, what, ": ", field.size(),
                 " values for a constant of ", count, " elements");
    for (std::size_t i = 0; i < count && field.size() > 0; ++i) {
      const auto v = convert(field.Get(std::min<int>(static_cast<int>(i), field.size() - 1)));
      std::memcpy(bytes.data() + i * width, &v, width);
    }
  };
  switch (dtype) {
    case DType::kFloat32: fill(p.float_val(), [](float v) { return v; }); break;
    case DType::kFloat64: fill(p.double_val(), [](double v) { return v; }); break;
    case DType::kInt32: fill(p.int_val(), [](std::int32_t v) { return v; }); break;
    case DType::kInt64: fill(p.int64_val(), [](std::int64_t v) { return v; }); break;
    case DType::kInt8: fill(p.int_val(), [](std::int32_t v) { return static_cast<std::int8_t>(v); }); break;
    case DType::kUInt8: fill(p.int_val(), [](std::int32_t v) { return static_cast<std::uint8_t>(v); }); break;
    case DType::kBool: fill(p.bool_val(), [](bool v) { return static_cast<std::uint8_t>(v); }); break;
    case DType::kFloat16:
    case DType::kBFloat16: fill(p.half_val(), [](std::int32_t v) { return static_cast<std::uint16_t>(v); }); break;
    default: STRATA_THROW(FormatError, what, ": constants of dtype ", dtype_name(dtype), " are not supported");
  }
  return Tensor::from_host(dtype, shape, bytes.data(), bytes.size());
}

void attr_to_proto(const AttrValue& value, tf::AttrValue& out) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) out.set_b(v);
        else if constexpr (std::is_same_v<T, std::int64_t>) out.set_i(v);
        else if constexpr (std::is_same_v<T, double>) out.set_f(static_cast<float>(v));
        else if constexpr (std::is_same_v<T, std::string>) out.set_s(v);
        else if constexpr (std::is_same_v<T, DType>) out.set_type(static_cast<tf::DataType>(dtype_to_tf(v)));
        else if constexpr (std::is_same_v<T, Shape>) shape_to_proto(v, *out.mutable_shape());
        else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
          auto* list = out.mutable_list();
          for (const auto i : v) list->add_i(i);
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          auto* list = out.mutable_list();
          for (const auto f : v) list->add_f(static_cast<float>(f));
        } else {
          auto* list = out.mutable_list();
          for (const auto& s : v) list->add_s(s);
        }
      },
      value);
}

// nullopt for attr kinds Strata's ops never take (functions, tensors, lists of types or
// shapes); the op then reports the attribute as missing if it needs it.
std::optional<AttrValue> attr_from_proto(const tf::AttrValue& p, std::string_view what) {
  switch (p.value_case()) {
    case tf::AttrValue::kB: return AttrValue(p.b());
    case tf::AttrValue::kI: return AttrValue(static_cast<std::int64_t>(p.i()));
    case tf::AttrValue::kF: return AttrValue(static_cast<double>(p.f()));
    case tf::AttrValue::kS: return AttrValue(p.s());
    case tf::AttrValue::kType: return AttrValue(dtype_from_tf(static_cast<int>(p.type())));
    case tf::AttrValue::kShape: return AttrValue(shape_from_proto(p.shape(), what));
    case tf::AttrValue::kList: {
      const auto& l = p.list();
      if (l.f_size() > 0) return AttrValue(std::vector<double>(l.f().begin(), l.f().end()));
      if (l.s_size() > 0) return AttrValue(std::vector<std::string>(l.s().begin(), l.s().end()));
      if (l.type_size() > 0 || l.shape_size() > 0 || l.func_size() > 0 || l.tensor_size() > 0 || l.b_size() > 0) {
        return std::nullopt;
      }
      return AttrValue(std::vector<std::int64_t>(l.i().begin(), l.i().end()));
    }
    case tf::AttrValue::kPlaceholder:
      STRATA_THROW(FormatError, what, ": an attr refers to function attr placeholder '", p.placeholder(),
                   "', which only polymorphic library functions use");
    default: return std::nullopt;
  }
}

// The type attrs TensorFlow's op definitions require and Strata's ops infer from their
// inputs: T (the first input's dtype) for every op that has inputs, and the index / shape
// type attrs of the ops that take them. Strata ignores them when it reads a graph back.
void add_type_attrs(const GraphNode& node, tf::NodeDef& nd) {
  auto& attrs = *nd.mutable_attr();
  const auto set_type = [&](const char* name, std::size_t input) {
    if (input < node.inputs.size() && !attrs.count(name)) {
      attrs[name].set_type(static_cast<tf::DataType>(dtype_to_tf(node.inputs[input].dtype())));
    }
  };
  const std::string& op = node.op;
  if (op == "Cast") {
    set_type("SrcT", 0);
    return;
  }
  if (op == "Shape") {
    set_type("T", 0);
    if (!attrs.count("out_type") && !node.outputs.empty()) {
      attrs["out_type"].set_type(static_cast<tf::DataType>(dtype_to_tf(node.outputs[0].dtype)));
    }
    return;
  }
  if (op == "SparseCross") {  // the layers plugin's HashedCrossing: dense inputs only
    auto& types = *attrs["dense_types"].mutable_list();
    types.clear_type();
    for (const auto& in : node.inputs) types.add_type(static_cast<tf::DataType>(dtype_to_tf(in.dtype())));
    return;
  }
  // Ops without a T attr, and those whose T is not the first input's dtype.
  if (op == "LogicalAnd" || op == "LogicalOr" || op == "LogicalNot") return;
  static const std::map<std::string, std::size_t, std::less<>> t_input = {
      {"SelectV2", 1}, {"Fill", 1}, {"Split", 1}, {"OneHot", 2}, {"Conv2DBackpropInput", 1},
      {"DepthwiseConv2dNativeBackpropInput", 1}, {"AvgPoolGrad", 1}, {"StridedSliceGrad", 4}};
  const auto t = t_input.find(op);
  set_type("T", t == t_input.end() ? 0 : t->second);
  if (op == "Reshape") set_type("Tshape", 1);
  if (op == "Mean" || op == "Sum" || op == "Max" || op == "Min" || op == "Prod" || op == "ArgMax" || op == "ArgMin" ||
      op == "ExpandDims" || op == "Cumsum" || op == "Cumprod" || op == "BroadcastTo") {
    set_type(op == "ExpandDims" ? "Tdim" : "Tidx", 1);
  }
  if (op == "ArgMax" && !attrs.count("output_type") && !node.outputs.empty()) {
    attrs["output_type"].set_type(static_cast<tf::DataType>(dtype_to_tf(node.outputs[0].dtype)));
  }
  if (op == "Transpose") set_type("Tperm", 1);
  if (op == "Tile") set_type("Tmultiples", 1);
  if (op == "Pad" || op == "PadV2" || op == "MirrorPad") set_type("Tpaddings", 1);
  if (op == "StridedSlice" || op == "Slice") set_type("Index", 1);
  if (op == "StridedSliceGrad") set_type("Index", 0);
  if (op == "Fill") set_type("index_type", 0);
  if (op == "OneHot") set_type("TI", 0);
  if (op == "UnsortedSegmentSum") {
    set_type("Tindices", 1);
    set_type("Tnumsegments", 2);
  }
  if (op == "GatherV2") {
    set_type("Tparams", 0);
    set_type("Tindices", 1);
    set_type("Taxis", 2);
    attrs.erase("T");
  }
  if (op == "ConcatV2") {
    set_type("Tidx", node.inputs.size() - 1);
    if (!attrs.count("N")) attrs["N"].set_i(static_cast<std::int64_t>(node.inputs.size()) - 1);
  }
  if ((op == "AddN" || op == "Pack") && !attrs.count("N")) attrs["N"].set_i(static_cast<std::int64_t>(node.inputs.size()));
}

// Inputs TensorFlow's op definitions fix to int32 (shapes and sizes of gradient ops,
// split_dim, depth).
bool requires_int32(std::string_view op, std::size_t input) {
  static const std::map<std::string, std::size_t, std::less<>> fixed = {
      {"AvgPoolGrad", 0}, {"Conv2DBackpropFilter", 1}, {"Conv2DBackpropInput", 0},
      {"DepthwiseConv2dNativeBackpropFilter", 1}, {"DepthwiseConv2dNativeBackpropInput", 0}, {"OneHot", 1}, {"Split", 0},
      {"ResizeBilinear", 1}, {"ResizeNearestNeighbor", 1}};
  const auto it = fixed.find(op);
  return it != fixed.end() && it->second == input;
}

std::string sanitize(std::string_view name) {
  std::string out;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '/' || c == '-';
    out += ok ? c : '_';
  }
  if (out.empty() || out[0] == '_' || out[0] == '/' || out[0] == '-') out.insert(out.begin(), 'n');
  return out;
}

// ---- import -----------------------------------------------------------------------------------

// A value flowing through an imported function: a tensor (symbolic or constant) or a
// variable handle (DT_RESOURCE).
// Integer values known while importing (constants, static dimensions read through Shape,
// and arithmetic on them): what a loop's trip count and a tensor list's indices are made
// of. An element is nullopt where the value is known only at run time (an unknown batch
// dimension). Every node is still traced; these only decide how a loop unrolls.
struct KnownInts {
  std::vector<std::optional<std::int64_t>> values;
  bool scalar = false;
  bool all_known() const {
    return std::all_of(values.begin(), values.end(), [](const auto& v) { return v.has_value(); });
  }
};

// A TensorFlow TensorList (DT_VARIANT), held while importing as the list of its (traced)
// elements: lists only appear in the loops of recurrent layers, which are unrolled.
struct TensorListValue {
  std::vector<Tensor> items;  // undefined where nothing was set yet
};

struct Value {
  Tensor tensor;
  Variable variable;
  bool resource = false;
  std::shared_ptr<const KnownInts> known = {};
  std::shared_ptr<const TensorListValue> list = {};
};

class Importer {
 public:
  Importer(const GraphIndex& graph, std::string_view what) : what_(what), functions_(graph.functions) {}

  const tf::FunctionDef& function(const std::string& name) const {
    const auto it = functions_.find(std::string_view(name));
    STRATA_CHECK(it != functions_.end(), FormatError, what_, ": the function library has no function '", name, "'");
    return *it->second;
  }

  // Runs the body of `f` on `args` (one per input_arg) and returns its outputs.
  std::vector<Value> call(const tf::FunctionDef& f, const std::vector<Value>& args) {
    const std::string& fname = f.signature().name();
    STRATA_CHECK(static_cast<int>(stack_.size()) < kMaxCallDepth, FormatError, what_, ": function calls nest deeper than ",
                 kMaxCallDepth, " (at '", fname, "')");
    STRATA_CHECK(std::find(stack_.begin(), stack_.end(), fname) == stack_.end(), FormatError, what_, ": function '",
                 fname, "' calls itself (recursion)");
    STRATA_CHECK(static_cast<int>(args.size()) == f.signature().input_arg_size(), FormatError, what_, ": function '",
                 fname, "' takes ", f.signature().input_arg_size(), " arguments, it is called with ", args.size());
    stack_.push_back(fname);
    Frame frame{f, {}, {}, {}};
    for (int i = 0; i < f.signature().input_arg_size(); ++i) {
      frame.args.emplace(f.signature().input_arg(i).name(), args[static_cast<std::size_t>(i)]);
    }
    std::unordered_map<std::string, const tf::NodeDef*>& by_name = frame.by_name;
    by_name.reserve(static_cast<std::size_t>(f.node_def_size()));
    for (const auto& n : f.node_def()) {
      STRATA_CHECK(by_name.emplace(n.name(), &n).second, FormatError, where(fname, n.name()), ": two nodes have this name");
    }
    // Depth-first over the inputs, iteratively (deep graphs), with cycle detection.
    std::unordered_map<std::string, int> state;  // 1: on the stack, 2: done
    const auto visit = [&](const tf::NodeDef& root) {
      std::vector<std::pair<const tf::NodeDef*, int>> todo{{&root, 0}};
      state[root.name()] = 1;
      while (!todo.empty()) {
        auto& [node, next] = todo.back();
        if (next < node->input_size()) {
          const std::string dep = dependency(node->input(next++), frame);
          if (dep.empty()) continue;
          const auto it = by_name.find(dep);
          STRATA_CHECK(it != by_name.end(), FormatError, where(fname, node->name()), ": input '",
                       node->input(next - 1), "' names no node or argument of the function");
          const int s = state[dep];
          STRATA_CHECK(s != 1, FormatError, where(fname, node->name()), ": the graph has a cycle through node '", dep,
                       "'");
          if (s == 0) {
            state[dep] = 1;
            todo.emplace_back(it->second, 0);
          }
          continue;
        }
        run_node(*node, frame);
        state[node->name()] = 2;
        todo.pop_back();
      }
    };
    for (int o = 0; o < f.signature().output_arg_size(); ++o) {
      const std::string& out_name = f.signature().output_arg(o).name();
      const auto r = f.ret().find(out_name);
      STRATA_CHECK(r != f.ret().end(), FormatError, what_, ": function '", fname, "' does not say what its output '",
                   out_name, "' is (no ret entry)");
      const std::string dep = dependency(r->second, frame);
      if (dep.empty() || state[dep] != 0) continue;
      const auto it = by_name.find(dep);
      STRATA_CHECK(it != by_name.end(), FormatError, what_, ": function '", fname, "' returns '", r->second,
                   "', which names no node");
      visit(*it->second);
    }
    // Nodes kept for their effects (assignments), in name order for a stable graph.
    std::map<std::string, std::string> control(f.control_ret().begin(), f.control_ret().end());
    for (const auto& [key, node_name] : control) {
      const auto it = by_name.find(node_name);
      STRATA_CHECK(it != by_name.end(), FormatError, what_, ": function '", fname, "' control output '", key,
                   "' names no node");
      if (state[node_name] == 0) visit(*it->second);
    }
    std::vector<Value> outs;
    for (int o = 0; o < f.signature().output_arg_size(); ++o) {
      outs.push_back(resolve(f.ret().at(f.signature().output_arg(o).name()), frame, fname, "(return)"));
    }
    stack_.pop_back();
    return outs;
  }

 private:
  struct Frame {
    const tf::FunctionDef& f;
    std::unordered_map<std::string, Value> args;
    std::unordered_map<std::string, std::vector<Value>> nodes;
    std::unordered_map<std::string, const tf::NodeDef*> by_name;  // the function's nodes, indexed once
  };

  std::string where(const std::string& fname, const std::string& node) const {
    return detail::concat(what_, ": function '", fname, "' node '", node, "'");
  }

  // The node an input reference depends on ("" for a function argument).
  static std::string dependency(const std::string& ref, const Frame& frame) {
    std::string_view r = ref;
    if (!r.empty() && r[0] == '^') r.remove_prefix(1);
    const auto colon = r.find(':');
    const std::string head(r.substr(0, colon));
    if (colon == std::string_view::npos && frame.args.count(head)) return "";
    return head;
  }

  Value resolve(const std::string& ref, const Frame& frame, const std::string& fname, const std::string& node) const {
    const auto colon = ref.find(':');
    const std::string head = ref.substr(0, colon);
    if (colon == std::string::npos) {
      if (const auto a = frame.args.find(head); a != frame.args.end()) return a->second;
    }
    const auto n = frame.nodes.find(head);
    STRATA_CHECK(n != frame.nodes.end(), FormatError, where(fname, node), ": input '", ref, "' is not computed");
    int index = 0;
    if (colon != std::string::npos) {
      const std::string rest = ref.substr(colon + 1);
      const auto second = rest.find(':');
      const std::string arg = second == std::string::npos ? std::string() : rest.substr(0, second);
      const std::string idx = second == std::string::npos ? rest : rest.substr(second + 1);
      STRATA_CHECK(!idx.empty() && idx.size() < 8 && std::all_of(idx.begin(), idx.end(), [](char c) { return c >= '0' && c <= '9'; }),
                   FormatError, where(fname, node), ": input '", ref, "' is not 'node:output:index'");
      index = std::stoi(idx);
      const auto* producer = producer_op(frame, head);
      if (!arg.empty() && producer != nullptr) index = output_index(*producer, arg, index);
    }
    STRATA_CHECK(index >= 0 && index < static_cast<int>(n->second.size()), FormatError, where(fname, node), ": input '",
                 ref, "' names an output the node does not have (it has ", n->second.size(), ")");
    return n->second[static_cast<std::size_t>(index)];
  }

  static const std::string* producer_op(const Frame& frame, const std::string& name) {
    const auto it = frame.by_name.find(name);
    return it == frame.by_name.end() ? nullptr : &it->second->op();
  }

  void run_node(const tf::NodeDef& node, Frame& frame) {
    const std::string& fname = frame.f.signature().name();
    STRATA_CHECK(++nodes_run_ <= kMaxNodes, FormatError, what_, ": the functions run more than ", kMaxNodes, " nodes");
    const std::string here = where(fname, node.name());
    std::vector<Value> inputs;
    for (const auto& ref : node.input()) {
      if (!ref.empty() && ref[0] == '^') continue;  // control dependency: order only
      inputs.push_back(resolve(ref, frame, fname, node.name()));
    }
    const std::string& op = node.op();
    std::vector<Value>& out = frame.nodes[node.name()];
    if (op == "NoOp") return;
    if (op == "StopGradient" && inputs.size() == 1 && !inputs[0].resource && !inputs[0].list && inputs[0].tensor.defined()) {
      // A gradient must not flow through it (tf.nn.moments's variance stops the mean's; a
      // pass-through added the mean's rounding-noise gradient to the revived model's).
      Value v = inputs[0];
      v.tensor = stop_gradient(v.tensor);
      out.push_back(std::move(v));
      return;
    }
    if (op == "Identity" || op == "IdentityN" || op == "StopGradient" || op == "Snapshot") {
      out = inputs;
      return;
    }
    if (op == "Const") {
      const auto it = node.attr().find("value");
      STRATA_CHECK(it != node.attr().end() && it->second.has_tensor(), FormatError, here, ": Const without a tensor 'value'");
      const Tensor value = tensor_from_proto(it->second.tensor(), here, const_budget_);
      out.push_back({value, {}, false, known_of(value)});
      return;
    }
    if (op == "ReadVariableOp") {
      STRATA_CHECK(inputs.size() == 1 && inputs[0].resource, FormatError, here, ": ReadVariableOp must read a variable handle");
      const auto it = node.attr().find("dtype");
      if (it != node.attr().end() && it->second.value_case() == tf::AttrValue::kType) {
        STRATA_CHECK(dtype_from_tf(static_cast<int>(it->second.type())) == inputs[0].variable.dtype(), FormatError, here,
                     ": reads ", dtype_name(dtype_from_tf(static_cast<int>(it->second.type()))), " from variable '",
                     inputs[0].variable.name(), "', which is ", dtype_name(inputs[0].variable.dtype()));
      }
      out.push_back({read(inputs[0].variable), {}, false});
      return;
    }
    if (op == "AssignVariableOp") {
      STRATA_CHECK(inputs.size() == 2 && inputs[0].resource && !inputs[1].resource, FormatError, here,
                   ": AssignVariableOp must assign a tensor to a variable handle");
      STRATA_CHECK(inputs[1].tensor.dtype() == inputs[0].variable.dtype(), FormatError, here, ": assigns ",
                   dtype_name(inputs[1].tensor.dtype()), " to variable '", inputs[0].variable.name(), "', which is ",
                   dtype_name(inputs[0].variable.dtype()));
      assign_variable(inputs[0].variable, inputs[1].tensor);
      return;
    }
    if (op == "AssignAddVariableOp" || op == "AssignSubVariableOp") {
      STRATA_CHECK(inputs.size() == 2 && inputs[0].resource && !inputs[1].resource, FormatError, here, ": ", op,
                   " must update a variable handle with a tensor");
      const Tensor current = read(inputs[0].variable);
      assign_variable(inputs[0].variable,
                      op == "AssignAddVariableOp" ? add(current, inputs[1].tensor) : sub(current, inputs[1].tensor));
      return;
    }
    if (op == "FusedBatchNormV3" || op == "FusedBatchNormV2" || op == "FusedBatchNorm") {
      out = fused_batch_norm(node, inputs, here);
      return;
    }
    if (op == "PartitionedCall" || op == "StatefulPartitionedCall") {
      out = call(function(func_attr(node, "f", here)), inputs);
      return;
    }
    if (op == "ResourceGather") {
      // Embedding's lookup on a variable handle: GatherV2 on the value read (the gradient
      // then flows to the variable through ReadVariableOp like any other read).
      STRATA_CHECK(inputs.size() == 2 && inputs[0].resource && !inputs[1].resource && !inputs[1].list, FormatError, here,
                   ": ResourceGather must gather from a variable handle with a tensor of indices");
      const auto it = node.attr().find("batch_dims");
      const std::int64_t batch_dims = it == node.attr().end() ? 0 : it->second.i();
      try {
        out.push_back({gather(read(inputs[0].variable), inputs[1].tensor, 0, batch_dims), {}, false});
      } catch (const FormatError&) {
        throw;
      } catch (const Error& e) {
        STRATA_THROW(FormatError, here, " (", op, "): ", e.message());
      }
      return;
    }
    if (op == "While" || op == "StatelessWhile") {
      out = run_while(node, std::move(inputs), here);
      return;
    }
    if (op == "If" || op == "StatelessIf") {
      out = run_if(node, inputs, here);
      return;
    }
    if (op.rfind("TensorList", 0) == 0) {
      out = tensor_list(node, inputs, here);
      return;
    }
    if (op == "Unpack") {
      // tf.unstack: a Split into `num` pieces along `axis`, each squeezed.
      STRATA_CHECK(inputs.size() == 1 && !inputs[0].resource && !inputs[0].list, FormatError, here,
                   ": Unpack takes one tensor");
      const auto num = node.attr().find("num");
      STRATA_CHECK(num != node.attr().end() && num->second.value_case() == tf::AttrValue::kI && num->second.i() > 0,
                   FormatError, here, ": Unpack without a positive 'num'");
      const auto ax = node.attr().find("axis");
      const std::int64_t axis = ax == node.attr().end() ? 0 : ax->second.i();
      try {
        for (auto& piece : split(inputs[0].tensor, num->second.i(), axis)) out.push_back({squeeze(piece, {axis}), {}, false});
      } catch (const FormatError&) {
        throw;
      } catch (const Error& e) {
        STRATA_THROW(FormatError, here, " (", op, "): ", e.message());
      }
      return;
    }
    if (op == "SplitV") {
      // tf.split with sizes (tf-keras's GRU cell with reset_after=false): slices along a
      // constant axis, the sizes constant, one of them -1 for the rest.
      STRATA_CHECK(inputs.size() == 3 && !inputs[0].resource && !inputs[0].list && inputs[1].known &&
                       inputs[1].known->all_known() && inputs[2].known && inputs[2].known->all_known() &&
                       inputs[2].known->values.size() == 1,
                   FormatError, here, ": SplitV takes a tensor, constant sizes and a constant axis");
      const Shape& shape = inputs[0].tensor.shape();
      STRATA_CHECK(shape.has_known_rank(), FormatError, here, ": SplitV of a tensor of unknown rank");
      const auto rank = static_cast<std::int64_t>(shape.rank());
      std::int64_t axis = *inputs[2].known->values[0];
      if (axis < 0) axis += rank;
      STRATA_CHECK(axis >= 0 && axis < rank && shape.dims()[static_cast<std::size_t>(axis)] != Shape::kUnknown,
                   FormatError, here, ": SplitV along axis ", *inputs[2].known->values[0], " of a tensor of shape ",
                   shape.to_string(), " (the axis must exist and its size be known)");
      const std::int64_t total = shape.dims()[static_cast<std::size_t>(axis)];
      std::vector<std::int64_t> sizes;
      std::int64_t known = 0, rest = -1;
      for (const auto& v : inputs[1].known->values) {
        STRATA_CHECK(*v >= -1, FormatError, here, ": SplitV size ", *v);
        if (*v == -1) {
          STRATA_CHECK(rest < 0, FormatError, here, ": SplitV with more than one size -1");
          rest = static_cast<std::int64_t>(sizes.size());
        } else {
          known += *v;
        }
        sizes.push_back(*v);
      }
      if (rest >= 0) sizes[static_cast<std::size_t>(rest)] = total - known;
      STRATA_CHECK((rest >= 0 ? total - known >= 0 : known == total), FormatError, here, ": SplitV sizes do not add up to ",
                   total);
      std::vector<std::int64_t> begin(static_cast<std::size_t>(rank), 0), size(static_cast<std::size_t>(rank), -1);
      try {
        for (const std::int64_t n : sizes) {
          size[static_cast<std::size_t>(axis)] = n;
          out.push_back({slice(inputs[0].tensor, begin, size), {}, false});
          begin[static_cast<std::size_t>(axis)] += n;
        }
      } catch (const Error& e) {
        STRATA_THROW(FormatError, here, " (SplitV): ", e.message());
      }
      return;
    }
    if (op == "All" || op == "Any") {
      // tf.reduce_all / reduce_any over booleans (tf-keras's mask merging in Concatenate and
      // the attention layers): Min / Max over the booleans as 0 and 1.
      STRATA_CHECK(inputs.size() == 2 && !inputs[0].resource && !inputs[0].list && inputs[0].tensor.dtype() == DType::kBool &&
                       inputs[1].known && inputs[1].known->all_known(),
                   FormatError, here, ": ", op, " takes a boolean tensor and constant axes");
      std::vector<std::int64_t> axes;
      for (const auto& a : inputs[1].known->values) axes.push_back(*a);
      const auto keep = node.attr().find("keep_dims");
      const bool keepdims = keep != node.attr().end() && keep->second.b();
      try {
        const Tensor as_int = cast(inputs[0].tensor, DType::kInt32);
        const Tensor reduced = op == "All" ? min(as_int, axes, keepdims) : max(as_int, axes, keepdims);
        out.push_back({cast(reduced, DType::kBool), {}, false});
      } catch (const Error& e) {
        STRATA_THROW(FormatError, here, " (", op, "): ", e.message());
      }
      return;
    }
    if (op == "ReverseV2") {
      // tf.reverse (tf-keras's recurrent layers with go_backwards): a strided slice with
      // stride -1 along each reversed axis, the whole extent on every axis.
      STRATA_CHECK(inputs.size() == 2 && !inputs[0].resource && !inputs[0].list && inputs[1].known &&
                       inputs[1].known->all_known(),
                   FormatError, here, ": ReverseV2 takes a tensor and constant axes");
      const Tensor& x = inputs[0].tensor;
      STRATA_CHECK(x.shape().has_known_rank(), FormatError, here, ": ReverseV2 of a tensor of unknown rank");
      const auto rank = static_cast<std::int64_t>(x.shape().rank());
      // One bit per axis in the strided slice's 64-bit masks.
      STRATA_CHECK(rank < 64, FormatError, here, ": ReverseV2 of a rank-", rank, " tensor (at most 63 is supported)");
      std::vector<std::int64_t> strides(static_cast<std::size_t>(rank), 1);
      for (const auto& a : inputs[1].known->values) {
        const std::int64_t axis = *a < 0 ? *a + rank : *a;
        STRATA_CHECK(axis >= 0 && axis < rank, FormatError, here, ": ReverseV2 axis ", *a, " of a rank-", rank, " tensor");
        strides[static_cast<std::size_t>(axis)] = -1;
      }
      StridedSliceMasks whole;
      whole.begin_mask = whole.end_mask = (std::int64_t{1} << rank) - 1;
      const std::vector<std::int64_t> zeros(static_cast<std::size_t>(rank), 0);
      try {
        out.push_back({strided_slice(x, zeros, zeros, strides, whole), {}, false});
      } catch (const Error& e) {
        STRATA_THROW(FormatError, here, " (", op, "): ", e.message());
      }
      return;
    }
    if (op == "Einsum") {
      // tf.einsum / EinsumDense / MultiHeadAttention: the runtime's einsum (the one the layers
      // use), which lowers the equation to Sum, Transpose, Reshape and a matmul.
      const auto eq = node.attr().find("equation");
      STRATA_CHECK(eq != node.attr().end() && eq->second.value_case() == tf::AttrValue::kS, FormatError, here,
                   ": Einsum without a string 'equation'");
      std::vector<Tensor> operands;
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        STRATA_CHECK(!inputs[i].resource && !inputs[i].list, FormatError, here, ": input ", i,
                     " of Einsum is a variable handle or tensor list");
        operands.push_back(inputs[i].tensor);
      }
      try {
        out.push_back({einsum(eq->second.s(), operands), {}, false});
      } catch (const FormatError&) {
        throw;
      } catch (const Error& e) {
        STRATA_THROW(FormatError, here, " (", op, "): ", e.message());
      }
      return;
    }
    if (op == "ResizeBilinear" && inputs.size() == 2 && !inputs[0].resource && !inputs[0].list &&
        inputs[0].tensor.dtype() != DType::kFloat32) {
      // TensorFlow reads any image dtype into float32 and returns float32; Strata's op takes
      // floating images and keeps their dtype, so the images are cast first (same values).
      inputs[0].tensor = cast(inputs[0].tensor, DType::kFloat32);
    }
    std::vector<Tensor> tensors;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      STRATA_CHECK(!inputs[i].resource, FormatError, here, ": input ", i, " of ", op,
                   " is a variable handle (only ReadVariableOp, Identity and function calls take handles)");
      STRATA_CHECK(!inputs[i].list, FormatError, here, ": input ", i, " of ", op,
                   " is a tensor list (only the TensorList ops, loops, Identity and function calls take lists)");
      tensors.push_back(inputs[i].tensor);
    }
    try {
      (void)op_def(op);
    } catch (const Error&) {
      STRATA_THROW(FormatError, here, ": op '", op, "' is not one Strata has (no op, kernel or plugin registers it)");
    }
    Attrs attrs;
    for (const auto& [key, value] : node.attr()) {
      if (key.empty() || key[0] == '_') continue;  // TensorFlow-internal annotations
      if (auto v = attr_from_proto(value, here)) attrs.set(key, std::move(*v));
    }
    if (op == "Reshape" && tensors.size() == 2 && inputs[1].known && !inputs[1].known->scalar) {
      // A target computed from the input's shape at run time (tf-keras's Reshape writes
      // [batch, 1, 1, c]): with exactly one entry unknown while importing and the others
      // positive, -1 there gives the same result and lets shape inference see the rest
      // (a Conv2D after it needs the rank and the channels).
      const auto& v = inputs[1].known->values;
      const auto unknown = std::count_if(v.begin(), v.end(), [](const auto& e) { return !e.has_value(); });
      const bool positive = std::all_of(v.begin(), v.end(), [](const auto& e) { return !e.has_value() || *e > 0; });
      if (unknown == 1 && positive) {
        std::vector<std::int64_t> dims;
        for (const auto& e : v) dims.push_back(e ? *e : -1);
        tensors[1] = cast(int_tensor(dims), tensors[1].dtype());
      }
    }
    if (op == "Conv2D" && tensors.size() == 2 && tensors[0].shape().has_known_rank() && tensors[0].shape().rank() == 4 &&
        tensors[1].shape().has_known_rank() && tensors[1].shape().rank() == 4) {
      // A grouped convolution (tf-keras's Conv2D with groups > 1, which TensorFlow runs as one
      // Conv2D whose filter has channels / groups input channels, e.g. RegNet): one Conv2D per
      // group of channels, concatenated.
      const std::int64_t channels = tensors[0].shape()[3], per_group = tensors[1].shape()[2];
      const auto format = node.attr().find("data_format");
      const bool nhwc = format == node.attr().end() || format->second.s() == "NHWC";
      if (nhwc && channels != Shape::kUnknown && per_group > 0 && channels != per_group && channels % per_group == 0) {
        const std::int64_t groups = channels / per_group;
        try {
          const auto xs = split(tensors[0], groups, 3);
          const auto ws = split(tensors[1], groups, 3);
          std::vector<Tensor> ys;
          for (std::int64_t g = 0; g < groups; ++g) {
            ys.push_back(execute1("Conv2D", {xs[static_cast<std::size_t>(g)], ws[static_cast<std::size_t>(g)]}, attrs));
          }
          out.push_back({concat(ys, 3), {}, false});
        } catch (const Error& e) {
          STRATA_THROW(FormatError, here, " (grouped ", op, "): ", e.message());
        }
        return;
      }
    }
    std::vector<Tensor> results;
    try {
      results = execute(op, std::move(tensors), attrs);
    } catch (const FormatError&) {
      throw;
    } catch (const Error& e) {
      STRATA_THROW(FormatError, here, " (", op, "): ", e.message());
    }
    for (auto& r : results) out.push_back({std::move(r), {}, false});
    if (out.size() == 1) out[0].known = fold(op, node, inputs, out[0].tensor);
  }

  std::string func_attr(const tf::NodeDef& node, const char* name, const std::string& here) const {
    const auto it = node.attr().find(name);
    STRATA_CHECK(it != node.attr().end() && it->second.has_func(), FormatError, here, ": ", node.op(), " without a function '",
                 name, "'");
    return it->second.func().name();
  }

  // The known values of a constant integer or bool tensor of rank 0 or 1.
  static std::shared_ptr<const KnownInts> known_of(const Tensor& t) {
    if (!t.defined() || t.is_symbolic() || !t.shape().has_known_rank() || t.shape().rank() > 1) return nullptr;
    if (t.shape().rank() == 1 && t.shape().dims()[0] > 64) return nullptr;
    auto k = std::make_shared<KnownInts>();
    k->scalar = t.shape().rank() == 0;
    switch (t.dtype()) {
      case DType::kInt32:
        for (const auto v : t.to_vector<std::int32_t>()) k->values.emplace_back(v);
        break;
      case DType::kInt64:
        for (const auto v : t.to_vector<std::int64_t>()) k->values.emplace_back(v);
        break;
      case DType::kBool: {
        std::vector<std::uint8_t> bytes(static_cast<std::size_t>(t.num_elements()));
        if (!bytes.empty()) t.copy_to_host(bytes.data(), bytes.size());
        for (const auto v : bytes) k->values.emplace_back(v != 0);
        break;
      }
      default: return nullptr;
    }
    return k;
  }

  // What is known of the one output of `op` (`result`) from what is known of its inputs:
  // static dimensions through Shape and StridedSlice, scalar integer arithmetic and
  // comparisons, Pack and integer Casts. Anything else: nothing.
  static std::shared_ptr<const KnownInts> fold(const std::string& op, const tf::NodeDef& node,
                                               const std::vector<Value>& in, const Tensor& result) {
    const auto int_attr = [&](const char* name) -> std::int64_t {
      const auto it = node.attr().find(name);
      return it == node.attr().end() ? 0 : it->second.i();
    };
    if (op == "Shape") {
      if (in.size() != 1 || !in[0].tensor.defined() || !in[0].tensor.shape().has_known_rank()) return nullptr;
      auto k = std::make_shared<KnownInts>();
      for (const auto d : in[0].tensor.shape().dims()) {
        k->values.push_back(d >= 0 ? std::optional<std::int64_t>(d) : std::nullopt);
      }
      return k;
    }
    for (const auto& v : in) {
      if (!v.known) return nullptr;
    }
    if (op == "Cast") {
      if (result.dtype() != DType::kInt32 && result.dtype() != DType::kInt64 && result.dtype() != DType::kBool) return nullptr;
      if (result.dtype() != DType::kBool) return in[0].known;
      auto k = std::make_shared<KnownInts>(*in[0].known);
      for (auto& v : k->values) {
        if (v) v = *v != 0;
      }
      return k;
    }
    if (op == "StridedSlice" && in.size() == 4 && !in[0].known->scalar) {
      if (int_attr("ellipsis_mask") != 0 || int_attr("new_axis_mask") != 0) return nullptr;
      for (std::size_t i = 1; i < 4; ++i) {
        if (in[i].known->values.size() != 1 || !in[i].known->all_known()) return nullptr;
      }
      const auto n = static_cast<std::int64_t>(in[0].known->values.size());
      std::int64_t begin = *in[1].known->values[0], end = *in[2].known->values[0];
      const std::int64_t stride = *in[3].known->values[0];
      if (stride <= 0) return nullptr;
      auto k = std::make_shared<KnownInts>();
      if ((int_attr("shrink_axis_mask") & 1) != 0) {
        if (begin < 0) begin += n;
        if (begin < 0 || begin >= n) return nullptr;
        k->scalar = true;
        k->values.push_back(in[0].known->values[static_cast<std::size_t>(begin)]);
        return k;
      }
      if ((int_attr("begin_mask") & 1) != 0) begin = 0;
      if ((int_attr("end_mask") & 1) != 0) end = n;
      if (begin < 0) begin += n;
      if (end < 0) end += n;
      begin = std::clamp<std::int64_t>(begin, 0, n);
      end = std::clamp<std::int64_t>(end, 0, n);
      for (std::int64_t i = begin; i < end; i += stride) k->values.push_back(in[0].known->values[static_cast<std::size_t>(i)]);
      return k;
    }
    if (op == "Pack") {
      auto k = std::make_shared<KnownInts>();
      for (const auto& v : in) {
        if (!v.known->scalar) return nullptr;
        k->values.push_back(v.known->values[0]);
      }
      return k;
    }
    if (op == "LogicalNot" && in.size() == 1) {
      auto k = std::make_shared<KnownInts>(*in[0].known);
      for (auto& v : k->values) {
        if (v) v = *v == 0;
      }
      return k;
    }
    using F = std::int64_t (*)(std::int64_t, std::int64_t);
    static const std::map<std::string, F, std::less<>> binary = {
        {"AddV2", [](std::int64_t a, std::int64_t b) { return a + b; }},
        {"Add", [](std::int64_t a, std::int64_t b) { return a + b; }},
        {"Sub", [](std::int64_t a, std::int64_t b) { return a - b; }},
        {"Mul", [](std::int64_t a, std::int64_t b) { return a * b; }},
        {"Maximum", [](std::int64_t a, std::int64_t b) { return std::max(a, b); }},
        {"Minimum", [](std::int64_t a, std::int64_t b) { return std::min(a, b); }},
        {"Less", [](std::int64_t a, std::int64_t b) -> std::int64_t { return a < b; }},
        {"LessEqual", [](std::int64_t a, std::int64_t b) -> std::int64_t { return a <= b; }},
        {"Greater", [](std::int64_t a, std::int64_t b) -> std::int64_t { return a > b; }},
        {"GreaterEqual", [](std::int64_t a, std::int64_t b) -> std::int64_t { return a >= b; }},
        {"Equal", [](std::int64_t a, std::int64_t b) -> std::int64_t { return a == b; }},
        {"NotEqual", [](std::int64_t a, std::int64_t b) -> std::int64_t { return a != b; }},
        {"LogicalAnd", [](std::int64_t a, std::int64_t b) -> std::int64_t { return a != 0 && b != 0; }},
        {"LogicalOr", [](std::int64_t a, std::int64_t b) -> std::int64_t { return a != 0 || b != 0; }},
    };
    const auto f = binary.find(op);
    if (f == binary.end() || in.size() != 2) return nullptr;
    const KnownInts &a = *in[0].known, &b = *in[1].known;
    if (a.values.size() != b.values.size() && a.values.size() != 1 && b.values.size() != 1) return nullptr;
    auto k = std::make_shared<KnownInts>();
    k->scalar = a.scalar && b.scalar;
    const std::size_t n = std::max(a.values.size(), b.values.size());
    for (std::size_t i = 0; i < n; ++i) {
      const auto& x = a.values[a.values.size() == 1 ? 0 : i];
      const auto& y = b.values[b.values.size() == 1 ? 0 : i];
      k->values.push_back(x && y ? std::optional<std::int64_t>(f->second(*x, *y)) : std::nullopt);
    }
    return k;
  }

  // A scalar known at import time, or nullopt.
  static std::optional<std::int64_t> known_scalar(const Value& v) {
    if (!v.known || v.known->values.size() != 1 || !v.known->values[0]) return std::nullopt;
    return v.known->values[0];
  }

  // While / StatelessWhile, unrolled: the condition function runs on the loop variables
  // and must give a value known at import time (a recurrent layer's loop counts to the
  // static length of its sequence); the body function is traced once per iteration.
  std::vector<Value> run_while(const tf::NodeDef& node, std::vector<Value> vars, const std::string& here) {
    const std::string cond_name = func_attr(node, "cond", here), body_name = func_attr(node, "body", here);
    const tf::FunctionDef& cond = function(cond_name);
    const tf::FunctionDef& body = function(body_name);
    for (std::int64_t iteration = 0;; ++iteration) {
      STRATA_CHECK(iteration < kMaxIterations, FormatError, here, ": ", node.op(), " loop runs more than ", kMaxIterations,
                   " iterations while unrolled");
      const std::vector<Value> c = call(cond, vars);
      STRATA_CHECK(c.size() == 1 && !c[0].resource && !c[0].list, FormatError, here, ": the condition function '",
                   cond_name, "' of ", node.op(), " must return one tensor");
      const auto go = known_scalar(c[0]);
      STRATA_CHECK(go.has_value(), FormatError, here, ": the condition of this ", node.op(), " loop (function '", cond_name,
                   "') is known only at run time. Strata unrolls loops while reviving traces and needs their trip count "
                   "from constants and static shapes: a recurrent layer needs a sequence length fixed in its input shape");
      if (*go == 0) break;
      std::vector<Value> next = call(body, vars);
      STRATA_CHECK(next.size() == vars.size(), FormatError, here, ": the body function '", body_name, "' of ", node.op(),
                   " returns ", next.size(), " values for ", vars.size(), " loop variables");
      vars = std::move(next);
    }
    return vars;
  }

  // If / StatelessIf: the branch a condition known at import time picks; otherwise both
  // branches are traced and each output selected by the condition (branches with variable
  // assignments are refused there: both would run).
  std::vector<Value> run_if(const tf::NodeDef& node, const std::vector<Value>& inputs, const std::string& here) {
    STRATA_CHECK(!inputs.empty() && !inputs[0].resource && !inputs[0].list, FormatError, here, ": ", node.op(),
                 " needs a condition tensor as its first input");
    const tf::FunctionDef& then_f = function(func_attr(node, "then_branch", here));
    const tf::FunctionDef& else_f = function(func_attr(node, "else_branch", here));
    const std::vector<Value> args(inputs.begin() + 1, inputs.end());
    if (const auto c = known_scalar(inputs[0])) return call(*c != 0 ? then_f : else_f, args);
    for (const tf::FunctionDef* f : {&then_f, &else_f}) {
      for (const auto& n : f->node_def()) {
        STRATA_CHECK(n.op().rfind("Assign", 0) != 0, FormatError, here, ": ", node.op(), " on a condition known only at run "
                     "time with a branch that assigns a variable (function '", f->signature().name(), "' node '", n.name(),
                     "'); Strata runs both branches of such an If and selects their results");
      }
    }
    const std::vector<Value> a = call(then_f, args), b = call(else_f, args);
    STRATA_CHECK(a.size() == b.size(), FormatError, here, ": the branches of ", node.op(), " return ", a.size(), " and ",
                 b.size(), " values");
    Tensor cond = inputs[0].tensor;
    if (cond.dtype() != DType::kBool) cond = not_equal(cond, zeros_like(cond));
    std::vector<Value> out;
    for (std::size_t i = 0; i < a.size(); ++i) {
      STRATA_CHECK(!a[i].resource && !a[i].list && !b[i].resource && !b[i].list, FormatError, here, ": ", node.op(),
                   " on a condition known only at run time returns a variable handle or tensor list (output ", i, ")");
      try {
        out.push_back({select(cond, a[i].tensor, b[i].tensor), {}, false});
      } catch (const FormatError&) {
        throw;
      } catch (const Error& e) {
        STRATA_THROW(FormatError, here, " (", node.op(), "), output ", i, ": ", e.message());
      }
    }
    return out;
  }

  // TensorFlow's TensorList ops (tf.TensorArray in a recurrent layer's loop) on lists held
  // while importing: lengths and indices must be known at import time.
  std::vector<Value> tensor_list(const tf::NodeDef& node, const std::vector<Value>& in, const std::string& here) {
    const std::string& op = node.op();
    const auto index_of = [&](std::size_t i, const char* what) {
      STRATA_CHECK(i < in.size(), FormatError, here, ": ", op, " takes more than ", in.size(), " inputs");
      const auto v = known_scalar(in[i]);
      STRATA_CHECK(v.has_value(), FormatError, here, ": the ", what, " of ", op, " is known only at run time (Strata "
                   "unrolls tensor lists while reviving traces: their lengths and indices must be static)");
      return *v;
    };
    const auto list_of = [&]() -> const TensorListValue& {
      STRATA_CHECK(!in.empty() && in[0].list, FormatError, here, ": input 0 of ", op, " is not a tensor list");
      return *in[0].list;
    };
    const auto tensor_at = [&](std::size_t i) -> const Tensor& {
      STRATA_CHECK(i < in.size() && !in[i].resource && !in[i].list, FormatError, here, ": input ", i, " of ", op,
                   " must be a tensor");
      return in[i].tensor;
    };
    const auto make = [](std::vector<Tensor> items) {
      Value v;
      v.list = std::make_shared<const TensorListValue>(TensorListValue{std::move(items)});
      return v;
    };
    try {
      if (op == "TensorListReserve") {
        const std::int64_t n = index_of(1, "length");
        STRATA_CHECK(n >= 0 && n <= kMaxIterations, FormatError, here, ": TensorListReserve of ", n, " elements");
        return {make(std::vector<Tensor>(static_cast<std::size_t>(n)))};
      }
      if (op == "TensorListFromTensor") {
        const Tensor& t = tensor_at(0);
        STRATA_CHECK(t.shape().has_known_rank() && t.shape().rank() >= 1 && t.shape().dims()[0] >= 0, FormatError, here,
                     ": TensorListFromTensor of a tensor of shape ", t.shape().to_string(), ": its first dimension must "
                     "be static (Strata unrolls the loops over tensor lists while reviving traces)");
        const std::int64_t n = t.shape().dims()[0];
        STRATA_CHECK(n <= kMaxIterations, FormatError, here, ": TensorListFromTensor of ", n, " elements");
        std::vector<Tensor> items;
        if (n > 0) {
          for (auto& piece : split(t, n, 0)) items.push_back(squeeze(piece, {0}));
        }
        return {make(std::move(items))};
      }
      if (op == "TensorListGetItem") {
        const auto& l = list_of();
        const std::int64_t i = index_of(1, "index");
        STRATA_CHECK(i >= 0 && i < static_cast<std::int64_t>(l.items.size()), FormatError, here, ": index ", i,
                     " of a tensor list of ", l.items.size());
        STRATA_CHECK(l.items[static_cast<std::size_t>(i)].defined(), FormatError, here, ": element ", i,
                     " of the tensor list was never set");
        return {{l.items[static_cast<std::size_t>(i)], {}, false}};
      }
      if (op == "TensorListSetItem") {
        const auto& l = list_of();
        const std::int64_t i = index_of(1, "index");
        STRATA_CHECK(i >= 0 && i < static_cast<std::int64_t>(l.items.size()), FormatError, here, ": index ", i,
                     " of a tensor list of ", l.items.size());
        std::vector<Tensor> items = l.items;
        items[static_cast<std::size_t>(i)] = tensor_at(2);
        return {make(std::move(items))};
      }
      if (op == "TensorListStack") {
        const auto& l = list_of();
        STRATA_CHECK(!l.items.empty(), FormatError, here, ": TensorListStack of an empty tensor list");
        for (std::size_t i = 0; i < l.items.size(); ++i) {
          STRATA_CHECK(l.items[i].defined(), FormatError, here, ": element ", i, " of the tensor list was never set");
        }
        return {{stack(l.items, 0), {}, false}};
      }
      if (op == "TensorListLength") {
        const auto n = static_cast<std::int32_t>(list_of().items.size());
        const Tensor t = Tensor::from_vector<std::int32_t>({n}, Shape{});
        return {{t, {}, false, known_of(t)}};
      }
      if (op == "TensorListElementShape") {
        const auto& l = list_of();
        const auto it = std::find_if(l.items.begin(), l.items.end(), [](const Tensor& t) { return t.defined(); });
        STRATA_CHECK(it != l.items.end(), FormatError, here, ": TensorListElementShape of a list with no element set");
        const auto type = node.attr().find("shape_type");
        const DType dtype = type == node.attr().end() ? DType::kInt32 : dtype_from_tf(static_cast<int>(type->second.type()));
        Value v{cast(shape_of(*it), dtype), {}, false};
        auto k = std::make_shared<KnownInts>();
        if (it->shape().has_known_rank()) {
          for (const auto d : it->shape().dims()) k->values.push_back(d >= 0 ? std::optional<std::int64_t>(d) : std::nullopt);
          v.known = k;
        }
        return {v};
      }
    } catch (const FormatError&) {
      throw;
    } catch (const Error& e) {
      STRATA_THROW(FormatError, here, " (", op, "): ", e.message());
    }
    STRATA_THROW(FormatError, here, ": op '", op, "' is not one Strata has (no op, kernel or plugin registers it)");
  }

  // TensorFlow's fused batch normalization (NHWC), written in Strata's ops: outputs y,
  // batch_mean, batch_variance (blended with the inputs by exponential_avg_factor in
  // training; Bessel-corrected), and the three reserve spaces.
  static std::vector<Value> fused_batch_norm(const tf::NodeDef& node, const std::vector<Value>& inputs,
                                             const std::string& here) {
    STRATA_CHECK(inputs.size() == 5, FormatError, here, ": ", node.op(), " takes 5 inputs, it has ", inputs.size());
    for (const auto& v : inputs) STRATA_CHECK(!v.resource, FormatError, here, ": a variable handle as a tensor input");
    const auto attr = [&](const char* name) -> const tf::AttrValue* {
      const auto it = node.attr().find(name);
      return it == node.attr().end() ? nullptr : &it->second;
    };
    const double epsilon = attr("epsilon") ? attr("epsilon")->f() : 1e-4;
    const bool training = attr("is_training") ? attr("is_training")->b() : true;
    const double factor = attr("exponential_avg_factor") ? attr("exponential_avg_factor")->f() : 1.0;
    const std::string format = attr("data_format") ? attr("data_format")->s() : "NHWC";
    STRATA_CHECK(format == "NHWC" || format == "NDHWC", FormatError, here, ": ", node.op(), " with data_format '", format,
                 "' (Strata reads channels-last batch normalization only)");
    const Tensor &x = inputs[0].tensor, &scale = inputs[1].tensor, &offset = inputs[2].tensor;
    const Tensor &mean_in = inputs[3].tensor, &var_in = inputs[4].tensor;
    STRATA_CHECK(x.shape().has_known_rank(), FormatError, here, ": ", node.op(), " on an input of unknown rank");
    const auto rank = static_cast<std::int64_t>(x.shape().rank());
    const Tensor eps = scalar_like(x, epsilon);
    if (!training) {
      const Tensor y = (x - mean_in) * rsqrt(var_in + eps) * scale + offset;
      return {{y, {}, false}, {mean_in, {}, false}, {var_in, {}, false},
              {mean_in, {}, false}, {var_in, {}, false}, {mean_in, {}, false}};
    }
    std::vector<std::int64_t> axes;
    for (std::int64_t a = 0; a + 1 < rank; ++a) axes.push_back(a);
    const Tensor batch_mean = mean(x, axes);
    const Tensor batch_var = mean(squared_difference(x, stop_gradient(batch_mean)), axes);
    const Tensor y = (x - batch_mean) * rsqrt(batch_var + eps) * scale + offset;
    const Tensor count = cast(prod(shape_of(x)), x.dtype()) / cast(gather(shape_of(x), int_tensor({rank - 1})), x.dtype());
    const Tensor one = scalar_like(count, 1.0);
    const Tensor unbiased = batch_var * sum(count / maximum(count - one, one));
    Tensor out_mean = stop_gradient(batch_mean), out_var = stop_gradient(unbiased);
    if (factor != 1.0) {
      out_mean = mean_in * (1.0 - factor) + out_mean * factor;
      out_var = var_in * (1.0 - factor) + out_var * factor;
    }
    return {{y, {}, false}, {out_mean, {}, false}, {out_var, {}, false},
            {batch_mean, {}, false}, {batch_var, {}, false}, {batch_mean, {}, false}};
  }

  std::string what_;
  const std::unordered_map<std::string_view, const tf::FunctionDef*>& functions_;
  std::vector<std::string> stack_;
  std::size_t nodes_run_ = 0;
  std::int64_t const_budget_ = kMaxConstElements;
};

}  // namespace

const tf::FunctionDef* find_function(const tf::FunctionDefLibrary& library, std::string_view name) {
  for (const auto& f : library.function()) {
    if (f.signature().name() == name) return &f;
  }
  return nullptr;
}

std::vector<TensorSpec> function_input_specs(const tf::FunctionDef& function) {
  std::vector<TensorSpec> specs;
  for (int i = 0; i < function.signature().input_arg_size(); ++i) {
    const auto& arg = function.signature().input_arg(i);
    if (arg.type() == tf::DT_RESOURCE) continue;
    Shape shape = Shape::unknown_rank();
    const auto a = function.arg_attr().find(static_cast<std::uint32_t>(i));
    if (a != function.arg_attr().end()) {
      const auto s = a->second.attr().find("_output_shapes");
      if (s != a->second.attr().end() && s->second.list().shape_size() == 1) {
        shape = shape_from_proto(s->second.list().shape(0), "function '" + function.signature().name() + "'");
      }
    }
    specs.emplace_back(shape, dtype_from_tf(static_cast<int>(arg.type())), arg.name());
  }
  return specs;
}

// Strata's Gelu is one op; TensorFlow has none (tf.nn.gelu is a composition), so a trace
// that holds it is written as the TensorFlow ops of its formula, which TensorFlow and
// Strata's own reviver both run: 0.5·x·(1 + erf(x/√2)), or with approximate=True
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Returns the output's reference.
std::string write_gelu(const GraphNode& node, const std::string& x, const std::string& name, tf::FunctionDef& f,
                       std::set<std::string>& used) {
  const DType dtype = node.inputs.at(0).dtype();
  const auto type = static_cast<tf::DataType>(dtype_to_tf(dtype));
  const auto unique = [&](const std::string& want) {
    std::string n = want;
    for (int k = 1; used.count(n); ++k) n = want + "_" + std::to_string(k);
    used.insert(n);
    return n;
  };
  const auto constant = [&](const char* tag, double value) {
    tf::NodeDef& c = *f.add_node_def();
    c.set_name(unique(name + "/" + tag));
    c.set_op("Const");
    tensor_to_proto(strata::cast(Tensor::scalar(value), dtype), *(*c.mutable_attr())["value"].mutable_tensor());
    (*c.mutable_attr())["dtype"].set_type(type);
    return c.name() + ":output:0";
  };
  const auto op = [&](const char* kind, const std::string& node_name, std::initializer_list<std::string> inputs) {
    tf::NodeDef& n = *f.add_node_def();
    n.set_name(node_name);
    n.set_op(kind);
    for (const auto& in : inputs) n.add_input(in);
    (*n.mutable_attr())["T"].set_type(type);
    return n.name() + ":" + output_ref(kind, 0);
  };
  const bool approximate = node.attrs.has("approximate") && node.attrs.get<bool>("approximate");
  std::string inner;
  if (approximate) {
    const std::string cube = op("Mul", unique(name + "/cube"), {op("Mul", unique(name + "/square"), {x, x}), x});
    const std::string sum = op("AddV2", unique(name + "/sum"), {x, op("Mul", unique(name + "/cubic"), {cube, constant("c", 0.044715)})});
    inner = op("Tanh", unique(name + "/tanh"),
               {op("Mul", unique(name + "/scaled"), {sum, constant("sqrt_2_over_pi", 0.7978845608028654)})});
  } else {
    inner = op("Erf", unique(name + "/erf"), {op("Mul", unique(name + "/scaled"), {x, constant("rsqrt_2", 0.7071067811865476)})});
  }
  const std::string gate = op("AddV2", unique(name + "/gate"), {inner, constant("one", 1.0)});
  const std::string xg = op("Mul", unique(name + "/x_gate"), {x, gate});
  return op("Mul", name, {xg, constant("half", 0.5)});  // the node's own name, reserved by the caller
}

void add_function(const Graph& graph, const std::string& name, tf::FunctionDefLibrary& library) {
  // Ops a plugin registers under the `strata.` prefix (the lookup layers' host ops) are no
  // TensorFlow ops: TensorFlow refuses a whole SavedModel whose library names one, so the
  // function is not written (before anything is added to the library) and the caller saves
  // without it, as for any untraceable call.
  for (const auto& node : graph.nodes()) {
    STRATA_CHECK(node->op == kLayerCallOp || !node->op.starts_with("strata."), ValueError, "graph '", graph.name(),
                 "' runs op '", node->op,
                 "', which is Strata's own and not TensorFlow's");
  }
  tf::FunctionDef& f = *library.add_function();
  auto* sig = f.mutable_signature();
  sig->set_name(name);
  std::unordered_map<const GraphNode*, std::string> names;  // node → node name or argument name
  std::set<std::string> used;
  for (std::size_t i = 0; i < graph.inputs().size(); ++i) {
    const Tensor& in = graph.inputs()[i];
    auto* arg = sig->add_input_arg();
    arg->set_name("input_" + std::to_string(i));
    arg->set_type(static_cast<tf::DataType>(dtype_to_tf(in.dtype())));
    auto& shapes = (*(*f.mutable_arg_attr())[static_cast<std::uint32_t>(i)].mutable_attr())["_output_shapes"];
    shape_to_proto(in.shape(), *shapes.mutable_list()->add_shape());
    names[in.node().get()] = arg->name();
    used.insert(arg->name());
  }
  const std::vector<Variable> captured = graph.captured_variables();
  std::unordered_map<std::uint64_t, std::size_t> capture_index;  // variable id → its resource argument
  for (std::size_t j = 0; j < captured.size(); ++j) capture_index.emplace(captured[j].id(), j);
  for (std::size_t j = 0; j < captured.size(); ++j) {
    auto* arg = sig->add_input_arg();
    arg->set_name("resource_" + std::to_string(j));
    arg->set_type(tf::DT_RESOURCE);
    used.insert(arg->name());
  }
  std::unordered_map<const GraphNode*, std::string> lowered;  // node → its output, when written as several TF ops
  std::unordered_map<std::string, int> next_suffix;            // name → the next k of "<name>_<k>" to try
  const auto ref = [&](const Tensor& t) {
    const GraphNode* node = t.node().get();
    if (node->op == "Placeholder") return names.at(node);
    if (const auto l = lowered.find(node); l != lowered.end()) return l->second;
    return names.at(node) + ":" + output_ref(node->op, t.output_index());
  };
  for (const auto& node : graph.nodes()) {
    if (node->op == "Placeholder") continue;
    STRATA_CHECK(node->op != kLayerCallOp, ValueError, "graph '", graph.name(), "' holds a call of layer '",
                 node->layer ? node->layer->name() : std::string("?"), "' as one node; only op-level traces can be saved");
    std::string node_name = sanitize(node->name.empty() ? node->op : node->name);
    if (used.count(node_name)) {
      // The first free "<name>_<k>": a trace of N nodes of one name ("Neg") made this loop
      // quadratic when each search started again from k = 1. Names are never freed, so the
      // search for a name goes on from where its previous one stopped.
      const std::string base = sanitize(node->name);
      int& k = next_suffix.try_emplace(base, 1).first->second;
      for (node_name = base + "_" + std::to_string(k); used.count(node_name); node_name = base + "_" + std::to_string(++k)) {
      }
      ++k;
    }
    used.insert(node_name);
    names[node.get()] = node_name;
    if (node->op == "Gelu") {
      lowered[node.get()] = write_gelu(*node, ref(node->inputs.at(0)), node_name, f, used);
      continue;
    }
    tf::NodeDef& nd = *f.add_node_def();
    nd.set_name(node_name);
    nd.set_op(node->op);
    if (node->op == "ReadVariableOp" || node->op == "AssignVariableOp") {
      const auto j = capture_index.at(node->variable.id());
      nd.add_input("resource_" + std::to_string(j));
      (*nd.mutable_attr())["dtype"].set_type(static_cast<tf::DataType>(dtype_to_tf(node->variable.dtype())));
      if (node->op == "AssignVariableOp") {
        // No outputs: kept by naming it a control output, as TensorFlow does.
        nd.add_input(ref(node->inputs[0]));
        sig->add_control_output(node_name);
        (*f.mutable_control_ret())[node_name] = node_name;
      }
      continue;
    }
    if (node->op == "Const") {
      auto& value = (*nd.mutable_attr())["value"];
      tensor_to_proto(node->value, *value.mutable_tensor());
      (*nd.mutable_attr())["dtype"].set_type(static_cast<tf::DataType>(dtype_to_tf(node->value.dtype())));
      continue;
    }
    for (std::size_t i = 0; i < node->inputs.size(); ++i) {
      const Tensor& in = node->inputs[i];
      if (in.dtype() != DType::kInt64 || !requires_int32(node->op, i)) {
        nd.add_input(ref(in));
        continue;
      }
      // TensorFlow types this input int32 (Split's split_dim, OneHot's depth, ...); Strata's
      // trace holds an int64: an int32 copy of a constant (so readers still see its value
      // while inferring shapes), a Cast of anything else.
      std::string cast_name = node_name + "/ToInt32_" + std::to_string(i);
      for (int k = 1; used.count(cast_name); ++k) cast_name = node_name + "/ToInt32_" + std::to_string(i) + "_" + std::to_string(k);
      used.insert(cast_name);
      tf::NodeDef& to_int32 = *f.add_node_def();
      to_int32.set_name(cast_name);
      const GraphNode* source = in.node().get();
      if (source->op == "Const" && source->value.defined()) {
        to_int32.set_op("Const");
        tensor_to_proto(strata::cast(source->value, DType::kInt32), *(*to_int32.mutable_attr())["value"].mutable_tensor());
        (*to_int32.mutable_attr())["dtype"].set_type(tf::DT_INT32);
        nd.add_input(cast_name + ":output:0");
        continue;
      }
      to_int32.set_op("Cast");
      to_int32.add_input(ref(in));
      (*to_int32.mutable_attr())["SrcT"].set_type(tf::DT_INT64);
      (*to_int32.mutable_attr())["DstT"].set_type(tf::DT_INT32);
      nd.add_input(cast_name + ":y:0");
    }
    for (const auto& [key, value] : node->attrs.items()) attr_to_proto(value, (*nd.mutable_attr())[key]);
    add_type_attrs(*node, nd);
  }
  for (std::size_t o = 0; o < graph.outputs().size(); ++o) {
    const Tensor& out = graph.outputs()[o];
    auto* arg = sig->add_output_arg();
    arg->set_name("output_" + std::to_string(o));
    arg->set_type(static_cast<tf::DataType>(dtype_to_tf(out.dtype())));
    (*f.mutable_ret())[arg->name()] = ref(out);
  }
}

GraphIndex::GraphIndex(const tf::GraphDef& graph) {
  functions.reserve(static_cast<std::size_t>(graph.library().function_size()));
  for (const auto& f : graph.library().function()) functions.emplace(f.signature().name(), &f);
  nodes.reserve(static_cast<std::size_t>(graph.node_size()));
  for (const auto& n : graph.node()) nodes.emplace(n.name(), &n);
}

Tensor graph_constant(const GraphIndex& graph, const std::string& node, std::string_view what) {
  const auto found = graph.nodes.find(std::string_view(node));
  STRATA_CHECK(found != graph.nodes.end(), FormatError, what, ": the graph has no node '", node,
               "' for a captured constant");
  const tf::NodeDef& n = *found->second;
  const auto it = n.attr().find("value");
  STRATA_CHECK(n.op() == "Const" && it != n.attr().end() && it->second.has_tensor(), FormatError, what,
               ": the captured constant '", node, "' is not a Const node with a tensor value");
  std::int64_t budget = kMaxConstElements;
  return tensor_from_proto(it->second.tensor(), detail::concat(what, ": captured constant '", node, "'"), budget);
}

Tensor graph_constant(const tf::GraphDef& graph, const std::string& node, std::string_view what) {
  return graph_constant(GraphIndex(graph), node, what);
}

Graph import_function(const GraphIndex& graph, const std::string& name, const ImportedArguments& args,
                      std::string_view what) {
  Importer importer(graph, what);
  const tf::FunctionDef& f = importer.function(name);
  std::size_t resources = 0;
  for (const auto& arg : f.signature().input_arg()) resources += arg.type() == tf::DT_RESOURCE;
  STRATA_CHECK(resources == args.captured.size(), FormatError, what, ": function '", name, "' takes ", resources,
               " variables, the SavedModel binds ", args.captured.size(), " to it");
  const auto num_args = static_cast<std::size_t>(f.signature().input_arg_size());
  STRATA_CHECK(args.captured.size() + args.constants.size() <= num_args, FormatError, what, ": function '", name,
               "' takes ", num_args, " arguments, the SavedModel binds ", args.captured.size() + args.constants.size());
  const std::size_t first_capture = num_args - args.captured.size() - args.constants.size();
  // The captured constants are the last non-resource arguments: no placeholders for them.
  std::vector<TensorSpec> specs = function_input_specs(f);
  STRATA_CHECK(specs.size() >= args.constants.size(), FormatError, what, ": function '", name, "' binds ",
               args.constants.size(), " constants to ", specs.size(), " tensor arguments");
  specs.resize(specs.size() - args.constants.size());
  if (!args.input_shapes.empty()) {
    STRATA_CHECK(args.input_shapes.size() == specs.size(), ValueError, what, ": function '", name, "' takes ",
                 specs.size(), " inputs, called with ", args.input_shapes.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
      STRATA_CHECK(args.input_shapes[i].is_compatible_with(specs[i].shape), ValueError, what, ": input ", i,
                   " of function '", name, "' has shape ", args.input_shapes[i].to_string(), ", which its trace (",
                   specs[i].shape.to_string(), ") does not take");
      specs[i].shape = args.input_shapes[i];
    }
  }
  // Traced like any Strata function: the assignments the body records become the graph's
  // side effects.
  return trace(
      [&](const std::vector<Tensor>& placeholders) {
        std::vector<Value> values;
        std::size_t next_placeholder = 0, next_capture = 0, next_constant = 0, index = 0;
        for (const auto& arg : f.signature().input_arg()) {
          const bool capture = index++ >= first_capture;
          if (arg.type() == tf::DT_RESOURCE) {
            values.push_back({{}, args.captured[next_capture++], true});
          } else if (capture) {
            STRATA_CHECK(next_constant < args.constants.size(), FormatError, what, ": function '", name,
                         "' has more captured tensor arguments than the SavedModel binds constants");
            values.push_back({args.constants[next_constant++], {}, false});
          } else {
            values.push_back({placeholders[next_placeholder++], {}, false});
          }
        }
        std::vector<Tensor> outputs;
        for (auto& v : importer.call(f, values)) {
          STRATA_CHECK(!v.resource, FormatError, what, ": function '", name, "' returns a variable handle");
          // A constant output becomes a graph node.
          outputs.push_back(v.tensor.is_symbolic() ? v.tensor : execute1("Identity", {v.tensor}));
        }
        return outputs;
      },
      specs, name);
}

}  // namespace strata::savedmodel
