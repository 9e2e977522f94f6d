#include "layers/layer_args.h"

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace kiln {

absl::StatusOr<std::string> BaseLayerArgs(KerasArgs& args) {
  args.Ignore("trainable");
  args.Ignore("dtype");
  const nlohmann::json name = args.Raw("name");
  if (name.is_null()) return std::string();
  if (!name.is_string()) return args.ArgError("name", "must be a string");
  return name.get<std::string>();
}

absl::StatusOr<nlohmann::json> RequiredArg(KerasArgs& args, const nlohmann::json& config,
                                           absl::string_view key) {
  nlohmann::json v = args.Raw(key);
  if (!config.is_object() || !config.contains(std::string(key))) {
    return args.Error(absl::StrCat("missing required argument '", key, "'"));
  }
  return v;
}

absl::StatusOr<std::optional<double>> OptionalNumberArg(KerasArgs& args, absl::string_view key) {
  const nlohmann::json v = args.Raw(key);
  if (v.is_null()) return std::optional<double>();
  if (!v.is_number() || v.is_boolean()) {
    return args.ArgError(key, absl::StrCat("must be a number or null, got ", v.dump()));
  }
  return std::optional<double>(v.get<double>());
}

absl::StatusOr<bool> BoolArg(KerasArgs& args, absl::string_view key, bool default_value) {
  const nlohmann::json v = args.Raw(key);
  if (v.is_null()) return default_value;
  if (!v.is_boolean()) return args.ArgError(key, absl::StrCat("must be true or false, got ", v.dump()));
  return v.get<bool>();
}

absl::StatusOr<InitializerPtr> InitializerArg(KerasArgs& args, absl::string_view key,
                                              absl::string_view fallback) {
  const nlohmann::json v = args.Raw(key);
  return InitializerFromConfig(v.is_null() ? nlohmann::json(std::string(fallback)) : v);
}

absl::StatusOr<Regularizer> RegularizerArg(KerasArgs& args, absl::string_view key) {
  const nlohmann::json v = args.Raw(key);
  if (v.is_null()) return Regularizer();
  return RegularizerFromConfig(v);
}

absl::StatusOr<Constraint> ConstraintArg(KerasArgs& args, absl::string_view key) {
  const nlohmann::json v = args.Raw(key);
  if (v.is_null()) return Constraint();
  return ConstraintFromConfig(v);
}

absl::StatusOr<std::string> DataFormatArg(KerasArgs& args) {
  const nlohmann::json v = args.Raw("data_format");
  if (v.is_null()) return std::string();
  if (!v.is_string()) {
    return args.ArgError("data_format", absl::StrCat("must be a string or null, got ", v.dump()));
  }
  return v.get<std::string>();
}

}  // namespace kiln
