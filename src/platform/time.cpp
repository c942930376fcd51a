#include "crm/platform/time.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace crm::platform {

TimestampMs SystemClock::now_ms() const { return platform::now_ms(); }

std::int64_t clock_ns(clockid_t clock) noexcept {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

TimestampMs now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_rfc3339(TimestampMs ms) {
  // Floor division: the millisecond and the day of an instant before 1970 count forwards.
  TimestampMs secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int millis = static_cast<int>(ms - secs * 1000);
  TimestampMs days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int second_of_day = static_cast<int>(secs - days * 86400);
  // The civil date of a day count (Howard Hinnant's civil_from_days).
  TimestampMs z = days + 719468;
  TimestampMs era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  TimestampMs year = static_cast<TimestampMs>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned day = doy - (153 * mp + 2) / 5 + 1;
  unsigned month = mp < 10 ? mp + 3 : mp - 9;
  if (month <= 2) ++year;
  int hour = second_of_day / 3600, minute = second_of_day / 60 % 60, second = second_of_day % 60;
  if (year < 0 || year > 9999) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(year), month, day,
                  hour, minute, second, millis);
    return buf;
  }
  char out[] = "0000-00-00T00:00:00.000Z";
  auto put = [&out](int at, int width, long long value) {
    for (int i = at + width - 1; i >= at; --i, value /= 10) out[i] = static_cast<char>('0' + value % 10);
  };
  put(0, 4, year);
  put(5, 2, month);
  put(8, 2, day);
  put(11, 2, hour);
  put(14, 2, minute);
  put(17, 2, second);
  put(20, 3, millis);
  return std::string(out, sizeof out - 1);
}

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// Days from 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

std::optional<TimestampMs> parse_rfc3339(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  int max_day = kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0);
  if (day > max_day || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::size_t pos = 19;
  int millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    int scale = 100;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (scale > 0) millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int sign = s[pos] == '-' ? -1 : 1;
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = sign * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  if (second == 60) second = 59;  // leap second: clamp
  std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return secs * 1000 + millis;
}

namespace {
constexpr char kHex[] = "0123456789abcdef";

// Ids are drawn on every request (request id, span id, entity ids): each thread takes the
// CSPRNG's output in blocks, so the shared generator and its lock are met once per block.
void random_bytes(unsigned char* out, std::size_t n) {
  constexpr std::size_t kBlock = 1024;
  thread_local unsigned char block[kBlock];
  thread_local std::size_t used = kBlock;
  if (n > kBlock / 4) {
    if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("random source failed");
    return;
  }
  if (kBlock - used < n) {
    if (RAND_bytes(block, static_cast<int>(kBlock)) != 1) throw std::runtime_error("random source failed");
    used = 0;
  }
  std::memcpy(out, block + used, n);
  OPENSSL_cleanse(block + used, n);  // each byte is handed out once
  used += n;
}
}  // namespace

std::string new_uuid_v7() {
  unsigned char b[16];
  random_bytes(b, sizeof b);
  auto ms = static_cast<std::uint64_t>(now_ms());
  // RFC 9562 section 6.2, method 1: the 12-bit rand_a field is a counter within one
  // millisecond (seeded randomly in its lower half), so the ids one process makes are in
  // creation order even within a millisecond; a counter overflow borrows the next one.
  std::uint32_t counter = 0;
  {
    static std::mutex mutex;
    static std::uint64_t last_ms = 0;
    static std::uint32_t last_counter = 0;
    std::lock_guard lock(mutex);
    if (ms > last_ms) {
      last_ms = ms;
      last_counter = ((static_cast<std::uint32_t>(b[6]) << 8) | b[7]) & 0x7FF;
    } else if (++last_counter > 0xFFF) {
      ++last_ms;
      last_counter = ((static_cast<std::uint32_t>(b[6]) << 8) | b[7]) & 0x7FF;
    }
    ms = last_ms;
    counter = last_counter;
  }
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  b[6] = static_cast<unsigned char>(0x70 | ((counter >> 8) & 0x0F));
  b[7] = static_cast<unsigned char>(counter & 0xFF);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xF]);
  }
  return out;
}

bool is_uuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (std::size_t i = 0; i < 36; ++i) {
    char c = t[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string random_hex(std::size_t n) {
  std::string out;
  out.reserve(n * 2);
  unsigned char buf[64];
  while (n > 0) {
    std::size_t k = n < sizeof buf ? n : sizeof buf;
    random_bytes(buf, k);
    for (std::size_t i = 0; i < k; ++i) {
      out.push_back(kHex[buf[i] >> 4]);
      out.push_back(kHex[buf[i] & 0xF]);
    }
    n -= k;
  }
  return out;
}

}  // namespace crm::platform
