#include "crm/platform/memory.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

// glibc's allocator only: AddressSanitizer brings an allocator of its own.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)

namespace {

using crm::platform::heap_free_bytes;
using crm::platform::MemoryTrimmer;
using crm::platform::release_free_memory;

constexpr std::size_t kMiB = 1024 * 1024;

/// RssAnon of this process in bytes.
std::size_t anonymous_resident() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8)) * 1024;
  }
  return 0;
}

/// What a busy server leaves behind: several threads allocate many small blocks each and free
/// all but one in sixteen, so the survivors pin the arenas' memory. The survivors are returned.
std::vector<std::unique_ptr<char[]>> fragment_heap() {
  std::vector<std::vector<std::unique_ptr<char[]>>> kept(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kept.size(); ++t) {
    threads.emplace_back([&kept, t] {
      std::vector<std::unique_ptr<char[]>> blocks;
      for (std::size_t i = 0; i < 16 * kMiB / 2000; ++i) {
        auto block = std::make_unique<char[]>(2000);  // zeroed, so resident
        block[1] = static_cast<char>(i % 16);
        blocks.push_back(std::move(block));
      }
      for (std::size_t i = 0; i < blocks.size(); ++i) {
        if (i % 16 == 0) kept[t].push_back(std::move(blocks[i]));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::unique_ptr<char[]>> out;
  for (auto& k : kept) {
    for (auto& b : k) out.push_back(std::move(b));
  }
  return out;
}

}  // namespace

TEST_SUITE("platform/memory") {
  TEST_CASE("release_free_memory gives fragmented free heap back to the system") {
    auto kept = fragment_heap();
    std::size_t free_before = heap_free_bytes();
    std::size_t resident_before = anonymous_resident();
    REQUIRE(free_before > 32 * kMiB);
    CHECK(release_free_memory() > free_before - kMiB);
    // The free chunks stay in the arenas (their bookkeeping), but their pages are gone.
    CHECK(anonymous_resident() + 24 * kMiB < resident_before);
    CHECK(kept.size() > 1000);
    CHECK(kept.front()[1] == 0);
  }

  TEST_CASE("the trimmer trims over its threshold only") {
    release_free_memory();
    MemoryTrimmer idle(std::chrono::milliseconds(10), 1024 * kMiB);
    idle.start();
    MemoryTrimmer busy(std::chrono::milliseconds(10), 16 * kMiB);
    auto kept = fragment_heap();
    std::size_t resident_before = anonymous_resident();
    busy.start();
    for (int i = 0; i < 500 && busy.trims() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(busy.trims() >= 1);
    CHECK(anonymous_resident() + 24 * kMiB < resident_before);
    busy.stop();
    idle.stop();
    CHECK(idle.trims() == 0);
  }

  TEST_CASE("the trimmer trims once when the process goes idle, and not while it works") {
    release_free_memory();
    auto kept = fragment_heap();  // about 60 MiB free, far under the busy threshold
    REQUIRE(heap_free_bytes() > 8 * kMiB);
    MemoryTrimmer trimmer(std::chrono::milliseconds(100), 1024 * kMiB, 4 * kMiB);
    std::atomic<bool> working{true};
    std::thread worker([&] {
      volatile std::uint64_t x = 0;
      while (working.load()) x = x + 1;  // a busy process
    });
    trimmer.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(trimmer.trims() == 0);
    working = false;
    worker.join();
    std::size_t resident_before = anonymous_resident();
    for (int i = 0; i < 300 && trimmer.trims() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(trimmer.trims() == 1);
    CHECK(anonymous_resident() + 24 * kMiB < resident_before);
    // Still idle: not trimmed at every check (five more), only when it has worked in between.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(trimmer.trims() <= 2);
    trimmer.stop();
    CHECK(kept.size() > 1000);
  }
}
#endif
