// Callbacks that watch a logged value or the epoch and act on training, as
// tf.keras 2.x (tf_keras 2.15): EarlyStopping, LearningRateScheduler and
// ReduceLROnPlateau.
//
//   auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{
//       .monitor = "val_loss", .patience = 2, .restore_best_weights = true});
//   auto schedule = std::make_shared<LearningRateScheduler>(
//       [](int epoch, double lr) { return epoch < 3 ? lr : lr * 0.5; });
//   FitOptions{.callbacks = {stop, schedule}} ...
//
// Mode "auto" picks max for names that say accuracy (EarlyStopping: ends in
// "acc", "accuracy" or "auc"; ReduceLROnPlateau: contains "acc") and min
// otherwise; "min"/"max" force it; anything else is InvalidArgument when
// training begins. A monitored value missing from the epoch's logs is
// skipped with a warning on stderr, as Keras does. Messages (verbose > 0) go
// to run().out in Keras's words.
#ifndef KILN_LAYERS_MONITOR_CALLBACKS_H_
#define KILN_LAYERS_MONITOR_CALLBACKS_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "graph/buffer.h"
#include "layers/callbacks.h"

namespace kiln {

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0;  // an improvement must beat the best by more than this
  int patience = 0;      // epochs without improvement before stopping
  int verbose = 0;
  std::string mode = "auto";
  std::optional<double> baseline;  // wait counts until this is beaten too
  bool restore_best_weights = false;
  int start_from_epoch = 0;  // epochs of warm-up not monitored
};

// Stops training when `monitor` has not improved for `patience` epochs
// (never after the first epoch); with restore_best_weights, puts back the
// weights of the best epoch when it stops.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  absl::Status OnTrainBegin(const Logs& logs) override;
  absl::Status OnEpochEnd(int epoch, Logs& logs) override;
  absl::Status OnTrainEnd(const Logs& logs) override;

  int stopped_epoch() const { return stopped_epoch_; }  // 0 when it did not stop
  int best_epoch() const { return best_epoch_; }
  double best() const { return best_; }

 private:
  bool Improves(double value, double reference) const;
  void SaveBestWeights();

  EarlyStoppingOptions options_;
  bool maximize_ = false;
  int wait_ = 0;
  int stopped_epoch_ = 0;
  int best_epoch_ = 0;
  double best_ = 0;
  std::vector<Buffer> best_weights_;
};

// Sets the learning rate at the start of each epoch to schedule(epoch, lr)
// (epoch 0-based, lr the current rate) and logs "lr" at its end. Needs a
// compiled optimizer; a rate that is negative or not finite is an error.
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int epoch, double lr)> schedule,
                                 int verbose = 0);
  absl::Status OnEpochBegin(int epoch, const Logs& logs) override;
  absl::Status OnEpochEnd(int epoch, Logs& logs) override;

 private:
  std::function<double(int, double)> schedule_;
  int verbose_;
};

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;  // new rate = rate * factor; must be < 1
  int patience = 10;
  int verbose = 0;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int cooldown = 0;  // epochs after a reduction before counting again
  double min_lr = 0;
};

// Multiplies the learning rate by `factor` (not below min_lr) when `monitor`
// has not improved by min_delta for `patience` epochs; logs "lr" each epoch.
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  absl::Status OnTrainBegin(const Logs& logs) override;
  absl::Status OnEpochEnd(int epoch, Logs& logs) override;

 private:
  ReduceLROnPlateauOptions options_;
  bool maximize_ = false;
  double best_ = 0;
  int wait_ = 0;
  int cooldown_counter_ = 0;
};

}  // namespace kiln

#endif  // KILN_LAYERS_MONITOR_CALLBACKS_H_
