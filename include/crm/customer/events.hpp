#pragma once
/// The events the customer module publishes: the contract other modules may depend on.
/// Every payload carries `customer_id` (segment events: `segment_id`); updates carry
/// `changes` ({field: {old, new}}), which is also what the audit log records.

namespace crm::customer::events {

inline constexpr const char* kCustomerCreated = "customer.created";
inline constexpr const char* kCustomerUpdated = "customer.updated";
inline constexpr const char* kCustomerStatusChanged = "customer.status_changed";
inline constexpr const char* kCustomerOwnerChanged = "customer.owner_changed";
inline constexpr const char* kCustomerDeleted = "customer.deleted";
inline constexpr const char* kCustomerRestored = "customer.restored";
inline constexpr const char* kCustomerPurged = "customer.purged";
inline constexpr const char* kCustomerMerged = "customer.merged";
inline constexpr const char* kContactAdded = "contact.added";
inline constexpr const char* kContactUpdated = "contact.updated";
inline constexpr const char* kContactRemoved = "contact.removed";
inline constexpr const char* kNoteAdded = "note.added";
inline constexpr const char* kNoteUpdated = "note.updated";
inline constexpr const char* kNoteRemoved = "note.removed";
inline constexpr const char* kActivityLogged = "activity.logged";
inline constexpr const char* kActivityUpdated = "activity.updated";
inline constexpr const char* kTimelineEntryAdded = "timeline.entry_added";
/// Tenant-defined custom fields (payload `custom_field_id`, `entity`, `key`): the other
/// entities' modules drop a deleted field's values from their records.
inline constexpr const char* kCustomFieldCreated = "custom_field.created";
inline constexpr const char* kCustomFieldUpdated = "custom_field.updated";
inline constexpr const char* kCustomFieldDeleted = "custom_field.deleted";
/// Segments: payloads carry segment_id, name, type and changes; segment.updated of a static
/// segment's members also `members` {added: [customer ids], removed: [...]}, and
/// segment.refreshed the counts `added` and `removed`.
inline constexpr const char* kSegmentCreated = "segment.created";
inline constexpr const char* kSegmentUpdated = "segment.updated";
inline constexpr const char* kSegmentDeleted = "segment.deleted";
inline constexpr const char* kSegmentRefreshed = "segment.refreshed";
/// Import jobs (aggregate type "import"; payloads carry import_id): accepted, cancelled by a
/// user, and finished (status completed, failed or cancelled, with the job's counts).
inline constexpr const char* kImportCreated = "import.created";
inline constexpr const char* kImportCancelled = "import.cancelled";
inline constexpr const char* kImportCompleted = "import.completed";

/// Schema version of every customer event payload.
inline constexpr int kVersion = 1;

/// Every type above, for subscribers that want them all.
inline constexpr const char* kAll[] = {
    kCustomerCreated, kCustomerUpdated, kCustomerStatusChanged, kCustomerOwnerChanged, kCustomerDeleted,
    kCustomerRestored, kCustomerPurged, kCustomerMerged, kContactAdded, kContactUpdated, kContactRemoved, kNoteAdded,
    kNoteUpdated, kNoteRemoved, kActivityLogged, kActivityUpdated, kTimelineEntryAdded, kCustomFieldCreated,
    kCustomFieldUpdated, kCustomFieldDeleted, kSegmentCreated, kSegmentUpdated, kSegmentDeleted, kSegmentRefreshed, kImportCreated, kImportCancelled, kImportCompleted};

}  // namespace crm::customer::events
