// ModelCheckpoint: saves the model at the end of epochs, as tf.keras 2.x's
// callback (save_freq "epoch").
//
//   auto ckpt = std::make_shared<ModelCheckpoint>(
//       "ckpt/w-{epoch:02d}-{val_loss:.2f}.npz",
//       ModelCheckpointOptions{.save_best_only = true});
//   FitOptions{.callbacks = {ckpt}} ...   // ckpt/w-01-0.53.npz, ...
//
// The path is formatted with the 1-based epoch and the epoch's logs
// (layers/python_format.h). save_weights_only writes Model::SaveWeights's
// file; otherwise a checkpoint (layers/checkpoint.h: weights, optimizer
// state, epochs done) that RestoreCheckpoint resumes from. With
// save_best_only, a file is written only when `monitor` beats the best so
// far (mode auto: max when the name contains "acc" or starts with
// "fmeasure", else min; initial_value_threshold seeds the best); a missing
// monitor skips the save with Keras's warning. Writes are atomic. Messages
// at verbose > 0 are Keras's, on run().out.
#ifndef KILN_LAYERS_MODEL_CHECKPOINT_H_
#define KILN_LAYERS_MODEL_CHECKPOINT_H_

#include <optional>
#include <string>

#include "layers/callbacks.h"

namespace kiln {

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  int verbose = 0;
  bool save_best_only = false;
  bool save_weights_only = false;
  std::string mode = "auto";
  std::optional<double> initial_value_threshold;
};

class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions options = {});
  absl::Status OnTrainBegin(const Logs& logs) override;
  absl::Status OnEpochEnd(int epoch, Logs& logs) override;

  double best() const { return best_; }

 private:
  absl::Status Save(const std::string& path, int epoch);

  std::string filepath_;
  ModelCheckpointOptions options_;
  bool maximize_ = false;
  double best_ = 0;
};

}  // namespace kiln

#endif  // KILN_LAYERS_MODEL_CHECKPOINT_H_
