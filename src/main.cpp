#include "app/application.hpp"
#include "crm/modules.hpp"

int main(int argc, char** argv) { return crm::app::run_cli(argc, argv, crm::product_modules()); }
