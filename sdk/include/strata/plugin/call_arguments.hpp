// Layers whose calls take more than input tensors. tf-keras writes a call's other arguments
// with its inbound node in the model config: a TensorFlow function called on Keras tensors
// (TFOpLambda, SlicingOpLambda: `x * 2.0`, `x[:, 1:3]`) keeps its constants (`{"y": 2.0,
// "name": null}`) and tensors nested in keyword arguments (`{"y": ["input_2", 0, 0]}`);
// MultiHeadAttention its keyword tensors and flags (`{"value": ["x", 0, 0],
// "attention_mask": ["m", 0, 0], "use_causal_mask": true}`); Bidirectional called with
// initial states `{"initial_state": null, "constants": null}`. A layer class that needs them
// implements this interface besides Layer; layers that do not keep Keras's `training`
// argument only, and a node that gives them a tensor by keyword is a FormatError naming the
// layer and the keyword.
//
// The arguments' form, `{"args": [first], "kwargs": {...}}`: `first` is the call's first
// argument (a tensor, or a list of them for tf.concat and for layers called on a list) and
// `kwargs` the keyword-argument object exactly as the config holds it, except that each
// tensor is replaced by {"strata.tensor": i} and each constant in the first argument
// (tf-keras's ["_CONSTANT_VALUE", -1, value]) by {"strata.constant": value}. i = 0, 1, ... in
// the order a depth-first walk meets the tensors, the first argument before the keyword
// arguments (object keys in file order); the call's inputs are those tensors in that order.
// As tf-keras writes TFOpLambda (_preserve_input_structure_in_config), a first argument
// that is a single tensor is one reference, not a list of one, in the node; other layers'
// nodes are a list of references, so their first argument is a list (of one tensor, for
// MultiHeadAttention's query). A tf-keras node nests lists as the call did (an RNN's
// initial states, one list per cell of a stack: [x, [h, c], g]); the first argument keeps
// that nesting. An optional third key, "outputs", gives the Python structure of the call's
// outputs for summaries (nothing is written to the file for it): "tuple" when the call returns
// a tuple rather than a list (MultiHeadAttention with return_attention_scores), or a nested
// structure of output indices, lists and {"tuple": [...]} (an LSTMCell's
// {"tuple": [0, [1, 2]]}, printed `((None, 3), [(None, 3), (None, 3)])` as Keras does).
//
// Keras 3 nodes ({"args": [...], "kwargs": {...}} with "__keras_tensor__" objects) reach a
// layer in the same form with every positional argument: "args" may then hold more than one
// (`mha(q, v, key=k)` gives args [q, v] and kwargs {"key": k}, as placeholders), tensors
// numbered depth first through args, then kwargs. tf-keras writes positional arguments after
// the first by parameter name, so a layer maps them onto its parameters' names (the layers
// plugin's positional_as_keywords) and call_arguments() returns tf-keras's form: Strata
// writes tf-keras's node dialect only.
//
// Per node (since plugin ABI 2.1). A layer may be called several times with different
// arguments (one MultiHeadAttention called with and without use_causal_mask). The runtime
// keeps them per layer-call node:
//   1. Recording. Right after a layer that implements this interface is called on
//      symbolic inputs (Layer::operator() recording a layer-call node), the runtime asks
//      call_arguments() and stores the answer with that node. The Functional reader calls
//      set_call_arguments(node's arguments) just before that call, once per inbound node.
//   2. Writing. The Functional writer writes each node from its own stored arguments
//      (call_arguments() of the layer only for a node without them).
//   3. Running. Whenever the runtime runs a recorded node (a Functional model's call, a
//      Graph function holding layer calls), recorded_call_arguments(layer) returns that
//      node's stored arguments on the running thread for the duration of the layer's call.
// So a layer's call() reads, in this order: recorded_call_arguments(*this) (running a
// recorded node), the arguments given to set_call_arguments for this call (recording it),
// or defaults derived from its inputs (a direct call from C++).
#pragma once

#include "strata/export.hpp"

#include "strata/config.hpp"

STRATA_API_BEGIN

namespace strata {

class Layer;

class CallArgumentsLayer {
 public:
  virtual ~CallArgumentsLayer();

  // Receives the arguments of the call about to be made (the Functional reader calls it
  // once per inbound node, just before calling the layer on that node's inputs). A layer
  // may apply them to that next call only (MultiHeadAttention, Attention, Bidirectional)
  // or keep them for every later call (TFOpLambda, which tf-keras makes once per call).
  // Throws an Error naming the layer when it cannot honour them (FormatError for a
  // malformed value, UnknownObjectError for a function it does not know).
  virtual void set_call_arguments(const Config& arguments) = 0;
  // The arguments of the latest call on symbolic inputs, in the form above: what the
  // runtime stores with the node that call recorded (see "Per node" above). A layer not
  // called yet returns the arguments of a call on its inputs alone.
  // Thread safety: may be called concurrently.
  virtual Config call_arguments() const = 0;
};

// The call arguments stored with the layer-call node the runtime is running `layer` for on
// this thread, or null when this thread is not running a recorded node of `layer` (a direct
// call, the call that records a node, a layer called inside another layer's call). The
// pointer is valid until that call of `layer` returns. Never throws.
// Thread safety: may be called concurrently; each thread sees its own.
const Config* recorded_call_arguments(const Layer& layer) noexcept;

}  // namespace strata

STRATA_API_END
