"""Integration-test harness: a real dynsup-host, real workers, a real socket.

Each test builds a config in a fresh temporary folder, starts the host from
the build tree, talks to it over its control socket (or through the CLI),
and checks real effects in /proc and on disk. Waiting is always a poll with
a generous deadline, never a fixed sleep.
"""

import atexit
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BUILD_DIR = os.environ.get("DYNSUP_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("DYNSUP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
HOST_BINARY = os.path.join(BUILD_DIR, "dynsup-host")
PLUGIN_DIR = os.path.join(BUILD_DIR, "plugins")
DEADLINE = float(os.environ.get("DYNSUP_TEST_DEADLINE", "20"))
# A command that prefixes the host daemon's command line, e.g. "valgrind --tool=memcheck ..." (tools/valgrind); client commands run bare.
HOST_WRAPPER = shlex.split(os.environ.get("DYNSUP_HOST_WRAPPER", ""))
# Multiplies the timing budgets of tests that measure speed (a host under
# valgrind is many times slower); DYNSUP_TEST_DEADLINE covers plain waits.
TIME_SCALE = float(os.environ.get("DYNSUP_TIME_SCALE", "1"))


def _sanitized_build():
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as cache:
            return any(line.strip() == "DYNSUP_SANITIZE:BOOL=ON" for line in cache)
    except OSError:
        return False


# An ASan build: its runtime reserves terabytes of address space, so an
# address-space limit (limit_memory) kills every instrumented worker.
SANITIZED = _sanitized_build()


_folder_for_anyone = None


def _for_anyone():
    """A folder that another user (nobody) may enter, holding copies of
    dynsup-host, dynsup-spawner and the plugins. A checkout can sit under a
    folder only root may enter (root's home, a `mktemp -d` folder, both
    0700), where nobody gets EACCES at exec or at the plugin folder: tests
    that run the host as nobody use these copies. Made once per test file,
    removed at its end."""
    global _folder_for_anyone
    if _folder_for_anyone is None:
        folder = tempfile.mkdtemp(prefix="dynsup-bin-")
        atexit.register(shutil.rmtree, folder, True)
        os.chmod(folder, 0o755)
        for name in ("dynsup-host", "dynsup-spawner"):
            shutil.copy2(os.path.join(os.path.dirname(HOST_BINARY), name), folder)
        shutil.copytree(PLUGIN_DIR, os.path.join(folder, "plugins"))
        for root, dirs, _ in os.walk(folder):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
        _folder_for_anyone = folder
    return _folder_for_anyone


def host_binary_for_anyone():
    return os.path.join(_for_anyone(), "dynsup-host")


def plugin_dir_for_anyone():
    return os.path.join(_for_anyone(), "plugins")


# The misbehaving test plugin (tests/plugins/rogue.c), never installed.
ROGUE_PLUGIN = os.path.join(BUILD_DIR, "test-plugins", "runtime", "rogue.so")


def plugin_folder_holding(*plugins):
    """A fresh plugin folder (mkdtemp: 0700, ours) holding copies of the
    plugin files `plugins` (paths)."""
    folder = tempfile.mkdtemp(prefix="dynsup-plugins-")
    for plugin in plugins:
        shutil.copy(plugin, folder)
    return folder


def wait_for(predicate, timeout=DEADLINE, interval=0.01, what="condition"):
    """Polls predicate until it returns a true value; fails after timeout."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def process_state(pid):
    """The /proc state letter of pid, or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid):
    state = process_state(pid)
    return state is not None and state not in ("Z", "X")


def gone(pid):
    return not alive(pid)


def parent_of(pid):
    with open("/proc/%d/stat" % pid) as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def children_of(pid):
    """Pids whose parent is pid (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if parent_of(int(entry)) == pid:
                    found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return found


def open_fds(pid):
    return sorted(int(fd) for fd in os.listdir("/proc/%d/fd" % pid))


def read_probe(path):
    """The probe plugin's report: {'arg': [...], 'fd': [...], 'env': [...], key: value}."""
    report = {"arg": [], "fd": [], "env": []}
    with open(path) as probe:
        for line in probe:
            key, _, value = line.rstrip("\n").partition(": ")
            if key in ("arg", "fd", "env"):
                report[key].append(value)
            else:
                report[key] = value
    return report


class Host:
    """A dynsup-host in a temporary folder.

    host_sections: the text of the host file after its [host] section;
    children: {file name: text} for children.d; host_keys: extra [host] keys.
    """

    def __init__(self, host_sections="", children=None, host_keys="", plugin_dir=PLUGIN_DIR,
                 root_intensity=(3, 5)):
        self.dir = tempfile.mkdtemp(prefix="dynsup-test-")
        self.config = os.path.join(self.dir, "dynsup.ini")
        self.socket_path = os.path.join(self.dir, "run", "dynsup.sock")
        os.makedirs(os.path.join(self.dir, "run"), mode=0o700)
        os.makedirs(os.path.join(self.dir, "children.d"))
        with open(self.config, "w") as config:
            config.write("[host]\nplugin_dir = %s\nchildren_dir = children.d\nsocket = run/dynsup.sock\n"
                         "max_restarts = %d\nmax_seconds = %d\n%s\n%s\n"
                         % (plugin_dir, root_intensity[0], root_intensity[1], host_keys, host_sections))
        for name, text in (children or {}).items():
            with open(os.path.join(self.dir, "children.d", name), "w") as child:
                child.write(text)
        self.log_path = os.path.join(self.dir, "host.log")
        self.process = None

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self, wait=True, args=(), env=None):
        """args: more words for `run`; env: the host's environment (default: ours)."""
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(HOST_WRAPPER + [HOST_BINARY, "run", "-c", self.config] + list(args),
                                        stdout=self.log_file, stderr=subprocess.STDOUT, env=env)
        if wait:
            wait_for(self._answers, what="the host's control socket")
        return self

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError("host exited early with %s; log:\n%s" % (self.process.returncode, self.log()))
        try:
            self.request({"cmd": "status"})
            return True
        except OSError:
            return False

    @property
    def pid(self):
        return self.process.pid

    def log(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode("utf-8", "replace")

    def wait_log(self, text, timeout=DEADLINE):
        return wait_for(lambda: text in self.log(), timeout, what="log line %r" % text)

    def connect(self):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(DEADLINE)
        client.connect(self.socket_path)
        return client

    def request(self, message):
        """One request on a fresh connection; returns the decoded answer."""
        return self.requests([message])[0]

    def requests(self, messages):
        """Pipelines raw lines (str) or objects on one connection; returns answers in order."""
        with self.connect() as client:
            data = "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)
            client.sendall(data.encode())
            reader = client.makefile("rb")
            answers = []
            for _ in messages:
                line = reader.readline()
                if not line:
                    raise AssertionError("connection closed after %d answers" % len(answers))
                answers.append(json.loads(line))
            return answers

    def cli(self, *args, check=None):
        result = subprocess.run([HOST_BINARY] + [str(a) for a in args[:1]] + ["-c", self.config]
                                + [str(a) for a in args[1:]],
                                capture_output=True, text=True, timeout=DEADLINE)
        if check is not None:
            assert result.returncode == check, "exit %d, expected %d; stdout %r stderr %r" % (
                result.returncode, check, result.stdout, result.stderr)
        return result

    def start_child(self, supervisor, child, args=None, name=None):
        message = {"cmd": "start_child", "supervisor": supervisor, "child": child}
        if args is not None:
            message["args"] = args
        if name is not None:
            message["name"] = name
        return self.request(message)

    def which_children(self, supervisor):
        answer = self.request({"cmd": "which_children", "supervisor": supervisor})
        assert answer["result"] == "ok", answer
        return answer["children"]

    def count_children(self, supervisor):
        answer = self.request({"cmd": "count_children", "supervisor": supervisor})
        assert answer["result"] == "ok", answer
        return answer

    def stop(self, timeout=DEADLINE):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout)
        return self.process.returncode

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        if exc[0] is not None:
            sys.stderr.write("---- host log (%s) ----\n%s\n" % (self.log_path, self.log() if self.process else ""))
        return False


def become(uid, gid):
    """In a forked child: run as uid/gid from here on, with no
    supplementary groups."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def talk_as(socket_path, uid, gid, request):
    """Connects to socket_path from a forked child running as uid/gid (no
    supplementary groups), sends `request` (bytes), shuts its writing side
    down and reads until EOF.
    Returns (child pid, everything received); raises if the child failed."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_end)
            become(uid, gid)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(DEADLINE)
            client.connect(socket_path)
            try:
                client.sendall(request)
                client.shutdown(socket.SHUT_WR)  # all asked: the host answers, then closes
            except (BrokenPipeError, ConnectionResetError):
                pass  # a refused peer may be closed before it sent a byte; its line is still there
            received = b""
            while True:
                try:
                    chunk = client.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
            os.write(write_end, b"ok\n" + received)
            status = 0
        except BaseException as error:  # the parent reports it
            os.write(write_end, ("error %r\n" % error).encode())
        finally:
            os._exit(status)
    os.close(write_end)
    output = b""
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        output += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    status, _, received = output.partition(b"\n")
    assert status == b"ok", "client as uid %d failed: %s" % (uid, output.decode(errors="replace"))
    return pid, received


def run_tests(module_globals):
    """Runs every test_* function of the module; prints one line per test and
    a closing 'N passed, N failed' line; exits non-zero on any failure."""
    selected = sys.argv[1:]
    tests = [(name, fn) for name, fn in sorted(module_globals.items())
             if name.startswith("test_") and callable(fn) and (not selected or name in selected)]
    passed = failed = 0
    for name, fn in tests:
        started = time.monotonic()
        try:
            fn()
            passed += 1
            print("ok   %s (%.2fs)" % (name, time.monotonic() - started), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % name, flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


# ---- helpers added for the semantics, protocol, CLI and config tests ----

def spawners_of(host):
    """The spawners, one per plugin: the host's only child processes."""
    return wait_for(lambda: children_of(host.pid), what="the spawner processes")


def children_of_all(parents):
    """Children of every pid in parents (the workers of every spawner)."""
    return [pid for parent in parents for pid in children_of(parent)]


SPARE = "dynsup-spare"


def worker_pids(host):
    """Live worker processes (children of the spawners, but their spares:
    a spare is named so from birth), from /proc."""
    return sorted(pid for pid in children_of_all(spawners_of(host))
                  if alive(pid) and comm_of(pid) != SPARE)


def wait_workers(host, count, timeout=DEADLINE):
    """Waits until exactly `count` live workers exist; returns their pids."""
    found = []

    def settled():
        found[:] = worker_pids(host)
        return len(found) == count

    wait_for(settled, timeout, what="exactly %d worker processes" % count)
    return list(found)


def timed(fn, *args, **kwargs):
    """(result of fn, seconds it took)."""
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started


def run_cli(*args, timeout=DEADLINE, env=None):
    """Runs dynsup-host with exactly these arguments."""
    return subprocess.run([HOST_BINARY] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _host_status(self):
    answer = self.request({"cmd": "status"})
    assert answer["result"] == "ok", answer
    return answer


def _host_supervisor_status(self, name):
    for supervisor in self.status()["supervisors"]:
        if supervisor["name"] == name:
            return supervisor
    raise AssertionError("no supervisor %r in status" % name)


def _host_terminate_child(self, supervisor, pid):
    return self.request({"cmd": "terminate_child", "supervisor": supervisor, "pid": pid})


def _host_child_pids(self, supervisor, child_id=None):
    """Pids (None while restarting) of the supervisor's children, optionally of one child id."""
    return [c["pid"] for c in self.which_children(supervisor) if child_id is None or c["id"] == child_id]


Host.status = _host_status
Host.supervisor_status = _host_supervisor_status
Host.terminate_child = _host_terminate_child
Host.child_pids = _host_child_pids


# ---- helpers added for the reliability tests (storm, host death, store crash) ----

def comm_of(pid):
    """The process name (/proc/PID/comm): a worker sets it to its child id."""
    try:
        with open("/proc/%d/comm" % pid) as comm:
            return comm.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def processes_of(host):
    """Every live process forked from this host: the host itself, the spawner
    and the workers. Workers are forked, never exec'ed, so their command line
    is the host's, which names this host's own config file: a marker that
    survives reparenting (an orphan is found as well as a proper child)."""
    marker = host.config.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as cmdline:
                words = cmdline.read().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if marker in words and alive(int(entry)):
            found.append(int(entry))
    return sorted(found)


def zombie_children_of(pid):
    """Children of pid that died and were not reaped yet."""
    return sorted(child for child in children_of(pid) if process_state(child) == "Z")


def status_number(pid, field):
    """The number a /proc/PID/status line `field:` starts with (VmRSS in
    KiB, TracerPid, ...)."""
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


@contextlib.contextmanager
def traced(pid, calls):
    """strace attached to pid (its main thread) for the block's length,
    tracing `calls` (strace's trace= list). Yields a list that holds the
    trace's lines once the block is over. A process that exits in the
    block ends the trace itself."""
    trace = os.path.join(tempfile.mkdtemp(prefix="dynsup-trace-"), "trace")
    tracer = subprocess.Popen(["strace", "-qq", "-e", "trace=" + calls, "-e", "signal=none",
                               "-o", trace, "-p", str(pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines = []
    try:
        wait_for(lambda: status_number(pid, "TracerPid") == tracer.pid, what="strace attached to %d" % pid)
        yield lines
    finally:
        if tracer.poll() is None:
            tracer.send_signal(signal.SIGINT)
        tracer.wait(DEADLINE)
        with open(trace) as calls_made:
            lines.extend(calls_made.readlines())


def vm_rss_kib(pid):
    """Resident set size of pid in KiB (/proc/PID/status VmRSS)."""
    return status_number(pid, "VmRSS")
