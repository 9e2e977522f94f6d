// Made-up batches for `kiln profile`: model inputs of a given shape and
// labels that a loss accepts, so a step can run without any data files.
// Inputs are a fixed ramp (integer inputs are 0); labels are random but
// seeded, and valid for the loss: class indices below the number of classes
// for sparse losses, one-hot rows for categorical ones, 0/1 for binary
// ones, values in [0, 1) otherwise.
//
//   KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ParseDims("28,28,1"));
//   KILN_ASSIGN_OR_RETURN(Buffer x, MadeUpInput(model.inputs()[0], dims, 64,
//   "image")); KILN_ASSIGN_OR_RETURN(Buffer y, MadeUpLabels(loss,
//   model.outputs()[0], "dense", 64, 7));
#ifndef KILN_TOOLS_MADE_UP_DATA_H_
#define KILN_TOOLS_MADE_UP_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "graph/buffer.h"
#include "graph/tensor.h"
#include "layers/losses.h"

namespace kiln {

// "28,28,1" -> {28, 28, 1}: an input's shape without its batch dimension.
absl::StatusOr<std::vector<int64_t>> ParseDims(const std::string &text);

// A batch of `batch` made-up values fitting `input` (declared [N, dims...]);
// `name` is the input's name for errors.
absl::StatusOr<Buffer> MadeUpInput(const Tensor &input, const std::vector<int64_t> &dims,
                                   int64_t batch, const std::string &name);

// The loss a Keras user would pick for `output`: sparse categorical
// crossentropy after a softmax, binary crossentropy after a sigmoid, else
// mean squared error.
std::string DefaultLossFor(const Tensor &output);

// `batch` rows of labels for `output` (named `name` in errors) that `loss`
// accepts, drawn with `seed`. Errors when no labels fit: a non-float output,
// or one the loss rejects (e.g. a class axis the labels cannot have).
absl::StatusOr<Buffer> MadeUpLabels(const Loss &loss, const Tensor &output, const std::string &name,
                                    int64_t batch, uint64_t seed);

}  // namespace kiln

#endif  // KILN_TOOLS_MADE_UP_DATA_H_
