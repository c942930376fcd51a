#pragma once
/// The customer module's facade: what other modules may ask of it (sales converting a lead,
/// deals writing to a customer's timeline).

#include "crm/platform/module.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <vector>

namespace crm::platform {
class UnitOfWork;
}

namespace crm::customer {

/// What other modules see of a customer.
struct CustomerSummary {
  std::string id;
  std::string tenant_id;
  std::string code;  // CUS-000123
  std::string slug;
  std::string type;  // individual | business
  std::string name;
  std::string email;  // normalized; empty when none
  std::string phone;  // E.164; empty when none
  std::string status;
  std::string owner_id;
  bool deleted = false;
};

/// The fields a converted lead brings; validated exactly like `POST /customers`.
struct NewCustomer {
  std::string name;
  std::string type = "business";
  std::string email;
  std::string phone;
  std::string owner_id;  // empty: the acting user of the unit of work
  std::string status = "prospect";
  std::vector<std::string> tags;
  std::string external_id;
  std::string source_lead_id;  // recorded in the customer.created payload and the timeline
};

/// One entry on a customer's timeline written by another module ("lead converted",
/// "deal won"); `kind` is a short snake_case word, `summary` a human line.
struct TimelineEntry {
  std::string customer_id;
  std::string kind;
  std::string summary;
  boost::json::object data;
  std::string source_type;  // the other module's record type ("deal"), optional
  std::string source_id;
};

class CustomerDirectory {
 public:
  virtual ~CustomerDirectory() = default;
  /// The customer when it exists in the tenant (soft-deleted ones only with
  /// `include_deleted`); another tenant's id is indistinguishable from none.
  virtual std::optional<CustomerSummary> find_customer(const std::string& tenant_id, const std::string& customer_id,
                                                       bool include_deleted = false) const = 0;
  /// Creates a customer inside the caller's unit of work (tenant and actor come from its
  /// context), so a lead conversion commits or rolls back as one. Throws platform::Error
  /// (422 naming fields, 409 `duplicate` with `existing_id`).
  virtual CustomerSummary create_customer(platform::UnitOfWork& uow, const NewCustomer& input) = 0;
  /// Adds an entry to the timeline of a customer of the unit of work's tenant; 404 Error when
  /// the customer does not exist there, 422 when kind or summary is empty.
  virtual std::string add_timeline_entry(platform::UnitOfWork& uow, const TimelineEntry& entry) = 0;
  /// Checks a record's `custom_fields` against the unit of work's tenant's definitions for
  /// `entity` (lead, opportunity, deal): the normalized object to store. Free-form when the
  /// entity has no definitions. Throws a 422 platform::Error naming `custom_fields.<key>`
  /// (unknown key, wrong type, missing required field when `check_required`).
  virtual boost::json::object check_custom_fields(platform::UnitOfWork& uow, const std::string& entity,
                                                  const boost::json::value& custom_fields,
                                                  bool check_required) const = 0;
};

/// The customer module factory for the composition root.
platform::ModuleFactory customer_module_factory();

}  // namespace crm::customer
