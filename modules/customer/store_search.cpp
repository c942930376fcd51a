// The full-text search index: one document per customer, rewritten in the write transaction.
#include "customer_internal.hpp"

#include "validation.hpp"

#include <soci/soci.h>

#include <iterator>

namespace crm::customer::store {

namespace {

constexpr int kIndexedNotes = 200;
constexpr std::size_t kMaxNotesText = 100000;

/// The columns of a search document, in the table's order, with their relevance tiers.
struct SearchColumn {
  const char* name;
  int tier;
};
constexpr SearchColumn kSearchColumns[] = {{"name", 1},     {"legal_name", 2}, {"email", 2},  {"phone", 2},
                                           {"tags", 3},     {"contacts", 4},   {"notes", 5}};
static_assert(kSearchColumns[0].tier == 1 && kSearchColumns[1].tier > 1, "the name alone is tier 1");
static_assert(kSearchColumns[std::size(kSearchColumns) - 1].tier == kSearchTiers - 1, "the last tier is anywhere");

std::string phrases(const std::vector<std::string>& terms, bool first_starts) {
  std::string out;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    // Terms are letters and digits only (domain::search_terms), so no syntax can be injected.
    out += (i ? " " : "") + std::string(i == 0 && first_starts ? "^\"" : "\"") + terms[i] + "\"*";
  }
  return out;
}

/// Documents of tier `tier` or better: every term within the columns of those tiers.
std::string at_most_tier(const std::vector<std::string>& terms, int tier) {
  if (tier == 0) return std::string("{") + kSearchColumns[0].name + "} : (" + phrases(terms, true) + ")";
  std::string columns;
  for (const auto& c : kSearchColumns) {
    if (c.tier <= tier) columns += (columns.empty() ? "" : " ") + std::string(c.name);
  }
  return "{" + columns + "} : (" + phrases(terms, false) + ")";
}

bool postgres(soci::session& sql) { return sql.get_backend_name() == "postgresql"; }

constexpr long long kTenantRange = 1LL << 40;

/// SQLite: the number of the tenant's range of search document keys (0 when it has none and
/// `create` is false).
long long tenant_range_number(soci::session& sql, const std::string& tenant_id, bool create) {
  {
    platform::SqliteQuery read(sql, "SELECT number FROM customer_search_tenants WHERE tenant_id = :t");
    if (read.bind(1, tenant_id).step()) return read.integer(0);
  }
  if (!create) return 0;
  return platform::insert_returning_key(sql, "INSERT INTO customer_search_tenants (tenant_id) VALUES (:t)", "number",
                                        {tenant_id});
}

/// SQLite: a key for the search document of a customer that has none, the next in its
/// tenant's range. Writes are serialized, so the largest key read here is still the largest
/// when the row goes in.
long long new_search_key(soci::session& sql, const std::string& tenant_id, const std::string& customer_id) {
  long long low = tenant_range_number(sql, tenant_id, true) * kTenantRange;
  long long high = low + kTenantRange - 1;
  long long doc = platform::insert_returning_key(
      sql,
      "INSERT INTO customer_search_keys (doc, tenant_id, customer_id) SELECT COALESCE((SELECT doc FROM"
      " customer_search_keys WHERE doc BETWEEN :lo AND :hi ORDER BY doc DESC LIMIT 1), :lo2) + 1, :t, :c",
      "doc", {low, high, low, tenant_id, customer_id});
  if (doc > high) throw std::runtime_error("the tenant's range of search document keys is exhausted");
  return doc;
}

/// SQLite: the integer key of a customer's search document (0 when it has none and
/// `create` is false).
long long search_key(soci::session& sql, const std::string& tenant_id, const std::string& customer_id, bool create) {
  if (long long doc = search_document_key(sql, tenant_id, customer_id)) return doc;
  if (!create) return 0;
  return new_search_key(sql, tenant_id, customer_id);
}

}  // namespace

long long search_document_key(soci::session& sql, const std::string& tenant_id, std::string_view customer_id) {
  platform::SqliteQuery read(sql, "SELECT doc FROM customer_search_keys WHERE tenant_id = :t AND customer_id = :c");
  return read.bind(1, tenant_id).bind(2, customer_id).step() ? read.integer(0) : 0;
}

bool is_postgres(soci::session& sql) { return postgres(sql); }

std::optional<SearchDocument> prepare_search_document(soci::session& sql, const std::string& tenant_id,
                                                      const std::string& customer_id, bool created) {
  // Only the searched columns: the whole row costs five JSON parses, on every write.
  static constexpr const char* query =
      "SELECT name, legal_name, email, phone, tags FROM customer_customers WHERE tenant_id = :t AND id = :c";
  std::string name, legal_name, email, phone, tags;
  soci::indicator legal_ind = soci::i_null, email_ind = soci::i_null, phone_ind = soci::i_null;
  bool found = false;
  if (postgres(sql)) {
    sql << query, soci::use(tenant_id), soci::use(customer_id), soci::into(name), soci::into(legal_name, legal_ind),
        soci::into(email, email_ind), soci::into(phone, phone_ind), soci::into(tags);
    found = sql.got_data();
  } else {
    // Run for every write: the statement comes from the connection's cache.
    platform::SqliteQuery read(sql, query);
    if ((found = read.bind(1, tenant_id).bind(2, customer_id).step())) {
      auto column = [&](int i, std::string& out, soci::indicator* ind) {
        auto v = read.text(i);
        if (v) out = *v;
        if (ind) *ind = v ? soci::i_ok : soci::i_null;
      };
      column(0, name, nullptr);
      column(1, legal_name, &legal_ind);
      column(2, email, &email_ind);
      column(3, phone, &phone_ind);
      column(4, tags, nullptr);
    }
  }
  if (!found) {
    remove_from_search(sql, tenant_id, customer_id);
    return std::nullopt;
  }
  SearchDocument d;
  d.tenant_id = tenant_id;
  d.customer_id = customer_id;
  d.name = std::move(name);
  if (legal_ind == soci::i_ok) d.legal_name = std::move(legal_name);
  const bool whole_emails = postgres(sql);
  if (email_ind == soci::i_ok) d.email = domain::email_search_text(email, whole_emails);
  if (phone_ind == soci::i_ok) d.phone = domain::phone_search_text(phone);
  if (tags != "[]") {
    auto parsed = bj::parse(tags);
    if (const auto* list = parsed.if_array()) {
      for (const auto& t : *list) {
        if (t.is_string()) d.tags += std::string(t.get_string()) + " ";
      }
    }
  }
  // A customer just created has neither contacts nor notes yet, nor a document to replace.
  if (!created) {
    for (const auto& ct : contacts(sql, tenant_id, customer_id)) {
      d.contacts += ct.first_name + " " + ct.last_name.value_or("") + " " +
                    (ct.email ? domain::email_search_text(*ct.email, whole_emails) : std::string()) + "\n";
    }
    for (const auto& n : notes(sql, tenant_id, customer_id, kIndexedNotes, std::nullopt)) {
      if (d.notes.size() + n.body.size() > kMaxNotesText) break;
      d.notes += n.body + "\n";
    }
  }
  if (postgres(sql)) return d;  // one upsert replaces the old document
  d.doc = created ? new_search_key(sql, tenant_id, customer_id) : search_key(sql, tenant_id, customer_id, true);
  d.replace = !created;
  return d;
}

void write_search_document(soci::session& sql, const SearchDocument& d) {
  if (postgres(sql)) {
    std::string b = d.legal_name + " " + d.email + " " + d.phone, cc = d.tags + " " + d.contacts;
    platform::execute(sql,
                      "INSERT INTO customer_search (tenant_id, customer_id, document) VALUES (:t, :c,"
                      " setweight(to_tsvector('simple', :a), 'A') || setweight(to_tsvector('simple', :b), 'B') ||"
                      " setweight(to_tsvector('simple', :cc), 'C') || setweight(to_tsvector('simple', :d), 'D'))"
                      " ON CONFLICT (tenant_id, customer_id) DO UPDATE SET document = EXCLUDED.document",
                      {d.tenant_id, d.customer_id, d.name, b, cc, d.notes});
    return;
  }
  // The old document goes here, not when preparing: a document made on creation earlier in
  // the same transaction is only written just before.
  if (d.replace) platform::execute(sql, "DELETE FROM customer_search WHERE rowid = :d", {d.doc});
  platform::execute(sql,
                    "INSERT INTO customer_search (rowid, name, legal_name, email, phone, tags, contacts, notes)"
                    " VALUES (:d, :n, :l, :e, :p, :tg, :ct, :no)",
                    {d.doc, d.name, d.legal_name, d.email, d.phone, d.tags, d.contacts, d.notes});
}

bool merge_search_index(soci::session& sql, int pages) {
  if (postgres(sql)) return false;
  long long before = 0, after = 0;
  // A positive count: with usermerge 2 (migration 0010) it merges every level holding two or
  // more segments. A negative count, which means the same, corrupted the index of SQLite 3.40
  // under deletes and replacements (tests/unit/sqlite_functions_test.cpp shows the safe form).
  int n = pages;
  sql << "SELECT total_changes()", soci::into(before);
  sql << "INSERT INTO customer_search (customer_search, rank) VALUES ('merge', :n)", soci::use(n);
  sql << "SELECT total_changes()", soci::into(after);
  // FTS5 counts two or more changes when the command merged anything.
  return after - before >= 2;
}

std::int64_t search_document_count(soci::session& sql) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM customer_search_keys", soci::into(n);
  return n;
}

void reindex_customer(soci::session& sql, const std::string& tenant_id, const std::string& customer_id, bool created) {
  if (auto d = prepare_search_document(sql, tenant_id, customer_id, created)) write_search_document(sql, *d);
}

void remove_from_search(soci::session& sql, const std::string& tenant_id, const std::string& customer_id) {
  if (postgres(sql)) {
    sql << "DELETE FROM customer_search WHERE tenant_id = :t AND customer_id = :c", soci::use(tenant_id),
        soci::use(customer_id);
    return;
  }
  long long doc = search_key(sql, tenant_id, customer_id, false);
  if (doc == 0) return;
  sql << "DELETE FROM customer_search WHERE rowid = :d", soci::use(doc);
  sql << "DELETE FROM customer_search_keys WHERE doc = :d", soci::use(doc);
}

bool search_index_empty(soci::session& sql) {
  long long customers = 0, documents = 0;
  sql << "SELECT COUNT(*) FROM (SELECT 1 FROM customer_customers LIMIT 1) x", soci::into(customers);
  sql << (postgres(sql) ? "SELECT COUNT(*) FROM (SELECT 1 FROM customer_search LIMIT 1) x"
                        : "SELECT COUNT(*) FROM (SELECT 1 FROM customer_search_keys LIMIT 1) x"),
      soci::into(documents);
  return customers > 0 && documents == 0;
}

std::vector<std::pair<std::string, std::string>> customer_keys_after(soci::session& sql, const std::string& tenant_id,
                                                                     const std::string& id, int limit) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string t, c;
  soci::statement st = (sql.prepare << "SELECT tenant_id, id FROM customer_customers WHERE (tenant_id, id) > (:t, :i)"
                                       " ORDER BY tenant_id, id LIMIT :l",
                        soci::use(tenant_id), soci::use(id), soci::use(limit), soci::into(t),
                        soci::into(c));
  st.execute();
  while (st.fetch()) out.emplace_back(t, c);
  return out;
}

std::pair<long long, long long> sqlite_search_range(soci::session& sql, const std::string& tenant_id) {
  long long number = tenant_range_number(sql, tenant_id, false);
  if (number == 0) return {1, 0};  // no documents: an empty range
  return {number * kTenantRange, number * kTenantRange + kTenantRange - 1};
}

const std::string& sqlite_match_tier() {
  static const std::string text = [] {
    std::string out = "match_tier(customer_search";
    for (const auto& c : kSearchColumns) out += ", " + std::to_string(c.tier);
    return out + ")";
  }();
  return text;
}

std::string sqlite_tier_expression(const std::vector<std::string>& terms, int tier) {
  if (tier == 0) return at_most_tier(terms, 0);
  return "(" + at_most_tier(terms, tier) + ") NOT (" + at_most_tier(terms, tier - 1) + ")";
}

std::string search_expression(soci::session& sql, const std::vector<std::string>& terms) {
  if (!postgres(sql)) return phrases(terms, false);
  std::string q;
  for (const auto& t : terms) q += (q.empty() ? "" : " & ") + t + ":*";  // letters and digits only
  return q;
}

}  // namespace crm::customer::store
