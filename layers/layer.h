// Layer: the Keras layer contract for C++ (build on first call, weights,
// masks, losses), and the handle users call layers through.
//
//   auto dense = MakeLayer<Dense>(64, DenseOptions{.activation = "relu"});
//   Tensor h = dense(x);          // first call: Build creates kernel and bias
//   dense->weights()[0].name == "dense/kernel"
//
// A custom layer subclasses Layer: Build creates weights with AddWeight, Call
// builds graph nodes from the inputs and WeightTensor(...); it gets
// gradients, fusion and both backends for free. Layer errors poison the
// graph like op errors: "[dense] in layer 'dense_1' (model.cc:42): ...".
//
// Per-graph bookkeeping (which layers were called, masks, activity losses,
// the learning-phase input) lives in a LayerGraphState attached to the graph.
#ifndef KILN_LAYERS_LAYER_H_
#define KILN_LAYERS_LAYER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "graph/build_context.h"
#include "graph/buffer.h"
#include "graph/evaluate.h"
#include "graph/graph.h"
#include "layers/constraints.h"
#include "layers/initializers.h"
#include "layers/regularizers.h"

namespace kiln {

class Layer;

// A weight of a layer: its value lives on the host between steps; in a
// graph it is the variable node named `name` ("<layer>/<weight>", also the
// key in .npz weight files).
struct Weight {
  std::string name;
  Buffer value;
  bool trainable = true;
  Regularizer regularizer;  // loss added to the objective (may be empty)
  Constraint constraint;    // applied after each optimizer update (may be empty)
};

// What the layers library records per graph (a Graph attachment). Node ids
// only: the graph owns it, so it holds no Tensor (no reference cycle).
struct LayerCall {
  Layer* layer;
  std::vector<NodeId> inputs;
  NodeId output;
  NodeId activity_loss = kNoNode;  // this call's activity penalty, if any
};

struct LayerGraphState {
  std::vector<std::shared_ptr<Layer>> layers;       // called here, first call first
  std::vector<LayerCall> calls;                      // every call, in order
  absl::flat_hash_map<NodeId, NodeId> masks;         // output -> its mask
  std::vector<NodeId> activity_losses;               // scalar losses of this graph's calls
  absl::flat_hash_map<std::string, NodeId> variables;  // weight name -> variable node
  NodeId learning_phase = kNoNode;                   // bool scalar input
  NodeId step_counter = kNoNode;                     // i64 scalar input
  Buffer step_value;                                 // what LayerFeeds feeds it
};

// The learning-phase input of a graph: a bool scalar named "kiln.training"
// (true in training steps). Dropout and friends read it.
Tensor LearningPhase(const std::shared_ptr<Graph>& graph);
inline constexpr char kLearningPhaseName[] = "kiln.training";

// The random-number counter of a graph: an i64 scalar input named
// "kiln.step" (the training step). Dropout masks are drawn from
// (seed, step, stream), so they change from step to step and repeat for
// the same step. Created on first use.
Tensor StepCounter(const std::shared_ptr<Graph>& graph);
inline constexpr char kStepCounterName[] = "kiln.step";

// The mask Keras attaches to `t`, or an undefined Tensor.
Tensor MaskOf(const Tensor& t);

// Feeds for running a graph built from layers: every called layer's
// weights by name, the learning phase and the step counter (`step`; the
// value lives in the graph's LayerGraphState, so the latest call wins).
Feeds LayerFeeds(const std::shared_ptr<Graph>& graph, bool training, int64_t step = 0);

struct CallContext {
  std::vector<Tensor> masks;  // one per input; undefined where none
  Tensor training;            // LearningPhase(graph)
};

class Layer : public std::enable_shared_from_this<Layer> {
 public:
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  // The Keras class name ("Dense").
  const std::string& class_name() const { return class_name_; }
  bool built() const { return built_; }
  std::vector<Weight>& weights() { return weights_; }
  const std::vector<Weight>& weights() const { return weights_; }

  // Calls the layer (building it on the first call) on one or several
  // tensors of one graph. Errors poison the graph and give a poisoned tensor.
  Tensor operator()(const Tensor& x, SourceLoc loc = SourceLoc::current());
  Tensor operator()(const std::vector<Tensor>& xs, SourceLoc loc = SourceLoc::current());

  void set_activity_regularizer(Regularizer r) { activity_regularizer_ = std::move(r); }
  // The error Keras would raise in the constructor (bad argument), reported
  // when the layer is called; OK when the arguments are fine.
  const absl::Status& config_status() const { return config_status_; }

 protected:
  // `name` empty: a unique default from the class name ("dense", "dense_1").
  Layer(absl::string_view class_name, absl::string_view name);

  // Creates weights for the first inputs' types.
  virtual absl::Status Build(absl::Span<const TensorType> inputs) { return absl::OkStatus(); }
  // Builds the layer's nodes; a shape or argument error is a Status.
  virtual absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs,
                                      const CallContext& ctx) = 0;
  // The output mask; by default the first input's mask when the layer
  // supports masking, else none (Keras drops it silently).
  virtual Tensor ComputeMask(absl::Span<const Tensor> inputs, absl::Span<const Tensor> masks);

  // Adds a weight initialized from `initializer`; returns its index.
  absl::StatusOr<int> AddWeight(absl::string_view name, const Shape& shape,
                                const InitializerPtr& initializer,
                                Regularizer regularizer = nullptr,
                                Constraint constraint = nullptr, bool trainable = true);
  // Weight `index` as a variable node of `graph` (one node per graph).
  Tensor WeightTensor(const std::shared_ptr<Graph>& graph, int index);

  // Records a constructor argument error (the first one is kept).
  void ConfigError(absl::Status error) {
    if (config_status_.ok()) config_status_ = std::move(error);
  }
  // Stores a checked constructor argument in `out`, or records its error;
  // returns whether it was fine.
  template <typename T>
  bool ConfigValue(absl::StatusOr<T> value, T& out) {
    if (!value.ok()) {
      ConfigError(value.status());
      return false;
    }
    out = *std::move(value);
    return true;
  }

  bool supports_masking_ = false;

 private:
  absl::Status config_status_;
  std::string class_name_;
  std::string name_;
  bool built_ = false;
  std::vector<Weight> weights_;
  Regularizer activity_regularizer_;
};

// The Keras default name of a class: snake case ("Conv2D" -> "conv2d",
// "MaxPooling2D" -> "max_pooling2d"), then "_1", "_2", ... on repeats within
// the process.
std::string UniqueLayerName(absl::string_view class_name);
// Restarts those counters (ClearSession, like keras.backend.clear_session).
void ResetLayerNames();

// A shared handle that calls its layer: `MakeLayer<Dense>(10)(x)`.
template <typename T>
class LayerHandle {
 public:
  explicit LayerHandle(std::shared_ptr<T> layer) : layer_(std::move(layer)) {}
  Tensor operator()(const Tensor& x, SourceLoc loc = SourceLoc::current()) const {
    return (*layer_)(x, loc);
  }
  Tensor operator()(const std::vector<Tensor>& xs, SourceLoc loc = SourceLoc::current()) const {
    return (*layer_)(xs, loc);
  }
  T* operator->() const { return layer_.get(); }
  T& operator*() const { return *layer_; }
  const std::shared_ptr<T>& get() const { return layer_; }

 private:
  std::shared_ptr<T> layer_;
};

template <typename T, typename... Args>
LayerHandle<T> MakeLayer(Args&&... args) {
  return LayerHandle<T>(std::make_shared<T>(std::forward<Args>(args)...));
}

}  // namespace kiln

#endif  // KILN_LAYERS_LAYER_H_
