// Helpers shared by the tests of the core layers (activation, dropout,
// reshaping, lambda, masking, merge, advanced activations): random inputs,
// running a layer graph with its feeds, reading values and errors.
#ifndef KILN_TESTS_LAYERS_CORE_LAYERS_TESTING_H_
#define KILN_TESTS_LAYERS_CORE_LAYERS_TESTING_H_

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/evaluate.h"
#include "layers/layer.h"
#include "ops/ops.h"

namespace kiln::testing_core {

// Uniform values in [lo, hi).
inline Buffer RandomBuffer(Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Buffer b(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, u(rng));
  return b;
}

inline Buffer FromValues(Shape shape, const std::vector<double>& values) {
  Buffer b(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, values[i]);
  return b;
}

// Evaluates `outputs` with the layer feeds of their graph (weights, the
// learning phase, the step) plus the named inputs.
inline absl::StatusOr<std::vector<Buffer>> RunLayers(
    std::vector<Tensor> outputs, const std::vector<std::pair<std::string, const Buffer*>>& inputs,
    bool training = false, int64_t step = 0) {
  Feeds feeds = LayerFeeds(outputs[0].graph(), training, step);
  for (const auto& [name, buffer] : inputs) feeds[name] = buffer;
  return EvaluateTensors(outputs, feeds);
}

inline std::vector<double> Values(const Buffer& b) {
  std::vector<double> out(b.num_elements());
  for (int64_t i = 0; i < b.num_elements(); ++i) out[i] = b.GetAsDouble(i);
  return out;
}

// The message of the graph's first error ("" when none).
inline std::string ErrorOf(const Tensor& t) {
  return t.defined() ? std::string(t.graph()->status().message()) : "";
}

inline Tensor BatchInput(const std::shared_ptr<Graph>& g, const std::string& name,
                         std::vector<int64_t> dims, DType dtype = DType::kF32) {
  dims.insert(dims.begin(), Shape::kBatch);
  return Input(g, name, dtype, Shape(std::move(dims)));
}

}  // namespace kiln::testing_core

#endif  // KILN_TESTS_LAYERS_CORE_LAYERS_TESTING_H_
