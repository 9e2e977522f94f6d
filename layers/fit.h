// Options of Model::Fit and Model::Evaluate (declared in layers/model.h),
// the tf.keras 2.x training loop over arrays:
//
//   model.Compile(std::make_shared<Adam>(1e-3), "sparse_categorical_crossentropy", {"accuracy"});
//   KILN_ASSIGN_OR_RETURN(History history, model.Fit(images, labels, {
//       .epochs = 5, .batch_size = 100, .validation_split = 0.1,
//       .callbacks = {std::make_shared<EarlyStopping>()}}));
//   history.Values("val_accuracy");
//   KILN_ASSIGN_OR_RETURN(Logs test, model.Evaluate(test_images, test_labels));
//
//   // Per-row weights, and a model with two outputs (one target each):
//   const Buffer* targets[] = {&values, &classes};
//   model.Fit(inputs, targets, {.epochs = 5, .sample_weight = &weights});
//   // Or weights per output (Keras' sample_weight=[w_values, None]):
//   model.Fit(inputs, targets, {.output_sample_weights = {&value_weights, nullptr}});
//
// Fit: epochs initial_epoch .. epochs-1; each runs steps_per_epoch batches
// (0: one pass over the rows, the last batch short), shuffled per pass from
// `seed` unless shuffle is false; the logs of each batch and epoch are the
// running averages over the epoch's samples (Keras's stateful metrics, so
// a short batch counts for its rows; a weighted metric's batches count for
// their sums of weights); then validation (validation_x/y, or the last
// validation_split of the rows and weights, cut before shuffling) adds
// "val_<name>". With steps_per_epoch the epochs continue through the
// passes; like Keras on arrays, the data holds epochs - initial_epoch
// passes: when they run out, Fit prints a warning to `out` (whatever the
// verbosity), ends the epoch with the batches it had (validation and
// callbacks as usual) and stops; Fit still returns the History. That
// epoch's progress bar still ends at steps_per_epoch ("4/4", a full bar,
// the time per step over 4 steps, after 1 batch run), as tf.keras'
// ProgbarLogger finalizes at its planned target (params["steps"]).
// (tf.keras 2.x: its array adapter repeats the data epochs - initial_epoch
// times and DataHandler.catch_stop_iteration logs "Your input ran out of
// data; interrupting training". When the data end exactly at an epoch's
// end Keras still begins the next epoch and ends it at once with the last
// epoch's logs; kiln, which knows the passes ahead, does not begin it.)
// Callbacks see Keras's hook order (layers/callbacks.h); a callback's
// run().stop_training ends training after the epoch. verbose 1 draws the
// progress bar (redrawn on a terminal, one line per epoch in a log), 2
// prints one semi-verbose line per epoch, 0 nothing. A NaN loss does not
// stop Fit (use a callback, as in Keras).
#ifndef KILN_LAYERS_FIT_H_
#define KILN_LAYERS_FIT_H_

#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "graph/buffer.h"
#include "layers/callbacks.h"
#include "layers/logs.h"

namespace kiln {

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  int verbose = 1;
  std::vector<std::shared_ptr<Callback>> callbacks;
  double validation_split = 0;  // ignored when validation targets are set
  // Validation inputs (one per model input) and targets (validation_y, or
  // one per output in validation_ys), with optional per-row weights; not
  // owned.
  std::vector<const Buffer*> validation_x;
  const Buffer* validation_y = nullptr;
  std::vector<const Buffer*> validation_ys;
  const Buffer* validation_sample_weight = nullptr;
  std::vector<const Buffer*> validation_output_sample_weights;  // as output_sample_weights
  int64_t validation_batch_size = 0;  // 0: batch_size
  // Keras sample_weight: the weight of each row ([rows], [rows,1] or the
  // per-sample loss shape), cut, shuffled and split with the rows and passed
  // to TrainOnBatch; validation_split gives the held-out rows their weights.
  // Not owned.
  const Buffer* sample_weight = nullptr;
  // Instead of sample_weight, Keras' list of sample weights of a
  // multi-output model: one array per output, in outputs() order (null:
  // weights of 1 for that output), each weighing its own output's loss and
  // weighted metrics; cut, shuffled and split with the rows like
  // sample_weight. Errors: the wrong number of arrays, an array without the
  // rows of the targets, both forms given. Not owned.
  std::vector<const Buffer*> output_sample_weights;
  // Keras class_weight: class index -> weight of its samples' losses
  // (single-output models; times sample_weight; not for validation).
  std::map<int64_t, double> class_weight;
  bool shuffle = true;
  uint64_t seed = 0;
  int64_t steps_per_epoch = 0;  // 0: a pass over the data
  int initial_epoch = 0;
  std::ostream* out = &std::cout;
  std::optional<bool> terminal;   // default: out is a terminal's std::cout
  std::function<double()> clock;  // seconds, for the progress bar (tests)
};

struct EvaluateOptions {
  int64_t batch_size = 32;
  const Buffer* sample_weight = nullptr;  // per row, as FitOptions::sample_weight
  std::vector<const Buffer*> output_sample_weights;  // as FitOptions's
  int verbose = 1;  // 1: a progress bar, as Keras's evaluate
  std::ostream* out = &std::cout;
  std::optional<bool> terminal;
  std::function<double()> clock;
};

}  // namespace kiln

#endif  // KILN_LAYERS_FIT_H_
