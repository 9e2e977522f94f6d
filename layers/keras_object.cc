#include "layers/keras_object.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kiln {
namespace {

// A short rendering of a JSON value for messages.
std::string Show(const nlohmann::json& j) {
  std::string s = j.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace

absl::StatusOr<KerasObject> ParseKerasObject(const nlohmann::json& j, absl::string_view kind) {
  KerasObject object;
  if (j.is_string()) {
    object.class_name = j.get<std::string>();
    return object;
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("could not interpret ", kind, " identifier: ", Show(j),
                     " (expected a name or a {\"class_name\", \"config\"} object)"));
  }
  auto name = j.find("class_name");
  if (name == j.end() || !name->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " config needs a string \"class_name\", got ", Show(j)));
  }
  object.class_name = name->get<std::string>();
  for (const auto& [key, value] : j.items()) {
    if (key != "class_name" && key != "config" && key != "module" && key != "registered_name") {
      return absl::InvalidArgumentError(absl::StrCat(kind, " '", object.class_name,
                                                     "': unexpected key '", key,
                                                     "' beside \"class_name\" and \"config\""));
    }
  }
  auto config = j.find("config");
  if (config != j.end() && !config->is_null()) {
    if (!config->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          kind, " '", object.class_name, "': \"config\" must be an object, got ", Show(*config)));
    }
    object.config = *config;
  }
  return object;
}

KerasArgs::KerasArgs(const KerasObject& object, absl::string_view kind)
    : object_(object), kind_(kind) {}

const nlohmann::json* KerasArgs::Find(absl::string_view key) {
  used_.insert(std::string(key));
  auto it = object_.config.find(std::string(key));
  return it == object_.config.end() ? nullptr : &*it;
}

absl::StatusOr<double> KerasArgs::Number(absl::string_view key, double default_value,
                                         bool null_is_default) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr || (v->is_null() && null_is_default)) return default_value;
  if (!v->is_number() || v->is_boolean()) {
    return ArgError(key, absl::StrCat("must be a number, got ", Show(*v)));
  }
  return v->get<double>();
}

absl::StatusOr<std::optional<int64_t>> KerasArgs::OptionalInt(absl::string_view key) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (!v->is_number_integer()) {
    return ArgError(key, absl::StrCat("must be an integer or null, got ", Show(*v)));
  }
  return std::optional<int64_t>(v->get<int64_t>());
}

absl::StatusOr<std::string> KerasArgs::String(absl::string_view key,
                                              absl::string_view default_value) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr) return std::string(default_value);
  if (!v->is_string()) {
    return ArgError(key, absl::StrCat("must be a string, got ", Show(*v)));
  }
  return v->get<std::string>();
}

absl::StatusOr<std::optional<IntList>> KerasArgs::IntOrIntList(absl::string_view key,
                                                               const IntList& default_value) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr) return std::optional<IntList>(default_value);
  if (v->is_null()) return std::optional<IntList>();
  if (v->is_number_integer()) return std::optional<IntList>(IntList{v->get<int64_t>()});
  if (v->is_array()) {
    IntList out;
    for (const nlohmann::json& e : *v) {
      if (!e.is_number_integer()) {
        return ArgError(key, absl::StrCat("must be an int or a list of ints, got ", Show(*v)));
      }
      out.push_back(e.get<int64_t>());
    }
    return std::optional<IntList>(std::move(out));
  }
  return ArgError(key, absl::StrCat("must be an int or a list of ints, got ", Show(*v)));
}

nlohmann::json KerasArgs::Raw(absl::string_view key) {
  const nlohmann::json* v = Find(key);
  return v == nullptr ? nlohmann::json() : *v;
}

absl::Status KerasArgs::CheckNoneLeft() const {
  for (const auto& [key, value] : object_.config.items()) {
    if (used_.count(key) == 0) {
      return Error(absl::StrCat("unexpected argument '", key, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status KerasArgs::Error(absl::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(kind_, " '", object_.class_name, "': ", message));
}

absl::Status KerasArgs::ArgError(absl::string_view key, absl::string_view message) const {
  return Error(absl::StrCat("argument '", key, "' ", message));
}

}  // namespace kiln
