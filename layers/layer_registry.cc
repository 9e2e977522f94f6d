#include "layers/layer_registry.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

using Factory = absl::StatusOr<std::shared_ptr<Layer>> (*)(const nlohmann::json&);

struct Entry {
  const char* class_name;
  Factory factory;
};

constexpr Entry kLayers[] = {
#define KILN_LAYER(class_name, factory) {class_name, factory},
#include "layers/layer_list.inc"
#undef KILN_LAYER
};

}  // namespace

absl::StatusOr<std::shared_ptr<Layer>> LayerFromKerasConfig(const nlohmann::json& object) {
  if (!object.is_object() || !object.contains("class_name") ||
      !object["class_name"].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a layer must be {\"class_name\": ..., \"config\": {...}}, got ",
                     object.dump().substr(0, 80)));
  }
  const std::string name = object["class_name"].get<std::string>();
  const nlohmann::json config = object.contains("config") ? object["config"] : nlohmann::json::object();
  for (const Entry& e : kLayers) {
    if (name == e.class_name) {
      absl::StatusOr<std::shared_ptr<Layer>> layer = e.factory(config);
      if (!layer.ok()) {
        std::string layer_name = config.is_object() && config.contains("name") &&
                                         config["name"].is_string()
                                     ? config["name"].get<std::string>()
                                     : "";
        return absl::Status(layer.status().code(),
                            absl::StrCat("layer ", name,
                                         layer_name.empty() ? "" : " '" + layer_name + "'", ": ",
                                         layer.status().message()));
      }
      return layer;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown layer class '", name, "'"));
}

std::vector<std::string> KnownLayerClasses() {
  std::vector<std::string> names;
  for (const Entry& e : kLayers) names.push_back(e.class_name);
  return names;
}

}  // namespace kiln
