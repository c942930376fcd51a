# Locates the Debian-packaged dependencies (see BUILD-NOTES in the project docs).
find_package(Threads REQUIRED)
set(Boost_NO_WARN_NEW_VERSIONS ON)
find_package(Boost 1.81 EXACT REQUIRED COMPONENTS json url)
find_package(OpenSSL 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)

# SOCI ships neither a CMake config nor a pkg-config file on Debian.
find_path(SOCI_INCLUDE_DIR soci/soci.h REQUIRED)
# The static archives: the platform's statement cache derives from the backends' statement
# and session classes, which the shared libraries do not export.
find_library(SOCI_CORE_ARCHIVE NAMES libsoci_core.a REQUIRED)
find_library(SOCI_SQLITE3_ARCHIVE NAMES libsoci_sqlite3.a REQUIRED)
find_library(SOCI_POSTGRESQL_ARCHIVE NAMES libsoci_postgresql.a REQUIRED)
add_library(crm_soci INTERFACE)
target_include_directories(crm_soci SYSTEM INTERFACE ${SOCI_INCLUDE_DIR} /usr/include/postgresql)
target_link_libraries(crm_soci INTERFACE
  ${SOCI_SQLITE3_ARCHIVE} ${SOCI_POSTGRESQL_ARCHIVE} ${SOCI_CORE_ARCHIVE}
  PkgConfig::SQLITE3 PkgConfig::LIBPQ ${CMAKE_DL_LIBS})

# Argon2id password hashing.
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
