#pragma once
/// Gives the C library's free heap memory back to the operating system.
///
/// glibc keeps freed memory in its arenas (one per thread that allocated, up to eight per
/// core) and returns only what lies at the top of each. A long import, with requests served
/// on many threads beside it, leaves each arena holding megabytes it no longer uses: the
/// resident set grew by over 100 MiB during a 1,000,000-row import while live data stayed
/// near 20 MiB. The trimmer checks the arenas' free memory at an interval and, over a
/// threshold, trims them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace crm::platform {

class PeriodicTask;

/// Free bytes held by the allocator's arenas (0 where the C library cannot say).
std::size_t heap_free_bytes() noexcept;
/// Returns free heap memory to the operating system; the bytes the arenas held free before.
std::size_t release_free_memory() noexcept;

class MemoryTrimmer final {
 public:
  /// Trims when the arenas hold more than `threshold` bytes free, checked every `interval`.
  /// With an `idle_threshold`, it also trims once each time the process goes idle (under 2%
  /// of a core over an interval) holding more than that free: a server at rest gives back
  /// what its last burst of requests left.
  MemoryTrimmer(std::chrono::milliseconds interval, std::size_t threshold, std::size_t idle_threshold = 0);
  ~MemoryTrimmer();
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  void start();
  void stop();
  /// Trims done so far.
  std::uint64_t trims() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::unique_ptr<PeriodicTask> task_;
};

}  // namespace crm::platform
