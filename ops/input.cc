// input: a named value fed to the program at each run (data, labels).
#include "ops/ops.h"
#include "ops/source_ops.h"

namespace kiln {

const OpDef kInputOp = {
    .name = "input",
    .arity = 0,
    .fusion = FusionKind::kSource,
    .infer = InferNamedSource,
    .tests = NamedSourceTests,
};

Tensor Input(const std::shared_ptr<Graph>& graph, const std::string& name,
             DType dtype, const Shape& shape, SourceLoc loc) {
  return graph->Apply(kInputOp, {},
                      Attrs{{"name", name}, {"dtype", dtype}, {"shape", shape}},
                      loc);
}

}  // namespace kiln
