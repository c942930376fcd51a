// Request bodies of customers: every field's rule, every problem collected into one 422.
#include "customer_internal.hpp"

#include "validation.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace crm::customer {

using platform::Error;
using platform::FieldError;

namespace {

const std::vector<std::string> kReadOnly = {"id",         "tenant_id",  "code",       "slug",            "version",
                                            "created_at", "updated_at", "deleted_at", "email_disposable"};

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t'; });
}

class BodyReader {
 public:
  BodyReader(const bj::value& body, Mode mode) : mode_(mode) {
    object_ = body.if_object();
    if (!object_) error("body", "type", "The request body must be a JSON object.");
  }

  /// nullptr when the field is absent (and then `absent` is true) or null.
  const bj::value* field(const std::string& name, bool& absent) {
    seen_.insert(name);
    absent = true;
    if (!object_) return nullptr;
    const bj::value* v = object_->if_contains(name);
    if (!v) return nullptr;
    absent = false;
    return v->is_null() ? nullptr : v;
  }

  void error(std::string field, std::string code, std::string message) {
    errors_.push_back(FieldError{std::move(field), std::move(code), std::move(message)});
  }

  /// A trimmed string; nullopt (with an error when malformed) otherwise.
  std::optional<std::string> text(const bj::value& v, const std::string& name, std::size_t max_len) {
    if (!v.is_string()) {
      error(name, "type", "Must be a string.");
      return std::nullopt;
    }
    std::string s = trim(v.get_string());
    if (s.size() > max_len) {
      error(name, "too_long", "Must be at most " + std::to_string(max_len) + " characters.");
      return std::nullopt;
    }
    if (has_control(s)) {
      error(name, "invalid", "Must not contain control characters.");
      return std::nullopt;
    }
    return s;
  }

  void finish() {
    if (object_) {
      for (const auto& kv : *object_) {
        std::string key(kv.key());
        if (std::find(kReadOnly.begin(), kReadOnly.end(), key) != kReadOnly.end()) {
          error(key, "read_only", "Is set by the server and cannot be written.");
        } else if (!seen_.count(key)) {
          error(key, "unknown_field", "Is not a field of a customer.");
        }
      }
    }
    if (!errors_.empty()) throw Error::validation(errors_);
  }

  Mode mode() const { return mode_; }

 private:
  const bj::object* object_ = nullptr;
  Mode mode_;
  std::set<std::string> seen_;
  std::vector<FieldError> errors_;
};

/// Checks an object's keys against a list; unknown ones are errors named `prefix.key`.
bool only_keys(BodyReader& r, const bj::object& o, const std::string& prefix, std::initializer_list<const char*> keys) {
  bool ok = true;
  for (const auto& kv : o) {
    if (std::none_of(keys.begin(), keys.end(), [&](const char* k) { return kv.key() == k; })) {
      r.error(prefix + "." + std::string(kv.key()), "unknown_field", "Is not a field here.");
      ok = false;
    }
  }
  return ok;
}

std::optional<Money> read_money(BodyReader& r, const bj::value& v, const std::string& name,
                                const TenantDefaults& defaults, bool non_negative) {
  if (!v.is_object()) {
    r.error(name, "type", "Must be a money object {\"amount\": \"12.50\", \"currency\": \"MYR\"}.");
    return std::nullopt;
  }
  const auto& o = v.get_object();
  if (!only_keys(r, o, name, {"amount", "currency"})) return std::nullopt;
  std::string currency = defaults.currency;
  if (const auto* c = o.if_contains("currency"); c && !c->is_null()) {
    if (!c->is_string() || !domain::currency_exponent(c->get_string())) {
      r.error(name + ".currency", "invalid", "Must be an ISO 4217 currency code such as MYR.");
      return std::nullopt;
    }
    currency = std::string(c->get_string());
  }
  auto exponent = domain::currency_exponent(currency);
  if (!exponent) {
    r.error(name + ".currency", "required", "The tenant has no known default currency; name one.");
    return std::nullopt;
  }
  const auto* a = o.if_contains("amount");
  if (!a || a->is_null()) {
    r.error(name + ".amount", "required", "Is required.");
    return std::nullopt;
  }
  if (!a->is_string()) {
    r.error(name + ".amount", "type", "Must be a decimal string such as \"12.50\", not a JSON number.");
    return std::nullopt;
  }
  auto parsed = domain::parse_money(a->get_string(), *exponent);
  if (!parsed.minor) {
    std::string message = parsed.error == "too_many_decimals"
                              ? currency + " has " + std::to_string(*exponent) + " decimals."
                          : parsed.error == "out_of_range" ? std::string("Must be within -10^15 and 10^15.")
                                                           : std::string("Must be a decimal string such as \"12.50\".");
    r.error(name + ".amount", parsed.error, message);
    return std::nullopt;
  }
  if (non_negative && *parsed.minor < 0) {
    r.error(name + ".amount", "out_of_range", "Must not be negative.");
    return std::nullopt;
  }
  return Money{*parsed.minor, currency};
}

bj::array read_tags(BodyReader& r, const bj::value& v) {
  bj::array out;
  if (!v.is_array() || v.get_array().size() > 50) {
    r.error("tags", "type", "Must be a list of at most 50 strings.");
    return out;
  }
  std::set<std::string> seen;
  std::size_t i = 0;
  for (const auto& t : v.get_array()) {
    std::string name = "tags[" + std::to_string(i++) + "]";
    auto s = r.text(t, name, 50);
    if (!s) continue;
    if (s->empty() || s->find(',') != std::string::npos) {
      r.error(name, "invalid", "A tag is 1 to 50 characters without commas.");
      continue;
    }
    for (auto& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (seen.insert(*s).second) out.emplace_back(*s);
  }
  return out;
}

bj::array read_addresses(BodyReader& r, const bj::value& v) {
  bj::array out;
  if (!v.is_array() || v.get_array().size() > 10) {
    r.error("addresses", "type", "Must be a list of at most 10 addresses.");
    return out;
  }
  std::size_t i = 0;
  for (const auto& item : v.get_array()) {
    std::string p = "addresses[" + std::to_string(i++) + "]";
    if (!item.is_object()) {
      r.error(p, "type", "Must be an address object.");
      continue;
    }
    const auto& o = item.get_object();
    only_keys(r, o, p, {"type", "line1", "line2", "city", "state", "postal_code", "country"});
    bj::object a;
    auto str = [&](const char* key, std::size_t max, bool required) -> std::optional<std::string> {
      const auto* f = o.if_contains(key);
      if (!f || f->is_null() || (f->is_string() && trim(f->get_string()).empty())) {
        if (required) r.error(p + "." + key, "required", "Is required.");
        return std::nullopt;
      }
      return r.text(*f, p + "." + key, max);
    };
    auto type = str("type", 20, true);
    if (type && !domain::valid_address_type(*type)) {
      r.error(p + ".type", "invalid", "Must be billing, shipping or other.");
    }
    auto line1 = str("line1", 200, true);
    auto line2 = str("line2", 200, false);
    auto city = str("city", 100, false);
    auto state = str("state", 100, false);
    auto postal = str("postal_code", 20, false);
    auto country = str("country", 2, true);
    if (country) {
      for (auto& c : *country) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (!domain::valid_country(*country)) {
        r.error(p + ".country", "invalid", "Must be an ISO 3166-1 alpha-2 country code such as MY.");
        country.reset();
      }
    }
    if (postal && country) {
      auto normalized = domain::normalize_postal_code(*country, *postal);
      if (!normalized) {
        r.error(p + ".postal_code", "invalid", "Is not a valid postal code for " + *country + ".");
      } else {
        postal = normalized;
      }
    }
    auto val = [](const std::optional<std::string>& s) { return s ? bj::value(*s) : bj::value(nullptr); };
    a["type"] = val(type);
    a["line1"] = val(line1);
    a["line2"] = val(line2);
    a["city"] = val(city);
    a["state"] = val(state);
    a["postal_code"] = val(postal);
    a["country"] = val(country);
    out.emplace_back(std::move(a));
  }
  return out;
}

bj::array read_social(BodyReader& r, const bj::value& v, const TenantDefaults& defaults) {
  bj::array out;
  if (!v.is_array() || v.get_array().size() > 20) {
    r.error("social_profiles", "type", "Must be a list of at most 20 profiles.");
    return out;
  }
  std::set<std::string> seen;
  std::size_t i = 0;
  for (const auto& item : v.get_array()) {
    std::string p = "social_profiles[" + std::to_string(i++) + "]";
    if (!item.is_object()) {
      r.error(p, "type", "Must be an object {platform, handle, url}.");
      continue;
    }
    const auto& o = item.get_object();
    if (!only_keys(r, o, p, {"platform", "handle", "url"})) continue;
    auto get = [&](const char* key) -> std::optional<std::string> {
      const auto* f = o.if_contains(key);
      if (!f || f->is_null()) return std::string();
      return r.text(*f, p + "." + key, 300);
    };
    auto platform = get("platform"), handle = get("handle"), url = get("url");
    if (!platform || !handle || !url) continue;
    if (platform->empty()) {
      r.error(p + ".platform", "required", "Is required.");
      continue;
    }
    auto result = domain::validate_social_profile(*platform, *handle, *url, defaults.region);
    if (!result.profile) {
      r.error(p + "." + result.field, result.error, result.message);
      continue;
    }
    if (!seen.insert(result.profile->platform + "/" + result.profile->handle).second) continue;
    out.emplace_back(bj::object{
        {"platform", result.profile->platform}, {"handle", result.profile->handle}, {"url", result.profile->url}});
  }
  return out;
}

bj::object read_preferences(BodyReader& r, const bj::value& v) {
  bj::object out{{"language", nullptr}, {"preferred_channel", nullptr}, {"marketing_opt_in", false}};
  if (!v.is_object()) {
    r.error("preferences", "type", "Must be an object {language, preferred_channel, marketing_opt_in}.");
    return out;
  }
  const auto& o = v.get_object();
  only_keys(r, o, "preferences", {"language", "preferred_channel", "marketing_opt_in"});
  if (const auto* l = o.if_contains("language"); l && !l->is_null()) {
    if (!l->is_string() || !domain::valid_language(l->get_string())) {
      r.error("preferences.language", "invalid", "Must be a language tag such as en, ms or en-MY.");
    } else {
      out["language"] = *l;
    }
  }
  if (const auto* c = o.if_contains("preferred_channel"); c && !c->is_null()) {
    if (!c->is_string() || !domain::valid_channel(c->get_string())) {
      r.error("preferences.preferred_channel", "invalid", "Must be email, phone, sms, whatsapp, mail or none.");
    } else {
      out["preferred_channel"] = *c;
    }
  }
  if (const auto* m = o.if_contains("marketing_opt_in"); m && !m->is_null()) {
    if (!m->is_bool()) {
      r.error("preferences.marketing_opt_in", "type", "Must be true or false.");
    } else {
      out["marketing_opt_in"] = *m;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> apply_customer_body(const bj::value& body, Mode mode, const TenantDefaults& defaults,
                                             CustomerRow& row) {
  BodyReader r(body, mode);
  std::vector<std::string> named;
  bool absent = false;
  // Optional text fields share one rule: absent keeps (patch/create) or clears (replace), null clears.
  auto optional_text = [&](const char* name, std::size_t max, std::optional<std::string>& target) -> const bj::value* {
    const bj::value* v = r.field(name, absent);
    if (!absent) named.emplace_back(name);
    if (absent && mode != Mode::replace) return nullptr;
    if (!v) {
      target.reset();
      return nullptr;
    }
    auto s = r.text(*v, name, max);
    if (!s || s->empty()) {
      target.reset();
      return nullptr;
    }
    target.emplace(std::move(*s));
    return v;
  };

  // name: required on create and replace, never null.
  if (const bj::value* v = r.field("name", absent); v) {
    named.emplace_back("name");
    auto s = r.text(*v, "name", 200);
    if (s && s->empty()) r.error("name", "required", "Must not be blank.");
    else if (s) row.name = *s;
  } else if (!absent || mode != Mode::patch) {
    r.error("name", "required", "Is required.");
  }

  // Enumerations that always have a value: absent keeps the current (or default) value.
  auto enumeration = [&](const char* name, bool (*valid)(std::string_view), const char* message, std::string& target) {
    const bj::value* v = r.field(name, absent);
    if (absent) return;
    named.emplace_back(name);
    if (!v) {
      r.error(name, "required", "Must not be null.");
      return;
    }
    auto s = r.text(*v, name, 30);
    if (!s) return;
    if (!valid(*s)) r.error(name, "invalid", message);
    else target = *s;
  };
  enumeration("type", domain::valid_customer_type, "Must be individual or business.", row.type);
  enumeration("status", domain::valid_customer_status,
              "Must be lead, prospect, active, inactive, churned or blocked.", row.status);

  optional_text("legal_name", 200, row.legal_name);
  optional_text("industry", 100, row.industry);

  if (optional_text("email", 254, row.email) && row.email) {
    auto normalized = domain::normalize_email(*row.email);
    if (!normalized) r.error("email", "invalid", "Is not a valid email address.");
    else row.email = normalized;
  }
  row.email_disposable = row.email && domain::disposable_email(*row.email);

  if (optional_text("phone", 40, row.phone) && row.phone) {
    auto parsed = domain::parse_phone(*row.phone, defaults.region);
    if (!parsed.e164) {
      r.error("phone", parsed.error, "Is not a valid phone number (national numbers are read as " + defaults.region + ").");
    } else {
      row.phone = parsed.e164;
    }
  }

  if (optional_text("website", 2000, row.website) && row.website) {
    auto normalized = domain::normalize_website(*row.website);
    if (!normalized) r.error("website", "invalid", "Must be a web address such as https://example.com.");
    else row.website = normalized;
  }

  if (optional_text("tier", 20, row.tier) && row.tier && !domain::valid_tier(*row.tier)) {
    r.error("tier", "invalid", "Must be bronze, silver, gold or platinum.");
  }

  if (optional_text("external_id", 100, row.external_id) && row.external_id && has_control(*row.external_id)) {
    r.error("external_id", "invalid", "Must not contain control characters.");
  }

  if (const bj::value* v = r.field("owner_id", absent); !absent) {
    named.emplace_back("owner_id");
    if (!v) {
      r.error("owner_id", "required", "Must not be null.");
    } else if (!v->is_string() || !platform::is_uuid(v->get_string())) {
      r.error("owner_id", "invalid", "Must be the id of a member of the tenant.");
    } else {
      row.owner_id = std::string(v->get_string());
    }
  }

  // Structured fields: absent keeps (create: empty) or clears (replace); null clears.
  auto structured = [&](const char* name, auto&& read, auto& target, auto empty) {
    const bj::value* v = r.field(name, absent);
    if (!absent) named.emplace_back(name);
    if (absent && mode != Mode::replace) return;
    target = v ? read(*v) : empty;
  };
  structured("tags", [&](const bj::value& v) { return read_tags(r, v); }, row.tags, bj::array{});
  structured("addresses", [&](const bj::value& v) { return read_addresses(r, v); }, row.addresses, bj::array{});
  structured("social_profiles", [&](const bj::value& v) { return read_social(r, v, defaults); }, row.social_profiles,
             bj::array{});
  // custom_fields: the whole object is replaced when named (null clears it), and on create and
  // replace the tenant's required custom fields must be in it.
  if (const bj::value* v = r.field("custom_fields", absent); !absent || mode != Mode::patch) {
    if (!absent) named.emplace_back("custom_fields");
    std::vector<FieldError> problems;
    row.custom_fields = read_custom_fields(v ? *v : bj::value(bj::object{}), defaults.custom_fields.get(), true,
                                           "custom_fields", problems);
    for (auto& p : problems) r.error(std::move(p.field), std::move(p.code), std::move(p.message));
  }
  structured("preferences", [&](const bj::value& v) { return read_preferences(r, v); }, row.preferences,
             read_preferences(r, bj::object{}));
  structured("credit_limit", [&](const bj::value& v) { return read_money(r, v, "credit_limit", defaults, true); },
             row.credit_limit, std::optional<Money>{});
  structured("lifetime_value",
             [&](const bj::value& v) { return read_money(r, v, "lifetime_value", defaults, false); },
             row.lifetime_value, std::optional<Money>{});
  if (row.preferences.empty()) row.preferences = read_preferences(r, bj::object{});

  r.finish();
  return named;
}

}  // namespace crm::customer
