#include "platform/idempotency.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace crm::platform;

TEST_SUITE("platform/idempotency") {
  TEST_CASE("an Idempotency-Key is 1 to 255 printable ASCII characters") {
    CHECK_FALSE(idempotency_key_problem("a").has_value());
    CHECK_FALSE(idempotency_key_problem("order-2026-11-23:0001 retry").has_value());
    CHECK_FALSE(idempotency_key_problem(std::string(255, 'k')).has_value());
    CHECK(idempotency_key_problem("").has_value());
    CHECK(idempotency_key_problem(std::string(256, 'k')).has_value());
    CHECK(idempotency_key_problem("tab\there").has_value());
    CHECK(idempotency_key_problem("caf\xc3\xa9").has_value());
    CHECK(idempotency_key_problem(std::string("nul\0x", 5)).has_value());
    CHECK(idempotency_key_problem("del\x7f").has_value());
  }

  TEST_CASE("the request hash is SHA-256 of method, target and body, unambiguous") {
    std::string h = idempotency_request_hash("POST", "/api/v1/things", R"({"a":1})");
    CHECK(h.size() == 64);
    CHECK(h == idempotency_request_hash("POST", "/api/v1/things", R"({"a":1})"));
    CHECK(h != idempotency_request_hash("POST", "/api/v1/things", R"({"a":2})"));
    CHECK(h != idempotency_request_hash("POST", "/api/v1/other", R"({"a":1})"));
    CHECK(h != idempotency_request_hash("PUT", "/api/v1/things", R"({"a":1})"));
    // Moving bytes between the parts changes the hash.
    CHECK(idempotency_request_hash("POST", "/a", "bc") != idempotency_request_hash("POST", "/ab", "c"));
    for (char c : h) CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
  }
}
