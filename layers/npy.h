// numpy .npy array files: read format versions 1.0, 2.0 and 3.0, write 1.0
// (whose header always suffices: like numpy, at most 64 dimensions), as
// numpy.save / numpy.load do. Writes are atomic (graph/file_io.h).
//
//   KILN_RETURN_IF_ERROR(WriteNpy("x.npy", Buffer::FromVector<float>(
//       Shape{2, 2}, {1, 2, 3, 4})));
//   KILN_ASSIGN_OR_RETURN(Buffer x, ReadNpy("x.npy"));  // f32[2,2]
//
// Written dtypes: f32 '<f4', i32 '<i4', i64 '<i8', bool '|b1'. Read dtypes:
// those four, plus conversions to the nearest kiln dtype:
//   '<f8' (float64) -> f32, rounded to nearest; out-of-range values become
//                      +-inf, so load float64 data only where f32 suffices;
//   '|i1' '|u1' '<i2' '<u2' -> i32;  '<u4' -> i64;
//   any nonzero '|b1' byte -> true (1).
// Rejected with a Status naming the file: big-endian ('>f4'), object and
// structured dtypes, other kinds ('<u8', '<f2', '<c8', strings), Fortran
// order, and every malformed or truncated header or data section.
#ifndef KILN_LAYERS_NPY_H_
#define KILN_LAYERS_NPY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "graph/buffer.h"

namespace kiln {

// Parses the bytes of a whole .npy file. Error messages start with
// `name_for_errors` (a path, or "w.npz (member 'k.npy')").
absl::StatusOr<Buffer> ParseNpy(absl::string_view bytes,
                                absl::string_view name_for_errors);
absl::StatusOr<Buffer> ReadNpy(const std::string& path);

// The .npy bytes of `b` (C order, little-endian). Fails only for a Buffer
// without data (default-constructed) or of rank above 64.
absl::StatusOr<std::string> SerializeNpy(const Buffer& b);
absl::Status WriteNpy(const std::string& path, const Buffer& b);

}  // namespace kiln

#endif  // KILN_LAYERS_NPY_H_
