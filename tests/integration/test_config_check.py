"""Configuration checking (SPEC section 4, issue 2 point 4): `check` reports
every error at once, each naming file, [section] and key; `run` refuses a
broken config (exit 2, no socket, no process left); bad plugins in the
plugin folder are refused with the file and the reason."""

import glob
import os
import shutil
import subprocess
import tempfile

from harness import BUILD_DIR, PLUGIN_DIR, SOURCE_DIR, Host, run_cli, run_tests, wait_for

BAD_PLUGIN_DIR = os.path.join(BUILD_DIR, "test-plugins", "bad")

GOOD_SUPERVISORS = """
[supervisor:work]
max_children = 4
max_restarts = 3
max_seconds = 5
extra_arguments = a "b c"
autostart = sleeper

[event:wake]
supervisor = work
child = sleeper
signal = SIGUSR1
interval = 3600
"""

GOOD_CHILDREN = {"sleeper.ini": """
[child:sleeper]
plugin = sleeper
args = --exit-after-ms 100000
restart = transient
shutdown = 2000
name = sleepy
"""}

BROKEN_SUPERVISORS = """
[supervisor:work]
strategy = one_for_all
max_children = 2
max_children = 3
max_restarts = lots
autostart = sleeper ghost

[event:wake]
supervisor = work
child = phantom
"""

BROKEN_CHILDREN = {
    "a.ini": """
[child:sleeper]
plugin = sleeper
restart = sometimes
colour = blue
""",
    "b.ini": """
[child:missing]
plugin = no_such_plugin
shutdown = soon
""",
}


def expected_broken_errors(host):
    """(file, '[section] key', fragment) for every error of the broken config."""
    a, b = host.path("children.d", "a.ini"), host.path("children.d", "b.ini")
    return [
        (host.config, "[host] colour", "unknown key"),
        (host.config, "[supervisor:work] strategy", "one_for_all"),
        (host.config, "[supervisor:work] max_children", "twice"),
        (host.config, "[supervisor:work] max_restarts", "lots"),
        (host.config, "[supervisor:work] autostart", "ghost"),
        (host.config, "[event:wake] child", "phantom"),
        (a, "[child:sleeper] restart", "sometimes"),
        (a, "[child:sleeper] colour", "unknown key"),
        (b, "[child:missing] plugin", "no_such_plugin"),
        (b, "[child:missing] shutdown", "soon"),
    ]


def broken_host():
    return Host(BROKEN_SUPERVISORS, BROKEN_CHILDREN, host_keys="colour = red")


def assert_every_error_reported(output, expected):
    lines = output.splitlines()
    for file_name, section_key, fragment in expected:
        matching = [line for line in lines
                    if line.startswith(file_name + ":") and section_key + ":" in line and fragment in line]
        assert matching, "no error line naming %s, %s (%s) in:\n%s" % (file_name, section_key, fragment, output)


def processes_running_config(config):
    """Pids whose command line mentions config (the host, its spawner, workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as cmdline:
                    if config.encode() in cmdline.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def plugin_dir_with(*extra_files):
    """A temporary plugin folder: copies of the good plugins plus extra_files."""
    folder = tempfile.mkdtemp(prefix="dynsup-plugins-")
    for plugin in glob.glob(os.path.join(PLUGIN_DIR, "*.so")) + list(extra_files):
        shutil.copy(plugin, folder)
    return folder


def assert_run_refuses(host, *fragments):
    result = run_cli("run", "-c", host.config)
    output = result.stdout + result.stderr
    assert result.returncode == 2, result
    for fragment in fragments:
        assert fragment in output, (fragment, output)
    assert not os.path.exists(host.socket_path)
    wait_for(lambda: processes_running_config(host.config) == [], what="no process left")
    return output


def test_check_accepts_a_valid_config():
    host = Host(GOOD_SUPERVISORS, GOOD_CHILDREN)
    result = run_cli("check", "-c", host.config)
    assert result.returncode == 0, result
    assert "ok" in result.stdout, result
    assert not os.path.exists(host.socket_path)


def test_the_shipped_example_config_is_valid_with_the_built_plugins():
    # etc/dynsup.ini points at ../build/plugins; check a copy that points at this build.
    etc = os.path.join(SOURCE_DIR, "etc")
    folder = tempfile.mkdtemp(prefix="dynsup-etc-")
    shutil.copytree(etc, os.path.join(folder, "etc"))
    config = os.path.join(folder, "etc", "dynsup.ini")
    with open(config) as source:
        lines = source.read().splitlines()
    with open(config, "w") as target:
        for line in lines:
            if line.replace(" ", "").startswith("plugin_dir="):
                line = "plugin_dir = " + os.path.abspath(PLUGIN_DIR)
            target.write(line + "\n")
    result = run_cli("check", "-c", config)
    assert result.returncode == 0, result


def test_check_reports_every_error_with_file_section_and_key():
    host = broken_host()
    result = run_cli("check", "-c", host.config)
    assert result.returncode == 2, result
    assert_every_error_reported(result.stdout + result.stderr, expected_broken_errors(host))


def test_run_refuses_a_broken_config_and_leaves_nothing_behind():
    host = broken_host()
    output = assert_run_refuses(host)
    assert_every_error_reported(output, expected_broken_errors(host))


def test_a_plugin_with_the_wrong_abi_version_is_refused_by_check_and_run():
    folder = plugin_dir_with(os.path.join(BAD_PLUGIN_DIR, "bad_abi.so"))
    host = Host(GOOD_SUPERVISORS, GOOD_CHILDREN, plugin_dir=folder)
    expected = os.path.join(folder, "bad_abi.so") + ": abi_version: expected 1, found 2"
    result = run_cli("check", "-c", host.config)
    assert result.returncode == 2, result
    assert expected in result.stdout + result.stderr, result
    assert_run_refuses(host, expected)


def test_other_bad_plugins_are_refused_naming_the_file():
    bad = ["no_symbol.so", "wrong_name.so", "no_run.so", "junk.so"]
    folder = plugin_dir_with(*(os.path.join(BAD_PLUGIN_DIR, name) for name in bad))
    host = Host(GOOD_SUPERVISORS, GOOD_CHILDREN, plugin_dir=folder)
    result = run_cli("check", "-c", host.config)
    output = result.stdout + result.stderr
    assert result.returncode == 2, result
    for name in bad:
        assert os.path.join(folder, name) + ":" in output, (name, output)
    assert "dynsup_plugin" in output  # dlerror() names the missing symbol


def test_a_plugin_crashing_in_its_constructor_fails_check_without_crashing_the_host():
    build = tempfile.mkdtemp(prefix="dynsup-crashy-")
    source = os.path.join(build, "crashy.c")
    with open(source, "w") as c_file:
        c_file.write("""
#include <stdlib.h>
#include <dynsup/plugin.h>

__attribute__((constructor)) static void explode(void) { abort(); }

static int crashy_run(dynsup_worker *w, int argc, char **argv)
{
    (void)w; (void)argc; (void)argv;
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "crashy",
    .version = "1.0.0",
    .run = crashy_run,
};
""")
    plugin = os.path.join(build, "crashy.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-I", os.path.join(SOURCE_DIR, "core", "include"), source,
                    "-o", plugin], check=True)
    folder = plugin_dir_with(plugin)
    host = Host(GOOD_SUPERVISORS, GOOD_CHILDREN, plugin_dir=folder)
    result = run_cli("check", "-c", host.config)
    output = result.stdout + result.stderr
    assert result.returncode == 2, result  # an exit status, not a signal: the host itself is fine
    assert folder in output and "crashed" in output, output
    assert_run_refuses(host, "crashed")



# ---- what a config file may be (issue 9 item 5) ----

def host_with_files_that_are_not_config_files():
    """A FIFO, /dev/zero and a 2 MiB file among the child specs: none may
    block, bloat or be read; each must be named."""
    host = Host(GOOD_SUPERVISORS, GOOD_CHILDREN)
    os.mkfifo(host.path("children.d", "fifo.ini"))
    os.symlink("/dev/zero", host.path("children.d", "zero.ini"))
    with open(host.path("children.d", "huge.ini"), "w") as huge:
        huge.truncate(2 * 1024 * 1024)
    return host


def test_check_and_run_name_every_file_that_is_not_a_config_file_without_hanging():
    host = host_with_files_that_are_not_config_files()
    result = run_cli("check", "-c", host.config, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 2, result
    assert host.path("children.d", "fifo.ini") + ": not a regular file (a FIFO)" in output, output
    assert host.path("children.d", "zero.ini") + ": not a regular file (a character device)" in output, output
    assert host.path("children.d", "huge.ini") + ": 2097152 bytes, more than a config file may hold" in output, output
    assert_run_refuses(host, "fifo.ini: not a regular file", "zero.ini: not a regular file", "huge.ini: 2097152 bytes")


def test_client_commands_do_not_hang_on_a_bad_children_dir():
    host = host_with_files_that_are_not_config_files()
    # no host runs: the client still finds the socket path and says so
    result = run_cli("status", "-c", host.config, timeout=60)
    assert result.returncode == 3, result
    assert host.socket_path in result.stderr, result
    result = run_cli("stop", "-c", host.config, timeout=60)
    assert result.returncode == 3, result


def test_a_symlinked_config_like_a_configmap_is_fine():
    host = Host(GOOD_SUPERVISORS, {})
    data = host.path("children.d", "..data")
    os.mkdir(data)
    with open(os.path.join(data, "sleeper.ini"), "w") as spec:
        spec.write(GOOD_CHILDREN["sleeper.ini"])
    os.symlink("..data/sleeper.ini", host.path("children.d", "sleeper.ini"))
    result = run_cli("check", "-c", host.config)
    assert result.returncode == 0, result

if __name__ == "__main__":
    run_tests(globals())
