// The pure rules of tenant-defined custom fields: keys, types, entities and dates.
#include <doctest/doctest.h>

#include "custom_fields.hpp"

using namespace crm::customer::domain;

TEST_SUITE("customer/domain") {
  TEST_CASE("custom field keys are snake_case starting with a letter, at most 64 characters") {
    for (const char* good : {"a", "batik_style", "looms2", "x_1_y"}) {
      CAPTURE(good);
      CHECK(valid_field_key(good));
    }
    for (const char* bad : {"", "1st", "_x", "Batik", "batik-style", "batik style", "ba.tik", "é"}) {
      CAPTURE(bad);
      CHECK_FALSE(valid_field_key(bad));
    }
    CHECK(valid_field_key(std::string(64, 'a')));
    CHECK_FALSE(valid_field_key(std::string(65, 'a')));
  }

  TEST_CASE("custom field types and entities are a closed list") {
    for (const char* t : {"text", "number", "integer", "boolean", "date", "datetime", "select", "multi_select", "url",
                          "email"}) {
      CAPTURE(t);
      CHECK(valid_field_type(t));
    }
    CHECK_FALSE(valid_field_type("Text"));
    CHECK_FALSE(valid_field_type("json"));
    CHECK(valid_field_entity("customer"));
    CHECK(valid_field_entity("deal"));
    CHECK_FALSE(valid_field_entity("invoice"));
  }

  TEST_CASE("a custom date is a real calendar day in YYYY-MM-DD") {
    CHECK(valid_iso_date("2026-12-01"));
    CHECK(valid_iso_date("2024-02-29"));
    CHECK(valid_iso_date("2000-02-29"));
    for (const char* bad : {"2026-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-01",
                            "26-01-01", "2026/01/01", "2026-01-01T00:00:00Z", "0000-01-01", "abcd-ef-gh", ""}) {
      CAPTURE(bad);
      CHECK_FALSE(valid_iso_date(bad));
    }
  }
}
