#pragma once
// Moved to the public headers so that modules can use it too.
#include "crm/platform/periodic_task.hpp"
