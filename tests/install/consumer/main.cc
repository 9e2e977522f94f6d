// A program outside the kiln tree: builds a tiny graph and runs it.
#include <cstdio>

#include "codegen/executable.h"
#include "ops/ops.h"

int main() {
  using namespace kiln;
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{3});
  Tensor y = ReduceSum(Exp(x), {0});
  auto exe = Executable::Compile({y});
  if (!exe.ok()) return 1;
  Buffer xv = Buffer::FromVector<float>(Shape{3}, {0.0f, 0.5f, 1.0f});
  auto out = (*exe)->Run({{"x", &xv}});
  if (!out.ok()) return 1;
  std::printf("consumer: sum of exp = %.5f\n", (*out)[0].GetAsDouble(0));
  return 0;
}
