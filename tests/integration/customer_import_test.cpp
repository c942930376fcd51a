// POST /customers/import and /imports on SQLite and PostgreSQL: a messy CSV imports exactly its
// valid rows with exact counts and per-row problems, each on_duplicate mode, dry runs, JSON
// arrays with contacts, cancelling, a restart during an import, the limits of an upload,
// tenant isolation and permissions.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fstream>
#include <set>
#include <thread>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

namespace {

HttpResult upload(HttpClient& client, const std::string& token, const std::string& body, const std::string& query = {},
                  const std::string& type = "text/csv") {
  return call(client, "POST", "/api/v1/customers/import" + query, token, body, {{"Content-Type", type}});
}

/// Uploads and REQUIREs a 202; returns the job id.
std::string start_import(HttpClient& client, const std::string& token, const std::string& body,
                         const std::string& query = {}, const std::string& type = "text/csv") {
  auto r = upload(client, token, body, query, type);
  REQUIRE_MESSAGE(r.status == 202, r.status << " " << r.body);
  auto job = obj(r);
  CHECK(r.header("location") == "/api/v1/imports/" + str(job.at("id")));
  return str(job.at("id"));
}

bool finished(const bj::object& job) {
  auto s = str(job.at("status"));
  return s == "completed" || s == "failed" || s == "cancelled";
}

/// The job once it has finished.
bj::object wait_job(HttpClient& client, const std::string& token, const std::string& id) {
  bj::object job;
  REQUIRE(eventually([&] {
    job = get_ok(client, token, "/api/v1/imports/" + id);
    return finished(job);
  }, std::chrono::seconds(60)));
  return job;
}

bj::array import_errors(HttpClient& client, const std::string& token, const std::string& id) {
  auto r = call(client, "GET", "/api/v1/imports/" + id + "/errors?limit=200", token);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return data_of(r);
}

long long n(const bj::object& job, const char* key) { return job.at(key).to_number<long long>(); }

long long listed_total(HttpClient& client, const std::string& token) {
  auto r = call(client, "GET", "/api/v1/customers?include_total=true", token);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return obj(r).at("page").at("total").to_number<long long>();
}

bj::object customer_named(HttpClient& client, const std::string& token, const std::string& name) {
  for (const auto& c : data_of(call(client, "GET", "/api/v1/customers?limit=200", token))) {
    if (str(c.at("name")) == name) return c.as_object();
  }
  FAIL("no customer named " << name);
  return {};
}

std::string config_file(const TestDatabase& db, const std::string& customer_section) {
  std::string path = db.data_dir() + "/import-config.json";
  std::ofstream(path) << "{\"modules\": {\"customer\": " << customer_section << "}}";
  return path;
}

/// A CSV of `rows` distinct customers.
std::string generated_csv(int rows) {
  std::string csv = "name,email\n";
  for (int i = 1; i <= rows; ++i) csv += "Pelanggan " + std::to_string(i) + ",p" + std::to_string(i) + "@batik.my\n";
  return csv;
}

}  // namespace

TEST_SUITE("integration/customer_import") {
  TEST_CASE("import: a CSV with tricky quoting, a BOM, CRLF, blank lines, duplicates and invalid emails imports exactly its valid rows") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "import-messy", "owner@import-messy.example");
      std::string csv =
          "\xEF\xBB\xBFname,email,phone,tags,billing_line1,billing_city,billing_country,notes_col\r\n"
          "\"Batik, Murni Sdn Bhd\",murni@batik.my,,\"vip,wholesale\",\"Lot 5, Jalan \"\"Canting\"\"\",Kota Bharu,MY,x\r\n"
          "\r\n"
          "\"Kedai\r\nDua Baris\",dua@batik.my,,,,,,\r\n"
          "Anggerik,not-an-email,,,,,,\r\n"
          "Murni Again,MURNI@batik.my,,,,,,\r\n"
          ",noname@batik.my,,,,,,\r\n"
          "Cempaka,cempaka@batik.my,'+60123456789,,,,,\r\n";
      auto id = start_import(client, owner.access, csv);
      auto job = wait_job(client, owner.access, id);
      CHECK(str(job.at("status")) == "completed");
      CHECK(n(job, "total") == 6);
      CHECK(n(job, "processed") == 6);
      CHECK(n(job, "created") == 2);
      CHECK(n(job, "skipped") == 1);  // the second Murni: same email
      CHECK(n(job, "updated") == 0);
      CHECK(n(job, "failed") == 3);
      CHECK(str(job.at("on_duplicate")) == "skip");
      CHECK(job.at("columns").at("unknown") == bj::array{"notes_col"});

      // A quoted line break stays inside its field (a name may not hold one), and the rows after
      // it keep their numbers; lines count the physical lines of the file.
      auto errors = import_errors(client, owner.access, id);
      REQUIRE(errors.size() == 3);
      CHECK(errors[0].at("row") == 2);
      CHECK(errors[0].at("line") == 4);
      CHECK(str(errors[0].at("field")) == "name");
      CHECK(str(errors[0].at("code")) == "invalid");
      CHECK(errors[1].at("row") == 3);
      CHECK(errors[1].at("line") == 6);
      CHECK(str(errors[1].at("field")) == "email");
      CHECK(str(errors[1].at("code")) == "invalid");
      CHECK(errors[2].at("row") == 5);
      CHECK(errors[2].at("line") == 8);
      CHECK(str(errors[2].at("field")) == "name");
      CHECK(str(errors[2].at("code")) == "required");

      CHECK(listed_total(client, owner.access) == 2);
      auto murni = customer_named(client, owner.access, "Batik, Murni Sdn Bhd");
      CHECK(murni.at("tags") == bj::array{"vip", "wholesale"});
      REQUIRE(murni.at("addresses").as_array().size() == 1);
      const auto& address = murni.at("addresses").as_array()[0];
      CHECK(str(address.at("type")) == "billing");
      CHECK(str(address.at("line1")) == "Lot 5, Jalan \"Canting\"");
      CHECK(str(address.at("city")) == "Kota Bharu");
      CHECK(str(customer_named(client, owner.access, "Cempaka").at("phone")) == "+60123456789");

      auto done = outbox_payloads(db, "import.completed");
      REQUIRE(done.size() == 1);
      CHECK(str(done[0].at("import_id")) == id);
      CHECK(done[0].at("created") == 2);
      CHECK(done[0].at("failed") == 3);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'import.created'") == 1);
      // The uploaded file is gone once the job is done.
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_imports WHERE status = 'completed'") == 1);
      auto listed = data_of(call(client, "GET", "/api/v1/imports", owner.access));
      REQUIRE(listed.size() == 1);
      CHECK(str(listed[0].at("id")) == id);
    }
  }

  TEST_CASE("import: on_duplicate skip, update and create treat a known email each their own way") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "import-dup", "owner@import-dup.example");
      auto dahlia = create_customer(client, owner.access, {{"name", "Dahlia"}, {"email", "dahlia@batik.my"},
                                                            {"industry", "Textiles"}});
      std::string csv = "name,email,industry\nDahlia Baru,dahlia@batik.my,Fashion\nEndah,endah@batik.my,\n";

      auto skip = wait_job(client, owner.access, start_import(client, owner.access, csv, "?on_duplicate=skip"));
      CHECK(n(skip, "created") == 1);
      CHECK(n(skip, "skipped") == 1);
      CHECK(str(get_ok(client, owner.access, "/api/v1/customers/" + id_of(dahlia)).at("name")) == "Dahlia");

      auto update = wait_job(client, owner.access, start_import(client, owner.access, csv, "?on_duplicate=update"));
      CHECK(n(update, "updated") == 2);
      CHECK(n(update, "created") == 0);
      auto changed = get_ok(client, owner.access, "/api/v1/customers/" + id_of(dahlia));
      CHECK(str(changed.at("name")) == "Dahlia Baru");
      CHECK(str(changed.at("industry")) == "Fashion");
      CHECK(changed.at("version") == 2);
      CHECK(listed_total(client, owner.access) == 2);

      auto create = wait_job(client, owner.access, start_import(client, owner.access, csv, "?on_duplicate=create"));
      CHECK(n(create, "created") == 2);
      CHECK(n(create, "failed") == 0);
      CHECK(listed_total(client, owner.access) == 4);

      // external_id matches too, before email.
      std::string by_external = "name,external_id\nDahlia Lagi,ERP-1\n";
      auto first = wait_job(client, owner.access, start_import(client, owner.access, by_external));
      CHECK(n(first, "created") == 1);
      auto again = wait_job(client, owner.access,
                            start_import(client, owner.access, "name,external_id,tier\nX,ERP-1,gold\n", "?on_duplicate=update"));
      CHECK(n(again, "updated") == 1);
      CHECK(str(customer_named(client, owner.access, "X").at("tier")) == "gold");
    }
  }

  TEST_CASE("import: a dry run counts and reports like a real run and writes no customer") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "import-dry", "owner@import-dry.example");
      std::string csv = "name,email,tier\nSatu,satu@batik.my,gold\nDua,dua@batik.my,diamond\nTiga,tiga@batik.my,\n";
      auto job = wait_job(client, owner.access, start_import(client, owner.access, csv, "?dry_run=true"));
      CHECK(str(job.at("status")) == "completed");
      CHECK(job.at("dry_run") == true);
      CHECK(n(job, "created") == 2);
      CHECK(n(job, "failed") == 1);
      auto errors = import_errors(client, owner.access, str(job.at("id")));
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].at("row") == 2);
      CHECK(str(errors[0].at("field")) == "tier");
      CHECK(listed_total(client, owner.access) == 0);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_customers") == 0);
      CHECK(db.scalar("SELECT COUNT(*) FROM platform_outbox WHERE type = 'customer.created'") == 0);
    }
  }

  TEST_CASE("import: a JSON array imports customers with their contacts and reports bad elements by row") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "import-json", "owner@import-json.example");
      bj::array body{
          bj::object{{"name", "Kilang Satu"}, {"tier", "gold"},
                     {"contacts", bj::array{bj::object{{"first_name", "Aminah"}, {"email", "aminah@satu.my"}}}}},
          bj::value("not an object"),
          bj::object{{"name", "Kilang Dua"}, {"email", "bad"}},
          bj::object{{"name", "Kilang Tiga"}, {"bogus", 1}},
          bj::object{{"name", "Kilang Empat"}, {"contacts", bj::array{bj::object{{"last_name", "no first"}}}}},
      };
      auto job = wait_job(client, owner.access, start_import(client, owner.access, js(body), {}, "application/json"));
      CHECK(str(job.at("format")) == "json");
      CHECK(n(job, "total") == 5);
      CHECK(n(job, "created") == 1);
      CHECK(n(job, "failed") == 4);
      auto errors = import_errors(client, owner.access, str(job.at("id")));
      std::set<std::pair<long long, std::string>> got;
      for (const auto& e : errors) got.emplace(e.at("row").to_number<long long>(), str(e.at("field")));
      CHECK(got == std::set<std::pair<long long, std::string>>{
                       {2, "row"}, {3, "email"}, {4, "bogus"}, {5, "contacts[0].first_name"}});
      auto satu = customer_named(client, owner.access, "Kilang Satu");
      auto contacts = data_of(call(client, "GET", "/api/v1/customers/" + id_of(satu) + "/contacts", owner.access));
      REQUIRE(contacts.size() == 1);
      CHECK(str(contacts[0].at("first_name")) == "Aminah");
      CHECK(contacts[0].at("is_primary") == true);
      // The contact of a failed row was not kept either.
      CHECK(listed_total(client, owner.access) == 1);
    }
  }

  TEST_CASE("import: a multipart form with a file part and option fields imports like a plain body") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "import-form", "owner@import-form.example");
      create_customer(client, owner.access, {{"name", "Dahlia"}, {"email", "dahlia@batik.my"}});
      auto form = [](const std::string& file_part, const std::string& extra) {
        return "--B0undary\r\nContent-Disposition: form-data; name=\"on_duplicate\"\r\n\r\nupdate\r\n" + extra +
               "--B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pelanggan.csv\"\r\n"
               "Content-Type: text/csv\r\n\r\n" +
               file_part + "\r\n--B0undary--\r\n";
      };
      std::string type = "multipart/form-data; boundary=B0undary";
      auto job = wait_job(client, owner.access,
                          start_import(client, owner.access, form("name,email\r\nDahlia Baru,dahlia@batik.my\r\nEndah,endah@batik.my\r\n", ""), {}, type));
      CHECK(str(job.at("on_duplicate")) == "update");
      CHECK(str(job.at("format")) == "csv");
      CHECK(n(job, "updated") == 1);
      CHECK(n(job, "created") == 1);
      // A JSON file by its name; the query wins over a form field.
      std::string json_form =
          "--B0undary\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\ntrue\r\n"
          "--B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Pelanggan.JSON\"\r\n"
          "Content-Type: application/octet-stream\r\n\r\n[{\"name\": \"Dari Borang\"}]\r\n--B0undary--\r\n";
      auto dry = wait_job(client, owner.access, start_import(client, owner.access, json_form, "?dry_run=false", type));
      CHECK(str(dry.at("format")) == "json");
      CHECK(dry.at("dry_run") == false);
      CHECK(n(dry, "created") == 1);
      CHECK(listed_total(client, owner.access) == 3);

      auto no_file = upload(client, owner.access,
                            "--B0undary\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\ntrue\r\n--B0undary--\r\n",
                            {}, type);
      CHECK(no_file.status == 422);
      CHECK(error_code_for(no_file, "file") == "required");
      auto extra = upload(client, owner.access, form("name\r\nx\r\n", "--B0undary\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nfast\r\n"), {}, type);
      CHECK(extra.status == 422);
      CHECK(error_fields(extra) == std::set<std::string>{"mode"});
      auto broken = upload(client, owner.access, "--B0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nname\r\nx", {}, type);
      CHECK(broken.status == 422);
      CHECK(error_fields(broken) == std::set<std::string>{"file"});
      CHECK(upload(client, owner.access, "x", {}, "multipart/form-data").status == 415);
    }
  }

  TEST_CASE("import: cancelling stops a running import between batches, keeps what was committed, and a finished job cannot be cancelled") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db, {}, {"--config", config_file(db, "{\"import_batch_size\": 1}")});
      HttpClient client(server.port());
      auto owner = register_tenant(client, "import-cancel", "owner@import-cancel.example");
      auto id = start_import(client, owner.access, generated_csv(3000));
      REQUIRE(eventually([&] { return n(get_ok(client, owner.access, "/api/v1/imports/" + id), "processed") > 0; }));
      auto r = call(client, "POST", "/api/v1/imports/" + id + "/cancel", owner.access);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      CHECK(str(obj(r).at("status")) == "cancelled");
      // The batch running then ends; nothing after it.
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      auto job = get_ok(client, owner.access, "/api/v1/imports/" + id);
      auto later = get_ok(client, owner.access, "/api/v1/imports/" + id);
      CHECK(str(job.at("status")) == "cancelled");
      CHECK(n(job, "processed") < 3000);
      CHECK(n(later, "processed") == n(job, "processed"));
      CHECK(listed_total(client, owner.access) == n(job, "created"));
      CHECK(n(job, "created") == n(job, "processed"));
      REQUIRE(eventually([&] { return outbox_payloads(db, "import.completed").size() == 1; }));
      CHECK(str(outbox_payloads(db, "import.completed")[0].at("status")) == "cancelled");

      auto again = call(client, "POST", "/api/v1/imports/" + id + "/cancel", owner.access);
      CHECK(again.status == 409);
      CHECK(code_of(again) == "import_finished");
      auto small = wait_job(client, owner.access, start_import(client, owner.access, "name\nSelesai\n"));
      CHECK(call(client, "POST", "/api/v1/imports/" + str(small.at("id")) + "/cancel", owner.access).status == 409);
      CHECK(call(client, "POST", "/api/v1/imports/" + std::string(kUnknownId) + "/cancel", owner.access).status == 404);
    }
  }

  TEST_CASE("import: a request that writes while an import runs waits for a few rows, not for the batch") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      // One batch would hold every row: seconds under one transaction (PostgreSQL's rows cost
      // more, so fewer of them make the point).
      const int rows = backend == "postgres" ? 2000 : 5000;
      ServerProcess server(db, {}, {"--config", config_file(db, "{\"import_batch_size\": 10000}")});
      HttpClient client(server.port());
      auto owner = register_tenant(client, "import-share", "owner@import-share.example");
      auto id = start_import(client, owner.access, generated_csv(rows));
      REQUIRE(eventually([&] { return n(get_ok(client, owner.access, "/api/v1/imports/" + id), "processed") > 0; }));
      double slowest_ms = 0;
      for (int i = 0; i < 10; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        auto r = call(client, "POST", "/api/v1/customers", owner.access,
                      "{\"name\": \"Pembeli Semasa " + std::to_string(i) + "\"}");
        std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - t0;
        REQUIRE_MESSAGE(r.status == 201, r.body);
        slowest_ms = std::max(slowest_ms, took.count());
      }
      auto during = get_ok(client, owner.access, "/api/v1/imports/" + id);
      CHECK_MESSAGE(n(during, "processed") < rows, "the import ended before the requests: the test proves nothing");
      CHECK_MESSAGE(slowest_ms < 1000, "the slowest create waited " << slowest_ms << " ms");
      auto job = wait_job(client, owner.access, id);
      CHECK(str(job.at("status")) == "completed");
      CHECK(n(job, "created") == rows);
      CHECK(listed_total(client, owner.access) == rows + 10);
    }
  }

  TEST_CASE("import: a job interrupted by a server restart is marked failed with a reason and what it committed stays") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      std::string id;
      Account owner;
      {
        ServerProcess server(db, {}, {"--config", config_file(db, "{\"import_batch_size\": 1}")});
        HttpClient client(server.port());
        owner = register_tenant(client, "import-restart", "owner@import-restart.example");
        id = start_import(client, owner.access, generated_csv(3000));
        REQUIRE(eventually([&] { return n(get_ok(client, owner.access, "/api/v1/imports/" + id), "processed") > 0; }));
        server.kill9();
      }
      ServerProcess server(db);
      HttpClient client(server.port());
      auto job = get_ok(client, owner.access, "/api/v1/imports/" + id);
      CHECK(str(job.at("status")) == "failed");
      CHECK(str(job.at("failure_reason")).find("stopped") != std::string::npos);
      CHECK(n(job, "processed") < 3000);
      CHECK(listed_total(client, owner.access) == n(job, "created"));
      auto completed = outbox_payloads(db, "import.completed");
      REQUIRE(completed.size() == 1);
      CHECK(str(completed[0].at("status")) == "failed");
    }
  }

  TEST_CASE("import: an empty, header-only, binary, oversized or mistyped upload is refused with a clear 4xx") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db, {}, {"--config", config_file(db, "{\"import_max_bytes\": 2048}")});
      HttpClient client(server.port());
      auto owner = register_tenant(client, "import-limits", "owner@import-limits.example");

      auto empty = upload(client, owner.access, "");
      CHECK(empty.status == 422);
      CHECK(error_code_for(empty, "file") == "empty");
      auto header_only = upload(client, owner.access, "name,email\r\n\r\n");
      CHECK(header_only.status == 422);
      CHECK(error_code_for(header_only, "file") == "no_rows");
      auto blank = upload(client, owner.access, "\n\n\n");
      CHECK(blank.status == 422);
      CHECK(error_fields(blank) == std::set<std::string>{"file"});
      auto binary = upload(client, owner.access, std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
      CHECK(binary.status == 422);
      CHECK(error_code_for(binary, "file") == "not_text");
      auto unknown = upload(client, owner.access, "foo,bar\n1,2\n");
      CHECK(unknown.status == 422);
      CHECK(error_code_for(unknown, "file") == "no_known_columns");
      auto twice = upload(client, owner.access, "name,name\na,b\n");
      CHECK(error_code_for(twice, "file") == "duplicate_column");
      auto not_array = upload(client, owner.access, "{\"name\": \"x\"}", {}, "application/json");
      CHECK(not_array.status == 422);
      CHECK(error_fields(not_array) == std::set<std::string>{"file"});
      CHECK(error_code_for(upload(client, owner.access, "[]", {}, "application/json"), "file") == "empty_array");
      CHECK(upload(client, owner.access, "[{\"name\": \"x\"}", {}, "application/json").status == 422);

      auto big = upload(client, owner.access, generated_csv(200));
      CHECK(big.status == 413);
      auto typed = upload(client, owner.access, "name\nx\n", {}, "text/plain");
      CHECK(typed.status == 415);
      auto mode = upload(client, owner.access, "name\nx\n", "?on_duplicate=merge");
      CHECK(mode.status == 400);
      CHECK(error_fields(mode) == std::set<std::string>{"on_duplicate"});
      auto param = upload(client, owner.access, "name\nx\n", "?mode=fast");
      CHECK(param.status == 400);
      CHECK(error_fields(param) == std::set<std::string>{"mode"});
      CHECK(upload(client, owner.access, "name\nx\n", "?dry_run=maybe").status == 400);
      // Nothing was queued by any of them.
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_imports") == 0);
      CHECK(upload(client, "", "name\nx\n").status == 401);
    }
  }

  TEST_CASE("import: another tenant's import job is not found and imports need their permissions") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "import-iso-a", "owner@import-iso-a.example");
      auto other = register_tenant(client, "import-iso-b", "owner@import-iso-b.example");
      auto id = start_import(client, owner.access, "name\nMilik A\n");
      wait_job(client, owner.access, id);
      CHECK(call(client, "GET", "/api/v1/imports/" + id, other.access).status == 404);
      CHECK(call(client, "GET", "/api/v1/imports/" + id + "/errors", other.access).status == 404);
      CHECK(call(client, "POST", "/api/v1/imports/" + id + "/cancel", other.access).status == 404);
      CHECK(data_of(call(client, "GET", "/api/v1/imports", other.access)).empty());
      CHECK(call(client, "GET", "/api/v1/imports/not-an-id", owner.access).status == 404);
      CHECK(listed_total(client, other.access) == 0);

      auto viewer = add_member(client, db, owner, "viewer@import-iso-a.example", "viewer");
      auto sales = add_member(client, db, owner, "sales@import-iso-a.example", "sales");
      auto marketing = add_member(client, db, owner, "marketing@import-iso-a.example", "marketing");
      CHECK(upload(client, viewer.access, "name\nx\n").status == 403);
      CHECK(upload(client, sales.access, "name\nx\n").status == 403);
      CHECK(call(client, "GET", "/api/v1/imports/" + id, viewer.access).status == 200);
      CHECK(call(client, "POST", "/api/v1/imports/" + id + "/cancel", viewer.access).status == 403);
      auto by_marketing = wait_job(client, marketing.access, start_import(client, marketing.access, "name\nDari Pemasaran\n"));
      CHECK(n(by_marketing, "created") == 1);
      CHECK(str(by_marketing.at("created_by")) == marketing.user_id);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_imports") == 2);
    }
  }

  TEST_CASE("import: the OpenAPI document describes the import and import job endpoints") {
    TestDatabase db("sqlite");
    ServerProcess server(db);
    HttpClient client(server.port());
    auto doc = obj(client.get("/api/v1/openapi.json"));
    const auto& paths = doc.at("paths").as_object();
    CHECK(paths.at("/api/v1/customers/import").as_object().contains("post"));
    CHECK(paths.at("/api/v1/customers/import").at("post").at("responses").as_object().contains("202"));
    CHECK(paths.at("/api/v1/imports").as_object().contains("get"));
    CHECK(paths.at("/api/v1/imports/{id}").as_object().contains("get"));
    CHECK(paths.at("/api/v1/imports/{id}/errors").as_object().contains("get"));
    CHECK(paths.at("/api/v1/imports/{id}/cancel").as_object().contains("post"));
    CHECK(paths.at("/api/v1/customers/export").as_object().contains("get"));
    CHECK(doc.at("components").at("schemas").as_object().contains("Import"));
  }
}
