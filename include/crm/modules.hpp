#pragma once
/// The product's modules, in start order: the list the composition root builds.

#include "crm/platform/module.hpp"

#include <vector>

namespace crm {

std::vector<platform::ModuleFactory> product_modules();

}  // namespace crm
