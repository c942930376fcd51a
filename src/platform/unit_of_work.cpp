#include "crm/platform/unit_of_work.hpp"

#include "crm/platform/event_bus.hpp"
#include "crm/platform/log.hpp"
#include "crm/platform/time.hpp"

#include <soci/soci.h>

#include <stdexcept>

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

namespace {

std::string savepoint_name(int depth) { return "crm_savepoint_" + std::to_string(depth); }

}  // namespace

UnitOfWork::SavepointMark UnitOfWork::begin_savepoint() {
  SavepointMark mark{savepoints_ + 1, published_, queued_, after_commit_.size()};
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

}  // namespace crm::platform
