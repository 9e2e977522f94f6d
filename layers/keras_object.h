// Reading Keras-serialized objects: `"name"` strings and
// `{"class_name": ..., "config": {...}}` dictionaries, as tf.keras writes them
// for initializers, regularizers and constraints (model.to_json()), with
// their keyword arguments checked one by one.
//
//   KILN_ASSIGN_OR_RETURN(KerasObject obj, ParseKerasObject(j, "initializer"));
//   KerasArgs args(obj, "initializer");
//   KILN_ASSIGN_OR_RETURN(double stddev, args.Number("stddev", 0.05));
//   KILN_RETURN_IF_ERROR(args.CheckNoneLeft());   // unknown keys are errors
//
// Errors name the kind, the class and the argument:
//   "initializer 'RandomNormal': argument 'stddev' must be a number, got "x""
#ifndef KILN_LAYERS_KERAS_OBJECT_H_
#define KILN_LAYERS_KERAS_OBJECT_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/attrs.h"
#include "nlohmann/json.hpp"

namespace kiln {

// One serialized Keras object: its class name and its keyword arguments.
struct KerasObject {
  std::string class_name;
  nlohmann::json config = nlohmann::json::object();
};

// A string "name" (no arguments) or a {"class_name", "config"} object; the
// extra keys of the newer format ("module", "registered_name") are accepted.
// `kind` ("initializer", ...) names the object in errors.
absl::StatusOr<KerasObject> ParseKerasObject(const nlohmann::json& j, absl::string_view kind);

// The keyword arguments of one object. Each getter consumes its key;
// CheckNoneLeft() then reports a key nobody asked for (Keras: TypeError).
class KerasArgs {
 public:
  KerasArgs(const KerasObject& object, absl::string_view kind);

  // A finite or infinite number (JSON int or float). Missing: the default.
  // A null value is the default only when `null_is_default`.
  absl::StatusOr<double> Number(absl::string_view key, double default_value,
                                bool null_is_default = false);
  // A JSON integer; missing or null: nullopt (used for seeds).
  absl::StatusOr<std::optional<int64_t>> OptionalInt(absl::string_view key);
  // A JSON string. Missing: the default.
  absl::StatusOr<std::string> String(absl::string_view key, absl::string_view default_value);
  // An int or a list of ints. Missing: the default. Null: nullopt.
  absl::StatusOr<std::optional<IntList>> IntOrIntList(absl::string_view key,
                                                      const IntList& default_value);
  // The raw value (null when missing); consumes the key.
  nlohmann::json Raw(absl::string_view key);
  // Accepts and drops a key (e.g. "dtype", which tf.keras's from_config pops).
  void Ignore(absl::string_view key) { used_.insert(std::string(key)); }

  // InvalidArgument naming the first key no getter consumed.
  absl::Status CheckNoneLeft() const;

  // "<kind> '<class>': <message>", for errors found by the caller.
  absl::Status Error(absl::string_view message) const;
  // "<kind> '<class>': argument '<key>' <message>".
  absl::Status ArgError(absl::string_view key, absl::string_view message) const;

 private:
  const nlohmann::json* Find(absl::string_view key);

  const KerasObject& object_;
  std::string kind_;
  std::set<std::string> used_;
};

}  // namespace kiln

#endif  // KILN_LAYERS_KERAS_OBJECT_H_
