"""Logs an operator can filter (issue 11): [host] log_level and
`run --log-level` drop the lines below the level (and let debug lines
through at last); under the systemd journal (JOURNAL_STREAM naming stderr)
every line starts with its syslog priority, as `journalctl -p` reads it."""

import os
import re

from harness import Host, gone, run_cli, run_tests, wait_for

SUPERVISORS = """
[supervisor:work]
max_restarts = infinity
"""

CHILDREN = {"children.ini": """
[child:hello]
plugin = hello
restart = temporary

[child:crasher]
plugin = exit_code
args = 3
restart = temporary
"""}


def run_hello_and_crasher(host, info_logged=True):
    """A child that logs at info and debug, and one that exits abnormally (a warning)."""
    for child in ("hello", "crasher"):
        answer = host.start_child("work", child)
        assert answer["result"] == "ok", answer
        wait_for(lambda: gone(answer["pid"]), what="%s to exit" % child)
    host.wait_log("child crasher exited abnormally")
    if info_logged:
        host.wait_log("child hello exited normally")


def levels_logged(host):
    return set(re.findall(r"^(?:<\d>)?\S+Z (\w+) ", host.log(), re.M))


def test_by_default_info_and_above_are_logged_and_debug_is_not():
    with Host(SUPERVISORS, CHILDREN) as host:
        host.start()
        run_hello_and_crasher(host)
        assert "hello from hello" in host.log()
        assert "hello, in detail" not in host.log()
        assert levels_logged(host) == {"info", "warning"}, levels_logged(host)


def test_run_log_level_debug_shows_debug_lines():
    with Host(SUPERVISORS, CHILDREN, host_keys="log_level = warning") as host:
        host.start(args=["--log-level", "debug"])  # the command line wins over the config
        run_hello_and_crasher(host)
        host.wait_log("hello, in detail, from hello")
        assert re.search(r"Z debug +sup=work child=hello pid=\d+ hello, in detail", host.log()), host.log()


def test_log_level_warning_in_the_config_drops_info_lines():
    with Host(SUPERVISORS, CHILDREN, host_keys="log_level = warning") as host:
        host.start()
        run_hello_and_crasher(host, info_logged=False)
        assert levels_logged(host) == {"warning"}, host.log()
        assert "dynsup-host started" not in host.log()


def test_under_the_journal_every_line_carries_its_syslog_priority():
    with Host(SUPERVISORS, CHILDREN) as host:
        # the harness sends stderr to host.log (truncated, same inode): name
        # that file as the journal's stream
        open(host.log_path, "wb").close()
        info = os.stat(host.log_path)
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (info.st_dev, info.st_ino))
        host.start(env=env)
        run_hello_and_crasher(host)
        lines = host.log().splitlines()
        assert lines and all(re.match(r"<[0-7]>\d{4}-", line) for line in lines), lines
        assert any(line.startswith("<4>") and "exited abnormally" in line for line in lines), lines
        assert any(line.startswith("<6>") and "dynsup-host started" in line for line in lines), lines


def test_a_journal_stream_that_is_not_stderr_adds_no_prefix():
    with Host(SUPERVISORS, CHILDREN) as host:
        env = dict(os.environ, JOURNAL_STREAM="1:1")
        host.start(env=env)
        run_hello_and_crasher(host)
        assert all(re.match(r"\d{4}-", line) for line in host.log().splitlines()), host.log()


def test_bad_log_levels_are_refused():
    host = Host(SUPERVISORS, CHILDREN, host_keys="log_level = loud")
    result = run_cli("check", "-c", host.config)
    assert result.returncode == 2, result
    assert '[host] log_level: expected debug, info, notice, warning or error, found "loud"' in \
        result.stdout + result.stderr, result
    good = Host(SUPERVISORS, CHILDREN)
    result = run_cli("run", "-c", good.config, "--log-level", "chatty")
    assert result.returncode == 2 and "--log-level" in result.stderr, result
    assert not os.path.exists(good.socket_path)


if __name__ == "__main__":
    run_tests(globals())
