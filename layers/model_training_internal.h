// What Model::Compile keeps: the optimizer, loss and metrics, and the
// compiled training and test programs (layers/model_training.cc). Internal
// to layers/: model.cc needs the complete type for Model's members.
//
//   training_->train[label_type_text].program->RunInto(feeds, variables, outputs);
#ifndef KILN_LAYERS_MODEL_TRAINING_INTERNAL_H_
#define KILN_LAYERS_MODEL_TRAINING_INTERNAL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codegen/executable.h"
#include "layers/model.h"

namespace kiln {

struct Model::TrainingSetup {
  struct Program {
    std::unique_ptr<Executable> program;
    int64_t optimizer_version = -1;  // Optimizer::program_version() when built
  };
  std::shared_ptr<Optimizer> optimizer;
  Loss loss;
  std::vector<Metric> metrics;
  ExecutableOptions options;
  // By label type ("f32[N,10]"): labels of another type compile anew.
  std::map<std::string, Program> train;
  std::map<std::string, Program> test;
  std::vector<Buffer> results;  // reused across steps
};

// The input node that carries the labels in training and test programs.
inline constexpr char kLabelsName[] = "kiln.labels";

}  // namespace kiln

#endif  // KILN_LAYERS_MODEL_TRAINING_INTERNAL_H_
