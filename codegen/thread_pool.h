// A fixed pool of worker threads that splits loops into contiguous chunks.
//
// The calling thread works too, so a pool of n threads starts n - 1 workers.
// Chunks are a pure function of (n, grain, num_threads); kernels never
// combine results across chunks, so results do not depend on the thread
// count. The size comes from KILN_NUM_THREADS, default all cores.
//
//   ThreadPool& pool = ThreadPool::Default();
//   pool.For(n, 4096, [&](int64_t b, int64_t e) { ... });
#ifndef KILN_CODEGEN_THREAD_POOL_H_
#define KILN_CODEGEN_THREAD_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "graph/op_def.h"

namespace kiln {

class ThreadPool final : public Parallelism {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool sized by KILN_NUM_THREADS (default: all cores).
  static ThreadPool& Default();
  // KILN_NUM_THREADS if set to a positive number, else the core count.
  static int ThreadsFromEnvironment();

  int num_threads() const override { return num_threads_; }
  void For(int64_t n, int64_t grain,
           absl::FunctionRef<void(int64_t, int64_t)> fn) const override;

 private:
  void WorkerLoop(int worker);

  const int num_threads_;
  std::vector<std::thread> workers_;
  mutable std::mutex mu_;
  mutable std::condition_variable start_, done_;
  mutable std::mutex run_mu_;  // one For at a time
  // The job in flight, guarded by mu_.
  mutable const std::function<void(int)>* job_ = nullptr;
  mutable int64_t generation_ = 0;
  mutable int pending_ = 0;
  bool stop_ = false;
};

}  // namespace kiln

#endif  // KILN_CODEGEN_THREAD_POOL_H_
