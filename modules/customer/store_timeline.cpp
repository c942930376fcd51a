// SQL of the customer timeline.
#include "customer_internal.hpp"

#include <soci/soci.h>

namespace crm::customer::store {

void insert_timeline(soci::session& sql, const TimelineRow& t) {
  std::string data = platform::json::dump(t.data);
  platform::execute(sql,
                    "INSERT INTO customer_timeline (tenant_id, id, customer_id, kind, summary, data, actor_id, source_type,"
                    " source_id, occurred_at) VALUES (:t, :id, :c, :k, :s, :d, :a, :st, :si, :at)",
                    {t.tenant_id, t.id, t.customer_id, t.kind, t.summary, data, platform::text_or_null(t.actor_id),
                     platform::text_or_null(t.source_type), platform::text_or_null(t.source_id),
                     static_cast<long long>(t.occurred_at)});
}

std::vector<TimelineRow> timeline(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                                  int limit, const std::optional<bj::object>& after) {
  // Newest first; the cursor is the (occurred_at, id) of the last entry shown.
  long long after_at = INT64_MAX;
  std::string after_id = "~";
  if (after) {
    const auto* at = after->if_contains("at");
    const auto* id = after->if_contains("id");
    if (!at || !at->is_int64() || !id || !id->is_string()) {
      throw platform::Error::bad_parameter("cursor", "The cursor is not valid for this collection.");
    }
    after_at = at->get_int64();
    after_id = std::string(id->get_string());
  }
  TimelineRow row;
  std::string data, actor, stype, sid;
  soci::indicator actor_ind = soci::i_null, stype_ind = soci::i_null, sid_ind = soci::i_null;
  long long at = 0;
  long long lim = limit;
  soci::statement st =
      (sql.prepare << "SELECT tenant_id, id, customer_id, kind, summary, data, actor_id, source_type, source_id,"
                      " occurred_at FROM customer_timeline WHERE tenant_id = :t AND customer_id = :c"
                      " AND (occurred_at, id) < (:a, :i)"
                      " ORDER BY occurred_at DESC, id DESC LIMIT :l",
       soci::use(tenant_id), soci::use(customer_id), soci::use(after_at), soci::use(after_id),
       soci::use(lim), soci::into(row.tenant_id), soci::into(row.id), soci::into(row.customer_id),
       soci::into(row.kind), soci::into(row.summary), soci::into(data), soci::into(actor, actor_ind),
       soci::into(stype, stype_ind), soci::into(sid, sid_ind), soci::into(at));
  st.execute();
  std::vector<TimelineRow> out;
  while (st.fetch()) {
    TimelineRow t = row;
    auto v = platform::json::parse_relaxed(data);
    if (v.is_object()) t.data = v.get_object();
    t.actor_id = actor_ind == soci::i_ok ? actor : "";
    t.source_type = stype_ind == soci::i_ok ? stype : "";
    t.source_id = sid_ind == soci::i_ok ? sid : "";
    t.occurred_at = at;
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace crm::customer::store
