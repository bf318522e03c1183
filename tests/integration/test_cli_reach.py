"""The CLI says *why* it cannot reach the host, exit status 3 each time:
no socket (not running), a stale socket nobody listens on, and a socket
the caller may not use (permission denied is not "not running"). Also
--version and "--" ending the options."""

import os
import socket
import subprocess

from harness import Host, host_binary_for_anyone, run_cli, run_tests


def test_no_socket_means_not_running():
    host = Host()
    result = host.cli("status")
    assert result.returncode == 3, result
    assert "No such file or directory (no socket there: is dynsup-host running?" in result.stderr, result.stderr


def test_a_stale_socket_says_nothing_listens():
    host = Host()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(host.socket_path)
    stale.close()
    result = host.cli("status")
    assert result.returncode == 3, result
    assert "Connection refused (nothing listens on it: dynsup-host is not running" in result.stderr, \
        result.stderr


def test_a_path_that_is_not_a_socket_says_so_and_not_that_it_is_stale():
    """A stale socket may be deleted; a config file or a folder named by
    mistake must not be called one."""
    host = Host()
    for path, kind in ((host.config, "a regular file"), (host.dir, "a folder")):
        result = run_cli("status", "-s", path)
        assert result.returncode == 3, result
        assert "not a socket but %s" % kind in result.stderr, result.stderr
        assert "stale" not in result.stderr, result.stderr
    assert os.path.isfile(host.config)


def test_an_empty_socket_path_is_a_usage_error():
    result = run_cli("status", "-s", "")
    assert result.returncode == 2, result
    assert "empty" in result.stderr, result.stderr


def test_permission_denied_says_so_and_not_that_the_host_is_down():
    if os.geteuid() != 0:
        print("SKIP: needs root to run the client as another user")
        return
    with Host().start() as host:
        os.chmod(host.dir, 0o755)  # let nobody reach the run/ folder (0700): EACCES there
        result = subprocess.run([host_binary_for_anyone(), "status", "-s", host.socket_path], capture_output=True,
                                text=True, user=65534, group=65534, extra_groups=[])
        assert result.returncode == 3, result
        assert "Permission denied (you may not use it: run as root or the host's user" in result.stderr, \
            result.stderr
        assert "running" not in result.stderr


def test_version_names_the_release_and_the_built_features():
    result = run_cli("--version")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "dynsup-host 0.2.0", lines
    assert lines[1] == "plugin ABI 1", lines
    assert lines[2].startswith("sd_notify (systemd readiness, watchdog): ")
    assert lines[3].startswith("metrics endpoint (libmicrohttpd): ")


def test_double_dash_ends_the_options_and_passes_dashed_args_to_the_child():
    host = Host("[supervisor:s]\n", {"p.ini": "[child:probe]\nplugin = sleeper\n"})
    with host.start():
        result = host.cli("start-child", "--", "s", "probe", "--json", "-c")
        assert result.returncode == 0 and result.stdout.startswith("ok "), (result.stdout, result.stderr)
        children = host.which_children("s")
        assert children[0]["args"] == ["--json", "-c"], children


if __name__ == "__main__":
    run_tests(globals())
