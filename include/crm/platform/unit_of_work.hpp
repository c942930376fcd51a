#pragma once
/// A unit of work: one database transaction in which a module writes its rows and publishes
/// its events (synchronous handlers run inside it, the outbox row is written inside it).

#include "crm/platform/db.hpp"
#include "crm/platform/event.hpp"
#include "crm/platform/request_context.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace crm::platform {

class EventBus;

class UnitOfWork final {
 public:
  UnitOfWork(Database& db, EventBus& bus, const RequestContext& context);
  ~UnitOfWork();  // rolls back when not committed
  UnitOfWork(const UnitOfWork&) = delete;
  UnitOfWork& operator=(const UnitOfWork&) = delete;

  soci::session& sql();
  Backend backend() const noexcept;
  const RequestContext& context() const noexcept { return context_; }

  /// An envelope with id, time, tenant, actor, correlation, causation and trace filled in.
  EventEnvelope make_event(std::string type, int version, std::string aggregate_type,
                           std::string aggregate_id, boost::json::object payload) const;
  /// Runs the synchronous handlers now (their failure fails this unit of work) and writes the
  /// event to the outbox in this transaction.
  void publish(EventEnvelope event);
  /// Called once after a successful commit.
  void after_commit(std::function<void()> fn);
  /// Runs `fn` just before the commit, outside every savepoint, once per `key` however often
  /// it is asked for: for data derived from the final state of the transaction, such as a
  /// search document, which then is written once instead of after every change (and, on
  /// SQLite, without FTS5 flushing its pending index at each savepoint). A savepoint that is
  /// rolled back takes the requests it made with it. When `fn` throws, nothing commits.
  /// Every request of phase 0 runs before any of phase 1 (the only phases), each phase in the
  /// order asked; `key` is unique within its phase. False when the key was already asked for.
  bool before_commit(std::string key, std::function<void()> fn, int phase = 0);

  /// Runs `fn` in a SAVEPOINT of this transaction. When it throws, only its own work is
  /// undone (its rows, its events with their outbox rows and whatever synchronous handlers
  /// wrote, such as audit entries, and its after-commit actions) and the exception goes on;
  /// the unit of work stays usable. When the savepoint itself cannot be rolled back, that
  /// failure propagates instead and the whole unit of work must be abandoned.
  template <class F>
  auto savepoint(F&& fn) -> std::invoke_result_t<F&>;

  void commit();
  void rollback() noexcept;
  bool published_events() const noexcept { return published_ > 0; }

 private:
  struct SavepointMark {
    int depth = 0;
    int published = 0;
    int queued = 0;
    std::size_t after_commit = 0;
    std::size_t before_commit = 0;
  };
  friend class UnitOfWorkFactory;  // runs the units of work of a group in one transaction
  SavepointMark begin_savepoint();
  void release_savepoint(const SavepointMark& mark);
  void rollback_to_savepoint(const SavepointMark& mark);

  std::unique_lock<std::timed_mutex> write_lock_;  // held until commit or rollback (SQLite)
  Database::Lease lease_;
  Backend backend_;
  EventBus& bus_;
  RequestContext context_;
  bool open_ = false;
  int published_ = 0;
  int queued_ = 0;  // asynchronous deliveries written
  int savepoints_ = 0;
  std::vector<std::function<void()>> after_commit_;
  struct BeforeCommit {
    std::string key;  // phase and key
    std::function<void()> fn;
    int phase = 0;
  };
  std::vector<BeforeCommit> before_commit_;
  std::unordered_set<std::string> before_commit_keys_;
};

template <class F>
auto UnitOfWork::savepoint(F&& fn) -> std::invoke_result_t<F&> {
  SavepointMark mark = begin_savepoint();
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      fn();
      release_savepoint(mark);
    } else {
      auto result = fn();
      release_savepoint(mark);
      return result;
    }
  } catch (...) {
    rollback_to_savepoint(mark);
    throw;
  }
}

/// Runs functions in units of work: commit when they return, roll back when they throw.
///
/// SQLite commits in groups. A commit there costs a flush of the write-ahead log to disk, and
/// only one writer runs at a time, so every writer would otherwise wait for the flushes of all
/// the writers before it. Writers that arrive while a transaction runs queue; the next one to
/// lead takes the write lock, then runs everything queued by then in one transaction, each in
/// its own SAVEPOINT with its own request context, and commits once. Each caller's function
/// still fails alone: its savepoint is rolled back, its exception reaches only its caller,
/// and the others commit. Every caller returns after the COMMIT that made its work durable.
/// PostgreSQL commits concurrent transactions in parallel and groups their flushes itself.
class UnitOfWorkFactory final {
 public:
  UnitOfWorkFactory(Database& db, EventBus& bus);
  ~UnitOfWorkFactory();
  UnitOfWorkFactory(const UnitOfWorkFactory&) = delete;
  UnitOfWorkFactory& operator=(const UnitOfWorkFactory&) = delete;

  template <class F>
  auto run(const RequestContext& context, F&& fn) -> std::invoke_result_t<F, UnitOfWork&> {
    using Result = std::invoke_result_t<F, UnitOfWork&>;
    if (db_.backend() == Backend::sqlite) {
      if constexpr (std::is_void_v<Result>) {
        std::function<void(UnitOfWork&)> job = [&](UnitOfWork& uow) { fn(uow); };
        run_in_group(context, job);
        return;
      } else {
        std::optional<Result> result;
        std::function<void(UnitOfWork&)> job = [&](UnitOfWork& uow) { result.emplace(fn(uow)); };
        run_in_group(context, job);
        return std::move(*result);
      }
    }
    return run_alone(context, std::forward<F>(fn));
  }

  /// Runs `fn` in a transaction of its own, never in a group commit: for a long writer that
  /// ends its transaction early when Database::writers_waiting() is not zero (an import's
  /// batch). In a group, the writers that ran before it would wait for its commit unseen:
  /// they count as waiting only until their group takes them.
  template <class F>
  auto run_alone(const RequestContext& context, F&& fn) -> std::invoke_result_t<F, UnitOfWork&> {
    check_not_nested();
    UnitOfWork uow(db_, bus_, context);
    if constexpr (std::is_void_v<std::invoke_result_t<F, UnitOfWork&>>) {
      fn(uow);
      uow.commit();
    } else {
      auto result = fn(uow);
      uow.commit();
      return result;
    }
  }

  Database& database() noexcept { return db_; }

  struct GroupStats {
    std::uint64_t transactions = 0;  // group transactions begun
    std::uint64_t units = 0;         // units of work they ran
    // How long leaders ran them, from taking the write lock to handing back the results, by
    // the clock and in CPU time. Wall time per second near 1 means the writer is saturated;
    // wall minus CPU is waiting (for the disk, or for a core).
    double wall_seconds = 0;
    double cpu_seconds = 0;
  };
  GroupStats group_stats() const noexcept;
  /// Units of work waiting for a group to take them (SQLite).
  int queued() const;

 private:
  struct Group;
  /// Throws std::logic_error inside a group's unit of work (it would wait for itself).
  static void check_not_nested();
  void run_in_group(const RequestContext& context, const std::function<void(UnitOfWork&)>& fn);
  void lead_group();

  Database& db_;
  EventBus& bus_;
  std::unique_ptr<Group> group_;
};

}  // namespace crm::platform
