"""auth_loader's store survives kill -9 at any moment of a save (issue 5
point 6, SPEC section 7): the real host runs the real plugin against
tools/fake-auth-service sending a large document slowly; the test kills the
worker with SIGKILL at random moments, many times, over the whole run and
especially inside the save (temp file, fsync, rename, validators).

After every kill: the store is byte for byte either the document it held
before or the new one, never anything else; the validators file, when
present, describes the bytes in the store (else a later 304 could pin
rules the store does not hold); at most one run's temp files are left.
After a final run that is not killed: the new document, and no temp file.

DYNSUP_CRASH_ITERATIONS sets the number of kills (default 100),
DYNSUP_CRASH_RULES the size of the document (default 25000 rules, ~2 MB).
"""

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request

from harness import DEADLINE, SOURCE_DIR, Host, alive, run_tests, wait_for

ITERATIONS = int(os.environ.get("DYNSUP_CRASH_ITERATIONS", "100"))
SLOW_SECONDS = 0.3
RULE_COUNT = int(os.environ.get("DYNSUP_CRASH_RULES", "25000"))  # 25000: about 2 MB of JSON


def rules_document(version):
    rules = ",\n".join('  {"client": "client%d_%d", "service": "service%d", "methods": ["GET", "POST"]}'
                       % (version, i, i) for i in range(RULE_COUNT))
    return ('{"version": %d, "rules": [\n%s\n]}\n' % (version, rules)).encode()


def strong_etag(body):
    """The fake service's ETag of body (tools/fake-auth-service)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class FakeAuthService:
    def __init__(self, rules_path):
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(SOURCE_DIR, "tools", "fake-auth-service"), "--port", "0",
             "--rules", rules_path, "--mode", "slow", "--slow-seconds", str(SLOW_SECONDS)],
            stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()
        assert line.startswith("listening on "), line
        self.base_url = line[len("listening on "):]

    def set_mode(self, mode):
        request = urllib.request.Request(self.base_url + "/control", data=json.dumps({"mode": mode}).encode(),
                                         method="POST")
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.loads(answer.read())["mode"] == mode

    def close(self):
        self.process.terminate()
        self.process.wait(5)
        self.process.stdout.close()


class Store:
    """The store folder: the store, its validators, temp files beside them."""

    def __init__(self, folder):
        self.folder = folder
        self.path = os.path.join(folder, "rules.json")
        self.meta_path = self.path + ".meta"

    def read(self):
        with open(self.path, "rb") as store:
            return store.read()

    def temp_files(self):
        return sorted(name for name in os.listdir(self.folder)
                      if name.startswith((".rules.json.tmp.", ".rules.json.meta.tmp.")))

    def check_validators(self, body):
        """The validators, if any, must be those of the bytes in the store."""
        if not os.path.exists(self.meta_path):
            return "none"
        with open(self.meta_path, "rb") as meta_file:
            meta = json.loads(meta_file.read())
        assert meta["etag"] == strong_etag(body), (
            "validators describe other bytes than the store's: etag %s, store's %s"
            % (meta["etag"], strong_etag(body)))
        return "match"


def serve(rules_path, body):
    """Atomically, so the service never reads half a file."""
    with open(rules_path + ".new", "wb") as rules:
        rules.write(body)
    os.rename(rules_path + ".new", rules_path)


def one_run(host, store, kill_at=None, kill_in_save=None):
    """Starts auth_loader and, if asked, kills it: kill_at seconds after
    start_child answered, or kill_in_save seconds after its temp file
    appeared. Returns (seconds the run lasted, seconds from temp file to
    exit or None, whether it was killed)."""
    answer = host.start_child("auth_rules", "auth_loader")
    assert answer["result"] == "ok", answer
    pid, started = answer["pid"], time.monotonic()
    temp_seen = None
    killed = False
    while alive(pid):
        now = time.monotonic()
        if temp_seen is None and store.temp_files():
            temp_seen = now
        due = (kill_at is not None and now - started >= kill_at) or \
              (kill_in_save is not None and temp_seen is not None and now - temp_seen >= kill_in_save)
        if due:
            try:
                os.kill(pid, signal.SIGKILL)
                killed = True
            except ProcessLookupError:
                pass
            break
        if now - started > DEADLINE:
            raise AssertionError("auth_loader ran over %.0f s" % DEADLINE)
        time.sleep(0.0002)  # some 5000 looks a second: fine-grained, not a busy loop
    wait_for(lambda: not alive(pid), what="auth_loader to end")
    ended = time.monotonic()
    # The host has reaped it and forgotten the temporary child.
    wait_for(lambda: host.which_children("auth_rules") == [], what="the host to forget the worker")
    return ended - started, (ended - temp_seen) if temp_seen else None, killed


def test_store_is_always_the_old_or_the_new_document_when_the_loader_is_killed_mid_save():
    rng = random.Random(5)
    documents = [rules_document(1), rules_document(2)]
    host = Host("""
[supervisor:auth_rules]
max_children = 1
extra_arguments = {url} {store}
""", {"auth_loader.ini": """
[child:auth_loader]
plugin = auth_loader
args = --max-bytes 16777216 --timeout-ms 30000
restart = temporary
shutdown = brutal_kill
"""})
    store = Store(host.path("store"))
    os.makedirs(store.folder)
    rules_path = host.path("served.json")
    serve(rules_path, documents[1])
    service = FakeAuthService(rules_path)
    try:
        with open(host.config) as config:
            text = config.read().replace("{url}", service.base_url + "/rules").replace("{store}", store.path)
        with open(host.config, "w") as config:
            config.write(text)
        with open(store.path, "wb") as seed:
            seed.write(documents[0])

        with host.start():
            # Calibration: one whole run, not killed, says how long a run and
            # its save take on this machine.
            run_seconds, save_seconds, _ = one_run(host, store)
            assert store.read() == documents[1], "the calibration run did not save"
            assert store.temp_files() == []
            store.check_validators(documents[1])
            save_seconds = save_seconds or 0.005
            outcomes = {"old": 0, "new": 0, "not killed (ended first)": 0}
            most_temps = 0
            validators = {"none": 0, "match": 0}
            # Every served document is newer than any before it: auth_loader
            # refuses to go back to an older version (SPEC §7, no rollback).
            version = 2
            for iteration in range(ITERATIONS):
                old = store.read()
                version += 1
                new = rules_document(version)
                serve(rules_path, new)
                if iteration % 5 < 3:  # 60%: anywhere in the run
                    took, _, killed = one_run(host, store, kill_at=rng.uniform(0, run_seconds * 1.05))
                else:                  # 40%: inside the save
                    took, _, killed = one_run(host, store, kill_in_save=rng.uniform(0, save_seconds))
                now = store.read()
                assert now in (old, new), (
                    "iteration %d: the store is torn: %d bytes, neither the old (%d) nor the new (%d) "
                    "document" % (iteration, len(now), len(old), len(new)))
                outcomes["old" if now == old else "new"] += 1
                if not killed:
                    outcomes["not killed (ended first)"] += 1
                validators[store.check_validators(now)] += 1
                leftovers = store.temp_files()
                most_temps = max(most_temps, len(leftovers))
                # Each run removes what killed runs left, so they never pile up.
                assert len(leftovers) <= 2, "temp files pile up: %r" % leftovers

            # A last run, not killed: the service's document, nothing left over.
            final = rules_document(version + 1)
            serve(rules_path, final)
            service.set_mode("ok")
            one_run(host, store)
            assert store.read() == final
            assert store.temp_files() == [], store.temp_files()
            assert store.check_validators(final) == "match"
            assert host.stop() == 0
        print("store crash safety: %d kill -9 runs (run %.3f s, save window %.1f ms): store kept the old "
              "document %d times, the new one %d times (%d runs ended before the kill), torn 0; "
              "validators: %d absent, %d matching, 0 stale; at most %d temp files left by a killed run, "
              "0 after the final run" % (ITERATIONS, run_seconds, save_seconds * 1000, outcomes["old"],
                                         outcomes["new"], outcomes["not killed (ended first)"],
                                         validators["none"], validators["match"], most_temps), flush=True)
        assert outcomes["old"] > 0 and outcomes["new"] > 0, outcomes
    finally:
        service.close()


if __name__ == "__main__":
    run_tests(globals())
