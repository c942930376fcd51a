// Demo data (SPEC section 9): the customers of Kilang Desa Murni Batik, a batik maker of
// Kelantan, with contacts, notes and activities, owned by the demo users, and the segments
// marketing keeps of them. Everything goes through the same validation and writes as the API
// (codes, slugs, events, audit, timeline, search index), in one unit of work each, and only
// into a demo tenant that has none of them yet.
#include "customer_internal.hpp"

#include "crm/iam/iam_module.hpp"
#include "crm/platform/log.hpp"

#include <algorithm>
#include <array>
#include <random>

namespace crm::customer {

using namespace crm::platform;

namespace {

constexpr const char* kDemoTenantSlug = "kilang-desa-murni-batik";
constexpr int kCustomers = 200;
constexpr TimestampMs kDayMs = 86400LL * 1000;

struct Place {
  const char* city;
  const char* state;
  const char* postal_code;
  const char* country;
  const char* street;
};

const std::array<Place, 12> kPlaces = {{
    {"Kota Bharu", "Kelantan", "15000", "MY", "Jalan Sultan Ibrahim"},
    {"Kuala Terengganu", "Terengganu", "20000", "MY", "Jalan Kampung Cina"},
    {"Kuala Lumpur", "Wilayah Persekutuan", "50450", "MY", "Jalan Tuanku Abdul Rahman"},
    {"George Town", "Pulau Pinang", "10200", "MY", "Lebuh Chulia"},
    {"Johor Bahru", "Johor", "80000", "MY", "Jalan Wong Ah Fook"},
    {"Ipoh", "Perak", "30000", "MY", "Jalan Sultan Yussuf"},
    {"Melaka", "Melaka", "75000", "MY", "Jalan Hang Jebat"},
    {"Shah Alam", "Selangor", "40000", "MY", "Persiaran Perbandaran"},
    {"Kuching", "Sarawak", "93000", "MY", "Jalan India"},
    {"Kota Kinabalu", "Sabah", "88000", "MY", "Jalan Gaya"},
    {"Singapore", "Singapore", "238801", "SG", "Orchard Road"},
    {"Jakarta", "DKI Jakarta", "10110", "ID", "Jalan Medan Merdeka"},
}};

const std::array<const char*, 12> kBusinessWords = {"Seri Kenanga", "Cahaya Timur", "Mutiara", "Sutera Emas",
                                                    "Bunga Raya", "Anggerik", "Teratai", "Melati",
                                                    "Delima", "Nusantara", "Pelangi", "Warisan"};
const std::array<const char*, 9> kBusinessKinds = {"Butik", "Galeri", "Kedai", "Rumah Fesyen", "Pusat Kraf",
                                                   "Hotel", "Resort", "Syarikat", "Koperasi"};
const std::array<const char*, 5> kBusinessSuffixes = {"Sdn Bhd", "Enterprise", "Trading", "Sdn Bhd", ""};
const std::array<const char*, 8> kIndustries = {"retail", "hospitality", "fashion", "corporate_gifts",
                                                "museum", "events", "export", "interior_design"};
const std::array<const char*, 16> kGivenNames = {"Nur Aisyah", "Siti Hajar", "Muhammad Faiz", "Ahmad Danial",
                                                 "Tan Mei Ling", "Lim Wei Jie", "Priya", "Arjun",
                                                 "Farah Nabila", "Hafiz", "Zulaikha", "Chong Kah Wai",
                                                 "Kavitha", "Rajesh", "Aminah", "Ismail"};
const std::array<const char*, 8> kFamilyNames = {"Ahmad", "Abdullah", "Ismail", "Yusof",
                                                 "Hassan", "Ibrahim", "Rahman", "Osman"};
const std::array<const char*, 10> kTags = {"batik-lover", "wholesale", "retail", "export", "hotel",
                                           "boutique", "corporate-gift", "vip", "wedding", "museum"};
const std::array<const char*, 6> kJobTitles = {"Pengurus Pembelian", "Owner", "Purchasing Manager",
                                               "Pengarah Urusan", "Event Planner", "Store Manager"};
const std::array<const char*, 8> kNotes = {
    "Prefers hand-drawn (batik tulis) sarongs over block prints; ask before substituting.",
    "Orders table linen every Ramadan; send the new motifs in February.",
    "Pays by bank transfer within 14 days. Invoice in MYR.",
    "Interested in a custom songket-and-batik collection for a wedding in June.",
    "Visited the Kota Bharu workshop; loved the indigo scarves.",
    "Wants corporate gift boxes (scarf + card) for 120 staff before Hari Raya.",
    "Asked for natural dyes only; allergic reaction to synthetic dyes once.",
    "Sells our sarongs in their Singapore shop; quarterly restock.",
};
const std::array<const char*, 6> kSubjects = {"Follow-up on the new sarong catalogue", "Quotation for table linen",
                                              "Custom order fitting", "Restock call", "Workshop visit",
                                              "Payment reminder"};
const std::array<const char*, 4> kOutcomes = {"interested", "order_placed", "call_back_later", "no_answer"};

template <class T, std::size_t N>
const T& pick(std::mt19937& rng, const std::array<T, N>& items) {
  return items[std::uniform_int_distribution<std::size_t>(0, N - 1)(rng)];
}

int roll(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

std::string email_local(std::string name) {
  std::string out;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) out.push_back(static_cast<char>(std::tolower(u)));
    else if (!out.empty() && out.back() != '.') out.push_back('.');
  }
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// A Malaysian mobile number (01X-XXX XXXX), distinct per index.
std::string mobile(int index) {
  static const std::array<const char*, 6> kPrefixes = {"012", "013", "016", "017", "018", "019"};
  int n = 2000000 + index * 3917 % 7000000;
  std::string digits = std::to_string(n);
  return std::string(kPrefixes[static_cast<std::size_t>(index) % kPrefixes.size()]) + "-" + digits.substr(0, 3) +
         " " + digits.substr(3);
}

}  // namespace

void seed_demo_customers(CustomerContext& cc) {
  auto iam = cc.iam();
  auto tenant = iam->tenant_by_slug(kDemoTenantSlug);
  if (!tenant) return;
  {
    auto lease = cc.db.acquire();
    if (store::count_live_customers(*lease, tenant->id) > 0) return;
  }
  auto members = iam->active_members(tenant->id);
  auto with_role = [&](const char* role) -> const iam::UserInfo* {
    for (const auto& m : members)
      for (const auto& r : m.roles)
        if (r == role) return &m;
    return nullptr;
  };
  const iam::UserInfo* owner = with_role("owner");
  const iam::UserInfo* sales = with_role("sales");
  const iam::UserInfo* manager = with_role("manager");
  if (!owner || !sales || !manager) return;  // not the demo tenant as IAM seeds it

  auto defaults = cc.defaults(tenant->id);
  std::mt19937 rng(20261201);  // the same demo every time
  RequestContext ctx;
  ctx.request_id = new_uuid_v7();
  ctx.correlation_id = ctx.request_id;
  ctx.tenant_id = tenant->id;
  ctx.actor_id = owner->id;
  TimestampMs now = now_ms();
  int contacts = 0, notes = 0, activities = 0;

  // Two custom fields of the batik trade, with their own random sequence so the rest of the
  // demo stays the same.
  static const std::vector<std::string> kTechniques = {"canting", "cap", "printed", "mixed"};
  static const std::vector<std::string> kFabrics = {"cotton", "silk", "rayon", "voile"};
  std::mt19937 custom_rng(20261202);
  cc.uow.run(ctx, [&](UnitOfWork& uow) {
    FieldDefinition technique;
    technique.entity = "customer";
    technique.key = "batik_technique";
    technique.label = "Batik technique";
    technique.type = "select";
    technique.options = kTechniques;
    technique.description = "How the customer's usual orders are made: hand-drawn (canting), block-stamped (cap)";
    technique = define_custom_field(uow, cc, technique);
    FieldDefinition fabrics;
    fabrics.entity = "customer";
    fabrics.key = "fabrics";
    fabrics.label = "Fabrics ordered";
    fabrics.type = "multi_select";
    fabrics.options = kFabrics;
    fabrics.position = 1;
    fabrics = define_custom_field(uow, cc, fabrics);
    // This transaction's customers are checked against the fields it just defined.
    defaults.custom_fields = std::make_shared<const FieldDefinitions>(FieldDefinitions{technique, fabrics});
    for (int i = 0; i < kCustomers; ++i) {
      bool business = i % 5 < 3;
      const Place& place = kPlaces[static_cast<std::size_t>(i % 10 == 9 ? 10 + (i / 10) % 2 : i % 10)];
      std::string name;
      if (business) {
        name = std::string(pick(rng, kBusinessKinds)) + " " + pick(rng, kBusinessWords);
        if (std::string suffix = pick(rng, kBusinessSuffixes); !suffix.empty()) name += " " + suffix;
      } else {
        std::string given = pick(rng, kGivenNames);
        bool malay = given.find(' ') == std::string::npos || given.rfind("Nur", 0) == 0 || given.rfind("Siti", 0) == 0 ||
                     given.rfind("Muhammad", 0) == 0 || given.rfind("Ahmad", 0) == 0 || given.rfind("Farah", 0) == 0;
        bool woman = given.rfind("Nur", 0) == 0 || given.rfind("Siti", 0) == 0 || given == "Zulaikha" ||
                     given == "Aminah" || given.rfind("Farah", 0) == 0;
        name = malay && given != "Priya" && given != "Arjun" && given != "Kavitha" && given != "Rajesh"
                   ? given + (woman ? " binti " : " bin ") + pick(rng, kFamilyNames)
                   : given;
      }
      std::string domain = "example.my";
      if (business) {
        std::string label = email_local(name).substr(0, 30);
        std::replace(label.begin(), label.end(), '.', '-');
        while (!label.empty() && label.back() == '-') label.pop_back();
        domain = label + ".com.my";
      }
      std::string email = business ? "sales." + std::to_string(i + 1) + "@" + domain
                                   : email_local(name) + "." + std::to_string(i + 1) + "@" + domain;
      static const std::array<const char*, 6> kStatuses = {"active", "active", "active", "prospect", "lead", "inactive"};
      static const std::array<const char*, 5> kTiers = {"bronze", "bronze", "silver", "gold", "platinum"};
      bj::array tags;
      for (int t = roll(rng, 1, 3); t > 0; --t) {
        std::string tag = pick(rng, kTags);
        if (std::find(tags.begin(), tags.end(), bj::value(tag)) == tags.end()) tags.emplace_back(tag);
      }
      bj::object body{
          {"type", business ? "business" : "individual"},
          {"name", name},
          {"email", email},
          {"phone", place.country == std::string("MY") ? mobile(i) : std::string()},
          {"status", i % 37 == 0 ? "churned" : pick(rng, kStatuses)},
          {"tier", pick(rng, kTiers)},
          {"industry", business ? pick(rng, kIndustries) : "retail"},
          {"tags", tags},
          {"addresses", bj::array{bj::object{{"type", "billing"},
                                             {"line1", std::to_string(roll(rng, 1, 250)) + ", " + place.street},
                                             {"city", place.city},
                                             {"state", place.state},
                                             {"postal_code", place.postal_code},
                                             {"country", place.country}}}},
          {"preferences", bj::object{{"language", i % 3 == 0 ? "ms" : "en"},
                                     {"preferred_channel", i % 4 == 0 ? "whatsapp" : "email"},
                                     {"marketing_opt_in", i % 3 != 2}}},
      };
      if (body.at("phone").as_string().empty()) body.erase("phone");
      bj::array ordered;
      for (const auto& f : kFabrics) {
        if (custom_rng() % 2 == 0) ordered.emplace_back(f);
      }
      body["custom_fields"] = bj::object{{"batik_technique", kTechniques[custom_rng() % kTechniques.size()]},
                                         {"fabrics", std::move(ordered)}};
      if (business) body["legal_name"] = name;
      if (i % 4 == 0) {
        body["credit_limit"] =
            bj::object{{"amount", std::to_string(roll(rng, 1, 20) * 1000) + ".00"}, {"currency", "MYR"}};
      }
      CustomerRow row;
      apply_customer_body(body, Mode::create, defaults, row);
      // Half the book is the sales rep's, a quarter the manager's, the rest the owner's.
      row.owner_id = i % 2 == 0 ? sales->id : (i % 4 == 1 ? manager->id : owner->id);
      auto customer = cc.create(uow, std::move(row), defaults, false);

      if (business) {
        for (int k = roll(rng, 1, 2); k > 0; --k) {
          std::string given = pick(rng, kGivenNames);
          bj::object contact{{"first_name", given},
                             {"last_name", pick(rng, kFamilyNames)},
                             {"email", email_local(given) + "." + std::to_string(contacts + 1) + "@" + domain},
                             {"job_title", pick(rng, kJobTitles)},
                             {"phones", bj::array{bj::object{{"type", "mobile"}, {"number", mobile(1000 + contacts)}}}},
                             {"roles", bj::array{k == 1 ? "decision_maker" : "billing"}}};
          ContactRow c;
          auto primary = read_contact_body(contact, defaults, c);
          add_contact(uow, cc, customer, std::move(c), primary);
          ++contacts;
        }
      }
      for (int k = roll(rng, 0, 2); k > 0; --k) {
        add_note(uow, customer, pick(rng, kNotes));
        ++notes;
      }
      for (int k = roll(rng, 1, 2); k > 0; --k) {
        static const std::array<const char*, 3> kTypes = {"call", "email", "meeting"};
        std::string type = pick(rng, kTypes);
        bj::object activity{{"type", type},
                            {"subject", pick(rng, kSubjects)},
                            {"body", "Spoke about " + std::string(pick(rng, kTags)) + " orders for next season."},
                            {"occurred_at", format_rfc3339(now - roll(rng, 1, 90) * kDayMs - roll(rng, 0, 36000) * 1000LL)},
                            {"duration_minutes", type == "email" ? 5 : roll(rng, 10, 60)},
                            {"outcome", pick(rng, kOutcomes)}};
        if (i % 23 == 0) activity.erase("outcome");  // left for review: the review queue has work
        ActivityRow a;
        read_activity_body(activity, a);
        log_activity(uow, customer, std::move(a));
        ++activities;
      }
    }
  });
  log_info("demo customers seeded", {{"tenant", kDemoTenantSlug},
                                     {"customers", kCustomers},
                                     {"contacts", contacts},
                                     {"notes", notes},
                                     {"activities", activities}});
}

void seed_demo_segments(CustomerContext& cc) {
  auto iam = cc.iam();
  auto tenant = iam->tenant_by_slug(kDemoTenantSlug);
  if (!tenant) return;
  const iam::UserInfo* marketing = nullptr;
  auto members = iam->active_members(tenant->id);
  for (const auto& m : members) {
    if (std::find(m.roles.begin(), m.roles.end(), "marketing") != m.roles.end()) marketing = &m;
  }
  if (!marketing) return;  // not the demo tenant as IAM seeds it
  auto options = filter_options(cc, tenant->id);
  SegmentQuery any;
  any.limit = 1;
  {
    auto lease = cc.db.acquire();
    if (store::count_live_customers(*lease, tenant->id) == 0 || store::count_segments(*lease, tenant->id, any) > 0) {
      return;
    }
  }
  RequestContext ctx;
  ctx.request_id = new_uuid_v7();
  ctx.correlation_id = ctx.request_id;
  ctx.tenant_id = tenant->id;
  ctx.actor_id = marketing->id;
  auto leaf = [](const char* field, const char* op, bj::value value) {
    return bj::object{{"field", field}, {"op", op}, {"value", std::move(value)}};
  };
  int seeded = 0;
  cc.uow.run(ctx, [&](UnitOfWork& uow) {
    // The static list: the active wholesale accounts as they are today, picked by hand.
    CustomerQuery wholesale;
    wholesale.filter.tag = "wholesale";
    wholesale.filter.statuses = {"active"};
    wholesale.sort = {SortKey{"name", false}};
    wholesale.limit = 200;
    bj::array ids;
    for (const auto& c : store::list_customers(uow.sql(), tenant->id, wholesale)) ids.emplace_back(c.id);
    const bj::object segments[] = {
        {{"name", "Wholesale partners"},
         {"description", "Active wholesale accounts that get the trade price list and early access to new motifs."},
         {"type", "static"},
         {"customer_ids", ids}},
        {{"name", "Gold and platinum in Malaysia"},
         {"description", "Top-tier customers with a Malaysian address: invitations to the Kota Bharu showroom."},
         {"type", "dynamic"},
         {"filter", bj::object{{"and", bj::array{leaf("tier", "in", bj::array{"gold", "platinum"}),
                                                 leaf("country", "eq", "MY")}}}}},
        {{"name", "Customers abroad"},
         {"description", "No Malaysian address: export pricing and shipping in SGD or IDR."},
         {"type", "dynamic"},
         {"filter", leaf("country", "nin", bj::array{"MY"})}},
        {{"name", "Leads and prospects"},
         {"description", "Not buying yet: the new-season catalogue campaign."},
         {"type", "dynamic"},
         {"filter", leaf("status", "in", bj::array{"lead", "prospect"})}},
    };
    for (const auto& body : segments) {
      create_segment(uow, body, options);
      ++seeded;
    }
  });
  log_info("demo segments seeded", {{"tenant", kDemoTenantSlug}, {"segments", seeded}});
}

}  // namespace crm::customer
