// MaxPooling1D and MaxPooling2D (spec 2.17): the maximum of each pool_size
// window, channels pooled independently; strides default to pool_size;
// padding valid or same (padded cells never win); either data format. The
// gradient goes to the first maximum of each window.
//
//   auto pool = MakeLayer<MaxPooling2D>();                 // 2x2, stride 2
//   Tensor h = pool(x);                                    // [N, 28, 28, 8] -> [N, 14, 14, 8]
//   auto p1 = MakeLayer<MaxPooling1D>(IntList{3},
//       MaxPoolingOptions{.strides = IntList{2}, .padding = "same"});
#ifndef KILN_LAYERS_MAX_POOLING_H_
#define KILN_LAYERS_MAX_POOLING_H_

#include <optional>
#include <string>

#include "graph/attrs.h"
#include "layers/conv_utils.h"
#include "layers/layer.h"

namespace kiln {

struct MaxPoolingOptions {
  std::optional<IntList> strides;  // nullopt (Keras None): pool_size
  std::string padding = "valid";   // valid | same, any case
  std::string data_format;         // "" : channels_last
  std::string name;                // "" : max_pooling2d, ...
};

// Keras's Pooling1D/2D with `rank` spatial axes.
class MaxPooling : public Layer {
 public:
  const IntList& pool_size() const { return pool_size_; }
  const IntList& strides() const { return strides_; }
  Padding padding() const { return padding_; }
  DataFormat data_format() const { return data_format_; }

 protected:
  MaxPooling(absl::string_view class_name, int rank, const IntList& pool_size,
             MaxPoolingOptions options);
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  int rank_;
  IntList pool_size_, strides_;
  Padding padding_ = Padding::kValid;
  DataFormat data_format_ = DataFormat::kChannelsLast;
};

class MaxPooling1D : public MaxPooling {
 public:
  explicit MaxPooling1D(const IntList& pool_size = {2}, MaxPoolingOptions options = {})
      : MaxPooling("MaxPooling1D", 1, pool_size, std::move(options)) {}
};

class MaxPooling2D : public MaxPooling {
 public:
  explicit MaxPooling2D(const IntList& pool_size = {2, 2}, MaxPoolingOptions options = {})
      : MaxPooling("MaxPooling2D", 2, pool_size, std::move(options)) {}
};

}  // namespace kiln

#endif  // KILN_LAYERS_MAX_POOLING_H_
