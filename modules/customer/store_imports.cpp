// Import job SQL, with bound parameters only. Every statement is scoped by tenant, except the
// worker's start-up look for jobs a stopped server left unfinished.
#include "customer_internal.hpp"

#include <soci/soci.h>

namespace crm::customer {

bool ImportRow::finished() const { return status == "completed" || status == "failed" || status == "cancelled"; }

bj::object ImportRow::to_json() const {
  auto opt_time = [](const std::optional<TimestampMs>& t) {
    return t ? bj::value(platform::format_rfc3339(*t)) : bj::value(nullptr);
  };
  auto columns = platform::json::parse_relaxed(column_map);
  return bj::object{{"id", id},
                    {"tenant_id", tenant_id},
                    {"status", status},
                    {"format", format},
                    {"on_duplicate", on_duplicate},
                    {"dry_run", dry_run},
                    {"file_bytes", file_bytes},
                    {"columns", columns.is_object() ? columns : bj::value(bj::object{})},
                    {"total", total},
                    {"processed", processed},
                    {"created", created},
                    {"updated", updated},
                    {"skipped", skipped},
                    {"failed", failed},
                    {"failure_reason", failure_reason ? bj::value(*failure_reason) : bj::value(nullptr)},
                    {"created_by", created_by.empty() ? bj::value(nullptr) : bj::value(created_by)},
                    {"created_at", platform::format_rfc3339(created_at)},
                    {"started_at", opt_time(started_at)},
                    {"finished_at", opt_time(finished_at)},
                    {"updated_at", platform::format_rfc3339(updated_at)}};
}

bj::object ImportProblem::to_json() const {
  return bj::object{{"row", row},
                    {"line", line ? bj::value(*line) : bj::value(nullptr)},
                    {"field", field.empty() ? bj::value(nullptr) : bj::value(field)},
                    {"code", code},
                    {"message", message}};
}

namespace store {

namespace {

constexpr const char* kImportColumns =
    "tenant_id, id, status, format, on_duplicate, dry_run, file_path, file_bytes, column_map, total, processed,"
    " created, updated, skipped, failed, failure_reason, created_by, created_at, started_at, finished_at, updated_at";

struct ImportFetch {
  ImportRow row;
  int dry_run = 0;
  long long file_bytes = 0, total = 0, processed = 0, created = 0, updated = 0, skipped = 0, failed = 0;
  long long created_at = 0, started_at = 0, finished_at = 0, updated_at = 0;
  std::string reason, created_by;
  soci::indicator reason_ind = soci::i_null, created_by_ind = soci::i_null, started_ind = soci::i_null,
                  finished_ind = soci::i_null;

  void bind(soci::statement& st) {
    st.exchange(soci::into(row.tenant_id));
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.status));
    st.exchange(soci::into(row.format));
    st.exchange(soci::into(row.on_duplicate));
    st.exchange(soci::into(dry_run));
    st.exchange(soci::into(row.file_path));
    st.exchange(soci::into(file_bytes));
    st.exchange(soci::into(row.column_map));
    st.exchange(soci::into(total));
    st.exchange(soci::into(processed));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
    st.exchange(soci::into(skipped));
    st.exchange(soci::into(failed));
    st.exchange(soci::into(reason, reason_ind));
    st.exchange(soci::into(created_by, created_by_ind));
    st.exchange(soci::into(created_at));
    st.exchange(soci::into(started_at, started_ind));
    st.exchange(soci::into(finished_at, finished_ind));
    st.exchange(soci::into(updated_at));
  }
  ImportRow take() const {
    ImportRow r = row;
    r.dry_run = dry_run != 0;
    r.file_bytes = file_bytes;
    r.total = total;
    r.processed = processed;
    r.created = created;
    r.updated = updated;
    r.skipped = skipped;
    r.failed = failed;
    if (reason_ind == soci::i_ok) r.failure_reason = reason;
    if (created_by_ind == soci::i_ok) r.created_by = created_by;
    r.created_at = created_at;
    if (started_ind == soci::i_ok) r.started_at = started_at;
    if (finished_ind == soci::i_ok) r.finished_at = finished_at;
    r.updated_at = updated_at;
    return r;
  }
};

}  // namespace

void insert_import(soci::session& sql, const ImportRow& r) {
  int dry_run = r.dry_run ? 1 : 0;
  long long bytes = r.file_bytes, total = r.total, created_at = r.created_at, updated_at = r.updated_at;
  soci::indicator by_ind = r.created_by.empty() ? soci::i_null : soci::i_ok;
  sql << "INSERT INTO customer_imports (tenant_id, id, status, format, on_duplicate, dry_run, file_path, file_bytes,"
         " column_map, total, created_by, created_at, updated_at)"
         " VALUES (:t, :id, :s, :f, :d, :dr, :p, :b, :c, :tot, :by, :ca, :ua)",
      soci::use(r.tenant_id), soci::use(r.id), soci::use(r.status), soci::use(r.format), soci::use(r.on_duplicate),
      soci::use(dry_run), soci::use(r.file_path), soci::use(bytes), soci::use(r.column_map),
      soci::use(total), soci::use(r.created_by, by_ind), soci::use(created_at), soci::use(updated_at);
}

std::optional<ImportRow> import_job(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  ImportFetch f;
  soci::statement st(sql);
  st.exchange(soci::use(tenant_id));
  st.exchange(soci::use(id));
  f.bind(st);
  st.alloc();
  st.prepare(std::string("SELECT ") + kImportColumns + " FROM customer_imports WHERE tenant_id = :t AND id = :id");
  st.define_and_bind();
  if (!st.execute(true)) return std::nullopt;
  return f.take();
}

std::vector<ImportRow> list_imports(soci::session& sql, const std::string& tenant_id, int limit,
                                    const std::optional<std::pair<TimestampMs, std::string>>& after) {
  ImportFetch f;
  long long at = after ? after->first : 0;
  std::string after_id = after ? after->second : std::string();
  soci::statement st(sql);
  st.exchange(soci::use(tenant_id));
  std::string q = std::string("SELECT ") + kImportColumns + " FROM customer_imports WHERE tenant_id = :t";
  if (after) {
    st.exchange(soci::use(at));
    st.exchange(soci::use(after_id));
    q += " AND (created_at, id) < (:a, :i)";
  }
  st.exchange(soci::use(limit));
  q += " ORDER BY created_at DESC, id DESC LIMIT :l";
  f.bind(st);
  st.alloc();
  st.prepare(q);
  st.define_and_bind();
  st.execute();
  std::vector<ImportRow> out;
  while (st.fetch()) out.push_back(f.take());
  return out;
}

bool start_import(soci::session& sql, const std::string& tenant_id, const std::string& id, TimestampMs now) {
  long long at = now;
  soci::statement st = (sql.prepare << "UPDATE customer_imports SET status = 'running', started_at = :a, updated_at = :u"
                                       " WHERE tenant_id = :t AND id = :id AND status = 'queued'",
                        soci::use(at), soci::use(at), soci::use(tenant_id), soci::use(id));
  st.execute(true);
  return st.get_affected_rows() > 0;
}

void add_import_progress(soci::session& sql, const std::string& tenant_id, const std::string& id,
                         const ImportCounts& d, TimestampMs now) {
  long long processed = d.processed, created = d.created, updated = d.updated,
            skipped = d.skipped, failed = d.failed, at = now;
  sql << "UPDATE customer_imports SET processed = processed + :p, created = created + :c,"
         " updated = updated + :up, skipped = skipped + :s, failed = failed + :f, updated_at = :a"
         " WHERE tenant_id = :t AND id = :id",
      soci::use(processed), soci::use(created), soci::use(updated), soci::use(skipped),
      soci::use(failed), soci::use(at), soci::use(tenant_id), soci::use(id);
}

bool finish_import(soci::session& sql, const std::string& tenant_id, const std::string& id, const std::string& status,
                   const std::optional<std::string>& reason, TimestampMs now) {
  long long at = now;
  std::string text = reason.value_or("");
  soci::indicator ind = reason ? soci::i_ok : soci::i_null;
  soci::statement st = (sql.prepare << "UPDATE customer_imports SET status = :s, failure_reason = :r, finished_at = :f,"
                                       " updated_at = :u WHERE tenant_id = :t AND id = :id"
                                       " AND status IN ('queued', 'running')",
                        soci::use(status), soci::use(text, ind), soci::use(at), soci::use(at), soci::use(tenant_id),
                        soci::use(id));
  st.execute(true);
  return st.get_affected_rows() > 0;
}

std::string import_status(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  std::string status;
  sql << "SELECT status FROM customer_imports WHERE tenant_id = :t AND id = :id", soci::use(tenant_id), soci::use(id),
      soci::into(status);
  return status;
}

std::vector<std::pair<std::string, std::string>> unfinished_imports(soci::session& sql) {
  std::string tenant_id, id;
  soci::statement st = (sql.prepare << "SELECT tenant_id, id FROM customer_imports"
                                       " WHERE status IN ('queued', 'running') ORDER BY created_at",
                        soci::into(tenant_id), soci::into(id));
  st.execute();
  std::vector<std::pair<std::string, std::string>> out;
  while (st.fetch()) out.emplace_back(tenant_id, id);
  return out;
}

void insert_import_problems(soci::session& sql, const std::string& tenant_id, const std::string& import_id,
                            const std::vector<ImportProblem>& problems) {
  for (const auto& p : problems) {
    long long seq = p.seq, row = p.row, line = p.line.value_or(0);
    soci::indicator line_ind = p.line ? soci::i_ok : soci::i_null;
    soci::indicator field_ind = p.field.empty() ? soci::i_null : soci::i_ok;
    sql << "INSERT INTO customer_import_errors (tenant_id, import_id, seq, row_num, line, field, code, message)"
           " VALUES (:t, :i, :s, :r, :l, :f, :c, :m)",
        soci::use(tenant_id), soci::use(import_id), soci::use(seq), soci::use(row), soci::use(line, line_ind),
        soci::use(p.field, field_ind), soci::use(p.code), soci::use(p.message);
  }
}

std::vector<ImportProblem> import_problems(soci::session& sql, const std::string& tenant_id,
                                           const std::string& import_id, int limit, std::int64_t after_seq) {
  ImportProblem p;
  long long seq = 0, row = 0, line = 0, after = after_seq;
  std::string field;
  soci::indicator line_ind = soci::i_null, field_ind = soci::i_null;
  soci::statement st = (sql.prepare << "SELECT seq, row_num, line, field, code, message FROM customer_import_errors"
                                       " WHERE tenant_id = :t AND import_id = :i AND seq > :a ORDER BY seq LIMIT :l",
                        soci::use(tenant_id), soci::use(import_id), soci::use(after), soci::use(limit),
                        soci::into(seq), soci::into(row), soci::into(line, line_ind), soci::into(field, field_ind),
                        soci::into(p.code), soci::into(p.message));
  st.execute();
  std::vector<ImportProblem> out;
  while (st.fetch()) {
    ImportProblem x = p;
    x.seq = seq;
    x.row = row;
    if (line_ind == soci::i_ok) x.line = line;
    x.field = field_ind == soci::i_ok ? field : std::string();
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace store

}  // namespace crm::customer
