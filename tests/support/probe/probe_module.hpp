#pragma once
// A tiny module used only by the tests: it proves the module seam (context, routes,
// subscriptions, migrations) and drives the event bus and outbox end to end.

#include "crm/platform/module.hpp"

namespace crm::probe {

/// Factory for the probe module ("probe").
platform::ModuleFactory probe_module_factory();

}  // namespace crm::probe
