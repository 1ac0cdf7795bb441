# strata_add_plugin(<name>
#                   SOURCES <files...>
#                   [LIBRARIES <targets...>]
#                   [OUTPUT_DIRECTORY <dir>]   # default: the build's plugin directory
#                   [NO_INSTALL])
#
# Builds a Strata plugin: a MODULE library named strata-<name>.so, linked against
# Strata::runtime, compiled with the runtime's C++ standard (not the project's), with hidden
# visibility and a linker version script so that it exports only its entry point(s)
# (strata_plugin_entry, strata_plugin_probe). Installed into
# <libdir>/strata/plugins unless NO_INSTALL. The same function is shipped in the
# installed Strata CMake package for out-of-tree plugins.

set(_STRATA_PLUGIN_MAP "${CMAKE_CURRENT_LIST_DIR}/strata_plugin.map")

function(strata_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "strata_add_plugin(${name}): SOURCES is required")
  endif()
  set(target "strata_plugin_${name}")
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Strata::runtime ${ARG_LIBRARIES})
  # The C++ standard is part of the plugin toolchain tag, so a plugin is built with exactly
  # the runtime's, whatever CMAKE_CXX_STANDARD the project sets: the target property wins
  # over that variable. Strata::runtime carries the standard as its cxx_std_NN feature.
  get_target_property(features Strata::runtime INTERFACE_COMPILE_FEATURES)
  list(FILTER features INCLUDE REGEX "^cxx_std_[0-9]+$")
  if(NOT features MATCHES "^cxx_std_([0-9]+)$")
    message(FATAL_ERROR "strata_add_plugin(${name}): Strata::runtime names no single C++ standard "
                        "(INTERFACE_COMPILE_FEATURES: '${features}'); is this Strata's own package?")
  endif()
  set_target_properties(${target} PROPERTIES
    CXX_STANDARD ${CMAKE_MATCH_1} CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  if(NOT ARG_OUTPUT_DIRECTORY)
    if(DEFINED STRATA_PLUGIN_OUTPUT_DIRECTORY)
      set(ARG_OUTPUT_DIRECTORY "${STRATA_PLUGIN_OUTPUT_DIRECTORY}")
    else()
      set(ARG_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/plugins")
    endif()
  endif()
  if(DEFINED STRATA_INSTALL_PLUGINDIR)
    set(plugindir "${STRATA_INSTALL_PLUGINDIR}")
  else()
    set(plugindir "lib/strata/plugins")
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "strata-${name}"
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}"
    CXX_VISIBILITY_PRESET hidden
    CUDA_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS "${_STRATA_PLUGIN_MAP}"
    INSTALL_RPATH "$ORIGIN/../..")
  target_link_options(${target} PRIVATE "LINKER:--version-script=${_STRATA_PLUGIN_MAP}")
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION "${plugindir}")
  endif()
endfunction()
