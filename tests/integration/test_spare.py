"""The spare worker (README "Architecture"): after a plugin's first start the
host keeps one prepared worker of that plugin, named dynsup-spare and forked
by the plugin's spawner, and the next start becomes it (the host writes the
job to it); a spare that never got a job is no worker of the tree."""

import os
import signal
import time

from harness import (SPARE, Host, alive, children_of, comm_of, gone, parent_of, read_probe,
                     run_tests, spawners_of, wait_for)

SUPERVISOR = """
[supervisor:work]
max_children = infinity
extra_arguments = extra1 "extra two"
"""

CHILDREN = {"probe.ini": """
[child:probe]
plugin = probe
args = spec1 'spec two'
restart = temporary
shutdown = 2000

[child:sleeper]
plugin = sleeper
restart = temporary
shutdown = 2000
"""}


def spare_of(host, plugin_worker_pid=None, other_than=None):
    """Waits for the dynsup-spare of the spawner that forked
    plugin_worker_pid (or of any spawner); returns its pid."""
    found = []

    def ready():
        parents = [parent_of(plugin_worker_pid)] if plugin_worker_pid else spawners_of(host)
        found[:] = [pid for parent in parents for pid in children_of(parent)
                    if comm_of(pid) == SPARE and pid != other_than]
        return len(found) == 1

    wait_for(ready, what="one spare")
    return found[0]


def probe_report(host, answer, out):
    assert answer["result"] == "ok", answer
    wait_for(lambda: os.path.exists(out), what="probe report")
    return read_probe(out)


def test_no_spare_before_a_plugins_first_start():
    with Host(SUPERVISOR, CHILDREN).start() as host:
        spawners = spawners_of(host)
        assert len(spawners) >= 2, spawners  # one per plugin of the build's plugin folder
        assert not [pid for pid in (p for s in spawners for p in children_of(s)) if comm_of(pid) == SPARE]


def test_the_next_start_becomes_the_spare_and_is_a_clean_worker():
    with Host(SUPERVISOR, CHILDREN).start() as host:
        first = host.start_child("work", "probe", args=["--out=" + host.path("first.out")])
        assert first["result"] == "ok", first
        spare = spare_of(host, first["pid"])
        # No child of the tree: which_children lists the worker alone.
        assert [c["pid"] for c in host.which_children("work")] == [first["pid"]]
        out = host.path("second.out")
        second = host.start_child("work", "probe", args=["--out=" + out, "req one"])
        assert second["pid"] == spare, (second, spare)
        report = probe_report(host, second, out)
        # Everything a freshly forked worker has, the spare has too.
        assert report["arg"] == ["extra1", "extra two", "spec1", "spec two", "--out=" + out, "req one"]
        assert sorted(int(entry.split(" ")[0]) for entry in report["fd"]) == [0, 1, 2], report["fd"]
        assert report["sigterm"] == "caught", report
        assert report["non_default_signals"] == "(none)", report
        assert report["blocked_signals"] == "(none)", report
        assert report["pdeathsig"] == "9", report
        assert report["child_id"] == "probe" and report["supervisor"] == "work", report
        assert comm_of(spare) == "probe"
        # ... and the spawner prepares the next one.
        assert spare_of(host, first["pid"], other_than=spare) != spare


def spares_of(spawner):
    return [pid for pid in children_of(spawner) if comm_of(pid) == SPARE]


def test_a_killed_spare_is_replaced_without_the_host_noticing():
    with Host(SUPERVISOR, CHILDREN).start() as host:
        first = host.start_child("work", "sleeper")
        spawner = parent_of(first["pid"])
        spare = spare_of(host, first["pid"])
        os.kill(spare, signal.SIGKILL)
        # Reaped, not only dead: no longer a child of its spawner.
        wait_for(lambda: spare not in children_of(spawner), what="the killed spare reaped")
        counts = host.count_children("work")
        assert counts["active"] == 1 and counts["workers"] == 1, counts
        assert "pid=%d" % spare not in host.log(), host.log()
        assert "died" not in host.log(), host.log()
        # No spare until the next start (a spare that keeps dying must not
        # make its spawner fork in a loop): checked for a while.
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            assert not spares_of(spawner), spares_of(spawner)
            time.sleep(0.05)
        second = host.start_child("work", "sleeper")
        assert second["result"] == "ok" and alive(second["pid"]), second
        assert second["pid"] != spare
        wait_for(lambda: len(spares_of(spawner)) == 1, what="a new spare after the next start")


def test_a_spare_told_to_stop_ends_by_sigterm_and_the_next_start_runs():
    """systemctl kill or pkill reach spares too: a SIGTERM ends a waiting
    spare (by that signal), and must not stop the worker of the next start."""
    with Host(SUPERVISOR, CHILDREN).start() as host:
        first = host.start_child("work", "sleeper")
        spawner = parent_of(first["pid"])
        spare = spare_of(host, first["pid"])
        os.kill(spare, signal.SIGTERM)
        wait_for(lambda: spare not in children_of(spawner), what="the stopped spare reaped")
        assert alive(first["pid"])
        second = host.start_child("work", "sleeper")
        assert second["result"] == "ok", second
        third = host.start_child("work", "sleeper")  # from the spare made after the second
        assert third["result"] == "ok", third
        time.sleep(0.3)  # a stop request would end them within milliseconds
        assert alive(second["pid"]) and alive(third["pid"])
        counts = host.count_children("work")
        assert counts["active"] == 3, counts


def test_a_job_over_pipe_buf_forks_and_leaves_the_spare_waiting():
    with Host(SUPERVISOR, CHILDREN).start() as host:
        first = host.start_child("work", "probe", args=["--out=" + host.path("first.out")])
        spare = spare_of(host, first["pid"])
        out = host.path("big.out")
        big = ["x" * 1000 + str(i) for i in range(6)]  # over PIPE_BUF (4096 bytes) in all
        answer = host.start_child("work", "probe", args=["--out=" + out] + big)
        assert answer["pid"] != spare, (answer, spare)
        assert probe_report(host, answer, out)["arg"][5:] == big
        assert alive(spare) and comm_of(spare) == SPARE


def test_spares_go_when_the_host_stops():
    with Host(SUPERVISOR, CHILDREN).start() as host:
        first = host.start_child("work", "sleeper")
        spare = spare_of(host, first["pid"])
        spawners = spawners_of(host)
        host.process.send_signal(signal.SIGTERM)
        assert host.process.wait(30) == 0, host.log()
        wait_for(lambda: gone(spare) and all(gone(pid) for pid in spawners),
                 what="the spare and the spawners gone")


if __name__ == "__main__":
    run_tests(globals())
