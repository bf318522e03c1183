"""How many control connections the host keeps open at once (README,
"Behaviour where the SPEC is silent"): an eighth of its descriptor limit,
at most 1024, the last eighth of them kept for root and the host's user.
One more gets one `busy` line and EOF, a warning is logged, supervision
goes on, and a closed connection makes room again."""

import contextlib
import datetime
import json
import os
import re
import resource
import threading
import time

from harness import Host, run_tests, talk_as, wait_for, worker_pids

SUPERVISORS = "[supervisor:work]\nmax_children = infinity\n"
CHILDREN = {"c.ini": "[child:sleeper]\nplugin = sleeper\nrestart = permanent\n"}
NOBODY_UID = 65534
NOBODY_GID = 65534
BUSY = "busy"


def raise_descriptor_limit():
    """Room for the test's own ends of up to 1024 connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    wanted = min(wanted, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def limits_of(host):
    """The host's rule, as README states it, for the descriptor limit the
    host runs with (it raises its own soft limit, root even the hard one)."""
    with open("/proc/%d/limits" % host.pid) as limits:
        line = next(line for line in limits if line.startswith("Max open files"))
    descriptor_limit = int(line.split()[3])
    most = max(16, min(1024, descriptor_limit // 8))
    return most, most - max(2, most // 8)


def ask(client, message):
    client.sendall((json.dumps(message) + "\n").encode())
    received = b""
    while not received.endswith(b"\n"):
        chunk = client.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def open_served(host, count):
    """count connections, each proven served (so the host holds it)."""
    clients = []
    for _ in range(count):
        client = host.connect()
        answer = json.loads(ask(client, {"cmd": "count_children", "supervisor": "work"}))
        assert answer["result"] == "ok", answer
        clients.append(client)
    return clients


def read_to_eof(client):
    received = b""
    while True:
        chunk = client.recv(65536)
        if not chunk:
            return received
        received += chunk


def assert_busy_then_eof(client):
    """The host answers a connection it has no room for at once, without
    waiting for a request: one line, then EOF."""
    lines = read_to_eof(client).splitlines()
    assert len(lines) == 1, lines
    answer = json.loads(lines[0])
    assert answer["result"] == "error" and answer["error"] == BUSY, answer
    assert "connections" in answer.get("detail", ""), answer


def test_one_connection_past_the_most_gets_busy_and_supervision_goes_on():
    raise_descriptor_limit()
    with Host(SUPERVISORS, CHILDREN).start() as host:
        most, _ = limits_of(host)
        host.start_child("work", "sleeper")
        clients = open_served(host, most)
        try:
            extra = host.connect()
            assert_busy_then_eof(extra)
            extra.close()
            host.wait_log("too many control connections")
            # Supervision is not held up: a killed worker is replaced.
            victim = worker_pids(host)[0]
            os.kill(victim, 9)
            wait_for(lambda: worker_pids(host) and victim not in worker_pids(host),
                     what="the killed worker's replacement")
            # A closed connection makes room again.
            clients.pop().close()

            def served_again():
                with host.connect() as client:
                    return json.loads(ask(client, {"cmd": "status"}))["result"] == "ok"
            wait_for(served_again, what="a connection served once one was closed")
        finally:
            for client in clients:
                client.close()


def refusals_logged(host):
    return sum(int(count) for count in re.findall(r"too many control connections: refused (\d+)", host.log()))


@contextlib.contextmanager
def host_with_every_connection_taken():
    """A started host holding as many served connections as it admits."""
    raise_descriptor_limit()
    with Host(SUPERVISORS, CHILDREN).start() as host:
        most, _ = limits_of(host)
        clients = open_served(host, most)
        try:
            yield host
        finally:
            for client in clients:
                client.close()


def refuse(host, count):
    for _ in range(count):
        with host.connect() as extra:
            assert_busy_then_eof(extra)


def test_every_refusal_is_counted_in_the_log_even_when_the_flood_stops():
    """Refusals are logged at most once a second, as a count; those after
    the last line are counted in a line of their own a second later, not
    held until a next refusal that may never come."""
    with host_with_every_connection_taken() as host:
        refuse(host, 5)
        wait_for(lambda: refusals_logged(host) == 5, what="5 refusals counted in the log: %s" % host.log())


def test_refusals_not_yet_logged_are_counted_when_the_host_stops():
    with host_with_every_connection_taken() as host:
        most, _ = limits_of(host)
        refuse(host, 5)
        assert host.stop() == 0
        assert refusals_logged(host) == 5, host.log()
        # counted before the closing host let its connections go
        assert set(re.findall(r"refused \d+ .* with (\d+) open", host.log())) == {str(most)}, host.log()


def refusal_line_times(host):
    """When each refusal line was logged, in ms."""
    stamps = re.findall(r"^(\S+)Z \S+ .*too many control connections: refused", host.log(), re.M)
    return [datetime.datetime.fromisoformat(stamp).timestamp() * 1000 for stamp in stamps]


def test_a_long_flood_of_refusals_logs_at_most_one_line_a_second():
    """Three clients refused over and over for 2.5 s: their lines are a
    second apart (a line logged at once used to leave the pending one-second
    timer armed, which logged a second line in the same millisecond)."""
    with host_with_every_connection_taken() as host:
        refused = [0, 0, 0]
        end = time.monotonic() + 2.5

        def flood(index):
            while time.monotonic() < end:
                with host.connect() as extra:
                    read_to_eof(extra)
                refused[index] += 1

        threads = [threading.Thread(target=flood, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(lambda: refusals_logged(host) == sum(refused),
                 what="%d refusals counted in the log" % sum(refused))
        times = refusal_line_times(host)
        gaps = [round(later - earlier) for earlier, later in zip(times, times[1:])]
        # The host spaces its lines by its loop's clock, read at the start
        # of a loop turn, and stamps them when written: a turn that took
        # long shortens a gap. The defect gave gaps of 0.
        assert all(gap >= 900 for gap in gaps), "lines %s ms apart" % gaps


def test_the_last_connections_are_kept_for_root_and_the_host_user():
    if os.geteuid() != 0:
        print("skip: needs root (a client running as uid %d)" % NOBODY_UID)
        return
    raise_descriptor_limit()
    host = Host(SUPERVISORS, CHILDREN, host_keys="allow_users = nobody")
    os.chmod(host.dir, 0o711)
    os.chmod(os.path.dirname(host.socket_path), 0o711)
    with host.start():
        _, for_others = limits_of(host)
        clients = open_served(host, for_others)
        try:
            # Another user now finds no room ...
            _, received = talk_as(host.socket_path, NOBODY_UID, NOBODY_GID, b"")
            answer = json.loads(received)
            assert answer["error"] == BUSY, answer
            # ... while root is still served.
            clients += open_served(host, 1)
        finally:
            for client in clients:
                client.close()


if __name__ == "__main__":
    run_tests(globals())
