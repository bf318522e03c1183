"""The auth-rules story under test: the real dynsup-host running the real
auth_loader plugin against tools/fake-auth-service.

A story host has the story's config (etc/dynsup.ini: supervisor auth_rules
with max_children 1 and extra_arguments URL STORE, event update_auth_rules on
SIGUSR1, child auth_loader transient with a registered name), with the fake
service's URL and a STORE inside the test's temporary folder.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from harness import DEADLINE, SOURCE_DIR, Host, gone, wait_for

FAKE_AUTH_SERVICE = os.path.join(SOURCE_DIR, "tools", "fake-auth-service")

# Exit statuses documented at the top of plugins/auth_loader/auth_loader.c.
EXIT_CANNOT_CONNECT, EXIT_TIMEOUT, EXIT_HTTP_STATUS, EXIT_TOO_LARGE = 3, 4, 5, 6
EXIT_TOO_MANY_REDIRECTS, EXIT_INVALID_DOCUMENT, EXIT_STOPPED = 7, 8, 10

# Odd spacing on purpose: the store must hold these bytes, not a re-encoding.
RULES_V7 = (b'{"version": 7,\n  "rules": [ {"client": "billing", "service": "payments"},\n'
            b'   {"client":"web","service":"catalog","methods":["GET"]} ] }\n')
RULES_V8 = (b'{"version": 8, "rules": [{"client": "billing", "service": "payments"},\n'
            b'  {"client": "web", "service": "catalog", "methods": ["GET", "HEAD"]},\n'
            b'  {"client": "audit", "service": "ledger", "note": "unknown keys are fine"}]}\n')
# What a failing loader must leave alone, byte for byte.
SEEDED_STORE = b'{"version": 6, "rules": [{"client": "seed", "service": "kept"}]}\n'
SEEDED_META = b'{"etag": "\\"seeded\\"", "last_modified": null}\n'

# Small bounds so that failures are quick and oversize bodies stay cheap.
# The host's own lines about a loader, tagged like the loader's lines.
HOST_MESSAGES = ("child auth_loader ", "start_child:", "event ", "autostart")

LOADER_ARGS = "--timeout-ms 1000 --connect-timeout-ms 1000 --max-bytes 65536"


class FakeAuthService:
    """tools/fake-auth-service on a free port (or `port`), serving `rules_path`."""

    def __init__(self, rules_path, mode="ok", options=(), port=0):
        self.process = subprocess.Popen(
            [sys.executable, FAKE_AUTH_SERVICE, "--port", str(port), "--rules", rules_path, "--mode", mode,
             *options],
            stdout=subprocess.PIPE, text=True)
        first_line = self.process.stdout.readline().strip()
        prefix = "listening on "
        if not first_line.startswith(prefix):
            self.stop()
            raise AssertionError("fake-auth-service said %r, expected %r..." % (first_line, prefix))
        self.base_url = first_line[len(prefix):]
        self.rules_url = self.base_url + "/rules"

    def call(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(self.base_url + path, data=data, timeout=DEADLINE) as answer:
            return json.loads(answer.read())

    def set_mode(self, mode, **settings):
        """Changes how /rules answers from the next request on; resets /stats."""
        self.call("/control", dict(mode=mode, reset_stats=True, **settings))

    def stats(self):
        return self.call("/stats")

    def stop(self):
        """Gone at once: its port now refuses connections."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(DEADLINE)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        return False


def story_config(url, store, autostart=True, max_restarts=3, max_seconds=5, event_keys=""):
    """The [supervisor:auth_rules] and [event:update_auth_rules] sections of etc/dynsup.ini,
    with this URL and STORE (and event_keys added to the event)."""
    return ("[supervisor:auth_rules]\nstrategy = one_for_one\nmax_children = 1\n"
            "max_restarts = %d\nmax_seconds = %d\nextra_arguments = %s %s\n%s\n"
            "[event:update_auth_rules]\nsupervisor = auth_rules\nchild = auth_loader\n"
            "signal = SIGUSR1\n%s\n"
            % (max_restarts, max_seconds, url, store, "autostart = auth_loader" if autostart else "",
               event_keys))


def loader_spec(args=LOADER_ARGS):
    """etc/children.d/auth_loader.ini with these loader options."""
    return {"auth_loader.ini": "[child:auth_loader]\nplugin = auth_loader\nargs = %s\n"
                               "restart = transient\nshutdown = 5000\nname = auth_loader\n" % args}


class Story:
    """One test's world: a rules file served by a fake service, a store
    folder, and a story host (not started yet)."""

    def __init__(self, rules=RULES_V7, mode="ok", autostart=False, args=LOADER_ARGS, seed=False,
                 max_restarts=3, max_seconds=5, event_keys="", service_options=()):
        self.host = None
        self.service = None
        self.dir = tempfile.mkdtemp(prefix="dynsup-auth-")
        self.rules_path = os.path.join(self.dir, "served_rules.json")
        self.write_rules(rules)
        self.store_dir = os.path.join(self.dir, "store")
        os.makedirs(self.store_dir)
        self.store = os.path.join(self.store_dir, "auth_rules.json")
        self.meta = self.store + ".meta"
        if seed:
            self.seed()
        self.service = FakeAuthService(self.rules_path, mode, service_options)
        self.host = Host(story_config(self.service.rules_url, self.store, autostart,
                                      max_restarts, max_seconds, event_keys), loader_spec(args))

    def write_rules(self, rules):
        """Atomically, so the service never serves half a file."""
        with open(self.rules_path + ".new", "wb") as served:
            served.write(rules)
        os.replace(self.rules_path + ".new", self.rules_path)

    def seed(self):
        for path, data in ((self.store, SEEDED_STORE), (self.meta, SEEDED_META)):
            with open(path, "wb") as seeded:
                seeded.write(data)

    # ---- the store ----

    def store_bytes(self):
        with open(self.store, "rb") as store:
            return store.read()

    def store_identity(self):
        """What changes if the store is rewritten, even with the same bytes."""
        files = {}
        for path in (self.store, self.meta):
            if os.path.exists(path):
                info = os.stat(path)
                with open(path, "rb") as f:
                    files[os.path.basename(path)] = (f.read(), info.st_ino, info.st_mtime_ns)
        return files

    def store_folder(self):
        return sorted(os.listdir(self.store_dir))

    def read_meta(self):
        with open(self.meta) as meta:
            return json.load(meta)

    # ---- the host ----

    def start(self):
        self.host.start()
        return self

    def emit(self):
        """Fires update_auth_rules by the emit request; returns the answer."""
        return self.host.request({"cmd": "emit", "event": "update_auth_rules"})

    def emit_and_wait(self):
        """Fires the event and waits for that loader to exit; returns its pid."""
        answer = self.emit()
        assert answer["result"] == "ok", answer
        wait_for(lambda: gone(answer["pid"]), what="loader %d to exit" % answer["pid"])
        self.wait_exit_logged(answer["pid"])
        return answer["pid"]

    def wait_exit_logged(self, pid):
        """The host's line about the loader's exit (so the tree has settled)."""
        return wait_for(lambda: self.exit_line(pid), what="the host logging loader %d's exit" % pid)

    def exit_line(self, pid):
        for line in self.host.log().splitlines():
            if re.search(r"pid=%d .*child auth_loader (exited|stopped)" % pid, line):
                return line
        return None

    def loader_lines(self, pid):
        """What loader `pid` itself logged (the host tags it), message only;
        the host's own lines about that child are left out."""
        tag = " sup=auth_rules child=auth_loader pid=%d " % pid
        messages = [line.split(tag, 1)[1] for line in self.host.log().splitlines() if tag in line]
        return [m for m in messages if not m.startswith(HOST_MESSAGES)]

    def loader_errors(self, pid):
        tag = " sup=auth_rules child=auth_loader pid=%d " % pid
        return [line.split(tag, 1)[1] for line in self.host.log().splitlines()
                if tag in line and re.search(r"Z error +sup=", line)]

    def close(self):
        if self.host is not None:
            self.host.kill()
        if self.service is not None:
            self.service.__exit__(None, None, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        failed = exc[0] is not None
        if failed and self.host is not None and self.host.process is not None:
            sys.stderr.write("---- host log (%s) ----\n%s\n" % (self.host.log_path, self.host.log()))
        self.close()
        if not failed:  # a failure's folders stay, for a look at the store and the log
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.host is not None:
                shutil.rmtree(self.host.dir, ignore_errors=True)
        return False


def assert_story_lines(lines, url, store, rule_count):
    """SPEC §7: started with URL → load data from URL → save data (N rules) → work done."""
    expected = ["started with URL %s" % url, "load data from %s" % url,
                "save data (%d rules) to %s" % (rule_count, store), "work done"]
    story = [line for line in lines if any(line == e for e in expected)]
    assert story == expected, "story lines %r, expected %r; all lines %r" % (story, expected, lines)
