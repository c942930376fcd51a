// SQL of custom field definitions: always scoped by tenant.
#include "customer_internal.hpp"

#include <soci/soci.h>

namespace crm::customer::store {

namespace {

namespace json = platform::json;

constexpr const char* kColumns =
    "tenant_id, id, entity, key, label, type, options, required, description, position, version, created_at,"
    " updated_at";

struct DefinitionFetch {
  FieldDefinition row;
  std::string options, description;
  soci::indicator description_ind = soci::i_null;
  int required = 0;
  long long created = 0, updated = 0;

  void bind(soci::statement& st) {
    st.exchange(soci::into(row.tenant_id));
    st.exchange(soci::into(row.id));
    st.exchange(soci::into(row.entity));
    st.exchange(soci::into(row.key));
    st.exchange(soci::into(row.label));
    st.exchange(soci::into(row.type));
    st.exchange(soci::into(options));
    st.exchange(soci::into(required));
    st.exchange(soci::into(description, description_ind));
    st.exchange(soci::into(row.position));
    st.exchange(soci::into(row.version));
    st.exchange(soci::into(created));
    st.exchange(soci::into(updated));
  }
  FieldDefinition take() const {
    FieldDefinition d = row;
    d.options.clear();
    if (auto v = json::parse_relaxed(options); v.is_array()) {
      for (const auto& o : v.get_array()) {
        if (o.is_string()) d.options.emplace_back(o.get_string());
      }
    }
    d.required = required != 0;
    if (description_ind == soci::i_ok) d.description = description;
    d.created_at = created;
    d.updated_at = updated;
    return d;
  }
};

template <typename... Params>
std::vector<FieldDefinition> fetch(soci::session& sql, const std::string& where, const Params&... params) {
  DefinitionFetch f;
  soci::statement st(sql);
  (st.exchange(soci::use(params)), ...);
  f.bind(st);
  st.alloc();
  st.prepare(std::string("SELECT ") + kColumns + " FROM customer_field_definitions WHERE " + where);
  st.define_and_bind();
  st.execute();
  std::vector<FieldDefinition> out;
  while (st.fetch()) out.push_back(f.take());
  return out;
}

std::string options_text(const FieldDefinition& d) {
  bj::array a;
  for (const auto& o : d.options) a.emplace_back(o);
  return bj::serialize(a);
}

}  // namespace

std::vector<FieldDefinition> field_definitions(soci::session& sql, const std::string& tenant_id,
                                               const std::string& entity) {
  return fetch(sql, "tenant_id = :t AND entity = :e ORDER BY position, key", tenant_id, entity);
}

std::optional<FieldDefinition> field_definition(soci::session& sql, const std::string& tenant_id,
                                                const std::string& id) {
  auto rows = fetch(sql, "tenant_id = :t AND id = :i", tenant_id, id);
  if (rows.empty()) return std::nullopt;
  return rows.front();
}

void insert_field_definition(soci::session& sql, const FieldDefinition& d) {
  std::string options = options_text(d), description = d.description.value_or("");
  soci::indicator description_ind = d.description ? soci::i_ok : soci::i_null;
  int required = d.required ? 1 : 0;
  long long created = d.created_at, updated = d.updated_at;
  sql << "INSERT INTO customer_field_definitions (tenant_id, id, entity, key, label, type, options, required,"
         " description, position, version, created_at, updated_at)"
         " VALUES (:t, :i, :e, :k, :l, :ty, :o, :r, :d, :p, :v, :c, :u)",
      soci::use(d.tenant_id), soci::use(d.id), soci::use(d.entity), soci::use(d.key), soci::use(d.label),
      soci::use(d.type), soci::use(options), soci::use(required), soci::use(description, description_ind),
      soci::use(d.position), soci::use(d.version), soci::use(created), soci::use(updated);
}

bool update_field_definition(soci::session& sql, const FieldDefinition& d, int expected_version) {
  std::string options = options_text(d), description = d.description.value_or("");
  soci::indicator description_ind = d.description ? soci::i_ok : soci::i_null;
  int required = d.required ? 1 : 0;
  long long updated = d.updated_at;
  soci::statement st = (sql.prepare << "UPDATE customer_field_definitions SET label = :l, options = :o,"
                                       " required = :r, description = :d, position = :p, version = version + 1,"
                                       " updated_at = :u WHERE tenant_id = :t AND id = :i AND version = :v",
                        soci::use(d.label), soci::use(options), soci::use(required),
                        soci::use(description, description_ind), soci::use(d.position), soci::use(updated),
                        soci::use(d.tenant_id), soci::use(d.id), soci::use(expected_version));
  st.execute(true);
  return st.get_affected_rows() == 1;
}

void delete_field_definition(soci::session& sql, const std::string& tenant_id, const std::string& id) {
  sql << "DELETE FROM customer_field_definitions WHERE tenant_id = :t AND id = :i", soci::use(tenant_id),
      soci::use(id);
}

std::int64_t strip_custom_field(soci::session& sql, const std::string& tenant_id, const std::string& key) {
  long long now = platform::now_ms();
  std::string path = "$." + key;  // SQLite: keys are snake_case, a plain JSON path (bound below by reference)
  soci::statement st(sql);
  if (is_postgres(sql)) {
    st = (sql.prepare << "UPDATE customer_customers SET custom_fields ="
                         " CAST(CAST(custom_fields AS jsonb) - CAST(:k AS text) AS text),"
                         " version = version + 1, updated_at = :u"
                         " WHERE tenant_id = :t AND jsonb_exists(CAST(custom_fields AS jsonb), CAST(:k2 AS text))",
          soci::use(key), soci::use(now), soci::use(tenant_id), soci::use(key));
  } else {
    st = (sql.prepare << "UPDATE customer_customers SET custom_fields = json_remove(custom_fields, :p),"
                         " version = version + 1, updated_at = :u"
                         " WHERE tenant_id = :t AND json_type(custom_fields, :p2) IS NOT NULL",
          soci::use(path), soci::use(now), soci::use(tenant_id), soci::use(path));
  }
  st.execute(true);
  return static_cast<std::int64_t>(st.get_affected_rows());
}

}  // namespace crm::customer::store
