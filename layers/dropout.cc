#include "layers/dropout.h"

#include <atomic>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "layers/layer_args.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

// The seed of the n-th unseeded dropout layer of the process (SplitMix64).
int64_t NextDefaultSeed() {
  static std::atomic<uint64_t> counter{0};
  uint64_t z = 0x5EED'D50F'0000'0000ull + (counter.fetch_add(1) + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return static_cast<int64_t>(z ^ (z >> 31));
}

std::string ShowNoiseShape(const std::vector<int64_t>& ns) {
  return absl::StrCat(
      "(", absl::StrJoin(ns, ", ", [](std::string* out, int64_t d) {
        absl::StrAppend(out, d == Dropout::kNone ? std::string("None") : absl::StrCat(d));
      }), ")");
}

// "" -> channels_last; otherwise exactly one of the two names.
bool ResolveDataFormat(const std::string& data_format, bool* channels_first,
                       absl::Status* error) {
  *channels_first = data_format == "channels_first";
  if (data_format.empty() || data_format == "channels_last" || *channels_first) return true;
  *error = absl::InvalidArgumentError(absl::StrCat(
      "data_format must be 'channels_last' or 'channels_first', got '", data_format, "'"));
  return false;
}

// Noise (B, 1, ..., 1, C) or (B, C, 1, ..., 1) for an input of `rank`.
absl::StatusOr<Shape> SpatialNoise(const Tensor& x, int rank, bool channels_first) {
  if (x.rank() != rank) {
    return absl::InvalidArgumentError(absl::StrCat("expected ndim=", rank, ", found ndim=",
                                                   x.rank(), " (input shape ",
                                                   x.shape().ToString(), ")"));
  }
  std::vector<int64_t> dims(rank, 1);
  dims[0] = x.shape().dim(0);
  const int channel = channels_first ? 1 : rank - 1;
  dims[channel] = x.shape().dim(channel);
  return Shape(std::move(dims));
}

DropoutOptions FromSpatial(const SpatialDropoutOptions& o) {
  return DropoutOptions{.noise_shape = {}, .seed = o.seed, .name = o.name};
}

}  // namespace

Dropout::Dropout(double rate, DropoutOptions options)
    : Dropout("Dropout", rate, std::move(options)) {}

Dropout::Dropout(absl::string_view class_name, double rate, DropoutOptions options)
    : Layer(class_name, options.name), rate_(rate), options_(std::move(options)) {
  supports_masking_ = true;
  seed_ = options_.seed.has_value() ? *options_.seed : NextDefaultSeed();
  if (!(rate >= 0.0 && rate <= 1.0)) {
    ConfigError(absl::InvalidArgumentError(absl::StrCat(
        "invalid value received for argument rate: expected a float value between 0 and 1, "
        "got rate=", rate)));
  }
  for (int64_t d : options_.noise_shape) {
    if (d < 0 && d != kNone) {
      ConfigError(absl::InvalidArgumentError(absl::StrCat(
          "noise_shape ", ShowNoiseShape(options_.noise_shape),
          " has a negative size (use Dropout::kNone for the input's size)")));
      break;
    }
  }
}

absl::StatusOr<Shape> Dropout::NoiseShape(const Tensor& x) const {
  const std::vector<int64_t>& ns = options_.noise_shape;
  if (ns.empty()) return x.shape();
  const Shape& in = x.shape();
  if (static_cast<int>(ns.size()) != in.rank()) {
    return absl::InvalidArgumentError(
        absl::StrCat("noise_shape ", ShowNoiseShape(ns), " has ", ns.size(),
                     " entries but the input ", in.ToString(), " has rank ", in.rank()));
  }
  std::vector<int64_t> dims(ns.size());
  for (int i = 0; i < in.rank(); ++i) {
    if (ns[i] == kNone || ns[i] == in.dim(i)) {
      dims[i] = in.dim(i);
    } else if (ns[i] == 1) {
      dims[i] = 1;
    } else if (in.dim(i) == Shape::kBatch) {
      return absl::InvalidArgumentError(absl::StrCat(
          "noise_shape ", ShowNoiseShape(ns), ": entry ", i, " is ", ns[i],
          " but the batch size is not known when the graph is built; use None or 1"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "noise_shape ", ShowNoiseShape(ns), " does not broadcast to the input shape ",
          in.ToString(), " (entry ", i, ")"));
    }
  }
  return Shape(std::move(dims));
}

absl::StatusOr<Tensor> Dropout::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  if (inputs.size() != 1) return absl::InvalidArgumentError("expected one input tensor");
  const Tensor& x = inputs[0];
  if (rate_ >= 1.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rate must be in [0, 1) to run, got ", rate_, " (every unit would be dropped)"));
  }
  KILN_ASSIGN_OR_RETURN(Shape noise_shape, NoiseShape(x));
  // rate 0: the identity in both phases (still an output node of its own).
  if (rate_ == 0.0) return Reshape(x, x.shape());
  if (x.dtype() != DType::kF32) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a float32 input, got ", x.node().type.ToString()));
  }
  const std::shared_ptr<Graph>& graph = x.graph();
  // The stream: how many times this layer was called in this graph before.
  int64_t stream = 0;
  for (const LayerCall& call : graph->Attachment<LayerGraphState>().calls) {
    stream += call.layer == this;
  }
  const Tensor u = RandomUniform(StepCounter(graph), noise_shape, seed_, stream);
  const Tensor keep = Cast(GreaterEqual(u, ScalarLike(u, rate_)), DType::kF32);
  const Tensor dropped = (x * (1.0 / (1.0 - rate_))) * keep;
  return Select(ctx.training, dropped, x);
}

SpatialDropout1D::SpatialDropout1D(double rate, SpatialDropoutOptions options)
    : Dropout("SpatialDropout1D", rate, FromSpatial(options)) {
  if (!options.data_format.empty()) {
    ConfigError(absl::InvalidArgumentError(
        "SpatialDropout1D takes no data_format (channels_last only)"));
  }
}

absl::StatusOr<Shape> SpatialDropout1D::NoiseShape(const Tensor& x) const {
  return SpatialNoise(x, 3, /*channels_first=*/false);
}

SpatialDropout2D::SpatialDropout2D(double rate, SpatialDropoutOptions options)
    : Dropout("SpatialDropout2D", rate, FromSpatial(options)) {
  absl::Status error;
  if (!ResolveDataFormat(options.data_format, &channels_first_, &error)) ConfigError(error);
}

absl::StatusOr<Shape> SpatialDropout2D::NoiseShape(const Tensor& x) const {
  return SpatialNoise(x, 4, channels_first_);
}

SpatialDropout3D::SpatialDropout3D(double rate, SpatialDropoutOptions options)
    : Dropout("SpatialDropout3D", rate, FromSpatial(options)) {
  absl::Status error;
  if (!ResolveDataFormat(options.data_format, &channels_first_, &error)) ConfigError(error);
}

absl::StatusOr<Shape> SpatialDropout3D::NoiseShape(const Tensor& x) const {
  return SpatialNoise(x, 5, channels_first_);
}

// ---- Keras configs ----------------------------------------------------------

namespace {

struct DropoutArgs {
  double rate = 0;
  std::vector<int64_t> noise_shape;
  std::optional<int64_t> seed;
  std::string name;
  std::string data_format;
};

// The arguments of every dropout config; `data_format` only for 2D/3D.
absl::StatusOr<DropoutArgs> ReadDropoutArgs(KerasArgs& args, const nlohmann::json& config,
                                            bool data_format) {
  DropoutArgs out;
  KILN_ASSIGN_OR_RETURN(out.name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(const nlohmann::json rate, RequiredArg(args, config, "rate"));
  if (!rate.is_number() || rate.is_boolean()) {
    return args.ArgError("rate", absl::StrCat("must be a number, got ", rate.dump()));
  }
  out.rate = rate.get<double>();
  const nlohmann::json ns = args.Raw("noise_shape");
  if (!ns.is_null()) {
    if (!ns.is_array()) {
      return args.ArgError("noise_shape", "must be null or a list of ints and nulls");
    }
    for (const nlohmann::json& d : ns) {
      if (d.is_null()) {
        out.noise_shape.push_back(Dropout::kNone);
      } else if (d.is_number_integer()) {
        out.noise_shape.push_back(d.get<int64_t>());
      } else {
        return args.ArgError("noise_shape", "must be null or a list of ints and nulls");
      }
    }
  }
  KILN_ASSIGN_OR_RETURN(out.seed, args.OptionalInt("seed"));
  if (data_format) {
    KILN_ASSIGN_OR_RETURN(out.data_format, DataFormatArg(args));
  }
  KILN_RETURN_IF_ERROR(args.CheckNoneLeft());
  return out;
}

template <typename T>
absl::StatusOr<std::shared_ptr<Layer>> SpatialFromConfig(const char* class_name,
                                                         const nlohmann::json& config,
                                                         bool data_format) {
  KerasObject object{class_name, config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(DropoutArgs a, ReadDropoutArgs(args, config, data_format));
  // Keras passes noise_shape on to Dropout, which the spatial layers ignore.
  auto layer = std::make_shared<T>(
      a.rate, SpatialDropoutOptions{.data_format = a.data_format, .seed = a.seed, .name = a.name});
  KILN_RETURN_IF_ERROR(layer->config_status());
  return layer;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Layer>> DropoutFromConfig(const nlohmann::json& config) {
  KerasObject object{"Dropout", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(DropoutArgs a, ReadDropoutArgs(args, config, false));
  auto layer = std::make_shared<Dropout>(
      a.rate, DropoutOptions{.noise_shape = a.noise_shape, .seed = a.seed, .name = a.name});
  KILN_RETURN_IF_ERROR(layer->config_status());
  return layer;
}

absl::StatusOr<std::shared_ptr<Layer>> SpatialDropout1DFromConfig(const nlohmann::json& config) {
  return SpatialFromConfig<SpatialDropout1D>("SpatialDropout1D", config, false);
}

absl::StatusOr<std::shared_ptr<Layer>> SpatialDropout2DFromConfig(const nlohmann::json& config) {
  return SpatialFromConfig<SpatialDropout2D>("SpatialDropout2D", config, true);
}

absl::StatusOr<std::shared_ptr<Layer>> SpatialDropout3DFromConfig(const nlohmann::json& config) {
  return SpatialFromConfig<SpatialDropout3D>("SpatialDropout3D", config, true);
}

}  // namespace kiln
