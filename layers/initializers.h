// Weight initializers with tf.keras 2.x semantics (spec section 3): each one
// turns a concrete weight shape into a host Buffer of initial values.
//
//   GlorotUniform init(/*seed=*/42);
//   KILN_ASSIGN_OR_RETURN(Buffer kernel, init(Shape{784, 128}));  // f32
//   KILN_ASSIGN_OR_RETURN(InitializerPtr he, InitializerByName("he_normal"));
//   KILN_ASSIGN_OR_RETURN(InitializerPtr o, InitializerFromConfig(json::parse(
//       R"({"class_name": "Orthogonal", "config": {"gain": 2.0, "seed": 1}})")));
//
// Random numbers. TF's generator is not reproduced bit for bit (the spec does
// not ask for it). Every call runs its own std::mt19937_64 (a generator whose
// output sequence the C++ standard fixes), seeded with SplitMix64 of the
// seed; kiln converts its output itself, so values do not depend on the C++
// library: uniform = the top 53 bits / 2^53 in [0, 1); normal = Box-Muller
// on two uniforms (both values of each pair used, in order). Elements are
// drawn in row-major order. Truncated normals re-draw until |z| < 2.
//
// Seeds. A seeded initializer is deterministic: each call returns the same
// values (spec 3.5). An unseeded one draws fresh values on every call, from a
// process-wide sequence: the n-th unseeded call of the process uses the
// stream (global seed, n), so a program that builds its model in the same
// order gets the same weights on every run. SetGlobalInitializerSeed()
// restarts that sequence (like tf.keras.utils.set_random_seed).
#ifndef KILN_LAYERS_INITIALIZERS_H_
#define KILN_LAYERS_INITIALIZERS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/buffer.h"
#include "graph/dtype.h"
#include "graph/shape.h"
#include "nlohmann/json_fwd.hpp"

namespace kiln {

// tf.keras _compute_fans: rank 0 -> (1, 1); rank 1 (n) -> (n, n); rank 2
// (a, b) -> (a, b); rank >= 3 (*spatial, in, out) -> (in * R, out * R) with R
// the product of the spatial dimensions.
struct Fans {
  int64_t fan_in = 1;
  int64_t fan_out = 1;
};
Fans ComputeFans(const Shape& shape);

// Restarts the sequence unseeded initializers draw from (see above).
void SetGlobalInitializerSeed(uint64_t seed);

class Initializer {
 public:
  virtual ~Initializer() = default;

  // Values for a weight of `shape` (concrete, no negative dimension) and
  // `dtype`. Random initializers need f32 (RandomUniform also takes
  // integers); bad arguments, shapes or dtypes give InvalidArgument naming
  // the initializer.
  absl::StatusOr<Buffer> operator()(const Shape& shape, DType dtype = DType::kF32) const;

  // The Keras class name ("GlorotUniform", ...).
  virtual std::string name() const = 0;
  // The argument checks Keras runs in the constructor (e.g. VarianceScaling's
  // scale > 0). operator() runs them too.
  virtual absl::Status Validate() const { return absl::OkStatus(); }

 protected:
  // `shape` and `dtype` have passed the common checks.
  virtual absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const = 0;
  // "initializer 'Name': <message>" as InvalidArgument.
  absl::Status Error(absl::string_view message) const;
};

using InitializerPtr = std::shared_ptr<const Initializer>;

// Base of the random initializers: the seed and the generator choice.
class RandomInitializer : public Initializer {
 public:
  explicit RandomInitializer(std::optional<int64_t> seed) : seed_(seed) {}
  const std::optional<int64_t>& seed() const { return seed_; }

 protected:
  // The 64-bit seed of this call's generator (fixed when seeded, the next of
  // the process-wide sequence otherwise).
  uint64_t CallSeed() const;
  // `count` draws in row-major order.
  static std::vector<double> Normal(uint64_t call_seed, int64_t count);
  static std::vector<double> TruncatedStandardNormal(uint64_t call_seed, int64_t count);
  static std::vector<double> Uniform(uint64_t call_seed, int64_t count);  // [0, 1)

 private:
  std::optional<int64_t> seed_;
};

class Zeros : public Initializer {
 public:
  std::string name() const override { return "Zeros"; }

 protected:
  absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const override;
};

class Ones : public Initializer {
 public:
  std::string name() const override { return "Ones"; }

 protected:
  absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const override;
};

// A fill with one value, or the given values when there are exactly as many
// as the shape holds (tf.constant(value, shape)); any other count: error.
class Constant : public Initializer {
 public:
  explicit Constant(double value = 0.0) : values_{value} {}
  explicit Constant(std::vector<double> values) : values_(std::move(values)) {}
  std::string name() const override { return "Constant"; }

 protected:
  absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const override;

 private:
  std::vector<double> values_;
};

// U[minval, maxval). Integer dtypes need integral bounds with minval < maxval.
class RandomUniform : public RandomInitializer {
 public:
  explicit RandomUniform(double minval = -0.05, double maxval = 0.05,
                         std::optional<int64_t> seed = std::nullopt)
      : RandomInitializer(seed), minval_(minval), maxval_(maxval) {}
  std::string name() const override { return "RandomUniform"; }

 protected:
  absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const override;

 private:
  double minval_, maxval_;
};

// N(mean, stddev^2).
class RandomNormal : public RandomInitializer {
 public:
  explicit RandomNormal(double mean = 0.0, double stddev = 0.05,
                        std::optional<int64_t> seed = std::nullopt)
      : RandomInitializer(seed), mean_(mean), stddev_(stddev) {}
  std::string name() const override { return "RandomNormal"; }

 protected:
  absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const override;

 private:
  double mean_, stddev_;
};

// N(mean, stddev^2) with draws more than 2 stddev from the mean re-drawn; no
// variance correction (the std after truncation is ~0.88 stddev).
class TruncatedNormal : public RandomInitializer {
 public:
  explicit TruncatedNormal(double mean = 0.0, double stddev = 0.05,
                           std::optional<int64_t> seed = std::nullopt)
      : RandomInitializer(seed), mean_(mean), stddev_(stddev) {}
  std::string name() const override { return "TruncatedNormal"; }

 protected:
  absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const override;

 private:
  double mean_, stddev_;
};

enum class FanMode { kFanIn, kFanOut, kFanAvg };
enum class FanDistribution { kTruncatedNormal, kUntruncatedNormal, kUniform };

// The standard deviation of N(0, 1) truncated to [-2, 2]
// (scipy.stats.truncnorm.std(-2, 2)).
inline constexpr double kTruncatedNormalStddev = 0.87962566103423978;

// Spec 3.3: v = scale / n with n = max(1, fan_in | fan_out |
// (fan_in + fan_out) / 2); truncated_normal: N(0, (sqrt(v) / 0.8796...)^2)
// truncated at 2 std (so the std after truncation is sqrt(v));
// untruncated_normal: N(0, v); uniform: U[-sqrt(3 v), sqrt(3 v)).
class VarianceScaling : public RandomInitializer {
 public:
  explicit VarianceScaling(double scale = 1.0, FanMode mode = FanMode::kFanIn,
                           FanDistribution distribution = FanDistribution::kTruncatedNormal,
                           std::optional<int64_t> seed = std::nullopt)
      : RandomInitializer(seed), scale_(scale), mode_(mode), distribution_(distribution) {}
  std::string name() const override { return "VarianceScaling"; }
  absl::Status Validate() const override;  // scale > 0

  double scale() const { return scale_; }
  FanMode mode() const { return mode_; }
  FanDistribution distribution() const { return distribution_; }
  // scale / n for `shape`: the variance of the values drawn.
  double Variance(const Shape& shape) const;

 protected:
  absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const override;

 private:
  double scale_;
  FanMode mode_;
  FanDistribution distribution_;
};

// The VarianceScaling presets (spec 3.2).
// VarianceScaling(1.0, kFanAvg, kUniform): limit sqrt(6 / (fan_in + fan_out)); the layer default.
class GlorotUniform : public VarianceScaling {
 public:
  explicit GlorotUniform(std::optional<int64_t> seed = std::nullopt)
      : VarianceScaling(1.0, FanMode::kFanAvg, FanDistribution::kUniform, seed) {}
  std::string name() const override { return "GlorotUniform"; }
};
// VarianceScaling(1.0, kFanAvg, kTruncatedNormal): std sqrt(2 / (fan_in + fan_out)) after
// truncation.
class GlorotNormal : public VarianceScaling {
 public:
  explicit GlorotNormal(std::optional<int64_t> seed = std::nullopt)
      : VarianceScaling(1.0, FanMode::kFanAvg, FanDistribution::kTruncatedNormal, seed) {}
  std::string name() const override { return "GlorotNormal"; }
};
// VarianceScaling(2.0, kFanIn, kUniform): limit sqrt(6 / fan_in).
class HeUniform : public VarianceScaling {
 public:
  explicit HeUniform(std::optional<int64_t> seed = std::nullopt)
      : VarianceScaling(2.0, FanMode::kFanIn, FanDistribution::kUniform, seed) {}
  std::string name() const override { return "HeUniform"; }
};
// VarianceScaling(2.0, kFanIn, kTruncatedNormal): std sqrt(2 / fan_in) after truncation.
class HeNormal : public VarianceScaling {
 public:
  explicit HeNormal(std::optional<int64_t> seed = std::nullopt)
      : VarianceScaling(2.0, FanMode::kFanIn, FanDistribution::kTruncatedNormal, seed) {}
  std::string name() const override { return "HeNormal"; }
};
// VarianceScaling(1.0, kFanIn, kUniform): limit sqrt(3 / fan_in).
class LecunUniform : public VarianceScaling {
 public:
  explicit LecunUniform(std::optional<int64_t> seed = std::nullopt)
      : VarianceScaling(1.0, FanMode::kFanIn, FanDistribution::kUniform, seed) {}
  std::string name() const override { return "LecunUniform"; }
};
// VarianceScaling(1.0, kFanIn, kTruncatedNormal): std sqrt(1 / fan_in) after truncation.
class LecunNormal : public VarianceScaling {
 public:
  explicit LecunNormal(std::optional<int64_t> seed = std::nullopt)
      : VarianceScaling(1.0, FanMode::kFanIn, FanDistribution::kTruncatedNormal, seed) {}
  std::string name() const override { return "LecunNormal"; }
};

// Spec 3.4: rank >= 2; rows = prod(shape[:-1]), cols = shape[-1]; QR of an
// N(0, 1) matrix of shape (max(rows, cols), min(rows, cols)), Q's columns
// flipped by sign(diag(R)), transposed when rows < cols, times gain.
class Orthogonal : public RandomInitializer {
 public:
  explicit Orthogonal(double gain = 1.0, std::optional<int64_t> seed = std::nullopt)
      : RandomInitializer(seed), gain_(gain) {}
  std::string name() const override { return "Orthogonal"; }

 protected:
  absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const override;

 private:
  double gain_;
};

// gain * eye(rows, cols); 2-D shapes only.
class Identity : public Initializer {
 public:
  explicit Identity(double gain = 1.0) : gain_(gain) {}
  std::string name() const override { return "Identity"; }

 protected:
  absl::StatusOr<Buffer> Generate(const Shape& shape, DType dtype) const override;

 private:
  double gain_;
};

// By Keras name with default arguments: the class names and their snake_case
// forms (GlorotUniform / glorot_uniform, ...), the "...V2" aliases, and
// normal, uniform, one, zero. Unknown names: InvalidArgument naming them.
absl::StatusOr<InitializerPtr> InitializerByName(absl::string_view name);

// From a Keras config: a name string or {"class_name", "config"}; the config
// holds the constructor arguments (mode and distribution as strings, seed
// an integer or null; "dtype" is ignored as tf.keras does). Unknown classes,
// unknown arguments and bad values give InvalidArgument naming them.
absl::StatusOr<InitializerPtr> InitializerFromConfig(const nlohmann::json& config);

}  // namespace kiln

#endif  // KILN_LAYERS_INITIALIZERS_H_
