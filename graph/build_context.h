// Where graph nodes come from: the layer being called and the user's line.
//
// Layers open a LayerScope while they build their part of the graph; every
// node created inside records the layer's name and the user's source
// location, and shape errors name them:
//
//   {
//     LayerScope scope("conv_2", loc);   // loc: where the user called the layer
//     Tensor y = Conv(x, w, ...);        // error: "[conv] in layer 'conv_2' (model.cc:42): ..."
//   }
#ifndef KILN_GRAPH_BUILD_CONTEXT_H_
#define KILN_GRAPH_BUILD_CONTEXT_H_

#include <source_location>
#include <string>
#include "absl/strings/string_view.h"

namespace kiln {

using SourceLoc = std::source_location;

// "file.cc:42" with the directory stripped.
std::string FormatLocation(const SourceLoc& loc);

class LayerScope {
 public:
  LayerScope(std::string layer_name, SourceLoc loc = SourceLoc::current());
  ~LayerScope();
  LayerScope(const LayerScope&) = delete;
  LayerScope& operator=(const LayerScope&) = delete;

  // The innermost open scope on this thread, or null.
  static const LayerScope* Current();
  const std::string& layer_name() const { return layer_name_; }
  const SourceLoc& location() const { return loc_; }

 private:
  std::string layer_name_;
  SourceLoc loc_;
  const LayerScope* outer_;
};

}  // namespace kiln

#endif  // KILN_GRAPH_BUILD_CONTEXT_H_
