#include "layers/python_format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace kiln {

std::string PythonFloatText(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0) return std::signbit(value) ? "-0.0" : "0.0";
  // The fewest significant digits that read back exactly.
  std::string sci;
  for (int digits = 1; digits <= 17; ++digits) {
    sci = absl::StrFormat("%.*e", digits - 1, value);
    if (std::strtod(sci.c_str(), nullptr) == value) break;
  }
  const bool negative = sci[0] == '-';
  const size_t e = sci.find('e');
  std::string mantissa = sci.substr(negative ? 1 : 0, e - (negative ? 1 : 0));
  const int exponent = std::atoi(sci.c_str() + e + 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string text;
  if (exponent >= -4 && exponent < 16) {  // Python's repr switches at these
    if (exponent < 0) {
      text = "0." + std::string(-exponent - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      text = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
    } else {
      text = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
    }
  } else {
    text = digits.substr(0, 1);
    if (digits.size() > 1) text += "." + digits.substr(1);
    text += absl::StrFormat("e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  }
  return negative ? "-" + text : text;
}

namespace {

// One `{name:spec}` field with `value` (integral when `is_int`).
absl::StatusOr<std::string> FormatField(absl::string_view pattern, absl::string_view name,
                                        absl::string_view spec, double value, bool is_int) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("file path '", pattern, "': field {", name,
                                                   spec.empty() ? "" : ":", spec, "}: ", why));
  };
  size_t i = 0;
  bool zero_pad = false;
  if (i < spec.size() && spec[i] == '0') {
    zero_pad = true;
    ++i;
  }
  int width = 0;
  while (i < spec.size() && absl::ascii_isdigit(spec[i])) width = width * 10 + (spec[i++] - '0');
  std::optional<int> precision;
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    int p = 0;
    if (i >= spec.size() || !absl::ascii_isdigit(spec[i])) return bad("precision has no digits");
    while (i < spec.size() && absl::ascii_isdigit(spec[i])) p = p * 10 + (spec[i++] - '0');
    precision = p;
  }
  char type = 0;
  if (i < spec.size()) type = spec[i++];
  if (i != spec.size() || (type != 0 && type != 'd' && type != 'f' && type != 'e' && type != 'g')) {
    return bad("supported specs are [0][width][.precision][d|f|e|g]");
  }
  std::string body;
  if (type == 'd') {
    if (!is_int) return bad("'d' needs an integer and this value is a float (as in Python)");
    if (precision) return bad("precision is not allowed with 'd'");
    body = absl::StrFormat("%d", static_cast<int64_t>(value));
  } else if (type == 0 && !precision) {
    body = is_int ? absl::StrFormat("%d", static_cast<int64_t>(value)) : PythonFloatText(value);
  } else {
    const std::string conversion =
        absl::StrCat("%.", precision.value_or(6), std::string(1, type ? type : 'g'));
    char buffer[128];
    std::snprintf(buffer, sizeof(buffer), conversion.c_str(), value);
    body = buffer;
  }
  if (static_cast<int>(body.size()) < width) {
    const size_t pad = width - body.size();
    if (zero_pad) {
      const size_t sign = (!body.empty() && body[0] == '-') ? 1 : 0;
      body.insert(sign, pad, '0');
    } else {
      body.insert(0, pad, ' ');  // Python right-aligns numbers
    }
  }
  return body;
}

}  // namespace

absl::StatusOr<std::string> FormatPath(absl::string_view pattern, int epoch, const Logs& logs,
                                       std::optional<int64_t> batch) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') {
      return absl::InvalidArgumentError(
          absl::StrCat("file path '", pattern, "': single '}' (write '}}' for a brace)"));
    }
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t close = pattern.find('}', i);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("file path '", pattern, "': unclosed '{'"));
    }
    absl::string_view field = pattern.substr(i + 1, close - i - 1);
    const size_t colon = field.find(':');
    absl::string_view name = field.substr(0, colon);
    absl::string_view spec = colon == absl::string_view::npos ? "" : field.substr(colon + 1);
    std::string text;
    if (name == "epoch" || (name == "batch" && batch.has_value())) {
      const double number = name == "epoch" ? epoch : static_cast<double>(*batch);
      auto formatted = FormatField(pattern, name, spec, number, /*is_int=*/true);
      if (!formatted.ok()) return formatted.status();
      text = *formatted;
    } else {
      std::optional<double> value = FindLog(logs, name);
      if (!value) {
        std::vector<std::string> names = {"epoch"};
        if (batch.has_value()) names.push_back("batch");
        for (const auto& entry : logs) names.push_back(entry.first);
        return absl::InvalidArgumentError(absl::StrCat("file path '", pattern, "' names {", name,
                                                       "}, which is not one of ",
                                                       absl::StrJoin(names, ", ")));
      }
      auto formatted = FormatField(pattern, name, spec, *value, /*is_int=*/false);
      if (!formatted.ok()) return formatted.status();
      text = *formatted;
    }
    out += text;
    i = close;
  }
  return out;
}

}  // namespace kiln
