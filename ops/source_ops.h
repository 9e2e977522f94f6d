// Shared shape rule of the named source ops (input, variable): the type is
// given by the "dtype" and "shape" attributes and the value is fed by name.
#ifndef KILN_OPS_SOURCE_OPS_H_
#define KILN_OPS_SOURCE_OPS_H_

#include "graph/op_def.h"

namespace kiln {

absl::StatusOr<TensorType> InferNamedSource(const InferContext& ctx);
OpTests NamedSourceTests();

}  // namespace kiln

#endif  // KILN_OPS_SOURCE_OPS_H_
