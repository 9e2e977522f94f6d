#include "ops/source_ops.h"

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace kiln {

absl::StatusOr<TensorType> InferNamedSource(const InferContext& ctx) {
  KILN_ASSIGN_OR_RETURN(std::string name, ctx.attrs.Get<std::string>("name"));
  if (name.empty()) return absl::InvalidArgumentError("the name must not be empty");
  KILN_ASSIGN_OR_RETURN(DType dtype, ctx.attrs.Get<DType>("dtype"));
  KILN_ASSIGN_OR_RETURN(Shape shape, ctx.attrs.Get<Shape>("shape"));
  for (int i = 1; i < shape.rank(); ++i) {
    if (shape.dim(i) == Shape::kBatch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "only dimension 0 may be the batch size N, got ", shape.ToString()));
    }
  }
  return TensorType{dtype, shape};
}

OpTests NamedSourceTests() {
  OpTests t;
  t.bad.push_back({"no name", {}, Attrs{{"dtype", DType::kF32}, {"shape", Shape{2}}},
                   "missing attribute 'name'"});
  t.bad.push_back({"batch not first", {},
                   Attrs{{"name", std::string("x")}, {"dtype", DType::kF32},
                         {"shape", Shape{2, Shape::kBatch}}},
                   "only dimension 0 may be the batch size"});
  return t;
}

}  // namespace kiln
