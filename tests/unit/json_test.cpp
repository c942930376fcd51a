#include "crm/platform/error.hpp"
#include "crm/platform/json.hpp"

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>

#include <string>
#include <vector>

namespace {

namespace bj = boost::json;
using crm::platform::Error;
using crm::platform::ErrorKind;
using crm::platform::FieldError;
using crm::platform::json::ObjectReader;

/// The field errors `reader.finish()` throws; fails the test when it does not throw a 422.
std::vector<FieldError> finish_errors(ObjectReader& reader) {
  try {
    reader.finish();
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::validation);
    return e.fields();
  }
  FAIL("expected finish() to throw a validation error");
  return {};
}

const FieldError* find_field(const std::vector<FieldError>& errors, const std::string& field) {
  for (const auto& e : errors)
    if (e.field == field) return &e;
  return nullptr;
}

}  // namespace

TEST_SUITE("platform/json") {
  TEST_CASE("a valid body reads without errors") {
    auto body = bj::parse(R"({"name": "Siti", "active": true, "score": 42, "note": null})");
    ObjectReader r(body);
    CHECK(r.required_string("name") == "Siti");
    CHECK(r.optional_bool("active") == true);
    CHECK(r.optional_int("score", 0, 100) == 42);
    CHECK_FALSE(r.optional_string("note").has_value());
    CHECK_FALSE(r.optional_string("absent").has_value());
    CHECK_NOTHROW(r.finish());
  }

  TEST_CASE("an unknown field is a 422 that names it") {
    auto body = bj::parse(R"({"name": "Siti", "tenant_id": "other", "is_admin": true})");
    ObjectReader r(body);
    r.required_string("name");
    auto errors = finish_errors(r);
    REQUIRE(errors.size() == 2);
    REQUIRE(find_field(errors, "tenant_id") != nullptr);
    CHECK(find_field(errors, "tenant_id")->code == "unknown_field");
    REQUIRE(find_field(errors, "is_admin") != nullptr);
    CHECK(find_field(errors, "is_admin")->code == "unknown_field");
  }

  TEST_CASE("a missing, null or blank required string is required") {
    auto body = bj::parse(R"({"a": null, "b": "   \t", "c": ""})");
    ObjectReader r(body);
    CHECK(r.required_string("a").empty());
    CHECK(r.required_string("b").empty());
    CHECK(r.required_string("c").empty());
    CHECK(r.required_string("d").empty());
    auto errors = finish_errors(r);
    REQUIRE(errors.size() == 4);
    for (const char* field : {"a", "b", "c", "d"}) {
      CAPTURE(field);
      REQUIRE(find_field(errors, field) != nullptr);
      CHECK(find_field(errors, field)->code == "required");
    }
  }

  TEST_CASE("type errors of several fields are collected into one 422") {
    auto body = bj::parse(R"({"name": 5, "active": "yes", "score": "42", "limit": 1.5, "big": 18446744073709551615})");
    ObjectReader r(body);
    r.required_string("name");
    r.optional_bool("active");
    r.optional_int("score", 0, 100);
    r.optional_int("limit", 0, 100);
    r.optional_int("big", 0, 100);
    auto errors = finish_errors(r);
    REQUIRE(errors.size() == 5);
    for (const char* field : {"name", "active", "score", "limit", "big"}) {
      CAPTURE(field);
      REQUIRE(find_field(errors, field) != nullptr);
      CHECK(find_field(errors, field)->code == "type");
      CHECK_FALSE(find_field(errors, field)->message.empty());
    }
  }

  TEST_CASE("an integer out of range is out_of_range with the bounds in the message") {
    auto body = bj::parse(R"({"limit": 201, "page": 0})");
    ObjectReader r(body);
    CHECK_FALSE(r.optional_int("limit", 1, 200).has_value());
    CHECK_FALSE(r.optional_int("page", 1, 200).has_value());
    auto errors = finish_errors(r);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].code == "out_of_range");
    CHECK(errors[0].message.find("200") != std::string::npos);
    CHECK(errors[1].field == "page");
  }

  TEST_CASE("a string longer than its limit is too_long") {
    auto body = bj::parse(R"({"code": "ABCDEF"})");
    ObjectReader r(body);
    CHECK_FALSE(r.optional_string("code", 5).has_value());
    auto errors = finish_errors(r);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "code");
    CHECK(errors[0].code == "too_long");
  }

  TEST_CASE("a string at its limit is accepted") {
    auto body = bj::parse(R"({"code": "ABCDE"})");
    ObjectReader r(body);
    CHECK(r.optional_string("code", 5) == "ABCDE");
    CHECK_NOTHROW(r.finish());
  }

  TEST_CASE("a body that is not an object is a 422 on field body") {
    for (const char* text : {"[1,2]", "\"text\"", "42", "null"}) {
      CAPTURE(text);
      auto body = bj::parse(text);
      ObjectReader r(body);
      CHECK_FALSE(r.optional_string("name").has_value());
      auto errors = finish_errors(r);
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].field == "body");
    }
  }

  TEST_CASE("a field read through optional_value is not unknown") {
    auto body = bj::parse(R"({"custom": {"a": 1}})");
    ObjectReader r(body);
    const auto* v = r.optional_value("custom");
    REQUIRE(v != nullptr);
    CHECK(v->is_object());
    CHECK_NOTHROW(r.finish());
  }

  TEST_CASE("errors added by the caller are reported with the rest") {
    auto body = bj::parse(R"({"email": "not-an-email", "extra": 1})");
    ObjectReader r(body);
    r.required_string("email");
    r.add_error("email", "invalid", "Must be an email address.");
    auto errors = finish_errors(r);
    REQUIRE(errors.size() == 2);
    CHECK(find_field(errors, "email")->code == "invalid");
    CHECK(find_field(errors, "extra")->code == "unknown_field");
  }

  TEST_CASE("parse_body turns malformed JSON into a 400 malformed_json") {
    for (const char* text : {"", "{", "{\"a\": }", "{'a': 1}", "{\"a\": 1,}", "{\"a\": 1} trailing", "// c\n{}"}) {
      CAPTURE(text);
      try {
        crm::platform::json::parse_body(text);
        FAIL("expected a 400");
      } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::bad_request);
        CHECK(crm::platform::http_status(e.kind()) == 400);
        CHECK(e.code() == "malformed_json");
      }
    }
  }

  TEST_CASE("parse_body refuses absurdly deep nesting") {
    std::string deep(200, '[');
    deep += std::string(200, ']');
    CHECK_THROWS_AS(crm::platform::json::parse_body(deep), Error);
    std::string shallow(10, '[');
    shallow += std::string(10, ']');
    CHECK_NOTHROW(crm::platform::json::parse_body(shallow));
  }

  TEST_CASE("parse_body accepts any valid JSON value") {
    CHECK(crm::platform::json::parse_body(R"({"a": [1, 2]})").at("a").as_array().size() == 2);
    CHECK(crm::platform::json::parse_body(" 42 ").as_int64() == 42);
  }

  TEST_CASE("parse_relaxed allows comments and trailing commas") {
    auto v = crm::platform::json::parse_relaxed("/* c */ {\"a\": [1, 2,], // x\n \"b\": 2,}");
    CHECK(v.at("a").as_array().size() == 2);
    CHECK(v.at("b").as_int64() == 2);
  }

  TEST_CASE("dump is compact JSON") {
    CHECK(crm::platform::json::dump(bj::parse(R"({ "a" : [ 1 , 2 ] })")) == R"({"a":[1,2]})");
  }

  TEST_CASE("append_string writes the literal dump writes, for every control character, quote and backslash") {
    std::vector<std::string> texts = {"", "plain", "Kedai \"Batik\" Siti", "C:\\batik\\", "line\nbreak\ttab\r",
                                      "Tenun \xE2\x80\x94 \xE7\xBE\x8E \xF0\x9F\xA7\xB5", "del\x7f"};
    std::string all_controls;
    for (int c = 0; c < 0x20; ++c) all_controls += static_cast<char>(c);
    texts.push_back(all_controls);
    texts.push_back(std::string("nul\0inside", 11));
    for (const auto& text : texts) {
      CAPTURE(text);
      std::string out = "[";
      crm::platform::json::append_string(out, text);
      out += "]";
      CHECK(out == crm::platform::json::dump(bj::array{bj::string(text)}));
      CHECK(bj::parse(out).as_array().at(0).as_string() == text);
    }
  }
}
