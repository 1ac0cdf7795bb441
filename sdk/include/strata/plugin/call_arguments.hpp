// Layers whose calls take more than input tensors. tf-keras wraps a TensorFlow function
// called on Keras tensors (`x * 2.0`, `tf.reduce_mean(x, axis=1)`, `x[:, 1:3]`) in a layer
// (TFOpLambda, SlicingOpLambda) and writes the call's other arguments with its inbound node
// in the model config: constants (`{"y": 2.0, "name": null}`) and tensors nested in keyword
// arguments (`{"y": ["input_2", 0, 0]}`). A layer class that needs them implements this
// interface besides Layer; the Functional reader hands it the arguments of each inbound node
// before calling it, and the Functional writer writes back what it returns. Layers that do
// not implement it keep Keras's `training` argument only, as before.
//
// The arguments' form, `{"args": [first], "kwargs": {...}}`: `first` is the call's first
// argument (a tensor, or a list of them for tf.concat) and `kwargs` the keyword-argument
// object exactly as the config holds it, except that each tensor is replaced by
// {"strata.tensor": i} and each constant in the first argument (tf-keras's
// ["_CONSTANT_VALUE", -1, value]) by {"strata.constant": value}. i = 0, 1, ... in the order
// a depth-first walk meets the tensors, the first argument before the keyword arguments
// (object keys in file order); the call's inputs are those tensors in that order. As
// tf-keras writes these layers (_preserve_input_structure_in_config), a first argument that
// is a single tensor is one reference, not a list of one, in the node.
#pragma once

#include "strata/export.hpp"

#include "strata/config.hpp"

STRATA_API_BEGIN

namespace strata {

class CallArgumentsLayer {
 public:
  virtual ~CallArgumentsLayer();

  // Receives the arguments of the call about to be made (the Functional reader
  // calls it once per inbound node, just before calling the layer on that node's inputs).
  // Throws an Error naming the layer when it cannot honour them (FormatError for a
  // malformed value, UnknownObjectError for a function it does not know).
  virtual void set_call_arguments(const Config& arguments) = 0;
  // The arguments to write with each inbound node of this layer, in the form above.
  // Thread safety: may be called concurrently.
  virtual Config call_arguments() const = 0;
};

}  // namespace strata

STRATA_API_END
