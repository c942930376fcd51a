#include "password.hpp"

#include <doctest/doctest.h>
#include <sodium.h>

#include <array>
#include <string>
#include <vector>

namespace {

using crm::iam::check_password_policy;
using crm::platform::FieldError;

std::vector<std::string> codes_of(const std::vector<FieldError>& problems) {
  std::vector<std::string> codes;
  for (const auto& p : problems) codes.push_back(p.code);
  return codes;
}

std::string repeat(std::string_view unit, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += unit;
  return out;
}

}  // namespace

TEST_SUITE("iam/security/password") {
  TEST_CASE("a hash is an Argon2id PHC string with the OWASP parameters") {
    const std::string hash = crm::iam::hash_password("correct horse battery");
    CHECK(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
  }

  TEST_CASE("the right password verifies and a wrong one does not") {
    const std::string hash = crm::iam::hash_password("correct horse battery");
    CHECK(crm::iam::verify_password(hash, "correct horse battery"));
    CHECK_FALSE(crm::iam::verify_password(hash, "correct horse batterY"));
    CHECK_FALSE(crm::iam::verify_password(hash, ""));
  }

  TEST_CASE("hashing the same password twice gives different hashes that both verify") {
    const std::string a = crm::iam::hash_password("correct horse battery");
    const std::string b = crm::iam::hash_password("correct horse battery");
    CHECK(a != b);
    CHECK(crm::iam::verify_password(a, "correct horse battery"));
    CHECK(crm::iam::verify_password(b, "correct horse battery"));
  }

  TEST_CASE("a malformed hash verifies nothing") {
    CHECK_FALSE(crm::iam::verify_password("", ""));
    CHECK_FALSE(crm::iam::verify_password("not a hash", "not a hash"));
    CHECK_FALSE(crm::iam::verify_password("$argon2id$v=19$m=19456,t=2,p=1$", "x"));
    CHECK_FALSE(crm::iam::verify_password(std::string(500, '$'), "x"));
    const std::string hash = crm::iam::hash_password("correct horse battery");
    CHECK_FALSE(
        crm::iam::verify_password(hash.substr(0, hash.size() - 4), "correct horse battery"));
    CHECK_FALSE(
        crm::iam::verify_password(hash + std::string(1, '\0') + "x", "correct horse battery"));
  }

  TEST_CASE("a password with embedded NUL bytes is hashed in full") {
    const std::string password("correct\0horse battery", 21);
    const std::string hash = crm::iam::hash_password(password);
    CHECK(crm::iam::verify_password(hash, password));
    CHECK_FALSE(crm::iam::verify_password(hash, "correct"));
  }

  TEST_CASE("a hash with the current parameters needs no rehash") {
    CHECK_FALSE(crm::iam::password_needs_rehash(crm::iam::hash_password("correct horse battery")));
  }

  TEST_CASE("a hash made with weaker parameters needs a rehash") {
    REQUIRE(sodium_init() >= 0);
    std::array<char, crypto_pwhash_STRBYTES> weak{};
    REQUIRE(crypto_pwhash_str_alg(weak.data(), "password", 8, 1, 8192 * 1024,
                                  crypto_pwhash_ALG_ARGON2ID13) == 0);
    CHECK(crm::iam::password_needs_rehash(weak.data()));
    CHECK(crm::iam::verify_password(weak.data(), "password"));
  }

  TEST_CASE("a hash of another algorithm or an unreadable one needs a rehash") {
    REQUIRE(sodium_init() >= 0);
    std::array<char, crypto_pwhash_STRBYTES> argon2i{};
    REQUIRE(crypto_pwhash_str_alg(argon2i.data(), "password", 8, 3, 19456 * 1024,
                                  crypto_pwhash_ALG_ARGON2I13) == 0);
    CHECK(crm::iam::password_needs_rehash(argon2i.data()));
    CHECK(crm::iam::password_needs_rehash("garbage"));
  }

  TEST_CASE("the dummy hash is computed once and matches no ordinary password") {
    const std::string& first = crm::iam::dummy_password_hash();
    const std::string& second = crm::iam::dummy_password_hash();
    CHECK(&first == &second);
    CHECK(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    CHECK_FALSE(crm::iam::verify_password(first, ""));
    CHECK_FALSE(crm::iam::verify_password(first, "correct horse battery"));
  }

  TEST_CASE("a long uncommon password that differs from the email is accepted") {
    CHECK(check_password_policy("violet-tractor-umbrella", "ann@example.com").empty());
  }

  TEST_CASE("length is counted in characters, not bytes") {
    // 12 two-byte characters (24 bytes) are enough; 11 (22 bytes) are not.
    const std::string twelve = "ąęółśżźćńąęó";
    const std::string eleven = "ąęółśżźćńąę";
    REQUIRE(twelve.size() == 24);
    CHECK(check_password_policy(twelve, "ann@example.com").empty());
    CHECK(codes_of(check_password_policy(eleven, "ann@example.com")) ==
          std::vector<std::string>{"too_short"});
    // Four-byte characters count as one each too.
    CHECK(
        check_password_policy("🔑🌵🐙🎈🚲🧩🍋🎻🪁🦉🌈🧭", "ann@example.com")
            .empty());
  }

  TEST_CASE("eleven characters are too short and twelve are enough") {
    const auto problems = check_password_policy("vt8#kq2!mzp", "ann@example.com");
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].field == "password");
    CHECK(problems[0].code == "too_short");
    CHECK_FALSE(problems[0].message.empty());
    CHECK(check_password_policy("vt8#kq2!mzpw", "ann@example.com").empty());
  }

  TEST_CASE("128 characters are allowed and 129 are too long") {
    const std::string base = "Zq7!xw3#Lp9&";  // 12 distinct characters
    std::string max;
    while (max.size() < 128) max += base;
    max.resize(128);
    CHECK(check_password_policy(max, "ann@example.com").empty());
    CHECK(codes_of(check_password_policy(max + "a", "ann@example.com")) ==
          std::vector<std::string>{"too_long"});
    // 129 multibyte characters are too long as well, 128 are not.
    CHECK(codes_of(check_password_policy(repeat("ąę", 64) + "ó", "")) ==
          std::vector<std::string>{"too_long"});
    CHECK(check_password_policy(repeat("ąę", 64), "").empty());
  }

  TEST_CASE("common passwords are rejected whatever their case") {
    for (const char* common :
         {"password1234", "123456789012", "qwertyuiop123", "iloveyou1234", "welcome12345",
          "1qaz2wsx3edc", "passwordpassword", "PassWord1234", "QWERTYUIOP123", "IloveYou1234"}) {
      CAPTURE(common);
      CHECK(codes_of(check_password_policy(common, "ann@example.com")) ==
            std::vector<std::string>{"too_common"});
      CHECK(crm::iam::is_common_password(common));
    }
    CHECK_FALSE(crm::iam::is_common_password("violet-tractor-umbrella"));
  }

  TEST_CASE("a single repeated character is rejected as too common") {
    CHECK(codes_of(check_password_policy("xxxxxxxxxxxxxxxx", "")) ==
          std::vector<std::string>{"too_common"});
    CHECK(codes_of(check_password_policy(repeat("ż", 14), "")) ==
          std::vector<std::string>{"too_common"});
    CHECK(check_password_policy(repeat("ż", 13) + "a", "").empty());
  }

  TEST_CASE("a short common password reports both problems") {
    const auto codes = codes_of(check_password_policy("password", "ann@example.com"));
    CHECK(codes == std::vector<std::string>{"too_short", "too_common"});
  }

  TEST_CASE("a password equal to the email is rejected whatever its case") {
    const auto problems = check_password_policy("Ann.Smith@Example.com", "ann.smith@example.com");
    CHECK(codes_of(problems) == std::vector<std::string>{"same_as_email"});
    CHECK(check_password_policy("ann.smith@example.com!", "ann.smith@example.com").empty());
  }

  TEST_CASE("invalid UTF-8 is reported as an encoding problem") {
    for (const std::string& bad :
         {std::string("abcdefghijkl\xff"), std::string("abcdefghijkl\xc3"),
          std::string("abcdefghijkl\xc0\xaf"),             // overlong '/'
          std::string("abcdefghijkl\xed\xa0\x80"),         // surrogate
          std::string("abcdefghijkl\xf4\x90\x80\x80")}) {  // above U+10FFFF
      CHECK(codes_of(check_password_policy(bad, "")) ==
            std::vector<std::string>{"invalid_encoding"});
    }
  }

  TEST_CASE("problems are reported for the given field") {
    const auto problems = check_password_policy("short", "", "new_password");
    REQUIRE_FALSE(problems.empty());
    CHECK(problems[0].field == "new_password");
  }
}
