// The initializer classes and kiln's generator (see initializers.h for the
// random-number and seed rules); the name and config factory is in
// initializers_config.cc.
#include "layers/initializers.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/householder_qr.h"

namespace kiln {
namespace {

constexpr uint64_t kDefaultGlobalSeed = 0x6b696c6e;  // "kiln"
constexpr uint64_t kSeededTag = 0x5eed5eed5eed5eedULL;
constexpr double kTwoPi = 6.283185307179586476925286766559;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
uint64_t Mix(uint64_t a, uint64_t b) { return SplitMix64(a ^ SplitMix64(b)); }

std::atomic<uint64_t> global_seed{kDefaultGlobalSeed};
std::atomic<uint64_t> unseeded_calls{0};

// std::mt19937_64 with kiln's own conversions (see the header).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - Uniform();  // (0, 1]: log is finite
    const double u2 = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(kTwoPi * u2);
    has_spare_ = true;
    return r * std::cos(kTwoPi * u2);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// A buffer of `shape` and `dtype` holding `values` (row-major).
Buffer FromDoubles(const Shape& shape, DType dtype, const std::vector<double>& values) {
  Buffer b(dtype, shape);
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, values[i]);
  return b;
}

Buffer Filled(const Shape& shape, DType dtype, double value) {
  Buffer b(dtype, shape);
  for (int64_t i = 0; i < b.num_elements(); ++i) b.SetFromDouble(i, value);
  return b;
}

// The largest f32 below `maxval`: keeps rounded f32 draws inside [min, max).
double BelowAsF32(double maxval) {
  float f = static_cast<float>(maxval);
  if (static_cast<double>(f) >= maxval) {
    f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  }
  return f;
}

}  // namespace

Fans ComputeFans(const Shape& shape) {
  const int rank = shape.rank();
  if (rank == 0) return {1, 1};
  if (rank == 1) return {shape.dim(0), shape.dim(0)};
  if (rank == 2) return {shape.dim(0), shape.dim(1)};
  int64_t receptive_field = 1;
  for (int i = 0; i < rank - 2; ++i) receptive_field *= shape.dim(i);
  return {shape.dim(rank - 2) * receptive_field, shape.dim(rank - 1) * receptive_field};
}

void SetGlobalInitializerSeed(uint64_t seed) {
  global_seed.store(seed);
  unseeded_calls.store(0);
}

// ---- Initializer ------------------------------------------------------------

absl::StatusOr<Buffer> Initializer::operator()(const Shape& shape, DType dtype) const {
  KILN_RETURN_IF_ERROR(Validate());
  for (int64_t d : shape.dims()) {
    if (d < 0) {
      return Error(absl::StrCat("the weight shape must be concrete, got ", shape.ToString()));
    }
  }
  return Generate(shape, dtype);
}

absl::Status Initializer::Error(absl::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat("initializer '", name(), "': ", message));
}

uint64_t RandomInitializer::CallSeed() const {
  if (seed_.has_value()) return Mix(kSeededTag, static_cast<uint64_t>(*seed_));
  return Mix(global_seed.load(), unseeded_calls.fetch_add(1));
}

std::vector<double> RandomInitializer::Normal(uint64_t call_seed, int64_t count) {
  Rng rng(call_seed);
  std::vector<double> out(count);
  for (double& v : out) v = rng.Normal();
  return out;
}

std::vector<double> RandomInitializer::TruncatedStandardNormal(uint64_t call_seed, int64_t count) {
  Rng rng(call_seed);
  std::vector<double> out(count);
  for (double& v : out) {
    do {
      v = rng.Normal();
    } while (!(std::abs(v) < 2.0));
  }
  return out;
}

std::vector<double> RandomInitializer::Uniform(uint64_t call_seed, int64_t count) {
  Rng rng(call_seed);
  std::vector<double> out(count);
  for (double& v : out) v = rng.Uniform();
  return out;
}

// ---- constants --------------------------------------------------------------

absl::StatusOr<Buffer> Zeros::Generate(const Shape& shape, DType dtype) const {
  return Buffer::Zeros(dtype, shape);
}

absl::StatusOr<Buffer> Ones::Generate(const Shape& shape, DType dtype) const {
  return Filled(shape, dtype, 1.0);
}

absl::StatusOr<Buffer> Constant::Generate(const Shape& shape, DType dtype) const {
  const int64_t n = shape.NumElements();
  if (values_.size() == 1) return Filled(shape, dtype, values_[0]);
  if (static_cast<int64_t>(values_.size()) == n) return FromDoubles(shape, dtype, values_);
  return Error(absl::StrCat("the value has ", values_.size(),
                            " elements; expected 1 or as many as the shape ", shape.ToString(),
                            " holds (", n, ")"));
}

// ---- random -----------------------------------------------------------------

absl::StatusOr<Buffer> RandomUniform::Generate(const Shape& shape, DType dtype) const {
  const int64_t n = shape.NumElements();
  if (IsInteger(dtype)) {
    if (minval_ != std::floor(minval_) || maxval_ != std::floor(maxval_) || !(minval_ < maxval_)) {
      return Error(
          absl::StrCat("an integer dtype needs integral bounds with "
                       "minval < maxval, got [",
                       minval_, ", ", maxval_, ")"));
    }
    std::vector<double> u = Uniform(CallSeed(), n);
    const double range = maxval_ - minval_;
    for (double& v : u) v = std::min(minval_ + std::floor(v * range), maxval_ - 1);
    return FromDoubles(shape, dtype, u);
  }
  if (!IsFloat(dtype)) {
    return Error(absl::StrCat("expected a float or integer dtype, got ", DTypeName(dtype)));
  }
  std::vector<double> u = Uniform(CallSeed(), n);
  const double top = BelowAsF32(maxval_);
  for (double& v : u) {
    v = minval_ + (maxval_ - minval_) * v;
    if (maxval_ > minval_ && static_cast<double>(static_cast<float>(v)) >= maxval_) v = top;
  }
  return FromDoubles(shape, dtype, u);
}

absl::StatusOr<Buffer> RandomNormal::Generate(const Shape& shape, DType dtype) const {
  if (!IsFloat(dtype)) {
    return Error(absl::StrCat("expected a floating point dtype, got ", DTypeName(dtype)));
  }
  std::vector<double> z = Normal(CallSeed(), shape.NumElements());
  for (double& v : z) v = mean_ + stddev_ * v;
  return FromDoubles(shape, dtype, z);
}

absl::StatusOr<Buffer> TruncatedNormal::Generate(const Shape& shape, DType dtype) const {
  if (!IsFloat(dtype)) {
    return Error(absl::StrCat("expected a floating point dtype, got ", DTypeName(dtype)));
  }
  std::vector<double> z = TruncatedStandardNormal(CallSeed(), shape.NumElements());
  for (double& v : z) v = mean_ + stddev_ * v;
  return FromDoubles(shape, dtype, z);
}

// ---- VarianceScaling --------------------------------------------------------

absl::Status VarianceScaling::Validate() const {
  if (!(scale_ > 0)) {
    return Error(absl::StrCat("argument 'scale' must be a positive number, got ", scale_));
  }
  return absl::OkStatus();
}

double VarianceScaling::Variance(const Shape& shape) const {
  const Fans fans = ComputeFans(shape);
  const double fan_in = static_cast<double>(fans.fan_in);
  const double fan_out = static_cast<double>(fans.fan_out);
  double n = 0;
  switch (mode_) {
    case FanMode::kFanIn:
      n = std::max(1.0, fan_in);
      break;
    case FanMode::kFanOut:
      n = std::max(1.0, fan_out);
      break;
    case FanMode::kFanAvg:
      n = std::max(1.0, (fan_in + fan_out) / 2.0);
      break;
  }
  return scale_ / n;
}

absl::StatusOr<Buffer> VarianceScaling::Generate(const Shape& shape, DType dtype) const {
  if (!IsFloat(dtype)) {
    return Error(absl::StrCat("expected a floating point dtype, got ", DTypeName(dtype)));
  }
  const double variance = Variance(shape);
  const int64_t n = shape.NumElements();
  std::vector<double> values;
  switch (distribution_) {
    case FanDistribution::kTruncatedNormal: {
      const double stddev = std::sqrt(variance) / kTruncatedNormalStddev;
      values = TruncatedStandardNormal(CallSeed(), n);
      for (double& v : values) v *= stddev;
      break;
    }
    case FanDistribution::kUntruncatedNormal: {
      const double stddev = std::sqrt(variance);
      values = Normal(CallSeed(), n);
      for (double& v : values) v *= stddev;
      break;
    }
    case FanDistribution::kUniform: {
      const double limit = std::sqrt(3.0 * variance);
      const double top = BelowAsF32(limit);
      values = Uniform(CallSeed(), n);
      for (double& v : values) {
        v = -limit + 2.0 * limit * v;
        if (static_cast<double>(static_cast<float>(v)) >= limit) v = top;
      }
      break;
    }
  }
  return FromDoubles(shape, dtype, values);
}

// ---- Orthogonal and Identity ------------------------------------------------

absl::StatusOr<Buffer> Orthogonal::Generate(const Shape& shape, DType dtype) const {
  if (!IsFloat(dtype)) {
    return Error(absl::StrCat("expected a floating point dtype, got ", DTypeName(dtype)));
  }
  if (shape.rank() < 2) {
    return Error(
        absl::StrCat("the tensor to initialize must be at least "
                     "two-dimensional, got shape ",
                     shape.ToString(), " of rank ", shape.rank()));
  }
  int64_t rows = 1;
  for (int i = 0; i < shape.rank() - 1; ++i) rows *= shape.dim(i);
  const int64_t cols = shape.dim(shape.rank() - 1);
  const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  QrFactors qr = HouseholderQr(Normal(CallSeed(), m * n), m, n);
  // Q := Q * sign(diag(R)) (sign(0) = 0, as tf.sign).
  for (int64_t k = 0; k < n; ++k) {
    const double d = qr.r[k * n + k];
    const double sign = d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0;
    for (int64_t i = 0; i < m; ++i) qr.q[i * n + k] *= sign;
  }
  std::vector<double> out(rows * cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      // rows >= cols: Q is rows x cols; otherwise Q is cols x rows, transposed.
      const double q = rows >= cols ? qr.q[i * n + j] : qr.q[j * n + i];
      out[i * cols + j] = gain_ * q;
    }
  }
  return FromDoubles(shape, dtype, out);
}

absl::StatusOr<Buffer> Identity::Generate(const Shape& shape, DType dtype) const {
  if (!IsFloat(dtype)) {
    return Error(absl::StrCat("expected a floating point dtype, got ", DTypeName(dtype)));
  }
  if (shape.rank() != 2) {
    return Error(absl::StrCat("can only be used for 2-D matrices, got shape ", shape.ToString(),
                              " of rank ", shape.rank()));
  }
  Buffer b = Buffer::Zeros(dtype, shape);
  const int64_t rows = shape.dim(0), cols = shape.dim(1);
  for (int64_t i = 0; i < std::min(rows, cols); ++i) b.SetFromDouble(i * cols + i, gain_);
  return b;
}

}  // namespace kiln
