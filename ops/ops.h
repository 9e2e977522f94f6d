// The op builders: one function per primitive op (declared from
// ops/op_list.inc), plus operators and the composite ops.
//
//   auto g = Graph::Create();
//   Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 10});
//   Tensor y = Softmax(x * 2.0f + 1.0f, /*axis=*/-1);
//   Tensor loss = ReduceSum(y, {0, 1});
#ifndef KILN_OPS_OPS_H_
#define KILN_OPS_OPS_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "graph/attrs.h"
#include "graph/build_context.h"
#include "graph/graph.h"
#include "graph/op_def.h"
#include "graph/tensor.h"

namespace kiln {

// The op definitions.
#define KILN_OP(def, builder) extern const OpDef def;
#include "ops/op_list.inc"
#undef KILN_OP

// The builders.
#define KILN_OP(def, builder) builder;
#include "ops/op_list.inc"
#undef KILN_OP

// Builds a node of `op` in the graph of the first defined input.
Tensor Apply(const OpDef& op, std::initializer_list<Tensor> inputs,
             Attrs attrs = {}, SourceLoc loc = SourceLoc::current());
Tensor Apply(const OpDef& op, const std::vector<Tensor>& inputs,
             Attrs attrs = {}, SourceLoc loc = SourceLoc::current());

}  // namespace kiln

#include "ops/composites.h"

#endif  // KILN_OPS_OPS_H_
