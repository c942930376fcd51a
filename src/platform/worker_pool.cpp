#include "worker_pool.hpp"

#include "crm/platform/log.hpp"

#include <algorithm>
#include <stdexcept>
#include <system_error>

namespace crm::platform {

WorkerPool::WorkerPool(std::size_t initial, std::size_t maximum)
    : maximum_(std::max<std::size_t>({1, initial, maximum})) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < std::max<std::size_t>(1, initial); ++i) start_thread();
}

WorkerPool::~WorkerPool() { join(); }

void WorkerPool::start_thread() {
  threads_.emplace_back([this] { run(); });
  ++idle_;  // counted idle until it takes work
}

void WorkerPool::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw std::logic_error("WorkerPool::post after join");
    queue_.push_back(std::move(fn));
    // Every thread busy (the queue holds more than the idle threads can take): one more.
    if (queue_.size() > idle_ && threads_.size() < maximum_) {
      try {
        start_thread();
      } catch (const std::system_error& e) {
        // Out of threads: the work waits for one of the threads there are.
        log_warn("a worker thread could not be started", {{"error", e.what()}, {"threads", threads_.size()}});
      }
    }
  }
  wake_.notify_one();
}

void WorkerPool::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) break;  // stopping, and nothing left to run
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    --idle_;
    lock.unlock();
    try {
      fn();
    } catch (const std::exception& e) {
      log_error("a worker task failed", {{"error", e.what()}});
    } catch (...) {
      log_error("a worker task failed", {});
    }
    fn = nullptr;  // what it holds goes before the thread counts as idle again
    lock.lock();
    ++idle_;
  }
}

std::size_t WorkerPool::threads() const {
  std::lock_guard lock(mutex_);
  return threads_.size();
}

void WorkerPool::join() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  // Threads are only added while not stopping, so the vector no longer changes.
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace crm::platform
