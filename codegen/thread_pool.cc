#include "codegen/thread_pool.h"

#include <algorithm>
#include <cstdlib>

namespace kiln {
namespace {
// Set while a thread runs a chunk: nested loops then run serially.
thread_local bool inside_pool = false;

struct InsidePool {
  InsidePool() : outer(inside_pool) { inside_pool = true; }
  ~InsidePool() { inside_pool = outer; }
  bool outer;
};
}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  for (int i = 1; i < num_threads_; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_.notify_all();
  for (std::thread& t : workers_) t.join();
}

int ThreadPool::ThreadsFromEnvironment() {
  if (const char* env = std::getenv("KILN_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool& ThreadPool::Default() {
  static ThreadPool* pool = new ThreadPool(ThreadsFromEnvironment());
  return *pool;
}

void ThreadPool::WorkerLoop(int worker) {
  int64_t seen = 0;
  while (true) {
    const std::function<void(int)>* job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    {
      InsidePool inside;
      (*job)(worker);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::For(int64_t n, int64_t grain,
                     absl::FunctionRef<void(int64_t, int64_t)> fn) const {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min<int64_t>(num_threads_, (n + grain - 1) / grain);
  if (chunks <= 1 || inside_pool) {
    fn(0, n);
    return;
  }
  // Chunk c covers [c * n / chunks, (c + 1) * n / chunks).
  auto chunk = [&](int c) {
    if (c >= chunks) return;
    fn(c * n / chunks, (c + 1) * n / chunks);
  };
  std::lock_guard<std::mutex> run_lock(run_mu_);
  const std::function<void(int)> job = chunk;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &job;
    pending_ = num_threads_ - 1;
    ++generation_;
  }
  start_.notify_all();
  {
    InsidePool inside;
    chunk(0);
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
}

}  // namespace kiln
