#include "layers/input_layer.h"

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

std::shared_ptr<Graph>& ThreadGraph() {
  thread_local std::shared_ptr<Graph> graph;
  return graph;
}

std::atomic<int>& InputCount() {
  static std::atomic<int> count{0};
  return count;
}

bool HasInputNamed(const Graph& graph, const std::string& name) {
  for (const Node& node : graph.nodes()) {
    if (node.op == &kInputOp && node.attrs.GetOr<std::string>("name", "") == name) return true;
  }
  return false;
}

// The full shape (batch first) the options and `shape` describe.
absl::StatusOr<Shape> FullShape(const std::vector<int64_t>& shape, const InputOptions& options) {
  if (options.batch_shape.has_value() && !shape.empty()) {
    return absl::InvalidArgumentError(
        "only provide the shape or the batch_shape argument to Input, not both");
  }
  if (options.sparse && options.ragged) {
    return absl::InvalidArgumentError("cannot set both sparse and ragged to true in an Input");
  }
  if (options.sparse) return absl::UnimplementedError("sparse inputs are not supported");
  if (options.ragged) return absl::UnimplementedError("ragged inputs are not supported");
  if (options.batch_size.has_value() && *options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be a positive integer, got ", *options.batch_size));
  }
  std::vector<int64_t> dims;
  if (options.batch_shape.has_value()) {
    if (options.batch_shape->empty()) {
      return absl::InvalidArgumentError("batch_shape must start with the batch axis, got ()");
    }
    if (options.batch_size.has_value()) {
      return absl::InvalidArgumentError(
          "only provide the batch_size or the batch_shape argument to Input, not both");
    }
    dims = *options.batch_shape;
    if (dims[0] < 0) dims[0] = Shape::kBatch;
  } else {
    dims.push_back(options.batch_size.value_or(Shape::kBatch));
    dims.insert(dims.end(), shape.begin(), shape.end());
  }
  for (size_t i = 1; i < dims.size(); ++i) {
    if (dims[i] < 0) {
      std::vector<std::string> shown;
      for (size_t j = 1; j < dims.size(); ++j) {
        shown.push_back(dims[j] < 0 ? "None" : absl::StrCat(dims[j]));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("shape (", absl::StrJoin(shown, ", "), ") has an unknown dimension at axis ",
                       i, ": kiln needs every dimension except the batch axis"));
    }
  }
  return Shape(std::move(dims));
}

absl::StatusOr<DType> DTypeFromKeras(const nlohmann::json& j) {
  std::string name;
  if (j.is_string()) {
    name = j.get<std::string>();
  } else if (j.is_object() && j.contains("config") && j["config"].is_object() &&
             j["config"].contains("name") && j["config"]["name"].is_string()) {
    name = j["config"]["name"].get<std::string>();  // a DTypePolicy object
  } else if (j.is_null()) {
    return DType::kF32;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("dtype must be a string, got ", j.dump()));
  }
  if (name == "float32") return DType::kF32;
  if (name == "int32") return DType::kI32;
  if (name == "int64") return DType::kI64;
  if (name == "bool") return DType::kBool;
  return absl::InvalidArgumentError(
      absl::StrCat("dtype '", name, "' is not supported (float32, int32, int64 or bool)"));
}

// A JSON shape list (null entries: -1).
absl::StatusOr<std::vector<int64_t>> ShapeFromJson(const nlohmann::json& j, absl::string_view key) {
  if (j.is_number_integer()) return std::vector<int64_t>{j.get<int64_t>()};
  if (!j.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("InputLayer: '", key, "' must be a list, got ", j.dump()));
  }
  std::vector<int64_t> dims;
  for (const nlohmann::json& d : j) {
    if (d.is_null()) {
      dims.push_back(-1);
    } else if (d.is_number_integer()) {
      dims.push_back(d.get<int64_t>());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("InputLayer: '", key, "' must hold integers or null, got ", j.dump()));
    }
  }
  return dims;
}

}  // namespace

std::shared_ptr<Graph> CurrentGraph() {
  std::shared_ptr<Graph>& graph = ThreadGraph();
  if (graph == nullptr) graph = Graph::Create();
  return graph;
}

void ClearSession() {
  ThreadGraph() = Graph::Create();
  InputCount() = 0;
  ResetLayerNames();
}

Tensor Input(const std::vector<int64_t>& shape, InputOptions options, SourceLoc loc) {
  std::shared_ptr<Graph> graph = options.graph != nullptr ? options.graph : CurrentGraph();
  const std::string name =
      options.name.empty() ? absl::StrCat("input_", ++InputCount()) : options.name;
  LayerScope scope(name, loc);
  absl::StatusOr<Shape> full = FullShape(shape, options);
  if (!full.ok()) return graph->Fail("input", full.status(), loc);
  if (HasInputNamed(*graph, name)) {
    return graph->Fail(
        "input",
        absl::AlreadyExistsError(absl::StrCat("this graph already has an input named '", name,
                                              "'; choose another name or call ClearSession()")),
        loc);
  }
  Tensor t = Input(graph, name, options.dtype, *full, loc);
  if (!t.ok()) return t;
  auto layer = std::make_shared<InputLayer>(name);
  LayerGraphState& state = graph->Attachment<LayerGraphState>();
  state.layers.push_back(layer);
  state.calls.push_back(LayerCall{layer.get(), {}, t.id()});
  return t;
}

absl::StatusOr<Tensor> InputLayer::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  return absl::FailedPreconditionError(
      "an InputLayer is not called: Input(shape) makes its tensor");
}

InputLayer* InputLayerOf(const Tensor& t) {
  if (!t.ok()) return nullptr;
  const LayerGraphState& state = t.graph()->Attachment<LayerGraphState>();
  for (const LayerCall& call : state.calls) {
    if (call.output == t.id() && call.inputs.empty()) {
      if (auto* input = dynamic_cast<InputLayer*>(call.layer)) return input;
    }
  }
  return nullptr;
}

absl::StatusOr<Tensor> InputFromKerasConfig(const nlohmann::json& config,
                                            const std::shared_ptr<Graph>& graph) {
  if (!config.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("InputLayer: \"config\" must be an object, got ", config.dump()));
  }
  KerasObject object{"InputLayer", config};
  KerasArgs args(object, "layer");
  InputOptions options;
  options.graph = graph;
  KILN_ASSIGN_OR_RETURN(options.name, args.String("name", ""));
  const nlohmann::json batch_input_shape = args.Raw("batch_input_shape");
  const nlohmann::json batch_shape = args.Raw("batch_shape");
  const nlohmann::json input_shape = args.Raw("input_shape");
  const nlohmann::json batch_size = args.Raw("batch_size");
  const int given = !batch_input_shape.is_null() + !batch_shape.is_null() + !input_shape.is_null();
  if (given > 1) {
    return args.Error("only provide the input_shape or the batch_input_shape argument, not both");
  }
  if (given == 0) return args.Error("needs a shape: batch_input_shape or input_shape");
  std::vector<int64_t> shape;
  if (!input_shape.is_null()) {
    KILN_ASSIGN_OR_RETURN(shape, ShapeFromJson(input_shape, "input_shape"));
    if (!batch_size.is_null()) {
      if (!batch_size.is_number_integer()) return args.ArgError("batch_size", "must be an integer");
      options.batch_size = batch_size.get<int64_t>();
    }
  } else {
    const bool legacy = !batch_input_shape.is_null();
    KILN_ASSIGN_OR_RETURN(options.batch_shape,
                          ShapeFromJson(legacy ? batch_input_shape : batch_shape,
                                        legacy ? "batch_input_shape" : "batch_shape"));
  }
  absl::StatusOr<DType> dtype = DTypeFromKeras(args.Raw("dtype"));
  if (!dtype.ok()) return args.ArgError("dtype", dtype.status().message());
  options.dtype = *dtype;
  for (const char* flag : {"sparse", "ragged"}) {
    const nlohmann::json v = args.Raw(flag);
    if (v.is_null()) continue;
    if (!v.is_boolean()) return args.ArgError(flag, "must be true or false");
    (std::string(flag) == "sparse" ? options.sparse : options.ragged) = v.get<bool>();
  }
  KILN_RETURN_IF_ERROR(args.CheckNoneLeft());
  Tensor t = Input(shape, options);
  if (!t.ok()) return graph->status();
  return t;
}

}  // namespace kiln
