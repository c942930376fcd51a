// POST /api/v1/customers/import and /api/v1/imports: customers imported from a CSV or JSON file
// by a background job.
//
// The request checks the file as a whole (UTF-8 text, a known header, at least one row, a
// well-formed JSON array), counts its rows, keeps it under the data directory and answers 202
// with the queued job. The worker then reads it as a stream, in batches: each batch is one
// unit of work holding its rows (each in a savepoint, through the module's create and update
// paths), the job's counts and the problems of its bad rows, so a bad row never takes the
// others with it and the counts always say what was committed. Cancelling takes effect
// between batches.
#include "customer_internal.hpp"

#include "crm/platform/authorization.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/openapi_schema.hpp"
#include "crm/platform/router.hpp"
#include "csv.hpp"

#include <boost/beast/http/field.hpp>
#include <soci/soci.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <thread>

namespace crm::customer {

using namespace crm::platform;

namespace {

/// Thrown out of a dry run's batch to roll its rows back.
struct DryRunRollback {};

/// One data row of the file, read and mapped.
struct PendingRow {
  std::int64_t row = 0;
  std::optional<std::int64_t> line;
  ImportRecord record;
  bool csv = true;
  std::vector<bj::object> contacts;  // JSON: the element's "contacts"
};

enum class Outcome { created, updated, skipped };

bool on_duplicate_valid(const std::string& v) { return v == "skip" || v == "update" || v == "create"; }

std::string contact_column(const std::string& field, bool csv, std::size_t index) {
  if (!csv) return "contacts[" + std::to_string(index) + "]." + field;
  if (field.rfind("phones", 0) == 0) return "contact_phone";
  return "contact_" + field;
}

/// The rows of a file, read as a stream.
class RowSource {
 public:
  RowSource(const std::string& format, domain::ByteSource bytes, const TenantDefaults& defaults)
      : defaults_(defaults) {
    if (format == "csv") {
      csv_.emplace(std::move(bytes));
      while (auto r = csv_->next()) {
        if (r->blank()) continue;
        mapping_.emplace(r->fields);
        break;
      }
      if (!mapping_) throw std::invalid_argument("The file has no header row.");
    } else {
      json_.emplace(std::move(bytes));
    }
  }

  std::optional<PendingRow> next() {
    PendingRow p;
    if (csv_) {
      std::optional<domain::CsvRecord> r;
      do {
        r = csv_->next();
      } while (r && r->blank());
      if (!r) return std::nullopt;
      p.row = ++rows_;
      p.line = static_cast<std::int64_t>(r->line);
      if (!r->error.empty()) {
        p.record.problems.push_back({"row", "malformed", r->error});
      } else {
        p.record = mapping_->record(r->fields, defaults_);
      }
      return p;
    }
    auto text = json_->next();  // std::invalid_argument for a broken array
    if (!text) return std::nullopt;
    p.row = ++rows_;
    p.csv = false;
    bj::error_code ec;
    auto v = bj::parse(*text, ec);
    if (ec) {
      p.record.problems.push_back({"row", "malformed_json", "Is not valid JSON."});
    } else if (!v.is_object()) {
      p.record.problems.push_back({"row", "type", "Must be a customer object."});
    } else {
      p.record.body = std::move(v.as_object());
      strip_server_fields(p.record.body);
      if (auto* contacts = p.record.body.if_contains("contacts")) {
        if (!contacts->is_array()) {
          p.record.problems.push_back({"contacts", "type", "Must be a list of contact objects."});
        } else {
          for (const auto& c : contacts->get_array()) {
            if (c.is_object()) p.contacts.push_back(c.get_object());
            else p.record.problems.push_back({"contacts", "type", "Must be a list of contact objects."});
          }
        }
        p.record.body.erase("contacts");
      }
    }
    return p;
  }

  bj::object columns() const { return mapping_ ? mapping_->columns_json() : bj::object{}; }

 private:
  const TenantDefaults& defaults_;
  std::optional<domain::CsvReader> csv_;
  std::optional<domain::JsonArrayReader> json_;
  std::optional<CsvMapping> mapping_;
  std::int64_t rows_ = 0;
};

domain::ByteSource file_source(std::ifstream& in) {
  return [&in](char* buffer, std::size_t size) -> std::size_t {
    in.read(buffer, static_cast<std::streamsize>(size));
    return static_cast<std::size_t>(in.gcount());
  };
}

/// What one job shares between its batches.
struct Job {
  CustomerContext& cc;
  const ImportWorker::Task& task;
  ImportRow row;
  TenantDefaults defaults;
  std::int64_t seq = 0;                     // problems recorded so far
  std::map<std::string, bool> members;      // owner_id -> an active member
};

void add_problems(const PendingRow& p, const std::vector<FieldError>& fields, const Error* e,
                  std::vector<ImportProblem>& out) {
  auto push = [&](std::string field, std::string code, std::string message) {
    out.push_back(ImportProblem{0, p.row, p.line, std::move(field), std::move(code), std::move(message)});
  };
  if (fields.empty() && e) {
    push("", e->code(), e->detail());
    return;
  }
  for (const auto& f : fields) push(p.csv ? p.record.column_of(f.field) : f.field, f.code, f.message);
}

/// The checks that ask IAM, made before the batch's transaction as the single endpoints do.
void check_owner(Job& job, const PendingRow& p) {
  const auto* owner = p.record.body.if_contains("owner_id");
  if (!owner || !owner->is_string()) return;
  std::string id(owner->get_string());
  auto known = job.members.find(id);
  if (known == job.members.end()) {
    bool ok = true;
    try {
      job.cc.require_member(job.task.context, id, "owner_id");
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::validation) throw;
      ok = false;
    }
    known = job.members.emplace(id, ok).first;
  }
  if (!known->second) throw Error::validation("owner_id", "not_a_member", "Must be an active member of the tenant.");
}

/// The live customer a row duplicates: the same external_id, else the same email or phone.
std::optional<std::string> duplicate_of(Job& job, soci::session& sql, const CustomerRow& probe) {
  const auto& tenant_id = job.row.tenant_id;
  if (probe.external_id) {
    if (auto id = store::customer_with_external_id(sql, tenant_id, *probe.external_id)) {
      auto c = store::customer(sql, tenant_id, *id);
      if (c && !c->deleted_at) return id;
    }
  }
  if (auto dup = store::find_duplicate(sql, tenant_id, probe.email_key(), probe.phone.value_or(""))) return dup->first;
  return std::nullopt;
}

Outcome import_row(Job& job, UnitOfWork& uow, const PendingRow& p) {
  const std::string& mode = job.row.on_duplicate;
  const auto& body = p.record.body;
  CustomerRow row;
  row.owner_id = CustomerContext::default_owner(job.task.context);
  // The row as a new customer, read once: its email, phone and external_id are also what
  // the duplicate check looks for. A row that is not a valid new customer may still be a
  // valid change to the one it duplicates, so then the check reads it as a patch.
  std::exception_ptr invalid;
  try {
    apply_customer_body(body, Mode::create, job.defaults, row);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::validation) throw;
    invalid = std::current_exception();
  }
  if (mode != "create") {
    std::optional<std::string> match;
    if (invalid) {
      CustomerRow probe;
      apply_customer_body(body, Mode::patch, job.defaults, probe);
      match = duplicate_of(job, uow.sql(), probe);
    } else {
      match = duplicate_of(job, uow.sql(), row);
    }
    if (match) {
      if (mode == "skip") return Outcome::skipped;
      job.cc.update(uow, *match, body, Mode::patch, job.defaults, false, std::nullopt);
      return Outcome::updated;
    }
  }
  if (invalid) std::rethrow_exception(invalid);
  // The duplicate check was made above under the tenant's customer lock (or is not wanted).
  auto created = job.cc.create(uow, std::move(row), job.defaults, true);
  std::vector<bj::object> contacts = p.contacts;
  if (p.record.contact) contacts.push_back(*p.record.contact);
  for (std::size_t i = 0; i < contacts.size(); ++i) {
    try {
      ContactRow c;
      auto primary = read_contact_body(contacts[i], job.defaults, c);
      add_contact(uow, job.cc, created, std::move(c), primary);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::validation) throw;
      std::vector<FieldError> fields;
      for (const auto& f : e.fields()) fields.push_back({contact_column(f.field, p.csv, i), f.code, f.message});
      throw Error(ErrorKind::validation, e.code(), e.detail(), std::move(fields));
    }
  }
  return Outcome::created;
}

/// A batch's rows go in as few units of work as other writers allow. SQLite: a part commits
/// after kMinRows once another writer is queued on the write lock. PostgreSQL, where writers
/// queue on the tenant's customer lock unseen: a part holds it for at most kMaxHold. A request
/// that writes while a million rows go in waits for a few rows, not for a batch. Each part is a
/// transaction of its own (run_alone), never in a group commit: a request grouped ahead of it
/// would wait for the part's commit without counting as a waiting writer (measured: POST p99
/// 237 ms during a 300,000-row import, 24 ms alone).
constexpr std::size_t kMinRows = 4;
constexpr auto kMaxHold = std::chrono::milliseconds(50);

/// One batch: its rows, the job's counts and the problems, each part in one unit of work (a
/// dry run rolls the rows back and records only the counts and problems).
void run_batch(Job& job, std::vector<PendingRow>& rows) {
  std::vector<std::vector<ImportProblem>> found(rows.size());
  std::vector<bool> ready(rows.size(), false);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto& p = rows[i];
    if (!p.record.problems.empty()) {
      add_problems(p, p.record.problems, nullptr, found[i]);
      continue;
    }
    try {
      check_owner(job, p);
      ready[i] = true;
    } catch (const Error& e) {
      if (http_status(e.kind()) >= 500) throw;
      add_problems(p, e.fields(), &e, found[i]);
    }
  }
  const bool postgres = job.cc.db.backend() == platform::Backend::postgres;
  std::size_t begin = 0;
  while (begin < rows.size()) {
    std::vector<ImportProblem> problems;
    ImportCounts counts;
    std::size_t end = begin;
    bool handed_over = false;
    auto attempt = [&](UnitOfWork& uow) {
      auto& sql = uow.sql();
      // The tenant's customer lock first, as batch requests take it, then row by row.
      store::lock_customers(sql, job.row.tenant_id);
      auto started = std::chrono::steady_clock::now();
      for (std::size_t i = begin; i < rows.size(); ++i) {
        if (i - begin >= kMinRows) {
          if (job.cc.db.writers_waiting() > 0) {
            handed_over = true;
            break;
          }
          if (postgres && std::chrono::steady_clock::now() - started >= kMaxHold) break;
        }
        end = i + 1;
        ++counts.processed;
        if (!ready[i]) {
          ++counts.failed;
          problems.insert(problems.end(), found[i].begin(), found[i].end());
          continue;
        }
        try {
          auto outcome = uow.savepoint([&] { return import_row(job, uow, rows[i]); });
          if (outcome == Outcome::created) ++counts.created;
          else if (outcome == Outcome::updated) ++counts.updated;
          else ++counts.skipped;
        } catch (const Error& e) {
          if (http_status(e.kind()) >= 500) throw;
          ++counts.failed;
          add_problems(rows[i], e.fields(), &e, problems);
        }
      }
    };
    // Numbered in row order (the checks before the transaction found some of them first).
    auto record = [&](UnitOfWork& uow) {
      std::stable_sort(problems.begin(), problems.end(),
                       [](const ImportProblem& a, const ImportProblem& b) { return a.row < b.row; });
      for (auto& p : problems) p.seq = ++job.seq;
      store::add_import_progress(uow.sql(), job.row.tenant_id, job.row.id, counts, now_ms());
      store::insert_import_problems(uow.sql(), job.row.tenant_id, job.row.id, problems);
    };
    if (!job.row.dry_run) {
      job.cc.uow.run_alone(job.task.context, [&](UnitOfWork& uow) {
        attempt(uow);
        record(uow);
      });
    } else {
      try {
        job.cc.uow.run_alone(job.task.context, [&](UnitOfWork& uow) {
          attempt(uow);
          throw DryRunRollback{};
        });
      } catch (const DryRunRollback&) {
      }
      job.cc.uow.run(job.task.context, [&](UnitOfWork& uow) { record(uow); });
    }
    begin = end;
    // The queued writers go first: the lock is not fair, and this thread would take it again
    // before a woken waiter runs.
    for (int i = 0; handed_over && i < 20 && job.cc.db.writers_waiting() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(250));
    }
  }
}

void remove_file(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

}  // namespace

// ---- the worker ----

void ImportWorker::start() {
  std::vector<std::pair<std::string, std::string>> left;
  {
    auto lease = cc_.db.acquire();
    left = store::unfinished_imports(*lease);
  }
  for (const auto& [tenant_id, id] : left) {
    RequestContext ctx;
    ctx.tenant_id = tenant_id;
    std::optional<ImportRow> job;
    cc_.uow.run(ctx, [&](UnitOfWork& uow) {
      job = store::import_job(uow.sql(), tenant_id, id);
      if (!job) return;
      std::string reason = "The server stopped before the import finished; " + std::to_string(job->processed) +
                           " of " + std::to_string(job->total) + " rows were processed and those stay.";
      if (store::finish_import(uow.sql(), tenant_id, id, "failed", reason, now_ms())) {
        publish(uow, events::kImportCompleted, "import", id,
                bj::object{{"import_id", id}, {"status", "failed"}, {"failure_reason", reason},
                           {"processed", job->processed}, {"created", job->created}, {"updated", job->updated},
                           {"skipped", job->skipped}, {"failed", job->failed}});
      }
    });
    if (job) remove_file(job->file_path);
  }
  if (!left.empty()) log_info("interrupted imports marked failed", {{"imports", static_cast<std::int64_t>(left.size())}});
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ImportWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ImportWorker::enqueue(Task task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void ImportWorker::run() {
  while (true) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // queued jobs are failed at the next start
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      process(task);
    } catch (const std::exception& e) {
      log_error("import job failed", {{"import_id", task.id}, {"error", e.what()}});
    }
  }
}

void ImportWorker::process(const Task& task) {
  const auto& tenant_id = task.tenant_id;
  std::optional<ImportRow> loaded;
  bool started = cc_.uow.run(task.context, [&](UnitOfWork& uow) {
    if (!store::start_import(uow.sql(), tenant_id, task.id, now_ms())) return false;
    loaded = store::import_job(uow.sql(), tenant_id, task.id);
    return loaded.has_value();
  });
  if (!started) {
    // Cancelled while it waited.
    auto lease = cc_.db.acquire();
    if (auto job = store::import_job(*lease, tenant_id, task.id)) remove_file(job->file_path);
    return;
  }
  Job job{cc_, task, *loaded, cc_.defaults(tenant_id), 0, {}};
  std::string status = "completed";
  std::optional<std::string> reason;
  try {
    std::ifstream in(job.row.file_path, std::ios::binary);
    if (!in) throw std::runtime_error("the uploaded file is gone");
    RowSource source(job.row.format, file_source(in), job.defaults);
    std::size_t batch_size = static_cast<std::size_t>(std::max(1, cc_.import_batch_size));
    std::vector<PendingRow> batch;
    bool more = true;
    while (more) {
      batch.clear();
      try {
        while (batch.size() < batch_size) {
          auto p = source.next();
          if (!p) {
            more = false;
            break;
          }
          batch.push_back(std::move(*p));
        }
      } catch (const std::invalid_argument&) {
        // The file broke off mid-way (checked whole on upload, so only if it changed since).
        if (!batch.empty()) run_batch(job, batch);
        throw;
      }
      if (!batch.empty()) run_batch(job, batch);
      {
        auto lease = cc_.db.acquire();
        if (store::import_status(*lease, tenant_id, task.id) == "cancelled") {
          status = "cancelled";
          break;
        }
      }
      std::lock_guard lock(mutex_);
      if (stopping_ && more) {
        status = "failed";
        reason = "The server stopped during the import; the rows processed before stay.";
        break;
      }
    }
  } catch (const std::invalid_argument& e) {
    status = "failed";
    reason = e.what();
  } catch (const Error& e) {
    status = "failed";
    reason = "The import stopped: " + e.detail();
    log_error("import job failed", {{"import_id", task.id}, {"error", e.detail()}});
  } catch (const std::exception& e) {
    status = "failed";
    reason = "The import stopped on an internal error; the rows processed before stay.";
    log_error("import job failed", {{"import_id", task.id}, {"error", e.what()}});
  }
  cc_.uow.run(task.context, [&](UnitOfWork& uow) {
    auto& sql = uow.sql();
    if (status != "cancelled") store::finish_import(sql, tenant_id, task.id, status, reason, now_ms());
    auto final_row = store::import_job(sql, tenant_id, task.id);
    if (!final_row) return;
    bj::object payload{{"import_id", task.id},
                       {"status", final_row->status},
                       {"dry_run", final_row->dry_run},
                       {"total", final_row->total},
                       {"processed", final_row->processed},
                       {"created", final_row->created},
                       {"updated", final_row->updated},
                       {"skipped", final_row->skipped},
                       {"failed", final_row->failed},
                       {"created_by", final_row->created_by}};
    if (final_row->failure_reason) payload["failure_reason"] = *final_row->failure_reason;
    publish(uow, events::kImportCompleted, "import", task.id, std::move(payload));
  });
  remove_file(job.row.file_path);
}

// ---- routes ----

namespace {

RouteOptions route(const char* summary) { return route_options("imports", summary); }

ImportRow load_import(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  if (!is_uuid(id)) throw Error::not_found("No such import.");
  auto job = store::import_job(sql, tenant_id, id);
  if (!job) throw Error::not_found("No such import.");
  return *job;
}

/// Checks an upload as a whole and counts its rows: 422 naming file when it is empty, not
/// UTF-8 text, a CSV without a known header or rows, or not a well-formed JSON array.
std::pair<std::int64_t, std::string> check_upload(std::string_view body, const std::string& format,
                                                  const TenantDefaults& defaults) {
  if (body.empty()) throw Error::validation("file", "empty", "The file is empty.");
  if (auto at = domain::invalid_utf8_at(body)) {
    throw Error::validation("file", "not_text",
                            "The file is not UTF-8 text (byte " + std::to_string(*at + 1) +
                                "): send a CSV or JSON file, not a spreadsheet or other binary file.");
  }
  std::int64_t rows = 0;
  std::string columns = "{}";
  try {
    RowSource source(format, domain::string_source(body), defaults);
    // Counting reads every row; mapping them is the job's work, so only the splitting is done here.
    if (format == "csv") {
      domain::CsvReader reader(domain::string_source(body));
      bool header = false;
      while (auto r = reader.next()) {
        if (r->blank()) continue;
        if (!header) header = true;
        else ++rows;
      }
    } else {
      domain::JsonArrayReader reader(domain::string_source(body));
      while (reader.next()) ++rows;
    }
    columns = bj::serialize(source.columns());
  } catch (const std::invalid_argument& e) {
    throw Error::validation("file", "invalid", e.what());
  }
  if (rows == 0) {
    throw Error::validation("file", format == "csv" ? "no_rows" : "empty_array",
                            format == "csv" ? "The file has a header but no data rows." : "The array has no customers.");
  }
  return {rows, columns};
}

}  // namespace

void register_import_routes(Router& router, CustomerContext& cc) {
  auto upload = route("Import customers from a CSV or JSON file (202: a background job)");
  upload.content_types = {"text/csv", "application/json", "multipart/form-data"};
  upload.body_limit = cc.import_max_bytes;
  router.post("/api/v1/customers/import", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const auto& ctx = req.context();
    require_permission(ctx, "imports:create");
    for (const auto& [k, v] : req.query_params()) {
      if (k != "on_duplicate" && k != "dry_run") throw Error::bad_parameter(k, "Is not a parameter of this endpoint.");
    }
    // The file and options: the body itself (text/csv, application/json, options in the query), or
    // a form with a file part and option fields (multipart/form-data; the query wins).
    std::string type(req.header("Content-Type"));
    std::string_view data = req.body();
    std::optional<std::string> form_on_duplicate, form_dry_run;
    std::string format = type.find("json") != std::string::npos ? "json" : "csv";
    if (auto boundary = domain::multipart_boundary(type)) {
      std::vector<domain::MultipartPart> parts;
      try {
        parts = domain::parse_multipart(data, *boundary);
      } catch (const std::invalid_argument& e) {
        throw Error::validation("file", "invalid", e.what());
      }
      const domain::MultipartPart* file = nullptr;
      for (const auto& part : parts) {
        if (part.name == "file" && !file) file = &part;
        else if (part.name == "on_duplicate") form_on_duplicate = std::string(part.data);
        else if (part.name == "dry_run") form_dry_run = std::string(part.data);
        else throw Error::validation(part.name.empty() ? std::string("file") : part.name, "unknown_field",
                                     "Is not a field of an import form: send file, on_duplicate and dry_run.");
      }
      if (!file) throw Error::validation("file", "required", "The form has no file part.");
      data = file->data;
      std::string name = file->filename;
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      bool json_name = name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0;
      format = file->content_type == "application/json" || (file->content_type != "text/csv" && json_name) ? "json" : "csv";
    } else if (type.find("multipart/") != std::string::npos) {
      throw Error(ErrorKind::unsupported_media_type, "unsupported_media_type",
                  "A multipart body must be multipart/form-data with a boundary.",
                  {FieldError{"Content-Type", "unsupported", "Expected multipart/form-data; boundary=..."}});
    }
    std::string on_duplicate = req.query("on_duplicate").value_or(form_on_duplicate.value_or("skip"));
    if (!on_duplicate_valid(on_duplicate)) {
      if (req.query("on_duplicate")) throw Error::bad_parameter("on_duplicate", "Must be skip, update or create.");
      throw Error::validation("on_duplicate", "invalid", "Must be skip, update or create.");
    }
    bool dry_run = flag(req, "dry_run");
    if (!req.query("dry_run") && form_dry_run) {
      if (*form_dry_run != "true" && *form_dry_run != "false") {
        throw Error::validation("dry_run", "invalid", "Must be true or false.");
      }
      dry_run = *form_dry_run == "true";
    }
    if (data.empty()) throw Error::validation("file", "empty", "The file is empty.");
    auto defaults = cc.defaults(tenant_id);
    auto checked = check_upload(data, format, defaults);
    std::int64_t rows = checked.first;
    const std::string& columns = checked.second;

    ImportRow job;
    job.tenant_id = tenant_id;
    job.id = new_uuid_v7();
    job.format = format;
    job.on_duplicate = on_duplicate;
    job.dry_run = dry_run;
    job.file_bytes = static_cast<std::int64_t>(data.size());
    job.column_map = columns;
    job.total = rows;
    job.created_by = CustomerContext::default_owner(ctx);
    job.created_at = job.updated_at = now_ms();
    // The file waits under the data directory for the worker, which removes it when done.
    std::filesystem::path dir = std::filesystem::path(cc.module.config.data_dir) / "imports";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    job.file_path = (dir / (job.id + "." + format)).string();
    {
      std::ofstream out(job.file_path, std::ios::binary | std::ios::trunc);
      out.write(data.data(), static_cast<std::streamsize>(data.size()));
      out.close();
      if (!out) {
        remove_file(job.file_path);
        log_error("import upload not stored", {{"path", job.file_path}});
        throw Error(ErrorKind::unavailable, "storage_unavailable", "The file could not be stored; try again later.");
      }
    }
    try {
      cc.uow.run(ctx, [&](UnitOfWork& uow) {
        store::insert_import(uow.sql(), job);
        publish(uow, events::kImportCreated, "import", job.id,
                bj::object{{"import_id", job.id}, {"format", format}, {"on_duplicate", on_duplicate},
                           {"dry_run", dry_run}, {"total", rows}, {"file_bytes", job.file_bytes}});
      });
    } catch (...) {
      remove_file(job.file_path);
      throw;
    }
    cc.imports->enqueue(ImportWorker::Task{tenant_id, job.id, ctx});
    auto res = json_response(202, job.to_json());
    res.set(boost::beast::http::field::location, "/api/v1/imports/" + job.id);
    return res;
  }, upload);

  router.get("/api/v1/imports", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "imports:read");
    std::string scope = "imports:" + tenant_id;
    auto page = page_request(req, scope);
    std::optional<std::pair<TimestampMs, std::string>> after;
    if (page.after) {
      const auto* at = page.after->if_contains("at");
      const auto* id = page.after->if_contains("id");
      if (!at || !at->is_int64() || !id || !id->is_string()) throw Error::bad_parameter("cursor", "The cursor is not valid here.");
      after.emplace(at->get_int64(), std::string(id->get_string()));
    }
    auto lease = cc.db.acquire();
    auto jobs = store::list_imports(*lease, tenant_id, page.limit + 1, after);
    std::optional<bj::object> next;
    if (static_cast<int>(jobs.size()) > page.limit) {
      jobs.pop_back();
      next = bj::object{{"at", jobs.back().created_at}, {"id", jobs.back().id}};
    }
    bj::array items;
    for (const auto& j : jobs) items.push_back(j.to_json());
    return json_response(200, page_response(std::move(items), page, next, scope));
  }, route("List the tenant's import jobs, newest first"));

  router.get("/api/v1/imports/{id}", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "imports:read");
    auto lease = cc.db.acquire();
    return json_response(200, load_import(*lease, tenant_id, req.path_param("id")).to_json());
  }, route("One import job: status and counts (updated after each batch)"));

  router.get("/api/v1/imports/{id}/errors", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    require_permission(req.context(), "imports:read");
    const std::string& id = req.path_param("id");
    std::string scope = "import_errors:" + tenant_id + ":" + id;
    auto page = page_request(req, scope);
    std::int64_t after = 0;
    if (page.after) {
      const auto* seq = page.after->if_contains("seq");
      if (!seq || !seq->is_int64()) throw Error::bad_parameter("cursor", "The cursor is not valid here.");
      after = seq->get_int64();
    }
    auto lease = cc.db.acquire();
    load_import(*lease, tenant_id, id);
    auto problems = store::import_problems(*lease, tenant_id, id, page.limit + 1, after);
    std::optional<bj::object> next;
    if (static_cast<int>(problems.size()) > page.limit) {
      problems.pop_back();
      next = bj::object{{"seq", problems.back().seq}};
    }
    bj::array items;
    for (const auto& p : problems) items.push_back(p.to_json());
    return json_response(200, page_response(std::move(items), page, next, scope));
  }, route("The problems of an import's rows, in row order"));

  router.post("/api/v1/imports/{id}/cancel", [&cc](Request& req) {
    const auto& tenant_id = tenant_of(req);
    const std::string& id = req.path_param("id");
    auto job = cc.uow.run(req.context(), [&](UnitOfWork& uow) {
      auto j = load_import(uow.sql(), tenant_id, id);
      require_permission(req.context(), "imports:cancel");
      if (j.finished() || !store::finish_import(uow.sql(), tenant_id, id, "cancelled", std::nullopt, now_ms())) {
        throw Error::conflict("import_finished", "The import has already finished (" + j.status + ").");
      }
      publish(uow, events::kImportCancelled, "import", id,
              bj::object{{"import_id", id}, {"changes", bj::object{{"status", bj::object{{"old", j.status},
                                                                                       {"new", "cancelled"}}}}}});
      return load_import(uow.sql(), tenant_id, id);
    });
    return json_response(200, job.to_json());
  }, route("Cancel an import: it stops after its current batch; what was committed stays"));
}

void describe_import_api(Router& router) {
  using namespace openapi;
  bj::object columns = object({{"mapped", array_of(str())}, {"ignored", array_of(str())}, {"unknown", array_of(str())}},
                              {"mapped", "ignored", "unknown"});
  columns["description"] = "CSV: the header's columns that map to customer fields, those the server sets itself "
                           "(id, code, slug, email_disposable, version, created_at, updated_at, deleted_at: "
                           "ignored) and those it does not know (reported here, not imported)";
  bj::object count{{"type", "integer"}};
  router.add_schema(
      "Import",
      object({{"id", str("uuid")},
              {"tenant_id", str()},
              {"status", enum_of({"queued", "running", "completed", "failed", "cancelled"})},
              {"format", enum_of({"csv", "json"})},
              {"on_duplicate", enum_of({"skip", "update", "create"})},
              {"dry_run", boolean()},
              {"file_bytes", integer()},
              {"columns", columns},
              {"total", {{"type", "integer"}, {"description", "Data rows in the file (blank lines are not rows)"}}},
              {"processed", {{"type", "integer"}, {"description", "Rows committed (or, in a dry run, tried) so far"}}},
              {"created", count},
              {"updated", count},
              {"skipped", count},
              {"failed", count},
              {"failure_reason", nullable(str())},
              {"created_by", nullable(str("uuid"))},
              {"created_at", str("date-time")},
              {"started_at", nullable(str("date-time"))},
              {"finished_at", nullable(str("date-time"))},
              {"updated_at", str("date-time")}},
             {"id", "status", "total", "processed", "created", "updated", "skipped", "failed", "created_at"}));
  router.add_schema("ImportError",
                    object({{"row", {{"type", "integer"}, {"description", "Data row from 1 (the header is not a row)"}}},
                            {"line", nullable({{"type", "integer"}, {"description", "CSV: the line the row starts on"}})},
                            {"field", nullable(str())},
                            {"code", str()},
                            {"message", str()}},
                           {"row", "code", "message"}));
  auto job = response("The import job", ref("Import"));
  bj::object problem{{"description", "Problem"},
                     {"content", bj::object{{"application/problem+json", bj::object{{"schema", ref("Problem")}}}}}};
  bj::object csv_body{{"type", "string"},
                      {"description", "RFC 4180 CSV with a header row (UTF-8, a BOM allowed, CRLF or LF; blank lines "
                                      "are skipped). Columns as GET /customers/export writes them: name, type, "
                                      "legal_name, email, phone, website, industry, status, tier, owner_id, "
                                      "external_id, tags (comma separated), billing_|shipping_|other_ line1, line2, "
                                      "city, state, postal_code, country, credit_limit, credit_limit_currency, "
                                      "lifetime_value, lifetime_value_currency, language, preferred_channel, "
                                      "marketing_opt_in, custom.<key>, and one contact: contact_first_name, "
                                      "contact_last_name, contact_email, contact_phone, contact_job_title. An empty "
                                      "cell is an absent field (an update keeps the stored value). A leading single "
                                      "quote before = + - @ is taken off (as export adds it)"}};
  bj::object json_body = array_of(bj::object{{"description", "A customer body as POST /customers takes it, with "
                                                             "optional contacts: [contact bodies]"},
                                             {"type", "object"}});
  router.describe(
      HttpVerb::post, "/api/v1/customers/import",
      {{"description",
        "Needs imports:create. The file is checked as a whole first (422 naming file: empty, not UTF-8 text, no "
        "known column in the header, a header but no rows, a JSON body that is not an array), then imported by a "
        "background job in batches of one transaction each. A row is a duplicate when a live customer has its "
        "external_id, email or phone: on_duplicate=skip (default) counts it skipped, update patches that "
        "customer, create creates another. A bad row is recorded with its row number, field and message and "
        "never stops the others. dry_run=true does all the checks and counts and writes no customer."},
       {"parameters", bj::array{query("on_duplicate", "skip (default), update or create", enum_of({"skip", "update", "create"})),
                                query("dry_run", "Check and count only; no customer is written", boolean())}},
       {"requestBody",
        bj::object{{"required", true},
                   {"content",
                    bj::object{{"text/csv", bj::object{{"schema", csv_body}}},
                               {"application/json", bj::object{{"schema", json_body}}},
                               {"multipart/form-data",
                                bj::object{{"schema",
                                            object({{"file", {{"type", "string"},
                                                              {"format", "binary"},
                                                              {"description", "The CSV or JSON file (JSON when its "
                                                                              "type is application/json or its "
                                                                              "name ends in .json)"}}},
                                                    {"on_duplicate", enum_of({"skip", "update", "create"})},
                                                    {"dry_run", enum_of({"true", "false"})}},
                                                   {"file"})}}}}}}},
       {"responses", {{"202", response("Accepted: the queued job (Location: /api/v1/imports/{id})", ref("Import"))},
                      {"4XX", problem}}}});
  bj::array paging{query("limit", "Page size, 1 to 200 (default 25)", integer()),
                   query("cursor", "next_cursor of the previous page")};
  router.describe(HttpVerb::get, "/api/v1/imports",
                  {{"parameters", paging}, {"responses", {{"200", response("A page of import jobs", page_of("Import"))}}}});
  router.describe(HttpVerb::get, "/api/v1/imports/{id}", {{"responses", {{"200", job}, {"404", problem}}}});
  router.describe(HttpVerb::get, "/api/v1/imports/{id}/errors",
                  {{"parameters", paging},
                   {"responses", {{"200", response("A page of row problems", page_of("ImportError"))}, {"404", problem}}}});
  router.describe(HttpVerb::post, "/api/v1/imports/{id}/cancel",
                  {{"description", "Needs imports:cancel. 409 import_finished when the job has already finished."},
                   {"responses", {{"200", job}, {"404", problem}, {"409", problem}}}});
}

}  // namespace crm::customer
