// The pure rules of customer data: normalization and validation, money, status transitions.
#include <doctest/doctest.h>

#include "validation.hpp"

#include <phonenumbers/phonenumberutil.h>

#include <set>
#include <string>

using namespace crm::customer::domain;

TEST_SUITE("customer/domain") {
  TEST_CASE("an email is trimmed and its domain lower-cased, the local part keeps its case") {
    CHECK(normalize_email("  Siti.Aminah@Kilang-Batik.COM.my ") == std::optional<std::string>("Siti.Aminah@kilang-batik.com.my"));
    CHECK(email_key("Siti.Aminah@kilang-batik.com.my") == "siti.aminah@kilang-batik.com.my");
  }

  TEST_CASE("malformed emails are refused") {
    for (const char* bad : {"", "plain", "@example.com", "a@", "a@b", "a@@b.com", "a b@c.com", "a@-x.com",
                            "a@x-.com", "a@x.c", ".a@x.com", "a..b@x.com", "a@x..com", "a@x.123"}) {
      CAPTURE(bad);
      CHECK_FALSE(normalize_email(bad).has_value());
    }
    CHECK_FALSE(normalize_email(std::string(65, 'a') + "@x.com").has_value());
  }

  TEST_CASE("an email's domain is DNS labels of up to 63 characters and a top-level domain") {
    for (const char* good : {"a@x.my", "a@kilang-batik.com.my", "a@0x.io", "a@x.xn--p1ai", "a@a-b-c.d-e.museum"}) {
      CAPTURE(good);
      CHECK(normalize_email(good).has_value());
    }
    CHECK(normalize_email("a@" + std::string(63, 'b') + ".my").has_value());
    for (const char* bad : {"a@x.xn--", "a@x.xn--p1ai-", "a@x.c0m", "a@x_y.com", "a@x.my.", "a@.x.my", "a@x.-my"}) {
      CAPTURE(bad);
      CHECK_FALSE(normalize_email(bad).has_value());
    }
    CHECK_FALSE(normalize_email("a@" + std::string(64, 'b') + ".my").has_value());
    CHECK_FALSE(normalize_email("a@x." + std::string(64, 'm')).has_value());
  }

  TEST_CASE("throw-away mail domains are flagged, sub-domains included") {
    CHECK(disposable_email("x@mailinator.com"));
    CHECK(disposable_email("x@eu.mailinator.com"));
    CHECK_FALSE(disposable_email("x@batik.my"));
    CHECK_FALSE(disposable_email("x@notmailinator.com"));
  }

  TEST_CASE("a Malaysian national number becomes E.164 with region MY") {
    auto p = parse_phone("012-345 6789", "MY");
    REQUIRE(p.e164);
    CHECK(*p.e164 == "+60123456789");
    CHECK(parse_phone("+65 6123 4567", "MY").e164 == std::optional<std::string>("+6561234567"));
    CHECK(parse_phone("6123 4567", "SG").e164 == std::optional<std::string>("+6561234567"));
  }

  TEST_CASE("invalid phone numbers are refused with a reason") {
    CHECK(parse_phone("12", "MY").error == "invalid");
    CHECK_FALSE(parse_phone("not a phone", "MY").e164);
    CHECK_FALSE(parse_phone("", "MY").e164);
    CHECK_FALSE(parse_phone("6123 4567", "").e164);  // a national number needs a region
  }

  TEST_CASE("countries are ISO 3166-1 alpha-2 codes") {
    CHECK(valid_country("MY"));
    CHECK(valid_country("SG"));
    CHECK(valid_country("GB"));
    CHECK_FALSE(valid_country("my"));
    CHECK_FALSE(valid_country("XX"));
    CHECK_FALSE(valid_country("MYS"));
    CHECK_FALSE(valid_country(""));
  }

  TEST_CASE("postal codes follow the country's format where it is known") {
    CHECK(normalize_postal_code("MY", "50450") == std::optional<std::string>("50450"));
    CHECK_FALSE(normalize_postal_code("MY", "5045"));
    CHECK_FALSE(normalize_postal_code("MY", "504501"));
    CHECK(normalize_postal_code("SG", "018956"));
    CHECK_FALSE(normalize_postal_code("SG", "18956"));
    CHECK(normalize_postal_code("US", "94105"));
    CHECK(normalize_postal_code("US", "94105-1234"));
    CHECK_FALSE(normalize_postal_code("US", "9410"));
    CHECK(normalize_postal_code("GB", "sw1a 1aa") == std::optional<std::string>("SW1A 1AA"));
    CHECK(normalize_postal_code("GB", "M1 1AE"));
    CHECK_FALSE(normalize_postal_code("GB", "12345"));
    CHECK(normalize_postal_code("ID", "10110"));
    CHECK(normalize_postal_code("TH", "10330"));
    CHECK_FALSE(normalize_postal_code("TH", "1033"));
    CHECK(postal_code_format_known("MY"));
    // Unknown format: anything plausible.
    CHECK_FALSE(postal_code_format_known("KE"));
    CHECK(normalize_postal_code("KE", "00100"));
    CHECK_FALSE(normalize_postal_code("KE", "$$$"));
  }

  TEST_CASE("slugs are ASCII words joined by hyphens") {
    CHECK(slugify("Kedai Batik Sdn. Bhd.") == "kedai-batik-sdn-bhd");
    CHECK(slugify("  Siti's  Batik -- & Co ") == "sitis-batik-co");
    CHECK(slugify("!!!") == "customer");
    CHECK(slugify(std::string(200, 'a')).size() == 60);
  }

  TEST_CASE("websites are http(s) URLs with a dotted host") {
    CHECK(normalize_website("batik.my") == std::optional<std::string>("https://batik.my"));
    CHECK(normalize_website("HTTP://Batik.MY/shop?x=1") == std::optional<std::string>("http://batik.my/shop?x=1"));
    CHECK_FALSE(normalize_website("ftp://batik.my"));
    CHECK_FALSE(normalize_website("localhost"));
    CHECK(normalize_website("shop.kilang-batik.com.my") == std::optional<std::string>("https://shop.kilang-batik.com.my"));
    CHECK_FALSE(normalize_website("batik.xn--p1ai"));  // a website's top-level domain is letters
    CHECK_FALSE(normalize_website("batik-.my"));
    CHECK_FALSE(normalize_website("batik.m"));
    CHECK_FALSE(normalize_website("javascript:alert(1)"));
  }

  TEST_CASE("social profiles are checked per platform and get a canonical URL") {
    auto ig = validate_social_profile("instagram", "@kilang.batik", "", "MY");
    REQUIRE(ig.profile);
    CHECK(ig.profile->handle == "kilang.batik");
    CHECK(ig.profile->url == "https://www.instagram.com/kilang.batik");
    auto li = validate_social_profile("linkedin", "", "https://www.linkedin.com/company/kilang-batik/", "MY");
    REQUIRE(li.profile);
    CHECK(li.profile->handle == "company/kilang-batik");
    auto tw = validate_social_profile("twitter", "batik_my", "", "MY");
    REQUIRE(tw.profile);
    CHECK(tw.profile->platform == "x");
    auto wa = validate_social_profile("whatsapp", "012-345 6789", "", "MY");
    REQUIRE(wa.profile);
    CHECK(wa.profile->url == "https://wa.me/60123456789");

    CHECK(validate_social_profile("instagram", "", "https://evil.example/kilang", "MY").field == "url");
    CHECK(validate_social_profile("x", "this_handle_is_far_too_long", "", "MY").field == "handle");
    CHECK(validate_social_profile("myspace", "x", "", "MY").field == "platform");
    CHECK(validate_social_profile("github", "", "", "MY").error == "required");
    CHECK(validate_social_profile("github", "octo", "https://github.com/other", "MY").error == "mismatch");
  }

  TEST_CASE("currency exponents come from ISO 4217") {
    CHECK(currency_exponent("MYR") == std::optional<int>(2));
    CHECK(currency_exponent("JPY") == std::optional<int>(0));
    CHECK(currency_exponent("KWD") == std::optional<int>(3));
    CHECK_FALSE(currency_exponent("XYZ"));
    CHECK_FALSE(currency_exponent("myr"));
  }

  TEST_CASE("money amounts are decimal strings within the currency's decimals and 10^15") {
    CHECK(parse_money("12.50", 2).minor == std::optional<std::int64_t>(1250));
    CHECK(parse_money("-0.01", 2).minor == std::optional<std::int64_t>(-1));
    CHECK(parse_money("1500", 0).minor == std::optional<std::int64_t>(1500));
    CHECK(parse_money("12.500", 3).minor == std::optional<std::int64_t>(12500));
    CHECK(parse_money("12.500", 2).minor == std::optional<std::int64_t>(1250));  // trailing zeros carry nothing
    CHECK(parse_money("12.505", 2).error == "too_many_decimals");
    CHECK(parse_money("1.5", 0).error == "too_many_decimals");
    CHECK(parse_money("1000000000000000", 2).minor == std::optional<std::int64_t>(100000000000000000));
    CHECK(parse_money("1000000000000000.01", 2).error == "out_of_range");
    CHECK(parse_money("-1000000000000001", 2).error == "out_of_range");
    CHECK(parse_money("99999999999999999999", 2).error == "out_of_range");
    for (const char* bad : {"", "1e5", "12,50", " 1", "+1", ".5", "1.", "abc", "--1"}) {
      CAPTURE(bad);
      CHECK(parse_money(bad, 2).error == "invalid");
    }
  }

  TEST_CASE("money is formatted with exactly the currency's decimals") {
    CHECK(format_money(1990, 2) == "19.90");
    CHECK(format_money(12500, 3) == "12.500");
    CHECK(format_money(1500, 0) == "1500");
    CHECK(format_money(5, 2) == "0.05");
    CHECK(format_money(-5, 2) == "-0.05");
    CHECK(format_money(INT64_MIN, 0) == "-9223372036854775808");
  }

  TEST_CASE("status actions move only along legal transitions") {
    CHECK(status_after("activate", "prospect") == std::optional<std::string>("active"));
    CHECK(status_after("activate", "inactive") == std::optional<std::string>("active"));
    CHECK_FALSE(status_after("activate", "active"));
    CHECK_FALSE(status_after("activate", "blocked"));  // unblock first
    CHECK(status_after("unblock", "blocked") == std::optional<std::string>("inactive"));
    CHECK_FALSE(status_after("unblock", "active"));
    CHECK(status_after("block", "active") == std::optional<std::string>("blocked"));
    CHECK_FALSE(status_after("block", "blocked"));
    CHECK(status_after("deactivate", "active") == std::optional<std::string>("inactive"));
    CHECK_FALSE(status_after("deactivate", "churned"));
    CHECK_FALSE(status_after("explode", "active"));
    CHECK(status_change_allowed("lead", "prospect"));
    CHECK_FALSE(status_change_allowed("active", "blocked"));
    CHECK_FALSE(status_change_allowed("blocked", "active"));
  }

  TEST_CASE("languages are BCP 47 tags") {
    CHECK(valid_language("en"));
    CHECK(valid_language("ms-MY"));
    CHECK(valid_language("zh-Hant-TW"));
    CHECK_FALSE(valid_language("english"));
    CHECK_FALSE(valid_language("EN"));
  }
}

TEST_SUITE("customer/domain") {
  TEST_CASE("search queries become lower-case words, and phone-like queries one run of digits") {
    using V = std::vector<std::string>;
    CHECK(search_terms("  Kedai BATIK, siti@kedai ") == V{"kedai", "batik", "siti", "kedai"});
    CHECK(search_terms("012-345 6789") == V{"0123456789"});
    CHECK(search_terms("+60 12 345") == V{"6012345"});
    CHECK(search_terms("12 34") == V{"12", "34"});  // too few digits for a phone number
    CHECK(search_terms("\"*) OR (") == V{"or"});   // query syntax is never passed through
    CHECK(search_terms("   ").empty());
    CHECK(search_terms("a b c d e f g h i j k l").size() == 10);
    CHECK(search_terms("Batik Café") == V{"batik", "café"});
  }

  TEST_CASE("a phone number is findable by its international and national digits") {
    CHECK(phone_search_text("+60123456789") == "60123456789 123456789 0123456789");
    CHECK(phone_search_text("+12025550123") == "12025550123 2025550123 02025550123");
    CHECK(phone_search_text("+390612345678") == "390612345678 0612345678 00612345678");  // Italy keeps its 0
    CHECK(phone_search_text("+80012345678") == "80012345678 12345678 012345678");       // a global service
    CHECK(phone_search_text("+99912345") == "99912345");  // no such country calling code
    CHECK(phone_search_text("60123456789") == "60123456789");
    CHECK(phone_search_text("") == "");
    CHECK(email_search_text("siti@kedai.my", true) == "siti@kedai.my siti kedai my");
    CHECK(email_search_text("siti.aminah@kedai.my", false) == "siti aminah kedai my");
  }

  TEST_CASE("the national number in a phone's search text is the one a full libphonenumber parse gives") {
    using i18n::phonenumbers::PhoneNumber;
    using i18n::phonenumbers::PhoneNumberUtil;
    const auto* util = PhoneNumberUtil::GetInstance();
    auto reference = [&](const std::string& e164) {
      std::string out;
      for (char c : e164)
        if (std::isdigit(static_cast<unsigned char>(c))) out += c;
      PhoneNumber number;
      if (util->Parse(e164, "ZZ", &number) == PhoneNumberUtil::NO_PARSING_ERROR) {
        std::string national;
        util->GetNationalSignificantNumber(number, &national);
        out += " " + national + " 0" + national;
      }
      return out;
    };
    std::set<std::string> regions;
    util->GetSupportedRegions(&regions);
    int compared = 0;
    for (const auto& region : regions) {
      for (auto type : {PhoneNumberUtil::FIXED_LINE, PhoneNumberUtil::MOBILE, PhoneNumberUtil::TOLL_FREE,
                        PhoneNumberUtil::PREMIUM_RATE, PhoneNumberUtil::SHARED_COST, PhoneNumberUtil::VOIP,
                        PhoneNumberUtil::PERSONAL_NUMBER, PhoneNumberUtil::PAGER, PhoneNumberUtil::UAN,
                        PhoneNumberUtil::VOICEMAIL}) {
        PhoneNumber example;
        if (!util->GetExampleNumberForType(region, type, &example)) continue;
        std::string e164;
        util->Format(example, PhoneNumberUtil::E164, &e164);
        CAPTURE(e164);
        CHECK(phone_search_text(e164) == reference(e164));
        ++compared;
      }
    }
    std::set<int> global;
    util->GetSupportedGlobalNetworkCallingCodes(&global);
    for (int code : global) {
      PhoneNumber example;
      if (!util->GetExampleNumberForNonGeoEntity(code, &example)) continue;
      std::string e164;
      util->Format(example, PhoneNumberUtil::E164, &e164);
      CAPTURE(e164);
      CHECK(phone_search_text(e164) == reference(e164));
      ++compared;
    }
    CHECK(compared > 1000);
  }
}
