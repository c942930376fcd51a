#pragma once
/// Clock, timestamps and identifiers.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <ctime>

namespace crm::platform {

/// Milliseconds since the Unix epoch; how every timestamp is stored in the database.
using TimestampMs = std::int64_t;

/// Source of "now", injectable for tests.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimestampMs now_ms() const = 0;
};

/// The real wall clock.
class SystemClock final : public Clock {
 public:
  TimestampMs now_ms() const override;
};

/// Wall-clock now in milliseconds.
TimestampMs now_ms();
/// A POSIX clock's reading in nanoseconds: CLOCK_MONOTONIC, or the CPU time of the thread
/// (CLOCK_THREAD_CPUTIME_ID) or of the process (CLOCK_PROCESS_CPUTIME_ID).
std::int64_t clock_ns(clockid_t clock) noexcept;
/// RFC 3339 UTC with milliseconds: `2026-11-23T19:19:33.123Z`.
std::string format_rfc3339(TimestampMs ms);
/// Parses RFC 3339 (with `Z` or an offset, optional fraction); nullopt when malformed.
std::optional<TimestampMs> parse_rfc3339(std::string_view text);

/// A new UUIDv7 (time ordered, random tail) in canonical lower-case form.
std::string new_uuid_v7();
/// True for a canonical 36-character UUID string (any version).
bool is_uuid(std::string_view text);
/// `n` cryptographically random bytes as lower-case hex.
std::string random_hex(std::size_t n);

}  // namespace crm::platform
