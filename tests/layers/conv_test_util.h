// Shared by the convolution-family layer tests (conv, depthwise, separable,
// pooling, locally connected): random inputs, running a layer's output on
// both backends, the graph's variables, and the spec's padding arithmetic
// written out again for the scalar references.
#ifndef KILN_TESTS_LAYERS_CONV_TEST_UTIL_H_
#define KILN_TESTS_LAYERS_CONV_TEST_UTIL_H_

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "codegen/executable.h"
#include "graph/evaluate.h"
#include "gtest/gtest.h"
#include "layers/layer.h"

namespace kiln {

// Uniform values in [-1, 1), reproducible from `seed`.
inline Buffer ConvTestRandom(Shape shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Buffer b(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, u(rng));
  return b;
}

// Evaluates `y` (inference phase) with the interpreter and with the JIT,
// expects both to succeed and agree within kBackendTolerance, and returns
// the interpreter's values (empty on failure).
inline std::vector<double> RunOnBothBackends(const Tensor& y, const Feeds& inputs) {
  Feeds feeds = LayerFeeds(y.graph(), /*training=*/false);
  for (const auto& [name, buffer] : inputs) feeds[name] = buffer;
  absl::StatusOr<std::vector<Buffer>> interp = EvaluateTensors({y}, feeds);
  EXPECT_TRUE(interp.ok()) << interp.status();
  if (!interp.ok()) return {};
  std::vector<double> values((*interp)[0].num_elements());
  for (size_t i = 0; i < values.size(); ++i) values[i] = (*interp)[0].GetAsDouble(i);
  absl::StatusOr<std::unique_ptr<Executable>> exe =
      Executable::Compile({y}, ExecutableOptions{.backend = Backend::kJit});
  EXPECT_TRUE(exe.ok()) << exe.status();
  if (!exe.ok()) return values;
  absl::StatusOr<std::vector<Buffer>> jit = (*exe)->Run(feeds);
  EXPECT_TRUE(jit.ok()) << jit.status();
  if (!jit.ok()) return values;
  EXPECT_EQ((*jit)[0].shape(), (*interp)[0].shape());
  for (size_t i = 0; i < values.size() && i < static_cast<size_t>((*jit)[0].num_elements()); ++i) {
    const double tolerance = kBackendTolerance * std::max(1.0, std::abs(values[i]));
    if (std::abs((*jit)[0].GetAsDouble(i) - values[i]) > tolerance) {
      ADD_FAILURE() << "jit " << (*jit)[0].GetAsDouble(i) << " vs interp " << values[i]
                    << " at flat index " << i;
      break;
    }
  }
  return values;
}

inline void ExpectValuesNear(const std::vector<double>& actual, const std::vector<double>& expected,
                             double tolerance = 1e-5) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], tolerance) << "at flat index " << i;
  }
}

// The variable nodes of a graph (the weights its layers use).
inline std::vector<Tensor> GraphVariables(const std::shared_ptr<Graph>& g) {
  std::vector<Tensor> vars;
  for (NodeId id = 0; id < g->num_nodes(); ++id) {
    if (g->node(id).op->name == "variable") vars.push_back(g->tensor(id));
  }
  return vars;
}

inline std::string RefLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The spec's rules (1.4, 1.5), restated for the references (padding names
// in any case).
inline int64_t RefOutputLength(int64_t n, int64_t k, int64_t s, int64_t d, std::string padding) {
  padding = RefLower(padding);
  const int64_t k_eff = (k - 1) * d + 1;
  if (padding == "valid") return (n - k_eff) / s + 1;
  return (n + s - 1) / s;
}

inline int64_t RefPadBefore(int64_t n, int64_t k, int64_t s, int64_t d, std::string padding) {
  padding = RefLower(padding);
  const int64_t k_eff = (k - 1) * d + 1;
  if (padding == "causal") return d * (k - 1);
  if (padding != "same") return 0;
  const int64_t out = (n + s - 1) / s;
  return std::max<int64_t>(0, (out - 1) * s + k_eff - n) / 2;
}

}  // namespace kiln

#endif  // KILN_TESTS_LAYERS_CONV_TEST_UTIL_H_
