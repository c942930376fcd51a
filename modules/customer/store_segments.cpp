// Segment SQL, with bound parameters only. Every statement is scoped by tenant.
#include "customer_internal.hpp"
#include "store_binder.hpp"

#include <soci/soci.h>

namespace crm::customer::store {

namespace {

using platform::Error;

// Ids per statement: well under SQLite's and PostgreSQL's parameter limits.
constexpr std::size_t kIdsPerStatement = 500;

// A static segment counts its live members when read; a dynamic one shows its snapshot.
constexpr const char* kSegmentColumns =
    "s.tenant_id, s.id, s.name, s.description, s.type, s.filter,"
    " CASE WHEN s.type = 'static' THEN (SELECT COUNT(*) FROM customer_segment_members m"
    " JOIN customer_customers c ON c.tenant_id = m.tenant_id AND c.id = m.customer_id"
    " WHERE m.tenant_id = s.tenant_id AND m.segment_id = s.id AND c.deleted_at IS NULL) ELSE s.member_count END,"
    " s.refreshed_at, s.created_by, s.version, s.created_at, s.updated_at";

struct SegmentFetch {
  SegmentRow row;
  std::string description, filter, created_by;
  soci::indicator description_ind = soci::i_null, filter_ind = soci::i_null, refreshed_ind = soci::i_null,
                  created_by_ind = soci::i_null;
  long long member_count = 0, refreshed = 0, created = 0, updated = 0;

  void bind(soci::statement& st) {
    st.exchange(soci::into(row.tenant_id));
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.name));
    st.exchange(soci::into(description, description_ind));
    st.exchange(soci::into(row.type));
    st.exchange(soci::into(filter, filter_ind));
    st.exchange(soci::into(member_count));
    st.exchange(soci::into(refreshed, refreshed_ind));
    st.exchange(soci::into(created_by, created_by_ind));
    st.exchange(soci::into(row.version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
  }
  SegmentRow take() const {
    SegmentRow s = row;
    if (description_ind == soci::i_ok) s.description = description;
    if (filter_ind == soci::i_ok) s.filter = filter;
    s.member_count = member_count;
    if (refreshed_ind == soci::i_ok) s.refreshed_at = refreshed;
    if (created_by_ind == soci::i_ok) s.created_by = created_by;
    s.created_at = created;
    s.updated_at = updated;
    return s;
  }
};

std::vector<SegmentRow> fetch_segments(soci::session& sql, const std::string& query, const Binder& b) {
  SegmentFetch f;
  soci::statement st(sql);
  b.bind(st);
  f.bind(st);
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
  st.execute();
  std::vector<SegmentRow> out;
  while (st.fetch()) out.push_back(f.take());
  return out;
}

std::int64_t execute(soci::session& sql, const std::string& query, const Binder& b) {
  soci::statement st(sql);
  b.bind(st);
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
  st.execute(true);
  return static_cast<std::int64_t>(st.get_affected_rows());
}

/// " IN (...)" of the ids from `start`, at most kIdsPerStatement of them.
std::string in_list(Binder& b, const std::vector<std::string>& ids, std::size_t start) {
  std::string out = " IN (";
  for (std::size_t i = start; i < ids.size() && i < start + kIdsPerStatement; ++i) out += (i > start ? ", " : "") + b.add(ids[i]);
  return out + ")";
}

/// The ids a query returns when restricted to `ids`, in chunks: `head(b)` writes the query
/// up to the column compared (binding its own parameters first).
template <class Head>
std::vector<std::string> select_in(soci::session& sql, const std::vector<std::string>& ids, const Head& head) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < ids.size(); start += kIdsPerStatement) {
    Binder b;
    std::string q = head(b);
    q += in_list(b, ids, start);
    std::string id;
    soci::statement st(sql);
    b.bind(st);
    st.exchange(soci::into(id));
    st.alloc();
    st.prepare(q);
    st.define_and_bind();
    st.execute();
    while (st.fetch()) out.push_back(id);
  }
  return out;
}

/// The sort column of a segment listing (a whitelisted name, never request text).
const char* sort_expression(const std::string& field) {
  if (field == "name") return "s.name";
  if (field == "created_at") return "s.created_at";
  if (field == "updated_at") return "s.updated_at";
  throw Error::bad_parameter("sort", "Unknown sort field " + field + ".");
}

/// LIKE pattern matching `text` anywhere, with %, _ and the escape character escaped.
std::string contains_pattern(const std::string& text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

std::string where_sql(const std::string& tenant_id, const SegmentQuery& q, Binder& b) {
  std::string where = "s.tenant_id = " + b.add(tenant_id);
  if (q.type) where += " AND s.type = " + b.add(*q.type);
  if (q.name_contains) where += " AND s.name_key LIKE " + b.add(contains_pattern(*q.name_contains)) + " ESCAPE '\\'";
  return where;
}

[[noreturn]] void bad_cursor() { throw Error::bad_parameter("cursor", "The cursor is not valid for this collection."); }

}  // namespace

void lock_segments(soci::session& sql, const std::string& tenant_id) {
  // The same row-lock upsert as the customer code sequence, on a row of its own.
  std::string name = "segment_names";
  sql << "INSERT INTO customer_sequences (tenant_id, name, last_value) VALUES (:t, :n, 0)"
         " ON CONFLICT (tenant_id, name) DO UPDATE SET last_value = customer_sequences.last_value",
      soci::use(tenant_id), soci::use(name);
}

void lock_segment(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  sql << "UPDATE customer_segments SET version = version WHERE tenant_id = :t AND id = :id", soci::use(tenant_id),
      soci::use(id);
}

std::optional<SegmentRow> segment(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  Binder b;
  std::string q = std::string("SELECT ") + kSegmentColumns + " FROM customer_segments s WHERE s.tenant_id = ";
  q += b.add(tenant_id);
  q += " AND s.id = ";
  q += b.add(id);
  auto rows = fetch_segments(sql, q, b);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

std::optional<std::string> segment_with_name(soci::session& sql, const std::string& tenant_id,
                                             const std::string& name_key) {
  std::string id;
  soci::indicator ind = soci::i_null;
  sql << "SELECT id FROM customer_segments WHERE tenant_id = :t AND name_key = :k", soci::use(tenant_id),
      soci::use(name_key), soci::into(id, ind);
  if (sql.got_data() && ind == soci::i_ok) return id;
  return std::nullopt;
}

void insert_segment(soci::session& sql, const SegmentRow& s, const std::string& name_key) {
  soci::indicator description_ind = s.description ? soci::i_ok : soci::i_null;
  soci::indicator filter_ind = s.filter ? soci::i_ok : soci::i_null;
  soci::indicator refreshed_ind = s.refreshed_at ? soci::i_ok : soci::i_null;
  soci::indicator created_by_ind = s.created_by.empty() ? soci::i_null : soci::i_ok;
  std::string description = s.description.value_or(""), filter = s.filter.value_or("");
  long long count = s.member_count, refreshed = s.refreshed_at.value_or(0), created = s.created_at,
            updated = s.updated_at;
  sql << "INSERT INTO customer_segments (tenant_id, id, name, name_key, description, type, filter, member_count,"
         " refreshed_at, created_by, version, created_at, updated_at)"
         " VALUES (:t, :id, :name, :key, :d, :type, :f, :n, :r, :cb, 1, :ca, :ua)",
      soci::use(s.tenant_id), soci::use(s.id), soci::use(s.name), soci::use(name_key),
      soci::use(description, description_ind), soci::use(s.type), soci::use(filter, filter_ind), soci::use(count),
      soci::use(refreshed, refreshed_ind), soci::use(s.created_by, created_by_ind), soci::use(created),
      soci::use(updated);
}

bool update_segment(soci::session& sql, const SegmentRow& s, const std::string& name_key, int expected_version) {
  soci::indicator description_ind = s.description ? soci::i_ok : soci::i_null;
  soci::indicator filter_ind = s.filter ? soci::i_ok : soci::i_null;
  std::string description = s.description.value_or(""), filter = s.filter.value_or("");
  long long updated = s.updated_at;
  soci::statement st =
      (sql.prepare << "UPDATE customer_segments SET name = :name, name_key = :key, description = :d, filter = :f,"
                      " version = version + 1, updated_at = :ua WHERE tenant_id = :t AND id = :id AND version = :v",
       soci::use(s.name), soci::use(name_key), soci::use(description, description_ind),
       soci::use(filter, filter_ind), soci::use(updated), soci::use(s.tenant_id), soci::use(s.id),
       soci::use(expected_version));
  st.execute(true);
  return st.get_affected_rows() > 0;
}

void set_segment_count(soci::session& sql, const std::string& tenant_id, const std::string& id, std::int64_t count,
                       TimestampMs refreshed_at) {
  long long n = count, at = refreshed_at;
  sql << "UPDATE customer_segments SET member_count = :n, refreshed_at = :r WHERE tenant_id = :t AND id = :id",
      soci::use(n), soci::use(at), soci::use(tenant_id), soci::use(id);
}

void delete_segment(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  // Members first: SQLite enforces the foreign keys only when the connection turned them on.
  sql << "DELETE FROM customer_segment_members WHERE tenant_id = :t AND segment_id = :s", soci::use(tenant_id),
      soci::use(id);
  sql << "DELETE FROM customer_segments WHERE tenant_id = :t AND id = :s", soci::use(tenant_id), soci::use(id);
}

std::vector<SegmentRow> list_segments(soci::session& sql, const std::string& tenant_id, const SegmentQuery& q) {
  Binder b;
  std::string where = where_sql(tenant_id, q, b);
  std::string column = sort_expression(q.sort.field);
  const char* dir = q.sort.descending ? " DESC" : " ASC";
  if (q.after) {
    // Keyset: rows strictly after the cursor's (value, id) in the ORDER BY.
    const auto* k = q.after->if_contains("k");
    const auto* id = q.after->if_contains("id");
    bool text = q.sort.field == "name";
    if (!k || !id || !id->is_string() || (text ? !k->is_string() : !k->is_int64())) bad_cursor();
    auto value = [&] {
      return text ? b.add(std::string(k->get_string())) : b.add(static_cast<long long>(k->get_int64()));
    };
    const char* cmp = q.sort.descending ? " < " : " > ";
    where += " AND (" + column + cmp + value();
    where += " OR (" + column + " = " + value();
    where += " AND s.id" + std::string(cmp) + b.add(std::string(id->get_string())) + "))";
  }
  std::string query = std::string("SELECT ") + kSegmentColumns + " FROM customer_segments s WHERE " + where +
                      " ORDER BY " + column + dir + ", s.id" + dir + " LIMIT ";
  query += b.add(static_cast<long long>(q.limit));
  return fetch_segments(sql, query, b);
}

std::int64_t count_segments(soci::session& sql, const std::string& tenant_id, const SegmentQuery& q) {
  Binder b;
  std::string where = where_sql(tenant_id, q, b);
  return b.scalar(sql, "SELECT COUNT(*) FROM customer_segments s WHERE " + where);
}

std::vector<std::string> live_customers_among(soci::session& sql, const std::string& tenant_id,
                                              const std::vector<std::string>& ids) {
  return select_in(sql, ids, [&](Binder& b) {
    return "SELECT id FROM customer_customers WHERE tenant_id = " + b.add(tenant_id) + " AND deleted_at IS NULL AND id";
  });
}

std::vector<std::string> member_ids(soci::session& sql, const std::string& tenant_id, const std::string& segment_id) {
  std::vector<std::string> out;
  std::string id;
  soci::statement st = (sql.prepare << "SELECT customer_id FROM customer_segment_members"
                                       " WHERE tenant_id = :t AND segment_id = :s ORDER BY customer_id",
                        soci::use(tenant_id), soci::use(segment_id), soci::into(id));
  st.execute();
  while (st.fetch()) out.push_back(id);
  return out;
}

std::vector<std::string> members_among(soci::session& sql, const std::string& tenant_id, const std::string& segment_id,
                                       const std::vector<std::string>& customer_ids) {
  return select_in(sql, customer_ids, [&](Binder& b) {
    std::string q = "SELECT customer_id FROM customer_segment_members WHERE tenant_id = " + b.add(tenant_id);
    q += " AND segment_id = " + b.add(segment_id);
    return q + " AND customer_id";
  });
}

std::int64_t add_members(soci::session& sql, const std::string& tenant_id, const std::string& segment_id,
                         const std::vector<std::string>& customer_ids, TimestampMs now) {
  std::int64_t added = 0;
  for (std::size_t start = 0; start < customer_ids.size(); start += kIdsPerStatement) {
    Binder b;
    std::string q = "INSERT INTO customer_segment_members (tenant_id, segment_id, customer_id, added_at) VALUES ";
    for (std::size_t i = start; i < customer_ids.size() && i < start + kIdsPerStatement; ++i) {
      q += i > start ? ", (" : "(";
      q += b.add(tenant_id);
      q += ", ";
      q += b.add(segment_id);
      q += ", ";
      q += b.add(customer_ids[i]);
      q += ", ";
      q += b.add(static_cast<long long>(now));
      q += ")";
    }
    q += " ON CONFLICT DO NOTHING";
    added += execute(sql, q, b);
  }
  return added;
}

std::int64_t remove_members(soci::session& sql, const std::string& tenant_id, const std::string& segment_id,
                            const std::vector<std::string>& customer_ids) {
  std::int64_t removed = 0;
  for (std::size_t start = 0; start < customer_ids.size(); start += kIdsPerStatement) {
    Binder b;
    std::string q = "DELETE FROM customer_segment_members WHERE tenant_id = " + b.add(tenant_id);
    q += " AND segment_id = " + b.add(segment_id);
    q += " AND customer_id" + in_list(b, customer_ids, start);
    removed += execute(sql, q, b);
  }
  return removed;
}

std::int64_t count_live_members(soci::session& sql, const std::string& tenant_id, const std::string& segment_id) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM customer_segment_members m"
         " JOIN customer_customers c ON c.tenant_id = m.tenant_id AND c.id = m.customer_id"
         " WHERE m.tenant_id = :t AND m.segment_id = :s AND c.deleted_at IS NULL",
      soci::use(tenant_id), soci::use(segment_id), soci::into(n);
  return n;
}

void move_static_memberships(soci::session& sql, const std::string& tenant_id, const std::string& from,
                             const std::string& to) {
  sql << "INSERT INTO customer_segment_members (tenant_id, segment_id, customer_id, added_at)"
         " SELECT m.tenant_id, m.segment_id, CAST(:to AS TEXT), m.added_at FROM customer_segment_members m"
         " JOIN customer_segments s ON s.tenant_id = m.tenant_id AND s.id = m.segment_id AND s.type = 'static'"
         " WHERE m.tenant_id = :t AND m.customer_id = :from AND NOT EXISTS (SELECT 1 FROM customer_segment_members x"
         " WHERE x.tenant_id = m.tenant_id AND x.segment_id = m.segment_id AND x.customer_id = :to2)",
      soci::use(to), soci::use(tenant_id), soci::use(from), soci::use(to);
  sql << "DELETE FROM customer_segment_members WHERE tenant_id = :t AND customer_id = :from AND segment_id IN"
         " (SELECT id FROM customer_segments WHERE tenant_id = :t2 AND type = 'static')",
      soci::use(tenant_id), soci::use(from), soci::use(tenant_id);
}

}  // namespace crm::customer::store
