// Keras `Input` for the functional API (spec 2.1): a symbolic tensor with
// the batch axis in front, made by an InputLayer in the thread's current
// graph.
//
//   Tensor x = Input({28, 28, 1});                    // f32 [N,28,28,1], "input_1"
//   Tensor ids = Input({10}, {.name = "ids", .dtype = DType::kI32});
//   Tensor fixed = Input({4}, {.batch_size = 32});    // f32 [32,4]
//   ClearSession();   // a fresh current graph; names restart (input_1, dense)
//
// Each thread has a current graph that Input() adds to (created on first
// use); ClearSession() replaces it, like keras.backend.clear_session. The
// input node's name (its feed name) is the layer name, so names must be
// unique within a graph. kiln shapes know every dimension except the batch:
// an unknown (-1) entry anywhere else is an error. Errors (spec 2.1: shape
// with batch_shape, sparse with ragged, ...) poison the graph and return a
// poisoned tensor: "[input] in layer 'input_3': ...".
//
// `Input` overloads the raw graph-input op builder of ops/ops.h,
// Input(graph, name, dtype, shape); the argument lists never collide.
#ifndef KILN_LAYERS_INPUT_LAYER_H_
#define KILN_LAYERS_INPUT_LAYER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

// The thread's current graph (created on first use).
std::shared_ptr<Graph> CurrentGraph();
// Starts a fresh current graph and restarts the default names of inputs
// and layers.
void ClearSession();

struct InputOptions {
  // A fixed batch size: dimension 0 is `batch_size` instead of N.
  std::optional<int64_t> batch_size;
  std::string name;  // "" : input_1, input_2, ...
  DType dtype = DType::kF32;
  // Legacy Keras `batch_shape`: the full shape, batch first (-1: unknown).
  // Not together with a non-empty `shape`.
  std::optional<std::vector<int64_t>> batch_shape;
  bool sparse = false;           // kiln has no sparse tensors
  bool ragged = false;           // nor ragged ones
  std::shared_ptr<Graph> graph;  // null: CurrentGraph()
};

// `shape` excludes the batch axis.
Tensor Input(const std::vector<int64_t>& shape, InputOptions options = {},
             SourceLoc loc = SourceLoc::current());

// The layer behind an Input tensor (Keras InputLayer): no weights, never
// called; models list it and Summary prints it. Input() records it as a
// call with no inputs in the graph's LayerGraphState.
class InputLayer : public Layer {
 public:
  explicit InputLayer(std::string name) : Layer("InputLayer", name) { supports_masking_ = true; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;
};

// The InputLayer that made `t`, or null when `t` is not an Input tensor.
InputLayer* InputLayerOf(const Tensor& t);

// An Input from a Keras InputLayer config ({"batch_input_shape": [null, 4],
// "dtype": "float32", "sparse": false, "ragged": false, "name": "input_1"};
// "batch_shape", "input_shape" and "batch_size" are accepted too), in
// `graph`. Bad or unknown keys: InvalidArgument naming them.
absl::StatusOr<Tensor> InputFromKerasConfig(const nlohmann::json& config,
                                            const std::shared_ptr<Graph>& graph);

}  // namespace kiln

#endif  // KILN_LAYERS_INPUT_LAYER_H_
