// The flat CSV shape of a customer, shared by export (which writes it) and import (which reads
// it), so an exported file imports back into the customers it was made from.
//
// Columns: the plain fields by their API names; tags joined with commas (a tag never holds
// one); the first address of each type as billing_*, shipping_* and other_* (line1, line2,
// city, state, postal_code, country); money as credit_limit / lifetime_value (the amount)
// with *_currency; preferences as language, preferred_channel and marketing_opt_in; custom
// fields as custom.<key>; import also takes one contact as contact_first_name,
// contact_last_name, contact_email, contact_phone and contact_job_title.
#include "customer_internal.hpp"

#include "csv.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace crm::customer {

using platform::Error;

namespace {

constexpr const char* kAddressTypes[] = {"billing", "shipping", "other"};
constexpr const char* kAddressParts[] = {"line1", "line2", "city", "state", "postal_code", "country"};

const std::vector<std::string>& text_fields() {
  static const std::vector<std::string> f = {"type",     "name",   "legal_name", "email",   "phone",
                                             "website",  "industry", "status",   "tier",    "owner_id",
                                             "external_id"};
  return f;
}

const std::set<std::string>& read_only() {
  static const std::set<std::string> f = {"id",      "tenant_id",  "code",       "slug",      "email_disposable",
                                          "version", "created_at", "updated_at", "deleted_at"};
  return f;
}

const std::map<std::string, std::string>& contact_columns() {
  static const std::map<std::string, std::string> c = {{"contact_first_name", "first_name"},
                                                       {"contact_last_name", "last_name"},
                                                       {"contact_email", "email"},
                                                       {"contact_phone", "phone"},
                                                       {"contact_job_title", "job_title"}};
  return c;
}

std::string text(const bj::value* v) {
  if (!v || v->is_null()) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_bool()) return v->get_bool() ? "true" : "false";
  if (v->is_array()) {
    std::string out;
    for (const auto& e : v->get_array()) out += (out.empty() ? "" : ",") + text(&e);
    return out;
  }
  return bj::serialize(*v);
}

std::string trimmed(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

/// The trimmed, non-empty items of a comma-separated cell (tags, multi-select values).
bj::array comma_list(const std::string& value) {
  bj::array items;
  std::size_t start = 0;
  while (start <= value.size()) {
    auto comma = value.find(',', start);
    auto item = trimmed(std::string_view(value).substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

}  // namespace

const std::vector<std::string>& csv_columns() {
  static const std::vector<std::string> columns = [] {
    std::vector<std::string> c = {"id", "code", "slug"};
    for (const auto& f : text_fields()) {
      if (f == "external_id") continue;
      c.push_back(f);
      if (f == "email") c.emplace_back("email_disposable");
    }
    c.emplace_back("tags");
    for (const char* type : kAddressTypes) {
      for (const char* part : kAddressParts) c.push_back(std::string(type) + "_" + part);
    }
    for (const char* m : {"credit_limit", "lifetime_value"}) {
      c.emplace_back(m);
      c.push_back(std::string(m) + "_currency");
    }
    for (const char* p : {"language", "preferred_channel", "marketing_opt_in"}) c.emplace_back(p);
    for (const char* f : {"external_id", "version", "created_at", "updated_at", "deleted_at"}) c.emplace_back(f);
    return c;
  }();
  return columns;
}

void strip_server_fields(bj::object& body) {
  for (const auto& f : read_only()) body.erase(f);
}

bool csv_column_known(const std::string& column) {
  static const std::set<std::string> known(csv_columns().begin(), csv_columns().end());
  return known.count(column) || (column.rfind("custom.", 0) == 0 && column.size() > 7);
}

CsvLayout::CsvLayout(std::vector<std::string> columns) : columns_(std::move(columns)) {
  static const std::map<std::string, Kind> direct = {
      {"id", Kind::id},           {"code", Kind::code},         {"slug", Kind::slug},
      {"type", Kind::type},       {"name", Kind::name},         {"legal_name", Kind::legal_name},
      {"email", Kind::email},     {"email_disposable", Kind::email_disposable},
      {"phone", Kind::phone},     {"website", Kind::website},   {"industry", Kind::industry},
      {"status", Kind::status},   {"tier", Kind::tier},         {"owner_id", Kind::owner_id},
      {"tags", Kind::tags},       {"external_id", Kind::external_id},
      {"version", Kind::version}, {"created_at", Kind::created_at},
      {"updated_at", Kind::updated_at}, {"deleted_at", Kind::deleted_at}};
  for (const auto& col : columns_) {
    Column c;
    if (auto it = direct.find(col); it != direct.end()) {
      c.kind = it->second;
    } else if (col.rfind("custom.", 0) == 0) {
      c.kind = Kind::custom;
      c.key = col.substr(7);
    } else if (col == "credit_limit" || col == "lifetime_value") {
      c.kind = col == "credit_limit" ? Kind::credit_amount : Kind::lifetime_amount;
    } else if (col == "credit_limit_currency" || col == "lifetime_value_currency") {
      c.kind = col == "credit_limit_currency" ? Kind::credit_currency : Kind::lifetime_currency;
    } else if (col == "language" || col == "preferred_channel" || col == "marketing_opt_in") {
      c.kind = Kind::preference;
      c.key = col;
    } else {
      for (const char* type : kAddressTypes) {
        std::string prefix = std::string(type) + "_";
        if (col.rfind(prefix, 0) == 0) {
          c.kind = Kind::address;
          c.address_type = type;
          c.key = col.substr(prefix.size());
        }
      }
    }
    plan_.push_back(std::move(c));
  }
}

std::vector<std::string> CsvLayout::cells(const CustomerRow& c) const {
  auto opt = [](const std::optional<std::string>& v) { return v.value_or(std::string()); };
  auto amount = [](const std::optional<Money>& m) {
    return m ? std::string(m->to_json().at("amount").as_string()) : std::string();
  };
  std::vector<std::string> out;
  out.reserve(plan_.size());
  for (const auto& col : plan_) {
    switch (col.kind) {
      case Kind::id: out.push_back(c.id); break;
      case Kind::code: out.push_back(c.code); break;
      case Kind::slug: out.push_back(c.slug); break;
      case Kind::type: out.push_back(c.type); break;
      case Kind::name: out.push_back(c.name); break;
      case Kind::legal_name: out.push_back(opt(c.legal_name)); break;
      case Kind::email: out.push_back(opt(c.email)); break;
      case Kind::email_disposable: out.emplace_back(c.email_disposable ? "true" : "false"); break;
      case Kind::phone: out.push_back(opt(c.phone)); break;
      case Kind::website: out.push_back(opt(c.website)); break;
      case Kind::industry: out.push_back(opt(c.industry)); break;
      case Kind::status: out.push_back(c.status); break;
      case Kind::tier: out.push_back(opt(c.tier)); break;
      case Kind::owner_id: out.push_back(c.owner_id); break;
      case Kind::tags: {
        bj::value tags = c.tags;
        out.push_back(text(&tags));
        break;
      }
      case Kind::external_id: out.push_back(opt(c.external_id)); break;
      case Kind::version: out.push_back(std::to_string(c.version)); break;
      case Kind::created_at: out.push_back(platform::format_rfc3339(c.created_at)); break;
      case Kind::updated_at: out.push_back(platform::format_rfc3339(c.updated_at)); break;
      case Kind::deleted_at: out.push_back(c.deleted_at ? platform::format_rfc3339(*c.deleted_at) : std::string()); break;
      case Kind::custom: out.push_back(text(c.custom_fields.if_contains(col.key))); break;
      case Kind::credit_amount: out.push_back(amount(c.credit_limit)); break;
      case Kind::lifetime_amount: out.push_back(amount(c.lifetime_value)); break;
      case Kind::credit_currency: out.push_back(c.credit_limit ? c.credit_limit->currency : std::string()); break;
      case Kind::lifetime_currency: out.push_back(c.lifetime_value ? c.lifetime_value->currency : std::string()); break;
      case Kind::preference: out.push_back(text(c.preferences.if_contains(col.key))); break;
      case Kind::address: {
        std::string cell;
        for (const auto& a : c.addresses) {
          const auto* o = a.if_object();
          const auto* type = o ? o->if_contains("type") : nullptr;
          if (!type || !type->is_string() || type->get_string() != col.address_type) continue;
          cell = text(o->if_contains(col.key));
          break;
        }
        out.push_back(std::move(cell));
        break;
      }
      case Kind::none: out.emplace_back(); break;
    }
  }
  return out;
}

CsvMapping::CsvMapping(std::vector<std::string> header) : header_(std::move(header)) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < header_.size(); ++i) {
    std::string name = trimmed(header_[i]);
    header_[i] = name;
    if (name.empty()) throw Error::validation("file", "blank_column", "Column " + std::to_string(i + 1) + " of the header has no name.");
    if (!seen.insert(name).second) throw Error::validation("file", "duplicate_column", "The header names column " + name + " twice.");
    if (read_only().count(name)) {
      ignored_.push_back(name);
    } else if (csv_column_known(name) || contact_columns().count(name)) {
      mapped_.push_back(name);
    } else {
      unknown_.push_back(name);
    }
  }
  if (mapped_.empty()) {
    throw Error::validation("file", "no_known_columns",
                            "The header has none of the customer columns (name, email, phone...): is it a customer file?");
  }
}

bj::object CsvMapping::columns_json() const {
  auto list = [](const std::vector<std::string>& v) {
    bj::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  };
  return bj::object{{"mapped", list(mapped_)}, {"ignored", list(ignored_)}, {"unknown", list(unknown_)}};
}

ImportRecord CsvMapping::record(const std::vector<std::string>& fields, const TenantDefaults& defaults) const {
  ImportRecord out;
  if (fields.size() > header_.size()) {
    out.problems.push_back({"row", "too_many_fields",
                            "Has " + std::to_string(fields.size()) + " fields; the header has " +
                                std::to_string(header_.size()) + "."});
    return out;
  }
  bj::object& body = out.body;
  bj::object contact;
  std::map<std::string, bj::object> addresses;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string& col = header_[i];
    std::string value = trimmed(domain::restore_formula(fields[i]));
    if (value.empty() || read_only().count(col)) continue;
    if (auto c = contact_columns().find(col); c != contact_columns().end()) {
      if (c->second == "phone") contact["phones"] = bj::array{bj::object{{"number", value}}};
      else contact[c->second] = value;
      continue;
    }
    if (std::find(text_fields().begin(), text_fields().end(), col) != text_fields().end()) {
      body[col] = value;
    } else if (col == "tags") {
      body["tags"] = comma_list(value);
    } else if (col == "credit_limit" || col == "lifetime_value") {
      if (auto* m = body.if_contains(col); m && m->is_object()) m->as_object()["amount"] = value;
      else body[col] = bj::object{{"amount", value}};
    } else if (col == "credit_limit_currency" || col == "lifetime_value_currency") {
      auto money = col.substr(0, col.size() - 9);
      if (auto* m = body.if_contains(money); m && m->is_object()) m->as_object()["currency"] = value;
      else body[money] = bj::object{{"currency", value}};  // an amount column may follow
    } else if (col == "language" || col == "preferred_channel") {
      if (!body.contains("preferences")) body["preferences"] = bj::object{};
      body["preferences"].as_object()[col] = value;
    } else if (col == "marketing_opt_in") {
      if (!body.contains("preferences")) body["preferences"] = bj::object{};
      std::string v = value;
      for (auto& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (v == "true" || v == "yes" || v == "1") body["preferences"].as_object()[col] = true;
      else if (v == "false" || v == "no" || v == "0") body["preferences"].as_object()[col] = false;
      else out.problems.push_back({col, "invalid", "Must be true or false."});
    } else if (col.rfind("custom.", 0) == 0) {
      std::string key = col.substr(7);
      bj::value v(value);
      for (const auto& d : *defaults.custom_fields) {
        if (d.key != key) continue;
        if (d.type == "number" || d.type == "integer") {
          bj::error_code ec;
          auto parsed = bj::parse(value, ec);
          if (!ec && parsed.is_number()) v = parsed;
        } else if (d.type == "boolean") {
          if (value == "true") v = true;
          else if (value == "false") v = false;
        } else if (d.type == "multi_select") {
          v = comma_list(value);
        }
      }
      if (!body.contains("custom_fields")) body["custom_fields"] = bj::object{};
      body["custom_fields"].as_object()[key] = std::move(v);
    } else {
      for (const char* type : kAddressTypes) {
        std::string prefix = std::string(type) + "_";
        if (col.rfind(prefix, 0) == 0) addresses[type][col.substr(prefix.size())] = value;
      }
    }
  }
  if (!addresses.empty()) {
    bj::array list;
    for (const char* type : kAddressTypes) {
      auto it = addresses.find(type);
      if (it == addresses.end()) continue;
      bj::object a = it->second;
      a["type"] = type;
      out.address_types.emplace_back(type);
      list.push_back(std::move(a));
    }
    body["addresses"] = std::move(list);
  }
  if (!contact.empty()) out.contact = std::move(contact);
  return out;
}

std::string ImportRecord::column_of(const std::string& field) const {
  auto starts = [&field](const char* p) { return field.rfind(p, 0) == 0; };
  if (starts("addresses[")) {
    auto close = field.find(']');
    std::size_t index = std::stoul(field.substr(10, close - 10));
    std::string part = close + 2 < field.size() ? field.substr(close + 2) : std::string("line1");
    if (index < address_types.size()) return address_types[index] + "_" + part;
    return "addresses";
  }
  if (starts("tags[")) return "tags";
  if (starts("credit_limit.") || starts("lifetime_value.")) {
    auto dot = field.find('.');
    return field.substr(dot + 1) == "currency" ? field.substr(0, dot) + "_currency" : field.substr(0, dot);
  }
  if (starts("preferences.")) return field.substr(12);
  if (starts("custom_fields.")) return "custom." + field.substr(14);
  return field;
}

}  // namespace crm::customer
