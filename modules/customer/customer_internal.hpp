#pragma once
// Private to the customer module: rows, the store (all SQL), request input rules and the
// services the routes share.

#include "crm/customer/customer_module.hpp"
#include "crm/customer/events.hpp"
#include "crm/iam/iam_module.hpp"
#include "crm/platform/db.hpp"
#include "crm/platform/error.hpp"
#include "crm/platform/http.hpp"
#include "crm/platform/json.hpp"
#include "crm/platform/module.hpp"
#include "crm/platform/pagination.hpp"
#include "crm/platform/time.hpp"
#include "crm/platform/unit_of_work.hpp"
#include "filter.hpp"

#include <boost/json.hpp>

#include <array>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace crm::customer {

namespace bj = boost::json;
using platform::TimestampMs;
using platform::UnitOfWork;

inline constexpr const char* kCodeSequence = "customer_code";
/// Phone region when the tenant has no country setting: the product's home market.
inline constexpr const char* kFallbackRegion = "MY";

struct Money {
  std::int64_t minor = 0;
  std::string currency;
  /// The amount as the API writes it: exactly the currency's decimals.
  std::string amount() const;
  bj::object to_json() const;
};

struct CustomerRow {
  std::string tenant_id, id, code, slug, type = "business", name;
  std::optional<std::string> legal_name, email, phone, website, industry, tier, external_id;
  bool email_disposable = false;
  std::string status = "lead", owner_id, created_by;
  bj::array tags, addresses, social_profiles;
  bj::object custom_fields, preferences;
  std::optional<Money> credit_limit, lifetime_value;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0;
  std::optional<TimestampMs> deleted_at;

  double search_rank = 0;  // only when listed by a search: lower is more relevant

  bj::object to_json() const&;
  /// The same, moving the JSON members (tags, addresses, ...) out of a row no longer needed.
  bj::object to_json() &&;
  CustomerSummary summary() const;
  /// The lower-cased email duplicates are found by ("" when none).
  std::string email_key() const;
  /// Distinct ISO countries of the addresses.
  std::vector<std::string> countries() const;
};

/// The JSON members of a customer as stored: JSON text this module wrote.
struct StoredCustomerJson {
  std::string_view tags, addresses, social_profiles, custom_fields, preferences;
};
/// The text of c.to_json(), with the JSON members spliced in from `stored` instead of taken
/// from `c`.
std::string customer_json_text(const CustomerRow& c, const StoredCustomerJson& stored);

/// A customer read to be shown: its scalar members (what cursors, ranks, ETags and permission
/// checks need), and `json`, the text of what to_json() gives, written straight from the
/// stored columns without parsing them or building objects. Its JSON members (tags,
/// addresses, social_profiles, custom_fields, preferences) are left empty.
struct CustomerDocument : CustomerRow {
  std::string json;
};

struct ContactRow {
  std::string tenant_id, id, customer_id, first_name;
  std::optional<std::string> last_name, email, job_title, department;
  bj::array phones, roles;
  bool is_primary = false;
  bj::object communication_preferences;
  std::optional<TimestampMs> last_contacted_at;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0;
  bj::object to_json() const;
};

struct NoteRow {
  std::string tenant_id, id, customer_id, body;
  bool pinned = false;
  std::optional<TimestampMs> pinned_at;
  std::string author_id;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0;
  bj::object to_json() const;
};

struct ActivityRow {
  std::string tenant_id, id, customer_id, type;
  std::optional<std::string> subject, body, outcome, contact_id;
  std::optional<TimestampMs> occurred_at;
  std::optional<int> duration_minutes;
  std::string status = "completed", created_by;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0;
  bj::object to_json() const;
};

struct TimelineRow {
  std::string tenant_id, id, customer_id, kind, summary;
  bj::object data;
  std::string actor_id, source_type, source_id;
  TimestampMs occurred_at = 0;
  bj::object to_json() const;
};

/// A tenant-defined custom field of an entity's custom_fields.
struct FieldDefinition {
  std::string tenant_id, id, entity, key, label, type;
  std::vector<std::string> options;  // select and multi_select only
  bool required = false;
  std::optional<std::string> description;
  int position = 0;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0;
  bj::object to_json() const;
};
using FieldDefinitions = std::vector<FieldDefinition>;

/// Reads a custom_fields value. With no definitions the fields are free-form (snake_case keys;
/// strings, numbers, booleans or null). With definitions only defined keys are taken, each
/// value checked and normalized for its type (null unsets); `check_required` also wants
/// every required field. Problems are named `<prefix>.<key>`.
bj::object read_custom_fields(const bj::value& v, const FieldDefinitions* definitions, bool check_required,
                              const std::string& prefix, std::vector<platform::FieldError>& errors);

/// A named group of customers: static (explicit member rows) or dynamic (a stored filter in
/// the language of POST /customers/search, with a snapshot of its members at each refresh).
struct SegmentRow {
  std::string tenant_id, id, name, type = "static";
  std::optional<std::string> description;
  std::optional<std::string> filter;  // dynamic only: the filter's JSON text as given
  std::int64_t member_count = 0;      // static: live members now; dynamic: at refreshed_at
  std::optional<TimestampMs> refreshed_at;
  std::string created_by;
  int version = 1;
  TimestampMs created_at = 0, updated_at = 0;
  bool dynamic() const { return type == "dynamic"; }
  bj::object to_json() const;
};

/// An import job (the file it reads stays on the server).
struct ImportRow {
  std::string tenant_id, id, status = "queued", format = "csv", on_duplicate = "skip";
  bool dry_run = false;
  std::string file_path;
  std::int64_t file_bytes = 0;
  std::string column_map = "{}";  // JSON {"mapped", "ignored", "unknown"}
  std::int64_t total = 0, processed = 0, created = 0, updated = 0, skipped = 0, failed = 0;
  std::optional<std::string> failure_reason;
  std::string created_by;
  TimestampMs created_at = 0, updated_at = 0;
  std::optional<TimestampMs> started_at, finished_at;
  bool finished() const;
  bj::object to_json() const;
};
/// What one batch of an import did.
struct ImportCounts {
  std::int64_t processed = 0, created = 0, updated = 0, skipped = 0, failed = 0;
};
/// One problem of an import row (row 0: the file as a whole).
struct ImportProblem {
  std::int64_t seq = 0, row = 0;
  std::optional<std::int64_t> line;
  std::string field, code, message;
  bj::object to_json() const;
};

/// What a collection query filters and sorts by (already validated).
struct SortKey {
  std::string field;  // a documented sort field
  bool descending = false;
};
struct CustomerFilter {
  std::vector<std::string> statuses, tiers, types, owner_ids;
  std::optional<std::string> tag, industry, country;
  std::optional<TimestampMs> created_after, created_before, updated_after, updated_before;
  bool include_deleted = false;
  std::vector<std::string> search_terms;  // q=, already split into terms
  std::shared_ptr<const filter::Node> tree;  // a structured search's validated filter
  std::optional<std::string> segment_id;     // segment_id=
  std::shared_ptr<const filter::Node> segment;  // segment_id= as a resolved condition
};
struct CustomerQuery {
  CustomerFilter filter;
  std::vector<SortKey> sort;               // without the id tie-breaker
  std::optional<bj::object> after;         // cursor position: {"k": [...], "id": ...}
  int limit = 25;
};
struct SegmentQuery {
  std::optional<std::string> type;
  std::optional<std::string> name_contains;  // q=, as a segment name key
  SortKey sort{"name", false};               // name, created_at or updated_at
  std::optional<bj::object> after;           // cursor position: {"k": value, "id": ...}
  int limit = 25;
};

/// All customer SQL, bound parameters only; every statement is scoped by tenant.
namespace store {
std::int64_t next_sequence(soci::session& sql, const std::string& tenant_id, const std::string& name);
/// Takes the tenant's customer write lock (the code sequence row) until the transaction ends.
void lock_customers(soci::session& sql, const std::string& tenant_id);
bool slug_taken(soci::session& sql, const std::string& tenant_id, const std::string& slug);
std::int64_t count_live_customers(soci::session& sql, const std::string& tenant_id);
/// The oldest existing (not deleted) customer other than `except_id` with the email key or
/// the phone (an empty one is not looked for): (id, field).
std::optional<std::pair<std::string, std::string>> find_duplicate(soci::session& sql, const std::string& tenant_id,
                                                                  const std::string& email_key,
                                                                  const std::string& phone,
                                                                  const std::string& except_id = {});
std::optional<std::string> customer_with_external_id(soci::session& sql, const std::string& tenant_id,
                                                     const std::string& external_id);
void insert_customer(soci::session& sql, const CustomerRow& c);
/// Writes the row when its stored version is still `expected_version`, bumping it; false
/// when somebody else changed it first.
bool update_customer(soci::session& sql, const CustomerRow& c, int expected_version);
std::optional<CustomerRow> customer(soci::session& sql, const std::string& tenant_id, const std::string& id);
/// The same customer as customer(), as a document.
std::optional<CustomerDocument> customer_document(soci::session& sql, const std::string& tenant_id,
                                                  const std::string& id);
std::optional<CustomerRow> customer_by_slug(soci::session& sql, const std::string& tenant_id, const std::string& slug);
void purge_customer(soci::session& sql, const std::string& tenant_id, const std::string& id);
std::vector<CustomerRow> list_customers(soci::session& sql, const std::string& tenant_id, const CustomerQuery& q);
/// The page of list_customers(), as documents.
std::vector<CustomerDocument> list_customer_documents(soci::session& sql, const std::string& tenant_id,
                                                      const CustomerQuery& q);
std::int64_t count_customers(soci::session& sql, const std::string& tenant_id, const CustomerFilter& f);
/// Pairs of live customers (first id < second id) sharing an email, a phone or a name,
/// ordered by the pair; `after` is the last pair of the previous page.
struct DuplicatePair {
  std::string first_id, second_id;
  bool email = false, phone = false, name = false;
};
std::vector<DuplicatePair> duplicate_pairs(soci::session& sql, const std::string& tenant_id, int limit,
                                           const std::optional<std::pair<std::string, std::string>>& after);
/// The sort values of a row, in the cursor's form.
bj::array sort_values(const CustomerRow& c, const std::vector<SortKey>& sort);

std::vector<ContactRow> contacts(soci::session& sql, const std::string& tenant_id, const std::string& customer_id);
std::optional<ContactRow> contact(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                                  const std::string& id);
std::int64_t count_contacts(soci::session& sql, const std::string& tenant_id, const std::string& customer_id);
void insert_contact(soci::session& sql, const ContactRow& c);
bool update_contact(soci::session& sql, const ContactRow& c, int expected_version);
/// Sets the contact's last_contacted_at to `at` unless it already is at or after it.
void touch_contact_reached(soci::session& sql, const std::string& tenant_id, const std::string& contact_id,
                           TimestampMs at);
void delete_contact(soci::session& sql, const std::string& tenant_id, const std::string& id);
/// Makes `contact_id` the customer's only primary contact.
void set_primary_contact(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                         const std::string& contact_id, TimestampMs now);

/// Moves a customer's contacts, notes, activities, timeline and static segment memberships
/// to another customer of the tenant; moved contacts lose is_primary when the target already
/// has a primary. Returns the numbers moved: {contacts, notes, activities}.
std::array<std::int64_t, 3> move_children(soci::session& sql, const std::string& tenant_id, const std::string& from,
                                          const std::string& to, TimestampMs now);

std::vector<NoteRow> notes(soci::session& sql, const std::string& tenant_id, const std::string& customer_id, int limit,
                           const std::optional<bj::object>& after);
std::optional<NoteRow> note(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                            const std::string& id);
void insert_note(soci::session& sql, const NoteRow& n);
bool update_note(soci::session& sql, const NoteRow& n, int expected_version);
void delete_note(soci::session& sql, const std::string& tenant_id, const std::string& id);

std::vector<ActivityRow> activities(soci::session& sql, const std::string& tenant_id,
                                    const std::optional<std::string>& customer_id,
                                    const std::optional<std::string>& status, int limit,
                                    const std::optional<bj::object>& after);
std::optional<ActivityRow> activity(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                                    const std::string& id);
void insert_activity(soci::session& sql, const ActivityRow& a);
bool update_activity(soci::session& sql, const ActivityRow& a, int expected_version);

void insert_timeline(soci::session& sql, const TimelineRow& t);

std::vector<FieldDefinition> field_definitions(soci::session& sql, const std::string& tenant_id,
                                               const std::string& entity);
std::optional<FieldDefinition> field_definition(soci::session& sql, const std::string& tenant_id,
                                                const std::string& id);
void insert_field_definition(soci::session& sql, const FieldDefinition& d);
bool update_field_definition(soci::session& sql, const FieldDefinition& d, int expected_version);
void delete_field_definition(soci::session& sql, const std::string& tenant_id, const std::string& id);
/// Removes a custom field's values from every customer of the tenant that has one (each such
/// customer's version moves on); the number of customers changed.
std::int64_t strip_custom_field(soci::session& sql, const std::string& tenant_id, const std::string& key);

/// Takes the tenant's segment write lock until the transaction ends, so the name check
/// before an insert or a rename cannot race another one.
void lock_segments(soci::session& sql, const std::string& tenant_id);
/// Takes one segment's row lock until the transaction ends (concurrent refreshes queue).
void lock_segment(soci::session& sql, const std::string& tenant_id, const std::string& id);
std::optional<SegmentRow> segment(soci::session& sql, const std::string& tenant_id, const std::string& id);
/// The id of the tenant's segment with this name key, if any.
std::optional<std::string> segment_with_name(soci::session& sql, const std::string& tenant_id,
                                             const std::string& name_key);
void insert_segment(soci::session& sql, const SegmentRow& s, const std::string& name_key);
/// Writes name, description and filter when the stored version is still `expected_version`,
/// bumping it; false when somebody else changed it first.
bool update_segment(soci::session& sql, const SegmentRow& s, const std::string& name_key, int expected_version);
/// Records a recount: member_count and refreshed_at (no version change: both are computed).
void set_segment_count(soci::session& sql, const std::string& tenant_id, const std::string& id, std::int64_t count,
                       TimestampMs refreshed_at);
void delete_segment(soci::session& sql, const std::string& tenant_id, const std::string& id);
std::vector<SegmentRow> list_segments(soci::session& sql, const std::string& tenant_id, const SegmentQuery& q);
std::int64_t count_segments(soci::session& sql, const std::string& tenant_id, const SegmentQuery& q);
/// Those of `ids` that are live (not deleted) customers of the tenant.
std::vector<std::string> live_customers_among(soci::session& sql, const std::string& tenant_id,
                                              const std::vector<std::string>& ids);
/// The customer ids of a segment's member rows (deleted customers included).
std::vector<std::string> member_ids(soci::session& sql, const std::string& tenant_id, const std::string& segment_id);
/// Those of `customer_ids` that have a member row in the segment.
std::vector<std::string> members_among(soci::session& sql, const std::string& tenant_id, const std::string& segment_id,
                                       const std::vector<std::string>& customer_ids);
/// Adds member rows (present ones are kept); returns how many were new.
std::int64_t add_members(soci::session& sql, const std::string& tenant_id, const std::string& segment_id,
                         const std::vector<std::string>& customer_ids, TimestampMs now);
/// Removes member rows; returns how many there were.
std::int64_t remove_members(soci::session& sql, const std::string& tenant_id, const std::string& segment_id,
                            const std::vector<std::string>& customer_ids);
/// Member rows whose customer is live.
std::int64_t count_live_members(soci::session& sql, const std::string& tenant_id, const std::string& segment_id);
/// Makes a segment's member rows exactly the live customers `f` matches; returns
/// {added, removed}.
std::pair<std::int64_t, std::int64_t> replace_segment_snapshot(soci::session& sql, const std::string& tenant_id,
                                                              const std::string& segment_id, const CustomerFilter& f,
                                                              TimestampMs now);
/// Moves a customer's static segment memberships to another customer of the tenant (a
/// merge); dynamic snapshots are left to their next refresh.
void move_static_memberships(soci::session& sql, const std::string& tenant_id, const std::string& from,
                             const std::string& to);

bool is_postgres(soci::session& sql);
/// Rewrites the customer's search document from its row, contacts and notes (removes it when
/// the customer is gone).
void reindex_customer(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                      bool created = false);
/// A search document to write: reindex_customer in two steps, so that a transaction can
/// prepare all its documents (reads and the ordinary tables) before it writes any of them
/// into the full-text index. SQLite's FTS5 flushes its pending index whenever a statement
/// of the transaction opens a statement journal, so interleaved writes cost a flush each.
struct SearchDocument {
  std::string tenant_id, customer_id;
  long long doc = 0;     // SQLite rowid
  bool replace = false;  // SQLite: an older document with this rowid may be in the index
  std::string name, legal_name, email, phone, tags, contacts, notes;
};
/// The document of the customer as it is now; nullopt when the customer is gone (its
/// document is removed then). Writing it replaces the old one.
std::optional<SearchDocument> prepare_search_document(soci::session& sql, const std::string& tenant_id,
                                                      const std::string& customer_id, bool created);
void write_search_document(soci::session& sql, const SearchDocument& d);
/// SQLite: merges segments of the full-text index until about `pages` pages were written, at
/// any level with two or more (FTS5 `'merge', pages` with usermerge 2). Merging drops the
/// entries of deleted and replaced documents, which FTS5 otherwise keeps and every search
/// reads past. True
/// when there was work to do. PostgreSQL: false (GIN maintains itself).
bool merge_search_index(soci::session& sql, int pages);
/// SQLite: the number of search documents (of every tenant), for the merge task.
std::int64_t search_document_count(soci::session& sql);
void remove_from_search(soci::session& sql, const std::string& tenant_id, const std::string& customer_id);
/// SQLite: the integer key of a customer's search document, 0 when it has none (keys start
/// at 1).
long long search_document_key(soci::session& sql, const std::string& tenant_id, std::string_view customer_id);
/// True when there are customers but no search documents (a database from before the
/// documents were keyed): the module rebuilds them at start.
bool search_index_empty(soci::session& sql);
/// (tenant_id, id) of customers after the given pair, in that order: for walking all of them.
std::vector<std::pair<std::string, std::string>> customer_keys_after(soci::session& sql, const std::string& tenant_id,
                                                                     const std::string& id, int limit);
/// The backend's prefix query for the terms (FTS5 MATCH text or a to_tsquery text).
std::string search_expression(soci::session& sql, const std::vector<std::string>& terms);
/// SQLite: relevance comes in tiers, 0 (best) to kSearchTiers - 1, from where the terms are
/// found: 0 every term in the name and the first one starting it; 1 every term in the name;
/// 2 each in the name, legal name, email or phone; 3 or the tags; 4 or a contact; 5
/// anywhere, notes too. Within a tier, documents come in key order (oldest first).
inline constexpr int kSearchTiers = 6;
/// SQLite: the SQL of the match's tier (the platform's match_tier over the document's columns).
const std::string& sqlite_match_tier();
/// SQLite: the FTS5 query for the documents of exactly one tier (a column filter that leaves
/// out the tiers before it), which FTS5 reads in rowid order without ranking every match.
std::string sqlite_tier_expression(const std::vector<std::string>& terms, int tier);
/// SQLite: the range of search document keys (rowids) that holds the tenant's documents;
/// an empty range when it has none.
std::pair<long long, long long> sqlite_search_range(soci::session& sql, const std::string& tenant_id);
std::vector<TimelineRow> timeline(soci::session& sql, const std::string& tenant_id, const std::string& customer_id,
                                  int limit, const std::optional<bj::object>& after);

void insert_import(soci::session& sql, const ImportRow& r);
std::optional<ImportRow> import_job(soci::session& sql, const std::string& tenant_id, const std::string& id);
/// Newest first; `after` is the (created_at, id) of the previous page's last job.
std::vector<ImportRow> list_imports(soci::session& sql, const std::string& tenant_id, int limit,
                                    const std::optional<std::pair<TimestampMs, std::string>>& after);
/// queued -> running; false when the job is no longer queued (cancelled).
bool start_import(soci::session& sql, const std::string& tenant_id, const std::string& id, TimestampMs now);
void add_import_progress(soci::session& sql, const std::string& tenant_id, const std::string& id,
                         const ImportCounts& delta, TimestampMs now);
/// queued or running -> `status` (completed, failed, cancelled); false when already finished.
bool finish_import(soci::session& sql, const std::string& tenant_id, const std::string& id, const std::string& status,
                   const std::optional<std::string>& reason, TimestampMs now);
std::string import_status(soci::session& sql, const std::string& tenant_id, const std::string& id);
/// (tenant_id, id) of every queued or running job of every tenant: the start-up check.
std::vector<std::pair<std::string, std::string>> unfinished_imports(soci::session& sql);
void insert_import_problems(soci::session& sql, const std::string& tenant_id, const std::string& import_id,
                            const std::vector<ImportProblem>& problems);
std::vector<ImportProblem> import_problems(soci::session& sql, const std::string& tenant_id,
                                           const std::string& import_id, int limit, std::int64_t after_seq);
}  // namespace store

/// Tenant defaults the input rules need, from IAM's directory.
struct TenantDefaults {
  std::string region = kFallbackRegion;  // default phone region
  std::string currency = "USD";
  std::string plan;  // empty when the tenant is unknown
  /// The tenant's custom field definitions of customers (empty: free-form custom fields).
  std::shared_ptr<const FieldDefinitions> custom_fields = std::make_shared<const FieldDefinitions>();
};

/// How a body applies to a customer: create (defaults for absent fields), replace (PUT:
/// absent fields are cleared) or patch (absent fields are kept, null clears).
enum class Mode { create, replace, patch };

/// Reads a customer body onto `row`; every problem is collected, then one 422 lists them all
/// (unknown and read-only fields included). Owner membership is checked by the caller.
/// Returns the fields the body named.
std::vector<std::string> apply_customer_body(const bj::value& body, Mode mode, const TenantDefaults& defaults,
                                             CustomerRow& row);

/// {field: {old, new}} of the fields whose JSON differs.
bj::object changes(const bj::object& before, const bj::object& after, const std::vector<std::string>& fields);

/// The cursor scope of a customer listing: one tenant, one sort, one search, one segment and,
/// for a structured search, one filter (`filter_text`).
std::string list_scope(const std::string& tenant_id, const std::string& canonical_sort, const CustomerFilter& f,
                       const std::optional<std::string>& filter_text = std::nullopt);
/// `sort` of a customer listing (GET ?sort= or a search body's "sort"); 400 naming sort.
/// `canonical` receives the normalized text cursors are bound to.
std::vector<SortKey> parse_sort(const std::optional<std::string>& given, bool searching, std::string& canonical);

class ImportWorker;

/// Shared state of the module.
struct CustomerContext {
  platform::ModuleContext& module;
  platform::Database& db;
  platform::UnitOfWorkFactory& uow;
  int max_contacts = 50;
  /// Largest import upload (413 above it) and rows per import batch (one transaction each).
  std::int64_t import_max_bytes = 100LL * 1024 * 1024;
  int import_batch_size = 500;
  /// The import jobs this process runs (set by the module before routes are served).
  ImportWorker* imports = nullptr;
  /// Live customers a tenant's plan allows (0: unlimited); SPEC section 11 defaults.
  std::map<std::string, std::int64_t> plan_limits{{"free", 10000}, {"starter", 100000}, {"pro", 1000000},
                                                  {"enterprise", 0}};

  std::shared_ptr<iam::IamDirectory> iam() const;
  /// From IAM, cached for at most 5 s per tenant (as IAM caches permissions): IAM reads on a
  /// connection of its own, so callers ask before opening their unit of work.
  TenantDefaults defaults(const std::string& tenant_id) const;
  /// Drops a tenant's cached defaults (IAM changed the tenant).
  void forget_defaults(const std::string& tenant_id) const;
  /// 422 on `owner_id` unless the user is an active member of the tenant.
  void require_member(const std::string& tenant_id, const std::string& user_id, const char* field) const;
  /// The same for a request: the authenticated caller's own membership was checked by
  /// authentication for this request, so IAM is asked only about other users.
  void require_member(const platform::RequestContext& ctx, const std::string& user_id, const char* field) const;
  /// Who owns what a request creates by default: the signed-in user (also behind an API key).
  static std::string default_owner(const platform::RequestContext& ctx);

  /// Creates a customer in the unit of work: plan limit, code, slug, duplicate and external
  /// id checks, insert, customer.created. `allow_duplicate` skips the email/phone check.
  CustomerRow create(UnitOfWork& uow, CustomerRow row, const TenantDefaults& defaults, bool allow_duplicate,
                     const bj::object& extra_payload = {});
  /// Applies a PUT (replace) or PATCH (patch) body to a live customer in the unit of work, as
  /// the unit's principal: 404, customers:update on the stored owner (403), the expected
  /// version (412), the status transition, and, under the tenant's customer lock, a taken
  /// external_id and (unless `allow_duplicate`) an email or phone another customer has (409
  /// with existing_id); then the write and its events. An unchanged customer is not written.
  /// The body is validated (and a named owner's membership checked) by the caller first.
  CustomerRow update(UnitOfWork& uow, const std::string& id, const bj::value& body, Mode mode,
                     const TenantDefaults& defaults, bool allow_duplicate,
                     const std::optional<std::string>& expected_version);
  /// Soft-deletes a live customer in the unit of work: 404, customers:delete on the stored
  /// owner (403), the expected version (412), the write and customer.deleted.
  void soft_delete(UnitOfWork& uow, const std::string& id, const std::optional<std::string>& expected_version);

  mutable std::mutex defaults_mutex;
  mutable std::map<std::string, std::pair<TenantDefaults, TimestampMs>> defaults_cache;
};

/// The filters, q and sort of a customer listing read from a request's query, each checked
/// as GET /customers checks it (400 naming the parameter); parameters other than those and
/// `other_parameters` are a 400 too. `canonical_sort` receives the sort's normalized text.
CustomerQuery list_query(CustomerContext& cc, const platform::Request& req,
                         const std::set<std::string>& other_parameters, std::string& canonical_sort);

/// Runs the import jobs this process accepted on a thread of its own, one job at a time, in
/// batches of one unit of work each. The uploaded file lives on this server, so a job is run
/// where it was accepted.
class ImportWorker final {
 public:
  struct Task {
    std::string tenant_id, id;
    platform::RequestContext context;  // the importer's, for every unit of work of the job
  };
  explicit ImportWorker(CustomerContext& cc) : cc_(cc) {}
  ~ImportWorker() { stop(); }
  ImportWorker(const ImportWorker&) = delete;
  ImportWorker& operator=(const ImportWorker&) = delete;

  /// Marks jobs a stopped server left queued or running failed (with the reason), then
  /// starts the thread.
  void start();
  /// A running job stops after its current batch and is marked failed with the reason.
  void stop();
  void enqueue(Task task);

 private:
  void run();
  void process(const Task& task);

  CustomerContext& cc_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

/// The 200 answer of one page of customers for a query: the rows at the page's position, the
/// next cursor and, when asked, the total. Takes a connection of its own.
platform::HttpResponse list_page(CustomerContext& cc, const std::string& tenant_id, CustomerQuery q,
                                 const platform::PageRequest& page, const std::string& scope);

// ---- import and export (csv_columns.cpp) ----

/// The CSV columns of a customer, in export order (custom.<key> columns come on top).
const std::vector<std::string>& csv_columns();
/// One of csv_columns() or custom.<key>.
bool csv_column_known(const std::string& column);
/// Removes the fields the server sets itself (id, code, slug, version, timestamps...), which an
/// import ignores so that an export reads back.
void strip_server_fields(bj::object& body);
/// The CSV columns of an export, worked out once: a customer's cells are then read straight
/// from its row (plain text: neutralizing and quoting are the writer's).
class CsvLayout {
 public:
  /// Columns of csv_columns() or custom.<key>.
  explicit CsvLayout(std::vector<std::string> columns);
  const std::vector<std::string>& columns() const noexcept { return columns_; }
  std::vector<std::string> cells(const CustomerRow& c) const;

 private:
  enum class Kind {
    none, id, code, slug, type, name, legal_name, email, email_disposable, phone, website, industry, status, tier,
    owner_id, tags, external_id, version, created_at, updated_at, deleted_at, custom, credit_amount, lifetime_amount,
    credit_currency, lifetime_currency, preference, address
  };
  struct Column {
    Kind kind = Kind::none;
    std::string key;           // custom field, preference or address part
    std::string address_type;  // billing, shipping or other
  };
  std::vector<std::string> columns_;
  std::vector<Column> plan_;
};

/// One data record of an import as the create and update paths take it.
struct ImportRecord {
  bj::object body;                          // a customer body (POST /customers shape)
  std::optional<bj::object> contact;        // a contact body (POST .../contacts shape)
  std::vector<std::string> address_types;   // of body.addresses, in order
  std::vector<platform::FieldError> problems;  // found before the body rules ran
  /// The CSV column a problem of the body names ("addresses[1].city" -> "shipping_city").
  std::string column_of(const std::string& field) const;
};

/// An import file's header: which columns map to customer fields, which are the server's own
/// (id, code, timestamps...: ignored) and which are unknown (reported on the job).
class CsvMapping final {
 public:
  /// 422 naming `file` for a blank or repeated column name, or a header with no known column.
  explicit CsvMapping(std::vector<std::string> header);
  ImportRecord record(const std::vector<std::string>& fields, const TenantDefaults& defaults) const;
  /// {"mapped": [...], "ignored": [...], "unknown": [...]}.
  bj::object columns_json() const;

 private:
  std::vector<std::string> header_, mapped_, ignored_, unknown_;
};

// ---- segments ----

/// Filter options for the tenant: amounts in its currency. Asks IAM (cached), so callers
/// ask before taking a connection.
filter::ParseOptions filter_options(CustomerContext& cc, const std::string& tenant_id);
/// Resolves the segment_id conditions of a parsed filter against the tenant's segments;
/// unknown ids are problems at their path. `for_segment`: the filter of a dynamic segment,
/// which may name static segments only (so a segment never depends on itself).
void resolve_segments(soci::session& sql, const std::string& tenant_id, filter::Node& tree,
                      const filter::ParseOptions& options, bool for_segment, std::vector<platform::FieldError>& problems);
/// The segment as a condition "customer is a member": a dynamic segment's stored filter
/// (re-validated; 409 when it no longer applies), else its member rows.
filter::SegmentRef segment_ref(const SegmentRow& s, const filter::ParseOptions& options);
/// `segment_id=` of a customer listing: 400 naming segment_id unless it is a segment of the
/// tenant (another tenant's is indistinguishable from none).
std::shared_ptr<const filter::Node> segment_condition(CustomerContext& cc, const std::string& tenant_id,
                                                      const std::string& segment_id);

/// Validates a POST /segments body and creates the segment in the unit of work (whose tenant
/// and actor it takes): name check, members or first snapshot, segment.created.
SegmentRow create_segment(UnitOfWork& uow, const bj::value& body, const filter::ParseOptions& options);

/// Publishes a customer-module event on the unit of work.
void publish(UnitOfWork& uow, const char* type, const std::string& aggregate_type, const std::string& aggregate_id,
             bj::object payload);

/// Writes a changed customer when its stored version is still `expected_version` (412 otherwise).
void save_customer(UnitOfWork& uow, const CustomerRow& row, int expected_version);
/// Publishes the events of a change from `before` to `after`: customer.updated for the plain
/// fields, customer.status_changed and customer.owner_changed for those two.
void publish_changes(UnitOfWork& uow, const CustomerRow& before, const CustomerRow& after);

/// The tenant of an authenticated, tenant-scoped request (401/403 otherwise).
const std::string& tenant_of(const platform::Request& req);
/// A true/false query parameter (absent: false); 400 naming it otherwise.
bool flag(const platform::Request& req, const char* name);
/// The version `If-Match` names (quotes and a weak prefix removed); nullopt when absent.
std::optional<std::string> if_match(const platform::Request& req);
/// 412 when an expected version is given and is not `version`.
void require_version(const std::optional<std::string>& expected, int version);
/// 412 when `If-Match` is present and names another version.
void require_version(const platform::Request& req, int version);
platform::HttpResponse with_etag(platform::HttpResponse res, int version);
/// A 404 for a customer that does not exist in the tenant (or is deleted, unless allowed).
CustomerRow load_customer(soci::session& sql, const std::string& tenant_id, const std::string& id,
                          bool include_deleted = false);
/// The same, as a document.
CustomerDocument load_customer_document(soci::session& sql, const std::string& tenant_id, const std::string& id,
                                        bool include_deleted = false);

/// Details an activity needs to count as complete; the names of those missing.
std::vector<std::string> missing_details(const ActivityRow& a);
/// An activity as the API shows it (with missing_details).
bj::object activity_json(const ActivityRow& a);

/// Request bodies as POST reads them (every bad field collected into one 422).
std::optional<bool> read_contact_body(const bj::value& body, const TenantDefaults& defaults, ContactRow& c);
std::string read_note(const bj::value& body);
void read_activity_body(const bj::value& body, ActivityRow& a);
/// The writes behind POST .../contacts, .../notes and .../activities, in the caller's unit of
/// work (whose actor is the author), each publishing its event. Permission checks are the
/// caller's.
ContactRow add_contact(UnitOfWork& uow, CustomerContext& cc, const CustomerRow& customer, ContactRow c,
                       std::optional<bool> primary);
NoteRow add_note(UnitOfWork& uow, const CustomerRow& customer, const std::string& text);
ActivityRow log_activity(UnitOfWork& uow, const CustomerRow& customer, ActivityRow a);
/// Demo mode: ~200 customers of the demo tenant with contacts, notes and activities, once.
void seed_demo_customers(CustomerContext& cc);

void register_customer_routes(platform::Router& router, CustomerContext& ctx);
void register_related_routes(platform::Router& router, CustomerContext& ctx);
void register_field_routes(platform::Router& router, CustomerContext& ctx);
/// Defines a custom field in the unit of work's tenant (409 key_taken / limit_reached).
FieldDefinition define_custom_field(UnitOfWork& uow, CustomerContext& cc, FieldDefinition d);
void register_batch_routes(platform::Router& router, CustomerContext& ctx);
void register_export_routes(platform::Router& router, CustomerContext& ctx);
void register_import_routes(platform::Router& router, CustomerContext& ctx);
void describe_export_api(platform::Router& router);
void describe_import_api(platform::Router& router);
void describe_customer_api(platform::Router& router);
/// The OpenAPI query parameters of GET /customers' filters (status ... segment_id), which the
/// export takes too.
bj::array customer_filter_parameters();
/// Options of a module route: its OpenAPI tag and summary.
platform::RouteOptions route_options(const char* tag, const char* summary);
/// After describe_customer_api, whose schemas it refers to.
void describe_batch_api(platform::Router& router);
void register_segment_routes(platform::Router& router, CustomerContext& ctx);
void describe_customer_api(platform::Router& router);
/// The OpenAPI query parameters of GET /customers' filters (status ... segment_id), which the
/// export takes too.
bj::array customer_filter_parameters();
/// Options of a module route: its OpenAPI tag and summary.
platform::RouteOptions route_options(const char* tag, const char* summary);
void describe_segment_api(platform::Router& router);
/// Demo mode: the demo tenant's segments, once (after its customers).
void seed_demo_segments(CustomerContext& cc);

}  // namespace crm::customer
