#include "crm/platform/memory.hpp"

#include <atomic>
#include <ctime>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "crm/platform/periodic_task.hpp"
#include "crm/platform/time.hpp"

namespace crm::platform {

std::size_t heap_free_bytes() noexcept {
#if defined(__GLIBC__)
  // fordblks: free chunks in every arena (mmapped chunks are returned when freed).
  return mallinfo2().fordblks;
#else
  return 0;
#endif
}

std::size_t release_free_memory() noexcept {
  std::size_t free = heap_free_bytes();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  return free;
}

namespace {

/// CPU time of the whole process, in nanoseconds.
std::int64_t process_cpu_ns() noexcept { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }

}  // namespace

struct MemoryTrimmer::State {
  std::size_t threshold = 0, idle_threshold = 0;
  std::int64_t interval_ns = 0;
  std::int64_t last_cpu_ns = -1;  // at the previous check; -1 before the first
  bool trimmed_while_idle = false;
  std::atomic<std::uint64_t> trims{0};

  void check() {
    std::int64_t cpu = process_cpu_ns();
    bool idle = last_cpu_ns >= 0 && cpu - last_cpu_ns < interval_ns / 50;
    last_cpu_ns = cpu;
    if (!idle) trimmed_while_idle = false;
    std::size_t free = heap_free_bytes();
    // Trimmed chunks still count as free, so an idle process is trimmed once, not at every
    // check, until it has worked again.
    bool at_rest = idle && idle_threshold > 0 && !trimmed_while_idle && free > idle_threshold;
    if (free <= threshold && !at_rest) return;
    release_free_memory();
    trims.fetch_add(1, std::memory_order_relaxed);
    if (idle) trimmed_while_idle = true;
    last_cpu_ns = process_cpu_ns();  // the trim's own work does not make the process busy
  }
};

MemoryTrimmer::MemoryTrimmer(std::chrono::milliseconds interval, std::size_t threshold, std::size_t idle_threshold)
    : state_(std::make_unique<State>()) {
  state_->threshold = threshold;
  state_->idle_threshold = idle_threshold;
  state_->interval_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(interval).count();
  task_ = std::make_unique<PeriodicTask>(interval, [state = state_.get()] { state->check(); });
}

MemoryTrimmer::~MemoryTrimmer() { stop(); }

void MemoryTrimmer::start() { task_->start(); }
void MemoryTrimmer::stop() { task_->stop(); }
std::uint64_t MemoryTrimmer::trims() const noexcept { return state_->trims.load(std::memory_order_relaxed); }

}  // namespace crm::platform
