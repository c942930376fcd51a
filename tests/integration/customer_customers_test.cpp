// Customers over HTTP on SQLite and PostgreSQL: creation and its validation, codes and slugs,
// duplicates, updates with If-Match, status actions, delete/restore, permissions, audit.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

TEST_SUITE("integration/customer_customers") {
  TEST_CASE("customer: a created customer has normalized fields, a code, a slug, a Location and an audit entry") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-create", "owner@create.example");
      bj::object body{
          {"type", "business"},
          {"name", "Kedai Batik Siti"},
          {"legal_name", "Kedai Batik Siti Sdn. Bhd."},
          {"email", "  Siti@Kedai-Batik.COM.MY "},
          {"phone", "012-345 6789"},
          {"website", "kedai-batik.com.my"},
          {"industry", "Retail"},
          {"status", "prospect"},
          {"tier", "gold"},
          {"tags", bj::array{"VIP", "wholesale", "vip"}},
          {"addresses", bj::array{bj::object{{"type", "billing"},
                                             {"line1", "12 Jalan Tun Perak"},
                                             {"city", "Kuala Lumpur"},
                                             {"postal_code", "50050"},
                                             {"country", "my"}}}},
          {"social_profiles", bj::array{bj::object{{"platform", "instagram"}, {"handle", "@kedaibatik"}}}},
          {"custom_fields", bj::object{{"batik_style", "canting"}, {"looms", 4}}},
          {"credit_limit", bj::object{{"amount", "5000.5"}, {"currency", "MYR"}}},
          {"lifetime_value", bj::object{{"amount", "1500"}, {"currency", "JPY"}}},
          {"preferences", bj::object{{"language", "ms"}, {"preferred_channel", "whatsapp"}, {"marketing_opt_in", true}}},
          {"external_id", "legacy-42"},
      };
      auto r = create_raw(client, owner.access, body);
      REQUIRE_MESSAGE(r.status == 201, r.body);
      auto c = obj(r);
      std::string id = id_of(c);
      CHECK(r.header("location") == "/api/v1/customers/" + id);
      CHECK(r.header("etag") == "\"1\"");
      CHECK(str(c.at("code")) == "CUS-000001");
      CHECK(str(c.at("slug")) == "kedai-batik-siti");
      CHECK(str(c.at("tenant_id")) == owner.tenant_id);
      CHECK(str(c.at("email")) == "Siti@kedai-batik.com.my");
      CHECK(c.at("email_disposable") == false);
      CHECK(str(c.at("phone")) == "+60123456789");  // the tenant has no country: MY is the default region
      CHECK(str(c.at("website")) == "https://kedai-batik.com.my");
      CHECK(c.at("tags") == bj::array{"vip", "wholesale"});
      CHECK(str(c.at("addresses").at(0).at("country")) == "MY");
      CHECK(str(c.at("social_profiles").at(0).at("url")) == "https://www.instagram.com/kedaibatik");
      CHECK(c.at("credit_limit") == bj::object{{"amount", "5000.50"}, {"currency", "MYR"}});
      CHECK(c.at("lifetime_value") == bj::object{{"amount", "1500"}, {"currency", "JPY"}});
      CHECK(str(c.at("owner_id")) == owner.user_id);
      CHECK(c.at("version") == 1);
      CHECK(c.at("deleted_at").is_null());

      auto got = call(client, "GET", "/api/v1/customers/" + id, owner.access);
      REQUIRE(got.status == 200);
      CHECK(got.header("etag") == "\"1\"");
      CHECK(obj(got) == c);

      auto audit = audit_changes(db, "customer.created", id);
      REQUIRE(audit.size() == 1);
      CHECK(str(audit[0].at("name").at("new")) == "Kedai Batik Siti");
      CHECK(str(audit[0].at("code").at("new")) == "CUS-000001");

      // A tenant in Singapore reads national numbers as Singaporean; the default currency follows the tenant.
      set_tenant_settings(client, owner, bj::object{{"country", "SG"}, {"currency", "SGD"}});
      auto sg = create_customer(client, owner.access,
                                bj::object{{"name", "Lion City Textiles"}, {"phone", "6123 4567"},
                                           {"credit_limit", bj::object{{"amount", "10"}}}});
      CHECK(str(sg.at("phone")) == "+6561234567");
      CHECK(sg.at("credit_limit") == bj::object{{"amount", "10.00"}, {"currency", "SGD"}});
      CHECK(str(sg.at("type")) == "business");
      CHECK(str(sg.at("status")) == "lead");

      auto disposable = create_customer(client, owner.access, bj::object{{"name", "Temp"}, {"email", "a@mailinator.com"}});
      CHECK(disposable.at("email_disposable") == true);
    }
  }

  TEST_CASE("customer: GET, lists and search show a customer exactly as its create and update answered") {
    // Reads write the stored customer out as text; writes answer with the object they built.
    // Both must give the same members in the same order, escaping included.
    auto keys = [](const bj::object& o) {
      std::vector<std::string> out;
      for (const auto& kv : o) out.emplace_back(kv.key());
      return out;
    };
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-shape", "owner@shape.example");
      bj::object body{
          {"name", "Kedai \"Batik\" Siti \\ Tenun"},
          {"legal_name", "Kedai Batik Siti Sdn. Bhd.\nTingkat 2\ttab \xE2\x80\x94 \xE7\xBE\x8E"},
          {"email", "siti@kedai.example.my"},
          {"phone", "012-345 6789"},
          {"website", "kedai.example.my"},
          {"industry", "Retail"},
          {"status", "prospect"},
          {"tier", "gold"},
          {"tags", bj::array{"vip", "wholesale"}},
          {"addresses", bj::array{bj::object{{"type", "billing"}, {"line1", "12 \"Jalan\" Tun Perak"},
                                             {"city", "Kuala Lumpur"}, {"postal_code", "50050"}, {"country", "MY"}}}},
          {"social_profiles", bj::array{bj::object{{"platform", "instagram"}, {"handle", "@kedaibatik"}}}},
          {"custom_fields", bj::object{{"batik_style", "canting \"halus\""}, {"looms", 4}}},
          {"credit_limit", bj::object{{"amount", "5000.5"}, {"currency", "MYR"}}},
          {"lifetime_value", bj::object{{"amount", "12.5"}, {"currency", "KWD"}}},
          {"preferences", bj::object{{"language", "ms"}, {"marketing_opt_in", true}}},
          {"external_id", "legacy-7"},
      };
      auto created = create_raw(client, owner.access, body);
      REQUIRE_MESSAGE(created.status == 201, created.body);
      auto c = obj(created);
      std::string path = "/api/v1/customers/" + id_of(c);
      auto got = call(client, "GET", path, owner.access);
      REQUIRE(got.status == 200);
      CHECK(got.header("content-type") == "application/json");
      CHECK(obj(got) == c);
      CHECK(keys(obj(got)) == keys(c));
      auto embedded = get_ok(client, owner.access, path + "?include=contacts");
      embedded.erase("contacts");
      CHECK(embedded == c);
      CHECK(keys(embedded) == keys(c));

      auto updated = call(client, "PATCH", path, owner.access, js(bj::object{{"tier", nullptr}, {"tags", bj::array{}}}));
      REQUIRE(updated.status == 200);
      c = obj(updated);
      CHECK(c.at("tier").is_null());
      auto listed = data_of(call(client, "GET", "/api/v1/customers?status=prospect", owner.access));
      REQUIRE(listed.size() == 1);
      CHECK(listed[0].as_object() == c);
      CHECK(keys(listed[0].as_object()) == keys(c));
      auto found = data_of(call(client, "GET", "/api/v1/customers?q=kedai", owner.access));
      REQUIRE(found.size() == 1);
      CHECK(found[0].as_object() == c);
      auto searched = call(client, "POST", "/api/v1/customers/search", owner.access,
                           js(bj::object{{"filter", bj::object{{"field", "tier"}, {"op", "is_null"}}}}));
      REQUIRE_MESSAGE(searched.status == 200, searched.body);
      REQUIRE(data_of(searched).size() == 1);
      CHECK(data_of(searched)[0].as_object() == c);

      REQUIRE(call(client, "DELETE", path, owner.access).status == 204);
      auto deleted = get_ok(client, owner.access, path + "?include_deleted=true");
      CHECK_FALSE(deleted.at("deleted_at").is_null());
      CHECK(str(deleted.at("deleted_at")) >= str(c.at("updated_at")));
      deleted.erase("deleted_at");
      deleted.erase("version");
      deleted.erase("updated_at");
      for (const char* k : {"deleted_at", "version", "updated_at"}) c.erase(k);
      CHECK(deleted == c);
      CHECK(call(client, "GET", path, owner.access).status == 404);
      CHECK(call(client, "GET", "/api/v1/customers/not-a-uuid", owner.access).status == 404);
    }
  }

  TEST_CASE("customer: every invalid field is named in one 422, unknown and read-only fields too") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-invalid", "owner@invalid.example");
      bj::object body{
          {"type", "company"},
          {"name", "   "},
          {"email", "not-an-email"},
          {"phone", "12"},
          {"website", "ftp://x"},
          {"status", "sleeping"},
          {"tier", "diamond"},
          {"owner_id", "nobody"},
          {"tags", bj::array{"", "ok"}},
          {"addresses", bj::array{bj::object{{"type", "home"}, {"line1", "1 Jalan"}, {"postal_code", "5005"}, {"country", "MY"}},
                                  bj::object{{"type", "billing"}, {"line1", "x"}, {"country", "XX"}, {"planet", "Mars"}},
                                  bj::object{{"type", "shipping"}, {"line1", "1 Orchard Rd"}, {"postal_code", "23880"}, {"country", "SG"}}}},
          {"social_profiles", bj::array{bj::object{{"platform", "x"}, {"handle", "way_too_long_for_x_handles"}},
                                        bj::object{{"platform", "friendster"}, {"handle", "me"}}}},
          {"custom_fields", bj::object{{"Bad Key", 1}, {"nested", bj::object{}}}},
          {"credit_limit", bj::object{{"amount", 12.5}, {"currency", "MYR"}}},
          {"lifetime_value", bj::object{{"amount", "1.005"}, {"currency", "MYR"}}},
          {"preferences", bj::object{{"language", "Malay"}, {"preferred_channel", "pigeon"}, {"marketing_opt_in", "yes"}}},
          {"id", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
          {"code", "CUS-999999"},
          {"version", 7},
          {"created_at", "2020-01-01T00:00:00Z"},
          {"favourite_colour", "indigo"},
      };
      auto r = create_raw(client, owner.access, body);
      REQUIRE_MESSAGE(r.status == 422, r.body);
      auto fields = error_fields(r);
      for (const char* f : {"type", "name", "email", "phone", "website", "status", "tier", "owner_id", "tags[0]",
                            "addresses[0].type", "addresses[0].postal_code", "addresses[1].country",
                            "addresses[1].planet", "addresses[2].postal_code", "social_profiles[0].handle",
                            "social_profiles[1].platform", "custom_fields.Bad Key", "custom_fields.nested",
                            "credit_limit.amount", "lifetime_value.amount", "preferences.language",
                            "preferences.preferred_channel", "preferences.marketing_opt_in", "id", "code", "version",
                            "created_at", "favourite_colour"}) {
        CAPTURE(f);
        CHECK(fields.count(f) == 1);
      }
      CHECK(error_code_for(r, "id") == "read_only");
      CHECK(error_code_for(r, "version") == "read_only");
      CHECK(error_code_for(r, "favourite_colour") == "unknown_field");
      CHECK(error_code_for(r, "credit_limit.amount") == "type");
      CHECK(error_code_for(r, "lifetime_value.amount") == "too_many_decimals");

      auto big = create_raw(client, owner.access,
                            bj::object{{"name", "Big"}, {"credit_limit", bj::object{{"amount", "1000000000000000.01"}}}});
      CHECK(big.status == 422);
      CHECK(error_code_for(big, "credit_limit.amount") == "out_of_range");
      auto currency = create_raw(client, owner.access,
                                 bj::object{{"name", "Cur"}, {"lifetime_value", bj::object{{"amount", "1"}, {"currency", "XYZ"}}}});
      CHECK(error_code_for(currency, "lifetime_value.currency") == "invalid");
      auto stranger = create_raw(client, owner.access, bj::object{{"name", "Owned"}, {"owner_id", kUnknownId}});
      CHECK(stranger.status == 422);
      CHECK(error_code_for(stranger, "owner_id") == "not_a_member");

      auto not_object = call(client, "POST", "/api/v1/customers", owner.access, "[1,2]");
      CHECK(not_object.status == 422);
      CHECK(error_fields(not_object).count("body") == 1);
      auto malformed = call(client, "POST", "/api/v1/customers", owner.access, "{\"name\": ");
      CHECK(malformed.status == 400);
      auto bad_flag = create_raw(client, owner.access, bj::object{{"name", "x"}}, "?allow_duplicate=maybe");
      CHECK(bad_flag.status == 400);
      CHECK(error_fields(bad_flag).count("allow_duplicate") == 1);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_customers") == 0);
    }
  }

  TEST_CASE("customer: codes are a per-tenant sequence that stays distinct under concurrent creates and never repeats") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient setup(server.port());
      auto a = register_tenant(setup, "cust-seq-a", "owner@seq-a.example");
      auto b = register_tenant(setup, "cust-seq-b", "owner@seq-b.example");
      constexpr int kThreads = 8, kEach = 5;
      std::vector<std::string> codes[kThreads];
      std::atomic<int> failures{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          HttpClient client(server.port());
          for (int i = 0; i < kEach; ++i) {
            // The same name everywhere: slugs must not collide either.
            auto r = create_raw(client, a.access, bj::object{{"name", "Same Name"}});
            if (r.status != 201) {
              ++failures;
              continue;
            }
            codes[t].push_back(str(obj(r).at("code")));
          }
        });
      }
      for (auto& th : threads) th.join();
      CHECK(failures == 0);
      std::set<std::string> all;
      for (const auto& list : codes) all.insert(list.begin(), list.end());
      CHECK(all.size() == kThreads * kEach);
      CHECK(*all.begin() == "CUS-000001");
      CHECK(*all.rbegin() == "CUS-000040");
      CHECK(db.scalar("SELECT COUNT(DISTINCT slug) FROM customer_customers") == kThreads * kEach);

      // Another tenant has its own sequence.
      CHECK(str(create_customer(setup, b.access, bj::object{{"name", "B1"}}).at("code")) == "CUS-000001");
      // A purged customer's number is not handed out again.
      auto last = create_customer(setup, a.access, bj::object{{"name", "Last"}});
      CHECK(str(last.at("code")) == "CUS-000041");
      REQUIRE(call(setup, "DELETE", "/api/v1/customers/" + id_of(last) + "?hard=true", a.access).status == 204);
      CHECK(str(create_customer(setup, a.access, bj::object{{"name", "Next"}}).at("code")) == "CUS-000042");
    }
  }

  TEST_CASE("customer: slugs come from the name, never collide, and find the customer") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-slug", "owner@slug.example");
      auto first = create_customer(client, owner.access, bj::object{{"name", "Acme Batik"}});
      auto second = create_customer(client, owner.access, bj::object{{"name", "ACME  batik!"}});
      auto third = create_customer(client, owner.access, bj::object{{"name", "Acme Batik 2"}});
      auto fourth = create_customer(client, owner.access, bj::object{{"name", "Acme Batik"}});
      CHECK(str(first.at("slug")) == "acme-batik");
      CHECK(str(second.at("slug")) == "acme-batik-2");
      CHECK(str(third.at("slug")) == "acme-batik-2-3");  // "acme-batik-2" was taken
      CHECK(str(fourth.at("slug")) == "acme-batik-4");
      auto found = get_ok(client, owner.access, "/api/v1/customers/by-slug/acme-batik-2");
      CHECK(id_of(found) == id_of(second));
      CHECK(call(client, "GET", "/api/v1/customers/by-slug/no-such-slug", owner.access).status == 404);
      // A renamed customer keeps its slug: links stay valid.
      auto renamed = call(client, "PATCH", "/api/v1/customers/" + id_of(first), owner.access,
                          js(bj::object{{"name", "Acme Renamed"}}));
      REQUIRE(renamed.status == 200);
      CHECK(str(obj(renamed).at("slug")) == "acme-batik");
      auto slug_write = call(client, "PATCH", "/api/v1/customers/" + id_of(first), owner.access,
                             js(bj::object{{"slug", "mine"}}));
      CHECK(slug_write.status == 422);
      CHECK(error_code_for(slug_write, "slug") == "read_only");
    }
  }

  TEST_CASE("customer: a known email or phone is a 409 duplicate naming the existing customer unless allowed") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-dup", "owner@dup.example");
      auto other = register_tenant(client, "cust-dup-other", "owner@dup-other.example");
      auto first = create_customer(client, owner.access,
                                   bj::object{{"name", "First"}, {"email", "Buyer@Batik.my"}, {"phone", "+60 12-345 6789"},
                                              {"external_id", "ext-1"}});
      auto by_email = create_raw(client, owner.access, bj::object{{"name", "Again"}, {"email", "buyer@BATIK.MY"}});
      CHECK(by_email.status == 409);
      CHECK(code_of(by_email) == "duplicate");
      CHECK(str(obj(by_email).at("existing_id")) == id_of(first));
      CHECK(error_fields(by_email).count("email") == 1);
      auto by_phone = create_raw(client, owner.access, bj::object{{"name", "Again"}, {"phone", "0123456789"}});
      CHECK(by_phone.status == 409);
      CHECK(str(obj(by_phone).at("existing_id")) == id_of(first));
      CHECK(error_fields(by_phone).count("phone") == 1);
      auto allowed = create_raw(client, owner.access, bj::object{{"name", "Again"}, {"email", "buyer@batik.my"}},
                                "?allow_duplicate=true");
      CHECK(allowed.status == 201);
      auto ext = create_raw(client, owner.access, bj::object{{"name", "Ext"}, {"external_id", "ext-1"}});
      CHECK(ext.status == 409);
      CHECK(code_of(ext) == "external_id_taken");
      // Another tenant may have the same email, phone and external id.
      CHECK(create_raw(client, other.access,
                       bj::object{{"name", "Theirs"}, {"email", "buyer@batik.my"}, {"phone", "0123456789"},
                                  {"external_id", "ext-1"}})
                .status == 201);
      // A deleted customer is no longer a duplicate.
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id_of(first), owner.access).status == 204);
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id_of(obj(allowed)), owner.access).status == 204);
      CHECK(create_raw(client, owner.access, bj::object{{"name", "Later"}, {"phone", "012 345 6789"}}).status == 201);
    }
  }

  TEST_CASE("customer: PUT replaces, PATCH changes some fields, If-Match guards both and each change is audited") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-update", "owner@update.example");
      auto sales = add_member(client, db, owner, "sales@update.example", "sales");
      auto c = create_customer(client, owner.access,
                               bj::object{{"name", "Batik Lama"}, {"industry", "Textiles"}, {"tags", bj::array{"a"}},
                                          {"email", "lama@batik.my"}});
      std::string path = "/api/v1/customers/" + id_of(c);

      auto patched = call(client, "PATCH", path, owner.access,
                          js(bj::object{{"name", "Batik Baru"}, {"industry", nullptr}}), {{"If-Match", "\"1\""}});
      REQUIRE_MESSAGE(patched.status == 200, patched.body);
      auto p = obj(patched);
      CHECK(patched.header("etag") == "\"2\"");
      CHECK(str(p.at("name")) == "Batik Baru");
      CHECK(p.at("industry").is_null());
      CHECK(p.at("tags") == bj::array{"a"});  // untouched
      CHECK(str(p.at("email")) == "lama@batik.my");

      auto stale = call(client, "PATCH", path, owner.access, js(bj::object{{"name", "Stale"}}), {{"If-Match", "\"1\""}});
      CHECK(stale.status == 412);

      auto put = call(client, "PUT", path, owner.access, js(bj::object{{"name", "Batik Ganti"}, {"tier", "silver"}}),
                      {{"If-Match", "\"2\""}});
      REQUIRE_MESSAGE(put.status == 200, put.body);
      auto q = obj(put);
      CHECK(q.at("version") == 3);
      CHECK(q.at("email").is_null());    // absent in a PUT: cleared
      CHECK(q.at("tags") == bj::array{});
      CHECK(str(q.at("tier")) == "silver");
      CHECK(str(q.at("status")) == "lead");  // kept
      CHECK(call(client, "PUT", path, owner.access, js(bj::object{{"tier", "gold"}})).status == 422);  // name required

      auto audit = audit_changes(db, "customer.updated", id_of(c));
      REQUIRE(audit.size() == 2);
      CHECK(str(audit[0].at("name").at("old")) == "Batik Lama");
      CHECK(str(audit[0].at("name").at("new")) == "Batik Baru");
      CHECK(str(audit[0].at("industry").at("old")) == "Textiles");
      CHECK(audit[0].at("industry").at("new").is_null());
      CHECK_FALSE(audit[0].contains("tags"));

      // Blocking goes through its action, not a field write.
      auto block = call(client, "PATCH", path, owner.access, js(bj::object{{"status", "blocked"}}));
      CHECK(block.status == 409);
      CHECK(code_of(block) == "invalid_transition");
      auto status = call(client, "PATCH", path, owner.access, js(bj::object{{"status", "prospect"}}));
      REQUIRE(status.status == 200);
      CHECK(audit_changes(db, "customer.status_changed", id_of(c)).size() == 1);

      auto owner_change = call(client, "PATCH", path, owner.access, js(bj::object{{"owner_id", sales.user_id}}));
      REQUIRE(owner_change.status == 200);
      auto owner_audit = audit_changes(db, "customer.owner_changed", id_of(c));
      REQUIRE(owner_audit.size() == 1);
      CHECK(str(owner_audit[0].at("owner_id").at("old")) == owner.user_id);
      CHECK(str(owner_audit[0].at("owner_id").at("new")) == sales.user_id);
      auto bad_owner = call(client, "PATCH", path, owner.access, js(bj::object{{"owner_id", kUnknownId}}));
      CHECK(bad_owner.status == 422);
      CHECK(error_code_for(bad_owner, "owner_id") == "not_a_member");

      auto read_only = call(client, "PATCH", path, owner.access, js(bj::object{{"version", 99}, {"color", "red"}}));
      CHECK(read_only.status == 422);
      CHECK(error_code_for(read_only, "version") == "read_only");
      CHECK(error_code_for(read_only, "color") == "unknown_field");
      auto bad = call(client, "PATCH", path, owner.access, js(bj::object{{"email", "nope"}, {"name", nullptr}}));
      CHECK(bad.status == 422);
      CHECK(error_fields(bad) == std::set<std::string>{"email", "name"});
      CHECK(call(client, "PATCH", "/api/v1/customers/" + std::string(kUnknownId), owner.access,
                 js(bj::object{{"name", "x"}})).status == 404);
    }
  }

  TEST_CASE("customer: changing the email or phone to another customer's is a 409 duplicate unless allowed") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-update-dup", "owner@update-dup.example");
      auto other_tenant = register_tenant(client, "cust-update-dup-b", "owner@update-dup-b.example");
      auto first = create_customer(client, owner.access,
                                   bj::object{{"name", "First"}, {"email", "first@batik.my"}, {"phone", "0123456789"}});
      auto second = create_customer(client, owner.access,
                                    bj::object{{"name", "Second"}, {"email", "second@batik.my"}, {"phone", "0129876543"}});
      std::string path = "/api/v1/customers/" + id_of(second);

      auto by_email = call(client, "PATCH", path, owner.access, js(bj::object{{"email", "FIRST@batik.my"}}));
      CHECK(by_email.status == 409);
      CHECK(code_of(by_email) == "duplicate");
      CHECK(str(obj(by_email).at("existing_id")) == id_of(first));
      CHECK(error_fields(by_email) == std::set<std::string>{"email"});
      auto by_phone = call(client, "PUT", path, owner.access,
                           js(bj::object{{"name", "Second"}, {"email", "second@batik.my"}, {"phone", "+60 12-345 6789"}}));
      CHECK(by_phone.status == 409);
      CHECK(str(obj(by_phone).at("existing_id")) == id_of(first));
      CHECK(error_fields(by_phone) == std::set<std::string>{"phone"});
      // Nothing was written by the refused changes.
      auto unchanged = get_ok(client, owner.access, path);
      CHECK(str(unchanged.at("email")) == "second@batik.my");
      CHECK(unchanged.at("version") == 1);

      // Its own email (in another case) and fields other than email and phone are no duplicates.
      auto own = call(client, "PATCH", path, owner.access,
                      js(bj::object{{"email", "Second@batik.my"}, {"tier", "gold"}}));
      CHECK_MESSAGE(own.status == 200, own.body);
      auto allowed = call(client, "PATCH", path + "?allow_duplicate=true", owner.access,
                          js(bj::object{{"email", "first@batik.my"}}));
      REQUIRE_MESSAGE(allowed.status == 200, allowed.body);
      CHECK(str(obj(allowed).at("email")) == "first@batik.my");
      // Now both share the email: the second stays editable without touching it.
      CHECK(call(client, "PATCH", path, owner.access, js(bj::object{{"name", "Second Renamed"}})).status == 200);
      CHECK(call(client, "PATCH", path + "?allow_duplicate=maybe", owner.access, js(bj::object{{"name", "x"}})).status ==
            400);

      // A deleted customer's email is free, and another tenant's customers are never duplicates.
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id_of(first), owner.access).status == 204);
      CHECK(call(client, "PATCH", path, owner.access, js(bj::object{{"phone", "0123456789"}})).status == 200);
      auto theirs = create_customer(client, other_tenant.access, bj::object{{"name", "Theirs"}});
      CHECK(call(client, "PATCH", "/api/v1/customers/" + id_of(theirs), other_tenant.access,
                 js(bj::object{{"email", "second@batik.my"}, {"phone", "0129876543"}}))
                .status == 200);
    }
  }

  TEST_CASE("customer: two concurrent updates with the same If-Match give one 200 and one 412") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient setup(server.port());
      auto owner = register_tenant(setup, "cust-race", "owner@race.example");
      auto c = create_customer(setup, owner.access, bj::object{{"name", "Race"}});
      std::string path = "/api/v1/customers/" + id_of(c);
      for (int round = 0; round < 5; ++round) {
        CAPTURE(round);
        std::string etag = "\"" + std::to_string(round + 1) + "\"";
        int statuses[2] = {0, 0};
        std::thread t1([&] {
          HttpClient cl(server.port());
          statuses[0] = call(cl, "PATCH", path, owner.access, js(bj::object{{"name", "One " + std::to_string(round)}}), {{"If-Match", etag}}).status;
        });
        std::thread t2([&] {
          HttpClient cl(server.port());
          statuses[1] = call(cl, "PATCH", path, owner.access, js(bj::object{{"name", "Two " + std::to_string(round)}}), {{"If-Match", etag}}).status;
        });
        t1.join();
        t2.join();
        std::multiset<int> got{statuses[0], statuses[1]};
        CHECK(got == std::multiset<int>{200, 412});
        CHECK(get_ok(setup, owner.access, path).at("version") == round + 2);
      }
    }
  }

  TEST_CASE("customer: status actions follow the legal transitions and a blocked customer is unblocked before activation") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-status", "owner@status.example");
      auto c = create_customer(client, owner.access, bj::object{{"name", "Status"}});
      std::string path = "/api/v1/customers/" + id_of(c);
      auto act = [&](const char* action) { return call(client, "POST", path + "/" + action, owner.access); };
      auto expect = [&](const char* action, int status, const char* after) {
        CAPTURE(action);
        auto r = act(action);
        CHECK_MESSAGE(r.status == status, r.body);
        if (after) CHECK(str(get_ok(client, owner.access, path).at("status")) == after);
        if (status == 409) CHECK(code_of(r) == "invalid_transition");
      };
      expect("activate", 200, "active");
      expect("activate", 409, "active");
      expect("unblock", 409, "active");
      expect("block", 200, "blocked");
      expect("block", 409, "blocked");
      expect("activate", 409, "blocked");
      expect("deactivate", 409, "blocked");
      expect("unblock", 200, "inactive");
      expect("activate", 200, "active");
      expect("deactivate", 200, "inactive");
      auto stale = call(client, "POST", path + "/activate", owner.access, "", {{"If-Match", "\"1\""}});
      CHECK(stale.status == 412);
      auto events = outbox_payloads(db, "customer.status_changed");
      CHECK(events.size() == 5);
      CHECK(str(events.back().at("changes").at("status").at("new")) == "inactive");
      CHECK(audit_changes(db, "customer.status_changed", id_of(c)).size() == 5);
      CHECK(call(client, "POST", "/api/v1/customers/" + std::string(kUnknownId) + "/activate", owner.access).status == 404);
    }
  }

  TEST_CASE("customer: a deleted customer is gone unless asked for, can be restored, and purging needs customers:purge") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-delete", "owner@delete.example");
      auto sales = add_member(client, db, owner, "sales@delete.example", "sales");
      auto c = create_customer(client, sales.access, bj::object{{"name", "Gone Soon"}});
      std::string path = "/api/v1/customers/" + id_of(c);
      CHECK(call(client, "DELETE", path, sales.access).status == 204);
      CHECK(call(client, "GET", path, owner.access).status == 404);
      CHECK(call(client, "DELETE", path, owner.access).status == 404);
      CHECK(call(client, "PATCH", path, owner.access, js(bj::object{{"name", "x"}})).status == 404);
      CHECK(data_of(call(client, "GET", "/api/v1/customers", owner.access)).empty());
      auto deleted = get_ok(client, owner.access, path + "?include_deleted=true");
      CHECK_FALSE(deleted.at("deleted_at").is_null());
      auto listed = call(client, "GET", "/api/v1/customers?include_deleted=true", owner.access);
      CHECK(data_of(listed).size() == 1);
      CHECK(audit_changes(db, "customer.deleted", id_of(c)).size() == 1);

      auto restored = call(client, "POST", path + "/restore", owner.access);
      REQUIRE(restored.status == 200);
      CHECK(obj(restored).at("deleted_at").is_null());
      CHECK(call(client, "POST", path + "/restore", owner.access).status == 409);
      CHECK(audit_changes(db, "customer.restored", id_of(c)).size() == 1);

      CHECK(call(client, "DELETE", path + "?hard=true", sales.access).status == 403);
      CHECK(call(client, "DELETE", path + "?hard=maybe", owner.access).status == 400);
      CHECK(call(client, "DELETE", path + "?hard=true", owner.access).status == 204);
      CHECK(call(client, "GET", path + "?include_deleted=true", owner.access).status == 404);
      CHECK(db.scalar("SELECT COUNT(*) FROM customer_customers") == 0);
      CHECK(audit_changes(db, "customer.purged", id_of(c)).size() == 1);
    }
  }

  TEST_CASE("customer: a viewer reads but never writes, and a sales member changes only the customers they own") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-perm", "owner@perm.example");
      auto viewer = add_member(client, db, owner, "viewer@perm.example", "viewer");
      auto sales = add_member(client, db, owner, "sales@perm.example", "sales");
      auto theirs = create_customer(client, owner.access, bj::object{{"name", "Owner's"}});
      std::string theirs_path = "/api/v1/customers/" + id_of(theirs);

      CHECK(call(client, "GET", theirs_path, viewer.access).status == 200);
      CHECK(call(client, "GET", "/api/v1/customers", viewer.access).status == 200);
      CHECK(create_raw(client, viewer.access, bj::object{{"name", "Nope"}}).status == 403);
      CHECK(call(client, "PATCH", theirs_path, viewer.access, js(bj::object{{"name", "x"}})).status == 403);
      CHECK(call(client, "PUT", theirs_path, viewer.access, js(bj::object{{"name", "x"}})).status == 403);
      CHECK(call(client, "DELETE", theirs_path, viewer.access).status == 403);
      CHECK(call(client, "POST", theirs_path + "/activate", viewer.access).status == 403);
      CHECK(call(client, "GET", "/api/v1/customers?include_deleted=true", viewer.access).status == 403);

      auto own = create_customer(client, sales.access, bj::object{{"name", "Sales Own"}});
      CHECK(str(own.at("owner_id")) == sales.user_id);  // the creator owns it by default
      std::string own_path = "/api/v1/customers/" + id_of(own);
      CHECK(call(client, "PATCH", own_path, sales.access, js(bj::object{{"tier", "gold"}})).status == 200);
      CHECK(call(client, "POST", own_path + "/activate", sales.access).status == 200);
      CHECK(call(client, "PATCH", theirs_path, sales.access, js(bj::object{{"tier", "gold"}})).status == 403);
      CHECK(call(client, "POST", theirs_path + "/block", sales.access).status == 403);
      CHECK(call(client, "DELETE", theirs_path, sales.access).status == 403);
      CHECK(call(client, "GET", theirs_path, sales.access).status == 200);
      CHECK(call(client, "DELETE", own_path, sales.access).status == 204);
      CHECK(str(get_ok(client, owner.access, theirs_path).at("name")) == "Owner's");
      CHECK(call(client, "GET", "/api/v1/customers", "").status == 401);
    }
  }

  TEST_CASE("customer: another tenant's customer is 404 on every verb and never listed") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-iso-a", "owner@iso-a.example");
      auto b = register_tenant(client, "cust-iso-b", "owner@iso-b.example");
      auto c = create_customer(client, a.access, bj::object{{"name", "Tenant A Only"}, {"email", "a@iso.example"}});
      std::string path = "/api/v1/customers/" + id_of(c);
      auto before = get_ok(client, a.access, path);
      const std::vector<std::pair<std::string, std::string>> probes = {
          {"GET", path},
          {"GET", path + "?include_deleted=true"},
          {"PUT", path},
          {"PATCH", path},
          {"DELETE", path},
          {"DELETE", path + "?hard=true"},
          {"POST", path + "/restore"},
          {"POST", path + "/activate"},
          {"POST", path + "/deactivate"},
          {"POST", path + "/block"},
          {"POST", path + "/unblock"},
          {"GET", "/api/v1/customers/by-slug/" + str(c.at("slug"))},
      };
      for (const auto& [method, target] : probes) {
        CAPTURE(method);
        CAPTURE(target);
        std::string body = method == "PUT" || method == "PATCH" ? js(bj::object{{"name", "Taken over"}}) : "";
        auto r = call(client, method, target, b.access, body);
        CHECK(r.status == 404);
        auto unknown = call(client, method, target.find("by-slug") != std::string::npos
                                                ? "/api/v1/customers/by-slug/none"
                                                : std::string(target).replace(target.find(id_of(c)), 36, kUnknownId),
                            b.access, body);
        CHECK(unknown.status == 404);
      }
      CHECK(data_of(call(client, "GET", "/api/v1/customers?include_deleted=true", b.access)).empty());
      // The same email in B is no duplicate of A's.
      CHECK(create_raw(client, b.access, bj::object{{"name", "B"}, {"email", "a@iso.example"}}).status == 201);
      CHECK(data_of(call(client, "GET", "/api/v1/customers", b.access)).size() == 1);
      CHECK(get_ok(client, a.access, path) == before);
    }
  }

  TEST_CASE("customer: likely duplicate pairs share an email, a phone or a name, within the tenant") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-dups-a", "owner@dups-a.example");
      auto b = register_tenant(client, "cust-dups-b", "owner@dups-b.example");
      auto one = create_customer(client, a.access, bj::object{{"name", "Batik Indah"}, {"email", "sales@indah.my"}, {"phone", "0123456789"}});
      auto two = create_customer(client, a.access, bj::object{{"name", "Indah Batik Enterprise"}, {"email", "SALES@indah.my"}},
                                 "?allow_duplicate=true");
      auto three = create_customer(client, a.access, bj::object{{"name", "batik indah"}, {"phone", "+60 12-345 6789"}},
                                   "?allow_duplicate=true");
      create_customer(client, a.access, bj::object{{"name", "Unrelated"}});
      create_customer(client, b.access, bj::object{{"name", "Batik Indah"}, {"email", "sales@indah.my"}});
      auto r = call(client, "GET", "/api/v1/customers/duplicates", a.access);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      std::map<std::set<std::string>, std::vector<std::string>> pairs;
      for (const auto& p : data_of(r)) {
        std::set<std::string> ids;
        for (const auto& id : p.at("customer_ids").as_array()) ids.insert(str(id));
        std::vector<std::string> reasons;
        for (const auto& x : p.at("reasons").as_array()) reasons.push_back(str(x));
        pairs[ids] = reasons;
        CHECK(p.at("customers").as_array().size() == 2);
      }
      CHECK(pairs.size() == 2);
      CHECK(pairs[{id_of(one), id_of(two)}] == std::vector<std::string>{"email"});
      CHECK(pairs[{id_of(one), id_of(three)}] == std::vector<std::string>{"phone", "name"});
      CHECK(pairs.count({id_of(two), id_of(three)}) == 0);  // nothing in common
      auto paged = call(client, "GET", "/api/v1/customers/duplicates?limit=1", a.access);
      auto rest = call(client, "GET", "/api/v1/customers/duplicates?limit=5&cursor=" +
                                          str(obj(paged).at("page").at("next_cursor")), a.access);
      CHECK(data_of(paged).size() + data_of(rest).size() == 2);
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id_of(three), a.access).status == 204);
      CHECK(data_of(call(client, "GET", "/api/v1/customers/duplicates", a.access)).size() == 1);
      CHECK(data_of(call(client, "GET", "/api/v1/customers/duplicates", b.access)).empty());
    }
  }

  TEST_CASE("customer: a tenant's plan limits its live customers (409 plan_limit_reached)") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      std::string config = db.data_dir() + "/customer-plan.json";
      std::ofstream(config) << "{\"modules\": {\"customer\": {\"customer_limits\": {\"free\": 2}}}}";
      ServerProcess server(db, {}, {"--config", config});
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-plan", "owner@plan.example");  // a new tenant is on free
      auto first = create_customer(client, owner.access, bj::object{{"name", "One"}});
      create_customer(client, owner.access, bj::object{{"name", "Two"}});
      auto third = create_raw(client, owner.access, bj::object{{"name", "Three"}});
      CHECK(third.status == 409);
      CHECK(code_of(third) == "plan_limit_reached");
      REQUIRE(call(client, "DELETE", "/api/v1/customers/" + id_of(first), owner.access).status == 204);
      CHECK(create_raw(client, owner.access, bj::object{{"name", "Three"}}).status == 201);
    }
  }
}
