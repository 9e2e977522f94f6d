// ModelCheckpoint: saves the model at the end of epochs, or every so many
// batches, as tf.keras 2.x's callback (save_freq "epoch" or an integer).
//
//   auto ckpt = std::make_shared<ModelCheckpoint>(
//       "ckpt/w-{epoch:02d}-{val_loss:.2f}.npz",
//       ModelCheckpointOptions{.save_best_only = true});
//   FitOptions{.callbacks = {ckpt}} ...   // ckpt/w-01-0.53.npz, ...
//   // Every 100 batches, counted across epochs: ckpt/b-01-0100.npz, ...
//   ModelCheckpoint("ckpt/b-{epoch:02d}-{batch:04d}.npz", {.save_freq = 100});
//
// The path is formatted with the 1-based epoch and the epoch's logs
// (layers/python_format.h); a save after a batch formats the 1-based batch
// of the epoch as {batch} and uses the batch's logs (the running means of
// the epoch so far, so a `monitor` like val_loss is missing there). As in
// Keras, the batch count runs on across epochs and Fit calls, and a batch
// save does not also happen at the epoch's end. A checkpoint written after
// a batch records the epochs completed before it, so RestoreCheckpoint
// resumes at the start of the unfinished epoch. save_weights_only writes Model::SaveWeights's
// file; otherwise a checkpoint (layers/checkpoint.h: weights, optimizer
// state, epochs done) that RestoreCheckpoint resumes from. With
// save_best_only, a file is written only when `monitor` beats the best so
// far (mode auto: max when the name contains "acc" or starts with
// "fmeasure", else min; initial_value_threshold seeds the best); a missing
// monitor skips the save with Keras's warning. Writes are atomic. Messages
// at verbose > 0 are Keras's, on run().out.
#ifndef KILN_LAYERS_MODEL_CHECKPOINT_H_
#define KILN_LAYERS_MODEL_CHECKPOINT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "layers/callbacks.h"

namespace kiln {

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  int verbose = 0;
  bool save_best_only = false;
  bool save_weights_only = false;
  std::string mode = "auto";
  std::optional<double> initial_value_threshold;
  // "epoch", or a number of batches > 0 (InvalidArgument at OnTrainBegin
  // otherwise).
  std::variant<std::string, int64_t> save_freq = "epoch";
};

class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions options = {});
  absl::Status OnTrainBegin(const Logs& logs) override;
  absl::Status OnEpochBegin(int epoch, const Logs& logs) override;
  absl::Status OnEpochEnd(int epoch, Logs& logs) override;
  absl::Status OnTrainBatchEnd(int64_t batch, const Logs& logs) override;

  double best() const { return best_; }

 private:
  // Keras' _save_model: the path, save_best_only and the messages.
  absl::Status SaveModel(int epoch, std::optional<int64_t> batch, const Logs& logs);
  // Writes the file; `epochs_done` goes into a full checkpoint.
  absl::Status Save(const std::string& path, int epochs_done);
  // Keras' _should_save_on_batch: counts batches across epochs.
  bool ShouldSaveOnBatch(int64_t batch);

  std::string filepath_;
  ModelCheckpointOptions options_;
  bool maximize_ = false;
  double best_ = 0;
  int current_epoch_ = 0;
  int64_t batches_since_save_ = 0;
  int64_t last_batch_seen_ = 0;
};

}  // namespace kiln

#endif  // KILN_LAYERS_MODEL_CHECKPOINT_H_
