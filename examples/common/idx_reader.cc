#include "examples/common/idx_reader.h"

#include <zlib.h>

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"

namespace kiln {
namespace {

// The whole (decompressed) file; gzread reads plain files unchanged.
absl::StatusOr<std::vector<uint8_t>> ReadAll(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  int n;
  while ((n = gzread(f, chunk, sizeof(chunk))) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  const bool failed = n < 0;
  gzclose(f);
  if (failed) return absl::DataLossError(absl::StrCat("'", path, "' is corrupt"));
  return bytes;
}

uint32_t BigEndian(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Checks the magic number (unsigned bytes, `rank` dimensions) and returns
// the dimensions.
absl::StatusOr<std::vector<uint32_t>> Header(const std::vector<uint8_t>& bytes,
                                             int rank, const std::string& path) {
  const size_t header = 4 + 4 * rank;
  if (bytes.size() < header || BigEndian(bytes.data()) != 0x0800u + rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' is not an IDX file of unsigned bytes with ", rank, " dimensions"));
  }
  std::vector<uint32_t> dims;
  size_t count = 1;
  for (int i = 0; i < rank; ++i) {
    dims.push_back(BigEndian(bytes.data() + 4 + 4 * i));
    count *= dims.back();
  }
  if (bytes.size() != header + count) {
    return absl::DataLossError(absl::StrCat("'", path, "' is truncated: expected ",
                                            header + count, " bytes, got ", bytes.size()));
  }
  return dims;
}

}  // namespace

absl::StatusOr<Buffer> ReadIdxImages(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadAll(path));
  KILN_ASSIGN_OR_RETURN(std::vector<uint32_t> dims, Header(bytes, 3, path));
  Buffer images(DType::kF32, Shape{static_cast<int64_t>(dims[0]),
                                    static_cast<int64_t>(dims[1]) * dims[2]});
  const uint8_t* pixels = bytes.data() + 16;
  float* out = images.data<float>();
  for (int64_t i = 0; i < images.num_elements(); ++i) out[i] = pixels[i] / 255.0f;
  return images;
}

absl::StatusOr<Buffer> ReadIdxLabels(const std::string& path) {
  KILN_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadAll(path));
  KILN_ASSIGN_OR_RETURN(std::vector<uint32_t> dims, Header(bytes, 1, path));
  Buffer labels(DType::kI32, Shape{static_cast<int64_t>(dims[0])});
  for (uint32_t i = 0; i < dims[0]; ++i) labels.data<int32_t>()[i] = bytes[8 + i];
  return labels;
}

absl::StatusOr<MnistSplits> ReadMnistSplits(const std::string& dir) {
  MnistSplits d;
  KILN_ASSIGN_OR_RETURN(d.train_images, ReadIdxImages(dir + "/train-images-idx3-ubyte.gz"));
  KILN_ASSIGN_OR_RETURN(d.train_labels, ReadIdxLabels(dir + "/train-labels-idx1-ubyte.gz"));
  KILN_ASSIGN_OR_RETURN(d.test_images, ReadIdxImages(dir + "/t10k-images-idx3-ubyte.gz"));
  KILN_ASSIGN_OR_RETURN(d.test_labels, ReadIdxLabels(dir + "/t10k-labels-idx1-ubyte.gz"));
  for (const auto* split : {&d.train_images, &d.test_images}) {
    const Buffer& labels = split == &d.train_images ? d.train_labels : d.test_labels;
    if (split->shape().dim(1) != 28 * 28 || split->shape().dim(0) != labels.shape().dim(0)) {
      return absl::InvalidArgumentError(absl::StrCat(dir, ": images ", split->shape().ToString(),
                                                     " and labels ", labels.shape().ToString(),
                                                     " do not pair up as [N,784] and [N]"));
    }
  }
  return d;
}

}  // namespace kiln
