// All customer SQL, with bound parameters only. Every statement is scoped by tenant.
#include "customer_internal.hpp"
#include "store_binder.hpp"

#include <soci/soci.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <type_traits>
#include <variant>

namespace crm::customer::store {

namespace {

namespace json = platform::json;
using platform::Error;

// The columns hold JSON this module wrote; most are empty, which needs no parser. The parsed
// array or object is moved out, not copied.
bj::array parse_array(const std::string& text) {
  if (text == "[]") return {};
  auto v = json::parse_relaxed(text);
  return v.is_array() ? std::move(v.get_array()) : bj::array{};
}
bj::object parse_object(const std::string& text) {
  if (text == "{}") return {};
  auto v = json::parse_relaxed(text);
  return v.is_object() ? std::move(v.get_object()) : bj::object{};
}

/// An optional text bound as a parameter (NULL when empty).
struct OptText {
  std::string value;
  soci::indicator ind = soci::i_null;
  explicit OptText(const std::optional<std::string>& v) {
    if (v) {
      value = *v;
      ind = soci::i_ok;
    }
  }
  explicit OptText(const std::string& v) : value(v), ind(v.empty() ? soci::i_null : soci::i_ok) {}
};
struct OptNumber {
  long long value = 0;
  soci::indicator ind = soci::i_null;
  explicit OptNumber(const std::optional<long long>& v) {
    if (v) {
      value = *v;
      ind = soci::i_ok;
    }
  }
};

struct CustomerDocumentFetch;
std::vector<CustomerDocument> sqlite_documents(soci::session& sql, const std::string& query, const Binder& binder,
                                               bool with_rank);

template <class Fetch>
std::vector<decltype(std::declval<Fetch>().take())> fetch_all(soci::session& sql, const std::string& query,
                                                              const Binder& binder, bool with_rank = false) {
  if constexpr (std::is_same_v<Fetch, CustomerDocumentFetch>) {
    if (!is_postgres(sql)) return sqlite_documents(sql, query, binder, with_rank);
  }
  Fetch f;
  f.with_rank = with_rank;
  soci::statement st(sql);
  binder.bind(st);
  f.bind(st);
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
  st.execute();
  std::vector<decltype(f.take())> out;
  while (st.fetch()) out.push_back(f.take());
  return out;
}

template <class T>
std::optional<T> first(std::vector<T> v) {
  if (v.empty()) return std::nullopt;
  return std::move(v.front());
}

struct OptIn {
  std::string value;
  soci::indicator ind = soci::i_null;
  std::optional<std::string> get() const {
    return ind == soci::i_ok ? std::optional<std::string>(value) : std::nullopt;
  }
};
struct OptInNumber {
  long long value = 0;
  soci::indicator ind = soci::i_null;
  std::optional<long long> get() const {
    return ind == soci::i_ok ? std::optional<long long>(value) : std::nullopt;
  }
};

constexpr const char* kCustomerColumns =
    "c.tenant_id, c.id, c.code, c.slug, c.type, c.name, c.legal_name, c.email, c.email_disposable, c.phone,"
    " c.website, c.industry, c.status, c.tier, c.owner_id, c.tags, c.addresses, c.social_profiles,"
    " c.custom_fields, c.preferences, c.credit_limit_minor, c.credit_limit_currency, c.lifetime_value_minor,"
    " c.lifetime_value_currency, c.external_id, c.created_by, c.version, c.created_at, c.updated_at, c.deleted_at";

struct CustomerFetch {
  CustomerRow row;
  OptIn legal_name, email, phone, website, industry, tier, credit_currency, lifetime_currency, external_id,
      created_by;
  OptInNumber credit_minor, lifetime_minor, deleted_at;
  bool with_rank = false;
  double rank = 0;
  int disposable = 0;
  std::string tags, addresses, social, custom, preferences;
  long long created = 0, updated = 0;
  void bind(soci::statement& st) {
    st.exchange(soci::into(row.tenant_id));
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.code));
    st.exchange(soci::into(row.slug));
    st.exchange(soci::into(row.type));
    st.exchange(soci::into(row.name));
    st.exchange(soci::into(legal_name.value, legal_name.ind));
    st.exchange(soci::into(email.value, email.ind));
    st.exchange(soci::into(disposable));
    st.exchange(soci::into(phone.value, phone.ind));
    st.exchange(soci::into(website.value, website.ind));
    st.exchange(soci::into(industry.value, industry.ind));
    st.exchange(soci::into(row.status));
    st.exchange(soci::into(tier.value, tier.ind));
    st.exchange(soci::into(row.owner_id));
    st.exchange(soci::into(tags));
    st.exchange(soci::into(addresses));
    st.exchange(soci::into(social));
    st.exchange(soci::into(custom));
    st.exchange(soci::into(preferences));
    st.exchange(soci::into(credit_minor.value, credit_minor.ind));
    st.exchange(soci::into(credit_currency.value, credit_currency.ind));
    st.exchange(soci::into(lifetime_minor.value, lifetime_minor.ind));
    st.exchange(soci::into(lifetime_currency.value, lifetime_currency.ind));
    st.exchange(soci::into(external_id.value, external_id.ind));
    st.exchange(soci::into(created_by.value, created_by.ind));
    st.exchange(soci::into(row.version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
    st.exchange(soci::into(deleted_at.value, deleted_at.ind));
    if (with_rank) st.exchange(soci::into(rank));
  }
  CustomerRow take() const {
    CustomerRow c = scalars();
    c.tags = parse_array(tags);
    c.addresses = parse_array(addresses);
    c.social_profiles = parse_array(social);
    c.custom_fields = parse_object(custom);
    c.preferences = parse_object(preferences);
    return c;
  }
  /// The row without its JSON members.
  CustomerRow scalars() const {
    CustomerRow c = row;
    c.legal_name = legal_name.get();
    c.email = email.get();
    c.email_disposable = disposable != 0;
    c.phone = phone.get();
    c.website = website.get();
    c.industry = industry.get();
    c.tier = tier.get();
    if (auto m = credit_minor.get(); m && credit_currency.get()) c.credit_limit = Money{*m, credit_currency.value};
    if (auto m = lifetime_minor.get(); m && lifetime_currency.get()) c.lifetime_value = Money{*m, lifetime_currency.value};
    c.external_id = external_id.get();
    c.created_by = created_by.get().value_or("");
    c.created_at = created;
    c.updated_at = updated;
    if (auto d = deleted_at.get()) c.deleted_at = *d;
    c.search_rank = rank;
    return c;
  }
};

/// A customer fetched as a document: no JSON column is parsed.
struct CustomerDocumentFetch : CustomerFetch {
  CustomerDocument take() const {
    CustomerDocument d;
    static_cast<CustomerRow&>(d) = scalars();
    d.json = customer_json_text(d, StoredCustomerJson{tags, addresses, social, custom, preferences});
    return d;
  }
};

/// Reads the documents of a query on kCustomerColumns (and the rank) with the SQLite API:
/// SOCI converted each of the 30 columns through its own buffers, which was a fifth of a
/// read by id. The stored JSON columns go into the document straight from SQLite's memory.
std::vector<CustomerDocument> sqlite_documents(soci::session& sql, const std::string& query, const Binder& binder,
                                               bool with_rank) {
  platform::SqliteQuery q(sql, query);
  binder.bind(q);
  auto* st = q.get();
  auto null = [st](int i) { return sqlite_api::sqlite3_column_type(st, i) == SQLITE_NULL; };
  auto text = [st](int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite_api::sqlite3_column_text(st, i));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite_api::sqlite3_column_bytes(st, i)))
             : std::string_view();
  };
  auto optional_text = [&](int i) { return null(i) ? std::nullopt : std::optional<std::string>(text(i)); };
  auto number = [st](int i) { return static_cast<long long>(sqlite_api::sqlite3_column_int64(st, i)); };
  std::vector<CustomerDocument> out;
  while (q.step()) {
    CustomerDocument d;
    d.tenant_id = text(0);
    d.id = text(1);
    d.code = text(2);
    d.slug = text(3);
    d.type = text(4);
    d.name = text(5);
    d.legal_name = optional_text(6);
    d.email = optional_text(7);
    d.email_disposable = number(8) != 0;
    d.phone = optional_text(9);
    d.website = optional_text(10);
    d.industry = optional_text(11);
    d.status = text(12);
    d.tier = optional_text(13);
    d.owner_id = text(14);
    if (!null(20) && !null(21)) d.credit_limit = Money{number(20), std::string(text(21))};
    if (!null(22) && !null(23)) d.lifetime_value = Money{number(22), std::string(text(23))};
    d.external_id = optional_text(24);
    d.created_by = text(25);
    d.version = static_cast<int>(number(26));
    d.created_at = number(27);
    d.updated_at = number(28);
    if (!null(29)) d.deleted_at = number(29);
    if (with_rank) d.search_rank = sqlite_api::sqlite3_column_double(st, 30);
    // SQLite's texts stay valid until the next step.
    d.json = customer_json_text(d, StoredCustomerJson{text(15), text(16), text(17), text(18), text(19)});
    out.push_back(std::move(d));
  }
  return out;
}

/// The facets (tags, countries) of a customer, rewritten with the row (a new row has none).
void write_facets(soci::session& sql, const CustomerRow& c, bool fresh) {
  if (!fresh) {
    sql << "DELETE FROM customer_customer_facets WHERE tenant_id = :t AND customer_id = :c", soci::use(c.tenant_id),
        soci::use(c.id);
  }
  auto add = [&](std::string_view kind, std::string_view value) {
    platform::execute(sql,
                      "INSERT INTO customer_customer_facets (tenant_id, kind, value, customer_id) VALUES (:t, :k, :v, :c)"
                      " ON CONFLICT DO NOTHING",
                      {c.tenant_id, kind, value, c.id});
  };
  for (const auto& t : c.tags) {
    if (t.is_string()) add("tag", t.get_string());
  }
  for (const auto& country : c.countries()) add("country", country);
}

enum class SortType { text, integer, real };
struct SortColumn {
  const char* field;
  const char* expression;
  SortType type;
};
constexpr SortColumn kSortColumns[] = {
    {"name", "c.name", SortType::text},
    {"code", "c.code", SortType::text},
    {"status", "c.status", SortType::text},
    {"created_at", "c.created_at", SortType::integer},
    {"updated_at", "c.updated_at", SortType::integer},
    // Customers without a value sort as the smallest.
    {"lifetime_value", "COALESCE(c.lifetime_value_minor, -9223372036854775807)", SortType::integer},
    {"credit_limit", "COALESCE(c.credit_limit_minor, -9223372036854775807)", SortType::integer},
    // Only with q=: the search rank, most relevant first when ascending.
    {"relevance", "s.rank", SortType::real},
};

const SortColumn& sort_column(const std::string& field) {
  for (const auto& s : kSortColumns) {
    if (field == s.field) return s;
  }
  throw Error::bad_parameter("sort", "Unknown sort field " + field + ".");
}

/// PostgreSQL: the best-ranked search documents a relevance-ordered page is first looked for
/// among (and, with a cursor, those ranked after it). Ranking is cheap next to joining every
/// match to its customer, which a word found in thousands of documents made the bulk of a
/// search. (SQLite reads its tiers instead: tiered_page.)
struct SearchWindow {
  long long size = 0;
  std::optional<double> after_rank;  // the cursor's rank and id; none on the first page
  std::string after_id;
};

/// SQLite: a subquery for the search document key of a customer (for a cursor's tie-break).
std::string search_doc_of(Binder& b, const std::string& tenant_id, const std::string& customer_id) {
  std::string out = "(SELECT doc FROM customer_search_keys WHERE tenant_id = ";
  out += b.add(tenant_id);
  out += " AND customer_id = ";
  out += b.add(customer_id);
  out += ")";
  return out;
}

/// The condition on customer_search for the tenant's documents matching `q`.
/// SQLite: the tenant's documents are those in its range of keys.
void add_match(std::string& out, soci::session& sql, Binder& b, const std::string& q, const std::string& tenant_id) {
  if (is_postgres(sql)) {
    out += "tenant_id = ";
    out += b.add(tenant_id);
    out += " AND document @@ to_tsquery('simple', ";
    out += b.add(q);
    out += ")";
  } else {
    auto [low, high] = sqlite_search_range(sql, tenant_id);
    out += "customer_search MATCH ";
    out += b.add(q);
    out += " AND customer_search.rowid BETWEEN ";
    out += b.add(low);
    out += " AND ";
    out += b.add(high);
  }
}

/// The tenant's search documents matching the filter's terms: columns customer_id and, when
/// `ranked`, rank (lower is better on both backends: SQLite's tier, PostgreSQL's -ts_rank),
/// and on SQLite doc. With a window (PostgreSQL), only the window's documents.
std::string ranked_sql(soci::session& sql, const CustomerFilter& f, Binder& b, const std::string& tenant_id,
                       const SearchWindow* window, bool ranked = true) {
  std::string q = search_expression(sql, f.search_terms);
  if (!is_postgres(sql)) {
    // Documents are read by rowid (doc) and mapped to customers through
    // customer_search_keys: reading the UNINDEXED customer_id of every match back from
    // FTS5's content table cost more than ranking them.
    std::string inner = "SELECT rowid AS doc";
    if (ranked) inner += ", CAST(" + sqlite_match_tier() + " AS REAL) AS rank";
    inner += " FROM customer_search WHERE ";
    add_match(inner, sql, b, q, tenant_id);
    return std::string("SELECT w.doc, ") + (ranked ? "w.rank, " : "") + "k.customer_id FROM (" + inner +
           ") w JOIN customer_search_keys k ON k.doc = w.doc";
  }
  // One b.add per statement, in the order the placeholders appear: parameters are bound by
  // position, and the operands of + are not evaluated in a fixed order.
  std::string inner = "SELECT customer_id";
  auto add_rank = [&] {
    inner += "CAST(-ts_rank(document, to_tsquery('simple', ";
    inner += b.add(q);
    inner += ")) AS DOUBLE PRECISION)";
  };
  if (ranked) {
    inner += ", ";
    add_rank();
    inner += " AS rank";
  }
  inner += " FROM customer_search WHERE ";
  add_match(inner, sql, b, q, tenant_id);
  if (window) {
    if (window->after_rank) {
      inner += " AND (";
      add_rank();
      inner += " > ";
      inner += b.add(*window->after_rank);
      inner += " OR (";
      add_rank();
      inner += " = ";
      inner += b.add(*window->after_rank);
      inner += " AND customer_id > ";
      inner += b.add(window->after_id);
      inner += "))";
    }
    inner += " ORDER BY rank, customer_id LIMIT ";
    inner += b.add(window->size);
  }
  return inner;
}

/// FROM of a customer query: with search terms, joined to the matching search documents and
/// their rank (unless a count needs no rank).
std::string from_sql(soci::session& sql, const CustomerFilter& f, Binder& b, const std::string& tenant_id,
                     bool ranked = true) {
  std::string from = "customer_customers c";
  if (f.search_terms.empty()) return from;
  return from + " JOIN (" + ranked_sql(sql, f, b, tenant_id, nullptr, ranked) + ") s ON s.customer_id = c.id";
}

std::string filter_sql(soci::session& sql, const CustomerFilter& f, Binder& b, const std::string& tenant_id) {
  std::string where = "c.tenant_id = " + b.add(tenant_id);
  if (!f.include_deleted) where += " AND c.deleted_at IS NULL";
  auto in_list = [&](const char* column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    where += std::string(" AND ") + column + " IN (";
    for (std::size_t i = 0; i < values.size(); ++i) where += (i ? ", " : "") + b.add(values[i]);
    where += ")";
  };
  in_list("c.status", f.statuses);
  in_list("c.tier", f.tiers);
  in_list("c.type", f.types);
  in_list("c.owner_id", f.owner_ids);
  auto facet = [&](const char* kind, const std::optional<std::string>& value) {
    if (!value) return;
    // One b.add per statement: placeholders must be numbered in the order they appear.
    where += " AND EXISTS (SELECT 1 FROM customer_customer_facets f WHERE f.tenant_id = c.tenant_id AND f.kind = ";
    where += b.add(std::string(kind));
    where += " AND f.value = ";
    where += b.add(*value);
    where += " AND f.customer_id = c.id)";
  };
  facet("tag", f.tag);
  facet("country", f.country);
  if (f.industry) where += " AND LOWER(c.industry) = LOWER(" + b.add(*f.industry) + ")";
  if (f.created_after) where += " AND c.created_at > " + b.add(static_cast<long long>(*f.created_after));
  if (f.created_before) where += " AND c.created_at < " + b.add(static_cast<long long>(*f.created_before));
  if (f.updated_after) where += " AND c.updated_at > " + b.add(static_cast<long long>(*f.updated_after));
  if (f.updated_before) where += " AND c.updated_at < " + b.add(static_cast<long long>(*f.updated_before));
  auto compile = [&](const filter::Node& tree) {
    return filter::to_sql(tree, is_postgres(sql) ? filter::Dialect::postgres : filter::Dialect::sqlite,
                          [&b](const filter::Scalar& v) {
                            return std::visit(
                                [&b](const auto& x) {
                                  using T = std::decay_t<decltype(x)>;
                                  if constexpr (std::is_same_v<T, bool>) return b.add(std::string(x ? "true" : "false"));
                                  else return b.add(x);
                                },
                                v);
                          });
  };
  if (f.segment) where += " AND " + compile(*f.segment);
  if (f.tree) where += " AND " + compile(*f.tree);
  return where;
}

[[noreturn]] void bad_cursor() { throw Error::bad_parameter("cursor", "The cursor is not valid for this collection."); }

}  // namespace

std::int64_t next_sequence(soci::session& sql, const std::string& tenant_id, const std::string& name) {
  // An upsert takes the row lock: concurrent creators in one tenant queue here, so every
  // number is handed out once and the checks that follow see each other's rows.
  static constexpr std::string_view upsert =
      "INSERT INTO customer_sequences (tenant_id, name, last_value) VALUES (:t, :n, 1)"
      " ON CONFLICT (tenant_id, name) DO UPDATE SET last_value = customer_sequences.last_value + 1";
  if (is_postgres(sql)) {
    auto value = platform::execute(sql, std::string(upsert) + " RETURNING last_value", {tenant_id, name});
    if (!value) throw std::runtime_error("the sequence upsert returned no value");
    return *value;
  }
  // SQLite answers RETURNING through a temporary table; the row is read back instead (the
  // write lock is held, nobody changes it in between).
  platform::execute(sql, upsert, {tenant_id, name});
  platform::SqliteQuery read(sql, "SELECT last_value FROM customer_sequences WHERE tenant_id = :t AND name = :n");
  if (!read.bind(1, tenant_id).bind(2, name).step()) throw std::runtime_error("the sequence row is missing after its upsert");
  return read.integer(0);
}

void lock_customers(soci::session& sql, const std::string& tenant_id) {
  std::string name = kCodeSequence;
  sql << "INSERT INTO customer_sequences (tenant_id, name, last_value) VALUES (:t, :n, 0)"
         " ON CONFLICT (tenant_id, name) DO UPDATE SET last_value = customer_sequences.last_value",
      soci::use(tenant_id), soci::use(name);
}

bool slug_taken(soci::session& sql, const std::string& tenant_id, const std::string& slug) {
  static constexpr const char* query = "SELECT 1 FROM customer_customers WHERE tenant_id = :t AND slug = :s LIMIT 1";
  if (!is_postgres(sql)) {
    // Asked once for every create: the statement comes from the connection's cache instead of
    // being prepared again each time.
    platform::SqliteQuery read(sql, query);
    return read.bind(1, tenant_id).bind(2, slug).step();
  }
  int one = 0;
  soci::indicator ind = soci::i_null;
  sql << query, soci::use(tenant_id), soci::use(slug), soci::into(one, ind);
  return sql.got_data() && ind == soci::i_ok;
}

std::int64_t count_live_customers(soci::session& sql, const std::string& tenant_id) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM customer_customers WHERE tenant_id = :t AND deleted_at IS NULL", soci::use(tenant_id),
      soci::into(n);
  return n;
}

std::optional<std::pair<std::string, std::string>> find_duplicate(soci::session& sql, const std::string& tenant_id,
                                                                  const std::string& email_key,
                                                                  const std::string& phone,
                                                                  const std::string& except_id) {
  // The oldest match is picked here rather than with ORDER BY created_at: with it SQLite's
  // planner walks the created_at index of the whole tenant instead of the email/phone index.
  // Ids are never empty, so an empty except_id excludes nothing.
  auto oldest = [&](const char* column, const std::string& value) -> std::optional<std::string> {
    std::string id, best_id;
    long long created = 0, best = 0;
    soci::statement st = (sql.prepare << std::string("SELECT id, created_at FROM customer_customers WHERE tenant_id = :t"
                                                     " AND ") + column + " = :v AND deleted_at IS NULL AND id <> :x",
                          soci::use(tenant_id), soci::use(value), soci::use(except_id), soci::into(id),
                          soci::into(created));
    st.execute();
    bool found = false;
    while (st.fetch()) {
      if (!found || created < best || (created == best && id < best_id)) best = created, best_id = id;
      found = true;
    }
    if (!found) return std::nullopt;
    return best_id;
  };
  if (!email_key.empty()) {
    if (auto id = oldest("email_key", email_key)) return std::make_pair(*id, std::string("email"));
  }
  if (!phone.empty()) {
    if (auto id = oldest("phone", phone)) return std::make_pair(*id, std::string("phone"));
  }
  return std::nullopt;
}

std::optional<std::string> customer_with_external_id(soci::session& sql, const std::string& tenant_id,
                                                     const std::string& external_id) {
  std::string id;
  soci::indicator ind = soci::i_null;
  sql << "SELECT id FROM customer_customers WHERE tenant_id = :t AND external_id = :e", soci::use(tenant_id),
      soci::use(external_id), soci::into(id, ind);
  if (sql.got_data() && ind == soci::i_ok) return id;
  return std::nullopt;
}

void insert_customer(soci::session& sql, const CustomerRow& c) {
  using platform::number_or_null;
  using platform::text_or_null;
  std::string email_key = c.email_key();
  std::string tags = json::dump(c.tags), addresses = json::dump(c.addresses), social = json::dump(c.social_profiles),
              custom = json::dump(c.custom_fields), prefs = json::dump(c.preferences);
  std::optional<std::string> credit_cur, lifetime_cur;
  std::optional<long long> credit, lifetime;
  if (c.credit_limit) credit = c.credit_limit->minor, credit_cur = c.credit_limit->currency;
  if (c.lifetime_value) lifetime = c.lifetime_value->minor, lifetime_cur = c.lifetime_value->currency;
  platform::execute(
      sql,
      "INSERT INTO customer_customers (tenant_id, id, code, slug, type, name, legal_name, email, email_key,"
      " email_disposable, phone, website, industry, status, tier, owner_id, tags, addresses, social_profiles,"
      " custom_fields, preferences, credit_limit_minor, credit_limit_currency, lifetime_value_minor,"
      " lifetime_value_currency, external_id, created_by, version, created_at, updated_at)"
      " VALUES (:t, :id, :code, :slug, :type, :name, :legal, :email, :ekey, :disp, :phone, :web, :ind, :status,"
      " :tier, :owner, :tags, :addr, :social, :custom, :prefs, :cl, :clc, :lv, :lvc, :ext, :cb, 1, :ca, :ua)",
      {c.tenant_id, c.id, c.code, c.slug, c.type, c.name, text_or_null(c.legal_name), text_or_null(c.email),
       text_or_null(email_key),
       c.email_disposable ? 1LL : 0LL, text_or_null(c.phone), text_or_null(c.website), text_or_null(c.industry),
       c.status, text_or_null(c.tier), c.owner_id, tags, addresses, social, custom, prefs, number_or_null(credit),
       text_or_null(credit_cur), number_or_null(lifetime), text_or_null(lifetime_cur), text_or_null(c.external_id),
       text_or_null(c.created_by), static_cast<long long>(c.created_at), static_cast<long long>(c.updated_at)});
  write_facets(sql, c, true);
}

bool update_customer(soci::session& sql, const CustomerRow& c, int expected_version) {
  OptText legal(c.legal_name), email(c.email), phone(c.phone), website(c.website), industry(c.industry),
      tier(c.tier), external(c.external_id);
  OptText email_key(c.email_key());
  OptNumber credit(c.credit_limit ? std::optional<long long>(c.credit_limit->minor) : std::nullopt);
  OptText credit_cur(c.credit_limit ? std::optional<std::string>(c.credit_limit->currency) : std::nullopt);
  OptNumber lifetime(c.lifetime_value ? std::optional<long long>(c.lifetime_value->minor) : std::nullopt);
  OptText lifetime_cur(c.lifetime_value ? std::optional<std::string>(c.lifetime_value->currency) : std::nullopt);
  OptNumber deleted(c.deleted_at ? std::optional<long long>(*c.deleted_at) : std::nullopt);
  std::string tags = json::dump(c.tags), addresses = json::dump(c.addresses), social = json::dump(c.social_profiles),
              custom = json::dump(c.custom_fields), prefs = json::dump(c.preferences);
  int disposable = c.email_disposable ? 1 : 0;
  long long updated = c.updated_at;
  soci::statement st =
      (sql.prepare << "UPDATE customer_customers SET type = :type, name = :name, legal_name = :legal, email = :email,"
                      " email_key = :ekey, email_disposable = :disp, phone = :phone, website = :web, industry = :ind,"
                      " status = :status, tier = :tier, owner_id = :owner, tags = :tags, addresses = :addr,"
                      " social_profiles = :social, custom_fields = :custom, preferences = :prefs,"
                      " credit_limit_minor = :cl, credit_limit_currency = :clc, lifetime_value_minor = :lv,"
                      " lifetime_value_currency = :lvc, external_id = :ext, deleted_at = :del,"
                      " version = version + 1, updated_at = :ua"
                      " WHERE tenant_id = :t AND id = :id AND version = :v",
       soci::use(c.type), soci::use(c.name), soci::use(legal.value, legal.ind), soci::use(email.value, email.ind),
       soci::use(email_key.value, email_key.ind), soci::use(disposable), soci::use(phone.value, phone.ind),
       soci::use(website.value, website.ind), soci::use(industry.value, industry.ind), soci::use(c.status),
       soci::use(tier.value, tier.ind), soci::use(c.owner_id), soci::use(tags), soci::use(addresses),
       soci::use(social), soci::use(custom), soci::use(prefs), soci::use(credit.value, credit.ind),
       soci::use(credit_cur.value, credit_cur.ind), soci::use(lifetime.value, lifetime.ind),
       soci::use(lifetime_cur.value, lifetime_cur.ind), soci::use(external.value, external.ind),
       soci::use(deleted.value, deleted.ind), soci::use(updated), soci::use(c.tenant_id), soci::use(c.id),
       soci::use(expected_version));
  st.execute(true);
  if (st.get_affected_rows() == 0) return false;
  write_facets(sql, c, false);
  return true;
}

namespace {

template <class Fetch>
auto customer_by_id(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  Binder b;
  std::string q = std::string("SELECT ") + kCustomerColumns + " FROM customer_customers c WHERE c.tenant_id = ";
  q += b.add(tenant_id);
  q += " AND c.id = ";
  q += b.add(id);
  return first(fetch_all<Fetch>(sql, q, b));
}

}  // namespace

std::optional<CustomerRow> customer(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  return customer_by_id<CustomerFetch>(sql, tenant_id, id);
}

std::optional<CustomerDocument> customer_document(soci::session& sql, const std::string& tenant_id,
                                                  const std::string& id) {
  return customer_by_id<CustomerDocumentFetch>(sql, tenant_id, id);
}

std::optional<CustomerRow> customer_by_slug(soci::session& sql, const std::string& tenant_id, const std::string& slug) {
  Binder b;
  std::string q = std::string("SELECT ") + kCustomerColumns + " FROM customer_customers c WHERE c.tenant_id = ";
  q += b.add(tenant_id);
  q += " AND c.slug = ";
  q += b.add(slug);
  return first(fetch_all<CustomerFetch>(sql, q, b));
}

void purge_customer(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  // Children first: SQLite enforces the foreign keys only when the connection turned them on.
  for (const char* table : {"customer_timeline", "customer_activities", "customer_notes", "customer_contacts",
                            "customer_segment_members"}) {
    sql << std::string("DELETE FROM ") + table + " WHERE tenant_id = :t AND customer_id = :c", soci::use(tenant_id),
        soci::use(id);
  }
  sql << "DELETE FROM customer_customer_facets WHERE tenant_id = :t AND customer_id = :c", soci::use(tenant_id),
      soci::use(id);
  sql << "DELETE FROM customer_customers WHERE tenant_id = :t AND id = :c", soci::use(tenant_id), soci::use(id);
}

std::vector<DuplicatePair> duplicate_pairs(soci::session& sql, const std::string& tenant_id, int limit,
                                           const std::optional<std::pair<std::string, std::string>>& after) {
  std::string first = after ? after->first : "", second = after ? after->second : "";
  long long lim = limit;
  DuplicatePair row;
  int email = 0, phone = 0, name = 0;
  // A self-join within the tenant; the email and phone indexes serve the common cases.
  soci::statement st =
      (sql.prepare << "SELECT a.id, b.id,"
                      " CASE WHEN a.email_key IS NOT NULL AND a.email_key = b.email_key THEN 1 ELSE 0 END,"
                      " CASE WHEN a.phone IS NOT NULL AND a.phone = b.phone THEN 1 ELSE 0 END,"
                      " CASE WHEN LOWER(a.name) = LOWER(b.name) THEN 1 ELSE 0 END"
                      " FROM customer_customers a JOIN customer_customers b ON b.tenant_id = a.tenant_id AND b.id > a.id"
                      " AND (a.email_key = b.email_key OR a.phone = b.phone OR LOWER(a.name) = LOWER(b.name))"
                      " WHERE a.tenant_id = :t AND a.deleted_at IS NULL AND b.deleted_at IS NULL"
                      " AND (a.id > :f1 OR (a.id = :f2 AND b.id > :s))"
                      " ORDER BY a.id, b.id LIMIT :l",
       soci::use(tenant_id), soci::use(first), soci::use(first), soci::use(second), soci::use(lim),
       soci::into(row.first_id), soci::into(row.second_id), soci::into(email), soci::into(phone), soci::into(name));
  st.execute();
  std::vector<DuplicatePair> out;
  while (st.fetch()) {
    DuplicatePair p = row;
    p.email = email != 0;
    p.phone = phone != 0;
    p.name = name != 0;
    out.push_back(p);
  }
  return out;
}

namespace {

// A rank travels in a cursor as text with every digit it needs: JSON parsing of numbers may
// round to a neighbouring double, and a rank that comes back different breaks the tie-break of
// equally ranked rows (a page repeated forever, or rows skipped).
std::string exact_real(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::optional<double> parse_exact_real(const bj::value& v) {
  if (v.is_number()) return v.to_number<double>();
  if (!v.is_string()) return std::nullopt;
  std::string text(v.get_string());
  char* end = nullptr;
  double out = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return std::nullopt;
  return out;
}

}  // namespace

bj::array sort_values(const CustomerRow& c, const std::vector<SortKey>& sort) {
  bj::array out;
  for (const auto& k : sort) {
    if (k.field == "name") out.emplace_back(c.name);
    else if (k.field == "code") out.emplace_back(c.code);
    else if (k.field == "status") out.emplace_back(c.status);
    else if (k.field == "created_at") out.emplace_back(c.created_at);
    else if (k.field == "updated_at") out.emplace_back(c.updated_at);
    else if (k.field == "lifetime_value")
      out.emplace_back(c.lifetime_value ? c.lifetime_value->minor : -9223372036854775807LL);
    else if (k.field == "credit_limit")
      out.emplace_back(c.credit_limit ? c.credit_limit->minor : -9223372036854775807LL);
    else if (k.field == "relevance")
      out.emplace_back(exact_real(c.search_rank));
  }
  return out;
}

namespace {

template <class Fetch>
using RowOf = decltype(std::declval<Fetch>().take());

template <class Fetch>
std::vector<RowOf<Fetch>> list_page(soci::session& sql, const std::string& tenant_id, const CustomerQuery& q) {
  Binder b;
  std::string from = from_sql(sql, q.filter, b, tenant_id);
  std::string where = filter_sql(sql, q.filter, b, tenant_id);
  std::string order;
  for (const auto& k : q.sort) {
    order += std::string(sort_column(k.field).expression) + (k.descending ? " DESC, " : " ASC, ");
  }
  // The id breaks ties in the direction of the last key (UUIDv7 ids follow creation order).
  // SQLite, by relevance alone: the search document's key, the order the window reads in.
  bool id_descending = !q.sort.empty() && q.sort.back().descending;
  bool by_doc = !is_postgres(sql) && !q.filter.search_terms.empty() && q.sort.size() == 1 &&
                q.sort[0].field == "relevance";
  std::string tiebreak = by_doc ? "s.doc" : "c.id";
  order += tiebreak + (id_descending ? " DESC" : " ASC");
  if (q.after) {
    // Keyset: rows strictly after the cursor's (sort values..., id) in the ORDER BY.
    const auto* values = q.after->if_contains("k");
    const auto* id = q.after->if_contains("id");
    if (!values || !values->is_array() || values->get_array().size() != q.sort.size() || !id || !id->is_string()) {
      bad_cursor();
    }
    const auto& vals = values->get_array();
    for (std::size_t i = 0; i < q.sort.size(); ++i) {
      auto type = sort_column(q.sort[i].field).type;
      bool ok = type == SortType::text      ? vals[i].is_string()
                : type == SortType::integer ? vals[i].is_int64()
                                            : parse_exact_real(vals[i]).has_value();
      if (!ok) bad_cursor();
    }
    auto value = [&](std::size_t i) {
      switch (sort_column(q.sort[i].field).type) {
        case SortType::text: return b.add(std::string(vals[i].get_string()));
        case SortType::integer: return b.add(static_cast<long long>(vals[i].get_int64()));
        case SortType::real: return b.add(*parse_exact_real(vals[i]));
      }
      return std::string();
    };
    // The first key's bound, redundant with the OR below, is what lets the index of the sort
    // start at the cursor: without it SQLite reads the index from its start and skips every
    // row of the pages before, which made an export's pages ever slower. (Placeholders are
    // numbered in the order they are added, which must be the order they appear in.)
    std::string bound;
    if (!q.sort.empty()) {
      bound = " AND " + std::string(sort_column(q.sort[0].field).expression) +
              (q.sort[0].descending ? " <= " : " >= ") + value(0);
    }
    std::string any;
    for (std::size_t i = 0; i <= q.sort.size(); ++i) {
      // Each comparison gets its own placeholder: parameters are bound by position.
      std::string term = "(";
      for (std::size_t j = 0; j < i; ++j) term += std::string(sort_column(q.sort[j].field).expression) + " = " + value(j) + " AND ";
      if (i < q.sort.size()) {
        term += std::string(sort_column(q.sort[i].field).expression) + (q.sort[i].descending ? " < " : " > ") + value(i) + ")";
      } else {
        term += tiebreak + (id_descending ? " < " : " > ");
        if (by_doc) {
          term += search_doc_of(b, tenant_id, std::string(id->get_string()));
        } else {
          term += b.add(std::string(id->get_string()));
        }
        term += ")";
      }
      any += (any.empty() ? "" : " OR ") + term;
    }
    where += bound + " AND (" + any + ")";
  }
  bool searching = !q.filter.search_terms.empty();
  std::string query = std::string("SELECT ") + kCustomerColumns + (searching ? ", s.rank" : "") + " FROM " + from +
                      " WHERE " + where + " ORDER BY " + order + " LIMIT ";
  query += b.add(static_cast<long long>(q.limit));
  return fetch_all<Fetch>(sql, query, b, searching);
}

/// Appends to `out`, in the order of `ranked` (rank, customer id), the customers that pass
/// the query's filters, until `out` holds a page. The customers are read a few more than a
/// page at a time: joining every candidate to its customer, then sorting, read eight times
/// the rows a page shows.
template <class Fetch>
void append_in_order(soci::session& sql, const std::string& tenant_id, const CustomerQuery& q,
                     const std::vector<std::pair<double, std::string>>& ranked, std::vector<RowOf<Fetch>>& out) {
  std::size_t at = 0, chunk = static_cast<std::size_t>(q.limit) + 8;
  while (static_cast<long long>(out.size()) < q.limit && at < ranked.size()) {
    std::size_t n = std::min(chunk, ranked.size() - at);
    // The list is padded to a power of two (with an id no customer has), so that a few
    // statement texts serve every chunk.
    std::size_t slots = 8;
    while (slots < n) slots *= 2;
    // The ids lead the join (SQLite keeps the order of a CROSS JOIN): each is one primary key
    // lookup, where SQLite's planner would otherwise walk a filter's index, such as every
    // active customer's for status=active.
    Binder b;
    std::string text = std::string("SELECT ") + kCustomerColumns + " FROM (VALUES ";
    for (std::size_t i = 0; i < slots; ++i) {
      text += (i ? ", (" : "(") + b.add(i < n ? ranked[at + i].second : std::string()) + ")";
    }
    text += ") AS v CROSS JOIN customer_customers c WHERE c.id = v.column1 AND ";
    text += filter_sql(sql, q.filter, b, tenant_id);
    std::map<std::string, RowOf<Fetch>> found;
    for (auto& row : fetch_all<Fetch>(sql, text, b)) {
      std::string id = row.id;
      found.emplace(std::move(id), std::move(row));
    }
    for (std::size_t i = at; i < at + n && static_cast<long long>(out.size()) < q.limit; ++i) {
      auto it = found.find(ranked[i].second);
      if (it == found.end()) continue;  // filtered out, or deleted
      it->second.search_rank = ranked[i].first;
      out.push_back(std::move(it->second));
    }
    at += n;
    chunk *= 2;
  }
}

/// PostgreSQL: a relevance-ordered page from the best-ranked documents of a window. None when
/// the window held fewer rows than the page needs while more documents match than it held.
template <class Fetch>
std::optional<std::vector<RowOf<Fetch>>> page_from_window(soci::session& sql, const std::string& tenant_id,
                                                          const CustomerQuery& q, const SearchWindow& window) {
  std::vector<std::pair<double, std::string>> ranked;  // in rank order
  {
    Binder b;
    std::string text = "SELECT s.rank, s.customer_id FROM (" + ranked_sql(sql, q.filter, b, tenant_id, &window) +
                       ") s ORDER BY s.rank, s.customer_id";
    double rank = 0;
    std::string id;
    soci::statement st(sql);
    b.bind(st);
    st.exchange(soci::into(rank));
    st.exchange(soci::into(id));
    st.alloc();
    st.prepare(text);
    st.define_and_bind();
    st.execute();
    while (st.fetch()) ranked.emplace_back(rank, id);
  }
  std::vector<RowOf<Fetch>> out;
  append_in_order<Fetch>(sql, tenant_id, q, ranked, out);
  if (static_cast<long long>(out.size()) < q.limit && static_cast<long long>(ranked.size()) >= window.size) {
    return std::nullopt;
  }
  return out;
}

/// SQLite: whether FTS5 reads the matches of every term lazily, in rowid order: terms of 2 to
/// 4 characters come from the prefix indexes (migration 0008). A longer prefix has FTS5
/// gather the posting lists of every word it begins first, whatever LIMIT follows, so each
/// query of a tier costs that again.
bool lazily_matched(const std::vector<std::string>& terms) {
  return std::all_of(terms.begin(), terms.end(), [](const std::string& t) {
    auto chars = std::count_if(t.begin(), t.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
    return chars >= 2 && chars <= 4;
  });
}

/// SQLite: appends to `out`, in the order of `docs` (document key, rank), the customers of
/// those documents that the query's filters keep, until `out` holds a page. Documents are
/// mapped to their customers a few more than the page still needs at first, then twice as
/// many each time (as append_in_order reads them), since a filter that left one round short
/// will likely leave the next one short too: a page usually takes the first few dozen of
/// hundreds. `key` is the statement that maps one.
template <class Fetch>
void append_documents(soci::session& sql, platform::SqliteQuery& key, const std::string& tenant_id,
                      const CustomerQuery& q, const std::vector<std::pair<long long, double>>& docs,
                      std::vector<RowOf<Fetch>>& out) {
  std::size_t at = 0, round = 0;
  while (at < docs.size() && static_cast<long long>(out.size()) < q.limit) {
    round = round ? round * 2 : static_cast<std::size_t>(q.limit) - out.size() + 8;
    std::size_t n = std::min(docs.size() - at, round);
    std::vector<std::pair<double, std::string>> ranked;
    for (std::size_t i = at; i < at + n; ++i) {
      key.reset();
      if (key.bind(1, docs[i].first).step()) {
        if (auto id = key.text(0)) ranked.emplace_back(docs[i].second, std::string(*id));
      }  // else a document without its key
    }
    append_in_order<Fetch>(sql, tenant_id, q, ranked, out);
    at += n;
  }
}

constexpr const char* kCustomerOfDocument = "SELECT customer_id FROM customer_search_keys WHERE doc = :d";

/// SQLite: appends to `out` the customers of the matches ranked after (tier, after_doc), in
/// (tier, document key) order, from one pass over every match that ranks them all with
/// match_tier: a window of the best at a time.
template <class Fetch>
void ranked_rest(soci::session& sql, const std::string& tenant_id, const CustomerQuery& q,
                 std::pair<long long, long long> range, int tier, long long after_doc, std::vector<RowOf<Fetch>>& out) {
  auto [low, high] = range;
  const std::string expression = search_expression(sql, q.filter.search_terms);
  const std::string rank = "CAST(" + sqlite_match_tier() + " AS REAL)";
  const long long window = std::max<long long>(200, 8LL * q.limit);
  // The innermost query has a LIMIT (of none) so that SQLite does not fold it into the one
  // around it, which would compute the rank three times a row.
  platform::SqliteQuery st(sql,
                           "SELECT doc, rank FROM (SELECT rowid AS doc, " + rank +
                               " AS rank FROM customer_search WHERE customer_search MATCH :q AND rowid BETWEEN :lo AND :hi"
                               " LIMIT -1) WHERE rank > :r1 OR (rank = :r2 AND doc > :d) ORDER BY rank, doc LIMIT :n");
  platform::SqliteQuery key(sql, kCustomerOfDocument);
  double after_rank = tier;
  std::vector<std::pair<long long, double>> docs;
  while (static_cast<long long>(out.size()) < q.limit) {
    docs.clear();
    st.reset();
    st.bind(1, expression).bind(2, low).bind(3, high).bind(6, after_doc).bind(7, window);
    st.bind(4, after_rank).bind(5, after_rank);
    while (st.step()) docs.emplace_back(st.integer(0), sqlite_api::sqlite3_column_double(st.get(), 1));
    append_documents<Fetch>(sql, key, tenant_id, q, docs, out);
    if (static_cast<long long>(docs.size()) < window) break;  // that was the last of the matches
    after_doc = docs.back().first;
    after_rank = docs.back().second;
  }
}

/// SQLite: a relevance-ordered page, in (tier, document key) order from the cursor on: the
/// tier as the rank, and the customer whose key the page ended at. Each tier is read on its
/// own, in key order, a few more than a page at a time (terms of 2 to 4 characters, which
/// FTS5 reads lazily) or 512 at a time (longer ones, whose posting lists each query gathers
/// again): a word found in thousands of names then costs what the page needs, not a rank for
/// each match. Terms whose first holds a digit, as in an email address or a phone number, go
/// to ranked_rest instead, one pass that ranks every match: such a prefix begins thousands of
/// distinct words (every address and number), whose gathering costs more than the ranking,
/// and it rarely starts a name. Both give the same order. (Measured on 100,000 customers, the
/// first five letters of a word of their names with status=active: 2.3 ms of CPU a search
/// when the first tier was read a page at a time and the others ranked in one pass, 1.9 ms
/// with the first read 512 at a time, 1.3 ms tier by tier.)
template <class Fetch>
std::vector<RowOf<Fetch>> tiered_page(soci::session& sql, const std::string& tenant_id, const CustomerQuery& q) {
  const auto& terms = q.filter.search_terms;
  int tier = 0;
  long long after_doc = 0;  // 0: from the start of the tier
  const auto range = sqlite_search_range(sql, tenant_id);
  const auto [low, high] = range;
  if (q.after) {
    const auto* values = q.after->if_contains("k");
    const auto* id = q.after->if_contains("id");
    std::optional<double> rank;
    if (values && values->is_array() && values->get_array().size() == 1) rank = parse_exact_real(values->get_array()[0]);
    // Ranks of another kind (a cursor from before the tiers, say) are refused.
    if (!rank || !(*rank >= 0 && *rank < kSearchTiers) || *rank != static_cast<int>(*rank) || !id || !id->is_string()) {
      bad_cursor();
    }
    tier = static_cast<int>(*rank);
    after_doc = search_document_key(sql, tenant_id, std::string_view(id->get_string()));
    if (after_doc == 0) {
      // The customer the page ended at was purged since: its place in the order is gone.
      throw Error::bad_parameter("cursor", "The customer this cursor points after no longer exists; start again.");
    }
  }
  std::vector<RowOf<Fetch>> out;
  const bool lazy = lazily_matched(terms);
  const bool identifier = std::any_of(terms.front().begin(), terms.front().end(),
                                      [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
  constexpr long long kMaxChunk = 512;
  for (; tier < kSearchTiers && static_cast<long long>(out.size()) < q.limit; ++tier, after_doc = 0) {
    if (!lazy && identifier) {
      ranked_rest<Fetch>(sql, tenant_id, q, range, tier, after_doc, out);
      break;
    }
    std::string expression = sqlite_tier_expression(terms, tier);
    platform::SqliteQuery st(sql,
                             "SELECT rowid FROM customer_search WHERE customer_search MATCH :q"
                             " AND rowid BETWEEN :lo AND :hi ORDER BY rowid LIMIT :n");
    platform::SqliteQuery key(sql, kCustomerOfDocument);
    long long from = after_doc ? after_doc + 1 : low;
    // Each query of a longer prefix gathers its posting lists again: it reads the most at once
    // (filters such as status=active can leave pages of the first few dozen short).
    long long chunk = lazy ? std::min<long long>(kMaxChunk, q.limit + 8) : kMaxChunk;
    std::vector<std::pair<long long, double>> docs;
    while (static_cast<long long>(out.size()) < q.limit && from <= high) {
      docs.clear();
      st.reset();
      st.bind(1, expression).bind(2, from).bind(3, high).bind(4, chunk);
      while (st.step()) docs.emplace_back(st.integer(0), static_cast<double>(tier));
      append_documents<Fetch>(sql, key, tenant_id, q, docs, out);
      if (static_cast<long long>(docs.size()) < chunk) break;  // the tier has no more documents
      from = docs.back().first + 1;
      chunk = std::min(kMaxChunk, chunk * 2);
    }
  }
  return out;
}

template <class Fetch>
std::vector<RowOf<Fetch>> list_rows(soci::session& sql, const std::string& tenant_id, const CustomerQuery& q) {
  bool by_relevance = !q.filter.search_terms.empty() && q.sort.size() == 1 && q.sort[0].field == "relevance" &&
                      !q.sort[0].descending;
  if (!by_relevance) return list_page<Fetch>(sql, tenant_id, q);
  if (!is_postgres(sql)) return tiered_page<Fetch>(sql, tenant_id, q);
  // The page is looked for among the best-ranked documents first. Filters and deleted
  // customers can leave it short; then, if more documents match than the window held, the
  // page comes from all of them.
  SearchWindow window;
  window.size = std::max<long long>(200, 8LL * q.limit);
  if (q.after) {
    const auto* values = q.after->if_contains("k");
    const auto* id = q.after->if_contains("id");
    std::optional<double> rank;
    if (values && values->is_array() && values->get_array().size() == 1) rank = parse_exact_real(values->get_array()[0]);
    if (!rank || !id || !id->is_string()) bad_cursor();
    window.after_rank = *rank;
    window.after_id = std::string(id->get_string());
  }
  if (auto rows = page_from_window<Fetch>(sql, tenant_id, q, window)) return std::move(*rows);
  return list_page<Fetch>(sql, tenant_id, q);
}

}  // namespace

std::vector<CustomerRow> list_customers(soci::session& sql, const std::string& tenant_id, const CustomerQuery& q) {
  return list_rows<CustomerFetch>(sql, tenant_id, q);
}

std::vector<CustomerDocument> list_customer_documents(soci::session& sql, const std::string& tenant_id,
                                                      const CustomerQuery& q) {
  return list_rows<CustomerDocumentFetch>(sql, tenant_id, q);
}

std::int64_t count_customers(soci::session& sql, const std::string& tenant_id, const CustomerFilter& f) {
  Binder b;
  std::string from = from_sql(sql, f, b, tenant_id, false);
  std::string where = filter_sql(sql, f, b, tenant_id);
  return b.scalar(sql, "SELECT COUNT(*) FROM " + from + " WHERE " + where);
}

std::pair<std::int64_t, std::int64_t> replace_segment_snapshot(soci::session& sql, const std::string& tenant_id,
                                                              const std::string& segment_id, const CustomerFilter& f,
                                                              TimestampMs now) {
  auto run = [&sql](const std::string& text, const Binder& b) {
    soci::statement st(sql);
    b.bind(st);
    st.alloc();
    st.prepare(text);
    st.define_and_bind();
    st.execute(true);
    return static_cast<std::int64_t>(st.get_affected_rows());
  };
  // Both statements select the matching customers in SQL: a snapshot never passes through
  // memory, however many customers a filter matches.
  Binder gone;
  std::string remove = "DELETE FROM customer_segment_members WHERE tenant_id = " + gone.add(tenant_id);
  remove += " AND segment_id = " + gone.add(segment_id);
  remove += " AND customer_id NOT IN (SELECT c.id FROM customer_customers c WHERE ";
  remove += filter_sql(sql, f, gone, tenant_id);
  remove += ")";
  auto removed = run(remove, gone);
  Binder fresh;
  std::string add = "INSERT INTO customer_segment_members (tenant_id, segment_id, customer_id, added_at)"
                    " SELECT c.tenant_id, CAST(";
  add += fresh.add(segment_id);
  add += " AS TEXT), c.id, CAST(";
  add += fresh.add(static_cast<long long>(now));
  add += " AS BIGINT) FROM customer_customers c WHERE ";
  add += filter_sql(sql, f, fresh, tenant_id);
  add += " AND NOT EXISTS (SELECT 1 FROM customer_segment_members x WHERE x.tenant_id = c.tenant_id"
         " AND x.segment_id = ";
  add += fresh.add(segment_id);
  add += " AND x.customer_id = c.id)";
  auto added = run(add, fresh);
  return {added, removed};
}

}  // namespace crm::customer::store
