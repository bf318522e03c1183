"""OTP DynamicSupervisor semantics end to end (SPEC section 1, issue 2 point 1):
a real host, real worker processes, the real control socket. Every test
checks what really happened in /proc or on disk, not only the answers."""

import json
import os
import signal
import threading
import time

from harness import (DEADLINE, TIME_SCALE, Host, alive, gone, read_probe, run_tests, spawners_of, timed, wait_for,
                     wait_workers, worker_pids)

# "work" never runs out of restarts: the policy tests restart freely there.
SUPERVISORS = """
[supervisor:work]
max_restarts = 1000000
max_seconds = 1

[supervisor:limited]
max_children = 2
max_restarts = 1000000
max_seconds = 1

[supervisor:args]
extra_arguments = extra1 "extra two"

[supervisor:fragile]
max_restarts = 2
max_seconds = 30

[supervisor:other]

[event:wake]
supervisor = work
child = sleeper
"""

CHILDREN = {"sleepers.ini": """
[child:sleeper]
plugin = sleeper
restart = temporary
shutdown = 2000

[child:perm_sleeper]
plugin = sleeper
restart = permanent
shutdown = 2000

[child:trans_sleeper]
plugin = sleeper
restart = transient
shutdown = 2000

[child:named]
plugin = sleeper
restart = temporary
name = the_one

[child:stubborn_brutal]
plugin = sleeper
args = --ignore-stop
restart = permanent
shutdown = brutal_kill

[child:stubborn_timed]
plugin = sleeper
args = --ignore-stop
restart = permanent
shutdown = 1500

[child:polite_timed]
plugin = sleeper
restart = permanent
shutdown = 1500

[child:polite_infinity]
plugin = sleeper
restart = permanent
shutdown = infinity

[child:stubborn_1s]
plugin = sleeper
args = --ignore-stop
restart = permanent
shutdown = 1000
""", "others.ini": """
[child:perm_exit]
plugin = exit_code
restart = permanent

[child:trans_exit]
plugin = exit_code
restart = transient

[child:temp_exit]
plugin = exit_code
restart = temporary

[child:init_temp]
plugin = initcheck
restart = temporary

[child:init_perm]
plugin = initcheck
restart = permanent
shutdown = 2000

[child:probe]
plugin = probe
args = spec1 'spec two'
restart = permanent
shutdown = 2000
"""}


def new_host(extra_sections="", **kwargs):
    return Host(SUPERVISORS + extra_sections, CHILDREN, **kwargs)


def started(answer):
    assert answer["result"] == "ok", answer
    pid = answer["pid"]
    assert isinstance(pid, int) and pid > 0, answer
    return pid


def replacement_of(host, supervisor, child_id, old_pid):
    """Waits until child_id runs again under a pid other than old_pid."""
    def new_pid():
        pids = [p for p in host.child_pids(supervisor, child_id) if p not in (None, old_pid)]
        return pids[0] if pids and alive(pids[0]) else None
    return wait_for(new_pid, what="%s restarted with a new pid" % child_id)


def assert_not_restarted(host, supervisor, old_pid):
    wait_for(lambda: gone(old_pid), what="pid %d gone" % old_pid)
    wait_for(lambda: host.which_children(supervisor) == [], what="child removed from %s" % supervisor)
    assert worker_pids(host) == [], "a worker was started again: %r" % worker_pids(host)
    assert host.count_children(supervisor)["workers"] == 0


# ---------------------------------------------------------------- starting

def test_supervisor_starts_empty_with_no_worker_process():
    with new_host().start() as host:
        for supervisor in ("work", "limited", "args", "fragile", "other"):
            assert host.which_children(supervisor) == []
            counts = host.count_children(supervisor)
            assert (counts["specs"], counts["active"], counts["supervisors"], counts["workers"]) == (0, 0, 0, 0), counts
        assert worker_pids(host) == []


def test_start_child_answers_ok_with_the_pid_of_a_live_worker():
    with new_host().start() as host:
        pid = started(host.start_child("work", "sleeper"))
        assert alive(pid)
        assert worker_pids(host) == [pid]
        assert host.child_pids("work") == [pid]


def test_unknown_supervisor_and_unknown_child_are_errors_and_start_nothing():
    with new_host().start() as host:
        answer = host.start_child("nosuch", "sleeper")
        assert (answer["result"], answer["error"]) == ("error", "unknown_supervisor"), answer
        answer = host.start_child("work", "nosuch")
        assert (answer["result"], answer["error"]) == ("error", "unknown_child"), answer
        assert worker_pids(host) == []


def test_max_children_refuses_a_start_and_starts_no_process():
    with new_host().start() as host:
        first = started(host.start_child("limited", "sleeper"))
        second = started(host.start_child("limited", "sleeper"))
        answer = host.start_child("limited", "sleeper")
        assert answer == {"result": "error", "error": "max_children"}, answer
        assert worker_pids(host) == sorted([first, second])
        # other supervisors are not limited by it
        started(host.start_child("work", "sleeper"))


def test_max_children_zero_is_accepted_and_refuses_every_start():
    # OTP takes any non-negative max_children: 0 is a supervisor that takes
    # nothing for now, including its autostart and events.
    config = SUPERVISORS + ("\n[supervisor:closed]\nmax_children = 0\nautostart = sleeper\n"
                            "[event:knock]\nsupervisor = closed\nchild = sleeper\n")
    host = Host(config, CHILDREN)
    checked = host.cli("check")
    assert checked.returncode == 0, (checked.stdout, checked.stderr)
    with host.start() as host:
        host.wait_log("max_children")
        assert host.start_child("closed", "sleeper") == {"result": "error", "error": "max_children"}
        assert host.request({"cmd": "emit", "event": "knock"}) == {"result": "error", "error": "max_children"}
        assert host.which_children("closed") == []
        assert host.supervisor_status("closed")["max_children"] == 0
        assert worker_pids(host) == []
        started(host.start_child("work", "sleeper"))


def test_a_restarting_child_counts_toward_max_children():
    with new_host().start() as host:
        flag = host.path("init-fails")
        pid = started(host.start_child("limited", "init_perm", args=["fail-if-exists=" + flag]))
        with open(flag, "w"):
            pass
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: host.child_pids("limited") == [None], what="child restarting (pid null)")
        started(host.start_child("limited", "sleeper"))
        answer = host.start_child("limited", "sleeper")
        assert answer == {"result": "error", "error": "max_children"}, answer
        counts = host.count_children("limited")
        assert counts["workers"] == 2 and counts["active"] == 1, counts
        os.unlink(flag)
        replacement_of(host, "limited", "init_perm", pid)


# ---------------------------------------------------------------- registered names

def test_name_from_the_spec_is_unique_already_started_gives_the_existing_pid():
    with new_host().start() as host:
        pid = started(host.start_child("work", "named"))
        wait_workers(host, 1)
        answer = host.start_child("work", "named")
        assert answer == {"result": "error", "error": "already_started", "pid": pid}, answer
        assert worker_pids(host) == [pid]
        assert host.count_children("work")["workers"] == 1


def test_name_from_the_request_is_unique_across_child_specs():
    with new_host().start() as host:
        pid = started(host.start_child("work", "sleeper", name="solo"))
        answer = host.start_child("work", "sleeper", name="solo")
        assert answer == {"result": "error", "error": "already_started", "pid": pid}, answer
        answer = host.start_child("work", "perm_sleeper", name="solo")
        assert answer == {"result": "error", "error": "already_started", "pid": pid}, answer
        assert worker_pids(host) == [pid]
        # another name is another child
        started(host.start_child("work", "sleeper", name="duo"))
        assert len(worker_pids(host)) == 2


def test_name_is_free_again_once_its_child_is_terminated():
    with new_host().start() as host:
        pid = started(host.start_child("work", "named"))
        assert host.terminate_child("work", pid) == {"result": "ok"}
        assert gone(pid)
        again = started(host.start_child("work", "named"))
        assert again != pid and alive(again)


def test_concurrent_starts_with_one_name_start_exactly_one_process():
    with new_host().start() as host:
        clients = 20
        barrier = threading.Barrier(clients)
        answers = [None] * clients
        errors = []

        def client(index):
            try:
                connection = host.connect()
                with connection:
                    line = json.dumps({"cmd": "start_child", "supervisor": "work", "child": "sleeper",
                                       "name": "racer"}) + "\n"
                    barrier.wait()
                    connection.sendall(line.encode())
                    answers[index] = json.loads(connection.makefile("rb").readline())
            except Exception as error:  # reported below, in the main thread
                errors.append(error)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE)
        assert not errors, errors
        oks = [a for a in answers if a["result"] == "ok"]
        assert len(oks) == 1, answers
        pid = oks[0]["pid"]
        others = [a for a in answers if a is not oks[0]]
        assert all(a == {"result": "error", "error": "already_started", "pid": pid} for a in others), answers
        assert worker_pids(host) == [pid]
        assert host.child_pids("work") == [pid]


# ---------------------------------------------------------------- restart policies

def test_permanent_child_is_restarted_after_a_normal_exit_with_the_same_id_and_args():
    with new_host().start() as host:
        pid = started(host.start_child("work", "perm_sleeper", args=["--exit-after-ms", "300"]))
        wait_for(lambda: gone(pid), what="first worker exits by itself")
        new_pid = replacement_of(host, "work", "perm_sleeper", pid)
        child = host.which_children("work")[0]
        assert (child["id"], child["args"]) == ("perm_sleeper", ["--exit-after-ms", "300"]), child
        assert new_pid != pid
        host.terminate_child("work", new_pid)


def test_permanent_child_is_restarted_after_kill_9():
    with new_host().start() as host:
        pid = started(host.start_child("work", "perm_sleeper", args=["a1"]))
        os.kill(pid, signal.SIGKILL)
        new_pid = replacement_of(host, "work", "perm_sleeper", pid)
        assert host.which_children("work")[0]["args"] == ["a1"]
        assert worker_pids(host) == [new_pid]
        host.wait_log("killed by signal 9")


def test_transient_child_is_restarted_after_a_non_zero_exit():
    with new_host().start() as host:
        pid = started(host.start_child("work", "trans_exit", args=["--delay-ms", "300", "3"]))
        wait_for(lambda: gone(pid), what="first worker exits with 3")
        replacement_of(host, "work", "trans_exit", pid)
        host.wait_log("exit status 3")


def test_transient_child_is_restarted_after_dying_by_a_signal():
    with new_host().start() as host:
        pid = started(host.start_child("work", "trans_exit", args=["--delay-ms", "300", "--signal", "6"]))
        wait_for(lambda: gone(pid), what="first worker kills itself")
        replacement_of(host, "work", "trans_exit", pid)
        host.wait_log("killed by signal 6")


def test_transient_child_exiting_normally_is_not_restarted():
    with new_host().start() as host:
        pid = started(host.start_child("work", "trans_exit", args=["--delay-ms", "300", "0"]))
        assert_not_restarted(host, "work", pid)
        host.wait_log("not restarted (transient)")


def test_temporary_child_is_never_restarted():
    with new_host().start() as host:
        crashing = started(host.start_child("work", "temp_exit", args=["--delay-ms", "200", "--abort"]))
        assert_not_restarted(host, "work", crashing)
        failing = started(host.start_child("work", "temp_exit", args=["--delay-ms", "200", "7"]))
        assert_not_restarted(host, "work", failing)
        killed = started(host.start_child("work", "sleeper"))
        os.kill(killed, signal.SIGKILL)
        assert_not_restarted(host, "work", killed)


def test_sigterm_from_someone_else_is_an_abnormal_exit_and_restarts_the_child():
    with new_host().start() as host:
        permanent = started(host.start_child("work", "perm_sleeper"))
        transient = started(host.start_child("work", "trans_sleeper"))
        os.kill(permanent, signal.SIGTERM)
        os.kill(transient, signal.SIGTERM)
        replacement_of(host, "work", "perm_sleeper", permanent)
        replacement_of(host, "work", "trans_sleeper", transient)
        host.wait_log("exited abnormally (killed by signal 15)")


# ---------------------------------------------------------------- restart intensity

def test_intensity_exceeded_stops_every_sibling_and_the_root_restarts_the_supervisor_empty():
    with new_host().start() as host:
        victim = started(host.start_child("fragile", "perm_sleeper"))
        siblings = [started(host.start_child("fragile", "sleeper")) for _ in range(2)]
        bystander = started(host.start_child("other", "perm_sleeper"))
        for restart in range(2):  # max_restarts = 2: two restarts are allowed
            os.kill(victim, signal.SIGKILL)
            victim = replacement_of(host, "fragile", "perm_sleeper", victim)
        assert all(alive(pid) for pid in siblings)
        os.kill(victim, signal.SIGKILL)  # the third is one too many
        wait_for(lambda: all(gone(pid) for pid in siblings + [victim]), what="every sibling gone")
        wait_for(lambda: host.supervisor_status("fragile")["times_restarted"] == 1,
                 what="fragile restarted by the root")
        assert host.which_children("fragile") == []
        assert host.count_children("fragile")["workers"] == 0
        assert alive(bystander) and host.child_pids("other") == [bystander]
        assert worker_pids(host) == [bystander]
        # restarted empty and usable again
        started(host.start_child("fragile", "sleeper"))
        assert host.supervisor_status("fragile")["restarts_in_window"] == 0


def test_root_intensity_exceeded_stops_the_host_with_a_non_zero_status():
    with new_host(root_intensity=(0, 30)).start() as host:
        victim = started(host.start_child("fragile", "perm_sleeper"))
        others = [started(host.start_child("other", "sleeper")), started(host.start_child("work", "sleeper"))]
        spawners = spawners_of(host)
        for _ in range(3):
            os.kill(victim, signal.SIGKILL)
            if host.process.poll() is not None:
                break
            try:
                victim = replacement_of(host, "fragile", "perm_sleeper", victim)
            except (OSError, AssertionError, ValueError):
                break
        code = host.process.wait(DEADLINE)
        assert code != 0, host.log()
        wait_for(lambda: all(gone(pid) for pid in others + [victim] + spawners), what="every worker gone")
        assert "root restart intensity exceeded" in host.log()


# ---------------------------------------------------------------- init

def test_init_ok_answers_ok_with_a_running_child():
    with new_host().start() as host:
        pid = started(host.start_child("work", "init_temp", args=["ok"]))
        assert alive(pid) and worker_pids(host) == [pid]


def test_init_ignore_answers_ignore_and_keeps_no_child():
    with new_host().start() as host:
        assert host.start_child("work", "init_temp", args=["ignore"]) == {"result": "ignore"}
        assert host.which_children("work") == []
        wait_workers(host, 0)
        host.wait_log("init answered ignore")


def test_init_failure_answers_init_failed_naming_the_reason_and_leaves_no_process():
    with new_host().start() as host:
        answer = host.start_child("work", "init_temp", args=["fail"])
        assert (answer["result"], answer["error"]) == ("error", "init_failed"), answer
        assert "init failed on request" in answer["detail"], answer
        assert host.which_children("work") == []
        wait_workers(host, 0)


def test_init_crash_answers_init_failed_and_the_host_carries_on():
    with new_host().start() as host:
        answer = host.start_child("work", "init_temp", args=["crash"])
        assert (answer["result"], answer["error"]) == ("error", "init_failed"), answer
        assert "signal 6" in answer.get("detail", ""), answer
        wait_workers(host, 0)
        assert host.process.poll() is None
        started(host.start_child("work", "init_temp", args=["ok"]))


def test_start_child_answers_only_after_init_returned():
    with new_host().start() as host:
        answer, took = timed(host.start_child, "work", "init_temp", args=["slow=500"])
        pid = started(answer)
        assert took >= 0.4, "answered after %.3fs, before init finished" % took
        assert alive(pid)
        assert host.child_pids("work") == [pid]
        assert host.count_children("work")["active"] == 1


def test_failed_restart_keeps_the_child_restarting_until_init_succeeds_again():
    with new_host().start() as host:
        flag = host.path("init-fails")
        pid = started(host.start_child("work", "init_perm", args=["fail-if-exists=" + flag]))
        with open(flag, "w"):
            pass
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: host.child_pids("work") == [None], what="child restarting (pid null)")
        counts = host.count_children("work")
        assert counts["workers"] == 1 and counts["active"] == 0, counts
        children = host.which_children("work")
        assert children[0]["id"] == "init_perm" and children[0]["pid"] is None, children
        host.wait_log("restart failed")
        os.unlink(flag)
        new_pid = replacement_of(host, "work", "init_perm", pid)
        counts = host.count_children("work")
        assert counts["workers"] == 1 and counts["active"] == 1, counts
        assert worker_pids(host) == [new_pid]


# ---------------------------------------------------------------- terminate_child

def test_terminate_child_stops_it_before_answering_and_never_restarts_it():
    with new_host().start() as host:
        pid = started(host.start_child("work", "perm_sleeper"))
        assert host.terminate_child("work", pid) == {"result": "ok"}
        assert gone(pid), "pid %d still alive when ok arrived" % pid
        assert host.which_children("work") == []
        assert worker_pids(host) == []
        assert host.count_children("work")["workers"] == 0


def test_terminate_child_of_an_unknown_pid_is_not_found():
    with new_host().start() as host:
        pid = started(host.start_child("work", "sleeper"))
        for unknown in (999999, host.pid):
            assert host.terminate_child("work", unknown) == {"result": "error", "error": "not_found"}
        # a child of another supervisor is not this one's
        assert host.terminate_child("other", pid) == {"result": "error", "error": "not_found"}
        assert alive(pid)


# ---------------------------------------------------------------- shutdown

def test_shutdown_brutal_kill_kills_a_stubborn_worker_at_once():
    with new_host().start() as host:
        pid = started(host.start_child("work", "stubborn_brutal"))
        answer, took = timed(host.terminate_child, "work", pid)
        assert answer == {"result": "ok"}
        assert gone(pid)
        assert took < 1.5 * TIME_SCALE, "brutal_kill took %.2fs" % took
        host.wait_log("killed by signal 9")


def test_shutdown_timeout_kills_a_stubborn_worker_after_the_timeout():
    with new_host().start() as host:
        pid = started(host.start_child("work", "stubborn_timed"))
        answer, took = timed(host.terminate_child, "work", pid)
        assert answer == {"result": "ok"}
        assert gone(pid)
        assert took >= 1.4, "killed after %.2fs, before shutdown = 1500 ms" % took
        host.wait_log("did not stop within 1500 ms")


def test_shutdown_timeout_lets_a_polite_worker_stop_on_sigterm():
    with new_host().start() as host:
        pid = started(host.start_child("work", "polite_timed"))
        answer, took = timed(host.terminate_child, "work", pid)
        assert answer == {"result": "ok"}
        assert gone(pid)
        assert took < 1.2 * TIME_SCALE, "a worker honouring SIGTERM took %.2fs" % took


def test_shutdown_infinity_waits_for_the_worker_to_stop_on_sigterm():
    with new_host().start() as host:
        pid = started(host.start_child("work", "polite_infinity"))
        assert host.terminate_child("work", pid) == {"result": "ok"}
        assert gone(pid)
        assert "did not stop" not in host.log()


def test_host_stop_shuts_children_down_in_parallel():
    with new_host().start() as host:
        pids = [started(host.start_child("work", "stubborn_1s")) for _ in range(5)]
        polite = started(host.start_child("other", "perm_sleeper"))
        started_at = time.monotonic()
        host.process.send_signal(signal.SIGTERM)
        code = host.process.wait(DEADLINE)
        took = time.monotonic() - started_at
        assert code == 0, host.log()
        assert all(gone(pid) for pid in pids + [polite])
        assert 0.9 <= took < 3.5 * TIME_SCALE, "stop took %.2fs (5 x 1 s in parallel is ~1 s, in series 5 s)" % took


# ---------------------------------------------------------------- arguments and queries

def test_worker_gets_extra_then_spec_then_request_args_again_after_a_restart():
    with new_host().start() as host:
        out = host.path("probe.out")
        pid = started(host.start_child("args", "probe", args=["--out=" + out, "req 1"]))
        expected = ["extra1", "extra two", "spec1", "spec two", "--out=" + out, "req 1"]
        wait_for(lambda: os.path.exists(out), what="probe report")
        report = read_probe(out)
        assert report["arg"] == expected and int(report["pid"]) == pid, report
        os.unlink(out)
        os.kill(pid, signal.SIGKILL)
        new_pid = replacement_of(host, "args", "probe", pid)
        wait_for(lambda: os.path.exists(out), what="probe report after the restart")
        report = read_probe(out)
        assert report["arg"] == expected, report["arg"]
        assert int(report["pid"]) == new_pid


def test_which_children_shows_every_field():
    with new_host().start() as host:
        named = started(host.start_child("work", "sleeper", args=["x y", "z"], name="nm"))
        plain = started(host.start_child("work", "perm_sleeper"))
        children = host.which_children("work")
        assert [c["pid"] for c in children] == [named, plain], children
        first, second = children
        assert {k: first[k] for k in ("id", "pid", "type", "plugin", "name", "args")} == {
            "id": "sleeper", "pid": named, "type": "worker", "plugin": "sleeper", "name": "nm",
            "args": ["x y", "z"]}, first
        assert (second["id"], second["type"], second["plugin"], second["name"], second["args"]) == (
            "perm_sleeper", "worker", "sleeper", None, []), second
        answer = host.request({"cmd": "which_children", "supervisor": "nosuch"})
        assert (answer["result"], answer["error"]) == ("error", "unknown_supervisor"), answer


def test_count_children_counts_each_state():
    with new_host().start() as host:
        flag = host.path("init-fails")
        started(host.start_child("work", "sleeper"))
        started(host.start_child("work", "sleeper"))
        restarting = started(host.start_child("work", "init_perm", args=["fail-if-exists=" + flag]))
        counts = host.count_children("work")
        assert (counts["specs"], counts["active"], counts["supervisors"], counts["workers"]) == (3, 3, 0, 3), counts
        with open(flag, "w"):
            pass
        os.kill(restarting, signal.SIGKILL)
        wait_for(lambda: None in host.child_pids("work"), what="one child restarting")
        counts = host.count_children("work")
        assert (counts["specs"], counts["active"], counts["supervisors"], counts["workers"]) == (3, 2, 0, 3), counts
        os.unlink(flag)
        replacement_of(host, "work", "init_perm", restarting)
        counts = host.count_children("work")
        assert (counts["active"], counts["workers"]) == (3, 3), counts


# ---------------------------------------------------------------- events and autostart

def test_emit_answers_like_start_child():
    with new_host().start() as host:
        pid = started(host.request({"cmd": "emit", "event": "wake"}))
        assert alive(pid) and host.child_pids("work") == [pid]
        assert worker_pids(host) == [pid]


def test_emit_of_an_unknown_event_is_unknown_event():
    with new_host().start() as host:
        answer = host.request({"cmd": "emit", "event": "nosuch"})
        assert (answer["result"], answer["error"]) == ("error", "unknown_event"), answer
        assert worker_pids(host) == []


def test_sigusr1_fires_the_event_bound_to_it():
    events = "\n[event:on_usr1]\nsupervisor = other\nchild = sleeper\nsignal = SIGUSR1\n"
    with new_host(events).start() as host:
        assert host.which_children("other") == []
        os.kill(host.pid, signal.SIGUSR1)
        pid = wait_for(lambda: [p for p in host.child_pids("other") if p], what="child started by SIGUSR1")[0]
        assert alive(pid) and worker_pids(host) == [pid]
        host.wait_log("event on_usr1 fired (signal)")


def test_interval_event_fires_periodically():
    events = "\n[event:tick]\nsupervisor = other\nchild = sleeper\ninterval = 1\n"
    with new_host(events).start() as host:
        pids = wait_for(lambda: (lambda p: p if len(p) >= 2 else None)([p for p in host.child_pids("other") if p]),
                        what="two children started by the interval")
        assert all(alive(pid) for pid in pids)
        assert host.log().count("event tick fired (interval)") >= 2


def test_autostart_starts_children_at_boot():
    config = SUPERVISORS.replace("[supervisor:other]\n", "[supervisor:other]\nautostart = perm_sleeper sleeper\n")
    with Host(config, CHILDREN).start() as host:
        children = wait_for(lambda: (lambda c: c if len(c) == 2 and all(x["pid"] for x in c) else None)(
            host.which_children("other")), what="autostarted children")
        assert [c["id"] for c in children] == ["perm_sleeper", "sleeper"], children
        assert worker_pids(host) == sorted(c["pid"] for c in children)


if __name__ == "__main__":
    run_tests(globals())
