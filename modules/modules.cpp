#include "crm/modules.hpp"

#include "crm/customer/customer_module.hpp"
#include "crm/iam/iam_module.hpp"

namespace crm {

std::vector<platform::ModuleFactory> product_modules() {
  // Start order; adding a module is one line here.
  return {iam::iam_module_factory(),
          customer::customer_module_factory()};
}

}  // namespace crm
