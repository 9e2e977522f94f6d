// Executable: a compiled program (a set of graph outputs), run on buffers.
//
// Compile copies the outputs' graph and optimizes it (dead code, common
// subexpressions). Each batch size seen by Run gets its own specialization
// (concrete shapes, folded constants), compiled once and cached. The
// backend comes from the options or KILN_BACKEND (interp; the LLVM JIT of
// issue 3 is not built yet and asking for it is an error).
//
//   KILN_ASSIGN_OR_RETURN(auto exe, Executable::Compile({loss, grad_w}));
//   KILN_ASSIGN_OR_RETURN(std::vector<Buffer> out, exe->Run({{"x", &x}, {"w", &w}}));
#ifndef KILN_CODEGEN_EXECUTABLE_H_
#define KILN_CODEGEN_EXECUTABLE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "graph/evaluate.h"
#include "graph/graph.h"

namespace kiln {

class ThreadPool;

enum class Backend { kInterp };
absl::string_view BackendName(Backend b);
// Reads KILN_BACKEND ("interp"; unset means the default backend).
absl::StatusOr<Backend> BackendFromEnvironment();

struct ExecutableOptions {
  std::optional<Backend> backend;  // default: KILN_BACKEND, else interp
  int num_threads = 0;             // 0: KILN_NUM_THREADS, else all cores
};

class Executable {
 public:
  static absl::StatusOr<std::unique_ptr<Executable>> Compile(
      absl::Span<const Tensor> outputs, const ExecutableOptions& options = {});
  ~Executable();

  // Runs the program. Every input and variable it reads must be fed with
  // its declared dtype and shape (N: any batch size, equal across inputs).
  absl::StatusOr<std::vector<Buffer>> Run(const Feeds& feeds);

  Backend backend() const { return backend_; }
  int num_threads() const;
  // The optimized program text; with a batch size, its specialization.
  std::string ProgramText() const;
  absl::StatusOr<std::string> ProgramText(int64_t batch);

 private:
  Executable() = default;
  absl::StatusOr<const Graph*> Specialization(int64_t batch);

  Backend backend_ = Backend::kInterp;
  std::shared_ptr<Graph> program_;  // outputs() are the results
  std::unique_ptr<ThreadPool> own_pool_;
  const ThreadPool* pool_ = nullptr;
  std::mutex mu_;
  absl::flat_hash_map<int64_t, std::shared_ptr<Graph>> by_batch_;
};

}  // namespace kiln

#endif  // KILN_CODEGEN_EXECUTABLE_H_
