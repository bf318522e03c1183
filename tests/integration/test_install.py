"""`cmake --install` into a throwaway prefix gives a dynsup that runs as
installed: the installed host on the installed config with no edit (check,
run without one error line, start a child, stop), and plugins built out of
tree against it, with pkg-config and with find_package(dynsup 0.2)."""

import os
import shutil
import subprocess

from harness import SOURCE_DIR, run_tests
from installed import InstalledHost, configure_and_build, exercise, run, short_temp_dir

WORK = short_temp_dir("dsi-")
PREFIX = os.path.join(WORK, "p")
BUILD = os.path.join(WORK, "build")
configure_and_build(BUILD, "-DCMAKE_INSTALL_PREFIX=" + PREFIX)
run(["cmake", "--install", BUILD])

CONFIG = os.path.join(PREFIX, "etc", "dynsup", "dynsup.ini")
PLUGIN_DIR = os.path.join(PREFIX, "lib", "dynsup", "plugins")
PKG_ENV = dict(os.environ, PKG_CONFIG_PATH=os.path.join(PREFIX, "lib", "pkgconfig"))


def installed_host():
    return InstalledHost(os.path.join(PREFIX, "bin", "dynsup-host"), CONFIG, log_dir=WORK)


def test_layout_follows_gnu_install_dirs():
    for path in ["bin/dynsup-host", "libexec/dynsup/dynsup-spawner", "include/dynsup/plugin.h",
                 "lib/dynsup/plugins/auth_loader.so", "lib/dynsup/plugins/sleeper.so",
                 "lib/cmake/dynsup/dynsupConfig.cmake", "lib/cmake/dynsup/dynsupConfigVersion.cmake",
                 "lib/pkgconfig/dynsup.pc", "etc/dynsup/dynsup.ini",
                 "etc/dynsup/children.d/auth_loader.ini", "etc/dynsup/children.d/sleeper.ini",
                 "lib/systemd/system/dynsup.service",
                 "share/bash-completion/completions/dynsup-host"]:
        assert os.path.exists(os.path.join(PREFIX, path)), path
    if shutil.which("scdoc"):
        for page in ["man1/dynsup-host.1", "man5/dynsup.ini.5", "man7/dynsup-plugin.7"]:
            assert os.path.exists(os.path.join(PREFIX, "share", "man", page)), page
    # The spawners' program (so every worker's image) needs libc alone.
    needed = run(["readelf", "-d", os.path.join(PREFIX, "libexec", "dynsup", "dynsup-spawner")]).stdout
    assert [line for line in needed.splitlines() if "(NEEDED)" in line] == [
        line for line in needed.splitlines() if "(NEEDED)" in line and "[libc.so.6]" in line], needed
    assert "[libc.so.6]" in needed, needed
    # Only the plugins meant for users are installed, not the test ones.
    assert sorted(os.listdir(PLUGIN_DIR)) == ["auth_loader.so", "sleeper.so"]


def test_installed_config_and_unit_point_into_the_install():
    with open(CONFIG) as config:
        text = config.read()
    assert "plugin_dir   = %s\n" % PLUGIN_DIR in text, text
    assert "socket       = %s/var/run/dynsup/dynsup.sock" % PREFIX in text, text
    assert "%s/var/lib/dynsup/auth_rules.json" % PREFIX in text, text
    with open(os.path.join(PREFIX, "lib", "systemd", "system", "dynsup.service")) as unit:
        unit_text = unit.read()
    assert "ExecStart=%s/bin/dynsup-host run -c %s\n" % (PREFIX, CONFIG) in unit_text, unit_text
    assert "@" not in unit_text.replace("@system-service", ""), "an unreplaced @VAR@ in the unit"


def test_installed_host_runs_on_the_installed_config_without_an_error_line():
    log = exercise(installed_host(), spawner=os.path.join(PREFIX, "libexec", "dynsup", "dynsup-spawner"))
    # The shipped default starts nothing at boot (no auth service is known yet).
    assert "autostart" not in log, log


def test_plugin_builds_with_pkg_config_and_loads_in_the_installed_host():
    cflags = run(["pkg-config", "--cflags", "dynsup"], env=PKG_ENV).stdout.split()
    plugindir = run(["pkg-config", "--variable=plugindir", "dynsup"], env=PKG_ENV).stdout.strip()
    assert plugindir == PLUGIN_DIR, plugindir
    version = run(["pkg-config", "--modversion", "dynsup"], env=PKG_ENV).stdout.strip()
    assert version == "0.2.0", version
    plugin = os.path.join(plugindir, "hello.so")
    try:
        run(["cc"] + cflags + ["-shared", "-fPIC", os.path.join(SOURCE_DIR, "plugins", "hello", "hello.c"),
                               "-o", plugin])
        plugins = installed_host().cli("check")
        assert "3 plugins" in plugins.stdout, (plugins.stdout, plugins.stderr)
    finally:
        os.remove(plugin)


UNIT = os.path.join(PREFIX, "lib", "systemd", "system", "dynsup.service")


def systemd_analyze(*args):
    """systemd-analyze's result, or None (with a SKIP line) where it cannot run."""
    try:
        result = subprocess.run(["systemd-analyze"] + list(args), capture_output=True, text=True,
                                timeout=120)
    except FileNotFoundError:
        print("SKIP: systemd-analyze is not installed (Debian package systemd)")
        return None
    if "Failed to" in result.stderr and "dynsup" not in result.stderr:
        print("SKIP: systemd-analyze cannot run here: %s" % result.stderr.strip())
        return None
    return result


def test_installed_unit_passes_systemd_analyze_verify():
    # --man=no: the manuals are checked by their own test, not via man(1).
    result = systemd_analyze("verify", "--man=no", UNIT)
    if result is not None:
        assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_installed_unit_is_hardened():
    # Before this unit: 9.6 UNSAFE (the old etc/systemd/dynsup.service, no
    # hardening); this one scores 2.5 with systemd 252.
    result = systemd_analyze("security", "--offline=true", UNIT)
    if result is None:
        return
    last = result.stdout.strip().splitlines()[-1]
    assert "Overall exposure level" in last, result.stdout + result.stderr
    score = float(last.split(":")[1].split()[0])
    assert score <= 3.0, last


CONSUMER = """cmake_minimum_required(VERSION 3.25)
project(consumer LANGUAGES C)
find_package(dynsup %s REQUIRED)
message(STATUS "plugin dir: ${DYNSUP_PLUGIN_DIR}")
dynsup_add_plugin(exit_code exit_code.c)
install(TARGETS exit_code LIBRARY DESTINATION ${DYNSUP_PLUGIN_INSTALL_DIR})
"""


def consumer_project(version):
    source = os.path.join(WORK, "consumer-" + version)
    os.makedirs(source, exist_ok=True)
    with open(os.path.join(source, "CMakeLists.txt"), "w") as lists:
        lists.write(CONSUMER % version)
    shutil.copy(os.path.join(SOURCE_DIR, "plugins", "exit_code", "exit_code.c"), source)
    return source


def test_plugin_builds_with_find_package_of_version_0_2_and_installs_into_the_plugin_dir():
    source = consumer_project("0.2")
    build = source + "-build"
    configured = run(["cmake", "-S", source, "-B", build, "-DCMAKE_PREFIX_PATH=" + PREFIX,
                      "-DCMAKE_INSTALL_PREFIX=" + PREFIX])
    assert "plugin dir: %s" % PLUGIN_DIR in configured.stdout, configured.stdout
    run(["cmake", "--build", build])
    run(["cmake", "--install", build])
    plugin = os.path.join(PLUGIN_DIR, "exit_code.so")
    try:
        assert os.path.exists(plugin)
        plugins = installed_host().cli("check")
        assert "3 plugins" in plugins.stdout, (plugins.stdout, plugins.stderr)
    finally:
        os.remove(plugin)


def test_find_package_refuses_another_minor_version():
    for version in ["0.3", "0.1", "1.0"]:
        source = consumer_project(version)
        result = subprocess.run(["cmake", "-S", source, "-B", source + "-build",
                                 "-DCMAKE_PREFIX_PATH=" + PREFIX], capture_output=True, text=True)
        assert result.returncode != 0, version
        assert "0.2.0" in result.stderr, result.stderr


def test_without_the_optional_libraries_the_host_builds_runs_and_says_what_is_not_built():
    prefix = os.path.join(WORK, "bare")
    build = os.path.join(WORK, "build-bare")
    configure_and_build(build, "-DCMAKE_INSTALL_PREFIX=" + prefix, "-DDYNSUP_WITH_SYSTEMD=OFF",
                        "-DDYNSUP_WITH_MICROHTTPD=OFF")
    run(["cmake", "--install", build])
    binary = os.path.join(prefix, "bin", "dynsup-host")
    needed = run(["readelf", "-d", binary]).stdout
    assert "libsystemd" not in needed and "libmicrohttpd" not in needed, needed
    version = run([binary, "--version"]).stdout
    assert "sd_notify (systemd readiness, watchdog): not built (no libsystemd at build time)" in version
    assert "metrics endpoint (libmicrohttpd): not built (no libmicrohttpd at build time)" in version
    with open(os.path.join(prefix, "lib", "systemd", "system", "dynsup.service")) as unit:
        assert "Type=simple\n" in unit.read()
    config = os.path.join(prefix, "etc", "dynsup", "dynsup.ini")
    exercise(InstalledHost(binary, config, log_dir=WORK),
             spawner=os.path.join(prefix, "libexec", "dynsup", "dynsup-spawner"))
    # metrics_listen on a host without the endpoint: one warning saying so, and it runs.
    with open(config) as original:
        text = original.read()
    with open(config, "w") as changed:
        changed.write(text.replace(";metrics_listen = 127.0.0.1:9464", "metrics_listen = 127.0.0.1:9464"))
    host = InstalledHost(binary, config, log_dir=WORK)
    try:
        host.start()
        assert "built without libmicrohttpd" in host.log(), host.log()
        metrics = host.cli("metrics")
        assert metrics.returncode == 0 and 'sd_notify="no",metrics_http="no"' in metrics.stdout
        assert host.stop_and_wait() == 0
    finally:
        host.kill()


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
