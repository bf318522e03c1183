"""which_children of many children is snapshotted in slices between the
loop's other work and formatted in a thread below the host's priority
(issue 13 item 1): the answer is still whole and in its connection's
request order, supervision goes on while it is written, and a stop in the
middle of it ends cleanly.
"""

import json
import os
import signal
import threading

from harness import Host, run_tests, wait_for

COUNT = 700  # many slices (64 entries each)

SUPERVISORS = """
[supervisor:many]
max_restarts = 100
max_seconds = 5
"""

CHILDREN = {"many.ini": """
[child:sleepy]
plugin = sleeper
restart = permanent
shutdown = brutal_kill
"""}


def test_a_long_listing_is_whole_and_in_request_order():
    with Host(SUPERVISORS, CHILDREN).start() as host:
        answers = host.requests([{"cmd": "start_child", "supervisor": "many", "child": "sleepy"}] * COUNT)
        pids = [a["pid"] for a in answers]
        assert all(a["result"] == "ok" for a in answers)
        listing = {"cmd": "which_children", "supervisor": "many"}
        counting = {"cmd": "count_children", "supervisor": "many"}
        first, counts, second = host.requests([listing, counting, listing])
        for answer in (first, second):
            assert answer["result"] == "ok"
            assert sorted(c["pid"] for c in answer["children"]) == sorted(pids)
            assert [c["key"] for c in answer["children"]] == sorted(c["key"] for c in answer["children"])
        assert counts == {"result": "ok", "specs": COUNT, "active": COUNT, "supervisors": 0,
                          "workers": COUNT}
        assert host.stop() == 0


def test_supervision_goes_on_while_listings_are_written():
    with Host(SUPERVISORS, CHILDREN).start() as host:
        answers = host.requests([{"cmd": "start_child", "supervisor": "many", "child": "sleepy"}] * COUNT)
        pids = [a["pid"] for a in answers]
        stop = threading.Event()
        listed = [0]

        def lister():
            with host.connect() as client:
                reader = client.makefile("rb")
                while not stop.is_set():
                    # many listings in flight at once on one connection
                    client.sendall((json.dumps({"cmd": "which_children", "supervisor": "many"}) + "\n")
                                   .encode() * 8)
                    for _ in range(8):
                        assert len(json.loads(reader.readline())["children"]) >= COUNT - 1
                        listed[0] += 1

        thread = threading.Thread(target=lister, daemon=True)
        thread.start()
        try:
            for victim in pids[:20]:
                os.kill(victim, signal.SIGKILL)
                wait_for(lambda: victim not in host.child_pids("many")
                         and len([p for p in host.child_pids("many") if p]) == COUNT,
                         what="the killed child restarted while listings are written")
        finally:
            stop.set()
            thread.join(30)
        print("20 restarts while %d listings of %d children were written" % (listed[0], COUNT))
        assert listed[0] > 0
        assert host.stop() == 0


def thread_scheduling(pid):
    """{thread id: (policy, nice)} of every thread of pid, from /proc."""
    threads = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        # after the command: state is field 3, nice field 19, policy field 41
        threads[int(tid)] = (int(fields[41 - 3]), int(fields[19 - 3]))
    return threads


SCHED_OTHER, SCHED_BATCH = 0, 3


def test_listings_are_formatted_below_the_hosts_priority():
    with Host(SUPERVISORS, CHILDREN).start() as host:
        host.requests([{"cmd": "start_child", "supervisor": "many", "child": "sleepy"}] * COUNT)
        main_policy, main_nice = thread_scheduling(host.pid)[host.pid]
        assert main_policy == SCHED_OTHER
        answer = host.request({"cmd": "which_children", "supervisor": "many"})
        assert len(answer["children"]) == COUNT
        formatters = {tid: scheduling for tid, scheduling in thread_scheduling(host.pid).items()
                      if tid != host.pid}
        print("host thread: policy %d nice %d; others: %s" % (main_policy, main_nice, formatters))
        assert formatters, "no thread formatted the listing"
        assert (SCHED_BATCH, min(19, main_nice + 5)) in formatters.values()
        # and none of them takes a signal meant for the loop
        for tid in formatters:
            with open("/proc/%d/task/%d/status" % (host.pid, tid)) as status:
                blocked = int(next(l for l in status if l.startswith("SigBlk:")).split()[1], 16)
            for number in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1,
                           signal.SIGUSR2, signal.SIGTERM, signal.SIGCHLD):
                assert blocked & (1 << (number - 1)), "thread %d takes %s" % (tid, number.name)
        assert thread_scheduling(host.pid)[host.pid] == (main_policy, main_nice)
        assert host.stop() == 0


def test_a_stop_while_listings_are_formatted_ends_cleanly():
    with Host(SUPERVISORS, CHILDREN).start() as host:
        pids = [a["pid"] for a in host.requests(
            [{"cmd": "start_child", "supervisor": "many", "child": "sleepy"}] * COUNT)]
        with host.connect() as client:
            listing = (json.dumps({"cmd": "which_children", "supervisor": "many"}) + "\n").encode()
            client.sendall(listing * 16 + (json.dumps({"cmd": "stop"}) + "\n").encode())
            assert host.process.wait(timeout=60) == 0
        for pid in pids:
            assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read() \
                .rsplit(")", 1)[1].split()[0] == "Z"


if __name__ == "__main__":
    run_tests(globals())
