// Keras model configs: the JSON text tf.keras 2.x `model.to_json()` writes,
// read into a Sequential or functional Model (in a graph of its own).
//
//   KILN_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadKerasModel("m.json"));
//   KILN_RETURN_IF_ERROR(model->LoadWeights("w.npz"));
//   std::cout << model->Summary();
//
// Accepted: {"class_name": "Sequential" | "Functional" | "Model", "config":
// {...}, "keras_version", "backend"}. Sequential configs list their layers
// in order; the input comes from a leading InputLayer, the first layer's
// "batch_input_shape" (or "input_shape" / "input_dim") or the model's
// "build_input_shape". Functional
// configs list every layer with its "inbound_nodes" in the tf.keras 2.x
// nested-list form [[["layer", node_index, tensor_index, {}], ...], ...]
// (a shared layer has several), and "input_layers" / "output_layers" as
// [name, node_index, tensor_index] lists. Layers are built by
// LayerFromKerasConfig; a layer whose config says "trainable": false gets
// non-trainable weights.
//
// Every problem is an InvalidArgument naming the source and the layer:
//   "m.json: layer 'conv': layer Conv2D 'conv': ... causal ..."
//   "m.json: layer 'dense_2': inbound layer 'dense_9' is not defined"
//   "m.json: malformed JSON: [json.exception.parse_error.101] ..."
#ifndef KILN_LAYERS_KERAS_JSON_H_
#define KILN_LAYERS_KERAS_JSON_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/model.h"

namespace kiln {

// `source` names the text in error messages (a path, "model JSON").
absl::StatusOr<std::unique_ptr<Model>> ModelFromKerasJson(absl::string_view json,
                                                          absl::string_view source = "model JSON");
// Reads `path` and imports it.
absl::StatusOr<std::unique_ptr<Model>> LoadKerasModel(const std::string& path);

}  // namespace kiln

#endif  // KILN_LAYERS_KERAS_JSON_H_
