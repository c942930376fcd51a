#include "crm/platform/error.hpp"
#include "crm/platform/http.hpp"

#include <doctest/doctest.h>

#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>

#include <string>
#include <utility>
#include <vector>

namespace {

using crm::platform::Error;
using crm::platform::ErrorKind;
using crm::platform::FieldError;
namespace bj = boost::json;
namespace http = boost::beast::http;

const std::vector<std::pair<ErrorKind, int>> kStatuses = {
    {ErrorKind::bad_request, 400},
    {ErrorKind::unauthorized, 401},
    {ErrorKind::forbidden, 403},
    {ErrorKind::not_found, 404},
    {ErrorKind::method_not_allowed, 405},
    {ErrorKind::conflict, 409},
    {ErrorKind::precondition_failed, 412},
    {ErrorKind::payload_too_large, 413},
    {ErrorKind::unsupported_media_type, 415},
    {ErrorKind::validation, 422},
    {ErrorKind::rate_limited, 429},
    {ErrorKind::internal, 500},
    {ErrorKind::unavailable, 503},
    {ErrorKind::timeout, 503},
};

bj::object body_of(const crm::platform::HttpResponse& res) { return bj::parse(res.body()).as_object(); }

}  // namespace

TEST_SUITE("platform/error") {
  TEST_CASE("every error kind maps to its HTTP status in the document and the response") {
    for (const auto& [kind, status] : kStatuses) {
      CAPTURE(status);
      CHECK(crm::platform::http_status(kind) == status);
      Error e(kind, "", "detail");
      auto res = crm::platform::problem_response(e, "req-1");
      CHECK(res.result_int() == static_cast<unsigned>(status));
      auto doc = crm::platform::problem_document(e, "req-1");
      CHECK(doc.at("status").to_number<int>() == status);
      CHECK(std::string(doc.at("title").as_string()) == crm::platform::error_title(kind));
    }
  }

  TEST_CASE("an empty code takes the kind's default code") {
    CHECK(Error(ErrorKind::not_found, "", "x").code() == "not_found");
    CHECK(Error(ErrorKind::validation, "", "x").code() == "validation_failed");
    CHECK(Error(ErrorKind::timeout, "", "x").code() == "request_timeout");
    CHECK(Error(ErrorKind::conflict, "duplicate_email", "x").code() == "duplicate_email");
  }

  TEST_CASE("the problem document has every RFC 9457 member and the field errors") {
    Error e(ErrorKind::conflict, "duplicate_email", "A customer with this email exists.",
            {FieldError{"email", "duplicate", "Already used."}});
    auto doc = crm::platform::problem_document(e, "0191-req");
    CHECK(doc.size() == 7);
    CHECK(doc.at("type").as_string() == "https://batik-crm.dev/problems/duplicate_email");
    CHECK(doc.at("title").as_string() == "Conflict");
    CHECK(doc.at("status").as_int64() == 409);
    CHECK(doc.at("detail").as_string() == "A customer with this email exists.");
    CHECK(doc.at("code").as_string() == "duplicate_email");
    CHECK(doc.at("request_id").as_string() == "0191-req");
    const auto& errors = doc.at("errors").as_array();
    REQUIRE(errors.size() == 1);
    const auto& f = errors[0].as_object();
    CHECK(f.size() == 3);
    CHECK(f.at("field").as_string() == "email");
    CHECK(f.at("code").as_string() == "duplicate");
    CHECK(f.at("message").as_string() == "Already used.");
  }

  TEST_CASE("errors is an empty array when no field is at fault") {
    auto doc = crm::platform::problem_document(Error::not_found(), "r");
    REQUIRE(doc.at("errors").is_array());
    CHECK(doc.at("errors").as_array().empty());
  }

  TEST_CASE("a problem response is application/problem+json with the document as body") {
    auto res = crm::platform::problem_response(Error::forbidden(), "req-9");
    CHECK(res[http::field::content_type] == "application/problem+json");
    auto body = body_of(res);
    CHECK(body.at("status").as_int64() == 403);
    CHECK(body.at("code").as_string() == "forbidden");
    CHECK(body.at("request_id").as_string() == "req-9");
    CHECK(res[http::field::content_length] == std::to_string(res.body().size()));
  }

  TEST_CASE("extension members join the problem document without replacing standard ones") {
    Error dup = Error::conflict("duplicate", "Exists.");
    dup.with_extension("existing_id", "abc").with_extension("status", "999");
    auto body = crm::platform::problem_document(dup, "r");
    CHECK(body.at("existing_id").as_string() == "abc");
    CHECK(body.at("status").as_int64() == 409);
  }

  TEST_CASE("extra headers of an error travel on the response") {
    Error not_allowed(ErrorKind::method_not_allowed, "", "Use GET.");
    not_allowed.with_header("Allow", "GET, HEAD");
    auto res = crm::platform::problem_response(not_allowed, "r");
    CHECK(res.result_int() == 405);
    CHECK(res["Allow"] == "GET, HEAD");

    auto limited = crm::platform::problem_response(
        Error(ErrorKind::rate_limited, "", "Slow down.").with_header("Retry-After", "30"), "r");
    CHECK(limited.result_int() == 429);
    CHECK(limited["Retry-After"] == "30");
    CHECK(limited[http::field::content_type] == "application/problem+json");
  }

  TEST_CASE("a validation error lists every bad field") {
    auto e = Error::validation({FieldError{"email", "invalid", "Must be an email."},
                                FieldError{"name", "required", "Is required."},
                                FieldError{"tier", "invalid_choice", "Must be gold or silver."}});
    CHECK(e.kind() == ErrorKind::validation);
    CHECK(e.code() == "validation_failed");
    for (const char* field : {"email", "name", "tier"}) {
      CAPTURE(field);
      CHECK(e.detail().find(field) != std::string::npos);
    }
    auto doc = crm::platform::problem_document(e, "r");
    CHECK(doc.at("status").as_int64() == 422);
    const auto& errors = doc.at("errors").as_array();
    REQUIRE(errors.size() == 3);
    CHECK(errors[0].at("field").as_string() == "email");
    CHECK(errors[1].at("field").as_string() == "name");
    CHECK(errors[1].at("code").as_string() == "required");
    CHECK(errors[2].at("field").as_string() == "tier");
    CHECK(errors[2].at("message").as_string() == "Must be gold or silver.");
  }

  TEST_CASE("the single-field validation shortcut is a 422 naming the field") {
    auto e = Error::validation("email", "invalid", "Must be an email.");
    REQUIRE(e.fields().size() == 1);
    CHECK(e.fields()[0].field == "email");
    CHECK(crm::platform::http_status(e.kind()) == 422);
  }

  TEST_CASE("a bad query parameter is a 400 naming the parameter") {
    auto e = Error::bad_parameter("limit", "Must be between 1 and 200.");
    CHECK(crm::platform::http_status(e.kind()) == 400);
    CHECK(e.code() == "invalid_parameter");
    CHECK(e.detail().find("limit") != std::string::npos);
    REQUIRE(e.fields().size() == 1);
    CHECK(e.fields()[0].field == "limit");
  }

  TEST_CASE("the named constructors carry their kind and code") {
    CHECK(Error::unauthorized().kind() == ErrorKind::unauthorized);
    CHECK(Error::forbidden().code() == "forbidden");
    CHECK(Error::not_found().code() == "not_found");
    CHECK(Error::precondition_failed("stale").kind() == ErrorKind::precondition_failed);
    CHECK(Error::precondition_failed("stale").code() == "version_mismatch");
    CHECK(Error::conflict("lead_converted", "Already converted.").code() == "lead_converted");
    CHECK(Error::bad_request("bad").kind() == ErrorKind::bad_request);
  }

  TEST_CASE("an internal error's detail reveals nothing") {
    auto e = Error::internal();
    CHECK(e.kind() == ErrorKind::internal);
    CHECK(e.code() == "internal_error");
    CHECK(e.detail() == "An unexpected error occurred.");
    CHECK(e.fields().empty());
    auto res = crm::platform::problem_response(e, "r");
    CHECK(res.result_int() == 500);
    auto body = body_of(res);
    CHECK(body.at("detail").as_string() == "An unexpected error occurred.");
    CHECK(body.at("errors").as_array().empty());
  }

  TEST_CASE("what() is the client-facing detail") {
    Error e(ErrorKind::conflict, "x", "Already exists.");
    CHECK(std::string(e.what()) == "Already exists.");
  }
}
