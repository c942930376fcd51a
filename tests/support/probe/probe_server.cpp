// `crm` with the probe module added: the server the integration tests and benchmarks start.
#include "app/application.hpp"
#include "crm/modules.hpp"
#include "probe/probe_module.hpp"

int main(int argc, char** argv) {
  auto modules = crm::product_modules();
  modules.push_back(crm::probe::probe_module_factory());
  return crm::app::run_cli(argc, argv, std::move(modules));
}
