#include "validation.hpp"

#include <phonenumbers/phonenumberutil.h>
#include <unicode/ucurr.h>
#include <unicode/uloc.h>
#include <unicode/uenum.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <regex>
#include <set>

namespace crm::customer::domain {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool one_of(std::string_view v, std::initializer_list<std::string_view> options) {
  return std::find(options.begin(), options.end(), v) != options.end();
}

bool full_match(const std::regex& re, std::string_view s) { return std::regex_match(s.begin(), s.end(), re); }

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/// A DNS label in lower case: 1 to 63 of a-z, 0-9 and '-', not starting or ending with '-'.
/// (Checked by hand: std::regex was a tenth of the time of an imported row with an email.)
bool dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63 || !lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}

/// A top-level domain: 2 to 63 letters, or an IDN's "xn--" and 1 to 59 of a-z, 0-9, '-'.
bool top_level_domain(std::string_view s) {
  if (s.size() > 4 && s.size() <= 63 && s.substr(0, 4) == "xn--") {
    return std::all_of(s.begin() + 4, s.end(), [](char c) { return lower_alnum(c) || c == '-'; });
  }
  return s.size() >= 2 && s.size() <= 63 && std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

/// Two or more dot-separated DNS labels, the last a top-level domain.
bool domain_name(std::string_view s) {
  std::size_t start = 0, labels = 0;
  while (true) {
    auto dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!dns_label(part)) return false;
    ++labels;
    if (dot == std::string_view::npos) return labels >= 2 && top_level_domain(part);
    start = dot + 1;
  }
}

}  // namespace

bool valid_customer_type(std::string_view v) { return one_of(v, {"individual", "business"}); }
bool valid_customer_status(std::string_view v) {
  return one_of(v, {"lead", "prospect", "active", "inactive", "churned", "blocked"});
}
bool valid_tier(std::string_view v) { return one_of(v, {"bronze", "silver", "gold", "platinum"}); }
bool valid_address_type(std::string_view v) { return one_of(v, {"billing", "shipping", "other"}); }
bool valid_channel(std::string_view v) { return one_of(v, {"email", "phone", "sms", "whatsapp", "mail", "none"}); }

bool valid_language(std::string_view v) {
  static const std::regex re("^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$");
  return v.size() <= 35 && full_match(re, v);
}

std::optional<std::string> status_after(std::string_view action, std::string_view current) {
  if (action == "activate") {
    // A blocked customer is unblocked first, deliberately, before it can be active again.
    if (one_of(current, {"lead", "prospect", "inactive", "churned"})) return "active";
    return std::nullopt;
  }
  if (action == "deactivate") {
    if (one_of(current, {"lead", "prospect", "active"})) return "inactive";
    return std::nullopt;
  }
  if (action == "block") {
    if (current != "blocked" && valid_customer_status(current)) return "blocked";
    return std::nullopt;
  }
  if (action == "unblock") {
    if (current == "blocked") return "inactive";
    return std::nullopt;
  }
  return std::nullopt;
}

bool status_change_allowed(std::string_view from, std::string_view to) {
  if (from == to) return true;
  return from != "blocked" && to != "blocked" && valid_customer_status(from) && valid_customer_status(to);
}

std::optional<std::string> normalize_email(std::string_view email) {
  email = trim(email);
  if (email.empty() || email.size() > 254) return std::nullopt;
  auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos) return std::nullopt;
  std::string_view local = email.substr(0, at);
  std::string domain = lower(email.substr(at + 1));
  if (local.size() > 64 || local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return std::nullopt;
  }
  static const std::string kLocalChars = "!#$%&'*+-/=?^_`{|}~.";
  for (char c : local) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && kLocalChars.find(c) == std::string::npos) return std::nullopt;
  }
  if (!domain_name(domain)) return std::nullopt;
  return std::string(local) + "@" + domain;
}

std::string email_key(std::string_view normalized_email) { return lower(normalized_email); }

bool disposable_email(std::string_view normalized_email) {
  static const std::set<std::string, std::less<>> kDomains = {
      "mailinator.com", "guerrillamail.com", "guerrillamail.net", "10minutemail.com", "10minutemail.net",
      "tempmail.com",   "temp-mail.org",     "yopmail.com",       "trashmail.com",    "sharklasers.com",
      "getnada.com",    "dispostable.com",   "maildrop.cc",       "throwawaymail.com", "fakeinbox.com",
      "mintemail.com",  "mailnesia.com",     "emailondeck.com",   "moakt.com",        "tempail.com"};
  auto at = normalized_email.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string domain = lower(normalized_email.substr(at + 1));
  // Sub-domains of a throw-away provider are throw-away too.
  for (std::string_view d = domain;;) {
    if (kDomains.count(d)) return true;
    auto dot = d.find('.');
    if (dot == std::string_view::npos) return false;
    d.remove_prefix(dot + 1);
  }
}

PhoneResult parse_phone(std::string_view text, std::string_view region) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  PhoneResult out;
  text = trim(text);
  if (text.empty() || text.size() > 40) {
    out.error = "invalid";
    return out;
  }
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  std::string r = region.empty() ? std::string("ZZ") : upper(region);
  auto status = util->Parse(std::string(text), r, &number);
  if (status != PhoneNumberUtil::NO_PARSING_ERROR) {
    out.error = "not_a_number";
    return out;
  }
  if (!util->IsValidNumber(number)) {
    out.error = "invalid";
    return out;
  }
  std::string e164;
  util->Format(number, PhoneNumberUtil::E164, &e164);
  out.e164 = e164;
  return out;
}

bool valid_country(std::string_view code) {
  static const std::set<std::string, std::less<>> kCountries = [] {
    std::set<std::string, std::less<>> s;
    for (const char* const* c = uloc_getISOCountries(); *c; ++c) s.insert(*c);
    return s;
  }();
  return code.size() == 2 && kCountries.count(code) > 0;
}

namespace {

const std::map<std::string, std::regex, std::less<>>& postal_formats() {
  static const std::map<std::string, std::regex, std::less<>> formats = [] {
    std::map<std::string, std::regex, std::less<>> m;
    auto add = [&m](const char* country, const char* re) { m.emplace(country, std::regex(re)); };
    add("MY", "^[0-9]{5}$");
    add("SG", "^[0-9]{6}$");
    add("ID", "^[0-9]{5}$");
    add("TH", "^[0-9]{5}$");
    add("BN", "^[A-Z]{2}[0-9]{4}$");
    add("PH", "^[0-9]{4}$");
    add("VN", "^[0-9]{6}$");
    add("US", "^[0-9]{5}(-[0-9]{4})?$");
    add("CA", "^[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]$");
    // UK: outward code (A9, A99, AA9, AA99, A9A, AA9A) + inward code (9AA), and GIR 0AA.
    add("GB", "^(GIR ?0AA|[A-Z]{1,2}[0-9][0-9A-Z]? ?[0-9][A-Z]{2})$");
    add("AU", "^[0-9]{4}$");
    add("NZ", "^[0-9]{4}$");
    add("IN", "^[1-9][0-9]{5}$");
    add("CN", "^[0-9]{6}$");
    add("JP", "^[0-9]{3}-?[0-9]{4}$");
    add("KR", "^[0-9]{5}$");
    add("DE", "^[0-9]{5}$");
    add("FR", "^[0-9]{5}$");
    add("IT", "^[0-9]{5}$");
    add("ES", "^[0-9]{5}$");
    add("NL", "^[1-9][0-9]{3} ?[A-Z]{2}$");
    return m;
  }();
  return formats;
}

}  // namespace

bool postal_code_format_known(std::string_view country) { return postal_formats().count(country) > 0; }

std::optional<std::string> normalize_postal_code(std::string_view country, std::string_view code) {
  std::string c = upper(trim(code));
  if (c.empty() || c.size() > 16) return std::nullopt;
  auto it = postal_formats().find(country);
  if (it != postal_formats().end()) {
    if (!full_match(it->second, c)) return std::nullopt;
    return c;
  }
  static const std::regex plausible("^[A-Z0-9][A-Z0-9 -]{0,14}[A-Z0-9]$|^[A-Z0-9]$");
  if (!full_match(plausible, c)) return std::nullopt;
  return c;
}

std::string slugify(std::string_view text) {
  std::string out;
  bool dash = false;
  for (unsigned char c : text) {
    if (std::isalnum(c)) {
      if (dash && !out.empty()) out += '-';
      dash = false;
      out += static_cast<char>(std::tolower(c));
      if (out.size() >= 60) break;
    } else if (c == '\'') {
      continue;  // "Siti's" -> "sitis"
    } else {
      dash = true;
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? std::string("customer") : out;
}

namespace {

struct Url {
  std::string scheme, host, port, path;  // port with its colon; path: everything after
};

std::optional<Url> split_url(std::string_view text) {
  static const std::regex re(R"(^(https?)://([A-Za-z0-9.-]+)(:[0-9]{1,5})?([/?#][^\s]*)?$)", std::regex::icase);
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(text.begin(), text.end(), m, re)) return std::nullopt;
  Url u{lower(m[1].str()), lower(m[2].str()), m[3].str(), m[4].str()};
  return u;
}

bool dotted_host(std::string_view host) {
  // Unlike an email's domain, a website's last label is letters only (no IDN "xn--" form).
  auto last = host.rfind('.');
  return host.size() <= 253 && last != std::string_view::npos && domain_name(host) &&
         std::all_of(host.begin() + static_cast<std::ptrdiff_t>(last) + 1, host.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

}  // namespace

std::optional<std::string> normalize_website(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() > 2000) return std::nullopt;
  std::string s(text);
  if (s.find("://") == std::string::npos) s = "https://" + s;
  auto u = split_url(s);
  if (!u || !dotted_host(u->host)) return std::nullopt;
  return u->scheme + "://" + u->host + u->port + u->path;
}

SocialResult validate_social_profile(std::string_view platform_in, std::string_view handle_in, std::string_view url_in,
                                     std::string_view phone_region) {
  struct Rule {
    const char* platform;
    const char* handle_re;
    std::vector<const char*> hosts;
    const char* url_prefix;  // canonical URL = prefix + handle
    const char* path_re;     // the handle inside a URL path
  };
  static const std::vector<Rule> kRules = {
      {"linkedin", "^(in|company)/[A-Za-z0-9_-]{2,100}$", {"linkedin.com", "www.linkedin.com"},
       "https://www.linkedin.com/", "^/((in|company)/[A-Za-z0-9_-]{2,100})/?$"},
      {"facebook", "^[A-Za-z0-9.]{5,50}$", {"facebook.com", "www.facebook.com", "m.facebook.com", "fb.com"},
       "https://www.facebook.com/", "^/([A-Za-z0-9.]{5,50})/?$"},
      {"instagram", "^[A-Za-z0-9._]{1,30}$", {"instagram.com", "www.instagram.com"}, "https://www.instagram.com/",
       "^/([A-Za-z0-9._]{1,30})/?$"},
      {"x", "^[A-Za-z0-9_]{1,15}$", {"x.com", "www.x.com", "twitter.com", "www.twitter.com"}, "https://x.com/",
       "^/([A-Za-z0-9_]{1,15})/?$"},
      {"twitter", "^[A-Za-z0-9_]{1,15}$", {"x.com", "www.x.com", "twitter.com", "www.twitter.com"},
       "https://x.com/", "^/([A-Za-z0-9_]{1,15})/?$"},
      {"tiktok", "^[A-Za-z0-9._]{2,24}$", {"tiktok.com", "www.tiktok.com"}, "https://www.tiktok.com/@",
       "^/@([A-Za-z0-9._]{2,24})/?$"},
      {"youtube", "^[A-Za-z0-9._-]{3,30}$", {"youtube.com", "www.youtube.com", "m.youtube.com"},
       "https://www.youtube.com/@", "^/@([A-Za-z0-9._-]{3,30})/?$"},
      {"github", "^[A-Za-z0-9]([A-Za-z0-9-]{0,37}[A-Za-z0-9])?$", {"github.com", "www.github.com"},
       "https://github.com/", "^/([A-Za-z0-9]([A-Za-z0-9-]{0,37}[A-Za-z0-9])?)/?$"},
      {"telegram", "^[A-Za-z][A-Za-z0-9_]{4,31}$", {"t.me", "telegram.me"}, "https://t.me/",
       "^/([A-Za-z][A-Za-z0-9_]{4,31})/?$"},
  };
  SocialResult out;
  std::string platform = lower(trim(platform_in));
  std::string handle(trim(handle_in));
  std::string url(trim(url_in));
  auto fail = [&out](const char* field, const char* code, std::string message) {
    out.field = field;
    out.error = code;
    out.message = std::move(message);
    return out;
  };
  if (handle.empty() && url.empty()) return fail("handle", "required", "Give a handle or a URL.");
  if (platform == "whatsapp") {
    // A WhatsApp profile is a phone number; its URL is wa.me/<digits>.
    std::string number = handle;
    if (number.empty()) {
      auto u = split_url(url);
      static const std::regex path("^/\\+?([0-9]{6,15})/?$");
      std::smatch m;
      if (!u || (u->host != "wa.me" && u->host != "api.whatsapp.com") || !std::regex_match(u->path, m, path)) {
        return fail("url", "invalid", "A WhatsApp URL is https://wa.me/<number>.");
      }
      number = "+" + m[1].str();
    }
    auto phone = parse_phone(number, phone_region);
    if (!phone.e164) return fail("handle", "invalid", "A WhatsApp handle is a valid phone number.");
    out.profile = SocialProfile{"whatsapp", *phone.e164, "https://wa.me/" + phone.e164->substr(1)};
    return out;
  }
  const Rule* rule = nullptr;
  for (const auto& r : kRules) {
    if (platform == r.platform) rule = &r;
  }
  if (!rule) {
    return fail("platform", "invalid",
                "Must be one of linkedin, facebook, instagram, x, twitter, tiktok, youtube, github, telegram, "
                "whatsapp.");
  }
  if (!handle.empty() && handle.front() == '@') handle.erase(0, 1);
  std::string from_url;
  if (!url.empty()) {
    auto u = split_url(url);
    if (!u || std::find(rule->hosts.begin(), rule->hosts.end(), u->host) == rule->hosts.end()) {
      return fail("url", "invalid", std::string("Must be a URL on ") + rule->hosts.front() + ".");
    }
    std::string path = u->path.substr(0, u->path.find_first_of("?#"));
    std::smatch m;
    std::regex path_re(rule->path_re);
    if (!std::regex_match(path, m, path_re)) {
      return fail("url", "invalid", std::string("Is not a ") + rule->platform + " profile URL.");
    }
    from_url = m[1].str();
  }
  if (!handle.empty()) {
    if (!full_match(std::regex(rule->handle_re), handle)) {
      return fail("handle", "invalid", std::string("Is not a valid ") + rule->platform + " handle.");
    }
    if (!from_url.empty() && lower(from_url) != lower(handle)) {
      return fail("url", "mismatch", "The URL names another handle.");
    }
  } else {
    handle = from_url;
  }
  std::string name = platform == "twitter" ? "x" : platform;
  out.profile = SocialProfile{name, handle, std::string(rule->url_prefix) + handle};
  return out;
}

std::optional<int> currency_exponent(std::string_view currency) {
  static const std::map<std::string, int, std::less<>> kCurrencies = [] {
    std::map<std::string, int, std::less<>> m;
    UErrorCode status = U_ZERO_ERROR;
    UEnumeration* all = ucurr_openISOCurrencies(UCURR_COMMON | UCURR_NON_DEPRECATED, &status);
    if (U_FAILURE(status)) return m;
    const char* code = nullptr;
    int32_t len = 0;
    while ((code = uenum_next(all, &len, &status)) != nullptr && U_SUCCESS(status)) {
      std::u16string u(code, code + len);
      UErrorCode s2 = U_ZERO_ERROR;
      int32_t digits = ucurr_getDefaultFractionDigits(reinterpret_cast<const UChar*>(u.c_str()), &s2);
      if (U_SUCCESS(s2) && len == 3) m.emplace(std::string(code, static_cast<std::size_t>(len)), digits);
    }
    uenum_close(all);
    return m;
  }();
  auto it = kCurrencies.find(currency);
  if (it == kCurrencies.end()) return std::nullopt;
  return it->second;
}

MoneyResult parse_money(std::string_view amount, int exponent) {
  MoneyResult out;
  static const std::regex re("^-?[0-9]{1,20}(\\.[0-9]{1,20})?$");
  if (!full_match(re, amount)) {
    out.error = "invalid";
    return out;
  }
  bool negative = amount.front() == '-';
  if (negative) amount.remove_prefix(1);
  auto dot = amount.find('.');
  std::string_view whole = amount.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : amount.substr(dot + 1);
  // Trailing zeros beyond the currency's decimals carry no value ("12.500" MYR is 12.50).
  while (frac.size() > static_cast<std::size_t>(exponent) && frac.back() == '0') frac.remove_suffix(1);
  if (frac.size() > static_cast<std::size_t>(exponent)) {
    out.error = "too_many_decimals";
    return out;
  }
  while (whole.size() > 1 && whole.front() == '0') whole.remove_prefix(1);
  // 10^15 is the largest magnitude: 16 digits at most, and only 1000000000000000 itself.
  constexpr std::string_view kLimit = "1000000000000000";
  bool too_big = whole.size() > kLimit.size() ||
                 (whole.size() == kLimit.size() && (whole > kLimit || frac.find_first_not_of('0') != std::string_view::npos));
  // At most 16 integer digits and 4 decimals: below 10^20, so an unsigned 64-bit value holds
  // it once the 10^15 bound has been checked.
  if (too_big) {
    out.error = "out_of_range";
    return out;
  }
  std::uint64_t minor = 0;
  for (char c : whole) minor = minor * 10 + (c - '0');
  for (int i = 0; i < exponent; ++i) {
    minor = minor * 10 + (static_cast<std::size_t>(i) < frac.size() ? frac[static_cast<std::size_t>(i)] - '0' : 0);
  }
  if (minor > static_cast<std::uint64_t>(INT64_MAX)) {
    out.error = "out_of_range";
    return out;
  }
  out.minor = negative ? -static_cast<std::int64_t>(minor) : static_cast<std::int64_t>(minor);
  return out;
}

std::string format_money(std::int64_t minor, int exponent) {
  bool negative = minor < 0;
  std::uint64_t m = negative ? static_cast<std::uint64_t>(-(minor + 1)) + 1 : static_cast<std::uint64_t>(minor);
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  } while (m > 0);
  if (exponent > 0) {
    if (digits.size() <= static_cast<std::size_t>(exponent)) {
      digits.insert(0, static_cast<std::size_t>(exponent) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<std::size_t>(exponent), ".");
  }
  return (negative ? "-" : "") + digits;
}

}  // namespace crm::customer::domain

namespace crm::customer::domain {

std::vector<std::string> search_terms(std::string_view query) {
  std::vector<std::string> terms;
  query = trim(query);
  if (query.empty() || query.size() > 500) return terms;
  bool phone_like = std::all_of(query.begin(), query.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == ' ' || c == '-' || c == '+' || c == '(' || c == ')' || c == '.';
  });
  std::size_t digits = static_cast<std::size_t>(std::count_if(query.begin(), query.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  }));
  if (phone_like && digits >= 6) {
    std::string d;
    for (char c : query) {
      if (std::isdigit(static_cast<unsigned char>(c))) d += c;
    }
    terms.push_back(d.substr(0, 20));
    return terms;
  }
  std::string current;
  auto flush = [&] {
    if (!current.empty() && terms.size() < 10) terms.push_back(current.substr(0, 50));
    current.clear();
  };
  for (unsigned char c : query) {
    if (std::isalnum(c) || c >= 0x80) current += static_cast<char>(std::tolower(c));
    else flush();
  }
  flush();
  return terms;
}

std::string phone_search_text(std::string_view e164) {
  // Country calling codes are prefix-free and one to three digits long, so the national
  // significant number of an E.164 number is what follows the one prefix that is a code. That
  // is how libphonenumber reads the code too, without a full parse (regular expressions) on
  // every write of a customer.
  static const std::set<int> codes = [] {
    std::set<int> c;
    i18n::phonenumbers::PhoneNumberUtil::GetInstance()->GetSupportedCallingCodes(&c);
    return c;
  }();
  std::string digits;
  for (char c : e164) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  }
  std::string out = digits;
  if (e164.empty() || e164.front() != '+' || digits.empty() || digits.front() == '0') return out;
  for (std::size_t length = 1; length <= 3 && length < digits.size(); ++length) {
    if (codes.count(std::stoi(digits.substr(0, length))) == 0) continue;
    std::string national = digits.substr(length);
    // libphonenumber refuses numbers of fewer than two or more than seventeen digits.
    if (national.size() >= 2 && national.size() <= 17) out += " " + national + " 0" + national;
    break;
  }
  return out;
}

std::string email_search_text(std::string_view email, bool whole) {
  std::string words(email);
  for (auto& c : words) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && static_cast<unsigned char>(c) < 0x80) c = ' ';
  }
  return whole ? std::string(email) + " " + words : words;
}

}  // namespace crm::customer::domain
