#include "graph/build_context.h"

#include "absl/strings/str_cat.h"

namespace kiln {
namespace {
thread_local const LayerScope* current_scope = nullptr;
}  // namespace

std::string FormatLocation(const SourceLoc& loc) {
  absl::string_view file = loc.file_name();
  if (size_t slash = file.find_last_of('/'); slash != absl::string_view::npos) {
    file.remove_prefix(slash + 1);
  }
  return absl::StrCat(file, ":", loc.line());
}

LayerScope::LayerScope(std::string layer_name, SourceLoc loc)
    : layer_name_(std::move(layer_name)), loc_(loc), outer_(current_scope) {
  current_scope = this;
}

LayerScope::~LayerScope() { current_scope = outer_; }

const LayerScope* LayerScope::Current() { return current_scope; }

}  // namespace kiln
