// SQL of contacts, notes and activities: always scoped by tenant and customer.
#include "customer_internal.hpp"

#include <soci/soci.h>

namespace crm::customer::store {

namespace {

namespace json = platform::json;
using platform::Error;

[[noreturn]] void bad_cursor() { throw Error::bad_parameter("cursor", "The cursor is not valid for this collection."); }

struct Opt {
  std::string value;
  soci::indicator ind = soci::i_null;
  Opt() = default;
  explicit Opt(const std::optional<std::string>& v) {
    if (v) value = *v, ind = soci::i_ok;
  }
  std::optional<std::string> get() const { return ind == soci::i_ok ? std::optional<std::string>(value) : std::nullopt; }
};
struct OptNum {
  long long value = 0;
  soci::indicator ind = soci::i_null;
  OptNum() = default;
  explicit OptNum(const std::optional<long long>& v) {
    if (v) value = *v, ind = soci::i_ok;
  }
  std::optional<long long> get() const { return ind == soci::i_ok ? std::optional<long long>(value) : std::nullopt; }
};

bj::array to_array(const std::string& s) {
  auto v = json::parse_relaxed(s);
  return v.is_array() ? v.get_array() : bj::array{};
}
bj::object to_object(const std::string& s) {
  auto v = json::parse_relaxed(s);
  return v.is_object() ? v.get_object() : bj::object{};
}

/// (created_at, id) of a "newest first" cursor; INT64_MAX and "~" before the first page.
std::pair<long long, std::string> position(const std::optional<bj::object>& after, const char* key = "at") {
  if (!after) return {INT64_MAX, "~"};
  const auto* at = after->if_contains(key);
  const auto* id = after->if_contains("id");
  if (!at || !at->is_int64() || !id || !id->is_string()) bad_cursor();
  return {at->get_int64(), std::string(id->get_string())};
}

constexpr const char* kContactColumns =
    "tenant_id, id, customer_id, first_name, last_name, email, phones, job_title, department, roles, is_primary,"
    " communication_preferences, last_contacted_at, version, created_at, updated_at";

struct ContactFetch {
  ContactRow row;
  Opt last_name, email, job_title, department;
  std::string phones, roles, prefs;
  int primary = 0;
  OptNum last_contacted;
  long long created = 0, updated = 0;
  void bind(soci::statement& st) {
    st.exchange(soci::into(row.tenant_id));
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.customer_id));
    st.exchange(soci::into(row.first_name));
    st.exchange(soci::into(last_name.value, last_name.ind));
    st.exchange(soci::into(email.value, email.ind));
    st.exchange(soci::into(phones));
    st.exchange(soci::into(job_title.value, job_title.ind));
    st.exchange(soci::into(department.value, department.ind));
    st.exchange(soci::into(roles));
    st.exchange(soci::into(primary));
    st.exchange(soci::into(prefs));
    st.exchange(soci::into(last_contacted.value, last_contacted.ind));
    st.exchange(soci::into(row.version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
  }
  ContactRow take() const {
    ContactRow c = row;
    c.last_name = last_name.get();
    c.email = email.get();
    c.job_title = job_title.get();
    c.department = department.get();
    c.phones = to_array(phones);
    c.roles = to_array(roles);
    c.is_primary = primary != 0;
    c.communication_preferences = to_object(prefs);
    if (auto l = last_contacted.get()) c.last_contacted_at = *l;
    c.created_at = created;
    c.updated_at = updated;
    return c;
  }
};

std::vector<ContactRow> fetch_contacts(soci::session& sql, const std::string& where, const std::string& tenant_id,
                                       const std::string& customer_id, const std::string* id) {
  ContactFetch f;
  soci::statement st(sql);
  st.exchange(soci::use(tenant_id));
  st.exchange(soci::use(customer_id));
  if (id) st.exchange(soci::use(*id));
  f.bind(st);
  st.alloc();
  st.prepare(std::string("SELECT ") + kContactColumns + " FROM customer_contacts WHERE " + where);
  st.define_and_bind();
  st.execute();
  std::vector<ContactRow> out;
  while (st.fetch()) out.push_back(f.take());
  return out;
}

constexpr const char* kNoteColumns =
    "tenant_id, id, customer_id, body, pinned, pinned_at, author_id, version, created_at, updated_at";

struct NoteFetch {
  NoteRow row;
  int pinned = 0;
  OptNum pinned_at;
  Opt author;
  long long created = 0, updated = 0;
  void bind(soci::statement& st) {
    st.exchange(soci::into(row.tenant_id));
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.customer_id));
    st.exchange(soci::into(row.body));
    st.exchange(soci::into(pinned));
    st.exchange(soci::into(pinned_at.value, pinned_at.ind));
    st.exchange(soci::into(author.value, author.ind));
    st.exchange(soci::into(row.version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
  }
  NoteRow take() const {
    NoteRow n = row;
    n.pinned = pinned != 0;
    if (auto p = pinned_at.get()) n.pinned_at = *p;
    n.author_id = author.get().value_or("");
    n.created_at = created;
    n.updated_at = updated;
    return n;
  }
};

constexpr const char* kActivityColumns =
    "tenant_id, id, customer_id, type, subject, body, occurred_at, duration_minutes, outcome, contact_id, status,"
    " created_by, version, created_at, updated_at";

struct ActivityFetch {
  ActivityRow row;
  Opt subject, body, outcome, contact_id, created_by;
  OptNum occurred_at;
  int duration = 0;
  soci::indicator duration_ind = soci::i_null;
  long long created = 0, updated = 0;
  void bind(soci::statement& st) {
    st.exchange(soci::into(row.tenant_id));
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.customer_id));
    st.exchange(soci::into(row.type));
    st.exchange(soci::into(subject.value, subject.ind));
    st.exchange(soci::into(body.value, body.ind));
    st.exchange(soci::into(occurred_at.value, occurred_at.ind));
    st.exchange(soci::into(duration, duration_ind));
    st.exchange(soci::into(outcome.value, outcome.ind));
    st.exchange(soci::into(contact_id.value, contact_id.ind));
    st.exchange(soci::into(row.status));
    st.exchange(soci::into(created_by.value, created_by.ind));
    st.exchange(soci::into(row.version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
  }
  ActivityRow take() const {
    ActivityRow a = row;
    a.subject = subject.get();
    a.body = body.get();
    if (auto o = occurred_at.get()) a.occurred_at = *o;
    if (duration_ind == soci::i_ok) a.duration_minutes = duration;
    a.outcome = outcome.get();
    a.contact_id = contact_id.get();
    a.created_by = created_by.get().value_or("");
    a.created_at = created;
    a.updated_at = updated;
    return a;
  }
};

}  // namespace

std::vector<ContactRow> contacts(soci::session& sql, const std::string& tenant_id, const std::string& customer_id) {
  return fetch_contacts(sql, "tenant_id = :t AND customer_id = :c ORDER BY is_primary DESC, created_at, id", tenant_id,
                        customer_id, nullptr);
}

std::optional<ContactRow> contact(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                                  const std::string& id) {
  auto rows = fetch_contacts(sql, "tenant_id = :t AND customer_id = :c AND id = :id", tenant_id, customer_id, &id);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

std::int64_t count_contacts(soci::session& sql, const std::string& tenant_id, const std::string& customer_id) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM customer_contacts WHERE tenant_id = :t AND customer_id = :c", soci::use(tenant_id),
      soci::use(customer_id), soci::into(n);
  return n;
}

void insert_contact(soci::session& sql, const ContactRow& c) {
  Opt last(c.last_name), email(c.email), job(c.job_title), dept(c.department);
  OptNum contacted(c.last_contacted_at ? std::optional<long long>(*c.last_contacted_at) : std::nullopt);
  std::string phones = json::dump(c.phones), roles = json::dump(c.roles), prefs = json::dump(c.communication_preferences);
  long long created = c.created_at, updated = c.updated_at;
  int primary = c.is_primary ? 1 : 0;
  sql << "INSERT INTO customer_contacts (tenant_id, id, customer_id, first_name, last_name, email, phones, job_title,"
         " department, roles, is_primary, communication_preferences, last_contacted_at, version, created_at,"
         " updated_at) VALUES (:t, :id, :c, :fn, :ln, :e, :ph, :jt, :d, :r, :p, :cp, :lc, 1, :ca, :ua)",
      soci::use(c.tenant_id), soci::use(c.id), soci::use(c.customer_id), soci::use(c.first_name),
      soci::use(last.value, last.ind), soci::use(email.value, email.ind), soci::use(phones),
      soci::use(job.value, job.ind), soci::use(dept.value, dept.ind), soci::use(roles), soci::use(primary), soci::use(prefs),
      soci::use(contacted.value, contacted.ind), soci::use(created), soci::use(updated);
}

bool update_contact(soci::session& sql, const ContactRow& c, int expected_version) {
  Opt last(c.last_name), email(c.email), job(c.job_title), dept(c.department);
  OptNum contacted(c.last_contacted_at ? std::optional<long long>(*c.last_contacted_at) : std::nullopt);
  std::string phones = json::dump(c.phones), roles = json::dump(c.roles), prefs = json::dump(c.communication_preferences);
  long long updated = c.updated_at;
  soci::statement st =
      (sql.prepare << "UPDATE customer_contacts SET first_name = :fn, last_name = :ln, email = :e, phones = :ph,"
                      " job_title = :jt, department = :d, roles = :r, communication_preferences = :cp,"
                      " last_contacted_at = :lc, version = version + 1, updated_at = :ua"
                      " WHERE tenant_id = :t AND id = :id AND version = :v",
       soci::use(c.first_name), soci::use(last.value, last.ind), soci::use(email.value, email.ind),
       soci::use(phones), soci::use(job.value, job.ind), soci::use(dept.value, dept.ind), soci::use(roles),
       soci::use(prefs), soci::use(contacted.value, contacted.ind), soci::use(updated), soci::use(c.tenant_id),
       soci::use(c.id), soci::use(expected_version));
  st.execute(true);
  return st.get_affected_rows() > 0;
}

void touch_contact_reached(soci::session& sql, const std::string& tenant_id, const std::string& contact_id,
                           TimestampMs at) {
  long long t = at;
  sql << "UPDATE customer_contacts SET last_contacted_at = :a WHERE tenant_id = :t AND id = :i"
         " AND (last_contacted_at IS NULL OR last_contacted_at < :a2)",
      soci::use(t), soci::use(tenant_id), soci::use(contact_id), soci::use(t);
}

void delete_contact(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  sql << "DELETE FROM customer_contacts WHERE tenant_id = :t AND id = :id", soci::use(tenant_id), soci::use(id);
}

void set_primary_contact(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                         const std::string& contact_id, TimestampMs now) {
  long long n = now;
  // Clear first, then set: the partial unique index allows one primary at any moment.
  sql << "UPDATE customer_contacts SET is_primary = 0, version = version + 1, updated_at = :n"
         " WHERE tenant_id = :t AND customer_id = :c AND is_primary = 1 AND id <> :id",
      soci::use(n), soci::use(tenant_id), soci::use(customer_id), soci::use(contact_id);
  sql << "UPDATE customer_contacts SET is_primary = 1, version = version + 1, updated_at = :n"
         " WHERE tenant_id = :t AND customer_id = :c AND id = :id AND is_primary = 0",
      soci::use(n), soci::use(tenant_id), soci::use(customer_id), soci::use(contact_id);
}

std::array<std::int64_t, 3> move_children(soci::session& sql, const std::string& tenant_id, const std::string& from,
                                          const std::string& to, TimestampMs now) {
  auto count = [&](const char* table, const std::string& customer) {
    long long n = 0;
    sql << std::string("SELECT COUNT(*) FROM ") + table + " WHERE tenant_id = :t AND customer_id = :c",
        soci::use(tenant_id), soci::use(customer), soci::into(n);
    return static_cast<std::int64_t>(n);
  };
  std::array<std::int64_t, 3> moved{count("customer_contacts", from), count("customer_notes", from),
                                    count("customer_activities", from)};
  long long n = now;
  long long target_primaries = 0;
  sql << "SELECT COUNT(*) FROM customer_contacts WHERE tenant_id = :t AND customer_id = :c AND is_primary = 1",
      soci::use(tenant_id), soci::use(to), soci::into(target_primaries);
  if (target_primaries > 0) {
    sql << "UPDATE customer_contacts SET is_primary = 0, version = version + 1, updated_at = :n"
           " WHERE tenant_id = :t AND customer_id = :c AND is_primary = 1",
        soci::use(n), soci::use(tenant_id), soci::use(from);
  }
  sql << "UPDATE customer_contacts SET customer_id = :to, version = version + 1, updated_at = :n"
         " WHERE tenant_id = :t AND customer_id = :c",
      soci::use(to), soci::use(n), soci::use(tenant_id), soci::use(from);
  for (const char* table : {"customer_notes", "customer_activities"}) {
    sql << std::string("UPDATE ") + table +
               " SET customer_id = :to, version = version + 1, updated_at = :n WHERE tenant_id = :t AND customer_id = :c",
        soci::use(to), soci::use(n), soci::use(tenant_id), soci::use(from);
  }
  sql << "UPDATE customer_timeline SET customer_id = :to WHERE tenant_id = :t AND customer_id = :c", soci::use(to),
      soci::use(tenant_id), soci::use(from);
  move_static_memberships(sql, tenant_id, from, to);
  return moved;
}

std::vector<NoteRow> notes(soci::session& sql, const std::string& tenant_id, const std::string& customer_id, int limit,
                           const std::optional<bj::object>& after) {
  // Pinned first, then newest first; the cursor holds (pinned, created_at, id) of the last one.
  int pinned = 2;
  auto [at, id] = position(after);
  if (after) {
    const auto* p = after->if_contains("pinned");
    if (!p || !p->is_int64() || (p->get_int64() != 0 && p->get_int64() != 1)) bad_cursor();
    pinned = static_cast<int>(p->get_int64());
  }
  long long lim = limit;
  NoteFetch f;
  soci::statement st(sql);
  st.exchange(soci::use(tenant_id));
  st.exchange(soci::use(customer_id));
  st.exchange(soci::use(pinned));
  st.exchange(soci::use(at));
  st.exchange(soci::use(id));
  st.exchange(soci::use(lim));
  f.bind(st);
  st.alloc();
  st.prepare(std::string("SELECT ") + kNoteColumns +
             " FROM customer_notes WHERE tenant_id = :t AND customer_id = :c AND (pinned, created_at, id) < (:p, :a, :i)"
             " ORDER BY pinned DESC, created_at DESC, id DESC LIMIT :l");
  st.define_and_bind();
  st.execute();
  std::vector<NoteRow> out;
  while (st.fetch()) out.push_back(f.take());
  return out;
}

std::optional<NoteRow> note(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                            const std::string& id) {
  NoteFetch f;
  soci::statement st(sql);
  st.exchange(soci::use(tenant_id));
  st.exchange(soci::use(customer_id));
  st.exchange(soci::use(id));
  f.bind(st);
  st.alloc();
  st.prepare(std::string("SELECT ") + kNoteColumns +
             " FROM customer_notes WHERE tenant_id = :t AND customer_id = :c AND id = :id");
  st.define_and_bind();
  st.execute();
  if (!st.fetch()) return std::nullopt;
  return f.take();
}

void insert_note(soci::session& sql, const NoteRow& n) {
  int pinned = n.pinned ? 1 : 0;
  OptNum pinned_at(n.pinned_at ? std::optional<long long>(*n.pinned_at) : std::nullopt);
  Opt author(n.author_id.empty() ? std::nullopt : std::optional<std::string>(n.author_id));
  long long created = n.created_at, updated = n.updated_at;
  sql << "INSERT INTO customer_notes (tenant_id, id, customer_id, body, pinned, pinned_at, author_id, version,"
         " created_at, updated_at) VALUES (:t, :id, :c, :b, :p, :pa, :a, 1, :ca, :ua)",
      soci::use(n.tenant_id), soci::use(n.id), soci::use(n.customer_id), soci::use(n.body), soci::use(pinned),
      soci::use(pinned_at.value, pinned_at.ind), soci::use(author.value, author.ind), soci::use(created),
      soci::use(updated);
}

bool update_note(soci::session& sql, const NoteRow& n, int expected_version) {
  int pinned = n.pinned ? 1 : 0;
  OptNum pinned_at(n.pinned_at ? std::optional<long long>(*n.pinned_at) : std::nullopt);
  long long updated = n.updated_at;
  soci::statement st =
      (sql.prepare << "UPDATE customer_notes SET body = :b, pinned = :p, pinned_at = :pa, version = version + 1,"
                      " updated_at = :ua WHERE tenant_id = :t AND id = :id AND version = :v",
       soci::use(n.body), soci::use(pinned), soci::use(pinned_at.value, pinned_at.ind), soci::use(updated),
       soci::use(n.tenant_id), soci::use(n.id), soci::use(expected_version));
  st.execute(true);
  return st.get_affected_rows() > 0;
}

void delete_note(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  sql << "DELETE FROM customer_notes WHERE tenant_id = :t AND id = :id", soci::use(tenant_id), soci::use(id);
}

std::vector<ActivityRow> activities(soci::session& sql, const std::string& tenant_id,
                                    const std::optional<std::string>& customer_id,
                                    const std::optional<std::string>& status, int limit,
                                    const std::optional<bj::object>& after) {
  auto [at, id] = position(after);
  std::string customer = customer_id.value_or(""), wanted = status.value_or("");
  int any_customer = customer_id ? 0 : 1, any_status = status ? 0 : 1;
  long long lim = limit;
  ActivityFetch f;
  soci::statement st(sql);
  st.exchange(soci::use(tenant_id));
  st.exchange(soci::use(any_customer));
  st.exchange(soci::use(customer));
  st.exchange(soci::use(any_status));
  st.exchange(soci::use(wanted));
  st.exchange(soci::use(at));
  st.exchange(soci::use(id));
  st.exchange(soci::use(lim));
  f.bind(st);
  st.alloc();
  st.prepare(std::string("SELECT ") + kActivityColumns +
             " FROM customer_activities WHERE tenant_id = :t AND (:ac = 1 OR customer_id = :c)"
             " AND (:anys = 1 OR status = :s) AND (created_at, id) < (:a, :i)"
             " ORDER BY created_at DESC, id DESC LIMIT :l");
  st.define_and_bind();
  st.execute();
  std::vector<ActivityRow> out;
  while (st.fetch()) out.push_back(f.take());
  return out;
}

std::optional<ActivityRow> activity(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                                    const std::string& id) {
  ActivityFetch f;
  soci::statement st(sql);
  st.exchange(soci::use(tenant_id));
  st.exchange(soci::use(customer_id));
  st.exchange(soci::use(id));
  f.bind(st);
  st.alloc();
  st.prepare(std::string("SELECT ") + kActivityColumns +
             " FROM customer_activities WHERE tenant_id = :t AND customer_id = :c AND id = :id");
  st.define_and_bind();
  st.execute();
  if (!st.fetch()) return std::nullopt;
  return f.take();
}

void insert_activity(soci::session& sql, const ActivityRow& a) {
  Opt subject(a.subject), body(a.body), outcome(a.outcome), contact(a.contact_id),
      created_by(a.created_by.empty() ? std::nullopt : std::optional<std::string>(a.created_by));
  OptNum occurred(a.occurred_at ? std::optional<long long>(*a.occurred_at) : std::nullopt);
  int duration = a.duration_minutes.value_or(0);
  soci::indicator duration_ind = a.duration_minutes ? soci::i_ok : soci::i_null;
  long long created = a.created_at, updated = a.updated_at;
  sql << "INSERT INTO customer_activities (tenant_id, id, customer_id, type, subject, body, occurred_at,"
         " duration_minutes, outcome, contact_id, status, created_by, version, created_at, updated_at)"
         " VALUES (:t, :id, :c, :ty, :su, :b, :o, :d, :out, :ct, :st, :cb, 1, :ca, :ua)",
      soci::use(a.tenant_id), soci::use(a.id), soci::use(a.customer_id), soci::use(a.type),
      soci::use(subject.value, subject.ind), soci::use(body.value, body.ind),
      soci::use(occurred.value, occurred.ind), soci::use(duration, duration_ind),
      soci::use(outcome.value, outcome.ind), soci::use(contact.value, contact.ind), soci::use(a.status),
      soci::use(created_by.value, created_by.ind), soci::use(created), soci::use(updated);
}

bool update_activity(soci::session& sql, const ActivityRow& a, int expected_version) {
  Opt subject(a.subject), body(a.body), outcome(a.outcome), contact(a.contact_id);
  OptNum occurred(a.occurred_at ? std::optional<long long>(*a.occurred_at) : std::nullopt);
  int duration = a.duration_minutes.value_or(0);
  soci::indicator duration_ind = a.duration_minutes ? soci::i_ok : soci::i_null;
  long long updated = a.updated_at;
  soci::statement st =
      (sql.prepare << "UPDATE customer_activities SET type = :ty, subject = :su, body = :b, occurred_at = :o,"
                      " duration_minutes = :d, outcome = :out, contact_id = :ct, status = :st,"
                      " version = version + 1, updated_at = :ua WHERE tenant_id = :t AND id = :id AND version = :v",
       soci::use(a.type), soci::use(subject.value, subject.ind), soci::use(body.value, body.ind),
       soci::use(occurred.value, occurred.ind), soci::use(duration, duration_ind),
       soci::use(outcome.value, outcome.ind), soci::use(contact.value, contact.ind), soci::use(a.status),
       soci::use(updated), soci::use(a.tenant_id), soci::use(a.id), soci::use(expected_version));
  st.execute(true);
  return st.get_affected_rows() > 0;
}

}  // namespace crm::customer::store
