#include "crm/platform/unit_of_work.hpp"

#include "crm/platform/event_bus.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/time.hpp"

#include <soci/soci.h>

#include <condition_variable>
#include <ctime>
#include <deque>
#include <optional>
#include <stdexcept>
#include <vector>

namespace crm::platform {

UnitOfWork::UnitOfWork(Database& db, EventBus& bus, const RequestContext& context)
    : write_lock_(db.write_lock()), lease_(db.acquire()), backend_(db.backend()), bus_(bus), context_(context) {
  try {
    // SQLite: take the write lock up front so two writers never deadlock on lock upgrade.
    *lease_ << (db.backend() == Backend::sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
    open_ = true;
    if (db.backend() == Backend::postgres && !context_.tenant_id.empty()) {
      // Row-level security reads the tenant of the transaction; SET LOCAL semantics keep it
      // inside this transaction (safe behind PgBouncer in transaction pooling mode).
      *lease_ << "SELECT set_config('app.tenant_id', :t, true)", soci::use(context_.tenant_id);
    }
  } catch (...) {
    if (open_) rollback();
    lease_.discard();
    throw;
  }
}

UnitOfWork::~UnitOfWork() {
  if (open_) rollback();
}

soci::session& UnitOfWork::sql() { return *lease_; }

Backend UnitOfWork::backend() const noexcept { return backend_; }

EventEnvelope UnitOfWork::make_event(std::string type, int version, std::string aggregate_type,
                                     std::string aggregate_id, boost::json::object payload) const {
  EventEnvelope e;
  e.id = new_uuid_v7();
  e.type = std::move(type);
  e.version = version;
  e.tenant_id = context_.tenant_id;
  e.aggregate_type = std::move(aggregate_type);
  e.aggregate_id = std::move(aggregate_id);
  e.occurred_at = now_ms();
  e.actor_id = context_.actor_id;
  e.correlation_id = context_.correlation_id.empty() ? context_.request_id : context_.correlation_id;
  e.causation_id = context_.causation_id;
  e.trace_id = context_.trace_id;
  e.payload = std::move(payload);
  return e;
}

void UnitOfWork::publish(EventEnvelope event) {
  queued_ += bus_.publish(*this, event);
  ++published_;
}

void UnitOfWork::after_commit(std::function<void()> fn) { after_commit_.push_back(std::move(fn)); }

bool UnitOfWork::before_commit(std::string key, std::function<void()> fn, int phase) {
  if (phase < 0 || phase > 1) throw std::invalid_argument("before_commit: the phase is 0 or 1");
  key = std::to_string(phase) + ":" + key;
  if (!before_commit_keys_.insert(key).second) return false;
  before_commit_.push_back({std::move(key), std::move(fn), phase});
  return true;
}

namespace {

std::string savepoint_name(int depth) { return "crm_savepoint_" + std::to_string(depth); }

}  // namespace

UnitOfWork::SavepointMark UnitOfWork::begin_savepoint() {
  SavepointMark mark{savepoints_ + 1, published_, queued_, after_commit_.size(), before_commit_.size()};
  *lease_ << "SAVEPOINT " + savepoint_name(mark.depth);
  savepoints_ = mark.depth;
  return mark;
}

void UnitOfWork::release_savepoint(const SavepointMark& mark) {
  *lease_ << "RELEASE SAVEPOINT " + savepoint_name(mark.depth);
  savepoints_ = mark.depth - 1;
}

void UnitOfWork::rollback_to_savepoint(const SavepointMark& mark) {
  // Nested savepoints above this one went with it.
  savepoints_ = mark.depth - 1;
  published_ = mark.published;
  queued_ = mark.queued;
  after_commit_.resize(mark.after_commit);
  while (before_commit_.size() > mark.before_commit) {
    before_commit_keys_.erase(before_commit_.back().key);
    before_commit_.pop_back();
  }
  try {
    // PostgreSQL needs this after a failed statement before the transaction accepts more.
    *lease_ << "ROLLBACK TO SAVEPOINT " + savepoint_name(mark.depth);
    *lease_ << "RELEASE SAVEPOINT " + savepoint_name(mark.depth);
  } catch (...) {
    // The transaction is in an unknown state: nothing of it may be committed.
    rollback();
    throw;
  }
}

void UnitOfWork::commit() {
  // After a lost savepoint the transaction is gone: a COMMIT must not look like success.
  if (!open_) throw std::logic_error("commit of a unit of work that was rolled back");
  // What runs before the commit may ask for more (by index: the vector may grow meanwhile).
  for (int phase = 0; phase <= 1; ++phase) {
    for (std::size_t i = 0; i < before_commit_.size(); ++i) {
      if (before_commit_[i].phase != phase || !before_commit_[i].fn) continue;
      auto fn = std::move(before_commit_[i].fn);
      before_commit_[i].fn = nullptr;
      fn();
    }
  }
  before_commit_.clear();
  before_commit_keys_.clear();
  *lease_ << "COMMIT";
  open_ = false;
  if (write_lock_.owns_lock()) write_lock_.unlock();  // the next writer may begin
  // Only deliveries need the dispatcher; events without asynchronous subscribers don't.
  if (queued_ > 0) bus_.notify_committed();
  for (auto& fn : after_commit_) {
    try {
      fn();
    } catch (const std::exception& e) {
      log_error("after-commit action failed", {{"error", e.what()}});
    }
  }
}

void UnitOfWork::rollback() noexcept {
  open_ = false;
  try {
    *lease_ << "ROLLBACK";
  } catch (...) {
    lease_.discard();
  }
  if (write_lock_.owns_lock()) write_lock_.unlock();
}

// --- group commit ---

namespace {

// A group stops growing here, so that a caller queued behind a large group does not wait
// for an unbounded number of others.
constexpr std::size_t kMaxGroup = 64;

// Set while this thread runs a group: a unit of work started from inside another would wait
// for a group that only this thread could lead.
thread_local bool t_running_group = false;

struct RunningGroup {
  RunningGroup() { t_running_group = true; }
  ~RunningGroup() { t_running_group = false; }
  RunningGroup(const RunningGroup&) = delete;
  RunningGroup& operator=(const RunningGroup&) = delete;
};

std::uint64_t nanoseconds(clockid_t clock) { return static_cast<std::uint64_t>(clock_ns(clock)); }

/// Adds the wall and CPU time from its construction to its destruction to two counters.
class HoldTimer {
 public:
  HoldTimer(std::atomic<std::uint64_t>& wall, std::atomic<std::uint64_t>& cpu)
      : wall_(wall), cpu_(cpu), wall0_(nanoseconds(CLOCK_MONOTONIC)), cpu0_(nanoseconds(CLOCK_THREAD_CPUTIME_ID)) {}
  ~HoldTimer() {
    wall_.fetch_add(nanoseconds(CLOCK_MONOTONIC) - wall0_, std::memory_order_relaxed);
    cpu_.fetch_add(nanoseconds(CLOCK_THREAD_CPUTIME_ID) - cpu0_, std::memory_order_relaxed);
  }
  HoldTimer(const HoldTimer&) = delete;
  HoldTimer& operator=(const HoldTimer&) = delete;

 private:
  std::atomic<std::uint64_t>& wall_;
  std::atomic<std::uint64_t>& cpu_;
  std::uint64_t wall0_, cpu0_;
};

}  // namespace

struct UnitOfWorkFactory::Group {
  struct Job {
    const RequestContext* context = nullptr;
    LogContext log;
    const std::function<void(UnitOfWork&)>* fn = nullptr;
    std::exception_ptr error;
    bool done = false;
  };
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::deque<Job*> queue;
  bool leading = false;
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> units{0};
  std::atomic<std::uint64_t> wall_ns{0};
  std::atomic<std::uint64_t> cpu_ns{0};
};

UnitOfWorkFactory::UnitOfWorkFactory(Database& db, EventBus& bus)
    : db_(db), bus_(bus), group_(std::make_unique<Group>()) {}

UnitOfWorkFactory::~UnitOfWorkFactory() = default;

UnitOfWorkFactory::GroupStats UnitOfWorkFactory::group_stats() const noexcept {
  return {group_->transactions.load(std::memory_order_relaxed), group_->units.load(std::memory_order_relaxed),
          static_cast<double>(group_->wall_ns.load(std::memory_order_relaxed)) / 1e9,
          static_cast<double>(group_->cpu_ns.load(std::memory_order_relaxed)) / 1e9};
}

int UnitOfWorkFactory::queued() const {
  std::lock_guard lock(group_->mutex);
  return static_cast<int>(group_->queue.size());
}

void UnitOfWorkFactory::check_not_nested() {
  if (t_running_group) throw std::logic_error("a unit of work was started inside another one");
}

void UnitOfWorkFactory::run_in_group(const RequestContext& context, const std::function<void(UnitOfWork&)>& fn) {
  check_not_nested();
  Group& g = *group_;
  Group::Job job;
  job.context = &context;
  job.log = current_log_context();
  job.fn = &fn;
  std::unique_lock lock(g.mutex);
  g.queue.push_back(&job);
  db_.count_queued_writers(1);
  while (!job.done) {
    if (g.leading) {
      g.changed.wait(lock);
      continue;
    }
    // Nobody leads: this caller runs the next group (which holds its own job unless the
    // queue is longer than a group; then it leads again or hands over).
    g.leading = true;
    lock.unlock();
    {
      RunningGroup running;
      lead_group();
    }
    lock.lock();
    g.leading = false;
    g.changed.notify_all();
  }
  lock.unlock();
  if (job.error) std::rethrow_exception(job.error);
}

void UnitOfWorkFactory::lead_group() {
  Group& g = *group_;
  std::vector<Group::Job*> jobs;
  auto take = [&] {
    std::lock_guard lock(g.mutex);
    while (!g.queue.empty() && jobs.size() < kMaxGroup) {
      jobs.push_back(g.queue.front());
      g.queue.pop_front();
    }
    db_.count_queued_writers(-static_cast<int>(jobs.size()));
  };
  auto finish = [&](std::size_t from, const std::exception_ptr& error) {
    std::lock_guard lock(g.mutex);
    for (std::size_t i = from; i < jobs.size(); ++i) {
      if (error && !jobs[i]->error) jobs[i]->error = error;
      jobs[i]->done = true;
    }
  };

  std::optional<UnitOfWork> uow;
  try {
    // The write lock first, then the queue: everyone who queued while the lock was held
    // joins this transaction.
    uow.emplace(db_, bus_, RequestContext{});
  } catch (...) {
    take();
    finish(0, std::current_exception());
    return;
  }
  HoldTimer hold(g.wall_ns, g.cpu_ns);
  take();
  g.transactions.fetch_add(1, std::memory_order_relaxed);
  g.units.fetch_add(jobs.size(), std::memory_order_relaxed);

  if (jobs.size() == 1) {
    // Alone: no savepoint needed; a failure rolls the transaction back.
    Group::Job& job = *jobs.front();
    uow->context_ = *job.context;
    ScopedLogContext scoped(job.log);
    std::exception_ptr error;
    try {
      (*job.fn)(*uow);
      uow->commit();
    } catch (...) {
      error = std::current_exception();
    }
    uow.reset();
    finish(0, error);
    return;
  }

  std::size_t ran = 0;
  for (; ran < jobs.size(); ++ran) {
    Group::Job& job = *jobs[ran];
    uow->context_ = *job.context;
    ScopedLogContext scoped(job.log);
    try {
      uow->savepoint([&] { (*job.fn)(*uow); });
    } catch (...) {
      job.error = std::current_exception();
      if (!uow->open_) break;  // the savepoint could not be undone: the transaction is gone
    }
  }
  if (ran < jobs.size()) {
    // The transaction was lost at jobs[ran]: what ran before it is undone, so those fail with
    // that error; the ones not yet run go back to the front of the queue for the next group.
    std::exception_ptr lost = jobs[ran]->error;
    {
      std::lock_guard lock(g.mutex);
      for (std::size_t i = jobs.size(); i-- > ran + 1;) g.queue.push_front(jobs[i]);
      db_.count_queued_writers(static_cast<int>(jobs.size() - ran - 1));
    }
    jobs.resize(ran + 1);
    uow.reset();
    finish(0, lost);
    return;
  }
  std::exception_ptr commit_error;
  try {
    uow->context_ = RequestContext{};
    uow->commit();
  } catch (...) {
    commit_error = std::current_exception();
  }
  uow.reset();
  finish(0, commit_error);
}

}  // namespace crm::platform
