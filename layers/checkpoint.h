// Training checkpoints: a model's weights, its optimizer's state and the
// number of epochs done, in one .npz file, so a run can stop and resume.
//
//   KILN_RETURN_IF_ERROR(SaveCheckpoint("ckpt.npz", model, optimizer->Variables(), epoch));
//   ...
//   KILN_ASSIGN_OR_RETURN(int64_t epochs_done,
//                         RestoreCheckpoint("ckpt.npz", model, optimizer->Variables()));
//
// Keys: "weights/<layer>/<weight>" (Keras layout, as Model::SaveWeights),
// "optimizer/<variable>" (Optimizer::Variables() names) and "epoch" (an i64
// scalar), readable by numpy.load. The file is written to a temp name,
// fsynced and renamed (graph/file_io.h): a write that fails, or a process
// killed half way, leaves the previous checkpoint whole. Restore checks every
// name, dtype and shape before it changes anything: a missing, extra or
// mismatched entry is an error that names it, and then nothing changes.
#ifndef KILN_LAYERS_CHECKPOINT_H_
#define KILN_LAYERS_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/buffer.h"
#include "layers/model.h"

namespace kiln {

// Named state buffers, as Optimizer::Variables() returns them.
using NamedBuffers = std::vector<std::pair<std::string, Buffer*>>;

inline constexpr char kCheckpointWeightsPrefix[] = "weights/";
inline constexpr char kCheckpointOptimizerPrefix[] = "optimizer/";
inline constexpr char kCheckpointEpochKey[] = "epoch";

// Writes `model`'s weights, `optimizer_state` and `epoch` (epochs done)
// atomically to `path`.
absl::Status SaveCheckpoint(const std::string& path, const Model& model,
                            const NamedBuffers& optimizer_state, int64_t epoch);

// Copies the file's values into `model`'s weights and `optimizer_state` (in
// place: the buffers keep their addresses) and returns the saved epoch. The
// file must hold exactly those names with those dtypes and shapes.
absl::StatusOr<int64_t> RestoreCheckpoint(const std::string& path, Model& model,
                                          const NamedBuffers& optimizer_state);

}  // namespace kiln

#endif  // KILN_LAYERS_CHECKPOINT_H_
