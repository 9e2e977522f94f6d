#include "layers/conv_config.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "layers/conv_utils.h"
#include "layers/layer_args.h"

namespace kiln {
namespace {

std::string Show(const nlohmann::json& j) {
  std::string s = j.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// The error of a nested object's reader, naming the argument it came from.
absl::Status Nested(const ConvConfigReader& r, absl::string_view key, const absl::Status& status) {
  return r.ArgError(key, absl::StrCat("is invalid: ", status.message()));
}

}  // namespace

ConvConfigReader::ConvConfigReader(absl::string_view class_name, const nlohmann::json& config)
    : object_{std::string(class_name), config.is_object() ? config : nlohmann::json::object()},
      args_(object_, "layer") {}

absl::StatusOr<std::string> ConvConfigReader::Name() { return BaseLayerArgs(args_); }

absl::StatusOr<int64_t> ConvConfigReader::RequiredInt(absl::string_view key) {
  const nlohmann::json j = args_.Raw(key);
  if (j.is_null()) return args_.ArgError(key, "is required");
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_float() && std::isfinite(j.get<double>()) && std::abs(j.get<double>()) < 1e15) {
    return static_cast<int64_t>(j.get<double>());  // Python int(): truncation
  }
  return args_.ArgError(key, absl::StrCat("must be an integer, got ", Show(j)));
}

absl::StatusOr<int64_t> ConvConfigReader::Int(absl::string_view key, int64_t default_value) {
  const nlohmann::json j = args_.Raw(key);
  if (j.is_null()) return default_value;
  if (!j.is_number_integer()) {
    return args_.ArgError(key, absl::StrCat("must be an integer, got ", Show(j)));
  }
  return j.get<int64_t>();
}

absl::StatusOr<std::optional<IntList>> ConvConfigReader::OptionalTuple(absl::string_view key,
                                                                       int n) {
  const nlohmann::json j = args_.Raw(key);
  if (j.is_null()) return std::optional<IntList>();
  if (j.is_number_integer()) return std::optional<IntList>(IntList{j.get<int64_t>()});
  IntList values;
  if (j.is_array()) {
    for (const nlohmann::json& e : j) {
      if (!e.is_number_integer()) {
        values.clear();
        break;
      }
      values.push_back(e.get<int64_t>());
    }
  }
  if (values.empty() || values.size() != j.size()) {
    return args_.ArgError(key,
                          absl::StrCat("must be an int or a list of ", n, " ints, got ", Show(j)));
  }
  if (static_cast<int>(values.size()) != n) {
    return args_.Error(absl::StrCat("The `", key, "` argument must be a tuple of ", n,
                                    " integers. Received: ", TupleString(values)));
  }
  return std::optional<IntList>(std::move(values));
}

absl::StatusOr<IntList> ConvConfigReader::Tuple(absl::string_view key, int n,
                                                const std::optional<IntList>& default_value) {
  absl::StatusOr<std::optional<IntList>> t = OptionalTuple(key, n);
  if (!t.ok()) return t.status();
  if (t->has_value()) return **t;
  if (default_value.has_value()) return *default_value;
  return args_.ArgError(key, "is required");
}

absl::StatusOr<std::string> ConvConfigReader::String(absl::string_view key,
                                                     absl::string_view default_value) {
  const nlohmann::json j = args_.Raw(key);
  if (j.is_null()) return std::string(default_value);
  if (!j.is_string()) return args_.ArgError(key, absl::StrCat("must be a string, got ", Show(j)));
  return j.get<std::string>();
}

absl::StatusOr<bool> ConvConfigReader::Bool(absl::string_view key, bool default_value) {
  return BoolArg(args_, key, default_value);
}

absl::StatusOr<InitializerPtr> ConvConfigReader::ReadInitializer(absl::string_view key,
                                                                 const char* fallback) {
  absl::StatusOr<InitializerPtr> init = InitializerArg(args_, key, fallback);
  if (!init.ok()) return Nested(*this, key, init.status());
  return init;
}

absl::StatusOr<Regularizer> ConvConfigReader::ReadRegularizer(absl::string_view key) {
  absl::StatusOr<Regularizer> r = RegularizerArg(args_, key);
  if (!r.ok()) return Nested(*this, key, r.status());
  return r;
}

absl::StatusOr<Constraint> ConvConfigReader::ReadConstraint(absl::string_view key) {
  absl::StatusOr<Constraint> c = ConstraintArg(args_, key);
  if (!c.ok()) return Nested(*this, key, c.status());
  return c;
}

absl::Status ConvConfigReader::ReadWeightArgs(absl::Span<const WeightArgTargets> weights,
                                              Regularizer& activity_regularizer) {
  for (const WeightArgTargets& w : weights) {
    KILN_ASSIGN_OR_RETURN(*w.initializer, ReadInitializer(absl::StrCat(w.prefix, "_initializer"),
                                                          w.default_initializer));
  }
  for (const WeightArgTargets& w : weights) {
    KILN_ASSIGN_OR_RETURN(*w.regularizer, ReadRegularizer(absl::StrCat(w.prefix, "_regularizer")));
  }
  KILN_ASSIGN_OR_RETURN(activity_regularizer, ReadRegularizer("activity_regularizer"));
  for (const WeightArgTargets& w : weights) {
    KILN_ASSIGN_OR_RETURN(*w.constraint, ReadConstraint(absl::StrCat(w.prefix, "_constraint")));
  }
  return absl::OkStatus();
}

}  // namespace kiln
