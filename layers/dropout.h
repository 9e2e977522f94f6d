// Dropout (spec 2.4) and SpatialDropout1D/2D/3D (spec 2.5): inverted
// dropout in training, the identity in inference. In training each noise
// cell is kept when a uniform draw u >= rate, and y = x * keep / (1 - rate);
// elements that share a noise cell (noise_shape 1 on an axis) are kept or
// dropped together. The SpatialDropout layers share one cell per feature
// map (whole channels are dropped). One graph serves both phases: the
// layer selects on the learning phase ("kiln.training"). Masks are drawn
// by the counter-based generator from (seed, step, stream): the step is the
// graph's "kiln.step" input, the stream the index of this call of the layer
// in the graph. The mask passes through.
//
//   auto drop = MakeLayer<Dropout>(0.5, DropoutOptions{.seed = 7});
//   Tensor h = drop(x);                           // [N, 64]
//   auto spatial = MakeLayer<SpatialDropout2D>(0.2);
//   Tensor f = spatial(images);                   // [N, H, W, C], drops channels
#ifndef KILN_LAYERS_DROPOUT_H_
#define KILN_LAYERS_DROPOUT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layers/layer.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

struct DropoutOptions {
  // Empty: the input's shape. Otherwise one entry per input axis (batch
  // included): Dropout::kNone for "the input's size there", or a size that
  // is 1 (shared) or the input's size.
  std::vector<int64_t> noise_shape;
  // None: a seed from a process-wide sequence (the n-th unseeded dropout
  // layer of the process gets the n-th seed), so runs repeat.
  std::optional<int64_t> seed;
  std::string name;
};

class Dropout : public Layer {
 public:
  static constexpr int64_t kNone = -1;

  // rate in [0, 1] (1 is accepted here, as Keras, and refused when called).
  explicit Dropout(double rate, DropoutOptions options = {});

  double rate() const { return rate_; }
  // The seed the masks are drawn with.
  int64_t seed() const { return seed_; }

 protected:
  Dropout(absl::string_view class_name, double rate, DropoutOptions options);

  // The shape of the random draw for input `x`.
  virtual absl::StatusOr<Shape> NoiseShape(const Tensor& x) const;
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

  const DropoutOptions& options() const { return options_; }

 private:
  double rate_;
  DropoutOptions options_;
  int64_t seed_;
};

struct SpatialDropoutOptions {
  // "channels_last" or "channels_first", exactly (not lower-cased, as Keras);
  // "" is the default, channels_last. SpatialDropout1D takes none.
  std::string data_format;
  std::optional<int64_t> seed;
  std::string name;
};

// Input (B, T, C); noise (B, 1, C).
class SpatialDropout1D : public Dropout {
 public:
  explicit SpatialDropout1D(double rate, SpatialDropoutOptions options = {});

 protected:
  absl::StatusOr<Shape> NoiseShape(const Tensor& x) const override;
};

// Input (B, H, W, C) or (B, C, H, W); noise (B, 1, 1, C) or (B, C, 1, 1).
class SpatialDropout2D : public Dropout {
 public:
  explicit SpatialDropout2D(double rate, SpatialDropoutOptions options = {});
  bool channels_first() const { return channels_first_; }

 protected:
  absl::StatusOr<Shape> NoiseShape(const Tensor& x) const override;

 private:
  bool channels_first_ = false;
};

// Input (B, D, H, W, C) or (B, C, D, H, W); noise with 1 on D, H, W.
class SpatialDropout3D : public Dropout {
 public:
  explicit SpatialDropout3D(double rate, SpatialDropoutOptions options = {});
  bool channels_first() const { return channels_first_; }

 protected:
  absl::StatusOr<Shape> NoiseShape(const Tensor& x) const override;

 private:
  bool channels_first_ = false;
};

// {"rate", "noise_shape" (null or a list with nulls), "seed"}; the spatial
// layers accept (and ignore) "noise_shape", and 2D/3D take "data_format".
absl::StatusOr<std::shared_ptr<Layer>> DropoutFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> SpatialDropout1DFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> SpatialDropout2DFromConfig(const nlohmann::json& config);
absl::StatusOr<std::shared_ptr<Layer>> SpatialDropout3DFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_DROPOUT_H_
