"""Helpers for the tests of an installed dynsup (test_install.py,
test_package.py): build a throwaway install, run its host on its own
config, and build plugins against it."""

import os
import signal
import subprocess
import tempfile

from harness import DEADLINE, SOURCE_DIR, alive, gone, wait_for

BUILD_TIMEOUT = 600


def run(command, **kwargs):
    """Runs command; fails with its output unless it exits 0."""
    kwargs.setdefault("timeout", BUILD_TIMEOUT)
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, "%s failed (exit %d):\n%s\n%s" % (
        command, result.returncode, result.stdout, result.stderr)
    return result


def configure_and_build(build_dir, *cmake_args):
    """A release build of the source tree without its tests (they are not
    what is installed)."""
    run(["cmake", "-S", SOURCE_DIR, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
         "-DDYNSUP_BUILD_TESTS=OFF"] + list(cmake_args))
    run(["cmake", "--build", build_dir, "-j2"])


def short_temp_dir(prefix):
    """A folder in /tmp: a socket path must fit in 108 bytes."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


class InstalledHost:
    """The installed dynsup-host run on the installed config, exactly as
    shipped. `wrap` prefixes every command (a chroot, say); `host_path`
    maps a path as the host sees it to one this process can open."""

    def __init__(self, binary, config, wrap=(), host_path=lambda path: path, log_dir="/tmp"):
        self.binary = binary
        self.config = config
        self.wrap = list(wrap)
        self.host_path = host_path
        self.log_path = os.path.join(log_dir, "installed-host.log")
        self.process = None

    def command(self, *args):
        return self.wrap + [self.binary] + list(args)

    def cli(self, *args):
        return subprocess.run(self.command(args[0], "-c", self.config, *args[1:]),
                              capture_output=True, text=True, timeout=DEADLINE)

    def log(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode("utf-8", "replace")

    def start(self):
        self.log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command("run", "-c", self.config),
                                        stdout=self.log_file, stderr=subprocess.STDOUT)

        def answers():
            assert self.process.poll() is None, "host exited early (%s):\n%s" % (
                self.process.returncode, self.log())
            return self.cli("status").returncode == 0

        wait_for(answers, what="the installed host to answer")
        return self

    def stop_and_wait(self):
        result = self.cli("stop")
        assert result.returncode == 0, (result.stdout, result.stderr)
        return self.process.wait(DEADLINE)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


def exe_seen_by(host, pid):
    """/proc/PID/exe as the host's own mount namespace names it."""
    return run(host.wrap + ["readlink", "/proc/%d/exe" % pid]).stdout.strip()


def exercise(host, supervisor="examples", spawner=None):
    """check, run, start a child, reload, stop: the installed host on its installed
    config, with no edit. Returns the host's log. spawner: the installed
    dynsup-spawner (as the host sees it), which must run the spawners and
    so be the image of every worker."""
    checked = host.cli("check")
    assert checked.returncode == 0, (checked.stdout, checked.stderr)
    assert ": ok (" in checked.stdout, checked.stdout
    try:
        host.start()
        started = host.cli("start-child", supervisor, "sleeper")
        assert started.returncode == 0 and started.stdout.startswith("ok "), (started.stdout, started.stderr)
        pid = int(started.stdout.split()[1])
        assert alive(pid)
        if spawner:
            with open("/proc/%d/stat" % pid) as stat:
                spawner_pid = int(stat.read().rsplit(")", 1)[1].split()[1])
            assert exe_seen_by(host, spawner_pid) == spawner, exe_seen_by(host, spawner_pid)
            assert exe_seen_by(host, pid) == spawner, exe_seen_by(host, pid)
            assert "spawners run %s (its installed path)" % spawner in host.log(), host.log()
        listed = host.cli("which-children", supervisor)
        assert str(pid) in listed.stdout, listed.stdout
        reloaded = host.cli("reload")  # what ExecReload= runs
        assert reloaded.returncode == 0, (reloaded.stdout, reloaded.stderr)
        assert alive(pid), "a reload touched a running child"
        assert host.stop_and_wait() == 0, host.log()
        wait_for(lambda: gone(pid), what="the sleeper to be gone")
    finally:
        host.kill()
    log = host.log()
    # Boot and the whole run on the shipped defaults: not one error or warning.
    bad = [line for line in log.splitlines() if " info " not in line and " notice " not in line
           and " debug " not in line]
    assert not bad, "lines above info on the installed defaults:\n" + "\n".join(bad)
    assert "dynsup-host started" in log and "dynsup-host stopped (exit status 0)" in log, log
    return log
