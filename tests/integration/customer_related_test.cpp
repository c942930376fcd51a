// A customer's contacts, notes, activities and timeline over HTTP, on SQLite and PostgreSQL.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fstream>
#include <set>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

namespace {

std::vector<std::string> kinds_of(const HttpResult& r) {
  std::vector<std::string> out;
  for (const auto& e : data_of(r)) out.push_back(str(e.at("kind")));
  return out;
}

/// A configuration file limiting contacts per customer, for --config.
std::string contact_limit_config(const TestDatabase& db, int limit) {
  std::string path = db.data_dir() + "/customer-limits.json";
  std::ofstream(path) << "{\"modules\": {\"customer\": {\"max_contacts_per_customer\": " << limit << "}}}";
  return path;
}

}  // namespace

TEST_SUITE("integration/customer_related") {
  TEST_CASE("customer: contacts keep exactly one primary, validate every field and stop at the configured maximum") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db, {}, {"--config", contact_limit_config(db, 3)});
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-contacts", "owner@contacts.example");
      auto c = create_customer(client, owner.access, bj::object{{"name", "With Contacts"}});
      std::string base = "/api/v1/customers/" + id_of(c) + "/contacts";
      auto add = [&](const bj::object& body) { return call(client, "POST", base, owner.access, js(body)); };
      auto primaries = [&] {
        return db.scalar("SELECT COUNT(*) FROM customer_contacts WHERE customer_id = '" + id_of(c) + "' AND is_primary = 1");
      };

      auto first_r = add(bj::object{{"first_name", "Aminah"}, {"last_name", "Yusof"}, {"email", "Aminah@Batik.MY"},
                                    {"phones", bj::array{bj::object{{"type", "work"}, {"number", "03-2691 1234"}}}},
                                    {"roles", bj::array{"decision_maker", "billing"}}, {"job_title", "Director"},
                                    {"communication_preferences", bj::object{{"sms_opt_in", true}}}});
      REQUIRE_MESSAGE(first_r.status == 201, first_r.body);
      auto first = obj(first_r);
      CHECK(first_r.header("location") == base + "/" + id_of(first));
      CHECK(first.at("is_primary") == true);  // the first contact is primary
      CHECK(str(first.at("email")) == "Aminah@batik.my");
      CHECK(str(first.at("phones").at(0).at("number")) == "+60326911234");
      CHECK(first.at("communication_preferences").at("sms_opt_in") == true);
      auto second = obj(add(bj::object{{"first_name", "Ben"}}));
      CHECK(second.at("is_primary") == false);
      auto third = obj(add(bj::object{{"first_name", "Chong"}, {"is_primary", true}}));
      CHECK(third.at("is_primary") == true);
      CHECK(primaries() == 1);
      CHECK(get_ok(client, owner.access, base + "/" + id_of(first)).at("is_primary") == false);

      auto full = add(bj::object{{"first_name", "Dewi"}});
      CHECK(full.status == 409);
      CHECK(code_of(full) == "contact_limit_reached");

      auto list = data_of(call(client, "GET", base, owner.access));
      REQUIRE(list.size() == 3);
      CHECK(str(list[0].at("id")) == id_of(third));  // primary first

      auto made = call(client, "POST", base + "/" + id_of(second) + "/primary", owner.access);
      REQUIRE(made.status == 200);
      CHECK(obj(made).at("is_primary") == true);
      CHECK(primaries() == 1);
      auto unset = call(client, "PUT", base + "/" + id_of(second), owner.access,
                        js(bj::object{{"first_name", "Ben"}, {"is_primary", false}}));
      CHECK(unset.status == 409);
      CHECK(code_of(unset) == "primary_required");

      auto current = get_ok(client, owner.access, base + "/" + id_of(first));
      auto stale = call(client, "PUT", base + "/" + id_of(first), owner.access, js(bj::object{{"first_name", "A"}}),
                        {{"If-Match", "\"999\""}});
      CHECK(stale.status == 412);
      auto put = call(client, "PUT", base + "/" + id_of(first), owner.access,
                      js(bj::object{{"first_name", "Aminah"}, {"department", "Finance"}}),
                      {{"If-Match", "\"" + std::to_string(current.at("version").as_int64()) + "\""}});
      REQUIRE_MESSAGE(put.status == 200, put.body);
      CHECK(obj(put).at("email").is_null());  // a PUT replaces
      CHECK(str(obj(put).at("department")) == "Finance");
      auto updated = audit_changes(db, "contact.updated", id_of(first));
      REQUIRE_FALSE(updated.empty());
      CHECK(str(updated.back().at("department").at("new")) == "Finance");
      CHECK(audit_changes(db, "contact.added", id_of(first)).size() == 1);

      // Removing the primary hands it to the oldest remaining contact.
      CHECK(call(client, "DELETE", base + "/" + id_of(second), owner.access).status == 204);
      CHECK(primaries() == 1);
      CHECK(get_ok(client, owner.access, base + "/" + id_of(first)).at("is_primary") == true);
      CHECK(call(client, "GET", base + "/" + id_of(second), owner.access).status == 404);
      CHECK(audit_changes(db, "contact.removed", id_of(second)).size() == 1);
      CHECK(call(client, "DELETE", base + "/" + id_of(first), owner.access).status == 204);
      CHECK(call(client, "DELETE", base + "/" + id_of(third), owner.access).status == 204);
      CHECK(primaries() == 0);
      CHECK(obj(add(bj::object{{"first_name", "Again"}})).at("is_primary") == true);

      auto bad = add(bj::object{{"first_name", ""}, {"email", "nope"}, {"roles", bj::array{"boss"}},
                                {"phones", bj::array{bj::object{{"number", "12"}}, bj::object{{"type", "fax"}, {"number", "0123456789"}}}},
                                {"communication_preferences", bj::object{{"carrier_pigeon", true}}},
                                {"last_contacted_at", "yesterday"}, {"id", kUnknownId}, {"nickname", "x"}});
      REQUIRE(bad.status == 422);
      CHECK(error_fields(bad) == std::set<std::string>{"first_name", "email", "roles", "phones[0].number", "phones[1].type",
                                                       "communication_preferences.carrier_pigeon", "last_contacted_at",
                                                       "id", "nickname"});
      CHECK(call(client, "GET", "/api/v1/customers/" + std::string(kUnknownId) + "/contacts", owner.access).status == 404);
    }
  }

  TEST_CASE("customer: notes are listed pinned first, and only their author or a manager changes them") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-notes", "owner@notes.example");
      auto sales = add_member(client, db, owner, "sales@notes.example", "sales");
      auto viewer = add_member(client, db, owner, "viewer@notes.example", "viewer");
      auto c = create_customer(client, owner.access, bj::object{{"name", "Noted"}});
      std::string base = "/api/v1/customers/" + id_of(c) + "/notes";
      auto note = [&](const Account& who, const std::string& text) {
        auto r = call(client, "POST", base, who.access, js(bj::object{{"body", text}}));
        REQUIRE_MESSAGE(r.status == 201, r.body);
        return obj(r);
      };
      auto n1 = note(owner, "first");
      auto n2 = note(sales, "second, by sales");
      auto n3 = note(owner, "third");
      CHECK(str(n2.at("author_id")) == sales.user_id);
      auto bodies = [&](const std::string& query = "") {
        std::vector<std::string> out;
        for (const auto& n : data_of(call(client, "GET", base + query, viewer.access))) out.push_back(str(n.at("body")));
        return out;
      };
      using V = std::vector<std::string>;
      CHECK(bodies() == V{"third", "second, by sales", "first"});
      REQUIRE(call(client, "POST", base + "/" + id_of(n1) + "/pin", owner.access).status == 200);
      CHECK(bodies() == V{"first", "third", "second, by sales"});
      // Paging keeps the pinned-first order.
      auto page1 = call(client, "GET", base + "?limit=2", viewer.access);
      auto cursor = str(obj(page1).at("page").at("next_cursor"));
      CHECK(bodies("?limit=2&cursor=" + cursor) == V{"second, by sales"});
      REQUIRE(call(client, "POST", base + "/" + id_of(n1) + "/unpin", owner.access).status == 200);
      CHECK(bodies() == V{"third", "second, by sales", "first"});

      auto edited = call(client, "PUT", base + "/" + id_of(n2), sales.access, js(bj::object{{"body", "second, edited"}}));
      REQUIRE(edited.status == 200);
      CHECK(obj(edited).at("version") == 2);
      CHECK(call(client, "PUT", base + "/" + id_of(n1), sales.access, js(bj::object{{"body", "hijack"}})).status == 403);
      CHECK(call(client, "DELETE", base + "/" + id_of(n1), sales.access).status == 403);
      CHECK(call(client, "POST", base, viewer.access, js(bj::object{{"body", "viewer"}})).status == 403);
      CHECK(call(client, "POST", base + "/" + id_of(n3) + "/pin", viewer.access).status == 403);
      CHECK(call(client, "PUT", base + "/" + id_of(n2), owner.access, js(bj::object{{"body", "x"}}), {{"If-Match", "\"1\""}}).status == 412);
      CHECK(call(client, "DELETE", base + "/" + id_of(n2), sales.access).status == 204);
      CHECK(call(client, "PUT", base + "/" + id_of(n2), sales.access, js(bj::object{{"body", "gone"}})).status == 404);

      auto bad = call(client, "POST", base, owner.access, js(bj::object{{"body", "  "}, {"pinned", true}, {"title", "x"}}));
      CHECK(bad.status == 422);
      CHECK(error_fields(bad) == std::set<std::string>{"body", "pinned", "title"});
      CHECK(audit_changes(db, "note.added", id_of(n1)).size() == 1);
      CHECK(str(audit_changes(db, "note.updated", id_of(n2)).at(0).at("body").at("new")) == "second, edited");
      CHECK(audit_changes(db, "note.removed", id_of(n2)).size() == 1);
    }
  }

  TEST_CASE("customer: an activity with missing details waits in the review queue until it is completed") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-activity", "owner@activity.example");
      auto c = create_customer(client, owner.access, bj::object{{"name", "Active"}});
      auto other = create_customer(client, owner.access, bj::object{{"name", "Other"}});
      std::string base = "/api/v1/customers/" + id_of(c) + "/activities";
      auto ct = obj(call(client, "POST", "/api/v1/customers/" + id_of(c) + "/contacts", owner.access,
                         js(bj::object{{"first_name", "Siti"}})));
      auto other_ct = obj(call(client, "POST", "/api/v1/customers/" + id_of(other) + "/contacts", owner.access,
                               js(bj::object{{"first_name", "Elsewhere"}})));

      auto done = call(client, "POST", base, owner.access,
                       js(bj::object{{"type", "call"}, {"subject", "Order follow-up"}, {"occurred_at", "2026-11-30T03:00:00Z"},
                                     {"duration_minutes", 15}, {"outcome", "Will order 40 sarongs"},
                                     {"contact_id", id_of(ct)}}));
      REQUIRE_MESSAGE(done.status == 201, done.body);
      CHECK(str(obj(done).at("status")) == "completed");
      CHECK(obj(done).at("missing_details").as_array().empty());

      auto pending = call(client, "POST", base, owner.access, js(bj::object{{"type", "meeting"}, {"subject", "Showroom visit"}}));
      REQUIRE(pending.status == 201);
      auto p = obj(pending);
      CHECK(str(p.at("status")) == "needs_review");
      CHECK(p.at("missing_details") == bj::array{"occurred_at", "duration_minutes", "outcome"});
      auto queue = data_of(call(client, "GET", "/api/v1/activities/review-queue", owner.access));
      REQUIRE(queue.size() == 1);
      CHECK(str(queue[0].at("id")) == id_of(p));

      auto partial = call(client, "PATCH", base + "/" + id_of(p), owner.access, js(bj::object{{"occurred_at", "2026-11-29T08:00:00Z"}}));
      REQUIRE(partial.status == 200);
      CHECK(str(obj(partial).at("status")) == "needs_review");
      auto complete = call(client, "PATCH", base + "/" + id_of(p), owner.access,
                           js(bj::object{{"duration_minutes", 60}, {"outcome", "Chose indigo batik"}}),
                           {{"If-Match", "\"2\""}});
      REQUIRE_MESSAGE(complete.status == 200, complete.body);
      CHECK(str(obj(complete).at("status")) == "completed");
      CHECK(data_of(call(client, "GET", "/api/v1/activities/review-queue", owner.access)).empty());
      auto changes = audit_changes(db, "activity.updated", id_of(p));
      REQUIRE(changes.size() == 2);
      CHECK(str(changes[1].at("status").at("new")) == "completed");

      auto wrong_contact = call(client, "POST", base, owner.access,
                                js(bj::object{{"type", "email"}, {"subject", "x"}, {"contact_id", id_of(other_ct)}}));
      CHECK(wrong_contact.status == 422);
      CHECK(error_code_for(wrong_contact, "contact_id") == "not_found");
      auto bad = call(client, "POST", base, owner.access,
                      js(bj::object{{"type", "fax"}, {"duration_minutes", -5}, {"occurred_at", "noon"}, {"status", "completed"}}));
      CHECK(bad.status == 422);
      CHECK(error_fields(bad) == std::set<std::string>{"type", "duration_minutes", "occurred_at", "status"});
      CHECK(data_of(call(client, "GET", base, owner.access)).size() == 2);
      CHECK(audit_changes(db, "activity.logged", id_of(p)).size() == 1);
    }
  }

  TEST_CASE("customer: a call, email or meeting with a contact that has happened moves its last_contacted_at forward") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-reached", "owner@reached.example");
      auto c = create_customer(client, owner.access, bj::object{{"name", "Reached"}});
      std::string base = "/api/v1/customers/" + id_of(c);
      auto siti = obj(call(client, "POST", base + "/contacts", owner.access, js(bj::object{{"first_name", "Siti"}})));
      auto aminah = obj(call(client, "POST", base + "/contacts", owner.access, js(bj::object{{"first_name", "Aminah"}})));
      std::string siti_path = base + "/contacts/" + id_of(siti);
      CHECK(get_ok(client, owner.access, siti_path).at("last_contacted_at").is_null());
      auto log = [&](const bj::object& body) {
        auto r = call(client, "POST", base + "/activities", owner.access, js(body));
        REQUIRE_MESSAGE(r.status == 201, r.body);
        return obj(r);
      };
      log({{"type", "email"}, {"subject", "Catalogue"}, {"occurred_at", "2026-11-20T02:00:00Z"}, {"contact_id", id_of(siti)}});
      CHECK(str(get_ok(client, owner.access, siti_path).at("last_contacted_at")) == "2026-11-20T02:00:00.000Z");
      // An older call logged late, a note, a planned meeting and an incomplete call change nothing.
      log({{"type", "call"}, {"subject", "Old call"}, {"occurred_at", "2026-10-01T02:00:00Z"}, {"duration_minutes", 5},
           {"outcome", "ok"}, {"contact_id", id_of(siti)}});
      log({{"type", "note"}, {"subject", "Remark"}, {"occurred_at", "2026-11-25T02:00:00Z"}, {"contact_id", id_of(siti)}});
      log({{"type", "meeting"}, {"subject", "Planned"}, {"occurred_at", "2099-01-01T02:00:00Z"}, {"duration_minutes", 30},
           {"outcome", "tbd"}, {"contact_id", id_of(siti)}});
      auto pending = log({{"type", "call"}, {"subject", "Quick call"}, {"occurred_at", "2026-11-26T02:00:00Z"},
                          {"contact_id", id_of(siti)}});
      CHECK(str(get_ok(client, owner.access, siti_path).at("last_contacted_at")) == "2026-11-20T02:00:00.000Z");
      // Completing the call counts it.
      auto done = call(client, "PATCH", base + "/activities/" + id_of(pending), owner.access,
                       js(bj::object{{"duration_minutes", 10}, {"outcome", "Ordered"}}));
      REQUIRE_MESSAGE(done.status == 200, done.body);
      CHECK(str(get_ok(client, owner.access, siti_path).at("last_contacted_at")) == "2026-11-26T02:00:00.000Z");
      // Only the contact the activity names.
      CHECK(get_ok(client, owner.access, base + "/contacts/" + id_of(aminah)).at("last_contacted_at").is_null());
    }
  }

  TEST_CASE("customer: the timeline shows creation, status and owner changes, notes, contacts and activities") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-timeline", "owner@timeline.example");
      auto sales = add_member(client, db, owner, "sales@timeline.example", "sales");
      auto c = create_customer(client, owner.access, bj::object{{"name", "Timeline"}});
      std::string path = "/api/v1/customers/" + id_of(c);
      REQUIRE(call(client, "POST", path + "/activate", owner.access).status == 200);
      REQUIRE(call(client, "PATCH", path, owner.access, js(bj::object{{"owner_id", sales.user_id}})).status == 200);
      REQUIRE(call(client, "POST", path + "/contacts", owner.access, js(bj::object{{"first_name", "T"}})).status == 201);
      REQUIRE(call(client, "POST", path + "/notes", owner.access, js(bj::object{{"body", "n"}})).status == 201);
      REQUIRE(call(client, "POST", path + "/activities", owner.access, js(bj::object{{"type", "task"}, {"subject", "Send swatches"}})).status == 201);
      REQUIRE(call(client, "PATCH", path, owner.access, js(bj::object{{"tier", "gold"}})).status == 200);  // no entry

      auto r = call(client, "GET", path + "/timeline", sales.access);
      REQUIRE(r.status == 200);
      auto kinds = kinds_of(r);
      CHECK(std::multiset<std::string>(kinds.begin(), kinds.end()) ==
            std::multiset<std::string>{"activity", "note_added", "contact_added", "owner_changed", "status_changed", "created"});
      CHECK(kinds.back() == "created");  // newest first
      auto entries = data_of(r);
      for (const auto& e : entries) {
        if (str(e.at("kind")) == "status_changed") CHECK(str(e.at("summary")) == "Status changed from lead to active");
        if (str(e.at("kind")) == "activity") CHECK(str(e.at("summary")) == "task: Send swatches");
        CHECK(str(e.at("actor_id")) == owner.user_id);
      }
      auto page = call(client, "GET", path + "/timeline?limit=4", sales.access);
      REQUIRE(data_of(page).size() == 4);
      auto rest = call(client, "GET", path + "/timeline?limit=4&cursor=" + str(obj(page).at("page").at("next_cursor")), sales.access);
      CHECK(data_of(rest).size() == 2);
      CHECK(call(client, "GET", "/api/v1/customers/" + std::string(kUnknownId) + "/timeline", owner.access).status == 404);
    }
  }

  TEST_CASE("customer: another tenant's contacts, notes and activities are 404 on every verb") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-rel-a", "owner@rel-a.example");
      auto b = register_tenant(client, "cust-rel-b", "owner@rel-b.example");
      auto viewer = add_member(client, db, a, "viewer@rel-a.example", "viewer");
      auto c = create_customer(client, a.access, bj::object{{"name", "A's"}});
      auto b_customer = create_customer(client, b.access, bj::object{{"name", "B's"}});
      std::string base = "/api/v1/customers/" + id_of(c);
      auto contact = obj(call(client, "POST", base + "/contacts", a.access, js(bj::object{{"first_name", "A"}})));
      auto note = obj(call(client, "POST", base + "/notes", a.access, js(bj::object{{"body", "A's note"}})));
      auto activity = obj(call(client, "POST", base + "/activities", a.access, js(bj::object{{"type", "email"}})));
      std::string ct = base + "/contacts/" + id_of(contact), nt = base + "/notes/" + id_of(note),
                  ac = base + "/activities/" + id_of(activity);
      const std::string contact_body = js(bj::object{{"first_name", "B"}});
      const std::string note_body = js(bj::object{{"body", "B"}});
      const std::string activity_body = js(bj::object{{"type", "call"}});
      const std::vector<std::tuple<std::string, std::string, std::string>> probes = {
          {"GET", base + "/contacts", ""},      {"POST", base + "/contacts", contact_body},
          {"GET", ct, ""},                      {"PUT", ct, contact_body},
          {"DELETE", ct, ""},                   {"POST", ct + "/primary", ""},
          {"GET", base + "/notes", ""},         {"POST", base + "/notes", note_body},
          {"PUT", nt, note_body},               {"DELETE", nt, ""},
          {"POST", nt + "/pin", ""},            {"POST", nt + "/unpin", ""},
          {"GET", base + "/activities", ""},    {"POST", base + "/activities", activity_body},
          {"GET", ac, ""},                      {"PATCH", ac, js(bj::object{{"subject", "B"}})},
          {"GET", base + "/timeline", ""},
          // A's sub-resources under B's own customer are not found either.
          {"GET", "/api/v1/customers/" + id_of(b_customer) + "/contacts/" + id_of(contact), ""},
          {"PUT", "/api/v1/customers/" + id_of(b_customer) + "/notes/" + id_of(note), note_body},
          {"PATCH", "/api/v1/customers/" + id_of(b_customer) + "/activities/" + id_of(activity), js(bj::object{{"subject", "B"}})},
      };
      for (const auto& [method, target, body] : probes) {
        CAPTURE(method);
        CAPTURE(target);
        CHECK(call(client, method, target, b.access, body).status == 404);
      }
      CHECK(data_of(call(client, "GET", "/api/v1/activities/review-queue", b.access)).empty());
      CHECK(data_of(call(client, "GET", "/api/v1/activities/review-queue", a.access)).size() == 1);
      // Nothing of A's changed.
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_contacts") == 1);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_notes") == 1);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_activities") == 1);
      CHECK(get_ok(client, a.access, ct).at("version") == 1);
      // A viewer of A reads them all and changes none.
      CHECK(call(client, "GET", ct, viewer.access).status == 200);
      CHECK(call(client, "GET", base + "/notes", viewer.access).status == 200);
      CHECK(call(client, "GET", ac, viewer.access).status == 200);
      CHECK(call(client, "POST", base + "/contacts", viewer.access, contact_body).status == 403);
      CHECK(call(client, "PUT", ct, viewer.access, contact_body).status == 403);
      CHECK(call(client, "DELETE", ct, viewer.access).status == 403);
      CHECK(call(client, "POST", base + "/activities", viewer.access, activity_body).status == 403);
      CHECK(call(client, "PATCH", ac, viewer.access, js(bj::object{{"subject", "v"}})).status == 403);
    }
  }

  TEST_CASE("customer: GET of one customer embeds contacts, notes, activities and timeline with ?include=") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-include", "owner@include.example");
      auto c = create_customer(client, owner.access, bj::object{{"name", "Embedded"}});
      std::string path = "/api/v1/customers/" + id_of(c);
      REQUIRE(call(client, "POST", path + "/contacts", owner.access, js(bj::object{{"first_name", "Zainab"}})).status == 201);
      REQUIRE(call(client, "POST", path + "/notes", owner.access, js(bj::object{{"body", "Prefers silk"}})).status == 201);
      REQUIRE(call(client, "POST", path + "/activities", owner.access, js(bj::object{{"type", "email"}})).status == 201);
      auto plain = get_ok(client, owner.access, path);
      CHECK_FALSE(plain.contains("contacts"));
      auto all = get_ok(client, owner.access, path + "?include=contacts,notes,activities,timeline");
      REQUIRE(all.at("contacts").as_array().size() == 1);
      CHECK(str(all.at("contacts").at(0).at("first_name")) == "Zainab");
      CHECK(str(all.at("notes").at(0).at("body")) == "Prefers silk");
      CHECK(str(all.at("activities").at(0).at("status")) == "needs_review");
      CHECK(all.at("timeline").as_array().size() == 4);  // created, contact, note, activity
      CHECK(str(all.at("code")) == str(c.at("code")));
      auto by_slug = get_ok(client, owner.access, "/api/v1/customers/by-slug/" + str(c.at("slug")) + "?include=notes");
      CHECK(by_slug.at("notes").as_array().size() == 1);
      auto bad = call(client, "GET", path + "?include=contacts,opportunities", owner.access);
      CHECK(bad.status == 400);
      CHECK(error_fields(bad).count("include") == 1);
    }
  }

  TEST_CASE("customer: merging moves contacts, notes, activities and timeline to the target and deletes the source") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-merge", "owner@merge.example");
      auto other = register_tenant(client, "cust-merge-b", "owner@merge-b.example");
      auto viewer = add_member(client, db, owner, "viewer@merge.example", "viewer");
      auto target = create_customer(client, owner.access, bj::object{{"name", "Target"}, {"tags", bj::array{"a"}}});
      auto source = create_customer(client, owner.access,
                                    bj::object{{"name", "Source"}, {"email", "src@merge.my"}, {"phone", "0123456789"},
                                               {"tags", bj::array{"a", "b"}}});
      std::string t = "/api/v1/customers/" + id_of(target), s = "/api/v1/customers/" + id_of(source);
      REQUIRE(call(client, "POST", t + "/contacts", owner.access, js(bj::object{{"first_name", "Tina"}})).status == 201);
      REQUIRE(call(client, "POST", s + "/contacts", owner.access, js(bj::object{{"first_name", "Sam"}})).status == 201);
      REQUIRE(call(client, "POST", s + "/notes", owner.access, js(bj::object{{"body", "Loves songket weaving"}})).status == 201);
      REQUIRE(call(client, "POST", s + "/activities", owner.access, js(bj::object{{"type", "email"}, {"subject", "Hi"}})).status == 201);
      auto merge = [&](const std::string& path, const Account& who, const bj::object& body) {
        return call(client, "POST", path + "/merge", who.access, js(body));
      };

      CHECK(merge(t, viewer, bj::object{{"source_id", id_of(source)}}).status == 403);
      CHECK(error_code_for(merge(t, owner, bj::object{{"source_id", id_of(target)}}), "source_id") == "same_customer");
      auto foreign = create_customer(client, other.access, bj::object{{"name", "Elsewhere"}});
      CHECK(error_code_for(merge(t, owner, bj::object{{"source_id", id_of(foreign)}}), "source_id") == "not_found");
      CHECK(merge("/api/v1/customers/" + id_of(foreign), owner, bj::object{{"source_id", id_of(source)}}).status == 404);
      CHECK(merge(t, owner, bj::object{{"source", id_of(source)}}).status == 422);

      auto r = merge(t, owner, bj::object{{"source_id", id_of(source)}});
      REQUIRE_MESSAGE(r.status == 200, r.body);
      auto m = obj(r);
      CHECK(str(m.at("email")) == "src@merge.my");  // blanks filled from the source
      CHECK(str(m.at("phone")) == "+60123456789");
      CHECK(str(m.at("name")) == "Target");  // the target wins
      CHECK(m.at("tags") == bj::array{"a", "b"});
      auto contacts = data_of(call(client, "GET", t + "/contacts", owner.access));
      REQUIRE(contacts.size() == 2);
      CHECK(contacts[0].at("is_primary") == true);
      CHECK(str(contacts[0].at("first_name")) == "Tina");
      CHECK(contacts[1].at("is_primary") == false);
      CHECK(data_of(call(client, "GET", t + "/notes", owner.access)).size() == 1);
      CHECK(data_of(call(client, "GET", t + "/activities", owner.access)).size() == 1);
      CHECK(call(client, "GET", s, owner.access).status == 404);
      CHECK_FALSE(get_ok(client, owner.access, s + "?include_deleted=true").at("deleted_at").is_null());
      bool merged_entry = false;
      for (const auto& e : data_of(call(client, "GET", t + "/timeline?limit=50", owner.access))) {
        if (str(e.at("kind")) == "merged") merged_entry = str(e.at("summary")) == "Customer " + str(source.at("code")) + " merged into this one";
      }
      CHECK(merged_entry);
      auto events = outbox_payloads(db, "customer.merged");
      REQUIRE(events.size() == 1);
      CHECK(events[0].at("moved") == bj::object{{"contacts", 1}, {"notes", 1}, {"activities", 1}});
      CHECK(audit_changes(db, "customer.merged", id_of(target)).size() == 1);
      auto found = data_of(call(client, "GET", "/api/v1/customers?q=songket", owner.access));
      REQUIRE(found.size() == 1);
      CHECK(str(found[0].at("id")) == id_of(target));
      // The email now lives on the target, so a new customer with it is the target's duplicate.
      auto dup = create_raw(client, owner.access, bj::object{{"name", "X"}, {"email", "src@merge.my"}});
      CHECK(str(obj(dup).at("existing_id")) == id_of(target));
      CHECK(merge(t, owner, bj::object{{"source_id", id_of(source)}}).status == 422);  // already merged
    }
  }
}
