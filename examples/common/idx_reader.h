// Reads the IDX files of MNIST-style datasets (optionally gzip-compressed),
// e.g. Debian's dataset-fashion-mnist in /usr/share/datasets/fashion-mnist.
//
//   KILN_ASSIGN_OR_RETURN(Buffer images, ReadIdxImages(dir + "/train-images-idx3-ubyte.gz"));
//   images: f32 [count, rows * cols] scaled to [0, 1]
//   KILN_ASSIGN_OR_RETURN(Buffer labels, ReadIdxLabels(dir + "/train-labels-idx1-ubyte.gz"));
//   labels: i32 [count]
//   KILN_ASSIGN_OR_RETURN(MnistSplits data, ReadMnistSplits(dir));   // all four files
#ifndef KILN_EXAMPLES_COMMON_IDX_READER_H_
#define KILN_EXAMPLES_COMMON_IDX_READER_H_

#include <string>

#include "absl/status/statusor.h"
#include "graph/buffer.h"

namespace kiln {

absl::StatusOr<Buffer> ReadIdxImages(const std::string& path);
absl::StatusOr<Buffer> ReadIdxLabels(const std::string& path);

// The four files of an MNIST-style dataset directory
// ({train,t10k}-{images-idx3,labels-idx1}-ubyte.gz), checked to pair up.
struct MnistSplits {
  Buffer train_images, train_labels;  // f32 [N, 784], i32 [N]
  Buffer test_images, test_labels;
};
absl::StatusOr<MnistSplits> ReadMnistSplits(const std::string& dir);

}  // namespace kiln

#endif  // KILN_EXAMPLES_COMMON_IDX_READER_H_
