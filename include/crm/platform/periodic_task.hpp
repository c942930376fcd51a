#pragma once
/// A background thread that runs one function at once and then at a fixed interval until
/// stopped (purges, syncs). Public so that modules can run their own periodic work.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace crm::platform {

class PeriodicTask final {
 public:
  /// `fn` must not throw.
  PeriodicTask(std::chrono::milliseconds interval, std::function<void()> fn)
      : interval_(interval), fn_(std::move(fn)) {}
  ~PeriodicTask() { stop(); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  /// Starts the thread (the first run is immediate); a second call does nothing.
  void start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] {
      std::unique_lock lock(mutex_);
      do {
        lock.unlock();
        fn_();  // must not throw
        lock.lock();
      } while (!cv_.wait_for(lock, interval_, [this] { return stopping_; }));
    });
  }

  /// Wakes the thread and joins it; a run in progress finishes first.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::chrono::milliseconds interval_;
  std::function<void()> fn_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace crm::platform
