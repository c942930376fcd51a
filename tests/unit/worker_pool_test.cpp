// The worker pool starts small, adds a thread whenever every thread is busy, never goes past
// its maximum, and runs everything posted before join returns.
#include "platform/worker_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

using crm::platform::WorkerPool;
using namespace std::chrono_literals;

namespace {

/// Tasks that each wait, up to a deadline, until `expected` of them run at the same time.
struct Rendezvous {
  explicit Rendezvous(int expected) : expected(expected) {}
  void arrive_and_wait() {
    std::unique_lock lock(mutex);
    ++arrived;
    changed.notify_all();
    if (changed.wait_for(lock, 3s, [&] { return arrived >= expected || released; })) ++met;
    ++finished;
    changed.notify_all();
  }
  void release() {
    std::lock_guard lock(mutex);
    released = true;
    changed.notify_all();
  }
  bool wait_finished(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 20s, [&] { return finished >= n; });
  }
  bool wait_arrived(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return arrived >= n; });
  }
  const int expected;
  std::mutex mutex;
  std::condition_variable changed;
  int arrived = 0, met = 0, finished = 0;
  bool released = false;
};

}  // namespace

TEST_SUITE("platform/worker_pool") {
  TEST_CASE("tasks that wait for each other all run at once: the pool grows past its initial threads") {
    WorkerPool pool(4, 64);
    CHECK(pool.threads() == 4);
    Rendezvous r(40);
    for (int i = 0; i < 40; ++i) pool.post([&] { r.arrive_and_wait(); });
    REQUIRE(r.wait_finished(40));
    // With only the four initial threads the first four would wait out the deadline alone.
    CHECK(r.met == 40);
    CHECK(pool.threads() >= 40);
    CHECK(pool.threads() <= 64);
  }

  TEST_CASE("the pool stops growing at its maximum and the rest of the work waits for a thread") {
    WorkerPool pool(2, 8);
    Rendezvous r(1000);  // never met: the tasks wait until released
    for (int i = 0; i < 20; ++i) pool.post([&] { r.arrive_and_wait(); });
    REQUIRE(r.wait_arrived(8));
    std::this_thread::sleep_for(100ms);
    {
      std::lock_guard lock(r.mutex);
      CHECK(r.arrived == 8);  // eight threads, each holding one task
    }
    CHECK(pool.threads() == 8);
    r.release();
    REQUIRE(r.wait_finished(20));
    CHECK(pool.threads() == 8);
  }

  TEST_CASE("work posted one task at a time adds no thread") {
    WorkerPool pool(3, 32);
    for (int i = 0; i < 200; ++i) {
      std::atomic<bool> done{false};
      pool.post([&] { done = true; });
      while (!done) std::this_thread::yield();
    }
    // A task's thread counts as idle again only after the task returned; one more thread may
    // start in that window, but not one per task.
    CHECK(pool.threads() <= 4);
  }

  TEST_CASE("join runs what was queued, and a task that throws does not stop its thread") {
    std::atomic<int> ran{0};
    {
      WorkerPool pool(1, 1);
      pool.post([] { throw std::runtime_error("task failed"); });
      for (int i = 0; i < 100; ++i) pool.post([&] { ++ran; });
      pool.join();
      CHECK(ran == 100);
      CHECK_THROWS_AS(pool.post([] {}), std::logic_error);
    }
    CHECK(ran == 100);
  }
}
