#include "graph/op_def.h"

namespace kiln {
namespace {

class Serial final : public Parallelism {
 public:
  int num_threads() const override { return 1; }
  void For(int64_t n, int64_t /*grain*/,
           absl::FunctionRef<void(int64_t, int64_t)> fn) const override {
    if (n > 0) fn(0, n);
  }
};

}  // namespace

const Parallelism& SerialParallelism() {
  static const Serial* serial = new Serial();
  return *serial;
}

}  // namespace kiln
