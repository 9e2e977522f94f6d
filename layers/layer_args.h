// Helpers for the <Class>FromConfig factories of the layers: the arguments
// every Keras layer config carries and the optional sub-objects
// (initializers, regularizers, constraints) and numbers of layer configs.
//
//   KerasObject object{"Dropout", config};
//   KerasArgs args(object, "layer");
//   KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
//   KILN_ASSIGN_OR_RETURN(std::optional<double> max, OptionalNumberArg(args, "max_value"));
#ifndef KILN_LAYERS_LAYER_ARGS_H_
#define KILN_LAYERS_LAYER_ARGS_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/constraints.h"
#include "layers/initializers.h"
#include "layers/keras_object.h"
#include "layers/layer.h"
#include "layers/regularizers.h"

namespace kiln {

// "name" (missing: ""), and drops "trainable" and "dtype".
absl::StatusOr<std::string> BaseLayerArgs(KerasArgs& args);

// The value of a required argument (Keras: TypeError when missing).
absl::StatusOr<nlohmann::json> RequiredArg(KerasArgs& args, const nlohmann::json& config,
                                           absl::string_view key);
// A number; missing or null: nullopt.
absl::StatusOr<std::optional<double>> OptionalNumberArg(KerasArgs& args, absl::string_view key);
// (A number that may be missing but not null: args.Number(key, default).)
// true or false; missing: the default.
absl::StatusOr<bool> BoolArg(KerasArgs& args, absl::string_view key, bool default_value);
// An initializer config; missing or null: `fallback` (a Keras name).
absl::StatusOr<InitializerPtr> InitializerArg(KerasArgs& args, absl::string_view key,
                                              absl::string_view fallback);
// A regularizer / constraint config; missing or null: none.
absl::StatusOr<Regularizer> RegularizerArg(KerasArgs& args, absl::string_view key);
absl::StatusOr<Constraint> ConstraintArg(KerasArgs& args, absl::string_view key);
// "data_format": a string or null (""; the layer resolves the default).
absl::StatusOr<std::string> DataFormatArg(KerasArgs& args);

// Reports an argument nobody read, then builds T(ctor_args...) and returns
// its constructor error (config_status) if it has one.
template <typename T, typename... Args>
absl::StatusOr<std::shared_ptr<Layer>> FinishLayerConfig(const KerasArgs& args,
                                                         Args&&... ctor_args) {
  absl::Status left = args.CheckNoneLeft();
  if (!left.ok()) return left;
  auto layer = std::make_shared<T>(std::forward<Args>(ctor_args)...);
  if (!layer->config_status().ok()) return layer->config_status();
  return std::shared_ptr<Layer>(std::move(layer));
}

}  // namespace kiln

#endif  // KILN_LAYERS_LAYER_ARGS_H_
