"""Fault storm (issue 5 point 2): a host with a few hundred workers across
four supervisors, while several threads kill random workers (SIGKILL and
SIGSEGV), start and terminate children over concurrent connections, fire
events and ask which_children / count_children / status. One supervisor is
driven over its restart intensity on purpose, twice, under that load.

At the end: every answer was well-formed with a known result; no zombie and
no orphan; count_children agrees with the processes really alive; the
host's descriptors and RSS are back in the band measured after a warm-up;
the host still answers, and SIGTERM stops it with status 0, every worker
gone.

Knobs (environment):
  DYNSUP_STORM_SECONDS  length of the storm (default 30: the test takes ~1 min)
  DYNSUP_SOAK_SECONDS   soak mode: a storm this long, with figures printed
                        every minute (tools/soak runs it)
  DYNSUP_STORM_SCALE    multiplies the worker population (tools/valgrind
                        uses a small one)
"""

import json
import os
import random
import resource
import signal
import socket
import threading
import time

from harness import (DEADLINE, HOST_WRAPPER, SPARE, TIME_SCALE, Host, alive, children_of_all, comm_of, open_fds,
                     parent_of, processes_of, run_tests, spawners_of, vm_rss_kib, wait_for,
                     zombie_children_of)

SOAK_SECONDS = float(os.environ.get("DYNSUP_SOAK_SECONDS", "0"))
STORM_SECONDS = SOAK_SECONDS or float(os.environ.get("DYNSUP_STORM_SECONDS", "30"))
SCALE = float(os.environ.get("DYNSUP_STORM_SCALE", "1"))
WARMUP_SECONDS = 4.0

# Target live workers per pool: child id -> (supervisor, how many).
POOLS = {
    "steady_worker": ("steady", int(120 * SCALE)),
    "trans_worker": ("transient", int(60 * SCALE)),
    "trans_stubborn": ("transient", int(30 * SCALE)),
    "temp_worker": ("temporary", int(80 * SCALE)),
}
FRAGILE_CHILDREN = max(6, int(10 * SCALE))
# A tight cap: blips and refills run into it, so max_children is exercised.
TEMPORARY_MAX_CHILDREN = POOLS["temp_worker"][1] + 4
SUPERVISORS = ("steady", "transient", "temporary", "fragile")
# Ids the killer may hit; "fragile_worker" is killed only on purpose.
KILLABLE = set(POOLS) | {"blip"}
OUR_IDS = KILLABLE | {"fragile_worker"}

HOST_SECTIONS = """
[supervisor:steady]
max_restarts = 100000
max_seconds = 5

[supervisor:transient]
max_restarts = 100000
max_seconds = 5

[supervisor:temporary]
max_children = %d
max_restarts = 100000
max_seconds = 5

[supervisor:fragile]
max_restarts = 3
max_seconds = 5

[event:blip]
supervisor = temporary
child = blip
""" % TEMPORARY_MAX_CHILDREN

CHILDREN = {"storm.ini": """
[child:steady_worker]
plugin = sleeper
restart = permanent
shutdown = 2000

[child:trans_worker]
plugin = sleeper
restart = transient
shutdown = brutal_kill

[child:trans_stubborn]
plugin = sleeper
args = --ignore-stop
restart = transient
shutdown = 150

[child:temp_worker]
plugin = sleeper
restart = temporary
shutdown = 500

[child:blip]
plugin = sleeper
args = --exit-after-ms 150
restart = temporary
shutdown = brutal_kill

[child:fragile_worker]
plugin = sleeper
restart = permanent
shutdown = brutal_kill
"""}

# The only error results each request may give in this storm, and why:
# max_children (the temporary pool is capped), shutting_down (the fragile
# supervisor is terminating), not_found (the pid died before the request),
# init_failed (the killer hit a worker before its init answered: the
# detail must say so).
ALLOWED_ERRORS = {
    "start_child": {"max_children", "shutting_down", "init_failed"},
    "emit": {"max_children", "shutting_down", "init_failed"},
    "terminate_child": {"not_found"},
    "which_children": set(),
    "count_children": set(),
    "status": set(),
}


class Figures:
    """What the storm did, counted across threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def get(self, key):
        with self.lock:
            return self.counts.get(key, 0)


def check_answer(request, line, figures):
    """Fails unless line is one well-formed answer to request; returns it."""
    cmd = request["cmd"]
    try:
        answer = json.loads(line)
    except ValueError:
        raise AssertionError("not JSON: %r (for %r)" % (line, request))
    assert isinstance(answer, dict), (request, answer)
    result = answer.get("result")
    if result == "error":
        assert answer.get("error") in ALLOWED_ERRORS[cmd], (request, answer)
        if answer["error"] == "init_failed":
            assert answer.get("detail", "").startswith("worker exited during init: killed by signal"), answer
        figures.add("%s error %s" % (cmd, answer["error"]))
        return answer
    assert result == "ok", (request, answer)
    figures.add("%s ok" % cmd)
    if cmd in ("start_child", "emit"):
        assert isinstance(answer.get("pid"), int) and answer["pid"] > 0, (request, answer)
    elif cmd == "which_children":
        for child in answer["children"]:
            assert child["id"] in OUR_IDS and child["type"] == "worker", (request, child)
            assert child["pid"] is None or (isinstance(child["pid"], int) and child["pid"] > 0), child
    elif cmd == "count_children":
        for key in ("specs", "active", "supervisors", "workers"):
            assert isinstance(answer[key], int) and answer[key] >= 0, (request, answer)
        assert answer["active"] <= answer["workers"], (request, answer)
    elif cmd == "status":
        names = [s["name"] for s in answer["supervisors"]]
        assert names == list(SUPERVISORS), names
    return answer


class Client:
    """One persistent connection; pipelines a batch and checks every answer."""

    def __init__(self, host, figures):
        self.figures = figures
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.settimeout(DEADLINE)
        self.socket.connect(host.socket_path)
        self.reader = self.socket.makefile("rb")

    def batch(self, requests):
        self.socket.sendall("".join(json.dumps(r) + "\n" for r in requests).encode())
        answers = []
        for request in requests:
            line = self.reader.readline()
            if not line:
                raise AssertionError("host closed the connection after %d of %d answers"
                                     % (len(answers), len(requests)))
            answers.append(check_answer(request, line, self.figures))
        return answers

    def one(self, request):
        return self.batch([request])[0]

    def close(self):
        self.reader.close()
        self.socket.close()


def start(supervisor, child):
    return {"cmd": "start_child", "supervisor": supervisor, "child": child}


def live_workers(spawners):
    """{pid: child id} of the spawners' live children that already carry
    their child id (a fresh fork still has the spawner's name)."""
    found = {}
    for pid in children_of_all(spawners):
        if alive(pid):
            name = comm_of(pid)
            if name in OUR_IDS:
                found[pid] = name
    return found


def fill_pools(host, figures):
    """Starts workers until every pool is at its target; returns the starts made."""
    client = Client(host, figures)
    made = 0
    try:
        for child_id, (supervisor, target) in POOLS.items():
            while True:
                children = client.one({"cmd": "which_children", "supervisor": supervisor})["children"]
                have = sum(1 for c in children if c["id"] == child_id)
                if have >= target:
                    break
                answers = client.batch([start(supervisor, child_id)] * min(25, target - have))
                made += sum(1 for a in answers if a["result"] == "ok")
    finally:
        client.close()
    return made


# ---------------------------------------------------------------- storm threads

class Storm:
    """The threads of one storm round; any failure stops them all."""

    def __init__(self, host, figures):
        self.host = host
        self.figures = figures
        self.spawners = spawners_of(host)
        self.stop = threading.Event()
        self.failures = []
        self.threads = []

    def spawn(self, name, body):
        def guarded():
            try:
                body()
            except BaseException as error:  # noqa: B036 (reported, then the storm stops)
                self.failures.append("%s: %r" % (name, error))
                self.stop.set()
        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def killer(self, seed):
        """About 20 kills a second, at random among the killable workers."""
        rng = random.Random(seed)
        while not self.stop.wait(0.05):
            candidates = children_of_all(self.spawners)  # fast; the final checks scan /proc instead
            rng.shuffle(candidates)
            pid = next((pid for pid in candidates[:20] if comm_of(pid) in KILLABLE), None)
            if pid is None:
                continue
            how = rng.choice((signal.SIGKILL, signal.SIGKILL, signal.SIGSEGV))
            try:
                os.kill(pid, how)
                self.figures.add("kills")
                self.figures.add("kills by %s" % signal.Signals(how).name)
            except ProcessLookupError:
                pass

    def churner(self, seed):
        """Starts and terminates children, keeping each pool near its target."""
        rng = random.Random(seed)
        client = Client(self.host, self.figures)
        try:
            while not self.stop.is_set():
                child_id = rng.choice(list(POOLS))
                supervisor, target = POOLS[child_id]
                children = client.one({"cmd": "which_children", "supervisor": supervisor})["children"]
                pids = [c["pid"] for c in children if c["id"] == child_id and c["pid"]]
                starts = 3 if len(pids) < target else 1
                stops = 1 if len(pids) < target else 3
                batch = [start(supervisor, child_id)] * starts
                batch += [{"cmd": "terminate_child", "supervisor": supervisor, "pid": pid}
                          for pid in rng.sample(pids, min(stops, len(pids)))]
                client.batch(batch)
        finally:
            client.close()

    def emitter(self):
        client = Client(self.host, self.figures)
        try:
            while not self.stop.wait(0.05):
                client.one({"cmd": "emit", "event": "blip"})
        finally:
            client.close()

    def querier(self, seed):
        rng = random.Random(seed)
        client = Client(self.host, self.figures)
        try:
            while not self.stop.wait(0.02):
                supervisor = rng.choice(SUPERVISORS)
                client.batch([{"cmd": "status"},
                              {"cmd": "count_children", "supervisor": supervisor},
                              {"cmd": "which_children", "supervisor": supervisor}])
        finally:
            client.close()

    def run(self, seconds, escalations=0):
        """The storm for `seconds`; the fragile supervisor is driven over its
        intensity `escalations` times, evenly spread."""
        self.spawn("killer", lambda: self.killer(1))
        for i in range(3):
            self.spawn("churner%d" % i, lambda i=i: self.churner(10 + i))
        self.spawn("emitter", self.emitter)
        self.spawn("querier", lambda: self.querier(2))
        started = time.monotonic()
        for round_number in range(1, escalations + 1):
            due = started + seconds * round_number / (escalations + 1)
            if self.stop.wait(max(0.0, due - time.monotonic())):
                break
            escalate_fragile(self.host, self.figures)
        self.stop.wait(max(0.0, started + seconds - time.monotonic()))
        self.stop.set()
        for thread in self.threads:
            thread.join(DEADLINE)
            assert not thread.is_alive(), "storm thread %s is stuck" % thread.name
        assert not self.failures, self.failures
        return time.monotonic() - started


def fragile_status(host):
    return host.supervisor_status("fragile")


def escalate_fragile(host, figures):
    """Kills every fragile worker at once: more than max_restarts restarts in
    max_seconds, so the supervisor must shut its children down, terminate,
    and be restarted empty by the root; then it must work again."""
    client = Client(host, figures)
    try:
        answers = client.batch([start("fragile", "fragile_worker")] * FRAGILE_CHILDREN)
        assert all(a["result"] == "ok" for a in answers), answers
        restarted_before = fragile_status(host)["times_restarted"]
        for answer in answers:
            try:
                os.kill(answer["pid"], signal.SIGKILL)
            except ProcessLookupError:
                # The kills before it already exceeded the intensity: the
                # supervisor's own shutdown took this worker first.
                continue
            figures.add("kills")
            figures.add("fragile kills")
        wait_for(lambda: fragile_status(host)["times_restarted"] == restarted_before + 1,
                 what="the fragile supervisor to be restarted by the root")
        wait_for(lambda: fragile_status(host)["workers"] == 0, what="the fragile supervisor empty")
        counts = client.one({"cmd": "count_children", "supervisor": "fragile"})
        assert counts["workers"] == 0 and counts["active"] == 0, counts
        assert all(not alive(a["pid"]) for a in answers)
        again = client.one(start("fragile", "fragile_worker"))
        assert again["result"] == "ok", again
        stopped = client.one({"cmd": "terminate_child", "supervisor": "fragile", "pid": again["pid"]})
        assert stopped["result"] == "ok", stopped
        figures.add("escalations")
    finally:
        client.close()


# ---------------------------------------------------------------- settling and measuring

def settle(host):
    """Waits until the tree and /proc agree: no child starting or restarting,
    every pool's count_children equal to its live processes, which_children
    naming exactly those pids. Returns {pid: child id}."""
    spawners = spawners_of(host)
    seen = {}

    def agreed():
        processes = live_workers(spawners)
        if len(processes) != len([p for p in children_of_all(spawners) if alive(p) and comm_of(p) != SPARE]):
            return False  # a fresh fork without its name yet
        listed = {}
        for supervisor in SUPERVISORS:
            counts = host.count_children(supervisor)
            if counts["workers"] != counts["active"]:
                return False
            children = host.which_children(supervisor)
            if len(children) != counts["active"]:
                return False
            for child in children:
                listed[child["pid"]] = child["id"]
        seen["processes"], seen["listed"] = processes, listed
        # Blips end on their own within 150 ms: wait for them, so that what
        # is returned stays true while the caller measures.
        return processes == listed and "blip" not in processes.values()

    try:
        wait_for(agreed, timeout=DEADLINE, interval=0.1, what="the tree to agree with /proc")
    except AssertionError:
        raise AssertionError("tree and /proc disagree: only in /proc %r, only in the tree %r" % (
            sorted(set(seen.get("processes", {})) - set(seen.get("listed", {}))),
            sorted(set(seen.get("listed", {})) - set(seen.get("processes", {})))))
    return seen["processes"]


def assert_no_zombie_and_no_orphan(host):
    spawners = spawners_of(host)
    wait_for(lambda: not any(zombie_children_of(pid) for pid in spawners + [host.pid]),
             timeout=5 * TIME_SCALE, what="no zombie among the host's and the spawners' children")
    orphans = [pid for pid in processes_of(host)
               if pid != host.pid and pid not in spawners and alive(pid)
               and parent_of(pid) not in spawners]
    assert not orphans, "workers whose parent is not a spawner: %r" % orphans
    assert all(parent_of(pid) == host.pid for pid in spawners)


def measure(host):
    """(descriptors beyond one per live worker, RSS in KiB), once stable."""
    figures = {}
    spawners = spawners_of(host)

    def stable():
        overhead = len(open_fds(host.pid)) - len([pid for pid in children_of_all(spawners)
                                                  if alive(pid) and comm_of(pid) != SPARE])
        settled = figures.get("overhead") == overhead
        figures["overhead"] = overhead
        return settled

    wait_for(stable, interval=0.2, what="the host's descriptor count to settle")
    return figures["overhead"], vm_rss_kib(host.pid)


def assert_in_band(base_fds, base_rss, fds, rss):
    """Descriptors: exactly one per live worker beyond the baseline's fixed
    overhead. RSS: at most 20 % or 4 MiB over the baseline."""
    assert fds == base_fds, "host descriptors beyond one per worker: %d now, %d at the baseline" % (
        fds, base_fds)
    if HOST_WRAPPER:
        return  # valgrind's own memory (translated code, freed-block queue) is in the host's RSS
    rss_band = max(base_rss * 1.2, base_rss + 4096)
    assert rss <= rss_band, "host VmRSS %d KiB, over the band %d KiB" % (rss, rss_band)


def figures_line(figures, *keys):
    return ", ".join("%s %d" % (key, figures.get(key)) for key in keys)


# ---------------------------------------------------------------- the test

def test_host_survives_a_fault_storm_without_zombies_orphans_or_leaks():
    # SIGSEGV'd workers must not litter the disk with core files.
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    # In a sanitizer build, ASan's quarantine keeps up to 256 MiB of freed
    # memory resident, which would hide (or fake) growth: keep it small.
    # No effect on an uninstrumented host.
    os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"
    # Root intensity 3 in 30 s: the storm's escalations are spread wider than that.
    host = Host(HOST_SECTIONS, CHILDREN, root_intensity=(3, 30))
    with host.start():
        figures = Figures()
        started = time.monotonic()
        fill_pools(host, figures)
        # Warm-up: one short storm, so that every buffer, table and
        # allocator arena has reached its working size before the baseline.
        Storm(host, figures).run(WARMUP_SECONDS)
        fill_pools(host, figures)
        workers = settle(host)
        assert_no_zombie_and_no_orphan(host)
        base_fds, base_rss = measure(host)
        base_workers = len(workers)
        print("baseline after warm-up: %d workers, host fds %d (%d + one per worker), VmRSS %d KiB"
              % (base_workers, base_fds + base_workers, base_fds, base_rss), flush=True)

        storm_figures = Figures()
        escalations = 2
        if SOAK_SECONDS:
            duration = 0.0
            while duration < SOAK_SECONDS:
                chunk = min(60.0, SOAK_SECONDS - duration)
                duration += Storm(host, storm_figures).run(chunk, escalations=1 if duration else 2)
                fill_pools(host, storm_figures)
                workers = settle(host)
                fds, rss = measure(host)
                print("soak %4.0fs: kills %d, starts %d, workers %d, fds overhead %d (base %d), "
                      "VmRSS %d KiB (base %d)" % (duration, storm_figures.get("kills"),
                                                  storm_figures.get("start_child ok"), len(workers),
                                                  fds, base_fds, rss, base_rss), flush=True)
                assert_in_band(base_fds, base_rss, fds, rss)
            escalations = storm_figures.get("escalations")
        else:
            duration = Storm(host, storm_figures).run(STORM_SECONDS, escalations=escalations)
        storm_figures.add("start_child ok", fill_pools(host, storm_figures))
        workers = settle(host)
        assert_no_zombie_and_no_orphan(host)
        fds, rss = measure(host)

        status = host.status()
        for supervisor in status["supervisors"]:
            expected = escalations if supervisor["name"] == "fragile" else 0
            assert supervisor["times_restarted"] == expected, supervisor
        assert storm_figures.get("escalations") == escalations

        counts = storm_figures.counts
        print("storm: %.1f s, %d workers at the end (%s)" % (
            duration, len(workers), ", ".join("%s %d" % (name, sum(1 for w in workers.values() if w == name))
                                              for name in sorted(OUR_IDS))))
        print("  " + figures_line(storm_figures, "kills", "kills by SIGKILL", "kills by SIGSEGV",
                                  "fragile kills", "escalations"))
        print("  starts: %d ok, %d max_children, %d shutting_down, %d killed in init; "
              "emits: %d ok, %d max_children" % (
                  counts.get("start_child ok", 0), counts.get("start_child error max_children", 0),
                  counts.get("start_child error shutting_down", 0),
                  counts.get("start_child error init_failed", 0) + counts.get("emit error init_failed", 0),
                  counts.get("emit ok", 0), counts.get("emit error max_children", 0)))
        print("  terminates: %d ok, %d not_found; queries: %d status, %d count_children, %d which_children"
              % (counts.get("terminate_child ok", 0), counts.get("terminate_child error not_found", 0),
                 counts.get("status ok", 0), counts.get("count_children ok", 0),
                 counts.get("which_children ok", 0)))
        print("  replies checked: %d, all well-formed; zombies 0, orphans 0" % sum(counts.values()))
        print("  host fds: %d before, %d after (overhead beyond one per worker %d before, %d after)"
              % (base_fds + base_workers, fds + len(workers), base_fds, fds))
        print("  host VmRSS: %d KiB before, %d KiB after (%+.1f%%)" % (
            base_rss, rss, 100.0 * (rss - base_rss) / base_rss), flush=True)

        assert_in_band(base_fds, base_rss, fds, rss)

        assert host.request({"cmd": "status"})["result"] == "ok"
        ours = processes_of(host)
        code = host.stop()
        assert code == 0, "host exited %s on SIGTERM" % code
        wait_for(lambda: not [pid for pid in ours if alive(pid)], timeout=5 * TIME_SCALE,
                 what="every worker gone after SIGTERM")
        assert not processes_of(host), processes_of(host)
        print("  SIGTERM: exit 0, every one of %d processes gone; whole test %.1f s"
              % (len(ours), time.monotonic() - started), flush=True)


if __name__ == "__main__":
    run_tests(globals())
