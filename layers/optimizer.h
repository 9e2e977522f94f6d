// Optimizer: the base of SGD, Adam, AdamW, RMSprop and Adagrad
// (layers/optimizers.h). An optimizer turns gradients into graph updates
// with the tf.keras 2.11+ formulas; the compiled training step applies
// them in place. Its state (iterations, moments) lives in buffers it owns,
// created on first use for each weight and named like Keras' checkpoint
// entries ("iterations", "m/dense/kernel"); in graphs they are variables
// named "<optimizer>/<state>" ("Adam/m/dense/kernel").
//
//   auto adam = std::make_shared<Adam>(AdamOptions{.learning_rate = 1e-3});
//   KILN_RETURN_IF_ERROR(model.Compile(adam, "mse"));
//   adam->SetLearningRate(1e-4);                  // fed: no recompilation
//   for (auto& [name, buffer] : adam->Variables()) Save(name, *buffer);
//
//   // A custom loop: gradients as buffers, one compiled program per weight set.
//   KILN_RETURN_IF_ERROR(adam->Apply(gradients, model.trainable_weights()));
//
// The learning rate is either a constant, fed to the program as the f32
// scalar input "<optimizer>/learning_rate" (SetLearningRate changes the
// buffer, not the program), or a LearningRateSchedule evaluated in the
// graph from `iterations` (the number of updates applied before this one).
// weight_decay (AdamW's decoupled decay; any optimizer accepts it, as in
// Keras 2.11+) first scales each weight by (1 - lr * weight_decay).
//
// Gradient clipping (Keras 2.11+, in the graph, before the update): clipnorm
// scales each gradient g to g * c / max(|g|, c) (its own L2 norm); else
// global_clipnorm scales every gradient by c / max(global norm, c), the
// norm of all gradients together; else clipvalue clips each element to
// [-c, c]. Unset or 0 means no clipping; clipnorm and global_clipnorm
// together, or a negative value, are constructor errors.
//
//   auto sgd = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .global_clipnorm = 1.0});
#ifndef KILN_LAYERS_OPTIMIZER_H_
#define KILN_LAYERS_OPTIMIZER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "codegen/executable.h"
#include "graph/buffer.h"
#include "graph/tensor.h"
#include "layers/layer.h"
#include "layers/learning_rate_schedule.h"
#include "nlohmann/json.hpp"

namespace kiln {

// The clipping arguments every optimizer takes (as in Keras).
struct GradientClipping {
  std::optional<double> clipnorm;
  std::optional<double> clipvalue;
  std::optional<double> global_clipnorm;
};

class Optimizer {
 public:
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // The Keras class name ("Adam").
  const std::string& name() const { return name_; }
  // OK, or the constructor argument Keras would reject (Compile returns it).
  const absl::Status& status() const { return status_; }

  // The constant learning rate (with a schedule: its initial value is not
  // known here, and this returns the last constant set, or NaN).
  double learning_rate() const;
  // Sets a constant rate. Replacing a schedule changes the programs (the
  // next step recompiles); changing a constant does not.
  void SetLearningRate(double learning_rate);
  const SchedulePtr& schedule() const { return schedule_; }
  double weight_decay() const { return weight_decay_; }
  const GradientClipping& clipping() const { return clipping_; }
  // Updates applied so far.
  int64_t iterations() const;

  // Every state buffer with its checkpoint name: "iterations" first, then
  // each slot kind for every weight seen, in Keras order ("m/dense/kernel",
  // "m/dense/bias", "v/dense/kernel", ...). The pointers stay valid for the
  // optimizer's life; writing them (loading a checkpoint) is allowed.
  std::vector<std::pair<std::string, Buffer*>> Variables();

  // Creates the state of `weights` not seen yet (Keras optimizer.build), so
  // Variables() lists it before the first step (to restore a checkpoint).
  // Model::Compile calls it with the trainable weights.
  void Build(absl::Span<Weight* const> weights);

  // {"class_name": "Adam", "config": {...}} like tf.keras' serialize.
  nlohmann::json GetConfig() const;

  // ---- Building training steps (used by Model and Apply). ----

  // The updates for `weights` (graph variables of one graph, named like the
  // layers' weights) from their gradients: each weight's new value (before
  // constraints, which are the caller's), the new state, iterations + 1.
  // Creates the state buffers of weights it has not seen.
  absl::StatusOr<std::vector<VariableUpdate>> BuildUpdates(absl::Span<const Tensor> weights,
                                                           absl::Span<const Tensor> gradients);
  // Adds what a program built by BuildUpdates reads: the learning rate.
  void AddFeeds(Feeds& feeds) const;
  // Adds the state buffers under their graph names.
  void AddVariables(MutableFeeds& variables);
  // Changes whenever the updates BuildUpdates builds would change (a
  // schedule replaced by a constant): cached programs are then stale.
  int64_t program_version() const { return program_version_; }

  // Applies `gradients` (one buffer per weight, the weight's shape) to
  // `weights` in place, then their constraints, with one compiled program
  // per list of weights (cached). Backend: options, else KILN_BACKEND.
  absl::Status Apply(absl::Span<const Buffer* const> gradients, absl::Span<Weight* const> weights,
                     const ExecutableOptions& options = {});

 protected:
  // A state slot per weight: its name ("m") and initial value.
  struct SlotKind {
    std::string name;
    double initial_value = 0;
  };
  // The state and step values an update sees.
  struct StepContext {
    Tensor learning_rate;  // f32 scalar
    Tensor local_step;     // f32 scalar: iterations + 1
  };
  // The graph variable of slot `slot` (e.g. "m") of a weight, and how to set it.
  class Slots {
   public:
    virtual ~Slots() = default;
    virtual Tensor Get(absl::string_view slot) = 0;
    virtual void Set(absl::string_view slot, const Tensor& new_value) = 0;
  };

  Optimizer(std::string name, double learning_rate, SchedulePtr schedule, double weight_decay,
            GradientClipping clipping = {});
  // Records a bad constructor argument (the first is kept).
  void ConfigError(absl::Status error) {
    if (status_.ok()) status_ = std::move(error);
  }

  // The slots every weight has (Keras creation order).
  virtual std::vector<SlotKind> SlotKinds() const = 0;
  // The weight's new value from its gradient; sets the slots' new values.
  virtual Tensor UpdateStep(const Tensor& weight, const Tensor& gradient,
                            const StepContext& step, Slots& slots) const = 0;
  // The optimizer's own config entries (besides the learning rate and
  // weight decay).
  virtual nlohmann::json OwnConfig() const = 0;

 private:
  class GraphSlots;
  struct CompiledApply;

  std::string GraphName(absl::string_view state) const { return name_ + "/" + std::string(state); }
  Buffer& State(const std::string& checkpoint_name, const Shape& shape, DType dtype,
                double initial_value);
  // The slots of weights (by name and shape), in Keras order.
  void CreateSlots(absl::Span<const std::string> names, absl::Span<const Shape> shapes);
  // The gradients after clipping_ (the same tensors when there is none).
  std::vector<Tensor> ClipGradients(absl::Span<const Tensor> gradients) const;

  std::string name_;
  absl::Status status_;
  SchedulePtr schedule_;
  double weight_decay_ = 0;
  GradientClipping clipping_;
  int64_t program_version_ = 0;
  Buffer learning_rate_;  // f32 scalar, fed
  // State buffers by checkpoint name; order_ keeps Keras order.
  std::map<std::string, std::unique_ptr<Buffer>> state_;
  std::vector<std::string> order_;
  std::map<std::string, std::unique_ptr<CompiledApply>> applies_;  // by weight list
};

}  // namespace kiln

#endif  // KILN_LAYERS_OPTIMIZER_H_
