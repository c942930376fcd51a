// JSON shapes of the module's resources.
#include "customer_internal.hpp"

#include "validation.hpp"

#include <algorithm>
#include <utility>

namespace crm::customer {

namespace {

bj::value opt(const std::optional<std::string>& v) { return v ? bj::value(*v) : bj::value(nullptr); }
bj::value opt_time(const std::optional<TimestampMs>& v) {
  return v ? bj::value(platform::format_rfc3339(*v)) : bj::value(nullptr);
}

}  // namespace

std::string Money::amount() const {
  return domain::format_money(minor, domain::currency_exponent(currency).value_or(2));
}

bj::object Money::to_json() const { return bj::object{{"amount", amount()}, {"currency", currency}}; }

bj::object CustomerRow::to_json() const& {
  return bj::object{
      {"id", id},
      {"tenant_id", tenant_id},
      {"code", code},
      {"slug", slug},
      {"type", type},
      {"name", name},
      {"legal_name", opt(legal_name)},
      {"email", opt(email)},
      {"email_disposable", email_disposable},
      {"phone", opt(phone)},
      {"website", opt(website)},
      {"industry", opt(industry)},
      {"status", status},
      {"tier", opt(tier)},
      {"owner_id", owner_id},
      {"tags", tags},
      {"addresses", addresses},
      {"social_profiles", social_profiles},
      {"custom_fields", custom_fields},
      {"credit_limit", credit_limit ? bj::value(credit_limit->to_json()) : bj::value(nullptr)},
      {"lifetime_value", lifetime_value ? bj::value(lifetime_value->to_json()) : bj::value(nullptr)},
      {"preferences", preferences},
      {"external_id", opt(external_id)},
      {"version", version},
      {"created_at", platform::format_rfc3339(created_at)},
      {"updated_at", platform::format_rfc3339(updated_at)},
      {"deleted_at", opt_time(deleted_at)},
  };
}

bj::object CustomerRow::to_json() && {
  bj::array t = std::move(tags), a = std::move(addresses), s = std::move(social_profiles);
  bj::object c = std::move(custom_fields), p = std::move(preferences);
  bj::object out = std::as_const(*this).to_json();  // with the members now empty
  out["tags"] = std::move(t);
  out["addresses"] = std::move(a);
  out["social_profiles"] = std::move(s);
  out["custom_fields"] = std::move(c);
  out["preferences"] = std::move(p);
  return out;
}

std::string customer_json_text(const CustomerRow& c, const StoredCustomerJson& stored) {
  // The members in to_json()'s order; the integration tests compare the two.
  std::string out;
  out.reserve(640 + stored.tags.size() + stored.addresses.size() + stored.social_profiles.size() +
              stored.custom_fields.size() + stored.preferences.size());
  auto key = [&out](std::string_view k) {
    out += out.empty() ? "{\"" : ",\"";
    out += k;
    out += "\":";
  };
  auto text = [&](std::string_view k, std::string_view v) {
    key(k);
    platform::json::append_string(out, v);
  };
  auto optional_text = [&](std::string_view k, const std::optional<std::string>& v) {
    key(k);
    if (v) {
      platform::json::append_string(out, *v);
    } else {
      out += "null";
    }
  };
  auto stored_json = [&](std::string_view k, std::string_view v, std::string_view empty) {
    key(k);
    out += v.empty() ? empty : v;
  };
  auto money = [&](std::string_view k, const std::optional<Money>& m) {
    key(k);
    if (!m) {
      out += "null";
      return;
    }
    out += "{\"amount\":";
    platform::json::append_string(out, m->amount());
    out += ",\"currency\":";
    platform::json::append_string(out, m->currency);
    out += '}';
  };
  auto time = [&](std::string_view k, TimestampMs t) { text(k, platform::format_rfc3339(t)); };
  text("id", c.id);
  text("tenant_id", c.tenant_id);
  text("code", c.code);
  text("slug", c.slug);
  text("type", c.type);
  text("name", c.name);
  optional_text("legal_name", c.legal_name);
  optional_text("email", c.email);
  key("email_disposable");
  out += c.email_disposable ? "true" : "false";
  optional_text("phone", c.phone);
  optional_text("website", c.website);
  optional_text("industry", c.industry);
  text("status", c.status);
  optional_text("tier", c.tier);
  text("owner_id", c.owner_id);
  stored_json("tags", stored.tags, "[]");
  stored_json("addresses", stored.addresses, "[]");
  stored_json("social_profiles", stored.social_profiles, "[]");
  stored_json("custom_fields", stored.custom_fields, "{}");
  money("credit_limit", c.credit_limit);
  money("lifetime_value", c.lifetime_value);
  stored_json("preferences", stored.preferences, "{}");
  optional_text("external_id", c.external_id);
  key("version");
  out += std::to_string(c.version);
  time("created_at", c.created_at);
  time("updated_at", c.updated_at);
  key("deleted_at");
  if (c.deleted_at) {
    platform::json::append_string(out, platform::format_rfc3339(*c.deleted_at));
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

CustomerSummary CustomerRow::summary() const {
  return CustomerSummary{id, tenant_id, code, slug, type, name, email.value_or(""), phone.value_or(""), status,
                         owner_id, deleted_at.has_value()};
}

std::string CustomerRow::email_key() const { return email ? domain::email_key(*email) : std::string(); }

std::vector<std::string> CustomerRow::countries() const {
  std::vector<std::string> out;
  for (const auto& a : addresses) {
    if (const auto* c = a.as_object().if_contains("country"); c && c->is_string()) out.emplace_back(c->get_string());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bj::object ContactRow::to_json() const {
  return bj::object{{"id", id},
                    {"tenant_id", tenant_id},
                    {"customer_id", customer_id},
                    {"first_name", first_name},
                    {"last_name", opt(last_name)},
                    {"email", opt(email)},
                    {"phones", phones},
                    {"job_title", opt(job_title)},
                    {"department", opt(department)},
                    {"roles", roles},
                    {"is_primary", is_primary},
                    {"communication_preferences", communication_preferences},
                    {"last_contacted_at", opt_time(last_contacted_at)},
                    {"version", version},
                    {"created_at", platform::format_rfc3339(created_at)},
                    {"updated_at", platform::format_rfc3339(updated_at)}};
}

bj::object NoteRow::to_json() const {
  return bj::object{{"id", id},
                    {"tenant_id", tenant_id},
                    {"customer_id", customer_id},
                    {"body", body},
                    {"pinned", pinned},
                    {"pinned_at", opt_time(pinned_at)},
                    {"author_id", author_id.empty() ? bj::value(nullptr) : bj::value(author_id)},
                    {"version", version},
                    {"created_at", platform::format_rfc3339(created_at)},
                    {"updated_at", platform::format_rfc3339(updated_at)}};
}

bj::object ActivityRow::to_json() const {
  return bj::object{{"id", id},
                    {"tenant_id", tenant_id},
                    {"customer_id", customer_id},
                    {"type", type},
                    {"subject", opt(subject)},
                    {"body", opt(body)},
                    {"occurred_at", opt_time(occurred_at)},
                    {"duration_minutes", duration_minutes ? bj::value(*duration_minutes) : bj::value(nullptr)},
                    {"outcome", opt(outcome)},
                    {"contact_id", opt(contact_id)},
                    {"status", status},
                    {"created_by", created_by.empty() ? bj::value(nullptr) : bj::value(created_by)},
                    {"version", version},
                    {"created_at", platform::format_rfc3339(created_at)},
                    {"updated_at", platform::format_rfc3339(updated_at)}};
}

bj::object TimelineRow::to_json() const {
  return bj::object{{"id", id},
                    {"tenant_id", tenant_id},
                    {"customer_id", customer_id},
                    {"kind", kind},
                    {"summary", summary},
                    {"data", data},
                    {"actor_id", actor_id.empty() ? bj::value(nullptr) : bj::value(actor_id)},
                    {"source_type", source_type.empty() ? bj::value(nullptr) : bj::value(source_type)},
                    {"source_id", source_id.empty() ? bj::value(nullptr) : bj::value(source_id)},
                    {"occurred_at", platform::format_rfc3339(occurred_at)}};
}

bj::object SegmentRow::to_json() const {
  bj::value filter_json = nullptr;
  if (filter) filter_json = platform::json::parse_relaxed(*filter);
  return bj::object{{"id", id},
                    {"tenant_id", tenant_id},
                    {"name", name},
                    {"description", opt(description)},
                    {"type", type},
                    {"filter", std::move(filter_json)},
                    {"member_count", member_count},
                    {"refreshed_at", opt_time(refreshed_at)},
                    {"created_by", created_by.empty() ? bj::value(nullptr) : bj::value(created_by)},
                    {"version", version},
                    {"created_at", platform::format_rfc3339(created_at)},
                    {"updated_at", platform::format_rfc3339(updated_at)}};
}

bj::object changes(const bj::object& before, const bj::object& after, const std::vector<std::string>& fields) {
  bj::object out;
  for (const auto& f : fields) {
    const bj::value* b = before.if_contains(f);
    const bj::value* a = after.if_contains(f);
    bj::value bv = b ? *b : bj::value(nullptr), av = a ? *a : bj::value(nullptr);
    if (bv != av) out[f] = bj::object{{"old", bv}, {"new", av}};
  }
  return out;
}

}  // namespace crm::customer
