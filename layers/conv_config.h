// Reading the Keras JSON configs of the convolution-family layers (Conv,
// DepthwiseConv2D, SeparableConv2D, MaxPooling, LocallyConnected): the
// arguments they share, each checked and consumed, unknown keys rejected.
// Builds on layers/layer_args.h, adding Keras's tuple arguments
// (normalize_tuple's length rule) and naming the argument a nested
// initializer, regularizer or constraint error came from.
//
//   ConvConfigReader r("Conv2D", config);
//   KILN_ASSIGN_OR_RETURN(IntList k, r.Tuple("kernel_size", 2, std::nullopt));
//   KILN_ASSIGN_OR_RETURN(options.kernel_initializer,
//                         r.ReadInitializer("kernel_initializer", "glorot_uniform"));
//   KILN_RETURN_IF_ERROR(r.Finish());
//
// The blocks every conv-family reader shares have one call each:
//   KILN_ASSIGN_OR_RETURN(IntList kernel_size, r.ReadGeometry(2, options));
//   KILN_RETURN_IF_ERROR(r.ReadWeightArgs(
//       {{"kernel", "glorot_uniform", &o.kernel_initializer, &o.kernel_regularizer,
//         &o.kernel_constraint},
//        {"bias", "zeros", &o.bias_initializer, &o.bias_regularizer, &o.bias_constraint}},
//       o.activity_regularizer));
#ifndef KILN_LAYERS_CONV_CONFIG_H_
#define KILN_LAYERS_CONV_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "graph/attrs.h"
#include "graph/status_macros.h"
#include "layers/constraints.h"
#include "layers/initializers.h"
#include "layers/keras_object.h"
#include "layers/regularizers.h"
#include "nlohmann/json.hpp"

namespace kiln {

// Where ReadWeightArgs stores the arguments of one weight "<prefix>_...".
struct WeightArgTargets {
  const char* prefix;               // "kernel", "depthwise", "bias", ...
  const char* default_initializer;  // a Keras name
  InitializerPtr* initializer;
  Regularizer* regularizer;
  Constraint* constraint;
};

class ConvConfigReader {
 public:
  ConvConfigReader(absl::string_view class_name, const nlohmann::json& config);
  ConvConfigReader(const ConvConfigReader&) = delete;
  ConvConfigReader& operator=(const ConvConfigReader&) = delete;

  // "name": a string; missing: "" (a default name). Also accepts and drops
  // "trainable" and "dtype" (layers/layer_args.h's BaseLayerArgs).
  absl::StatusOr<std::string> Name();
  // A required number (a float is truncated, as Keras's int(filters)).
  absl::StatusOr<int64_t> RequiredInt(absl::string_view key);
  // An integer; missing or null: the default.
  absl::StatusOr<int64_t> Int(absl::string_view key, int64_t default_value);
  // An int (returned as a one-element list, repeated by NormalizeTuple) or
  // a list of exactly n ints (Keras's normalize_tuple message otherwise);
  // missing or null: the default, or an error when there is none.
  absl::StatusOr<IntList> Tuple(absl::string_view key, int n,
                                const std::optional<IntList>& default_value);
  // Like Tuple, but null stays nullopt (MaxPooling's strides=None).
  absl::StatusOr<std::optional<IntList>> OptionalTuple(absl::string_view key, int n);
  // A string; missing or null: the default.
  absl::StatusOr<std::string> String(absl::string_view key, absl::string_view default_value);
  absl::StatusOr<bool> Bool(absl::string_view key, bool default_value);
  // A name or {"class_name", "config"}; missing or null: `fallback`.
  absl::StatusOr<InitializerPtr> ReadInitializer(absl::string_view key, const char* fallback);
  // Missing or null: none (an empty function).
  absl::StatusOr<Regularizer> ReadRegularizer(absl::string_view key);
  absl::StatusOr<Constraint> ReadConstraint(absl::string_view key);

  // Keras's geometry arguments in its order: kernel_size (returned; required),
  // then into `options` strides (default 1), padding ("valid"), data_format
  // ("") and, when Options has it, dilation_rate (1); `rank` entries each.
  template <typename Options>
  absl::StatusOr<IntList> ReadGeometry(int rank, Options& options);
  // The weights' arguments in Keras's order: every "<prefix>_initializer",
  // every "<prefix>_regularizer", "activity_regularizer", then every
  // "<prefix>_constraint".
  absl::Status ReadWeightArgs(absl::Span<const WeightArgTargets> weights,
                              Regularizer& activity_regularizer);

  // Accepts a key and drops its value.
  void Ignore(absl::string_view key) { args_.Ignore(key); }

  // An unknown key left over is an error.
  absl::Status Finish() const { return args_.CheckNoneLeft(); }
  absl::Status ArgError(absl::string_view key, absl::string_view message) const {
    return args_.ArgError(key, message);
  }

 private:
  KerasObject object_;
  KerasArgs args_;
};

template <typename Options>
absl::StatusOr<IntList> ConvConfigReader::ReadGeometry(int rank, Options& options) {
  KILN_ASSIGN_OR_RETURN(IntList kernel_size, Tuple("kernel_size", rank, std::nullopt));
  KILN_ASSIGN_OR_RETURN(options.strides, Tuple("strides", rank, IntList{1}));
  KILN_ASSIGN_OR_RETURN(options.padding, String("padding", "valid"));
  KILN_ASSIGN_OR_RETURN(options.data_format, String("data_format", ""));
  if constexpr (requires { options.dilation_rate; }) {
    KILN_ASSIGN_OR_RETURN(options.dilation_rate, Tuple("dilation_rate", rank, IntList{1}));
  }
  return kernel_size;
}

}  // namespace kiln

#endif  // KILN_LAYERS_CONV_CONFIG_H_
