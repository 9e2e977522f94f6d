// Executable: a compiled program (a set of graph outputs), run on buffers.
//
// Compile copies the outputs' graph and optimizes it (dead code, common
// subexpressions). Each batch size seen by Run gets its own specialization
// (concrete shapes, folded constants), built once and cached: for the JIT
// backend (the default) a JitProgram of fused kernels compiled by LLVM; for
// the interpreter, node-by-node Highway kernels. The backend comes from the
// options or KILN_BACKEND=jit|interp.
//
// A program may also carry updates: (variable, new value) pairs. A run then
// writes each new value into the buffer passed for that variable, and every
// read in the run sees the old value (a training step updates its weights
// and optimizer state in place).
//
//   KILN_ASSIGN_OR_RETURN(auto exe, Executable::Compile({loss, grad_w}));
//   KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out, exe->Run({{"x", &x}, {"w", &w}}));
//
//   KILN_ASSIGN_OR_RETURN(auto step, Executable::Compile({loss}, {}, {{w, w - g * 0.1}}));
//   KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out, step->Run({{"x", &x}}, {{"w", &w}}));
#ifndef KILN_CODEGEN_EXECUTABLE_H_
#define KILN_CODEGEN_EXECUTABLE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "graph/evaluate.h"
#include "graph/graph.h"

namespace kiln {

class JitProgram;
class ThreadPool;

enum class Backend { kJit, kInterp };

// The two backends agree on every element within this tolerance, relative
// to max(1, |interpreter result|): the JIT's vector math differs from the
// Highway kernels by a few ulp, and fused reductions sum in another order.
// Integer and bool results agree exactly. Tested for every op
// (tests/ops/conformance_test.cc) and whole models (tests/codegen/).
inline constexpr double kBackendTolerance = 2e-5;
absl::string_view BackendName(Backend b);
// Reads KILN_BACKEND ("jit" or "interp"; unset means jit).
absl::StatusOr<Backend> BackendFromEnvironment();

// After a run, the buffer of `variable` (a fed node: variable or input)
// holds `value`, which has its dtype and shape.
struct VariableUpdate {
  Tensor variable;
  Tensor value;
};

// The buffers of the variables a program updates, by name: read as feeds,
// then overwritten with their new values.
using MutableFeeds = absl::flat_hash_map<std::string, Buffer*>;

struct ExecutableOptions {
  std::optional<Backend> backend;  // default: KILN_BACKEND, else jit
  int num_threads = 0;             // 0: KILN_NUM_THREADS, else all cores
};

class Executable {
 public:
  static absl::StatusOr<std::unique_ptr<Executable>> Compile(
      absl::Span<const Tensor> outputs, const ExecutableOptions& options = {},
      absl::Span<const VariableUpdate> updates = {});
  ~Executable();

  // Runs the program. Every input and variable it reads must be fed with
  // its declared dtype and shape (N: any batch size, equal across inputs);
  // each updated variable is passed in `variables` (not in `feeds`).
  absl::StatusOr<std::vector<Buffer>> Run(const Feeds& feeds,
                                          const MutableFeeds& variables = {});
  // The same, writing into `outputs`, whose buffers are reused when they
  // already have the right types: a re-run then allocates nothing (JIT).
  absl::Status RunInto(const Feeds& feeds, std::vector<Buffer>& outputs);
  absl::Status RunInto(const Feeds& feeds, const MutableFeeds& variables,
                       std::vector<Buffer>& outputs);

  Backend backend() const { return backend_; }
  int num_threads() const;
  // The optimized program text; with a batch size, its specialization and,
  // for the JIT, its fusion plan and kernel schedules.
  std::string ProgramText() const;
  absl::StatusOr<std::string> ProgramText(int64_t batch);

 private:
  struct Specialized;
  Executable() = default;
  absl::StatusOr<Specialized*> Specialization(int64_t batch);

  Backend backend_ = Backend::kJit;
  // outputs() are the results, then the updates' new values.
  std::shared_ptr<Graph> program_;
  int num_results_ = 0;
  std::vector<std::string> update_names_;  // the variable each update writes
  std::vector<TensorType> update_types_;
  std::unique_ptr<ThreadPool> own_pool_;
  const ThreadPool* pool_ = nullptr;
  std::mutex mu_;
  absl::flat_hash_map<int64_t, std::unique_ptr<Specialized>> by_batch_;
};

}  // namespace kiln

#endif  // KILN_CODEGEN_EXECUTABLE_H_
