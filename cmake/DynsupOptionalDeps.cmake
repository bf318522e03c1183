# Optional libraries: each is used when found (or when asked for with ON)
# and the host builds, runs and passes its tests without it, reporting the
# feature as not built (`dynsup-host --version` lists what is in).
#
#   DYNSUP_WITH_SYSTEMD      libsystemd's sd_notify: Type=notify readiness, watchdog
#   DYNSUP_WITH_MICROHTTPD   libmicrohttpd: the [host] metrics_listen HTTP endpoint
#
# AUTO (default): on when the library is found; ON: required; OFF: not built.
include_guard(GLOBAL)

set(DYNSUP_WITH_SYSTEMD AUTO CACHE STRING "use libsystemd for sd_notify (AUTO, ON, OFF)")
set(DYNSUP_WITH_MICROHTTPD AUTO CACHE STRING "use libmicrohttpd for the metrics endpoint (AUTO, ON, OFF)")

function(dynsup_optional_library option module result)
  set(${result} OFF PARENT_SCOPE)
  if(${option} STREQUAL "OFF")
    return()
  endif()
  if(${option} STREQUAL "ON")
    pkg_check_modules(${result}_PKG REQUIRED IMPORTED_TARGET GLOBAL ${module})
  else()
    pkg_check_modules(${result}_PKG QUIET IMPORTED_TARGET GLOBAL ${module})
  endif()
  if(${result}_PKG_FOUND)
    set(${result} ON PARENT_SCOPE)
  endif()
endfunction()

dynsup_optional_library(DYNSUP_WITH_SYSTEMD libsystemd DYNSUP_HAVE_LIBSYSTEMD)
dynsup_optional_library(DYNSUP_WITH_MICROHTTPD libmicrohttpd DYNSUP_HAVE_MICROHTTPD)
message(STATUS "dynsup: sd_notify (libsystemd): ${DYNSUP_HAVE_LIBSYSTEMD}; metrics endpoint (libmicrohttpd): ${DYNSUP_HAVE_MICROHTTPD}")
