#include "platform/request_identity.hpp"

#include "crm/platform/time.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using crm::platform::HttpRequest;
using crm::platform::HttpVerb;
using crm::platform::Request;
using crm::platform::trace_id_from_traceparent;
using crm::platform::well_formed_request_id;

const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

Request request_with(std::initializer_list<std::pair<const char*, std::string>> headers) {
  HttpRequest raw{HttpVerb::get, "/api/v1/customers?limit=5", 11};
  for (const auto& [name, value] : headers) raw.set(name, value);
  return Request(std::move(raw));
}

bool is_lower_hex(const std::string& s) { return s.find_first_not_of("0123456789abcdef") == std::string::npos; }

}  // namespace

TEST_SUITE("platform/request_identity") {
  TEST_CASE("a well-formed X-Request-ID is kept and becomes the correlation id") {
    auto req = request_with({{"X-Request-ID", "lb-7f3a.2026:11_23-abc"}});
    crm::platform::assign_request_identity(req);
    CHECK(req.context().request_id == "lb-7f3a.2026:11_23-abc");
    CHECK(req.context().correlation_id == "lb-7f3a.2026:11_23-abc");
  }

  TEST_CASE("a missing or malformed X-Request-ID is replaced by a new uuid") {
    for (std::string bad : {std::string(), std::string("has space"), std::string("semi;colon"),
                            std::string("<script>"), std::string(129, 'a'), std::string("ümlaut")}) {
      CAPTURE(bad);
      auto req = bad.empty() ? request_with({}) : request_with({{"X-Request-ID", bad}});
      crm::platform::assign_request_identity(req);
      CHECK(req.context().request_id != bad);
      CHECK(crm::platform::is_uuid(req.context().request_id));
      CHECK(req.context().request_id[14] == '7');
      CHECK(req.context().correlation_id == req.context().request_id);
    }
  }

  TEST_CASE("request ids of 1 and 128 characters are well-formed, 0 and 129 are not") {
    CHECK(well_formed_request_id("a"));
    CHECK(well_formed_request_id(std::string(128, 'Z')));
    CHECK_FALSE(well_formed_request_id(""));
    CHECK_FALSE(well_formed_request_id(std::string(129, 'Z')));
    CHECK(well_formed_request_id("A-z_0.9:x"));
    CHECK_FALSE(well_formed_request_id("a/b"));
    CHECK_FALSE(well_formed_request_id("a+b"));
  }

  TEST_CASE("a valid traceparent gives the request its trace id and a new span") {
    auto req = request_with({{"traceparent", kTraceparent}});
    crm::platform::assign_request_identity(req);
    CHECK(req.context().trace_id == kTrace);
    CHECK(req.context().span_id.size() == 16);
    CHECK(is_lower_hex(req.context().span_id));
    CHECK(req.context().span_id != "00f067aa0ba902b7");
  }

  TEST_CASE("without a usable traceparent a new trace is started") {
    auto a = request_with({{"traceparent", "garbage"}});
    auto b = request_with({});
    crm::platform::assign_request_identity(a);
    crm::platform::assign_request_identity(b);
    for (auto* req : {&a, &b}) {
      CHECK(req->context().trace_id.size() == 32);
      CHECK(is_lower_hex(req->context().trace_id));
      CHECK(req->context().trace_id != std::string(32, '0'));
    }
    CHECK(a.context().trace_id != b.context().trace_id);
  }

  TEST_CASE("the user agent is kept, cut at 512 characters") {
    auto req = request_with({{"User-Agent", std::string(600, 'u')}});
    crm::platform::assign_request_identity(req);
    CHECK(req.context().user_agent == std::string(512, 'u'));
  }

  TEST_CASE("traceparent parsing accepts the W3C version 00 form") {
    CHECK(trace_id_from_traceparent(kTraceparent) == kTrace);
    CHECK(trace_id_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00") == kTrace);
  }

  TEST_CASE("traceparent with an all-zero trace id or parent id is rejected") {
    CHECK(trace_id_from_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").empty());
    CHECK(trace_id_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01").empty());
  }

  TEST_CASE("traceparent with a bad version is rejected") {
    CHECK(trace_id_from_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").empty());
    CHECK(trace_id_from_traceparent("0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").empty());
    CHECK(trace_id_from_traceparent("0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").empty());
  }

  TEST_CASE("traceparent version 00 must not have extra fields but a future version may") {
    CHECK(trace_id_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").empty());
    CHECK(trace_id_from_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra") == kTrace);
  }

  TEST_CASE("traceparent with upper-case hex, wrong lengths or separators is rejected") {
    for (const char* bad : {"", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
                            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"}) {
      CAPTURE(bad);
      CHECK(trace_id_from_traceparent(bad).empty());
    }
  }
}
