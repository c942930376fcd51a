#include "crm/platform/memory.hpp"

#include <atomic>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "crm/platform/periodic_task.hpp"

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

struct MemoryTrimmer::State {
  std::size_t threshold;
  std::atomic<std::uint64_t> trims{0};
};

MemoryTrimmer::MemoryTrimmer(std::chrono::milliseconds interval, std::size_t threshold)
    : state_(std::make_unique<State>()) {
  state_->threshold = threshold;
  task_ = std::make_unique<PeriodicTask>(interval, [state = state_.get()] {
    if (heap_free_bytes() <= state->threshold) return;
    release_free_memory();
    state->trims.fetch_add(1, std::memory_order_relaxed);
  });
}

MemoryTrimmer::~MemoryTrimmer() { stop(); }

void MemoryTrimmer::start() { task_->start(); }
void MemoryTrimmer::stop() { task_->stop(); }
std::uint64_t MemoryTrimmer::trims() const noexcept { return state_->trims.load(std::memory_order_relaxed); }

}  // namespace crm::platform
