"""which_children of many children is written in slices between the
loop's other work (issue 13 item 1): the answer is still whole and in its
connection's request order, and supervision goes on while it is written.
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


if __name__ == "__main__":
    run_tests(globals())
