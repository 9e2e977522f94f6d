// variable: a named persistent value (a weight or optimizer state), bound
// by name like an input; training programs update it in place.
#include "ops/ops.h"
#include "ops/source_ops.h"

namespace kiln {

const OpDef kVariableOp = {
    .name = "variable",
    .arity = 0,
    .fusion = FusionKind::kSource,
    .infer = InferNamedSource,
    .tests = NamedSourceTests,
};

Tensor Variable(const std::shared_ptr<Graph>& graph, const std::string& name,
                DType dtype, const Shape& shape, SourceLoc loc) {
  return graph->Apply(kVariableOp, {},
                      Attrs{{"name", name}, {"dtype", dtype}, {"shape", shape}},
                      loc);
}

}  // namespace kiln
