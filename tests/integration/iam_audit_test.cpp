// The audit log over a real socket, on SQLite and PostgreSQL: every filter of GET /audit-logs,
// cursor pagination, tenant isolation, and `crm audit archive`.
#include <doctest/doctest.h>
#include <zlib.h>
#include <map>
#include <ctime>

#include <boost/json.hpp>
#include <filesystem>
#include <functional>
#include <regex>
#include <sstream>

#include "support/harness.hpp"
#include "support/iam_helpers.hpp"

using namespace crm::testing;
using namespace crm::testing::iam;

namespace {

std::vector<std::string> ids_of(const bj::array& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(str(e.at("id")));
  return out;
}

/// The entries of a query, every page followed (limit 200), newest first.
bj::array entries(HttpClient& client, const std::string& token, const std::string& query) {
  auto r = call(client, "GET", "/api/v1/audit-logs?limit=200" + (query.empty() ? "" : "&" + query), token);
  REQUIRE_MESSAGE(r.status == 200, query << ": " << r.body);
  REQUIRE(obj(r).at("page").at("next_cursor").is_null());
  return data_of(r);
}

/// Ids of the entries of `all` that satisfy `keep`, in order.
std::vector<std::string> expected(const bj::array& all, const std::function<bool(const bj::object&)>& keep) {
  std::vector<std::string> out;
  for (const auto& e : all)
    if (keep(e.as_object())) out.push_back(str(e.at("id")));
  return out;
}

std::string gunzip_file(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  REQUIRE(gz != nullptr);
  std::string out;
  char buf[4096];
  int n = 0;
  while ((n = gzread(gz, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  REQUIRE(n == 0);
  gzclose(gz);
  return out;
}

}  // namespace

TEST_SUITE("integration/iam_audit") {
  TEST_CASE(
      "each audit log filter, their combinations and a cursor walk return exactly the tenant's "
      "matching entries") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "filters-co", "owner@filters.example");
      auto admin = add_member(client, db, owner, "admin@filters.example", "admin");
      add_member(client, db, owner, "sales@filters.example", "sales");
      auto other = register_tenant(client, "intruder-co", "owner@intruder.example");
      auto role = call(client, "POST", "/api/v1/roles", owner.access,
                       js(bj::object{{"name", "auditors"}, {"permissions", bj::array{"audit:read"}}}));
      REQUIRE(role.status == 201);
      std::string role_id = str(obj(role).at("id"));
      REQUIRE(call(client, "POST", "/api/v1/roles/" + role_id + "/permissions", admin.access,
                   js(bj::object{{"permissions", bj::array{"users:read"}}}))
                  .status == 200);
      for (const char* name : {"Filters One", "Filters Two"}) {
        REQUIRE(call(client, "PUT", "/api/v1/tenant", admin.access, js(bj::object{{"name", name}})).status == 200);
      }
      REQUIRE(call(client, "PUT", "/api/v1/tenant", other.access, js(bj::object{{"name", "Intruder Two"}})).status ==
              200);
      REQUIRE(call(client, "POST", "/api/v1/roles", other.access,
                   js(bj::object{{"name", "auditors"}, {"permissions", bj::array{"audit:read"}}}))
                  .status == 201);

      auto all = entries(client, owner.access, "");
      REQUIRE(all.size() >= 10);
      for (const auto& e : all) CHECK(str(e.at("tenant_id")) == owner.tenant_id);
      auto theirs = entries(client, other.access, "");
      REQUIRE_FALSE(theirs.empty());
      for (const auto& id : ids_of(theirs)) {
        auto mine = ids_of(all);
        CHECK(std::find(mine.begin(), mine.end(), id) == mine.end());
      }

      struct Case {
        std::string query;
        std::function<bool(const bj::object&)> keep;
      };
      auto middle = str(all[all.size() / 2].at("occurred_at"));
      std::vector<Case> cases{
          {"entity_type=role", [](const bj::object& e) { return str(e.at("entity_type")) == "role"; }},
          {"entity_id=" + role_id, [&](const bj::object& e) { return str(e.at("entity_id")) == role_id; }},
          {"actor_id=" + admin.user_id, [&](const bj::object& e) { return str(e.at("actor_id")) == admin.user_id; }},
          {"action=tenant.updated", [](const bj::object& e) { return str(e.at("action")) == "tenant.updated"; }},
          {"from=" + middle, [&](const bj::object& e) { return str(e.at("occurred_at")) >= middle; }},
          {"to=" + middle, [&](const bj::object& e) { return str(e.at("occurred_at")) <= middle; }},
          {"entity_type=role&action=role.updated",
           [](const bj::object& e) { return str(e.at("entity_type")) == "role" && str(e.at("action")) == "role.updated"; }},
          {"actor_id=" + admin.user_id + "&entity_type=tenant&from=2001-01-01T00:00:00.000Z",
           [&](const bj::object& e) {
             return str(e.at("actor_id")) == admin.user_id && str(e.at("entity_type")) == "tenant";
           }},
          {"entity_type=tenant&action=tenant.updated&to=" + middle,
           [&](const bj::object& e) {
             return str(e.at("action")) == "tenant.updated" && str(e.at("occurred_at")) <= middle;
           }},
          {"entity_type=customer", [](const bj::object&) { return false; }},
          {"actor_id=" + other.user_id, [](const bj::object&) { return false; }},
          {"entity_id=" + other.tenant_id, [](const bj::object&) { return false; }},
          {"from=2999-01-01T00:00:00.000Z", [](const bj::object&) { return false; }},
      };
      for (const auto& c : cases) {
        CAPTURE(c.query);
        auto want = expected(all, c.keep);
        auto got = entries(client, owner.access, c.query);
        CHECK(ids_of(got) == want);
        auto counted = call(client, "GET", "/api/v1/audit-logs?limit=1&include_total=true&" + c.query, owner.access);
        REQUIRE(counted.status == 200);
        CHECK(obj(counted).at("page").at("total").to_number<std::size_t>() == want.size());
      }
      // The cases are not vacuous.
      CHECK(expected(all, cases[3].keep).size() == 2);
      CHECK(expected(all, cases[6].keep).size() == 1);
      CHECK(expected(all, cases[1].keep).size() == 2);
      CHECK_FALSE(expected(all, cases[4].keep).empty());
      CHECK(expected(all, cases[4].keep).size() < all.size());
      CHECK_FALSE(obj(call(client, "GET", "/api/v1/audit-logs", owner.access)).at("page").as_object().contains("total"));

      // A walk in pages of three: every entry once, in the order of one big page.
      std::vector<std::string> walked;
      std::string cursor;
      for (int i = 0; i < 100; ++i) {
        auto page = call(client, "GET", "/api/v1/audit-logs?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor),
                         owner.access);
        REQUIRE_MESSAGE(page.status == 200, page.body);
        auto data = data_of(page);
        CHECK(data.size() <= 3);
        for (const auto& id : ids_of(data)) walked.push_back(id);
        auto next = obj(page).at("page").at("next_cursor");
        if (next.is_null()) break;
        CHECK(data.size() == 3);
        cursor = str(next);
      }
      CHECK(walked == ids_of(all));
      // A filtered walk keeps its filter.
      walked.clear();
      cursor.clear();
      for (int i = 0; i < 100; ++i) {
        auto page = call(client, "GET",
                         "/api/v1/audit-logs?limit=3&entity_type=user" + (cursor.empty() ? "" : "&cursor=" + cursor),
                         owner.access);
        REQUIRE(page.status == 200);
        for (const auto& id : ids_of(data_of(page))) walked.push_back(id);
        auto next = obj(page).at("page").at("next_cursor");
        if (next.is_null()) break;
        cursor = str(next);
      }
      CHECK(walked == expected(all, [](const bj::object& e) { return str(e.at("entity_type")) == "user"; }));
      CHECK(walked.size() > 3);

      // Bad parameters are 400 naming the parameter.
      for (const auto& bad : std::vector<std::pair<std::string, std::string>>{
               {"from=yesterday", "from"},
               {"to=2026-13-01T00:00:00Z", "to"},
               {"from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"},
               {"actor_id=not-a-user", "actor_id"},
               {"entity_type=Bad%20Type", "entity_type"},
               {"action=DROP%20TABLE", "action"},
               {"actor=" + owner.user_id, "actor"},
               {"include_total=maybe", "include_total"},
               {"limit=201", "limit"},
               {"cursor=forged", "cursor"}}) {
        CAPTURE(bad.first);
        auto r = call(client, "GET", "/api/v1/audit-logs?" + bad.first, owner.access);
        CHECK(r.status == 400);
        CHECK(error_fields(r) == std::set<std::string>{bad.second});
      }
      // Another tenant's cursor is refused too.
      auto foreign = obj(call(client, "GET", "/api/v1/audit-logs?limit=1", other.access));
      REQUIRE(foreign.at("page").at("next_cursor").is_string());
      CHECK(call(client, "GET", "/api/v1/audit-logs?cursor=" + str(foreign.at("page").at("next_cursor")),
                 owner.access)
                .status == 400);
      CHECK(call(client, "GET", "/api/v1/audit-logs", "").status == 401);
    }
  }

  TEST_CASE(
      "crm audit archive --before writes older entries as gzip JSON lines and removes them, keeping "
      "the later ones") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "archive-co", "owner@archive.example");
      auto other = register_tenant(client, "archive-other", "owner@archive-other.example");
      REQUIRE(call(client, "PUT", "/api/v1/tenant", owner.access, js(bj::object{{"name", "Archive Co 2"}})).status ==
              200);
      // Back-date the entries of the sign-ups (both tenants) to 2020.
      db.exec("UPDATE iam_audit_log SET occurred_at = 1590969600000 + seq WHERE action IN"
              " ('tenant.created', 'user.registered')");
      auto old_ids = db.column("SELECT id FROM iam_audit_log WHERE occurred_at < 1609459200000 ORDER BY seq");
      REQUIRE(old_ids.size() == 4);
      auto total = db.scalar("SELECT COUNT(*) FROM iam_audit_log");

      auto env = command_env(db);
      for (std::vector<std::string> args : {std::vector<std::string>{"audit", "archive", "--before", "2021-13-45"},
                                            std::vector<std::string>{"audit", "archive", "--before", "soon"},
                                            std::vector<std::string>{"audit", "archive"}}) {
        auto [code, out] = run_command(probe_server_path(), args, env);
        CHECK(code != 0);
        CHECK_MESSAGE(out.find("--before") != std::string::npos, out);
      }
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log") == total);

      auto [code, out] = run_command(probe_server_path(), {"audit", "archive", "--before", "2021-01-01"}, env);
      REQUIRE_MESSAGE(code == 0, out);
      std::smatch m;
      REQUIRE_MESSAGE(std::regex_search(out, m, std::regex(R"(archived 4 audit entries to (\S+\.jsonl\.gz))")), out);
      std::string file = m[1].str();
      CHECK(file.rfind(db.data_dir() + "/audit-archive/", 0) == 0);

      std::vector<std::string> archived;
      std::istringstream lines(gunzip_file(file));
      std::string line;
      while (std::getline(lines, line)) {
        auto e = bj::parse(line).as_object();
        archived.push_back(str(e.at("id")));
        CHECK(str(e.at("occurred_at")).rfind("2020-06-01T", 0) == 0);
        CHECK((str(e.at("tenant_id")) == owner.tenant_id || str(e.at("tenant_id")) == other.tenant_id));
        CHECK((str(e.at("action")) == "tenant.created" || str(e.at("action")) == "user.registered"));
        CHECK(e.at("changes").is_object());
        CHECK(e.contains("request_id"));
      }
      CHECK(archived == old_ids);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log") == total - 4);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE occurred_at < 1609459200000") == 0);
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'tenant.updated'") == 1);
      auto remaining = entries(client, owner.access, "");
      for (const auto& id : ids_of(remaining)) CHECK(std::find(old_ids.begin(), old_ids.end(), id) == old_ids.end());
      CHECK_FALSE(remaining.empty());

      // Nothing older is left: a second run archives nothing and writes no file.
      auto [again, again_out] = run_command(probe_server_path(), {"audit", "archive", "--before", "2021-01-01"}, env);
      CHECK(again == 0);
      CHECK(again_out.find("archived 0 audit entries") != std::string::npos);
      std::size_t files = 0;
      for (const auto& f : std::filesystem::directory_iterator(db.data_dir() + "/audit-archive")) {
        (void)f;
        ++files;
      }
      CHECK(files == 1);
    }
  }

  TEST_CASE("with a retention set the server archives and removes older audit entries by itself") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db, {}, {"--set", "modules.iam.audit_retention_days=30", "--set",
                                    "modules.iam.audit_archive_interval_ms=200"});
      HttpClient client(server.port());
      auto owner = register_tenant(client, "retention-co", "owner@retention.example");
      // The sign-up entries are made 40 days old; the rename after it stays recent.
      auto forty_days_ago = std::to_string(static_cast<long long>(std::time(nullptr) - 40LL * 86400) * 1000);
      db.exec("UPDATE iam_audit_log SET occurred_at = " + forty_days_ago + " WHERE action IN"
              " ('tenant.created', 'user.registered')");
      auto old_ids = db.column("SELECT id FROM iam_audit_log WHERE occurred_at = " + forty_days_ago + " ORDER BY seq");
      REQUIRE(old_ids.size() == 2);
      REQUIRE(call(client, "PUT", "/api/v1/tenant", owner.access, js(bj::object{{"name", "Retention Co 2"}})).status ==
              200);
      CHECK(eventually([&] { return db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE occurred_at = " +
                                              forty_days_ago) == 0; },
                       std::chrono::seconds(10)));
      CHECK(db.scalar("SELECT COUNT(*) FROM iam_audit_log WHERE action = 'tenant.updated'") == 1);
      // The removed entries are in an archive file, whole.
      std::string archived;
      for (const auto& f : std::filesystem::directory_iterator(db.data_dir() + "/audit-archive")) {
        archived += gunzip_file(f.path().string());
      }
      for (const auto& id : old_ids) CHECK(archived.find("\"id\":\"" + id + "\"") != std::string::npos);
      CHECK(archived.find("tenant.updated") == std::string::npos);
    }
  }

  TEST_CASE("a bad audit retention stops start-up naming the key") {
    TestDatabase db("sqlite");
    std::map<std::string, std::string> env{{"CRM_DATABASE_URL", db.url()}, {"CRM_JWT_SECRET", kJwtSecret},
                                           {"CRM_DATA_DIR", db.data_dir()}};
    auto [code, out] = run_command(crm_binary_path(), {"serve", "--set", "modules.iam.audit_retention_days=-3"}, env);
    CHECK(code != 0);
    CHECK(out.find("modules.iam.audit_retention_days") != std::string::npos);
  }
}  // TEST_SUITE
