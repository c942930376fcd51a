# crm_embed_migrations(<target> <owner>)
# Compiles sql/sqlite/<owner>/*.sql and sql/postgres/<owner>/*.sql into <target>, so the binary
# carries its own schema. Generates crm_migrations_<owner>() returning them.
function(crm_embed_migrations target owner)
  cmake_parse_arguments(ARG "" "ROOT" "" ${ARGN})
  if(NOT ARG_ROOT)
    set(ARG_ROOT ${PROJECT_SOURCE_DIR}/sql)
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/migrations_${owner}.cpp)
  set(body "")
  foreach(backend sqlite postgres)
    file(GLOB files CONFIGURE_DEPENDS ${ARG_ROOT}/${backend}/${owner}/*.sql)
    list(SORT files)
    foreach(f ${files})
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${f})
      get_filename_component(name ${f} NAME_WE)
      file(READ ${f} sql)
      string(APPEND body "    {\"${owner}\", \"${backend}\", \"${name}\", R\"crm_sql(${sql})crm_sql\"},\n")
    endforeach()
  endforeach()
  file(CONFIGURE OUTPUT ${out} CONTENT
"// Generated from ${ARG_ROOT} by crm_embed_migrations; do not edit.
#include \"crm/platform/migrations.hpp\"

namespace crm::generated {
std::vector<crm::platform::MigrationSource> migrations_${owner}() {
  return {
${body}  };
}
}  // namespace crm::generated
" @ONLY)
  target_sources(${target} PRIVATE ${out})
endfunction()

# crm_add_module(<name> SOURCES ...)
# A module is a static library crm_<name>: its own directory is a PRIVATE include path (other
# modules cannot even resolve its internals), it links the platform and public headers only,
# and carries its migrations from sql/<backend>/<name>/.
function(crm_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(crm_${name} STATIC ${ARG_SOURCES})
  target_include_directories(crm_${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(crm_${name} PUBLIC crm_platform PRIVATE ${ARG_LIBRARIES})
  crm_embed_migrations(crm_${name} ${name})
  target_precompile_headers(crm_${name} REUSE_FROM crm_platform)
endfunction()
