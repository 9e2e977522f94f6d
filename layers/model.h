// Models: the functional `Model(inputs, outputs)` and `Sequential`, as in
// tf.keras 2.x: layers in Keras order, lookup by name, Summary(), weights
// saved to and loaded from .npz, Predict, and the regularization losses.
//
//   Tensor x = Input({784});
//   Tensor h = MakeLayer<Dense>(64, DenseOptions{.activation = "relu"})(x);
//   Model model(x, MakeLayer<Dense>(10)(h));
//   std::cout << model.Summary();                // like model.summary()
//   KILN_RETURN_IF_ERROR(model.SaveWeights("w.npz"));   // "dense/kernel", ...
//   KILN_ASSIGN_OR_RETURN(Buffer y, model.Predict(x_batch));
//
//   Sequential seq;
//   seq.Add(MakeLayer<Dense>(8)).Add(MakeLayer<Dense>(1));
//   KILN_RETURN_IF_ERROR(seq.Build({4}));        // input [N,4]
//
//   KILN_RETURN_IF_ERROR(model.Compile(std::make_shared<Adam>(), "mse", {"mae"}));
//   KILN_ASSIGN_OR_RETURN(Logs logs, model.TrainOnBatch(x_batch, y_batch));
//   // logs: {{"loss", 0.41}, {"mae", 0.52}}
//   logs = *model.TrainOnBatch(x_batch, y_batch, {.sample_weight = &w});   // or .class_weight
//   model.Compile(adam, "mse", {"mae"}, {.weighted_metrics = {"mae"}});
//   // {"loss", ...}, {"mae", ...}, {"weighted_mae", sum(w * ae) / sum(w)}
//
//   // Two outputs (layers "value" and "label"): a loss, weight and metrics each.
//   model.Compile(adam, {{"value", {.loss = "mse", .loss_weight = 0.5}},
//                        {"label", {.loss = "sparse_categorical_crossentropy",
//                                   .metrics = {"accuracy"}}}});
//   const Buffer* labels[] = {&values, &classes};
//   logs = *model.TrainOnBatch(inputs, labels);
//   // {"loss", ...}, {"value_loss", ...}, {"label_loss", ...}, {"label_accuracy", ...}
//
// A model is a view of the graph its tensors live in: it records which layer
// calls lead from its inputs to its outputs (several inputs and outputs,
// shared layers, plain ops between layers are all fine). Errors (an output
// that needs an input the model does not have, inputs that do not come
// from Input(), two layers with one name, a poisoned graph) are kept in
// status() and returned by every method that returns a Status.
#ifndef KILN_LAYERS_MODEL_H_
#define KILN_LAYERS_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "codegen/executable.h"
#include "layers/input_layer.h"
#include "layers/fit.h"
#include "layers/layer.h"
#include "layers/logs.h"
#include "layers/losses.h"
#include "layers/metrics.h"
#include "layers/optimizer.h"

namespace kiln {

struct ArrayData;  // layers/fit_data.h

// Logs (layers/logs.h): what a training or test step reports, in Keras
// order: "loss" (with the regularization losses, as Keras reports it), then
// each metric by name.

struct CompileOptions {
  std::optional<Backend> backend;  // default: KILN_BACKEND, else jit
  int num_threads = 0;             // 0: KILN_NUM_THREADS, else all cores
  // Keras' weighted_metrics, for every output (after an output's own
  // OutputTraining::weighted_metrics).
  std::vector<Metric> weighted_metrics;
};

// The training setup of one output (Compile of a multi-output model).
struct OutputTraining {
  Loss loss;                 // empty: the output is not trained and needs no labels
  double loss_weight = 1.0;  // its factor in "loss" ("<output>_loss" is unweighted)
  std::vector<Metric> metrics;
  // Metrics that weigh each sample by its sample weight (sample_weight
  // times class_weight): sum(w * value) / sum(w), Keras' weighted_metrics.
  std::vector<Metric> weighted_metrics;
};

// Keras' sample_weight and class_weight of train_on_batch / test_on_batch.
// The losses weigh each sample's value (sum_over_batch_size still divides by
// the number of samples, as Keras does); `metrics` are not weighted, the
// `weighted_metrics` of Compile are.
struct BatchWeights {
  // Float, [N] or [N,1], or the per-sample loss shape ([N,T] for [N,T,C]
  // predictions); applies to every output. Null: all ones.
  const Buffer* sample_weight = nullptr;
  // Class index -> weight, with keys 0..K-1 (single-output models): each
  // sample's weight is multiplied by the weight of its class, read from the
  // labels (class indices, or the argmax of one-hot rows).
  std::map<int64_t, double> class_weight;
  // Instead of sample_weight, one buffer (or null: all ones) per output,
  // Keras' list of sample weights for a multi-output model.
  std::vector<const Buffer*> output_sample_weights;
};

struct PredictOptions {
  int64_t batch_size = 32;         // rows per run; the last run may be shorter
  std::optional<Backend> backend;  // default: KILN_BACKEND, else jit
};

class Model {
 public:
  // Functional model; `name` "" is model, model_1, ...
  Model(std::vector<Tensor> inputs, std::vector<Tensor> outputs, std::string name = "");
  Model(const Tensor& input, const Tensor& output, std::string name = "");
  virtual ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const { return name_; }
  // OK, or why the model cannot be used.
  const absl::Status& status() const { return status_; }
  const std::vector<Tensor>& inputs() const { return inputs_; }
  const std::vector<Tensor>& outputs() const { return outputs_; }
  const std::shared_ptr<Graph>& graph() const { return graph_; }

  // Keras order (model.layers): by depth from the inputs, ties in the order
  // a walk back from the outputs meets them; InputLayers included
  // (Sequential: the added layers, no InputLayer).
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }
  // NotFound listing the model's layer names when there is no such layer.
  absl::StatusOr<std::shared_ptr<Layer>> GetLayer(absl::string_view name) const;

  // model.weights: every trainable weight in layer order, then every
  // non-trainable one.
  std::vector<Weight*> weights() const;
  std::vector<Weight*> trainable_weights() const;
  std::vector<Weight*> non_trainable_weights() const;
  int64_t CountParams() const;

  // The model.summary() table of tf_keras 2.15 (the tf.keras 2.x line):
  // "Layer (type)", "Output Shape" like (None, 28, 28, 32), "Param #"
  // (plus "Connected to" unless the model is a plain chain), then the total,
  // trainable and non-trainable parameter counts with their sizes. A model
  // with an error gives its status message instead.
  std::string Summary() const;

  // Runs the outputs on `inputs` (one per model input, batch first) with
  // the learning phase false, `batch_size` rows at a time. Compiled once per
  // backend; each batch size is specialized once.
  absl::StatusOr<std::vector<Buffer>> Predict(absl::Span<const Buffer* const> inputs,
                                              const PredictOptions& options = {});
  // One input, one output.
  absl::StatusOr<Buffer> Predict(const Buffer& input, const PredictOptions& options = {});

  // Every weight as `<layer>/<weight>` in Keras layout, written atomically.
  absl::Status SaveWeights(const std::string& path) const;
  // Reads such a file: each weight of the model must be there with its
  // shape and dtype, and nothing else; on any error no weight changes.
  absl::Status LoadWeights(const std::string& path);

  // The scalar sum (spec 4.2) of every weight regularizer's penalty on the
  // model's variables and the activity penalty of every layer call in the
  // model (one per call of a shared layer); the constant 0 when there is
  // none.
  Tensor RegularizationLoss() const;
  // True when the model has a weight regularizer or an activity penalty.
  bool HasRegularization() const;

  // The graph variable of a model weight (created when no call read it).
  Tensor WeightVariable(const Weight& weight) const;

  // ---- Training (layers/model_training.cc) ----

  // Sets the optimizer, loss and metrics of TrainOnBatch and TestOnBatch.
  // On a multi-output model the loss and metrics apply to every output (as
  // in Keras). Weighted metrics (options.weighted_metrics) are named like
  // Keras 2.x: by their name, or "weighted_<name>" when a metric of that
  // name is also unweighted ("<output>_weighted_<name>" with several
  // outputs); each output logs its metrics, then its weighted metrics.
  // Errors: the model's status, a missing optimizer, an unknown loss or
  // metric name, two metrics with one log name, a bad optimizer argument.
  absl::Status Compile(std::shared_ptr<Optimizer> optimizer, Loss loss,
                       std::vector<Metric> metrics = {}, CompileOptions options = {});
  // One entry per output, in outputs() order (Keras' loss=[...],
  // loss_weights=[...], metrics=[[...], ...]).
  absl::Status Compile(std::shared_ptr<Optimizer> optimizer, std::vector<OutputTraining> outputs,
                       CompileOptions options = {});
  // By output name (output_names(), like Keras' dicts); an output left out
  // is not trained. (A list of pairs, not a map: a braced list of
  // OutputTraining would otherwise be ambiguous.)
  absl::Status Compile(std::shared_ptr<Optimizer> optimizer,
                       std::vector<std::pair<std::string, OutputTraining>> outputs,
                       CompileOptions options = {});
  // Keras' model.output_names: the name of the layer that makes each output
  // ("output_<i>" when a plain op makes it).
  std::vector<std::string> output_names() const;
  bool compiled() const;
  // The optimizer set by Compile (null before).
  const std::shared_ptr<Optimizer>& optimizer() const;

  // One training step on a batch: the forward pass in training mode, the
  // loss plus RegularizationLoss(), gradients, the optimizer update and the
  // weight constraints, as one compiled program (per kind of batch: label
  // types and sample weights; each batch size is specialized once) that
  // updates the weights and the optimizer state in place. Dropout masks are
  // keyed by the optimizer's iterations. As in Keras, labels [N] for a
  // [N,K] output are taken as [N,1].
  // Returns the batch's loss and metrics, computed before the update: "loss"
  // (the loss-weighted sum over the outputs, plus the regularization), then
  // with several outputs "<output>_loss" for each trained output, then the
  // metrics ("<output>_<metric>" with several outputs).
  absl::StatusOr<Logs> TrainOnBatch(absl::Span<const Buffer* const> x, const Buffer& y,
                                    const BatchWeights& weights = {});
  absl::StatusOr<Logs> TrainOnBatch(const Buffer& x, const Buffer& y,
                                    const BatchWeights& weights = {});
  // One label buffer per output (null for an output without a loss).
  absl::StatusOr<Logs> TrainOnBatch(absl::Span<const Buffer* const> x,
                                    absl::Span<const Buffer* const> y,
                                    const BatchWeights& weights = {});
  // The loss and metrics of a batch in inference mode; nothing changes.
  absl::StatusOr<Logs> TestOnBatch(absl::Span<const Buffer* const> x, const Buffer& y,
                                   const BatchWeights& weights = {});
  absl::StatusOr<Logs> TestOnBatch(const Buffer& x, const Buffer& y,
                                   const BatchWeights& weights = {});
  absl::StatusOr<Logs> TestOnBatch(absl::Span<const Buffer* const> x,
                                   absl::Span<const Buffer* const> y,
                                   const BatchWeights& weights = {});

  // ---- Fit and Evaluate (layers/fit.h, layers/fit.cc) ----

  // Keras's model.fit over arrays (x: one per model input, rows first):
  // epochs of batches through TrainOnBatch, validation, callbacks, the
  // progress bar; returns the History of every epoch's logs.
  absl::StatusOr<History> Fit(absl::Span<const Buffer* const> x, const Buffer& y,
                              const FitOptions& options = {});
  absl::StatusOr<History> Fit(const Buffer& x, const Buffer& y, const FitOptions& options = {});
  // One target array per output (null for an output without a loss).
  absl::StatusOr<History> Fit(absl::Span<const Buffer* const> x,
                              absl::Span<const Buffer* const> y, const FitOptions& options = {});
  // Keras's model.evaluate: the loss and metrics over all rows (means
  // weighted by batch size, or by the sums of sample weights for weighted
  // metrics; the last batch may be short).
  absl::StatusOr<Logs> Evaluate(absl::Span<const Buffer* const> x, const Buffer& y,
                                const EvaluateOptions& options = {});
  absl::StatusOr<Logs> Evaluate(const Buffer& x, const Buffer& y,
                                const EvaluateOptions& options = {});
  absl::StatusOr<Logs> Evaluate(absl::Span<const Buffer* const> x,
                                absl::Span<const Buffer* const> y,
                                const EvaluateOptions& options = {});

 protected:
  // For Sequential: no graph yet.
  explicit Model(std::string name, bool sequential);
  // (Re)computes the model's layer calls from inputs_ and outputs_.
  void Init();
  void set_status(absl::Status s) { status_ = std::move(s); }
  // Forgets compiled programs (the model changed).
  void ResetCompiled();

  std::shared_ptr<Graph> graph_;
  std::vector<Tensor> inputs_;
  std::vector<Tensor> outputs_;
  std::vector<std::shared_ptr<Layer>> layers_;

 private:
  // One layer call inside the model (a Keras node).
  struct ModelNode {
    Layer* layer = nullptr;
    int call = -1;             // index in LayerGraphState::calls
    int layer_node_index = 0;  // which call of its layer this is
    std::vector<int> parents;  // model nodes whose outputs it reads
    int depth = 0;
  };

  absl::Status BuildTopology();
  // The model nodes (indices into nodes_) of `layer`.
  std::vector<int> NodesOf(const Layer* layer) const;
  bool SequentialLike() const;
  std::string OutputShapeText(const Layer* layer) const;
  std::string Connections(const Layer* layer) const;
  // Checks arrays against the model's inputs; returns their number of rows
  // (-1 when no input has a batch axis). `what` prefixes errors.
  absl::StatusOr<int64_t> CheckInputArrays(absl::Span<const Buffer* const> inputs,
                                           absl::string_view what) const;
  struct TrainingSetup;
  // ArrayData::Make for Fit and Evaluate: one target array per output, and
  // sample_weight or one output_sample_weights array per output (or
  // neither), named by output; `what` prefixes errors.
  absl::StatusOr<ArrayData> MakeArrayData(
      absl::string_view what, absl::Span<const Buffer* const> x,
      absl::Span<const Buffer* const> y, const Buffer* sample_weight,
      absl::Span<const Buffer* const> output_sample_weights) const;
  // Evaluate's loop (also Fit's validation); `what` prefixes errors.
  absl::StatusOr<Logs> EvaluateArrays(const ArrayData& data, const EvaluateOptions& options,
                                      absl::string_view what);
  absl::Status CompileOutputs(std::shared_ptr<Optimizer> optimizer,
                              std::vector<OutputTraining> outputs, CompileOptions options);
  // TrainOnBatch/TestOnBatch; `log_weights` (when set) gets each log's
  // weight in an epoch mean: the batch's rows, or a weighted metric's sum
  // of sample weights. `caller` prefixes errors (empty: TrainOnBatch or
  // TestOnBatch).
  absl::StatusOr<Logs> RunBatch(bool training, absl::Span<const Buffer* const> x,
                                absl::Span<const Buffer* const> y, const BatchWeights& weights,
                                std::vector<double>* log_weights = nullptr,
                                absl::string_view caller = {});

  std::string name_;
  bool sequential_ = false;
  absl::Status status_;
  std::vector<ModelNode> nodes_;
  absl::flat_hash_map<int, std::unique_ptr<Executable>> compiled_;  // by Backend
  std::unique_ptr<TrainingSetup> training_;  // set by Compile
};

class Sequential : public Model {
 public:
  explicit Sequential(std::string name = "");
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers, std::string name = "");

  // Appends a layer; once the model has an input, calls it on the last
  // output (errors go to status()).
  Sequential& Add(std::shared_ptr<Layer> layer, SourceLoc loc = SourceLoc::current());
  template <typename T>
  Sequential& Add(const LayerHandle<T>& layer, SourceLoc loc = SourceLoc::current()) {
    return Add(std::shared_ptr<Layer>(layer.get()), loc);
  }
  // Adds the input (Keras model.add(Input(...))); only before any layer.
  Sequential& Add(const Tensor& input);
  // Creates the input Input(shape, options) (default name: "<first
  // layer>_input") and calls every layer. Fails when already built.
  absl::Status Build(const std::vector<int64_t>& shape, InputOptions options = {},
                     SourceLoc loc = SourceLoc::current());
  bool built() const { return !inputs_.empty(); }

 private:
  void Rebuild();
  std::vector<std::shared_ptr<Layer>> added_;
  absl::Status add_error_;  // the first misuse of Add, kept
};

}  // namespace kiln

#endif  // KILN_LAYERS_MODEL_H_
