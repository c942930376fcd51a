#pragma once
// A thread pool that starts with a few threads and adds one whenever every thread it has is
// busy, up to a maximum. Writers on SQLite wait for a shared group commit: the more of them
// wait together, the more one commit serves. So the write pool may need many threads under
// load, and few while the server is idle.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace crm::platform {

class WorkerPool {
 public:
  /// `initial` threads now (at least one), up to `maximum` (at least `initial`) as needed.
  WorkerPool(std::size_t initial, std::size_t maximum);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Runs `fn` on a thread of the pool; starts another thread first when none is idle.
  void post(std::function<void()> fn);

  /// Runs what was posted, then stops every thread. Nothing may be posted afterwards.
  void join();

  std::size_t threads() const;
  std::size_t maximum() const noexcept { return maximum_; }

 private:
  void start_thread();  // with mutex_ held
  void run();

  const std::size_t maximum_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace crm::platform
