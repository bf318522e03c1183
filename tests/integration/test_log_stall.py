"""A stalled reader of the host's log does not stall the host (issue 9
item 9). The host's stderr is a pipe that nobody reads until the test says
so: once the pipe is full, control requests, starts and restarts still go
on promptly, and when reading resumes the backlog comes out followed by a
line counting the lines that had to be dropped meanwhile."""

import array
import fcntl
import os
import signal
import subprocess
import termios
import threading
import time

from harness import DEADLINE, HOST_BINARY, HOST_WRAPPER, TIME_SCALE, Host, alive, run_tests, wait_for

SUPERVISORS = """
[supervisor:work]
max_restarts = 1000000
max_seconds = 1
"""
CHILDREN = {"c.ini": """
[child:hello]
plugin = hello
restart = temporary

[child:sleeper]
plugin = sleeper
restart = permanent
shutdown = 2000
"""}


def bytes_in_pipe(fd):
    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, count)
    return count[0]


def start_host_with_unread_stderr(host):
    """The host with stdout and stderr into a pipe the test does not read yet."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(HOST_WRAPPER + [HOST_BINARY, "run", "-c", host.config],
                               stdout=write_end, stderr=write_end)
    os.close(write_end)
    host.process = process
    host.log_path = os.devnull
    wait_for(lambda: os.path.exists(host.socket_path), what="the control socket")
    return read_end


def timed_request(host, message):
    started = time.monotonic()
    answer = host.request(message)
    return answer, time.monotonic() - started


def test_a_full_log_pipe_does_not_stall_requests_starts_or_restarts():
    host = Host(SUPERVISORS, CHILDREN)
    read_end = start_host_with_unread_stderr(host)
    try:
        # Each hello start logs five lines or so (~600 bytes); 1200 of them
        # overflow the 64 KiB pipe and the host's 256 KiB backlog both.
        for _ in range(12):
            answers = host.requests([{"cmd": "start_child", "supervisor": "work", "child": "hello"}] * 100)
            assert all(a["result"] == "ok" for a in answers), answers
        wait_for(lambda: bytes_in_pipe(read_end) >= 60000, what="the log pipe to be full")

        worst = 0.0
        for _ in range(10):
            answer, took = timed_request(host, {"cmd": "status"})
            assert answer["result"] == "ok"
            worst = max(worst, took)
        assert worst < 1.0 * TIME_SCALE, "status took %.2fs with the log pipe full" % worst

        answer, took = timed_request(host, {"cmd": "start_child", "supervisor": "work", "child": "sleeper"})
        assert answer["result"] == "ok" and took < 2.0 * TIME_SCALE, (answer, took)
        pid = answer["pid"]
        os.kill(pid, signal.SIGKILL)
        def restarted():
            pids = [c["pid"] for c in host.which_children("work") if c["id"] == "sleeper"]
            return pids and pids[0] not in (None, pid) and alive(pids[0])
        wait_for(restarted, timeout=5 * TIME_SCALE, what="the killed sleeper restarted")

        # Reading resumes: the backlog comes out, then the count of drops.
        output = bytearray()
        stop = threading.Event()

        def drain():
            while not stop.is_set():
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                output.extend(chunk)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        wait_for(lambda: b"dropped " in output, what="the 'dropped N log lines' line")
        text = output.decode("utf-8", "replace")
        line = [l for l in text.splitlines() if "dropped " in l][0]
        assert "log lines" in line and int(line.split("dropped ", 1)[1].split()[0]) > 0, line
        assert host.request({"cmd": "status"})["result"] == "ok"
        host.process.send_signal(signal.SIGTERM)
        assert host.process.wait(DEADLINE) == 0
        stop.set()
    finally:
        host.kill()
        os.close(read_end)


def test_the_host_still_stops_promptly_while_nobody_reads_its_log():
    host = Host(SUPERVISORS, CHILDREN)
    read_end = start_host_with_unread_stderr(host)
    try:
        for _ in range(4):
            host.requests([{"cmd": "start_child", "supervisor": "work", "child": "hello"}] * 100)
        wait_for(lambda: bytes_in_pipe(read_end) >= 60000, what="the log pipe to be full")
        started = time.monotonic()
        host.process.send_signal(signal.SIGTERM)
        # the last lines wait at most about a second for a reader
        assert host.process.wait(DEADLINE) == 0
        assert time.monotonic() - started < 5 * TIME_SCALE
    finally:
        host.kill()
        os.close(read_end)


if __name__ == "__main__":
    run_tests(globals())
