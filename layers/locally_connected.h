// LocallyConnected1D and LocallyConnected2D (spec 2.16): convolutions whose
// weights are not shared, a separate kernel for every output position,
// with tf.keras's three weight layouts (`implementation` 1, 2 or 3; 'same'
// padding needs 2 or 3), Keras's bias layout (out..., filters) and its
// channels_first bias quirk. Either data format.
//
//   auto lc = MakeLayer<LocallyConnected2D>(64, IntList{3, 3});
//   Tensor h = lc(x);   // [N, 32, 32, 3] -> [N, 30, 30, 64]; kernel (900, 27, 64)
//   auto same = MakeLayer<LocallyConnected1D>(8, IntList{3},
//       LocallyConnectedOptions{.padding = "same", .implementation = 2});
#ifndef KILN_LAYERS_LOCALLY_CONNECTED_H_
#define KILN_LAYERS_LOCALLY_CONNECTED_H_

#include <cstdint>
#include <string>

#include "graph/attrs.h"
#include "graph/buffer.h"
#include "layers/activations.h"
#include "layers/conv_utils.h"
#include "layers/layer.h"
#include "layers/local_conv.h"

namespace kiln {

// Keras's arguments after filters and kernel_size.
struct LocallyConnectedOptions {
  IntList strides = {1};
  std::string padding = "valid";  // valid (any implementation) | same (2, 3)
  std::string data_format;        // "" : channels_last
  std::string activation;         // Keras name; "" is linear
  bool use_bias = true;
  InitializerPtr kernel_initializer;  // null: glorot_uniform
  InitializerPtr bias_initializer;    // null: zeros
  Regularizer kernel_regularizer;
  Regularizer bias_regularizer;
  Regularizer activity_regularizer;
  Constraint kernel_constraint;
  Constraint bias_constraint;
  // 1: kernel (P, k * Cin, F), per-position matmuls; 2: the dense
  // (in..., out...) kernel times a 0/1 connectivity mask; 3: the
  // connections as a vector (sparse in tf.keras).
  int64_t implementation = 1;
  std::string name;  // "" : locally_connected2d, ...
};

// Keras's LocallyConnected with `rank` (1 or 2) spatial axes.
class LocallyConnected : public Layer {
 public:
  int64_t filters() const { return filters_; }
  int64_t implementation() const { return options_.implementation; }

 protected:
  LocallyConnected(absl::string_view class_name, int rank, int64_t filters,
                   const IntList& kernel_size, LocallyConnectedOptions options);
  absl::Status Build(absl::Span<const TensorType> inputs) override;
  absl::StatusOr<Tensor> Call(absl::Span<const Tensor> inputs, const CallContext& ctx) override;

 private:
  int rank_;
  int64_t filters_;
  IntList kernel_size_, strides_;
  Padding padding_ = Padding::kValid;
  DataFormat data_format_ = DataFormat::kChannelsLast;
  LocallyConnectedOptions options_;
  Activation activation_;
  Shape built_shape_;  // the input shape (Keras builds for one size)
  LocalGeometry geometry_;
  Buffer mask_;  // implementation 2
  int kernel_ = -1, bias_ = -1;
};

class LocallyConnected1D : public LocallyConnected {
 public:
  LocallyConnected1D(int64_t filters, const IntList& kernel_size,
                     LocallyConnectedOptions options = {})
      : LocallyConnected("LocallyConnected1D", 1, filters, kernel_size, std::move(options)) {}
};

class LocallyConnected2D : public LocallyConnected {
 public:
  LocallyConnected2D(int64_t filters, const IntList& kernel_size,
                     LocallyConnectedOptions options = {})
      : LocallyConnected("LocallyConnected2D", 2, filters, kernel_size, std::move(options)) {}
};

}  // namespace kiln

#endif  // KILN_LAYERS_LOCALLY_CONNECTED_H_
