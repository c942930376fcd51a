// GET /customers/export on SQLite and PostgreSQL: the exported rows are exactly the listing's,
// across pages of the stream; formula cells are neutralized; RFC 4180 quoting; an export
// imported into a fresh tenant reproduces the customers; fields=, parameters and permissions.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fstream>
#include <set>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

namespace {

HttpResult export_raw(HttpClient& client, const std::string& token, const std::string& query) {
  return call(client, "GET", "/api/v1/customers/export" + query, token);
}

/// Every customer id the listing returns for a query, following its cursors.
std::vector<std::string> listed_ids(HttpClient& client, const std::string& token, const std::string& query) {
  std::vector<std::string> ids;
  std::string cursor;
  while (true) {
    std::string target = "/api/v1/customers?limit=200" + query + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto r = call(client, "GET", target, token);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto page = obj(r);
    for (const auto& c : page.at("data").as_array()) ids.push_back(str(c.at("id")));
    if (page.at("page").at("next_cursor").is_null()) break;
    cursor = str(page.at("page").at("next_cursor"));
  }
  return ids;
}

std::vector<std::string> exported_json_ids(HttpClient& client, const std::string& token, const std::string& query) {
  auto r = export_raw(client, token, "?format=json" + query);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.header("content-type") == "application/json");
  auto v = bj::parse(r.body);
  REQUIRE(v.is_array());
  std::vector<std::string> ids;
  for (const auto& c : v.as_array()) ids.push_back(str(c.at("id")));
  return ids;
}

/// RFC 4180 records of a CSV text (the test's own reader, independent of the server's).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
      ++i;
    } else {
      field += c;
    }
  }
  return rows;
}

std::vector<std::string> csv_ids(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> ids;
  REQUIRE(!rows.empty());
  REQUIRE(rows[0].at(0) == "id");
  for (std::size_t i = 1; i < rows.size(); ++i) ids.push_back(rows[i].at(0));
  return ids;
}

bj::object wait_job(HttpClient& client, const std::string& token, const std::string& id) {
  bj::object job;
  REQUIRE(eventually([&] {
    job = get_ok(client, token, "/api/v1/imports/" + id);
    auto s = str(job.at("status"));
    return s == "completed" || s == "failed" || s == "cancelled";
  }, std::chrono::seconds(60)));
  return job;
}

}  // namespace

TEST_SUITE("integration/customer_export") {
  TEST_CASE("export: a filtered export holds exactly the customers the listing returns, in its order, across stream pages") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "export-list", "owner@export-list.example");
      const char* tiers[] = {"gold", "silver", "bronze"};
      for (int b = 0; b < 7; ++b) {
        bj::array inputs;
        for (int i = 0; i < 100; ++i) {
          int k = b * 100 + i;
          bj::object c{{"name", "Pelanggan " + std::to_string(k % 37) + " " + std::to_string(k)},
                       {"tier", tiers[k % 3]},
                       {"status", k % 2 ? "active" : "lead"}};
          if (k % 5 == 0) c["tags"] = bj::array{"batik"};
          inputs.push_back(std::move(c));
        }
        auto r = call(client, "POST", "/api/v1/customers/batch/create", owner.access, js(bj::object{{"inputs", inputs}}));
        REQUIRE_MESSAGE(r.status == 200, r.body);
      }
      // 700 customers: more than one page of the stream.
      auto all = exported_json_ids(client, owner.access, "");
      CHECK(all.size() == 700);
      CHECK(all == listed_ids(client, owner.access, ""));
      auto csv = export_raw(client, owner.access, "");
      REQUIRE(csv.status == 200);
      CHECK(csv.header("content-type") == "text/csv; charset=utf-8");
      CHECK(csv.header("transfer-encoding") == "chunked");
      CHECK(csv_ids(parse_csv(csv.body)) == all);

      for (const std::string& query : {std::string("&tier=gold&sort=name"), std::string("&status=active&tag=batik"),
                                       std::string("&q=pelanggan%2012"), std::string("&tier=silver,bronze&sort=-name,code")}) {
        CAPTURE(query);
        auto listed = listed_ids(client, owner.access, query);
        CHECK(!listed.empty());
        CHECK(exported_json_ids(client, owner.access, query) == listed);
        CHECK(csv_ids(parse_csv(export_raw(client, owner.access, "?format=csv" + query).body)) == listed);
      }
      // Nothing matches: a header only, or an empty array.
      auto none = export_raw(client, owner.access, "?q=zzzzzz");
      REQUIRE(none.status == 200);
      CHECK(parse_csv(none.body).size() == 1);
      CHECK(bj::parse(export_raw(client, owner.access, "?format=json&q=zzzzzz").body) == bj::array{});
    }
  }

  TEST_CASE("export: cells a spreadsheet would evaluate are neutralized and quoting survives") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "export-formula", "owner@export-formula.example");
      create_customer(client, owner.access, {{"name", "=HYPERLINK(\"http://evil.example\",\"klik\")"},
                                             {"legal_name", "+cmd|' /C calc'!A0"},
                                             {"industry", "@SUM(1+1)"},
                                             {"phone", "+60123456789"},
                                             {"tags", bj::array{"-minus", "vip"}}});
      create_customer(client, owner.access, {{"name", "Batik, \"Murni\" Sdn Bhd"}});
      auto r = export_raw(client, owner.access, "?fields=name,legal_name,industry,phone,tags");
      REQUIRE(r.status == 200);
      CHECK(r.body.find("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"klik\"\")\"") != std::string::npos);
      auto rows = parse_csv(r.body);
      REQUIRE(rows.size() == 3);
      CHECK(rows[0] == std::vector<std::string>{"name", "legal_name", "industry", "phone", "tags"});
      std::set<std::vector<std::string>> data(rows.begin() + 1, rows.end());
      CHECK(data == std::set<std::vector<std::string>>{
                        {"'=HYPERLINK(\"http://evil.example\",\"klik\")", "'+cmd|' /C calc'!A0", "'@SUM(1+1)",
                         "'+60123456789", "'-minus,vip"},
                        {"Batik, \"Murni\" Sdn Bhd", "", "", "", ""}});
      // JSON is data, not a spreadsheet: values as they are.
      auto json = bj::parse(export_raw(client, owner.access, "?format=json&fields=name").body);
      std::set<std::string> names;
      for (const auto& c : json.as_array()) {
        CHECK(c.as_object().size() == 1);
        names.insert(str(c.at("name")));
      }
      CHECK(names.count("=HYPERLINK(\"http://evil.example\",\"klik\")") == 1);
    }
  }

  TEST_CASE("export: a CSV export imported into a fresh tenant reproduces the customers") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto source = register_tenant(client, "export-trip-a", "owner@export-trip-a.example");
      auto target = register_tenant(client, "export-trip-b", "owner@export-trip-b.example");
      create_customer(client, source.access,
                      {{"name", "Kilang Desa Murni, \"Batik\""},
                       {"type", "business"},
                       {"legal_name", "Kilang Desa Murni Sdn Bhd"},
                       {"email", "info@murni.my"},
                       {"phone", "+60123456789"},
                       {"website", "https://murni.my"},
                       {"industry", "Textiles"},
                       {"status", "active"},
                       {"tier", "platinum"},
                       {"tags", bj::array{"vip", "wholesale"}},
                       {"addresses", bj::array{bj::object{{"type", "billing"}, {"line1", "Lot 5, Jalan Canting"},
                                                          {"city", "Kota Bharu"}, {"postal_code", "15000"},
                                                          {"country", "MY"}},
                                               bj::object{{"type", "shipping"}, {"line1", "Gudang 2"},
                                                          {"line2", "=not a formula"}, {"country", "SG"}}}},
                       {"credit_limit", bj::object{{"amount", "5000.00"}, {"currency", "MYR"}}},
                       {"lifetime_value", bj::object{{"amount", "-12.50"}, {"currency", "USD"}}},
                       {"preferences", bj::object{{"language", "ms"}, {"preferred_channel", "whatsapp"},
                                                  {"marketing_opt_in", true}}},
                       {"external_id", "ERP-0001"}});
      create_customer(client, source.access, {{"name", "Siti"}, {"type", "individual"}, {"email", "siti@example.com"}});
      // Every column but the owner (the other tenant has other members).
      std::string fields;
      for (const char* f : {"id", "code", "type", "name", "legal_name", "email", "phone", "website", "industry",
                            "status", "tier", "tags", "billing_line1", "billing_line2", "billing_city", "billing_state",
                            "billing_postal_code", "billing_country", "shipping_line1", "shipping_line2", "shipping_city",
                            "shipping_state", "shipping_postal_code", "shipping_country", "credit_limit",
                            "credit_limit_currency", "lifetime_value", "lifetime_value_currency", "language",
                            "preferred_channel", "marketing_opt_in", "external_id", "created_at"}) {
        fields += (fields.empty() ? "" : ",") + std::string(f);
      }
      auto exported = export_raw(client, source.access, "?fields=" + fields);
      REQUIRE(exported.status == 200);
      auto r = call(client, "POST", "/api/v1/customers/import", target.access, exported.body,
                    {{"Content-Type", "text/csv"}});
      REQUIRE_MESSAGE(r.status == 202, r.body);
      auto job = wait_job(client, target.access, str(obj(r).at("id")));
      CHECK(job.at("created") == 2);
      CHECK(job.at("failed") == 0);
      CHECK(job.at("columns").at("ignored") == bj::array{"id", "code", "created_at"});

      auto a = data_of(call(client, "GET", "/api/v1/customers?sort=name", source.access));
      auto b = data_of(call(client, "GET", "/api/v1/customers?sort=name", target.access));
      REQUIRE(a.size() == 2);
      REQUIRE(b.size() == 2);
      for (std::size_t i = 0; i < 2; ++i) {
        for (const char* f : {"type", "name", "legal_name", "email", "phone", "website", "industry", "status", "tier",
                              "tags", "addresses", "credit_limit", "lifetime_value", "preferences", "external_id"}) {
          CAPTURE(f);
          CHECK(a[i].at(f) == b[i].at(f));
        }
        CHECK(str(b[i].at("owner_id")) == target.user_id);
      }
    }
  }

  TEST_CASE("export: an XLSX export is one worksheet of text cells with the listing's rows") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "export-xlsx", "owner@export-xlsx.example");
      create_customer(client, owner.access, {{"name", "=SUM(1+1)"}, {"tier", "gold"}});
      create_customer(client, owner.access, {{"name", "Batik & Co <Murni>"}, {"tier", "gold"}});
      create_customer(client, owner.access, {{"name", "Perak"}, {"tier", "silver"}});
      auto r = export_raw(client, owner.access, "?format=xlsx&tier=gold&fields=name,tier");
      REQUIRE(r.status == 200);
      CHECK(r.header("content-type") == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
      REQUIRE(r.body.size() > 4);
      CHECK(r.body.substr(0, 4) == std::string("PK\x03\x04", 4));
      std::string path = db.data_dir() + "/export.xlsx";
      std::ofstream(path, std::ios::binary) << r.body;
      // Rows, inline text cells, and no formula anywhere in the sheet.
      auto [code, out] = run_command("/usr/bin/python3",
                                     {"-c",
                                      "import sys, zipfile\n"
                                      "x = zipfile.ZipFile(sys.argv[1]).read('xl/worksheets/sheet1.xml').decode()\n"
                                      "print(x.count('<row '), '<f>' in x, '=SUM(1+1)' in x, 'Batik &amp; Co &lt;Murni&gt;' in x, 'Perak' in x)",
                                      path});
      CHECK(code == 0);
      CHECK(out == "3 False True True False\n");
      // Nothing of the temporary workbook stays behind.
      auto left = run_command("/usr/bin/find", {db.data_dir() + "/exports", "-type", "f"});
      CHECK(left.second.empty());
      CHECK(error_fields(export_raw(client, owner.access, "?format=xlsx&fields=bogus")) == std::set<std::string>{"fields"});
    }
  }

  TEST_CASE("export: fields, format and filters are checked, and exporting needs exports:create") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "export-perm", "owner@export-perm.example");
      auto other = register_tenant(client, "export-perm-b", "owner@export-perm-b.example");
      create_customer(client, owner.access, {{"name", "Milik A"}, {"email", "a@batik.my"}});
      auto picked = export_raw(client, owner.access, "?fields=email,name");
      REQUIRE(picked.status == 200);
      CHECK(picked.body == "email,name\r\na@batik.my,Milik A\r\n");
      CHECK(picked.header("content-disposition") == "attachment; filename=\"customers.csv\"");

      for (const std::string& q : {std::string("?fields=name,bogus"), std::string("?fields=name,name"),
                                   std::string("?fields="), std::string("?format=json&fields=billing_city")}) {
        CAPTURE(q);
        auto r = export_raw(client, owner.access, q);
        CHECK(r.status == 400);
        CHECK(error_fields(r) == std::set<std::string>{"fields"});
      }
      auto format = export_raw(client, owner.access, "?format=xml");
      CHECK(format.status == 400);
      CHECK(error_fields(format) == std::set<std::string>{"format"});
      CHECK(error_fields(export_raw(client, owner.access, "?limit=5")) == std::set<std::string>{"limit"});
      CHECK(error_fields(export_raw(client, owner.access, "?tier=diamond")) == std::set<std::string>{"tier"});
      CHECK(error_fields(export_raw(client, owner.access, "?sort=relevance")) == std::set<std::string>{"sort"});

      // Another tenant's export has none of these customers.
      CHECK(bj::parse(export_raw(client, other.access, "?format=json").body) == bj::array{});

      auto viewer = add_member(client, db, owner, "viewer@export-perm.example", "viewer");
      auto sales = add_member(client, db, owner, "sales@export-perm.example", "sales");
      auto marketing = add_member(client, db, owner, "marketing@export-perm.example", "marketing");
      CHECK(export_raw(client, viewer.access, "").status == 403);
      CHECK(export_raw(client, sales.access, "").status == 403);
      CHECK(export_raw(client, marketing.access, "?fields=name").body == "name\r\nMilik A\r\n");
      CHECK(export_raw(client, "", "").status == 401);
    }
  }
}
