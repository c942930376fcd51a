// Tenant-defined custom fields: definitions, typed values on customers, on both backends.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <set>
#include <string>

#include "support/customer_helpers.hpp"
#include "support/harness.hpp"

using namespace crm::testing;
using namespace crm::testing::customer;

namespace {

bj::object define(HttpClient& client, const Account& who, const bj::object& body) {
  auto r = call(client, "POST", "/api/v1/custom-fields", who.access, js(body));
  REQUIRE_MESSAGE(r.status == 201, r.status << " " << r.body);
  return obj(r);
}

/// The typed fields most tests use: one of every type, `region` required.
void define_all_types(HttpClient& client, const Account& who) {
  define(client, who, {{"entity", "customer"}, {"key", "motif"}, {"label", "Motif"}, {"type", "text"}});
  define(client, who, {{"entity", "customer"}, {"key", "rating"}, {"label", "Rating"}, {"type", "number"}});
  define(client, who, {{"entity", "customer"}, {"key", "looms"}, {"label", "Looms"}, {"type", "integer"}});
  define(client, who, {{"entity", "customer"}, {"key", "exporter"}, {"label", "Exports"}, {"type", "boolean"}});
  define(client, who, {{"entity", "customer"}, {"key", "first_order"}, {"label", "First order"}, {"type", "date"}});
  define(client, who, {{"entity", "customer"}, {"key", "last_visit"}, {"label", "Last visit"}, {"type", "datetime"}});
  define(client, who, {{"entity", "customer"}, {"key", "region"}, {"label", "Region"}, {"type", "select"},
                       {"options", bj::array{"north", "central", "east_coast"}}, {"required", true}});
  define(client, who, {{"entity", "customer"}, {"key", "fabrics"}, {"label", "Fabrics"}, {"type", "multi_select"},
                       {"options", bj::array{"cotton", "silk", "rayon"}}});
  define(client, who, {{"entity", "customer"}, {"key", "catalogue"}, {"label", "Catalogue"}, {"type", "url"}});
  define(client, who, {{"entity", "customer"}, {"key", "buyer_email"}, {"label", "Buyer"}, {"type", "email"}});
}

}  // namespace

TEST_SUITE("integration/customer_fields") {
  TEST_CASE("customer: custom field definitions are created, listed, changed and deleted with every rule checked") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-fields", "owner@fields.example");

      auto created = call(client, "POST", "/api/v1/custom-fields", owner.access,
                          js(bj::object{{"entity", "customer"}, {"key", "region"}, {"label", "Region"},
                                        {"type", "select"}, {"options", bj::array{"north", "central"}},
                                        {"description", "Where the shop is"}, {"position", 2}}));
      REQUIRE_MESSAGE(created.status == 201, created.body);
      auto region = obj(created);
      std::string path = "/api/v1/custom-fields/" + id_of(region);
      CHECK(created.header("Location") == path);
      CHECK(created.header("ETag") == "\"1\"");
      CHECK(str(region.at("type")) == "select");
      CHECK(region.at("options").as_array().size() == 2);
      CHECK(region.at("required").as_bool() == false);
      CHECK(outbox_payloads(db, "custom_field.created").size() == 1);
      define(client, owner, {{"entity", "customer"}, {"key", "looms"}, {"label", "Looms"}, {"type", "integer"},
                             {"position", 1}});
      define(client, owner, {{"entity", "lead"}, {"key", "budget_band"}, {"label", "Budget"}, {"type", "text"}});

      // Listed by entity, then position.
      auto all = data_of(call(client, "GET", "/api/v1/custom-fields", owner.access));
      REQUIRE(all.size() == 3);
      CHECK(str(all[0].at("key")) == "looms");
      CHECK(str(all[1].at("key")) == "region");
      CHECK(str(all[2].at("key")) == "budget_band");
      auto leads = data_of(call(client, "GET", "/api/v1/custom-fields?entity=lead", owner.access));
      REQUIRE(leads.size() == 1);
      CHECK(str(leads[0].at("entity")) == "lead");
      auto first = call(client, "GET", "/api/v1/custom-fields?limit=1&include_total=true", owner.access);
      CHECK(obj(first).at("page").at("total").as_int64() == 3);
      std::string cursor = str(obj(first).at("page").at("next_cursor"));
      auto second = data_of(call(client, "GET", "/api/v1/custom-fields?limit=2&cursor=" + cursor, owner.access));
      REQUIRE(second.size() == 2);
      CHECK(str(second[0].at("key")) == "region");
      CHECK(call(client, "GET", "/api/v1/custom-fields?entity=invoice", owner.access).status == 400);
      CHECK(call(client, "GET", "/api/v1/custom-fields?colour=red", owner.access).status == 400);

      // Every bad field of a definition is named in one 422.
      auto bad = call(client, "POST", "/api/v1/custom-fields", owner.access,
                      js(bj::object{{"entity", "invoice"}, {"key", "Bad-Key"}, {"label", ""}, {"type", "json"},
                                    {"position", -1}, {"id", "x"}, {"colour", "red"}}));
      CHECK(bad.status == 422);
      auto fields = error_fields(bad);
      for (const char* f : {"entity", "key", "label", "type", "position", "id", "colour"}) {
        CAPTURE(f);
        CHECK(fields.count(f) == 1);
      }
      auto no_options = call(client, "POST", "/api/v1/custom-fields", owner.access,
                             js(bj::object{{"entity", "customer"}, {"key", "size"}, {"label", "Size"}, {"type", "select"}}));
      CHECK(no_options.status == 422);
      CHECK(error_fields(no_options) == std::set<std::string>{"options"});
      auto stray_options = call(client, "POST", "/api/v1/custom-fields", owner.access,
                                js(bj::object{{"entity", "customer"}, {"key", "size"}, {"label", "Size"},
                                              {"type", "text"}, {"options", bj::array{"s"}}}));
      CHECK(error_fields(stray_options) == std::set<std::string>{"options"});
      auto twice = call(client, "POST", "/api/v1/custom-fields", owner.access,
                        js(bj::object{{"entity", "customer"}, {"key", "size"}, {"label", "Size"}, {"type", "select"},
                                      {"options", bj::array{"s", "s"}}}));
      CHECK(error_fields(twice) == std::set<std::string>{"options[1]"});
      auto taken = call(client, "POST", "/api/v1/custom-fields", owner.access,
                        js(bj::object{{"entity", "customer"}, {"key", "region"}, {"label", "Again"}, {"type", "text"}}));
      CHECK(taken.status == 409);
      CHECK(code_of(taken) == "key_taken");
      CHECK(str(obj(taken).at("existing_id")) == id_of(region));
      // The same key on another entity is another field.
      define(client, owner, {{"entity", "deal"}, {"key", "region"}, {"label", "Region"}, {"type", "text"}});

      // PUT changes label, options, required; entity, key and type are fixed.
      auto changed = call(client, "PUT", path, owner.access,
                          js(bj::object{{"entity", "customer"}, {"key", "region"}, {"type", "select"},
                                        {"label", "Shop region"}, {"options", bj::array{"north", "central", "south"}},
                                        {"required", true}}),
                          {{"If-Match", "\"1\""}});
      REQUIRE_MESSAGE(changed.status == 200, changed.body);
      CHECK(str(obj(changed).at("label")) == "Shop region");
      CHECK(obj(changed).at("version").as_int64() == 2);
      CHECK(obj(changed).at("description").is_null());
      auto changes = outbox_payloads(db, "custom_field.updated");
      REQUIRE(changes.size() == 1);
      CHECK(changes[0].at("changes").as_object().contains("options"));
      auto stale = call(client, "PUT", path, owner.access, js(bj::object{{"label", "x"}}), {{"If-Match", "\"1\""}});
      CHECK(stale.status == 412);
      auto retype = call(client, "PUT", path, owner.access,
                         js(bj::object{{"label", "Region"}, {"type", "text"}, {"key", "area"}}));
      CHECK(retype.status == 422);
      CHECK(error_fields(retype) == std::set<std::string>{"type", "key", "options"});  // a PUT replaces: options again

      CHECK(call(client, "DELETE", path, owner.access, "", {{"If-Match", "\"1\""}}).status == 412);
      CHECK(call(client, "DELETE", path, owner.access).status == 204);
      CHECK(call(client, "GET", path, owner.access).status == 404);
      CHECK(call(client, "DELETE", path, owner.access).status == 404);
      CHECK(call(client, "GET", "/api/v1/custom-fields/not-an-id", owner.access).status == 404);
      CHECK(outbox_payloads(db, "custom_field.deleted").size() == 1);
      CHECK(audit_changes(db, "custom_field.created", id_of(region)).size() == 1);
    }
  }

  TEST_CASE("customer: once defined, custom fields are typed and each wrong value, unknown key or missing one is named") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto owner = register_tenant(client, "cust-typed", "owner@typed.example");
      // Before any definition the fields are free-form.
      auto early = create_customer(client, owner.access,
                                   bj::object{{"name", "Early Batik"}, {"custom_fields", bj::object{{"anything", 1}}}});
      CHECK(early.at("custom_fields").at("anything").as_int64() == 1);
      define_all_types(client, owner);

      auto good = create_raw(client, owner.access,
                             bj::object{{"name", "Typed Batik"},
                                        {"custom_fields", bj::object{{"motif", "parang"},
                                                                     {"rating", 4.5},
                                                                     {"looms", 12.0},
                                                                     {"exporter", true},
                                                                     {"first_order", "2024-02-29"},
                                                                     {"last_visit", "2026-11-30T17:45:00+08:00"},
                                                                     {"region", "east_coast"},
                                                                     {"fabrics", bj::array{"silk", "cotton"}},
                                                                     {"catalogue", "batik.example/katalog"},
                                                                     {"buyer_email", "Beli@Batik.EXAMPLE"},
                                                                     {"motif_note", nullptr}}}});
      CHECK(good.status == 422);  // motif_note is not defined
      CHECK(error_fields(good) == std::set<std::string>{"custom_fields.motif_note"});

      auto c = create_customer(client, owner.access,
                               bj::object{{"name", "Typed Batik"},
                                          {"custom_fields", bj::object{{"motif", "parang"},
                                                                       {"rating", 4.5},
                                                                       {"looms", 12.0},
                                                                       {"exporter", true},
                                                                       {"first_order", "2024-02-29"},
                                                                       {"last_visit", "2026-11-30T17:45:00+08:00"},
                                                                       {"region", "east_coast"},
                                                                       {"fabrics", bj::array{"silk", "cotton"}},
                                                                       {"catalogue", "batik.example/katalog"},
                                                                       {"buyer_email", "Beli@Batik.EXAMPLE"}}}});
      const auto& cf = c.at("custom_fields").as_object();
      CHECK(cf.at("looms").as_int64() == 12);
      CHECK(cf.at("rating").as_double() == doctest::Approx(4.5));
      CHECK(str(cf.at("last_visit")) == "2026-11-30T09:45:00.000Z");  // normalized to UTC
      CHECK(cf.at("fabrics").as_array() == bj::array{"cotton", "silk"});  // in the definition's order
      CHECK(str(cf.at("catalogue")) == "https://batik.example/katalog");
      CHECK(str(cf.at("buyer_email")) == "Beli@batik.example");
      // A search filter finds by a typed value.
      auto found = call(client, "POST", "/api/v1/customers/search", owner.access,
                        js(bj::object{{"filter", bj::object{{"field", "custom.looms"}, {"op", "gte"}, {"value", 10}}}}));
      REQUIRE_MESSAGE(found.status == 200, found.body);
      REQUIRE(data_of(found).size() == 1);
      CHECK(id_of(data_of(found)[0].as_object()) == id_of(c));

      // Every wrong value is named at once, and the required region is missing.
      auto bad = create_raw(client, owner.access,
                            bj::object{{"name", "Wrong Batik"},
                                       {"custom_fields", bj::object{{"motif", 5},
                                                                    {"rating", "high"},
                                                                    {"looms", 2.5},
                                                                    {"exporter", "yes"},
                                                                    {"first_order", "2026-02-29"},
                                                                    {"last_visit", "yesterday"},
                                                                    {"fabrics", bj::array{"silk", "wool"}},
                                                                    {"catalogue", "not a url"},
                                                                    {"buyer_email", "nobody"},
                                                                    {"colour", "red"}}}});
      CHECK(bad.status == 422);
      CHECK(error_fields(bad) ==
            std::set<std::string>{"custom_fields.motif", "custom_fields.rating", "custom_fields.looms",
                                  "custom_fields.exporter", "custom_fields.first_order", "custom_fields.last_visit",
                                  "custom_fields.fabrics", "custom_fields.catalogue", "custom_fields.buyer_email",
                                  "custom_fields.colour", "custom_fields.region"});
      auto no_custom = create_raw(client, owner.access, bj::object{{"name", "Bare Batik"}});
      CHECK(no_custom.status == 422);
      CHECK(error_fields(no_custom) == std::set<std::string>{"custom_fields.region"});
      auto wrong_option = create_raw(client, owner.access,
                                     bj::object{{"name", "Option Batik"},
                                                {"custom_fields", bj::object{{"region", "mars"}}}});
      CHECK(error_fields(wrong_option) == std::set<std::string>{"custom_fields.region"});

      // PATCH without custom_fields keeps them; naming them replaces the object (required still
      // holds), and null unsets an optional one.
      std::string cpath = "/api/v1/customers/" + id_of(c);
      auto renamed = call(client, "PATCH", cpath, owner.access, js(bj::object{{"name", "Typed Batik Sdn Bhd"}}));
      REQUIRE_MESSAGE(renamed.status == 200, renamed.body);
      CHECK(obj(renamed).at("custom_fields").as_object().size() == cf.size());
      auto dropped = call(client, "PATCH", cpath, owner.access,
                          js(bj::object{{"custom_fields", bj::object{{"motif", "kawung"}}}}));
      CHECK(dropped.status == 422);
      CHECK(error_fields(dropped) == std::set<std::string>{"custom_fields.region"});
      auto narrowed = call(client, "PATCH", cpath, owner.access,
                           js(bj::object{{"custom_fields", bj::object{{"region", "north"}, {"motif", nullptr}}}}));
      REQUIRE_MESSAGE(narrowed.status == 200, narrowed.body);
      CHECK(obj(narrowed).at("custom_fields").as_object() == bj::object{{"region", "north"}});
      // The early customer's free-form key survives until its custom_fields are written again.
      CHECK(get_ok(client, owner.access, "/api/v1/customers/" + id_of(early)).at("custom_fields").as_object().contains("anything"));
    }
  }

  TEST_CASE("customer: deleting a custom field removes its values from the tenant's customers only") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-strip-a", "owner@strip-a.example");
      auto b = register_tenant(client, "cust-strip-b", "owner@strip-b.example");
      auto motif_a = define(client, a, {{"entity", "customer"}, {"key", "motif"}, {"label", "Motif"}, {"type", "text"}});
      define(client, a, {{"entity", "customer"}, {"key", "looms"}, {"label", "Looms"}, {"type", "integer"}});
      define(client, b, {{"entity", "customer"}, {"key", "motif"}, {"label", "Motif"}, {"type", "text"}});
      auto with = create_customer(client, a.access, bj::object{{"name", "With Motif"},
                                                               {"custom_fields", bj::object{{"motif", "parang"}, {"looms", 3}}}});
      auto without = create_customer(client, a.access,
                                     bj::object{{"name", "Without Motif"}, {"custom_fields", bj::object{{"looms", 1}}}});
      auto other = create_customer(client, b.access,
                                   bj::object{{"name", "Other Tenant"}, {"custom_fields", bj::object{{"motif", "kawung"}}}});

      CHECK(call(client, "DELETE", "/api/v1/custom-fields/" + id_of(motif_a), b.access).status == 404);
      CHECK(call(client, "DELETE", "/api/v1/custom-fields/" + id_of(motif_a), a.access).status == 204);
      auto after = get_ok(client, a.access, "/api/v1/customers/" + id_of(with));
      CHECK(after.at("custom_fields").as_object() == bj::object{{"looms", 3}});
      CHECK(after.at("version").as_int64() == 2);  // the value went: the version moved on
      CHECK(get_ok(client, a.access, "/api/v1/customers/" + id_of(without)).at("version").as_int64() == 1);
      CHECK(str(get_ok(client, b.access, "/api/v1/customers/" + id_of(other)).at("custom_fields").at("motif")) == "kawung");
      auto deleted = outbox_payloads(db, "custom_field.deleted");
      REQUIRE(deleted.size() == 1);
      CHECK(deleted[0].at("records_changed").as_int64() == 1);
      // And the key is no longer accepted.
      auto again = call(client, "PATCH", "/api/v1/customers/" + id_of(with), a.access,
                        js(bj::object{{"custom_fields", bj::object{{"motif", "parang"}}}}));
      CHECK(error_fields(again) == std::set<std::string>{"custom_fields.motif"});
    }
  }

  TEST_CASE("customer: custom fields belong to one tenant, everyone reads them and only admins and managers write") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-fperm-a", "owner@fperm-a.example");
      auto b = register_tenant(client, "cust-fperm-b", "owner@fperm-b.example");
      auto manager = add_member(client, db, a, "manager@fperm-a.example", "manager");
      auto sales = add_member(client, db, a, "sales@fperm-a.example", "sales");
      auto viewer = add_member(client, db, a, "viewer@fperm-a.example", "viewer");
      auto marketing = add_member(client, db, a, "marketing@fperm-a.example", "marketing");
      bj::object body{{"entity", "customer"}, {"key", "motif"}, {"label", "Motif"}, {"type", "text"}};
      for (const auto* who : {&sales, &viewer, &marketing}) {
        CHECK(call(client, "POST", "/api/v1/custom-fields", who->access, js(body)).status == 403);
      }
      auto field = define(client, manager, body);
      std::string path = "/api/v1/custom-fields/" + id_of(field);
      for (const auto* who : {&sales, &viewer, &marketing}) {
        CHECK(call(client, "GET", path, who->access).status == 200);
        CHECK(call(client, "PUT", path, who->access, js(bj::object{{"label", "x"}})).status == 403);
        CHECK(call(client, "DELETE", path, who->access).status == 403);
      }
      // Another tenant sees nothing of it, and its own customers stay free-form.
      CHECK(call(client, "GET", path, b.access).status == 404);
      CHECK(call(client, "PUT", path, b.access, js(bj::object{{"label", "x"}})).status == 404);
      CHECK(call(client, "DELETE", path, b.access).status == 404);
      CHECK(data_of(call(client, "GET", "/api/v1/custom-fields", b.access)).empty());
      auto free = create_customer(client, b.access, bj::object{{"name", "Free"}, {"custom_fields", bj::object{{"colour", "red"}}}});
      CHECK(str(free.at("custom_fields").at("colour")) == "red");
      auto strict = create_raw(client, a.access, bj::object{{"name", "Strict"}, {"custom_fields", bj::object{{"colour", "red"}}}});
      CHECK(error_fields(strict) == std::set<std::string>{"custom_fields.colour"});
      CHECK(call(client, "GET", "/api/v1/custom-fields", "").status == 401);
    }
  }

  TEST_CASE("customer: other modules check their records' custom fields through the facade") {
    for (const auto& backend : backends()) {
      CAPTURE(backend);
      TestDatabase db(backend);
      ServerProcess server(db);
      HttpClient client(server.port());
      auto a = register_tenant(client, "cust-ffacade", "owner@ffacade.example");
      auto check = [&](const bj::object& fields, bool required) {
        return call(client, "POST", "/api/v1/probe/customer-facade", a.access,
                    js(bj::object{{"op", "custom_fields"}, {"entity", "lead"}, {"custom_fields", fields},
                                  {"check_required", required}}));
      };
      // No lead fields yet: free-form.
      auto free = check(bj::object{{"source_channel", "bazaar"}}, true);
      REQUIRE_MESSAGE(free.status == 200, free.body);
      define(client, a, {{"entity", "lead"}, {"key", "budget"}, {"label", "Budget"}, {"type", "number"}, {"required", true}});
      define(client, a, {{"entity", "customer"}, {"key", "motif"}, {"label", "Motif"}, {"type", "text"}});
      auto typed = check(bj::object{{"budget", 1500}}, true);
      REQUIRE_MESSAGE(typed.status == 200, typed.body);
      CHECK(obj(typed).at("custom_fields").at("budget").as_int64() == 1500);
      auto wrong = check(bj::object{{"budget", "lots"}, {"motif", "parang"}}, true);
      CHECK(wrong.status == 422);
      CHECK(error_fields(wrong) == std::set<std::string>{"custom_fields.budget", "custom_fields.motif"});
      CHECK(error_fields(check(bj::object{}, true)) == std::set<std::string>{"custom_fields.budget"});
      CHECK(check(bj::object{}, false).status == 200);
    }
  }
}
