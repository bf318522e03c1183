"""The unit's system-call filter (SystemCallFilter=@system-service in
dynsup.service) allows every system call the host, its spawners and their
workers make: a host is traced with strace -f while it boots, starts and
stops a sleeper, runs auth_loader against the fake auth service (a real
HTTP fetch and an atomic save), serves its metrics over HTTP and stops; the
calls seen must all be in the filter as systemd-analyze expands it."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

TRACE = os.path.join(tempfile.mkdtemp(prefix="dynsup-strace-"), "trace")
# The wrapper is read when harness is imported.
os.environ["DYNSUP_HOST_WRAPPER"] = "strace -f -qq -o %s" % TRACE
# LeakSanitizer cannot work under ptrace (ASan builds); the leak checks are
# every other test's job.
os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"

from harness import DEADLINE, Host, gone, run_tests, wait_for  # noqa: E402
from auth_fixture import RULES_V7, FakeAuthService, loader_spec, story_config  # noqa: E402
from test_metrics import free_port, http_built  # noqa: E402


def expand(group, seen=None):
    """The system calls of a systemd-analyze syscall-filter group, nested groups included."""
    seen = seen if seen is not None else set()
    if group in seen:
        return set()
    seen.add(group)
    listing = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True, text=True,
                             timeout=60)
    assert listing.returncode == 0, listing.stderr
    calls = set()
    for line in listing.stdout.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        calls |= expand(word, seen) if word.startswith("@") else {word}
    return calls


def traced_calls():
    calls = set()
    with open(TRACE) as trace:
        for line in trace:
            match = re.match(r"\d+\s+([a-z0-9_]+)\(", line)
            if match:
                calls.add(match.group(1))
    return calls


def test_every_system_call_made_is_in_the_units_filter():
    work = os.path.dirname(TRACE)
    rules = os.path.join(work, "rules.json")
    with open(rules, "wb") as served:
        served.write(RULES_V7)
    store = os.path.join(work, "store", "auth_rules.json")
    os.makedirs(os.path.dirname(store))
    port = free_port()
    children = dict(loader_spec(), **{"sleeper.ini": "[child:sleeper]\nplugin = sleeper\n"})
    with FakeAuthService(rules) as service:
        host = Host(story_config(service.rules_url, store, autostart=True) + "[supervisor:examples]\n",
                    children, host_keys="metrics_listen = 127.0.0.1:%d\n" % port if http_built() else "")
        with host.start():
            wait_for(lambda: os.path.exists(store), what="auth_loader to save the store")
            pid = host.start_child("examples", "sleeper")["pid"]
            host.cli("terminate-child", "examples", pid, check=0)
            wait_for(lambda: gone(pid), what="the sleeper to stop")
            # a long listing: formatted in a thread of its own, at a lower priority
            many = [a["pid"] for a in host.requests(
                [{"cmd": "start_child", "supervisor": "examples", "child": "sleeper"}] * 80)]
            assert len(host.which_children("examples")) == 80
            host.cli("terminate-child", "examples", many[0], check=0)
            host.cli("emit", "update_auth_rules", check=0)
            host.cli("metrics", check=0)
            if http_built():
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=DEADLINE).read()
            host.cli("stop", check=0)
            assert host.process.wait(DEADLINE) == 0, host.log()
    used = traced_calls()
    # The trace holds the workers too: the loader's fetch and atomic save.
    assert {"clone", "prctl", "connect", "rename", "fsync", "sched_setscheduler",
            "setpriority"} <= used, sorted(used)
    allowed = expand("@system-service")
    # strace's own start of the host (execve of the binary) is allowed too.
    outside = sorted(used - allowed)
    assert not outside, "system calls outside @system-service: %s" % outside


if __name__ == "__main__":
    if not shutil.which("strace") or not shutil.which("systemd-analyze"):
        print("SKIP: needs strace and systemd-analyze (Debian packages strace, systemd)")
        sys.exit(0)
    try:
        run_tests(globals())
    finally:
        shutil.rmtree(os.path.dirname(TRACE), ignore_errors=True)
