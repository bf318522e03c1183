# What `cmake --install` ships besides the binaries and plugins, laid out
# with GNUInstallDirs:
#
#   ${bindir}/dynsup-host                     (core/CMakeLists.txt)
#   ${libexecdir}/dynsup/dynsup-spawner       its spawners' program (core/CMakeLists.txt)
#   ${libdir}/dynsup/plugins/*.so             (each plugin's CMakeLists.txt)
#   ${includedir}/dynsup/plugin.h             (core/CMakeLists.txt)
#   ${libdir}/cmake/dynsup/                   find_package(dynsup 0.2)
#   ${libdir}/pkgconfig/dynsup.pc             pkg-config, with `plugindir`
#   ${sysconfdir}/dynsup/dynsup.ini, children.d/*.ini
#   ${prefix}/lib/systemd/system/dynsup.service
#   ${datadir}/bash-completion/completions/dynsup-host
#   ${localstatedir}/lib/dynsup/              auth_loader's store
#
# The config and the unit are generated here, at configure time, so their
# paths are those of this install (CMAKE_INSTALL_PREFIX): nothing is
# sed-edited afterwards.
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(DYNSUP_PLUGIN_DIR_FULL ${CMAKE_INSTALL_PREFIX}/${DYNSUP_PLUGIN_INSTALL_DIR})
set(DYNSUP_CONFIG_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/dynsup)
# /usr and /usr/local are the system's: the socket goes where systemd's
# RuntimeDirectory= puts it (/run), the store under StateDirectory=
# (/var/lib). Any other prefix (a test's throwaway root) keeps both inside.
if(CMAKE_INSTALL_PREFIX MATCHES "^/usr(/local)?/?$")
  set(dynsup_default_runtime_dir /run/dynsup)
  set(dynsup_default_state_dir /var/lib/dynsup)
else()
  set(dynsup_default_runtime_dir ${CMAKE_INSTALL_FULL_RUNSTATEDIR}/dynsup)
  set(dynsup_default_state_dir ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/dynsup)
endif()
set(DYNSUP_RUNTIME_DIR ${dynsup_default_runtime_dir} CACHE PATH "folder of the installed host's control socket")
set(DYNSUP_STATE_DIR ${dynsup_default_state_dir} CACHE PATH "folder of the installed auth_loader's store")
set(DYNSUP_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING "systemd unit folder, relative to the prefix")
# Where the config and the store's folder are installed. For the /usr
# prefix (the Debian package) they are outside it, /etc and /var, as
# GNUInstallDirs says; for any other prefix they stay inside it, relative,
# so `cmake --install --prefix` can never write to the machine's /etc.
if(CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
  set(dynsup_config_destination ${CMAKE_INSTALL_FULL_SYSCONFDIR}/dynsup)
  set(dynsup_state_destination ${DYNSUP_STATE_DIR})
else()
  set(dynsup_config_destination ${CMAKE_INSTALL_SYSCONFDIR}/dynsup)
  set(dynsup_state_destination ${CMAKE_INSTALL_LOCALSTATEDIR}/lib/dynsup)
endif()

if(DYNSUP_HAVE_LIBSYSTEMD)
  set(DYNSUP_UNIT_TYPE notify)
  set(DYNSUP_UNIT_WATCHDOG "# The host pings systemd from its loop at half this period.\nWatchdogSec=30s")
else()
  set(DYNSUP_UNIT_TYPE simple)
  set(DYNSUP_UNIT_WATCHDOG "# (no WatchdogSec=: this host was built without libsystemd)")
endif()

set(dynsup_generated ${CMAKE_BINARY_DIR}/install-files)
configure_file(${CMAKE_SOURCE_DIR}/packaging/dynsup.ini.in ${dynsup_generated}/dynsup.ini @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/packaging/systemd/dynsup.service.in
               ${dynsup_generated}/dynsup.service @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/packaging/dynsup.pc.in ${dynsup_generated}/dynsup.pc @ONLY)

install(FILES ${dynsup_generated}/dynsup.ini DESTINATION ${dynsup_config_destination})
install(FILES ${CMAKE_SOURCE_DIR}/packaging/children.d/auth_loader.ini
              ${CMAKE_SOURCE_DIR}/packaging/children.d/sleeper.ini
        DESTINATION ${dynsup_config_destination}/children.d)
install(FILES ${dynsup_generated}/dynsup.service DESTINATION ${DYNSUP_SYSTEMD_UNIT_DIR})
install(FILES ${dynsup_generated}/dynsup.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/bash-completion/dynsup-host
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(DIRECTORY DESTINATION ${dynsup_state_destination})

# The CMake package: dynsupConfig.cmake (variables) including
# dynsupAddPlugin.cmake (cmake/dynsupConfig.cmake, the same file a checkout
# is used through), and the version file find_package(dynsup 0.2) reads.
# Before 1.0 a minor release may change what plugins see: same minor only.
set(dynsup_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/dynsup)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/dynsupConfig.cmake.in
  ${dynsup_generated}/dynsupConfig.cmake
  INSTALL_DESTINATION ${dynsup_cmake_dir}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR DYNSUP_PLUGIN_INSTALL_DIR)
write_basic_package_version_file(${dynsup_generated}/dynsupConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${dynsup_generated}/dynsupConfig.cmake ${dynsup_generated}/dynsupConfigVersion.cmake
        DESTINATION ${dynsup_cmake_dir})
install(FILES ${CMAKE_SOURCE_DIR}/cmake/dynsupConfig.cmake DESTINATION ${dynsup_cmake_dir}
        RENAME dynsupAddPlugin.cmake)

# Manuals, from one scdoc source each (man/*.scd): dynsup-host(1),
# dynsup.ini(5), dynsup-plugin(7). Built into <build>/man/.
find_program(DYNSUP_SCDOC scdoc)
if(DYNSUP_SCDOC)
  set(dynsup_manuals)
  foreach(page dynsup-host.1 dynsup.ini.5 dynsup-plugin.7)
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
    add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${DYNSUP_SCDOC} < ${CMAKE_SOURCE_DIR}/man/${page}.scd > ${CMAKE_BINARY_DIR}/man/${page}
      DEPENDS ${CMAKE_SOURCE_DIR}/man/${page}.scd
      COMMENT "scdoc ${page}")
    list(APPEND dynsup_manuals ${CMAKE_BINARY_DIR}/man/${page})
    install(FILES ${CMAKE_BINARY_DIR}/man/${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(manuals ALL DEPENDS ${dynsup_manuals})
else()
  message(STATUS "dynsup: manuals not built: scdoc not found (Debian package scdoc)")
endif()
