// Layers by Keras class name, built from Keras JSON configs (the
// `{"class_name": ..., "config": {...}}` objects of model.to_json()).
//
//   KILN_ASSIGN_OR_RETURN(std::shared_ptr<Layer> layer, LayerFromKerasConfig(json::parse(
//       R"({"class_name": "Dense", "config": {"name": "out", "units": 10}})")));
#ifndef KILN_LAYERS_LAYER_REGISTRY_H_
#define KILN_LAYERS_LAYER_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

// The factories of layers/layer_list.inc.
#define KILN_LAYER(class_name, factory) \
  absl::StatusOr<std::shared_ptr<Layer>> factory(const nlohmann::json& config);
#include "layers/layer_list.inc"
#undef KILN_LAYER

// A layer from {"class_name": ..., "config": {...}}; unknown classes and bad
// configs give InvalidArgument naming the class (and the layer name).
absl::StatusOr<std::shared_ptr<Layer>> LayerFromKerasConfig(const nlohmann::json& object);
// The class names layers/layer_list.inc knows.
std::vector<std::string> KnownLayerClasses();

}  // namespace kiln

#endif  // KILN_LAYERS_LAYER_REGISTRY_H_
