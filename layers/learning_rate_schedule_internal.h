// Shared by the learning-rate schedule files (layers/learning_rate_schedule*.cc);
// not public API.
//
//   KILN_ASSIGN_OR_RETURN(schedule, DecayScheduleFromConfig("CosineDecay", args));
#ifndef KILN_LAYERS_LEARNING_RATE_SCHEDULE_INTERNAL_H_
#define KILN_LAYERS_LEARNING_RATE_SCHEDULE_INTERNAL_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/keras_object.h"
#include "layers/learning_rate_schedule.h"

namespace kiln {

// CosineDecay, CosineDecayRestarts and PolynomialDecay from their Keras
// config arguments (layers/learning_rate_schedule_decay.cc).
absl::StatusOr<SchedulePtr> DecayScheduleFromConfig(absl::string_view kind, KerasArgs& args);

}  // namespace kiln

#endif  // KILN_LAYERS_LEARNING_RATE_SCHEDULE_INTERNAL_H_
