#include "crm/platform/time.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using crm::platform::format_rfc3339;
using crm::platform::parse_rfc3339;

int hex_value(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

}  // namespace

TEST_SUITE("platform/time") {
  TEST_CASE("format_rfc3339 is UTC with milliseconds and a Z") {
    CHECK(format_rfc3339(0) == "1970-01-01T00:00:00.000Z");
    CHECK(format_rfc3339(1795461573123) == "2026-11-23T19:19:33.123Z");
    CHECK(format_rfc3339(1709208000007) == "2024-02-29T12:00:00.007Z");
  }

  TEST_CASE("format_rfc3339 handles times before the epoch") {
    CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999Z");
    CHECK(format_rfc3339(-1000) == "1969-12-31T23:59:59.000Z");
  }

  TEST_CASE("format_rfc3339 agrees with gmtime_r across leap years, centuries and the epoch") {
    auto by_libc = [](crm::platform::TimestampMs ms) {
      std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
      int millis = static_cast<int>(ms - static_cast<crm::platform::TimestampMs>(secs) * 1000);
      std::tm tm{};
      gmtime_r(&secs, &tm);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
      return std::string(buf);
    };
    // Every day from 1599 to 2401 at a varying time of day, and the last millisecond before
    // each midnight.
    constexpr crm::platform::TimestampMs kDay = 86400000;
    int checked = 0;
    for (crm::platform::TimestampMs day = -11676096000000 / kDay; day <= 13601088000000 / kDay; ++day) {
      crm::platform::TimestampMs ms = day * kDay + (day * 7919 % kDay + kDay) % kDay;
      if (format_rfc3339(ms) != by_libc(ms) || format_rfc3339(day * kDay - 1) != by_libc(day * kDay - 1)) {
        FAIL_CHECK("differs at " << ms << ": " << format_rfc3339(ms) << " vs " << by_libc(ms));
        break;
      }
      ++checked;
    }
    CHECK(checked > 290000);
    CHECK(format_rfc3339(253402300799999) == "9999-12-31T23:59:59.999Z");
    CHECK(format_rfc3339(-62135596800000) == "0001-01-01T00:00:00.000Z");
  }

  TEST_CASE("formatting and parsing round-trip") {
    for (crm::platform::TimestampMs ms : {0LL, 1LL, 999LL, 1795461573123LL, 1709208000000LL, -1LL, -86400001LL,
                                          253402300799999LL}) {
      CAPTURE(ms);
      auto parsed = parse_rfc3339(format_rfc3339(ms));
      REQUIRE(parsed.has_value());
      CHECK(*parsed == ms);
    }
  }

  TEST_CASE("parse_rfc3339 applies the offset") {
    CHECK(parse_rfc3339("2026-03-01T08:00:00+08:00") == 1772323200000);
    CHECK(parse_rfc3339("2026-02-28T19:00:00-05:00") == 1772323200000);
    CHECK(parse_rfc3339("2026-03-01T00:00:00+00:00") == 1772323200000);
    CHECK(parse_rfc3339("2026-03-01T05:30:00.250+05:30") == 1772323200250);
  }

  TEST_CASE("parse_rfc3339 reads fractions of any length as milliseconds") {
    CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_rfc3339("1970-01-01T00:00:00.5Z") == 500);
    CHECK(parse_rfc3339("1970-01-01T00:00:00.12Z") == 120);
    CHECK(parse_rfc3339("1970-01-01T00:00:00.123456789Z") == 123);
  }

  TEST_CASE("parse_rfc3339 accepts a lower-case t and z") {
    CHECK(parse_rfc3339("1970-01-01t00:00:01z") == 1000);
  }

  TEST_CASE("parse_rfc3339 rejects impossible dates and times") {
    for (const char* text : {"2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
                             "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
                             "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
                             "2026-01-01T00:00:61Z"}) {
      CAPTURE(text);
      CHECK_FALSE(parse_rfc3339(text).has_value());
    }
    CHECK(parse_rfc3339("2024-02-29T00:00:00Z").has_value());
    CHECK(parse_rfc3339("2000-02-29T00:00:00Z").has_value());
  }

  TEST_CASE("parse_rfc3339 rejects malformed text") {
    for (const char* text : {"", "2026", "2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z",
                             "2026-01-01T00:00:00+0800", "2026-01-01T00:00:00+08", "2026-01-01T00:00:00+24:00",
                             "2026-01-01T00:00:00Zjunk", "2026/01/01T00:00:00Z", "2026-1-01T00:00:00Z",
                             "2026-01-01X00:00:00Z", "２026-01-01T00:00:00Z", "2026-01-01T00:00:00 Z"}) {
      CAPTURE(text);
      CHECK_FALSE(parse_rfc3339(text).has_value());
    }
  }

  TEST_CASE("a v7 uuid is canonical lower-case with version 7 and the RFC variant") {
    auto id = crm::platform::new_uuid_v7();
    REQUIRE(id.size() == 36);
    CHECK(crm::platform::is_uuid(id));
    for (std::size_t i = 0; i < id.size(); ++i) {
      CAPTURE(i);
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        CHECK(id[i] == '-');
      } else {
        CHECK(((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')));
      }
    }
    CHECK(id[14] == '7');
    CHECK((hex_value(id[19]) & 0xC) == 0x8);
  }

  TEST_CASE("a v7 uuid starts with the current unix time in milliseconds") {
    auto before = crm::platform::now_ms();
    auto id = crm::platform::new_uuid_v7();
    auto after = crm::platform::now_ms();
    std::string hex = id.substr(0, 8) + id.substr(9, 4);
    auto ms = static_cast<crm::platform::TimestampMs>(std::stoull(hex, nullptr, 16));
    CHECK(ms >= before);
    CHECK(ms <= after);
  }

  TEST_CASE("v7 uuids made in later milliseconds sort later") {
    auto first = crm::platform::new_uuid_v7();
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    auto second = crm::platform::new_uuid_v7();
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    auto third = crm::platform::new_uuid_v7();
    CHECK(first < second);
    CHECK(second < third);
  }

  TEST_CASE("v7 uuids made within one millisecond still sort in creation order") {
    std::vector<std::string> ids;
    for (int i = 0; i < 5000; ++i) ids.push_back(crm::platform::new_uuid_v7());
    for (std::size_t i = 1; i < ids.size(); ++i) {
      CAPTURE(i);
      REQUIRE(ids[i - 1] < ids[i]);
    }
  }

  TEST_CASE("v7 uuids do not repeat") {
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) ids.insert(crm::platform::new_uuid_v7());
    CHECK(ids.size() == 1000);
  }

  TEST_CASE("is_uuid accepts any canonical uuid and rejects near misses") {
    CHECK(crm::platform::is_uuid("123e4567-e89b-12d3-a456-426614174000"));
    CHECK(crm::platform::is_uuid("123E4567-E89B-12D3-A456-426614174000"));
    CHECK(crm::platform::is_uuid("00000000-0000-0000-0000-000000000000"));
    for (const char* text : {"", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400",
                             "123e4567-e89b-12d3-a456-4266141740000", "123e4567-e89b-12d3-a456_426614174000",
                             "123e4567-e89b-12d3-a456-42661417400g", "{123e4567-e89b-12d3-a456-42661417400}",
                             "123e4567-e89b12d3-a456-4266141740000"}) {
      CAPTURE(text);
      CHECK_FALSE(crm::platform::is_uuid(text));
    }
  }

  TEST_CASE("random_hex gives 2n lower-case hex characters that differ between calls") {
    auto a = crm::platform::random_hex(16);
    auto b = crm::platform::random_hex(16);
    CHECK(a.size() == 32);
    CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(a != b);
    CHECK(crm::platform::random_hex(100).size() == 200);
    CHECK(crm::platform::random_hex(0).empty());
  }

  TEST_CASE("the system clock is the wall clock") {
    crm::platform::SystemClock clock;
    auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    CHECK(clock.now_ms() >= wall - 1000);
    CHECK(clock.now_ms() <= wall + 1000);
  }
}
