#pragma once
// Pure validation and normalization rules of customer data: no database, no HTTP. Unit tested
// in tests/modules/customer/domain/validation_test.cpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crm::customer::domain {

// ---- enumerations ----
bool valid_customer_type(std::string_view v);    // individual | business
bool valid_customer_status(std::string_view v);  // lead | prospect | active | inactive | churned | blocked
bool valid_tier(std::string_view v);             // bronze | silver | gold | platinum
bool valid_address_type(std::string_view v);     // billing | shipping | other
bool valid_channel(std::string_view v);          // email | phone | sms | whatsapp | mail | none
/// A BCP 47-like language tag: `en`, `ms`, `en-MY`, `zh-Hant-TW`.
bool valid_language(std::string_view v);

/// The status an action moves a customer to from `current`; nullopt when the action is not
/// allowed from there. Actions: activate, deactivate, block, unblock.
std::optional<std::string> status_after(std::string_view action, std::string_view current);
/// True when a plain update may change the status from `from` to `to` (blocking and
/// unblocking go through their actions only).
bool status_change_allowed(std::string_view from, std::string_view to);

// ---- email ----
/// Trimmed, domain lower-cased (the local part keeps its case); nullopt when not a plausible
/// address (one `@`, a dotted domain of letters, digits and hyphens, at most 254 characters).
std::optional<std::string> normalize_email(std::string_view email);
/// The key duplicates are found by: the whole normalized address lower-cased.
std::string email_key(std::string_view normalized_email);
/// True when the address's domain is a known throw-away mail provider.
bool disposable_email(std::string_view normalized_email);

// ---- phone ----
struct PhoneResult {
  std::optional<std::string> e164;  // set when valid
  std::string error;                // "invalid" | "not_a_number" when not
};
/// Parses with libphonenumber, `region` (ISO 3166-1 alpha-2) as the default for national
/// numbers; a valid number comes back in E.164.
PhoneResult parse_phone(std::string_view text, std::string_view region);

// ---- places ----
/// An assigned ISO 3166-1 alpha-2 code (upper case), per ICU.
bool valid_country(std::string_view code);
/// True when the postal code format of the country is known here.
bool postal_code_format_known(std::string_view country);
/// The postal code normalized (trimmed, upper case) when it fits the country's format, or
/// when the country's format is unknown and it is a plausible code; nullopt otherwise.
std::optional<std::string> normalize_postal_code(std::string_view country, std::string_view code);

// ---- web ----
/// "Kedai Batik Sdn. Bhd." -> "kedai-batik-sdn-bhd" (ASCII letters and digits, at most 60
/// characters); "customer" when nothing is left.
std::string slugify(std::string_view text);
/// An http(s) URL with a dotted host, `https://` added when the scheme is missing; nullopt
/// when not a web address.
std::optional<std::string> normalize_website(std::string_view text);

struct SocialProfile {
  std::string platform;
  std::string handle;
  std::string url;
};
struct SocialResult {
  std::optional<SocialProfile> profile;
  std::string field;  // "platform" | "handle" | "url" when invalid
  std::string error;  // code
  std::string message;
};
/// Validates a profile for its platform (linkedin, facebook, instagram, x, twitter, tiktok,
/// youtube, github, telegram, whatsapp): a handle or a URL on the platform's own host (or
/// both, agreeing); the missing one is derived.
SocialResult validate_social_profile(std::string_view platform, std::string_view handle, std::string_view url,
                                     std::string_view phone_region);

// ---- money ----
/// Minor-unit exponent of an ISO 4217 currency known to ICU (2 for MYR, 0 for JPY, 3 for
/// KWD); nullopt for an unknown code.
std::optional<int> currency_exponent(std::string_view currency);
struct MoneyResult {
  std::optional<std::int64_t> minor;  // amount in minor units when valid
  std::string error;                  // "invalid" | "too_many_decimals" | "out_of_range"
};
/// Amounts are decimal strings (`"-12.50"`), at most the currency's decimals, |amount| <= 10^15.
MoneyResult parse_money(std::string_view amount, int exponent);
/// Minor units as a decimal string with exactly `exponent` decimals.
std::string format_money(std::int64_t minor, int exponent);

}  // namespace crm::customer::domain

namespace crm::customer::domain {

// ---- search ----
/// The terms of a search query: words of letters and digits (ASCII lower-cased, at most 10,
/// each at most 50 bytes); a query that looks like a phone number is one term of its digits
/// (leading 0 and country code kept as typed). Empty when nothing searchable is left.
std::vector<std::string> search_terms(std::string_view query);
/// Text for the search document that makes an E.164 number findable as typed: its digits,
/// its national significant number and the national number with a trunk 0 ("60123456789
/// 123456789 0123456789").
std::string phone_search_text(std::string_view e164);
/// The words of an email address for the search index ("siti kedai my"), after the whole
/// address when `whole` ("siti@kedai.my siti kedai my"): PostgreSQL's parser reads an address
/// as one token, where SQLite's tokenizer reads from it the same words as from the list, so
/// that the address itself would only index each word twice.
std::string email_search_text(std::string_view email, bool whole);

}  // namespace crm::customer::domain
