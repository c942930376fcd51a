// Customer segments: static (explicit members) and dynamic (a stored filter), their members,
// refreshes, the segment_id filter of customer listings, tenancy and permissions.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

namespace {

using IdSet = std::set<std::string>;

bj::object leaf(const char* field, const char* op, bj::value value = nullptr) {
  bj::object o{{"field", field}, {"op", op}};
  if (!value.is_null()) o["value"] = std::move(value);
  return o;
}

std::string segment_path(const std::string& id, const std::string& rest = {}) {
  return "/api/v1/segments/" + id + rest;
}

bj::object create_segment(HttpClient& client, const std::string& token, const bj::object& body) {
  auto r = call(client, "POST", "/api/v1/segments", token, js(body));
  REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
  return obj(r);
}

bj::object static_segment(HttpClient& client, const std::string& token, const std::string& name,
                          const std::vector<std::string>& ids) {
  bj::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return create_segment(client, token, bj::object{{"name", name}, {"type", "static"}, {"customer_ids", a}});
}

bj::object dynamic_segment(HttpClient& client, const std::string& token, const std::string& name, bj::object filter) {
  return create_segment(client, token, bj::object{{"name", name}, {"type", "dynamic"}, {"filter", filter}});
}

std::map<std::string, std::string> if_match(const bj::value& version) {
  return {{"If-Match", "\"" + std::to_string(version.as_int64()) + "\""}};
}

bj::object ids_body(const std::vector<std::string>& ids) {
  bj::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return bj::object{{"customer_ids", a}};
}

/// Ids of a customer collection's first page (REQUIREs a 200).
IdSet ids_at(HttpClient& client, const std::string& token, const std::string& target) {
  auto r = call(client, "GET", target, token);
  REQUIRE_MESSAGE(r.status == 200, target << ": " << r.body);
  IdSet out;
  for (const auto& c : data_of(r)) out.insert(id_of(c.as_object()));
  return out;
}

/// The members GET /segments/{id}/customers lists, every page of them.
IdSet members(HttpClient& client, const std::string& token, const std::string& segment_id) {
  IdSet out;
  std::string cursor;
  for (int pages = 0; pages < 50; ++pages) {
    auto r = call(client, "GET", segment_path(segment_id, "/customers?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor)),
                  token);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto page = obj(r);
    for (const auto& c : page.at("data").as_array()) CHECK(out.insert(id_of(c.as_object())).second);
    if (page.at("page").at("next_cursor").is_null()) return out;
    cursor = str(page.at("page").at("next_cursor"));
  }
  FAIL("too many pages");
  return out;
}

/// Customer ids of a segment's stored member rows (a dynamic segment's snapshot).
IdSet member_rows(TestDatabase& db, const std::string& segment_id) {
  auto rows = db.column("SELECT customer_id FROM customer_segment_members WHERE segment_id = '" + segment_id + "'");
  return IdSet(rows.begin(), rows.end());
}

IdSet ids_of_array(const bj::value& a) {
  IdSet out;
  for (const auto& v : a.as_array()) out.insert(str(v));
  return out;
}

std::string new_customer(HttpClient& client, const std::string& token, bj::object body) {
  return id_of(create_customer(client, token, body));
}

bj::array address(const char* country) {
  return bj::array{bj::object{{"type", "billing"}, {"line1", "1 Jalan Batik"}, {"country", country}}};
}

}  // namespace

TEST_SUITE("integration/customer_segments") {
  TEST_CASE("segment: a static segment is created, read, replaced and deleted with versions, events and audit") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "seg-crud-a", "owner@seg-crud-a.example");
      auto c1 = new_customer(client, a.access, {{"name", "Kedai Satu"}});
      auto c2 = new_customer(client, a.access, {{"name", "Kedai Dua"}});
      auto c3 = new_customer(client, a.access, {{"name", "Kedai Tiga"}});

      auto r = call(client, "POST", "/api/v1/segments", a.access,
                    js(bj::object{{"name", "  Wholesale   partners "},
                                  {"description", "Trade price list"},
                                  {"type", "static"},
                                  {"customer_ids", bj::array{bj::value(c1), bj::value(c2), bj::value(c1)}}}));
      REQUIRE_MESSAGE(r.status == 201, r.body);
      auto s = obj(r);
      auto id = str(s.at("id"));
      CHECK(r.header("location") == "/api/v1/segments/" + id);
      CHECK(r.header("etag") == "\"1\"");
      CHECK(s.at("name") == "Wholesale partners");
      CHECK(s.at("description") == "Trade price list");
      CHECK(s.at("type") == "static");
      CHECK(s.at("filter").is_null());
      CHECK(s.at("member_count") == 2);
      CHECK(s.at("version") == 1);
      CHECK(s.at("tenant_id") == bj::value(a.tenant_id));
      CHECK(s.at("created_by") == bj::value(a.user_id));
      CHECK(s.at("refreshed_at").is_null());
      CHECK(s.contains("created_at"));
      CHECK(members(client, a.access, id) == IdSet{c1, c2});
      auto got = get_ok(client, a.access, segment_path(id));
      CHECK(got == s);

      auto created = outbox_payloads(db, "segment.created");
      REQUIRE(created.size() == 1);
      CHECK(created[0].at("segment_id") == bj::value(id));
      CHECK(ids_of_array(created[0].at("members").at("added")) == IdSet{c1, c2});
      auto audit = audit_changes(db, "segment.created", id);
      REQUIRE(audit.size() == 1);
      CHECK(audit[0].at("name").at("new") == "Wholesale partners");
      CHECK(audit[0].at("type").at("new") == "static");

      // The name is unique in the tenant, ignoring case and spacing.
      auto dup = call(client, "POST", "/api/v1/segments", a.access,
                      js(bj::object{{"name", "WHOLESALE PARTNERS"}, {"type", "static"}}));
      CHECK(dup.status == 409);
      CHECK(error_fields(dup) == std::set<std::string>{"name"});
      CHECK(obj(dup).at("existing_id") == bj::value(id));

      // PUT replaces name, description and (given) the members, guarded by If-Match.
      auto put = call(client, "PUT", segment_path(id), a.access,
                      js(bj::object{{"name", "Trade partners"}, {"customer_ids", bj::array{bj::value(c2), bj::value(c3)}}}),
                      if_match(s.at("version")));
      REQUIRE_MESSAGE(put.status == 200, put.body);
      auto after = obj(put);
      CHECK(put.header("etag") == "\"2\"");
      CHECK(after.at("version") == 2);
      CHECK(after.at("name") == "Trade partners");
      CHECK(after.at("description").is_null());  // absent: cleared
      CHECK(after.at("member_count") == 2);
      CHECK(members(client, a.access, id) == IdSet{c2, c3});
      auto updated = outbox_payloads(db, "segment.updated");
      REQUIRE(updated.size() == 1);
      CHECK(ids_of_array(updated[0].at("members").at("added")) == IdSet{c3});
      CHECK(ids_of_array(updated[0].at("members").at("removed")) == IdSet{c1});
      auto changed = audit_changes(db, "segment.updated", id);
      REQUIRE(changed.size() == 1);
      CHECK(changed[0].at("name").at("old") == "Wholesale partners");
      CHECK(changed[0].at("name").at("new") == "Trade partners");
      CHECK(changed[0].at("description").at("old") == "Trade price list");

      auto stale = call(client, "PUT", segment_path(id), a.access, js(bj::object{{"name", "Stale"}}),
                        {{"If-Match", "\"1\""}});
      CHECK(stale.status == 412);
      CHECK(get_ok(client, a.access, segment_path(id)).at("name") == "Trade partners");
      // The same content again: no new version, no event.
      auto same = call(client, "PUT", segment_path(id), a.access, js(bj::object{{"name", "Trade partners"}}));
      REQUIRE(same.status == 200);
      CHECK(obj(same).at("version") == 2);
      CHECK(outbox_payloads(db, "segment.updated").size() == 1);
      // Without customer_ids the members stay; renaming to its own name in other case is fine.
      auto recased = call(client, "PUT", segment_path(id), a.access, js(bj::object{{"name", "TRADE partners"}}));
      REQUIRE(recased.status == 200);
      CHECK(members(client, a.access, id) == IdSet{c2, c3});

      CHECK(call(client, "DELETE", segment_path(id), a.access, "", {{"If-Match", "\"1\""}}).status == 412);
      CHECK(call(client, "DELETE", segment_path(id), a.access).status == 204);
      CHECK(call(client, "GET", segment_path(id), a.access).status == 404);
      CHECK(call(client, "DELETE", segment_path(id), a.access).status == 404);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_segment_members WHERE segment_id = '" + id + "'") == 0);
      auto deleted = audit_changes(db, "segment.deleted", id);
      REQUIRE(deleted.size() == 1);
      CHECK(deleted[0].at("name").at("old") == "TRADE partners");
      // The customers stay.
      CHECK(get_ok(client, a.access, "/api/v1/customers/" + c2).at("name") == "Kedai Dua");
      // Its name is free again.
      static_segment(client, a.access, "Trade partners", {});
    }
  }

  TEST_CASE("segment: every invalid segment body is one 422 naming each bad field, and nothing is written") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "seg-valid-a", "owner@seg-valid-a.example");
      auto b = register_tenant(client, "seg-valid-b", "owner@seg-valid-b.example");
      auto mine = new_customer(client, a.access, {{"name", "Mine"}});
      auto gone = new_customer(client, a.access, {{"name", "Gone"}});
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + gone, a.access).status == 204);
      auto theirs = new_customer(client, b.access, {{"name", "Theirs"}});
      auto dyn = dynamic_segment(client, a.access, "Dynamic", leaf("status", "eq", "lead"));
      auto fixed = static_segment(client, a.access, "Fixed", {mine});
      long long segments_before = db.scalar("SELECT COUNT(*) FROM customer_segments");

      auto fields = [&](const bj::value& body) {
        auto r = call(client, "POST", "/api/v1/segments", a.access, js(body));
        CHECK_MESSAGE(r.status == 422, r.body);
        return error_fields(r);
      };
      using F = std::set<std::string>;
      CHECK(fields(bj::object{}) == F{"name", "type"});
      CHECK(fields(bj::array{}) == F{"body"});
      CHECK(fields(bj::object{{"name", "   "}, {"type", "static"}}) == F{"name"});
      CHECK(fields(bj::object{{"name", 12}, {"type", "static"}}) == F{"name"});
      CHECK(fields(bj::object{{"name", std::string(201, 'x')}, {"type", "static"}}) == F{"name"});
      CHECK(fields(bj::object{{"name", "x"}, {"type", "smart"}}) == F{"type"});
      CHECK(fields(bj::object{{"name", "x"}, {"type", "static"}, {"description", std::string(2001, 'd')}}) ==
            F{"description"});
      CHECK(fields(bj::object{{"name", "x"}, {"type", "static"}, {"filter", leaf("status", "eq", "lead")}}) ==
            F{"filter"});
      CHECK(fields(bj::object{{"name", "x"}, {"type", "dynamic"}}) == F{"filter"});
      CHECK(fields(bj::object{{"name", "x"}, {"type", "dynamic"}, {"filter", leaf("status", "eq", "lead")},
                              {"customer_ids", bj::array{bj::value(mine)}}}) == F{"customer_ids"});
      CHECK(fields(bj::object{{"name", "x"}, {"type", "static"}, {"customer_ids", "all"}}) == F{"customer_ids"});
      // Each bad id is named by its index: not an id, unknown, another tenant's, deleted.
      CHECK(fields(bj::object{{"name", "x"},
                              {"type", "static"},
                              {"customer_ids", bj::array{bj::value(mine), "nope", bj::value(kUnknownId),
                                                         bj::value(theirs), bj::value(gone), 7}}}) ==
            F{"customer_ids[1]", "customer_ids[2]", "customer_ids[3]", "customer_ids[4]", "customer_ids[5]"});
      bj::array many;
      for (int i = 0; i < 10001; ++i) many.emplace_back(mine);
      auto too_many = call(client, "POST", "/api/v1/segments", a.access,
                           js(bj::object{{"name", "x"}, {"type", "static"}, {"customer_ids", many}}));
      CHECK(too_many.status == 422);
      CHECK(error_code_for(too_many, "customer_ids") == "too_many");
      // Filter problems are named by their path, as POST /customers/search names them.
      CHECK(fields(bj::object{{"name", "x"}, {"type", "dynamic"}, {"filter", leaf("colour", "eq", "blue")}}) ==
            F{"filter.field"});
      CHECK(fields(bj::object{{"name", "x"},
                              {"type", "dynamic"},
                              {"filter", bj::object{{"and", bj::array{leaf("status", "eq", "lead"),
                                                                      leaf("tier", "gt", "gold")}}}}}) ==
            F{"filter.and[1].op"});
      CHECK(fields(bj::object{{"name", "x"}, {"type", "dynamic"}, {"filter", "status = lead"}}) == F{"filter"});
      // A segment's filter names static segments of the tenant only.
      CHECK(fields(bj::object{{"name", "x"}, {"type", "dynamic"},
                              {"filter", leaf("segment_id", "in", bj::array{bj::value(str(fixed.at("id"))),
                                                                           bj::value(str(dyn.at("id")))})}}) ==
            F{"filter.value[1]"});
      CHECK(fields(bj::object{{"name", "x"}, {"type", "dynamic"},
                              {"filter", leaf("segment_id", "eq", bj::value(kUnknownId))}}) == F{"filter.value"});
      // Read-only and unknown fields.
      CHECK(fields(bj::object{{"name", "x"}, {"type", "static"}, {"id", kUnknownId}, {"version", 3},
                              {"member_count", 5}, {"refreshed_at", "2026-01-01T00:00:00Z"}, {"colour", "red"}}) ==
            F{"id", "version", "member_count", "refreshed_at", "colour"});
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_segments") == segments_before);
      CHECK(outbox_payloads(db, "segment.created").size() == 2);

      // PUT: the type never changes, and the body follows the same rules.
      auto put = [&](const bj::object& seg, const bj::value& body) {
        auto r = call(client, "PUT", segment_path(str(seg.at("id"))), a.access, js(body));
        CHECK_MESSAGE(r.status == 422, r.body);
        return error_fields(r);
      };
      CHECK(put(fixed, bj::object{{"name", "Fixed"}, {"type", "dynamic"}}) == F{"type"});
      CHECK(put(fixed, bj::object{{"name", "Fixed"}, {"filter", leaf("status", "eq", "lead")}}) == F{"filter"});
      CHECK(put(fixed, bj::object{{"name", "Fixed"}, {"customer_ids", bj::array{bj::value(theirs)}}}) ==
            F{"customer_ids[0]"});
      CHECK(put(dyn, bj::object{{"name", "Dynamic"}}) == F{"filter"});
      CHECK(put(dyn, bj::object{{"name", "Dynamic"}, {"filter", leaf("status", "eq", "lead")},
                                {"customer_ids", bj::array{}}}) == F{"customer_ids"});
      CHECK(put(dyn, bj::object{{"filter", leaf("status", "eq", "lead")}}) == F{"name"});
      auto renamed = call(client, "PUT", segment_path(str(fixed.at("id"))), a.access,
                          js(bj::object{{"name", "dynamic"}}));
      CHECK(renamed.status == 409);
      CHECK(error_fields(renamed) == F{"name"});
      CHECK(get_ok(client, a.access, segment_path(str(fixed.at("id")))).at("version") == 1);
      CHECK(members(client, a.access, str(fixed.at("id"))) == IdSet{mine});
      // Unknown and malformed ids are 404.
      CHECK(call(client, "GET", segment_path(kUnknownId), a.access).status == 404);
      CHECK(call(client, "GET", segment_path("not-an-id"), a.access).status == 404);
    }
  }

  TEST_CASE("segment: a dynamic segment's customers are exactly those its filter matches now, and refresh reports the changes") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "seg-dyn-a", "owner@seg-dyn-a.example");
      auto gold_my = new_customer(client, a.access, {{"name", "Emas Kota Bharu"}, {"tier", "gold"}, {"addresses", address("MY")}});
      auto plat_my = new_customer(client, a.access,
                              {{"name", "Platinum Ipoh"}, {"tier", "platinum"}, {"status", "lead"}, {"addresses", address("MY")}});
      new_customer(client, a.access, {{"name", "Gold Singapore"}, {"tier", "gold"}, {"addresses", address("SG")}});
      auto silver_my = new_customer(client, a.access, {{"name", "Perak Melaka"}, {"tier", "silver"}, {"addresses", address("MY")}});
      auto leaving = new_customer(client, a.access, {{"name", "Emas Johor"}, {"tier", "gold"}, {"addresses", address("MY")}});
      new_customer(client, a.access, {{"name", "No Tier"}, {"addresses", address("MY")}});

      bj::object filter{{"and", bj::array{leaf("tier", "in", bj::array{"gold", "platinum"}), leaf("country", "eq", "MY")}}};
      auto s = dynamic_segment(client, a.access, "Gold and platinum in Malaysia", filter);
      auto id = str(s.at("id"));
      CHECK(s.at("type") == "dynamic");
      CHECK(s.at("filter") == bj::value(filter));  // stored as given
      CHECK(s.at("member_count") == 3);
      CHECK(s.at("refreshed_at").is_string());
      CHECK(member_rows(db, id) == IdSet{gold_my, plat_my, leaving});
      CHECK(members(client, a.access, id) == IdSet{gold_my, plat_my, leaving});
      // The same rows POST /customers/search finds with the same filter.
      auto searched = call(client, "POST", "/api/v1/customers/search", a.access, js(bj::object{{"filter", filter}}));
      IdSet found;
      for (const auto& c : data_of(searched)) found.insert(id_of(c.as_object()));
      CHECK(found == IdSet{gold_my, plat_my, leaving});

      // The live list follows every change at once; the snapshot waits for a refresh.
      REQUIRE(call(client, "PATCH", "/api/v1/customers/" + silver_my, a.access, js(bj::object{{"tier", "gold"}})).status == 200);
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + leaving, a.access).status == 204);
      CHECK(members(client, a.access, id) == IdSet{gold_my, plat_my, silver_my});
      auto total = obj(call(client, "GET", segment_path(id, "/customers?include_total=true&limit=1"), a.access));
      CHECK(total.at("page").at("total") == 3);
      CHECK(get_ok(client, a.access, segment_path(id)).at("member_count") == 3);
      CHECK(member_rows(db, id) == IdSet{gold_my, plat_my, leaving});

      auto refreshed = call(client, "POST", segment_path(id, "/refresh"), a.access);
      REQUIRE_MESSAGE(refreshed.status == 200, refreshed.body);
      auto r = obj(refreshed);
      CHECK(r.at("added") == 1);
      CHECK(r.at("removed") == 1);
      CHECK(r.at("member_count") == 3);
      CHECK(r.at("version") == 1);
      CHECK(str(r.at("refreshed_at")) >= str(s.at("refreshed_at")));
      CHECK(member_rows(db, id) == IdSet{gold_my, plat_my, silver_my});
      auto events = outbox_payloads(db, "segment.refreshed");
      REQUIRE(events.size() == 1);
      CHECK(events[0].at("added") == 1);
      CHECK(events[0].at("removed") == 1);
      CHECK(audit_changes(db, "segment.refreshed", id).size() == 1);
      auto again = obj(call(client, "POST", segment_path(id, "/refresh"), a.access));
      CHECK(again.at("added") == 0);
      CHECK(again.at("removed") == 0);

      // Members page in the sort asked for, without gaps or repeats.
      std::vector<std::string> names;
      std::string cursor;
      for (int pages = 0; pages < 5; ++pages) {
        auto page = obj(call(client, "GET",
                             segment_path(id, "/customers?sort=name&limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor)),
                             a.access));
        for (const auto& c : page.at("data").as_array()) names.push_back(str(c.at("name")));
        if (page.at("page").at("next_cursor").is_null()) break;
        cursor = str(page.at("page").at("next_cursor"));
      }
      CHECK(names == std::vector<std::string>{"Emas Kota Bharu", "Perak Melaka", "Platinum Ipoh"});
      CHECK(call(client, "GET", segment_path(id, "/customers?sort=nope"), a.access).status == 400);
      CHECK(call(client, "GET", segment_path(id, "/customers?status=active"), a.access).status == 400);

      // A new filter takes a new snapshot at once.
      auto put = call(client, "PUT", segment_path(id), a.access,
                      js(bj::object{{"name", "Platinum"}, {"type", "dynamic"}, {"filter", leaf("tier", "eq", "platinum")}}));
      REQUIRE_MESSAGE(put.status == 200, put.body);
      CHECK(obj(put).at("member_count") == 1);
      CHECK(obj(put).at("version") == 2);
      CHECK(member_rows(db, id) == IdSet{plat_my});
      CHECK(members(client, a.access, id) == IdSet{plat_my});
    }
  }

  TEST_CASE("segment: concurrent refreshes of one dynamic segment all succeed and count each change once") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "seg-race", "owner@seg-race.example");
      std::vector<std::string> ids;
      for (int i = 0; i < 6; ++i) {
        ids.push_back(new_customer(client, a.access, {{"name", "Pelanggan " + std::to_string(i)}, {"tier", "silver"}}));
      }
      auto id = str(dynamic_segment(client, a.access, "Gold", leaf("tier", "eq", "gold")).at("id"));
      for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        // Each round one customer becomes gold and the previous one silver again.
        REQUIRE(call(client, "PATCH", "/api/v1/customers/" + ids[round + 1], a.access, js(bj::object{{"tier", "gold"}})).status == 200);
        if (round > 0) {
          REQUIRE(call(client, "PATCH", "/api/v1/customers/" + ids[round], a.access, js(bj::object{{"tier", "silver"}})).status == 200);
        }
        int statuses[3] = {0, 0, 0};
        std::int64_t added[3] = {0, 0, 0}, removed[3] = {0, 0, 0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 3; ++t) {
          threads.emplace_back([&, t] {
            HttpClient cl(server.port());
            auto r = call(cl, "POST", segment_path(id, "/refresh"), a.access);
            statuses[t] = r.status;
            if (r.status == 200) {
              auto o = r.json().as_object();
              added[t] = o.at("added").as_int64();
              removed[t] = o.at("removed").as_int64();
            }
          });
        }
        for (auto& t : threads) t.join();
        CHECK(statuses[0] == 200);
        CHECK(statuses[1] == 200);
        CHECK(statuses[2] == 200);
        CHECK(added[0] + added[1] + added[2] == 1);
        CHECK(removed[0] + removed[1] + removed[2] == (round > 0 ? 1 : 0));
        CHECK(member_rows(db, id) == IdSet{ids[round + 1]});
      }
    }
  }

  TEST_CASE("segment: static members are added and removed, deleted customers are hidden, purges and merges follow") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "seg-members-a", "owner@seg-members-a.example");
      auto c1 = new_customer(client, a.access, {{"name", "Satu"}});
      auto c2 = new_customer(client, a.access, {{"name", "Dua"}});
      auto c3 = new_customer(client, a.access, {{"name", "Tiga"}});
      auto s = static_segment(client, a.access, "Hand picked", {});
      auto id = str(s.at("id"));
      CHECK(s.at("member_count") == 0);

      auto add = call(client, "POST", segment_path(id, "/members"), a.access, js(ids_body({c1, c2, c1})),
                      if_match(s.at("version")));
      REQUIRE_MESSAGE(add.status == 200, add.body);
      CHECK(obj(add).at("added") == 2);
      CHECK(obj(add).at("member_count") == 2);
      CHECK(obj(add).at("version") == 2);
      CHECK(add.header("etag") == "\"2\"");
      auto more = obj(call(client, "POST", segment_path(id, "/members"), a.access, js(ids_body({c2, c3}))));
      CHECK(more.at("added") == 1);
      CHECK(more.at("version") == 3);
      auto nothing = obj(call(client, "POST", segment_path(id, "/members"), a.access, js(ids_body({c3}))));
      CHECK(nothing.at("added") == 0);
      CHECK(nothing.at("version") == 3);  // no change: no new version
      CHECK(members(client, a.access, id) == IdSet{c1, c2, c3});
      auto updates = outbox_payloads(db, "segment.updated");
      REQUIRE(updates.size() == 2);
      CHECK(ids_of_array(updates[1].at("members").at("added")) == IdSet{c3});
      CHECK(updates[1].at("changes").at("member_count").at("new") == 3);

      auto bad = call(client, "POST", segment_path(id, "/members"), a.access, js(ids_body({c1, kUnknownId})));
      CHECK(bad.status == 422);
      CHECK(error_fields(bad) == std::set<std::string>{"customer_ids[1]"});
      CHECK(call(client, "POST", segment_path(id, "/members"), a.access, js(bj::object{})).status == 422);
      auto not_object = call(client, "POST", segment_path(id, "/members"), a.access, js(bj::array{bj::value(c1)}));
      CHECK(not_object.status == 422);
      CHECK(error_fields(not_object) == std::set<std::string>{"body"});
      CHECK(call(client, "POST", segment_path(id, "/members"), a.access, js(ids_body({c1})), {{"If-Match", "\"1\""}})
                .status == 412);

      auto removed = call(client, "POST", segment_path(id, "/members/remove"), a.access, js(ids_body({c1, kUnknownId})));
      REQUIRE_MESSAGE(removed.status == 200, removed.body);
      CHECK(obj(removed).at("removed") == 1);
      CHECK(obj(removed).at("member_count") == 2);
      auto malformed = call(client, "POST", segment_path(id, "/members/remove"), a.access, js(ids_body({"nope"})));
      CHECK(malformed.status == 422);
      CHECK(error_fields(malformed) == std::set<std::string>{"customer_ids[0]"});
      CHECK(members(client, a.access, id) == IdSet{c2, c3});

      // A soft-deleted member is hidden (and not counted) until it is restored.
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + c2, a.access).status == 204);
      CHECK(members(client, a.access, id) == IdSet{c3});
      CHECK(get_ok(client, a.access, segment_path(id)).at("member_count") == 1);
      auto recount = obj(call(client, "POST", segment_path(id, "/refresh"), a.access));
      CHECK(recount.at("member_count") == 1);
      CHECK(recount.at("added") == 0);
      CHECK(recount.at("removed") == 0);
      CHECK(recount.at("refreshed_at").is_string());
      REQUIRE(call(client, "POST", "/api/v1/customers/" + c2 + "/restore", a.access).status == 200);
      CHECK(members(client, a.access, id) == IdSet{c2, c3});

      // A purged customer leaves every segment.
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + c3 + "?hard=true", a.access).status == 204);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_segment_members WHERE customer_id = '" + c3 + "'") == 0);
      CHECK(members(client, a.access, id) == IdSet{c2});

      // A merge moves static memberships to the target (once, if it is a member already).
      auto source = new_customer(client, a.access, {{"name", "Sumber"}});
      auto target = new_customer(client, a.access, {{"name", "Sasaran"}});
      auto both = static_segment(client, a.access, "Both", {source, target});
      REQUIRE(call(client, "POST", segment_path(id, "/members"), a.access, js(ids_body({source}))).status == 200);
      auto merged = call(client, "POST", "/api/v1/customers/" + target + "/merge", a.access,
                         js(bj::object{{"source_id", source}}));
      REQUIRE_MESSAGE(merged.status == 200, merged.body);
      CHECK(members(client, a.access, id) == IdSet{c2, target});
      CHECK(member_rows(db, str(both.at("id"))) == IdSet{target});
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_segment_members WHERE customer_id = '" + source + "'") == 0);

      // A dynamic segment's members are its filter's.
      auto dyn = dynamic_segment(client, a.access, "Leads", leaf("status", "eq", "lead"));
      auto refused = call(client, "POST", segment_path(str(dyn.at("id")), "/members"), a.access, js(ids_body({c2})));
      CHECK(refused.status == 409);
      CHECK(code_of(refused) == "dynamic_segment");
      CHECK(call(client, "POST", segment_path(str(dyn.at("id")), "/members/remove"), a.access, js(ids_body({c2})))
                .status == 409);
    }
  }

  TEST_CASE("segment: segment_id filters GET /customers and search, composing with status, q, sort and the cursor") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "seg-filter-a", "owner@seg-filter-a.example");
      auto b = register_tenant(client, "seg-filter-b", "owner@seg-filter-b.example");
      auto alpha = new_customer(client, a.access, {{"name", "Batik Alpha"}, {"status", "active"}, {"tier", "gold"}});
      auto beta = new_customer(client, a.access, {{"name", "Songket Beta"}, {"status", "lead"}, {"tier", "gold"}});
      auto gamma = new_customer(client, a.access, {{"name", "Songket Gamma"}, {"status", "active"}});
      auto delta = new_customer(client, a.access, {{"name", "Batik Delta"}, {"status", "active"}, {"tier", "gold"}});
      auto s = str(static_segment(client, a.access, "Picked", {alpha, beta, gamma}).at("id"));
      auto gold = str(dynamic_segment(client, a.access, "Gold", leaf("tier", "eq", "gold")).at("id"));
      auto theirs = str(static_segment(client, b.access, "Theirs", {}).at("id"));

      auto list = [&](const std::string& query) { return ids_at(client, a.access, "/api/v1/customers?" + query); };
      CHECK(list("segment_id=" + s) == IdSet{alpha, beta, gamma});
      CHECK(list("segment_id=" + s + "&status=active") == IdSet{alpha, gamma});
      CHECK(list("segment_id=" + s + "&q=batik") == IdSet{alpha});
      CHECK(list("segment_id=" + s + "&q=songket&status=lead") == IdSet{beta});
      CHECK(list("segment_id=" + gold) == IdSet{alpha, beta, delta});
      CHECK(list("segment_id=" + gold + "&q=batik") == IdSet{alpha, delta});
      auto sorted = data_of(call(client, "GET", "/api/v1/customers?segment_id=" + s + "&sort=-name", a.access));
      REQUIRE(sorted.size() == 3);
      CHECK(str(sorted[0].at("name")) == "Songket Gamma");
      CHECK(str(sorted[2].at("name")) == "Batik Alpha");
      auto total = obj(call(client, "GET", "/api/v1/customers?segment_id=" + s + "&include_total=true&limit=1", a.access));
      CHECK(total.at("page").at("total") == 3);
      // The cursor belongs to its segment.
      auto next = str(total.at("page").at("next_cursor"));
      auto second = call(client, "GET", "/api/v1/customers?segment_id=" + s + "&limit=1&cursor=" + next, a.access);
      REQUIRE(second.status == 200);
      CHECK(data_of(second).size() == 1);
      auto elsewhere = call(client, "GET", "/api/v1/customers?segment_id=" + gold + "&limit=1&cursor=" + next, a.access);
      CHECK(elsewhere.status == 400);
      CHECK(error_fields(elsewhere).count("cursor") == 1);
      CHECK(call(client, "GET", "/api/v1/customers?limit=1&cursor=" + next, a.access).status == 400);

      // An unknown, malformed or foreign segment is a 400 naming segment_id: never "it exists".
      for (const auto& bad : {std::string(kUnknownId), std::string("nope"), theirs}) {
        auto r = call(client, "GET", "/api/v1/customers?segment_id=" + bad, a.access);
        CHECK(r.status == 400);
        CHECK(error_fields(r) == std::set<std::string>{"segment_id"});
      }
      CHECK(ids_at(client, b.access, "/api/v1/customers?segment_id=" + theirs).empty());

      // In a structured search, segment_id is a condition like any other.
      auto search = [&](bj::value filter) {
        auto r = call(client, "POST", "/api/v1/customers/search", a.access, js(bj::object{{"filter", filter}}));
        REQUIRE_MESSAGE(r.status == 200, r.body);
        IdSet out;
        for (const auto& c : data_of(r)) out.insert(id_of(c.as_object()));
        return out;
      };
      CHECK(search(leaf("segment_id", "eq", bj::value(s))) == IdSet{alpha, beta, gamma});
      CHECK(search(leaf("segment_id", "neq", bj::value(s))) == IdSet{delta});
      CHECK(search(leaf("segment_id", "in", bj::array{bj::value(s), bj::value(gold)})) == IdSet{alpha, beta, gamma, delta});
      CHECK(search(bj::object{{"and", bj::array{leaf("segment_id", "eq", bj::value(s)), leaf("segment_id", "eq", bj::value(gold))}}}) ==
            IdSet{alpha, beta});
      CHECK(search(leaf("segment_id", "nin", bj::array{bj::value(gold)})) == IdSet{gamma});
      auto unknown = call(client, "POST", "/api/v1/customers/search", a.access,
                          js(bj::object{{"filter", leaf("segment_id", "in", bj::array{bj::value(s), bj::value(theirs)})}}));
      CHECK(unknown.status == 422);
      CHECK(error_fields(unknown) == std::set<std::string>{"filter.value[1]"});
      bj::array many;
      for (int i = 0; i < 21; ++i) many.push_back(leaf("segment_id", "neq", bj::value(gold)));
      auto crowded = call(client, "POST", "/api/v1/customers/search", a.access,
                          js(bj::object{{"filter", bj::object{{"and", many}}}}));
      CHECK(crowded.status == 422);
      CHECK(error_code_for(crowded, "filter.and[20].value") == "too_many");
      auto op = call(client, "POST", "/api/v1/customers/search", a.access,
                     js(bj::object{{"filter", leaf("segment_id", "is_null")}}));
      CHECK(op.status == 422);
      CHECK(error_fields(op) == std::set<std::string>{"filter.op"});

      // A dynamic segment may build on a static one; the static one's changes show at once.
      auto active_picked = str(dynamic_segment(client, a.access, "Active picked",
                                               bj::object{{"and", bj::array{leaf("segment_id", "eq", bj::value(s)),
                                                                            leaf("status", "eq", "active")}}})
                                   .at("id"));
      CHECK(members(client, a.access, active_picked) == IdSet{alpha, gamma});
      REQUIRE(call(client, "POST", segment_path(s, "/members"), a.access, js(ids_body({delta}))).status == 200);
      CHECK(members(client, a.access, active_picked) == IdSet{alpha, gamma, delta});
      CHECK(list("segment_id=" + active_picked) == IdSet{alpha, gamma, delta});
      // Once the static one is deleted the condition matches nobody.
      REQUIRE(call(client, "DELETE", segment_path(s), a.access).status == 204);
      CHECK(members(client, a.access, active_picked).empty());
    }
  }

  TEST_CASE("segment: another tenant's segments are 404 on every verb and its customers never appear") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "seg-iso-a", "owner@seg-iso-a.example");
      auto b = register_tenant(client, "seg-iso-b", "owner@seg-iso-b.example");
      auto ours = new_customer(client, a.access, {{"name", "Ours"}, {"status", "active"}});
      auto theirs = new_customer(client, b.access, {{"name", "Theirs"}, {"status", "active"}});
      auto their_static = static_segment(client, b.access, "Theirs static", {theirs});
      auto sid = str(their_static.at("id"));
      auto everyone = dynamic_segment(client, a.access, "Everyone active", leaf("status", "eq", "active"));

      auto not_found = [&](const std::string& method, const std::string& path, const std::string& body = {}) {
        auto r = call(client, method, path, a.access, body);
        CHECK_MESSAGE(r.status == 404, method << " " << path << ": " << r.body);
      };
      not_found("GET", segment_path(sid));
      not_found("PUT", segment_path(sid), js(bj::object{{"name", "Taken over"}}));
      not_found("DELETE", segment_path(sid));
      not_found("POST", segment_path(sid, "/refresh"));
      not_found("POST", segment_path(sid, "/members"), js(ids_body({ours})));
      not_found("POST", segment_path(sid, "/members/remove"), js(ids_body({theirs})));
      not_found("GET", segment_path(sid, "/customers"));
      auto still = get_ok(client, b.access, segment_path(sid));
      CHECK(still.at("version") == 1);
      CHECK(still.at("name") == "Theirs static");
      CHECK(member_rows(db, sid) == IdSet{theirs});

      // Lists and members stay in the tenant.
      auto listed = data_of(call(client, "GET", "/api/v1/segments?limit=200", a.access));
      REQUIRE(listed.size() == 1);
      CHECK(str(listed[0].at("id")) == str(everyone.at("id")));
      CHECK(members(client, a.access, str(everyone.at("id"))) == IdSet{ours});
      CHECK(member_rows(db, str(everyone.at("id"))) == IdSet{ours});
      // Another tenant's customers cannot be named; its segments cannot be filtered on.
      auto foreign = call(client, "POST", "/api/v1/segments", a.access,
                          js(bj::object{{"name", "Poach"}, {"type", "static"}, {"customer_ids", bj::array{bj::value(theirs)}}}));
      CHECK(foreign.status == 422);
      CHECK(error_fields(foreign) == std::set<std::string>{"customer_ids[0]"});
      CHECK(call(client, "GET", "/api/v1/customers?segment_id=" + sid, a.access).status == 400);
      // The same name is free in each tenant.
      static_segment(client, a.access, "Theirs static", {});

      if (backend == "postgres") {
        for (const char* table : {"customer_segments", "customer_segment_members"}) {
          CAPTURE(table);
          CHECK(db.scalar(std::string("SELECT COUNT(*) FROM pg_class WHERE relname = '") + table +
                          "' AND relrowsecurity AND relforcerowsecurity") == 1);
          CHECK(db.scalar(std::string("SELECT COUNT(*) FROM pg_policies WHERE tablename = '") + table + "'") == 1);
        }
      }
    }
  }

  TEST_CASE("segment: viewers and sales reps read segments but cannot write them, marketing and managers can") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "seg-perm", "owner@seg-perm.example");
      auto viewer = add_member(client, db, owner, "viewer@seg-perm.example", "viewer");
      auto sales = add_member(client, db, owner, "sales@seg-perm.example", "sales");
      auto marketing = add_member(client, db, owner, "marketing@seg-perm.example", "marketing");
      auto manager = add_member(client, db, owner, "manager@seg-perm.example", "manager");
      auto c = new_customer(client, owner.access, {{"name", "Pelanggan"}});
      auto s = static_segment(client, owner.access, "Owner's", {c});
      auto id = str(s.at("id"));

      for (const auto* reader : {&viewer, &sales}) {
        CAPTURE(reader->email);
        CHECK(call(client, "GET", "/api/v1/segments", reader->access).status == 200);
        CHECK(call(client, "GET", segment_path(id), reader->access).status == 200);
        CHECK(members(client, reader->access, id) == IdSet{c});
        CHECK(ids_at(client, reader->access, "/api/v1/customers?segment_id=" + id) == IdSet{c});
        CHECK(call(client, "POST", "/api/v1/segments", reader->access,
                   js(bj::object{{"name", "Mine"}, {"type", "static"}})).status == 403);
        CHECK(call(client, "PUT", segment_path(id), reader->access, js(bj::object{{"name", "Mine"}})).status == 403);
        CHECK(call(client, "POST", segment_path(id, "/members"), reader->access, js(ids_body({c}))).status == 403);
        CHECK(call(client, "POST", segment_path(id, "/members/remove"), reader->access, js(ids_body({c}))).status == 403);
        CHECK(call(client, "POST", segment_path(id, "/refresh"), reader->access).status == 403);
        CHECK(call(client, "DELETE", segment_path(id), reader->access).status == 403);
      }
      auto unchanged = get_ok(client, owner.access, segment_path(id));
      CHECK(unchanged.at("version") == 1);
      CHECK(unchanged.at("name") == "Owner's");
      CHECK(unchanged.at("refreshed_at").is_null());
      CHECK(member_rows(db, id) == IdSet{c});
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_segments") == 1);

      for (const auto* writer : {&marketing, &manager}) {
        CAPTURE(writer->email);
        auto mine = create_segment(client, writer->access,
                                   bj::object{{"name", "By " + writer->email}, {"type", "dynamic"},
                                              {"filter", leaf("status", "eq", "lead")}});
        auto mid = str(mine.at("id"));
        CHECK(mine.at("created_by") == bj::value(writer->user_id));
        CHECK(mine.at("member_count") == 1);
        CHECK(call(client, "PUT", segment_path(mid), writer->access,
                   js(bj::object{{"name", "Renamed by " + writer->email}, {"filter", leaf("status", "eq", "active")}}))
                  .status == 200);
        CHECK(call(client, "POST", segment_path(mid, "/refresh"), writer->access).status == 200);
        CHECK(call(client, "POST", segment_path(id, "/members/remove"), writer->access, js(ids_body({c}))).status == 200);
        CHECK(call(client, "POST", segment_path(id, "/members"), writer->access, js(ids_body({c}))).status == 200);
        CHECK(call(client, "DELETE", segment_path(mid), writer->access).status == 204);
      }
      CHECK(members(client, owner.access, id) == IdSet{c});
    }
  }

  TEST_CASE("segment: GET /segments filters by type and name, sorts, and pages with cursors bound to the query") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "seg-list-a", "owner@seg-list-a.example");
      std::vector<std::string> created;
      for (const char* name : {"Gold buyers", "Alpha list", "Export 100%_club", "Delta", "gold Wholesale"}) {
        created.push_back(str(static_segment(client, a.access, name, {}).at("id")));
      }
      auto dyn = str(dynamic_segment(client, a.access, "Churned", leaf("status", "eq", "churned")).at("id"));

      auto names = [&](const std::string& query) {
        auto r = call(client, "GET", "/api/v1/segments?" + query, a.access);
        REQUIRE_MESSAGE(r.status == 200, query << ": " << r.body);
        std::vector<std::string> out;
        for (const auto& s : data_of(r)) out.push_back(str(s.at("name")));
        return out;
      };
      using V = std::vector<std::string>;
      CHECK(names("") == V{"Alpha list", "Churned", "Delta", "Export 100%_club", "Gold buyers", "gold Wholesale"});
      CHECK(names("sort=-name").front() == "gold Wholesale");
      CHECK(names("type=dynamic") == V{"Churned"});
      CHECK(names("type=static").size() == 5);
      CHECK(names("q=GOLD") == V{"Gold buyers", "gold Wholesale"});
      CHECK(names("q=%25_") == V{"Export 100%_club"});  // LIKE wildcards are plain text
      CHECK(names("q=gold&type=dynamic").empty());
      CHECK(names("sort=-created_at").front() == "Churned");
      CHECK(names("sort=created_at").front() == "Gold buyers");
      auto total = obj(call(client, "GET", "/api/v1/segments?include_total=true&limit=2&type=static", a.access));
      CHECK(total.at("page").at("total") == 5);

      // Walk every page of two.
      V walked;
      std::string cursor, first_cursor;
      for (int pages = 0; pages < 10; ++pages) {
        auto page = obj(call(client, "GET", "/api/v1/segments?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), a.access));
        for (const auto& s : page.at("data").as_array()) walked.push_back(str(s.at("name")));
        if (page.at("page").at("next_cursor").is_null()) break;
        cursor = str(page.at("page").at("next_cursor"));
        if (first_cursor.empty()) first_cursor = cursor;
      }
      CHECK(walked == names(""));
      CHECK(call(client, "GET", "/api/v1/segments?limit=2&sort=-name&cursor=" + first_cursor, a.access).status == 400);
      CHECK(call(client, "GET", "/api/v1/segments?limit=2&type=static&cursor=" + first_cursor, a.access).status == 400);

      for (const char* bad : {"type=smart", "sort=member_count", "limit=201", "q=", "colour=red", "cursor=forged"}) {
        CAPTURE(bad);
        auto r = call(client, "GET", std::string("/api/v1/segments?") + bad, a.access);
        CHECK(r.status == 400);
        std::string param(bad);
        CHECK(error_fields(r).count(param.substr(0, param.find('='))) == 1);
      }
      auto row = data_of(call(client, "GET", "/api/v1/segments?type=dynamic", a.access))[0].as_object();
      CHECK(str(row.at("id")) == dyn);
      CHECK(row.at("filter") == bj::value(leaf("status", "eq", "churned")));
    }
  }

  TEST_CASE("segment: the OpenAPI document describes every segment operation, its body and its answers") {
    TestDatabase db("sqlite");
    ServerProcess server(db);
    HttpClient client(server.port());
    auto doc = obj(client.get("/api/v1/openapi.json"));
    const auto& paths = doc.at("paths").as_object();
    const auto& schemas = doc.at("components").at("schemas").as_object();
    struct Op {
      const char* method;
      const char* path;
      const char* success;
      const char* body;  // the request body schema, or nullptr
      const char* answer;  // the 2xx schema ref, or nullptr
    };
    const Op ops[] = {
        {"get", "/api/v1/segments", "200", nullptr, nullptr},
        {"post", "/api/v1/segments", "201", "SegmentCreate", "Segment"},
        {"get", "/api/v1/segments/{id}", "200", nullptr, "Segment"},
        {"put", "/api/v1/segments/{id}", "200", "SegmentReplace", "Segment"},
        {"delete", "/api/v1/segments/{id}", "204", nullptr, nullptr},
        {"post", "/api/v1/segments/{id}/refresh", "200", nullptr, "SegmentChange"},
        {"post", "/api/v1/segments/{id}/members", "200", "SegmentMembers", "SegmentChange"},
        {"post", "/api/v1/segments/{id}/members/remove", "200", "SegmentMembers", "SegmentChange"},
        {"get", "/api/v1/segments/{id}/customers", "200", nullptr, nullptr},
    };
    for (const auto& op : ops) {
      std::string name = std::string(op.method) + " " + op.path;
      CAPTURE(name);
      REQUIRE(paths.contains(op.path));
      REQUIRE(paths.at(op.path).as_object().contains(op.method));
      const auto& o = paths.at(op.path).at(op.method).as_object();
      CHECK(str(o.at("summary")).size() > 5);
      const auto& answer = o.at("responses").at(op.success).as_object();
      if (std::string(op.success) == "204") {
        CHECK_FALSE(answer.contains("content"));
      } else {
        const auto& schema = answer.at("content").at("application/json").at("schema").as_object();
        if (op.answer) CHECK(str(schema.at("$ref")) == std::string("#/components/schemas/") + op.answer);
        else CHECK(schema.at("properties").at("data").at("items").as_object().contains("$ref"));
      }
      if (op.body) {
        CHECK(str(o.at("requestBody").at("content").at("application/json").at("schema").at("$ref")) ==
              std::string("#/components/schemas/") + op.body);
      } else {
        CHECK_FALSE(o.contains("requestBody"));
      }
    }
    for (const char* s : {"Segment", "SegmentChange", "SegmentCreate", "SegmentReplace", "SegmentMembers"}) {
      CAPTURE(s);
      REQUIRE(schemas.contains(s));
      CHECK(!schemas.at(s).at("properties").as_object().empty());
    }
    CHECK(schemas.at("SegmentChange").at("properties").as_object().contains("added"));
    CHECK(schemas.at("SegmentCreate").at("properties").as_object().contains("customer_ids"));
    bool documented = false;
    for (const auto& p : paths.at("/api/v1/customers").at("get").at("parameters").as_array()) {
      documented = documented || p.at("name") == "segment_id";
    }
    CHECK(documented);
  }
}
