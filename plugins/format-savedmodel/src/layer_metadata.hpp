// Keras metadata for every layer of a saved model (keras_metadata.pb nodes and the object
// graph's user-object identifiers), so that tf-keras's load_model rebuilds each layer from
// its config and reconnects Sequential/Functional models from their "layer-N" children.
#pragma once

#include <map>

#include "strata/checkpoint.hpp"
#include "strata/model.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"
#include "strata/tf/saved_model.pb.h"

namespace strata::savedmodel {

// For each object-graph node (other than the root, node 0) that holds a layer of `model`:
// sets its SavedUserObject identifier (_tf_keras_layer, _tf_keras_input_layer,
// _tf_keras_network, _tf_keras_sequential) and appends its metadata node (node path from
// the root, class name, config, build input shape, ...) to `metadata`. `graph` is the
// checkpoint object graph the SavedObjectGraph `objects` mirrors node for node.
void add_layer_metadata(const Model& model, const CheckpointObjectGraph& graph, tf::SavedObjectGraph& objects,
                        keras::SavedMetadata& metadata);

// The build input shape as Keras's JSON writes it: {"class_name": "TensorShape",
// "items": [null, 4]}, a list of those for several inputs; null when unbuilt.
Config build_input_shape_json(const Layer& layer);

}  // namespace strata::savedmodel

namespace strata::savedmodel {
// Which layer each checkpoint-object-graph node holds (node 0: `model`), found the way the
// graph was made (issue 19: the per-layer traces use it too).
std::map<int, const Layer*> layer_nodes(const Model& model, const CheckpointObjectGraph& graph);
}  // namespace strata::savedmodel
