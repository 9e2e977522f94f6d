// InitializerByName and InitializerFromConfig: the tf.keras 2.x name table
// (class names, their snake_case forms, the "V2" and short aliases) and the
// constructor arguments each class takes in a config.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/initializers.h"
#include "layers/keras_object.h"

namespace kiln {
namespace {

using Builder = std::function<absl::StatusOr<InitializerPtr>(KerasArgs&)>;

struct Entry {
  const char* class_name;
  const char* snake_name;
  bool snake_v2_alias;  // "glorot_uniformV2" and friends
  Builder build;
};

// Flattens a Constant value (a number, a bool, nested lists, or a serialized
// numpy array {"config": {"value": ...}}) into `out`.
absl::Status FlattenValue(const nlohmann::json& v, KerasArgs& args, std::vector<double>* out) {
  if (v.is_number()) {
    out->push_back(v.get<double>());
  } else if (v.is_boolean()) {
    out->push_back(v.get<bool>() ? 1.0 : 0.0);
  } else if (v.is_array()) {
    for (const nlohmann::json& e : v) KILN_RETURN_IF_ERROR(FlattenValue(e, args, out));
  } else if (v.is_object() && v.contains("config") && v["config"].is_object() &&
             v["config"].contains("value")) {
    return FlattenValue(v["config"]["value"], args, out);
  } else {
    return args.ArgError("value", absl::StrCat("must be a number or a (nested) list "
                                               "of numbers, got ",
                                               v.dump()));
  }
  return absl::OkStatus();
}

absl::StatusOr<FanMode> ParseMode(KerasArgs& args) {
  KILN_ASSIGN_OR_RETURN(std::string mode, args.String("mode", "fan_in"));
  if (mode == "fan_in") return FanMode::kFanIn;
  if (mode == "fan_out") return FanMode::kFanOut;
  if (mode == "fan_avg") return FanMode::kFanAvg;
  return args.ArgError("mode",
                       absl::StrCat("must be one of fan_in, fan_out, fan_avg; got '", mode, "'"));
}

absl::StatusOr<FanDistribution> ParseDistribution(KerasArgs& args) {
  KILN_ASSIGN_OR_RETURN(std::string d, args.String("distribution", "truncated_normal"));
  d = absl::AsciiStrToLower(d);
  if (d == "truncated_normal" || d == "normal") return FanDistribution::kTruncatedNormal;
  if (d == "untruncated_normal") return FanDistribution::kUntruncatedNormal;
  if (d == "uniform") return FanDistribution::kUniform;
  return args.ArgError("distribution", absl::StrCat("must be one of uniform, truncated_normal, "
                                                    "untruncated_normal; got '",
                                                    d, "'"));
}

// A preset: only a seed.
template <typename T>
Builder Preset() {
  return [](KerasArgs& args) -> absl::StatusOr<InitializerPtr> {
    KILN_ASSIGN_OR_RETURN(std::optional<int64_t> seed, args.OptionalInt("seed"));
    return InitializerPtr(std::make_shared<T>(seed));
  };
}

// (a, b, seed) classes: RandomUniform(minval, maxval), RandomNormal and
// TruncatedNormal(mean, stddev).
template <typename T>
Builder TwoNumbersAndSeed(const char* a, double a_default, const char* b, double b_default) {
  return [=](KerasArgs& args) -> absl::StatusOr<InitializerPtr> {
    KILN_ASSIGN_OR_RETURN(double x, args.Number(a, a_default));
    KILN_ASSIGN_OR_RETURN(double y, args.Number(b, b_default));
    KILN_ASSIGN_OR_RETURN(std::optional<int64_t> seed, args.OptionalInt("seed"));
    return InitializerPtr(std::make_shared<T>(x, y, seed));
  };
}

const std::vector<Entry>& Table() {
  static const auto* table = new std::vector<Entry>{
      {"Zeros", "zeros", false,
       [](KerasArgs&) -> absl::StatusOr<InitializerPtr> { return std::make_shared<Zeros>(); }},
      {"Ones", "ones", false,
       [](KerasArgs&) -> absl::StatusOr<InitializerPtr> { return std::make_shared<Ones>(); }},
      {"Constant", "constant", false,
       [](KerasArgs& args) -> absl::StatusOr<InitializerPtr> {
         nlohmann::json raw = args.Raw("value");
         if (raw.is_null()) return std::make_shared<Constant>(0.0);
         std::vector<double> values;
         KILN_RETURN_IF_ERROR(FlattenValue(raw, args, &values));
         return std::make_shared<Constant>(std::move(values));
       }},
      {"RandomUniform", "random_uniform", false,
       TwoNumbersAndSeed<RandomUniform>("minval", -0.05, "maxval", 0.05)},
      {"RandomNormal", "random_normal", false,
       TwoNumbersAndSeed<RandomNormal>("mean", 0.0, "stddev", 0.05)},
      {"TruncatedNormal", "truncated_normal", false,
       TwoNumbersAndSeed<TruncatedNormal>("mean", 0.0, "stddev", 0.05)},
      {"VarianceScaling", "variance_scaling", false,
       [](KerasArgs& args) -> absl::StatusOr<InitializerPtr> {
         KILN_ASSIGN_OR_RETURN(double scale, args.Number("scale", 1.0));
         KILN_ASSIGN_OR_RETURN(FanMode mode, ParseMode(args));
         KILN_ASSIGN_OR_RETURN(FanDistribution distribution, ParseDistribution(args));
         KILN_ASSIGN_OR_RETURN(std::optional<int64_t> seed, args.OptionalInt("seed"));
         return std::make_shared<VarianceScaling>(scale, mode, distribution, seed);
       }},
      {"GlorotUniform", "glorot_uniform", true, Preset<GlorotUniform>()},
      {"GlorotNormal", "glorot_normal", true, Preset<GlorotNormal>()},
      {"HeUniform", "he_uniform", true, Preset<HeUniform>()},
      {"HeNormal", "he_normal", true, Preset<HeNormal>()},
      {"LecunUniform", "lecun_uniform", true, Preset<LecunUniform>()},
      {"LecunNormal", "lecun_normal", true, Preset<LecunNormal>()},
      {"Orthogonal", "orthogonal", false,
       [](KerasArgs& args) -> absl::StatusOr<InitializerPtr> {
         KILN_ASSIGN_OR_RETURN(double gain, args.Number("gain", 1.0));
         KILN_ASSIGN_OR_RETURN(std::optional<int64_t> seed, args.OptionalInt("seed"));
         return std::make_shared<Orthogonal>(gain, seed);
       }},
      {"Identity", "identity", false,
       [](KerasArgs& args) -> absl::StatusOr<InitializerPtr> {
         KILN_ASSIGN_OR_RETURN(double gain, args.Number("gain", 1.0));
         return std::make_shared<Identity>(gain);
       }},
  };
  return *table;
}

const Entry* Lookup(absl::string_view name) {
  static const std::pair<absl::string_view, absl::string_view> kShortAliases[] = {
      {"normal", "random_normal"},
      {"uniform", "random_uniform"},
      {"one", "ones"},
      {"zero", "zeros"}};
  for (const auto& [alias, target] : kShortAliases) {
    if (name == alias) name = target;
  }
  for (const Entry& e : Table()) {
    if (name == e.class_name || name == e.snake_name || name == absl::StrCat(e.class_name, "V2") ||
        (e.snake_v2_alias && name == absl::StrCat(e.snake_name, "V2"))) {
      return &e;
    }
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<InitializerPtr> InitializerFromConfig(const nlohmann::json& config) {
  KILN_ASSIGN_OR_RETURN(KerasObject object, ParseKerasObject(config, "initializer"));
  const Entry* entry = Lookup(object.class_name);
  if (entry == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown initializer: '", object.class_name, "'"));
  }
  KerasArgs args(object, "initializer");
  args.Ignore("dtype");
  KILN_ASSIGN_OR_RETURN(InitializerPtr init, entry->build(args));
  KILN_RETURN_IF_ERROR(args.CheckNoneLeft());
  KILN_RETURN_IF_ERROR(init->Validate());
  return init;
}

absl::StatusOr<InitializerPtr> InitializerByName(absl::string_view name) {
  return InitializerFromConfig(nlohmann::json(std::string(name)));
}

}  // namespace kiln
