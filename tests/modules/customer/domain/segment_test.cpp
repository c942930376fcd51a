// The pure rules of customer segments: types, name tidying and the uniqueness key.
#include <doctest/doctest.h>

#include "segment.hpp"

using namespace crm::customer::domain;

TEST_SUITE("customer/domain") {
  TEST_CASE("a segment is static or dynamic") {
    CHECK(valid_segment_type("static"));
    CHECK(valid_segment_type("dynamic"));
    CHECK_FALSE(valid_segment_type("Static"));
    CHECK_FALSE(valid_segment_type(""));
    CHECK_FALSE(valid_segment_type("smart"));
  }

  TEST_CASE("a segment name is trimmed and its inner white space collapsed") {
    CHECK(tidy_segment_name("  Gold \t and\n\nplatinum  ") == "Gold and platinum");
    CHECK(tidy_segment_name("Pelanggan Setia") == "Pelanggan Setia");
    CHECK(tidy_segment_name(" \t ").empty());
  }

  TEST_CASE("segment names that differ only in case or spacing share one key, Unicode included") {
    CHECK(segment_name_key("Gold  VIPs") == segment_name_key("gold vips"));
    CHECK(segment_name_key("STRASSE") == segment_name_key("straße"));
    CHECK(segment_name_key("Café Owners") == segment_name_key("CAFÉ OWNERS"));
    CHECK(segment_name_key("Gold VIPs") != segment_name_key("Gold VIP"));
  }

  TEST_CASE("names are measured in characters, not bytes") {
    CHECK(utf8_length("batik") == 5);
    CHECK(utf8_length("café") == 4);
    CHECK(utf8_length("ケダイ") == 3);
    CHECK(utf8_length("") == 0);
  }
}
