// What Model::Compile keeps (the optimizer, each output's loss, weight and
// metrics, the compiled training and test programs) and the helpers of
// layers/model_training*.cc. Internal to layers/: model.cc needs the
// complete type for Model's members.
//
//   training_->train[key].program->RunInto(feeds, variables, outputs);
//   KILN_ASSIGN_OR_RETURN(std::optional<Buffer> w, BatchSampleWeights(weights, y[0], rows, what));
#ifndef KILN_LAYERS_MODEL_TRAINING_INTERNAL_H_
#define KILN_LAYERS_MODEL_TRAINING_INTERNAL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codegen/executable.h"
#include "layers/model.h"

namespace kiln {

// One output as compiled.
struct CompiledOutput {
  std::string name;  // Keras' output name: the layer's
  Loss loss;         // undefined: not trained
  double loss_weight = 1.0;
  std::vector<Metric> metrics;
  std::vector<Metric> weighted_metrics;
  // Their log names (Keras' MetricsContainer naming).
  std::vector<std::string> metric_names;
  std::vector<std::string> weighted_metric_names;
};

// Sets every output's metric_names and weighted_metric_names as Keras 2.x
// names them; InvalidArgument when two metrics end up with one name.
absl::Status NameMetrics(std::vector<CompiledOutput>& outputs);

struct Model::TrainingSetup {
  struct Program {
    std::unique_ptr<Executable> program;
    int64_t optimizer_version = -1;  // Optimizer::program_version() when built
    std::vector<std::string> names;  // of the first results, in log order
    // Per name: the result holding its batch weight (a weighted metric's
    // sum of weights), or -1: the batch's rows.
    std::vector<int> weight_results;
  };
  std::shared_ptr<Optimizer> optimizer;
  std::vector<CompiledOutput> outputs;  // one per model output
  ExecutableOptions options;
  // By label types and sample weight type ("f32[N,10]|none"): each kind of
  // batch compiles once.
  std::map<std::string, Program> train;
  std::map<std::string, Program> test;
  std::vector<Buffer> results;  // reused across steps
};

// The inputs that carry the labels ("kiln.labels.<i>") and the sample
// weights ("kiln.sample_weight.<i>") of output i in training and test
// programs.
std::string LabelsInputName(size_t output);
std::string SampleWeightInputName(size_t output);

// The per-sample weights of a batch of `rows` rows as an f32 buffer:
// weights.sample_weight (any numeric dtype, `rows` rows) times the class
// weight of each row's label in `labels` (class indices, or one-hot rows),
// Keras' class_weight; nullopt when neither is given. `what` prefixes errors.
absl::StatusOr<std::optional<Buffer>> BatchSampleWeights(const BatchWeights& weights,
                                                         const Buffer* labels, int64_t rows,
                                                         absl::string_view what);

// The step's scalar results in log order: "loss" (the loss-weighted sum
// plus the regularization), "<output>_loss" per trained output when the
// model has several outputs, then each output's metrics and weighted
// metrics; after the named values, the weighted metrics' sums of weights.
// `labels` has one input per output (undefined for an untrained output),
// `sample_weights` one or none (undefined) per output.
struct StepResults {
  std::vector<std::string> names;
  std::vector<Tensor> values;       // names.size() logged values, then the weight sums
  std::vector<int> weight_results;  // per name: index into values, or -1
};
StepResults BuildStepResults(absl::Span<const CompiledOutput> outputs,
                             absl::Span<const Tensor> model_outputs,
                             absl::Span<const Tensor> labels,
                             absl::Span<const Tensor> sample_weights,
                             const Tensor& regularization);

}  // namespace kiln

#endif  // KILN_LAYERS_MODEL_TRAINING_INTERNAL_H_
