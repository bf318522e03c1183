"""The command line (SPEC section 6, issue 2 point 6): every client command's
human output and exit status, --json, --help, usage errors, an unreachable
host, and -s SOCKET as well as -c CONFIG."""

import json
import os
import re

from harness import Host, alive, gone, run_cli, run_tests, wait_for, worker_pids

SUPERVISORS = """
[supervisor:work]

[supervisor:limited]
max_children = 1

[event:wake]
supervisor = work
child = sleeper
"""

CHILDREN = {"c.ini": """
[child:sleeper]
plugin = sleeper
restart = temporary
shutdown = 2000

[child:named]
plugin = sleeper
restart = temporary
name = only_one

[child:init]
plugin = initcheck
restart = temporary
"""}

CLIENT_COMMANDS = ["start-child", "terminate-child", "which-children", "count-children", "status",
                   "plugins", "emit", "stop"]


def new_host():
    return Host(SUPERVISORS, CHILDREN)


def ok_pid(result):
    match = re.fullmatch(r"ok (\d+)\n", result.stdout)
    assert match, "stdout %r stderr %r" % (result.stdout, result.stderr)
    return int(match.group(1))


def test_start_child_prints_ok_and_the_pid():
    with new_host().start() as host:
        pid = ok_pid(host.cli("start-child", "work", "sleeper", check=0))
        assert alive(pid) and worker_pids(host) == [pid]


def test_start_child_passes_args_and_name():
    with new_host().start() as host:
        pid = ok_pid(host.cli("start-child", "--name", "nm", "work", "sleeper", "--exit-after-ms", "60000",
                              "two words", check=0))
        child = host.which_children("work")[0]
        assert (child["pid"], child["name"], child["args"]) == (pid, "nm", ["--exit-after-ms", "60000", "two words"])


def test_start_child_ignore_prints_ignore_and_exits_zero():
    with new_host().start() as host:
        result = host.cli("start-child", "work", "init", "ignore", check=0)
        assert result.stdout == "ignore\n", result
        assert host.which_children("work") == []


def test_start_child_errors_print_the_reason_and_exit_one():
    with new_host().start() as host:
        first = ok_pid(host.cli("start-child", "limited", "sleeper", check=0))
        result = host.cli("start-child", "limited", "sleeper", check=1)
        assert result.stdout == "error max_children\n", result
        assert worker_pids(host) == [first]

        named = ok_pid(host.cli("start-child", "work", "named", check=0))
        result = host.cli("start-child", "work", "named", check=1)
        assert result.stdout == "error already_started %d\n" % named, result

        result = host.cli("start-child", "work", "nosuch", check=1)
        assert result.stdout == "error unknown_child\n", result
        assert "nosuch" in result.stderr, result

        result = host.cli("start-child", "work", "init", "fail", check=1)
        assert result.stdout == "error init_failed\n", result
        assert "init failed on request" in result.stderr, result
        # the worker whose init failed exits by itself right after answering
        wait_for(lambda: sorted(worker_pids(host)) == sorted([first, named]),
                 what="only the two started workers left")


def test_terminate_child_prints_ok_and_the_child_is_gone():
    with new_host().start() as host:
        pid = ok_pid(host.cli("start-child", "work", "sleeper", check=0))
        result = host.cli("terminate-child", "work", pid, check=0)
        assert result.stdout == "ok\n", result
        assert gone(pid)
        result = host.cli("terminate-child", "work", pid, check=1)
        assert result.stdout == "error not_found\n", result
        host.cli("terminate-child", "work", "twelve", check=2)
        # Only digits: strtoull alone would read " 12" and "+12" as pid 12.
        for text in (" %s" % pid, "+%s" % pid, "%s " % pid):
            host.cli("terminate-child", "work", text, check=2)
            host.cli("terminate-child", "work", "--key", text.replace(str(pid), "1"), check=2)


def test_which_children_prints_a_table_of_children():
    with new_host().start() as host:
        pid = ok_pid(host.cli("start-child", "--name", "nm", "work", "sleeper", "a b", check=0))
        result = host.cli("which-children", "work", check=0)
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["KEY", "ID", "PID", "STATE", "RESTARTS", "UPTIME", "LAST_EXIT",
                                    "RESTART_IN", "PLUGIN", "VERSION", "NAME", "ARGS"], result.stdout
        assert len(lines) == 2, result.stdout
        [child] = host.which_children("work")
        row = lines[1].split()
        assert row[:5] == [str(child["key"]), "sleeper", str(pid), "running", "0"], result.stdout
        assert row[6:11] == ["-", "-", "sleeper", child["plugin_version"], "nm"], result.stdout
        assert "'a b'" in lines[1], result.stdout
        result = host.cli("which-children", "nosuch", check=1)
        assert result.stdout == "error unknown_supervisor\n", result


def test_which_children_all_lists_every_supervisor():
    with new_host().start() as host:
        ok_pid(host.cli("start-child", "work", "sleeper", check=0))
        limited = ok_pid(host.cli("start-child", "limited", "sleeper", check=0))
        result = host.cli("which-children", "--all", check=0)
        lines = result.stdout.splitlines()
        assert lines[0].split()[:3] == ["SUPERVISOR", "KEY", "ID"], result.stdout
        assert sorted(line.split()[0] for line in lines[1:]) == ["limited", "work"], result.stdout
        result = host.cli("which-children", "--all", "--json", check=0)
        answer = json.loads(result.stdout)
        assert [(c["supervisor"], c["pid"]) for c in answer["children"] if c["supervisor"] == "limited"] == \
            [("limited", limited)], answer
        host.cli("which-children", "--all", "work", check=2)
        host.cli("which-children", check=2)


def test_count_children_prints_the_counts():
    with new_host().start() as host:
        ok_pid(host.cli("start-child", "work", "sleeper", check=0))
        ok_pid(host.cli("start-child", "work", "sleeper", check=0))
        result = host.cli("count-children", "work", check=0)
        assert result.stdout == "specs 2 active 2 supervisors 0 workers 2\n", result


def test_status_prints_the_tree():
    with new_host().start() as host:
        ok_pid(host.cli("start-child", "work", "sleeper", check=0))
        result = host.cli("status", check=0)
        assert result.stdout.startswith("dynsup-host pid %d, up " % host.pid), result.stdout
        assert re.search(r"work: specs 1, active 1, workers 1", result.stdout), result.stdout
        assert re.search(r"limited: .*max_children 1", result.stdout), result.stdout


def test_plugins_lists_every_loaded_plugin_with_its_version():
    with new_host().start() as host:
        result = host.cli("plugins", check=0)
        rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}
        for name in ("hello", "sleeper", "exit_code", "probe", "initcheck"):
            assert rows.get(name) == "1.0.0", result.stdout
        assert ".so" in result.stdout


def test_emit_prints_the_start_child_answer():
    with new_host().start() as host:
        pid = ok_pid(host.cli("emit", "wake", check=0))
        assert alive(pid) and host.child_pids("work") == [pid]
        result = host.cli("emit", "nosuch", check=1)
        assert result.stdout == "error unknown_event\n", result


def test_stop_prints_ok_and_the_host_exits_zero():
    with new_host().start() as host:
        pid = ok_pid(host.cli("start-child", "work", "sleeper", check=0))
        result = host.cli("stop", check=0)
        assert result.stdout == "ok\n", result
        assert host.process.wait(20) == 0
        assert gone(pid)


def test_json_prints_the_protocol_line_as_is():
    with new_host().start() as host:
        result = host.cli("start-child", "--json", "work", "sleeper", check=0)
        assert result.stdout.count("\n") == 1
        answer = json.loads(result.stdout)
        assert set(answer) == {"result", "pid"} and answer["result"] == "ok", answer
        pid = answer["pid"]
        checks = [
            (("which-children", "--json", "work"), 0, lambda a: [c["pid"] for c in a["children"]] == [pid]),
            (("count-children", "--json", "work"), 0, lambda a: a["workers"] == 1),
            (("status", "--json"), 0, lambda a: a["pid"] == host.pid),
            (("plugins", "--json"), 0, lambda a: "sleeper" in [p["name"] for p in a["plugins"]]),
            (("start-child", "--json", "limited", "nosuch"), 1, lambda a: a["error"] == "unknown_child"),
            (("terminate-child", "--json", "work", pid), 0, lambda a: a == {"result": "ok"}),
            (("emit", "--json", "nosuch"), 1, lambda a: a["error"] == "unknown_event"),
            (("stop", "--json"), 0, lambda a: a == {"result": "ok"}),
        ]
        for args, code, predicate in checks:
            result = host.cli(*args, check=code)
            lines = result.stdout.splitlines()
            assert len(lines) == 1, (args, result.stdout)
            assert predicate(json.loads(lines[0])), (args, result.stdout)
        assert host.process.wait(20) == 0


def test_help_on_every_command_exits_zero():
    for command in ["run", "check"] + CLIENT_COMMANDS:
        result = run_cli(command, "--help")
        assert result.returncode == 0, (command, result)
        assert "usage: dynsup-host %s" % command in result.stdout, (command, result.stdout)
    for top in (["--help"], ["help"]):
        result = run_cli(*top)
        assert result.returncode == 0 and all(c in result.stdout for c in CLIENT_COMMANDS), result


def test_usage_errors_exit_two():
    with new_host().start() as host:
        bad = [
            [],
            ["frobnicate"],
            ["start-child", "-c", host.config, "work"],
            ["terminate-child", "-c", host.config, "work"],
            ["which-children", "-c", host.config],
            ["which-children", "-c", host.config, "work", "extra"],
            ["status", "-c", host.config, "--bogus"],
            ["status", "-c"],
            ["emit", "-c", host.config],
            ["status", "-c", host.config, "--name", "x"],
            ["run", "-c", host.config, "extra"],
            ["check", "--bogus"],
            # ids the protocol would refuse anyway: a usage error, before asking
            ["start-child", "-c", host.config, "WORK", "sleeper"],
            ["start-child", "-c", host.config, "--name", "Bad Name", "work", "sleeper"],
            ["terminate-child", "-c", host.config, "work", "--name", "x" * 65],
            ["which-children", "-c", host.config, "w-o-r-k"],
            ["emit", "-c", host.config, "Foo Bar"],
        ]
        for args in bad:
            result = run_cli(*args)
            assert result.returncode == 2, (args, result)
        # check and run word their option errors like every other command
        for args, said in ((["check", "-s", "/x"], "dynsup-host check: unknown option -s"),
                           (["run", "--bogus"], "dynsup-host run: unknown option --bogus"),
                           (["check", "-c"], "dynsup-host check: option -c needs a value")):
            result = run_cli(*args)
            assert result.returncode == 2, (args, result)
            assert result.stderr.startswith(said), (args, result.stderr)
            assert result.stderr, (args, result)
        assert worker_pids(host) == []


def test_unreachable_host_exits_three():
    host = new_host()  # configured, never started: no socket
    for command in (["status"], ["start-child", "work", "sleeper"], ["stop"], ["which-children", "work"]):
        result = host.cli(*command)
        assert result.returncode == 3, (command, result)
        assert host.socket_path in result.stderr, result
        result = run_cli(command[0], "-s", host.path("nothing.sock"), *command[1:])
        assert result.returncode == 3, (command, result)


def test_socket_option_works_like_config():
    with new_host().start() as host:
        result = run_cli("start-child", "-s", host.socket_path, "work", "sleeper")
        assert result.returncode == 0, result
        pid = ok_pid(result)
        result = run_cli("count-children", "-s", host.socket_path, "work")
        assert result.stdout == "specs 1 active 1 supervisors 0 workers 1\n", result
        # -s wins over a -c that points nowhere useful
        result = run_cli("terminate-child", "-c", "/nonexistent/dynsup.ini", "-s", host.socket_path, "work", pid)
        assert (result.returncode, result.stdout) == (0, "ok\n"), result
        assert gone(pid)
        # DYNSUP_CONFIG is the default config
        env = dict(os.environ, DYNSUP_CONFIG=host.config)
        result = run_cli("status", env=env)
        assert result.returncode == 0 and "dynsup-host pid %d" % host.pid in result.stdout, result


if __name__ == "__main__":
    run_tests(globals())
