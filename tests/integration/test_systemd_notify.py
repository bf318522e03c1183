"""systemd's notify protocol, against a listener on NOTIFY_SOCKET as
systemd would hold it: READY=1 only once the control socket answers and
every autostart child has answered, a STATUS= line, STOPPING=1 on a stop,
WATCHDOG=1 at half of WATCHDOG_USEC, and nothing at all without
NOTIFY_SOCKET. Skipped when the host was built without libsystemd."""

import os
import socket
import subprocess
import sys
import time

from harness import BUILD_DIR, DEADLINE, HOST_BINARY, Host, run_tests, wait_for


def built_with_sd_notify():
    version = subprocess.run([HOST_BINARY, "--version"], capture_output=True, text=True).stdout
    return "sd_notify (systemd readiness, watchdog): built" in version


class NotifyListener:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, folder):
        self.path = os.path.join(folder, "notify.sock")
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)
        self.messages = []  # (monotonic time received, text)

    def poll(self):
        self.socket.setblocking(False)
        while True:
            try:
                data = self.socket.recv(4096)
            except BlockingIOError:
                break
            self.messages.append((time.monotonic(), data.decode()))
        return self.messages

    def wait(self, text, timeout=DEADLINE):
        def seen():
            for when, message in self.poll():
                if text in message.split("\n"):
                    return when, message
            return None
        return wait_for(seen, timeout, what="%r on NOTIFY_SOCKET" % text)

    def states(self):
        return [line for _, message in self.poll() for line in message.split("\n")]


def start_with_notify(host, listener, watchdog_usec=None):
    """Starts the host with NOTIFY_SOCKET (and WATCHDOG_USEC) in its
    environment, not waiting for its socket: readiness is what is tested."""
    saved = dict(os.environ)
    os.environ["NOTIFY_SOCKET"] = listener.path
    if watchdog_usec is not None:
        os.environ["WATCHDOG_USEC"] = str(watchdog_usec)
    try:
        host.start(wait=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    # sd_watchdog_enabled checks WATCHDOG_PID when set; systemd sets it to the main pid.
    return host


SLOW_AUTOSTART = ("[supervisor:boot]\nautostart = slow\n",
                  {"slow.ini": "[child:slow]\nplugin = initcheck\nargs = slow=1500\n"})


def test_ready_comes_only_after_the_socket_answers_and_autostart_answered():
    host = Host(*SLOW_AUTOSTART)
    listener = NotifyListener(host.dir)
    with start_with_notify(host, listener):
        started = time.monotonic()
        ready_at, _ = listener.wait("READY=1")
        assert ready_at - started >= 1.4, "READY=1 came %.2fs after start, before init's 1.5 s" % (
            ready_at - started)
        # The moment READY=1 is out, requests are answered and the child runs.
        assert "child slow started" in host.log(), host.log()
        children = host.which_children("boot")
        assert [child["state"] for child in children] == ["running"], children
        assert listener.states().count("READY=1") == 1


def test_ready_is_not_held_back_by_an_autostart_that_failed():
    host = Host("[supervisor:boot]\nautostart = bad\n",
                {"bad.ini": "[child:bad]\nplugin = initcheck\nargs = fail\nrestart = temporary\n"})
    listener = NotifyListener(host.dir)
    with start_with_notify(host, listener):
        listener.wait("READY=1")
        assert host.request({"cmd": "status"})["result"] == "ok"


def test_status_line_counts_workers_and_follows_changes():
    host = Host("[supervisor:s]\n", {"sleeper.ini": "[child:sleeper]\nplugin = sleeper\n"})
    listener = NotifyListener(host.dir)
    with start_with_notify(host, listener):
        listener.wait("READY=1")
        wait_for(lambda: any(s.startswith("STATUS=running: 0 workers") for s in listener.states()),
                 what="the first STATUS= line")
        for _ in range(2):
            assert host.start_child("s", "sleeper")["result"] == "ok"
        wait_for(lambda: any(s.startswith("STATUS=running: 2 workers (2 running) in 1 supervisors")
                             for s in listener.states()),
                 what="a STATUS= line with the two workers")


def test_stop_says_stopping():
    host = Host()
    listener = NotifyListener(host.dir)
    with start_with_notify(host, listener):
        listener.wait("READY=1")
        host.cli("stop", check=0)
        listener.wait("STOPPING=1")
        assert host.process.wait(DEADLINE) == 0
        states = listener.states()
        assert states.index("READY=1") < states.index("STOPPING=1")


def test_reload_says_reloading_then_ready_even_when_refused():
    host = Host("[supervisor:s]\n")
    listener = NotifyListener(host.dir)
    with start_with_notify(host, listener):
        listener.wait("READY=1")
        host.cli("reload", check=0)
        wait_for(lambda: listener.states().count("READY=1") == 2, what="READY=1 after the reload")
        states = listener.states()
        reloading = states.index("RELOADING=1")
        assert reloading < len(states) - 1 - states[::-1].index("READY=1"), states
        assert states[reloading + 1].startswith("MONOTONIC_USEC="), states
        # A refused reload (a bad key) ends with READY=1 too: the old config serves on.
        with open(host.config, "a") as config:
            config.write("[supervisor:t]\nbogus = 1\n")
        assert host.cli("reload").returncode == 1
        wait_for(lambda: listener.states().count("READY=1") == 3, what="READY=1 after the refused reload")
        assert listener.states().count("RELOADING=1") == 2
        # A dry run is not a reload: nothing is said.
        host.cli("reload", "--dry-run")
        assert host.request({"cmd": "status"})["result"] == "ok"
        assert listener.states().count("RELOADING=1") == 2


def test_watchdog_pings_at_half_the_period():
    host = Host()
    listener = NotifyListener(host.dir)
    with start_with_notify(host, listener, watchdog_usec=400000):
        listener.wait("READY=1")
        first, _ = listener.wait("WATCHDOG=1")
        wait_for(lambda: listener.states().count("WATCHDOG=1") >= 5, what="five watchdog pings")
        pings = [when for when, message in listener.poll() if message == "WATCHDOG=1"]
        span = pings[-1] - pings[0]
        # Five pings at 200 ms take 0.8 s; allow a loaded machine some slack.
        assert 0.6 <= span / (len(pings) - 1) * 4 <= 4.0, pings
        assert "systemd watchdog: a ping every 200 ms" in host.log()


def test_without_notify_socket_nothing_is_sent():
    host = Host()
    listener = NotifyListener(host.dir)
    with host.start():  # no NOTIFY_SOCKET in its environment
        host.request({"cmd": "status"})
        host.cli("stop", check=0)
        assert host.process.wait(DEADLINE) == 0
    assert listener.poll() == []


if __name__ == "__main__":
    if not built_with_sd_notify():
        print("SKIP: %s was built without libsystemd (sd_notify not built)" % HOST_BINARY)
        sys.exit(0)
    run_tests(globals())
