// How Fit and Evaluate cut arrays into batches, as tf.keras 2.x does with
// numpy arrays: rows are the first dimension of every input, target and
// sample weight array (one for all outputs, or one per output);
// validation_split takes the last fraction of the rows of all of them
// before any shuffling; each pass over the data is shuffled anew (seeded,
// so runs repeat), rows and their targets and weights together; the last
// batch of a pass may be short; with steps_per_epoch the batches continue
// from where the previous epoch stopped, starting a new shuffled pass when
// one ends, until the stream's passes run out (Keras
// builds epochs - initial_epoch passes); without it, epoch e is pass e (a
// run resumed at initial_epoch e shuffles alike).
//
//   KILN_ASSIGN_OR_RETURN(ArrayData data, ArrayData::Make({&images}, {&labels}, &weights));
//   KILN_ASSIGN_OR_RETURN(auto split, data.SplitForValidation(0.1));  // 90% / 10%
//   BatchStream batches(split.first, /*batch_size=*/100, /*shuffle=*/true, /*seed=*/1);
//   Batch b = batches.Next();   // b.x[0]: [100, 784], b.y[0]: [100], b.sample_weight: [100]
//
// Slices are views of the caller's arrays (no copy); shuffled batches copy
// their rows. The arrays must outlive the views.
#ifndef KILN_LAYERS_FIT_DATA_H_
#define KILN_LAYERS_FIT_DATA_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/buffer.h"

namespace kiln {

// Inputs (one per model input), targets (one per model output) and
// optional per-sample weights (one array for every output, or one per
// output), all with the same number of rows.
struct ArrayData {
  std::vector<Buffer> x;  // views
  std::vector<Buffer> y;  // views; an empty Buffer for an output without targets
  std::optional<Buffer> sample_weight;  // view
  // Views, one per output when given per output; an empty Buffer for an
  // output without weights.
  std::vector<Buffer> output_sample_weights;
  int64_t rows = 0;

  // Checks that every array has data, rank >= 1 and the rows of the first
  // target (of x[0] when every target is null). A null target or output
  // sample weight stays null. Errors name targets y (one) or y[i], with
  // `output_names` (when given) y[i] (output '<name>'); per-output weights
  // likewise output_sample_weights[i] (output '<name>').
  static absl::StatusOr<ArrayData> Make(
      absl::Span<const Buffer* const> x, absl::Span<const Buffer* const> y,
      const Buffer* sample_weight = nullptr, absl::Span<const std::string> output_names = {},
      absl::Span<const Buffer* const> output_sample_weights = {});
  static absl::StatusOr<ArrayData> Make(absl::Span<const Buffer* const> x, const Buffer& y,
                                        const Buffer* sample_weight = nullptr);
  // Rows [begin, end) as views.
  ArrayData Slice(int64_t begin, int64_t end) const;
  // Keras validation_split: (first floor(rows * (1 - fraction)) rows, the
  // rest). InvalidArgument unless 0 < fraction < 1 and both parts have rows.
  absl::StatusOr<std::pair<ArrayData, ArrayData>> SplitForValidation(double fraction) const;
  // The given rows, in order, copied.
  ArrayData Gather(absl::Span<const int64_t> rows) const;

 private:
  // `rows_of` applied to every array (null targets stay null).
  ArrayData Map(const std::function<Buffer(const Buffer&)>& rows_of, int64_t rows) const;
};

// Rows [begin, end) of `b` as a view.
Buffer RowsView(const Buffer& b, int64_t begin, int64_t end);

// A permutation of [0, n) from (seed, pass): the same arguments give the
// same order on every machine.
std::vector<int64_t> ShuffledOrder(int64_t n, uint64_t seed, int64_t pass);

// ceil(rows / batch_size).
int64_t BatchesPerPass(int64_t rows, int64_t batch_size);

struct Batch {
  std::vector<Buffer> x;
  std::vector<Buffer> y;  // an empty Buffer for an output without targets
  std::optional<Buffer> sample_weight;
  std::vector<Buffer> output_sample_weights;  // as ArrayData's
  int64_t rows = 0;
  int64_t size() const { return rows; }
};

// Batches over passes of the data: the rows of pass p in ShuffledOrder(rows,
// seed, p) (or in order without shuffle), `batch_size` at a time; at most
// `max_passes` passes when it is >= 0.
class BatchStream {
 public:
  BatchStream(ArrayData data, int64_t batch_size, bool shuffle, uint64_t seed,
              int64_t max_passes = -1);
  // The next batch; CHECK-fails when exhausted().
  Batch Next();
  // True when max_passes passes have been used up.
  bool exhausted() const;
  // Batches left in the current pass (a full pass before the first Next).
  int64_t LeftInPass() const;
  // Makes the next Next start pass `pass` (Fit starts pass `epoch` at each
  // epoch unless steps_per_epoch is set, so a resumed run shuffles alike).
  void StartPass(int64_t pass);

 private:
  bool PassOver() const { return pass_ < 0 || next_row_ >= data_.rows; }

  ArrayData data_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  int64_t max_passes_;
  int64_t passes_started_ = 0;
  int64_t pass_ = -1;
  int64_t next_row_ = 0;  // in the current pass
  std::vector<int64_t> order_;
};

}  // namespace kiln

#endif  // KILN_LAYERS_FIT_DATA_H_
