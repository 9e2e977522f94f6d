#include "layers/keras_json.h"

#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "graph/file_io.h"
#include "layers/input_layer.h"
#include "layers/layer_registry.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

using json = nlohmann::json;

std::string Show(const json& j) {
  std::string s = j.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

absl::Status Bad(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::Status InLayer(absl::string_view layer, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("layer '", layer, "': ", s.message()));
}

// Keys the Keras base Layer accepts for building a model's input; they are
// not the layer's own arguments.
constexpr const char* kInputKeys[] = {"batch_input_shape", "input_shape", "input_dim",
                                      "batch_size"};

bool IsModelClass(const std::string& c) {
  return c == "Sequential" || c == "Functional" || c == "Model";
}

// {"class_name", "config"} of one layer entry, with the input keys taken out.
struct LayerEntry {
  std::string name;
  std::string class_name;
  json config;
  json input_keys = json::object();
  bool trainable = true;
};

absl::StatusOr<LayerEntry> ParseEntry(const json& j, size_t index) {
  if (!j.is_object()) {
    return Bad(absl::StrCat("layers[", index, "] must be an object, got ", Show(j)));
  }
  LayerEntry e;
  auto config = j.find("config");
  if (config != j.end() && config->is_object()) e.config = *config;
  if (config == j.end() || !config->is_object()) e.config = json::object();
  if (j.contains("name") && j["name"].is_string()) {
    e.name = j["name"].get<std::string>();
  } else if (e.config.contains("name") && e.config["name"].is_string()) {
    e.name = e.config["name"].get<std::string>();
  } else {
    e.name = absl::StrCat("layers[", index, "]");
  }
  auto class_name = j.find("class_name");
  if (class_name == j.end() || !class_name->is_string()) {
    return InLayer(e.name, Bad("needs a string \"class_name\""));
  }
  e.class_name = class_name->get<std::string>();
  if (config != j.end() && !config->is_object()) {
    return InLayer(e.name, Bad(absl::StrCat("\"config\" must be an object, got ", Show(*config))));
  }
  if (IsModelClass(e.class_name)) {
    return InLayer(e.name, Bad(absl::StrCat("nested models (", e.class_name,
                                            " inside a model) are not supported")));
  }
  if (!e.config.contains("name")) e.config["name"] = e.name;
  if (e.class_name != "InputLayer") {
    for (const char* key : kInputKeys) {
      if (e.config.contains(key)) {
        e.input_keys[key] = e.config[key];
        e.config.erase(key);
      }
    }
  }
  if (e.config.contains("trainable") && e.config["trainable"].is_boolean()) {
    e.trainable = e.config["trainable"].get<bool>();
  }
  return e;
}

absl::StatusOr<std::shared_ptr<Layer>> MakeLayer(const LayerEntry& e) {
  absl::StatusOr<std::shared_ptr<Layer>> layer =
      LayerFromKerasConfig(json{{"class_name", e.class_name}, {"config", e.config}});
  if (!layer.ok()) {
    // The registry names the layer in most messages; never twice.
    const bool named = absl::StrContains(layer.status().message(), absl::StrCat("'", e.name, "'"));
    return named ? layer.status() : InLayer(e.name, layer.status());
  }
  return layer;
}

void ApplyTrainable(const std::vector<LayerEntry>& entries, const Model& model) {
  for (const LayerEntry& e : entries) {
    if (e.trainable) continue;
    absl::StatusOr<std::shared_ptr<Layer>> layer = model.GetLayer(e.name);
    if (!layer.ok()) continue;
    for (Weight& w : (*layer)->weights()) w.trainable = false;
  }
}

// The input a Sequential model's first layer asks for, as an InputLayer config.
json InputConfigFromLayer(const LayerEntry& e) {
  json config = json::object();
  const json& k = e.input_keys;
  if (k.contains("batch_input_shape")) {
    config["batch_input_shape"] = k["batch_input_shape"];
  } else if (k.contains("input_shape")) {
    config["input_shape"] = k["input_shape"];
    if (k.contains("batch_size")) config["batch_size"] = k["batch_size"];
  } else if (k.contains("input_dim")) {
    config["input_shape"] = json::array({k["input_dim"]});
    if (k.contains("batch_size")) config["batch_size"] = k["batch_size"];
  } else {
    return json();
  }
  if (e.config.contains("dtype")) config["dtype"] = e.config["dtype"];
  config["name"] = e.name + "_input";
  return config;
}

absl::StatusOr<std::unique_ptr<Model>> SequentialFromConfig(const json& config) {
  const json* layers = &config;
  std::string name;
  json build_input_shape;  // a model built by model.build(shape)
  if (config.is_object()) {
    if (config.contains("name") && config["name"].is_string()) {
      name = config["name"].get<std::string>();
    }
    if (config.contains("build_input_shape")) build_input_shape = config["build_input_shape"];
    auto it = config.find("layers");
    if (it == config.end() || !it->is_array()) {
      return Bad("a Sequential config needs a \"layers\" list");
    }
    layers = &*it;
  } else if (!config.is_array()) {
    return Bad("a Sequential config must be an object with \"layers\"");
  }
  auto graph = Graph::Create();
  auto model = std::make_unique<Sequential>(name);
  std::vector<LayerEntry> entries;
  for (size_t i = 0; i < layers->size(); ++i) {
    KILN_ASSIGN_OR_RETURN(LayerEntry e, ParseEntry((*layers)[i], i));
    if (e.class_name == "InputLayer") {
      if (i != 0) return InLayer(e.name, Bad("an InputLayer must be the first layer"));
      absl::StatusOr<Tensor> x = InputFromKerasConfig(e.config, graph);
      if (!x.ok()) return InLayer(e.name, x.status());
      model->Add(*x);
      continue;
    }
    KILN_ASSIGN_OR_RETURN(std::shared_ptr<Layer> layer, MakeLayer(e));
    json input = InputConfigFromLayer(e);
    if (input.is_null() && !build_input_shape.is_null()) {
      input = json{{"batch_input_shape", build_input_shape}, {"name", e.name + "_input"}};
    }
    if (!model->built() && entries.empty() && !input.is_null()) {
      absl::StatusOr<Tensor> x = InputFromKerasConfig(input, graph);
      if (!x.ok()) return InLayer(e.name, x.status());
      model->Add(*x);
    }
    model->Add(layer);
    if (model->built() && !model->status().ok()) return InLayer(e.name, model->status());
    entries.push_back(std::move(e));
  }
  if (!model->built()) {
    return Bad(absl::StrCat("Sequential model '", model->name(),
                            "' has no input shape: its first layer needs \"batch_input_shape\" "
                            "(or the model an InputLayer)"));
  }
  ApplyTrainable(entries, *model);
  return std::unique_ptr<Model>(std::move(model));
}

// [name, node_index, tensor_index] of input_layers / output_layers / a
// node's inbound entry.
struct TensorRef {
  std::string layer;
  int64_t node = 0;
  int64_t tensor = 0;
};

absl::StatusOr<TensorRef> ParseRef(const json& j, absl::string_view what) {
  if (!j.is_array() || j.size() < 3 || !j[0].is_string() || !j[1].is_number_integer() ||
      !j[2].is_number_integer()) {
    return Bad(absl::StrCat(what, " must be [\"layer\", node_index, tensor_index], got ", Show(j)));
  }
  if (j.size() > 4 || (j.size() == 4 && !j[3].is_object())) {
    return Bad(absl::StrCat(what, " has extra items: ", Show(j)));
  }
  if (j.size() == 4 && !j[3].empty()) {
    return Bad(
        absl::StrCat(what, " passes call arguments ", Show(j[3]), ", which kiln does not support"));
  }
  return TensorRef{j[0].get<std::string>(), j[1].get<int64_t>(), j[2].get<int64_t>()};
}

// input_layers / output_layers: a list of refs, or one ref.
absl::StatusOr<std::vector<TensorRef>> ParseRefList(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || !it->is_array())
    return Bad(absl::StrCat("\"", key, "\" must be a list"));
  std::vector<TensorRef> refs;
  if (!it->empty() && (*it)[0].is_string()) {
    KILN_ASSIGN_OR_RETURN(TensorRef r, ParseRef(*it, key));
    refs.push_back(std::move(r));
    return refs;
  }
  for (const json& e : *it) {
    KILN_ASSIGN_OR_RETURN(TensorRef r, ParseRef(e, key));
    refs.push_back(std::move(r));
  }
  return refs;
}

using NodeOutputs = absl::flat_hash_map<std::string, std::vector<Tensor>>;

absl::StatusOr<Tensor> Resolve(const NodeOutputs& outputs, const TensorRef& r,
                               absl::string_view what) {
  auto it = outputs.find(r.layer);
  if (it == outputs.end()) return Bad(absl::StrCat(what, ": unknown layer '", r.layer, "'"));
  if (r.node < 0 || r.node >= static_cast<int64_t>(it->second.size())) {
    return Bad(absl::StrCat(what, ": layer '", r.layer, "' has no node ", r.node));
  }
  if (r.tensor != 0) {
    return Bad(absl::StrCat(what, ": layer '", r.layer, "' has one output, not tensor ", r.tensor));
  }
  return it->second[r.node];
}

absl::StatusOr<std::unique_ptr<Model>> FunctionalFromConfig(const json& config) {
  if (!config.is_object()) return Bad("a functional model's \"config\" must be an object");
  auto layers = config.find("layers");
  if (layers == config.end() || !layers->is_array()) {
    return Bad("a functional model's config needs a \"layers\" list");
  }
  std::string name;
  if (config.contains("name") && config["name"].is_string())
    name = config["name"].get<std::string>();
  auto graph = Graph::Create();
  std::vector<LayerEntry> entries;
  absl::flat_hash_map<std::string, std::shared_ptr<Layer>> made;
  NodeOutputs outputs;
  std::vector<std::vector<std::vector<TensorRef>>> pending;  // per entry, its nodes to call
  for (size_t i = 0; i < layers->size(); ++i) {
    const json& j = (*layers)[i];
    KILN_ASSIGN_OR_RETURN(LayerEntry e, ParseEntry(j, i));
    if (outputs.contains(e.name)) return InLayer(e.name, Bad("the name is used twice"));
    std::vector<std::vector<TensorRef>> nodes;
    const json inbound = j.contains("inbound_nodes") ? j["inbound_nodes"] : json::array();
    if (!inbound.is_array()) return InLayer(e.name, Bad("\"inbound_nodes\" must be a list"));
    for (const json& node : inbound) {
      if (!node.is_array() || node.empty()) {
        return InLayer(
            e.name,
            Bad(absl::StrCat(
                "each inbound node must be a list of [\"layer\", node_index, tensor_index, {}] "
                "entries, got ",
                Show(node))));
      }
      std::vector<TensorRef> refs;
      for (const json& ref : node) {
        absl::StatusOr<TensorRef> r = ParseRef(ref, "an inbound entry");
        if (!r.ok()) return InLayer(e.name, r.status());
        refs.push_back(*std::move(r));
      }
      nodes.push_back(std::move(refs));
    }
    if (e.class_name == "InputLayer") {
      if (!nodes.empty()) return InLayer(e.name, Bad("an InputLayer has no inbound nodes"));
      absl::StatusOr<Tensor> x = InputFromKerasConfig(e.config, graph);
      if (!x.ok()) return InLayer(e.name, x.status());
      outputs[e.name] = {*x};
    } else {
      KILN_ASSIGN_OR_RETURN(made[e.name], MakeLayer(e));
      outputs[e.name] = {};
    }
    pending.push_back(std::move(nodes));
    entries.push_back(std::move(e));
  }
  // Every inbound layer must exist.
  for (size_t i = 0; i < entries.size(); ++i) {
    for (const auto& node : pending[i]) {
      for (const TensorRef& r : node) {
        if (!outputs.contains(r.layer)) {
          return InLayer(entries[i].name,
                         Bad(absl::StrCat("inbound layer '", r.layer, "' is not defined")));
        }
      }
    }
  }
  // Call the layers, each node once its inputs exist (as Keras from_config).
  std::vector<size_t> next(entries.size(), 0);
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = 0; i < entries.size(); ++i) {
      while (next[i] < pending[i].size()) {
        std::vector<Tensor> inputs;
        bool ready = true;
        for (const TensorRef& r : pending[i][next[i]]) {
          if (r.node >= static_cast<int64_t>(outputs[r.layer].size())) {
            ready = false;
            break;
          }
          absl::StatusOr<Tensor> t = Resolve(outputs, r, "inbound entry");
          if (!t.ok()) return InLayer(entries[i].name, t.status());
          inputs.push_back(*t);
        }
        if (!ready) break;
        Tensor y = (*made[entries[i].name])(inputs);
        if (!y.ok()) return InLayer(entries[i].name, graph->status());
        outputs[entries[i].name].push_back(y);
        ++next[i];
        progress = true;
      }
    }
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (next[i] < pending[i].size()) {
      for (const TensorRef& r : pending[i][next[i]]) {
        if (r.node >= static_cast<int64_t>(outputs[r.layer].size())) {
          return InLayer(entries[i].name,
                         Bad(absl::StrCat("inbound layer '", r.layer, "' never gets node ", r.node,
                                          " (a missing or circular connection)")));
        }
      }
    }
  }
  std::vector<Tensor> inputs, results;
  KILN_ASSIGN_OR_RETURN(std::vector<TensorRef> in_refs, ParseRefList(config, "input_layers"));
  KILN_ASSIGN_OR_RETURN(std::vector<TensorRef> out_refs, ParseRefList(config, "output_layers"));
  for (const TensorRef& r : in_refs) {
    KILN_ASSIGN_OR_RETURN(Tensor t, Resolve(outputs, r, "input_layers"));
    inputs.push_back(t);
  }
  for (const TensorRef& r : out_refs) {
    KILN_ASSIGN_OR_RETURN(Tensor t, Resolve(outputs, r, "output_layers"));
    results.push_back(t);
  }
  auto model = std::make_unique<Model>(std::move(inputs), std::move(results), name);
  KILN_RETURN_IF_ERROR(model->status());
  ApplyTrainable(entries, *model);
  return model;
}

absl::StatusOr<std::unique_ptr<Model>> FromJson(const json& root) {
  if (!root.is_object() || !root.contains("class_name") || !root["class_name"].is_string()) {
    return Bad("expected {\"class_name\": ..., \"config\": {...}} at the top level");
  }
  const std::string class_name = root["class_name"].get<std::string>();
  if (!root.contains("config")) return Bad(absl::StrCat(class_name, ": missing \"config\""));
  if (class_name == "Sequential") return SequentialFromConfig(root["config"]);
  if (class_name == "Functional" || class_name == "Model") {
    return FunctionalFromConfig(root["config"]);
  }
  return Bad(absl::StrCat("unknown model class '", class_name,
                          "' (expected Sequential, Functional or Model)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> ModelFromKerasJson(absl::string_view text,
                                                          absl::string_view source) {
  absl::StatusOr<std::unique_ptr<Model>> model;
  // nlohmann reports problems by exceptions; kiln stops them here.
  try {
    const json root = json::parse(text.begin(), text.end());
    model = FromJson(root);
  } catch (const json::parse_error& e) {
    model = Bad(absl::StrCat("malformed JSON: ", e.what()));
  } catch (const json::exception& e) {
    model = Bad(absl::StrCat("unexpected JSON content: ", e.what()));
  }
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat(source, ": ", model.status().message()));
  }
  return model;
}

absl::StatusOr<std::unique_ptr<Model>> LoadKerasModel(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ModelFromKerasJson(text, path);
}

}  // namespace kiln
