# The Debian package: configure with -DCMAKE_INSTALL_PREFIX=/usr, build,
# then `cpack -G DEB` in the build folder (tests/integration/test_package.py
# does exactly that). Depends comes from dpkg-shlibdeps (the libraries the
# binaries really link, so libsystemd0 / libmicrohttpd12 only when built
# in); the config files are conffiles; the maintainer scripts
# (packaging/debian/) enable and start the unit with deb-systemd-helper.
include_guard(GLOBAL)

set(CPACK_PACKAGE_NAME dynsup)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "dynsup")
set(CPACK_PACKAGE_CONTACT "dynsup maintainers <dynsup@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Erlang/OTP-style dynamic supervisor for C worker plugins")
set(CPACK_PACKAGE_DESCRIPTION "dynsup-host loads worker plugins (shared objects) described by INI child
specs and runs every worker as its own supervised OS process, restarted
by policy. Includes the auth_loader plugin and the plugin header.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# libsystemd and libmicrohttpd are dlopen'ed when used (sd_notify under
# systemd, a metrics_listen endpoint), so shlibdeps cannot see them.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "bash-completion, libsystemd0, libmicrohttpd12")

configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/conffiles.in
               ${CMAKE_BINARY_DIR}/packaging/debian/conffiles @ONLY)
foreach(script postinst prerm postrm)
  configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/${script}
                 ${CMAKE_BINARY_DIR}/packaging/debian/${script} COPYONLY)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/packaging/debian/conffiles
    ${CMAKE_BINARY_DIR}/packaging/debian/postinst
    ${CMAKE_BINARY_DIR}/packaging/debian/prerm
    ${CMAKE_BINARY_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
