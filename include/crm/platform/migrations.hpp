#pragma once
/// Numbered schema migrations per backend and owner (platform or a module), recorded with a
/// SHA-256 checksum; an applied file that changed is refused.

#include <stdexcept>
#include <string>
#include <vector>

namespace crm::platform {

class Database;

/// One migration file as compiled into the binary.
struct MigrationSource {
  std::string owner;    // "platform", "iam", ...
  std::string backend;  // "sqlite" | "postgres"
  std::string name;     // "0001_outbox" (the number orders them)
  std::string sql;
};

struct MigrationState {
  std::string owner;
  std::string name;
  std::string checksum;
  bool applied = false;
  std::string applied_at;  // RFC 3339, empty when pending
};

class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// SHA-256 of a migration's text, lower-case hex.
std::string migration_checksum(const std::string& sql);

class Migrator final {
 public:
  /// `sources` may hold both backends; only the database's own are used.
  Migrator(Database& db, std::vector<MigrationSource> sources);

  /// Applies every pending migration in order, each in its own transaction; returns how many.
  /// Throws MigrationError when an applied migration's checksum differs from its file.
  /// Applied migrations this binary does not know (another build's module) are left alone.
  int apply();
  /// The state of every known migration (throws like apply() on a changed file).
  std::vector<MigrationState> status();
  /// True when nothing is pending and nothing changed.
  bool current();

 private:
  Database& db_;
  std::vector<MigrationSource> sources_;
};

}  // namespace crm::platform
