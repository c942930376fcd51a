#include "crm/platform/migrations.hpp"

#include "crm/platform/db.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/time.hpp"

#include <openssl/evp.h>
#include <soci/soci.h>

#include <algorithm>
#include <map>

namespace crm::platform {

namespace {

constexpr long long kMigrationLockKey = 0x6372'6d5f'6d69'67;  // "crm_mig"

const char* kBootstrap =
    "CREATE TABLE IF NOT EXISTS platform_schema_migrations ("
    " owner TEXT NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL,"
    " PRIMARY KEY (owner, name))";

struct Applied {
  std::string checksum;
  long long applied_at;
};

std::map<std::pair<std::string, std::string>, Applied> read_applied(soci::session& sql) {
  std::map<std::pair<std::string, std::string>, Applied> out;
  soci::rowset<soci::row> rows = (sql.prepare << "SELECT owner, name, checksum, applied_at FROM platform_schema_migrations");
  for (const auto& r : rows) {
    out[{r.get<std::string>(0), r.get<std::string>(1)}] = Applied{r.get<std::string>(2), r.get<long long>(3)};
  }
  return out;
}

}  // namespace

std::string migration_checksum(const std::string& sql) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(sql.data(), sql.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

Migrator::Migrator(Database& db, std::vector<MigrationSource> sources) : db_(db) {
  const char* backend = db.backend() == Backend::sqlite ? "sqlite" : "postgres";
  std::vector<std::string> owners;
  for (auto& s : sources) {
    if (s.backend != backend) continue;
    if (std::find(owners.begin(), owners.end(), s.owner) == owners.end()) owners.push_back(s.owner);
    sources_.push_back(std::move(s));
  }
  // Owners in the order given (platform first, then modules), files by number within an owner.
  std::stable_sort(sources_.begin(), sources_.end(), [&](const MigrationSource& a, const MigrationSource& b) {
    auto ia = std::find(owners.begin(), owners.end(), a.owner) - owners.begin();
    auto ib = std::find(owners.begin(), owners.end(), b.owner) - owners.begin();
    if (ia != ib) return ia < ib;
    return a.name < b.name;
  });
}

std::vector<MigrationState> Migrator::status() {
  auto lease = db_.acquire();
  soci::session& sql = *lease;
  sql << kBootstrap;
  auto applied = read_applied(sql);
  std::vector<MigrationState> out;
  for (const auto& s : sources_) {
    MigrationState st{s.owner, s.name, migration_checksum(s.sql)};
    auto it = applied.find({s.owner, s.name});
    if (it != applied.end()) {
      if (it->second.checksum != st.checksum) {
        throw MigrationError("migration " + s.owner + "/" + s.name +
                             " was changed after it was applied (checksum mismatch); add a new migration instead");
      }
      st.applied = true;
      st.applied_at = format_rfc3339(it->second.applied_at);
    }
    out.push_back(std::move(st));
  }
  return out;
}

bool Migrator::current() {
  for (const auto& s : status())
    if (!s.applied) return false;
  return true;
}

int Migrator::apply() {
  auto lease = db_.acquire();
  soci::session& sql = *lease;
  bool pg = db_.backend() == Backend::postgres;
  if (pg) sql << "SELECT pg_advisory_lock(" << kMigrationLockKey << ")";
  int count = 0;
  try {
    sql << kBootstrap;
    for (const auto& s : sources_) {
      std::string checksum = migration_checksum(s.sql);
      Database::execute_script(sql, db_.backend(), pg ? "BEGIN" : "BEGIN IMMEDIATE");
      try {
        std::string existing;
        soci::indicator ind = soci::i_null;
        sql << "SELECT checksum FROM platform_schema_migrations WHERE owner = :o AND name = :n",
            soci::use(s.owner), soci::use(s.name), soci::into(existing, ind);
        if (sql.got_data() && ind == soci::i_ok) {
          Database::execute_script(sql, db_.backend(), "ROLLBACK");
          if (existing != checksum) {
            throw MigrationError("migration " + s.owner + "/" + s.name +
                                 " was changed after it was applied (checksum mismatch); add a new migration instead");
          }
          continue;
        }
        Database::execute_script(sql, db_.backend(), s.sql);
        long long at = now_ms();
        sql << "INSERT INTO platform_schema_migrations (owner, name, checksum, applied_at) VALUES (:o, :n, :c, :a)",
            soci::use(s.owner), soci::use(s.name), soci::use(checksum), soci::use(at);
        Database::execute_script(sql, db_.backend(), "COMMIT");
        ++count;
        log_info("migration applied", {{"owner", s.owner}, {"name", s.name}});
      } catch (const MigrationError&) {
        throw;
      } catch (const std::exception& e) {
        try {
          Database::execute_script(sql, db_.backend(), "ROLLBACK");
        } catch (...) {
        }
        throw MigrationError("migration " + s.owner + "/" + s.name + " failed: " + e.what());
      }
    }
  } catch (...) {
    if (pg) {
      try {
        sql << "SELECT pg_advisory_unlock(" << kMigrationLockKey << ")";
      } catch (...) {
        lease.discard();
      }
    }
    throw;
  }
  if (pg) sql << "SELECT pg_advisory_unlock(" << kMigrationLockKey << ")";
  return count;
}

}  // namespace crm::platform
