"""Workers die with the host (issue 5 point 3, SPEC section 3): even when
the host is killed with SIGKILL, even when they ignore SIGTERM, even while
their init is still running; and when the spawner (the host's only child,
the workers' parent) is killed, the workers go with it and the host stops
with a non-zero status, naming the failure.
"""

import json
import os
import signal
import socket
import time

from harness import (DEADLINE, SPARE, TIME_SCALE, Host, alive, comm_of, parent_of, processes_of,
                     run_tests, spawners_of, wait_for)

# SPEC section 3 / issue 5: every worker gone within one second.
DEATH_BUDGET_S = 1.0 * TIME_SCALE
STUBBORN_COUNT = 40
PLAIN_COUNT = 10
IN_INIT_COUNT = 5

SUPERVISORS = """
[supervisor:work]
max_restarts = 1000

[supervisor:slow_init]
"""

CHILDREN = {"death.ini": """
[child:stubborn]
plugin = sleeper
args = --ignore-stop
restart = permanent
shutdown = infinity

[child:plain]
plugin = sleeper
restart = permanent
shutdown = 5000

[child:slow_init]
plugin = initcheck
args = slow=600000
restart = permanent
shutdown = infinity
"""}


def start(supervisor, child):
    return {"cmd": "start_child", "supervisor": supervisor, "child": child}


def populate(host):
    """Stubborn and plain workers running, and a few stuck in init: returns
    every process of this host except the host itself (spawner included)."""
    answers = host.requests([start("work", "stubborn")] * STUBBORN_COUNT
                            + [start("work", "plain")] * PLAIN_COUNT)
    assert all(a["result"] == "ok" for a in answers), answers
    stubborn = [a["pid"] for a in answers[:STUBBORN_COUNT]]
    # Every stubborn worker really ignores stop requests: its own log says so.
    wait_for(lambda: all("pid=%d sleeping (ignoring stop requests)" % pid in host.log() for pid in stubborn),
             what="every stubborn worker to report that it ignores stop requests")
    # start_child answers only after init: these requests stay unanswered.
    waiting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    waiting.connect(host.socket_path)
    waiting.sendall(("".join(json.dumps(start("slow_init", "slow_init")) + "\n"
                             for _ in range(IN_INIT_COUNT))).encode())
    spawners = spawners_of(host)
    wait_for(lambda: sum(1 for pid in processes_of(host) if comm_of(pid) == "slow_init") == IN_INIT_COUNT,
             what="%d workers inside a slow init" % IN_INIT_COUNT)
    ours = [pid for pid in processes_of(host) if pid != host.pid]  # spares included: they die too
    assert set(spawners) <= set(ours)
    workers = [pid for pid in ours if pid not in spawners and comm_of(pid) != SPARE]
    assert len(workers) == STUBBORN_COUNT + PLAIN_COUNT + IN_INIT_COUNT, workers
    return ours, waiting, stubborn


def seconds_until_gone(pids, started):
    """Polls until no pid is alive; the time since `started`."""
    wait_for(lambda: not [pid for pid in pids if alive(pid)], timeout=DEADLINE, interval=0.002,
             what="every worker to die")
    return time.monotonic() - started


def test_every_worker_dies_within_a_second_of_the_host_being_killed():
    with Host(SUPERVISORS, CHILDREN).start() as host:
        ours, waiting, _ = populate(host)
        spawners = spawners_of(host)
        started = time.monotonic()
        host.process.send_signal(signal.SIGKILL)
        took = seconds_until_gone(ours, started)
        host.process.wait()
        waiting.close()
        print("host SIGKILLed: %d spawners and spares and %d workers (%d ignoring SIGTERM, %d in init) "
              "gone in %.3f s" % (len(spawners), STUBBORN_COUNT + PLAIN_COUNT + IN_INIT_COUNT,
                                  STUBBORN_COUNT, IN_INIT_COUNT, took),
              flush=True)
        assert not [pid for pid in spawners if alive(pid)]
        assert took <= DEATH_BUDGET_S, "workers outlived the host by %.3f s" % took
        assert not processes_of(host), processes_of(host)


def test_a_killed_plugin_process_takes_its_workers_and_the_host_lives_on():
    """SPEC section 8: a plugin process's death is its workers' abnormal
    exit (killed), restarted by their own policy from a relaunched process;
    the host and the other plugins' workers live on."""
    with Host(SUPERVISORS, CHILDREN).start() as host:
        ours, waiting, stubborn = populate(host)
        spawner = parent_of(stubborn[0])  # the sleeper plugin's process
        its_workers = [pid for pid in ours if pid != spawner and alive(pid) and parent_of(pid) == spawner]
        others = [pid for pid in ours if pid not in its_workers and pid != spawner]
        started = time.monotonic()
        os.kill(spawner, signal.SIGKILL)
        took = seconds_until_gone(its_workers, started)
        print("plugin process SIGKILLed: its %d workers gone in %.3f s" % (len(its_workers), took),
              flush=True)
        assert took <= DEATH_BUDGET_S, "workers outlived their plugin process by %.3f s" % took
        wait_for(lambda: len([p for p in host.child_pids("work") if p]) == STUBBORN_COUNT + PLAIN_COUNT
                 and not set(host.child_pids("work")) & set(its_workers),
                 what="every permanent child restarted")
        assert host.process.poll() is None, "the host died with a plugin process"
        assert "plugin sleeper relaunched" in host.log(), host.log()
        assert all(alive(pid) for pid in others), "another plugin's process or workers were harmed"
        waiting.close()
        # (its stubborn workers ignore SIGTERM with shutdown = infinity: no clean stop)
        host.kill()
        wait_for(lambda: not processes_of(host), what="every process of the host gone")


def test_a_host_killed_right_after_a_start_leaves_nothing_behind():
    """A kill racing with spawns in flight: whatever was forked dies too."""
    with Host(SUPERVISORS, CHILDREN).start() as host:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(host.socket_path)
        client.sendall(("".join(json.dumps(start("work", "stubborn")) + "\n" for _ in range(200))).encode())
        wait_for(lambda: len(processes_of(host)) >= 20, what="the first workers")
        started = time.monotonic()
        host.process.send_signal(signal.SIGKILL)
        # Forks still in flight may add processes after the kill: look for
        # stragglers by the marker until none is left.
        wait_for(lambda: processes_of(host) == [], timeout=DEADLINE, interval=0.002,
                 what="every process of the killed host gone")
        took = time.monotonic() - started
        host.process.wait()
        client.close()
        print("host SIGKILLed amid 200 pipelined starts: everything gone in %.3f s" % took, flush=True)
        assert took <= DEATH_BUDGET_S, "processes outlived the host by %.3f s" % took


if __name__ == "__main__":
    run_tests(globals())
