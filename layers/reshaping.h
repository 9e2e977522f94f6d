// The reshaping layers: Flatten (spec 2.6), Reshape (2.7), Permute (2.8)
// and RepeatVector (2.9). They move data without arithmetic; all four drop
// the mask.
//
//   Tensor flat = MakeLayer<Flatten>()(images);                 // [N,28,28,1] -> [N,784]
//   Tensor img = MakeLayer<ReshapeLayer>(std::vector<int64_t>{28, -1})(flat);  // [N,28,28]
//   Tensor swapped = MakeLayer<Permute>(std::vector<int>{2, 1})(seq);  // [N,10,64] -> [N,64,10]
//   Tensor reps = MakeLayer<RepeatVector>(3)(vec);              // [N,F] -> [N,3,F]
//
// The Reshape layer's class is ReshapeLayer because kiln::Reshape is the
// reshape op; its Keras class name is "Reshape".
#ifndef KILN_LAYERS_RESHAPING_H_
#define KILN_LAYERS_RESHAPING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

// (B, ...) -> (B, prod(...)); a rank-1 input (B,) becomes (B, 1). With
// channels_first and rank >= 3 the channels are moved last first, so the
// flattened order is that of a channels_last model.
class Flatten : public Layer {
 public:
  // data_format: "channels_last" or "channels_first" in any case; "" is the
  // default (channels_last).
  explicit Flatten(const std::string& data_format = "", absl::string_view name = "");
  bool channels_first() const { return channels_first_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  bool channels_first_ = false;
};

// Row-major reshape to (B,) + target_shape; at most one entry may be -1
// (inferred from the element count).
class ReshapeLayer : public Layer {
 public:
  explicit ReshapeLayer(std::vector<int64_t> target_shape, absl::string_view name = "");
  const std::vector<int64_t>& target_shape() const { return target_shape_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  std::vector<int64_t> target_shape_;
};

// transpose(x, (0,) + dims): dims is a permutation of 1..n (1-based, batch
// excluded).
class Permute : public Layer {
 public:
  explicit Permute(std::vector<int> dims, absl::string_view name = "");
  const std::vector<int>& dims() const { return dims_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  std::vector<int> dims_;
};

// (B, F) -> (B, n, F) with y[b, r, :] = x[b, :].
class RepeatVector : public Layer {
 public:
  explicit RepeatVector(int64_t n, absl::string_view name = "");
  int64_t n() const { return n_; }

 protected:
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  int64_t n_;
};

// {"data_format"}, {"target_shape"}, {"dims"}, {"n"}.
absl::StatusOr<std::shared_ptr<Layer>> FlattenFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> ReshapeFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> PermuteFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> RepeatVectorFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_RESHAPING_H_
