# dynsup's CMake package: what a plugin's CMakeLists.txt needs to build a
# plugin the host will load. Used by the dynsup tree itself and, out of
# tree, through find_package(dynsup): installed as
# <prefix>/lib/cmake/dynsup/dynsupConfig.cmake, or straight from a dynsup
# checkout with -Ddynsup_DIR=<checkout>/cmake.
#
#   dynsup_add_plugin(NAME SOURCE...)
#   install(TARGETS NAME LIBRARY DESTINATION ${DYNSUP_PLUGIN_INSTALL_DIR})
#
# Installed, it also sets DYNSUP_PLUGIN_DIR: the absolute folder the
# installed host loads plugins from (its dynsup.ini's plugin_dir).
#
# builds NAME.so (no "lib" prefix: the host requires the file name to equal
# the plugin's name), C11, hidden visibility so only the DYNSUP_EXPORT'ed
# descriptor is exported, into DYNSUP_PLUGIN_OUTPUT_DIR when set.
include_guard(GLOBAL)

# Installed, dynsupConfig.cmake (generated from dynsupConfig.cmake.in) sets
# DYNSUP_INCLUDE_DIR and the plugin folders before including this file as
# dynsupAddPlugin.cmake; from a checkout they are found here.
if(NOT DEFINED DYNSUP_INCLUDE_DIR)
  get_filename_component(DYNSUP_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../core/include" ABSOLUTE)
endif()
# Where install(TARGETS ... DESTINATION ${DYNSUP_PLUGIN_INSTALL_DIR}) puts a
# plugin, relative to the install prefix.
if(NOT DEFINED DYNSUP_PLUGIN_INSTALL_DIR)
  include(GNUInstallDirs)
  set(DYNSUP_PLUGIN_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/dynsup/plugins)
endif()
if(NOT EXISTS "${DYNSUP_INCLUDE_DIR}/dynsup/plugin.h")
  message(FATAL_ERROR "dynsup: dynsup/plugin.h not found in ${DYNSUP_INCLUDE_DIR}")
endif()

function(dynsup_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_include_directories(${name} PRIVATE ${DYNSUP_INCLUDE_DIR})
  set_target_properties(${name} PROPERTIES
    C_STANDARD 11
    PREFIX ""
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden)
  if(DYNSUP_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${DYNSUP_PLUGIN_OUTPUT_DIR})
  endif()
endfunction()
