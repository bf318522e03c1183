"""tools/bench --pause-damon (tools/bench_src/damon.py), on a fake DAMON
admin tree: the running kdamonds, and only those, are turned off for the
run and on again at its end, also when the run is interrupted by SIGTERM;
the notes name what ran. The real tree is never touched here."""

import os
import signal
import subprocess
import sys
import tempfile

from harness import run_tests

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tools", "bench_src"))
import damon  # noqa: E402


def fake_tree(root, states):
    """kdamonds 0..n-1 with these states, each a paddr context with a pageout scheme."""
    for index, state in enumerate(states):
        folder = os.path.join(root, str(index))
        scheme = os.path.join(folder, "contexts", "0", "schemes", "0")
        os.makedirs(scheme)
        for path, text in ((os.path.join(folder, "state"), state),
                           (os.path.join(folder, "contexts", "0", "operations"), "paddr"),
                           (os.path.join(scheme, "action"), "pageout")):
            with open(path, "w") as out:
                out.write(text + "\n")


def state(root, index):
    with open(os.path.join(root, str(index), "state")) as source:
        return source.read().strip()


def test_pause_turns_off_only_running_kdamonds_and_resume_turns_them_on():
    with tempfile.TemporaryDirectory() as root:
        fake_tree(root, ["on", "off"])
        damon.ADMIN = root
        assert "kdamond 0 (paddr, schemes: pageout) running" in damon.describe([]), damon.describe([])
        lines = []
        paused = damon.pause(lines.append)
        assert [state(root, 0), state(root, 1)] == ["off", "off"]
        assert "paused for the run" in damon.describe(paused) and "kdamond 0" in damon.describe(paused)
        damon.resume(paused, lines.append)
        assert [state(root, 0), state(root, 1)] == ["on", "off"], "kdamond 1 was off: stays off"
        assert any("on again" in line for line in lines), lines


def test_nothing_running_is_said_and_nothing_is_written():
    with tempfile.TemporaryDirectory() as root:
        fake_tree(root, ["off"])
        damon.ADMIN = root
        assert damon.describe([]) == "DAMON: no kdamond running"
        assert damon.pause(print) == []
        assert state(root, 0) == "off"
    damon.ADMIN = os.path.join(root, "absent")
    assert damon.describe([]) == "DAMON: no kdamond running"


def damon_script(root, body):
    """A python -c program that imports damon.py aimed at the fake tree
    under root, then runs body."""
    return ("import os, signal, sys, time; sys.path.insert(0, %r); import damon; damon.ADMIN = %r\n"
            % (os.path.join(SOURCE_DIR, "tools", "bench_src"), root)) + body


def interrupted_run_restores(number):
    # The pausing process naps in short sleeps, as the bench is always
    # busy: Python runs a handler only between bytecodes, so a signal that
    # lands just before a long sleep() starts waits for its end.
    with tempfile.TemporaryDirectory() as root:
        fake_tree(root, ["on"])
        script = damon_script(root, "damon.pause(lambda line: print(line, flush=True)); print('paused', flush=True)\n"
                                    "for _ in range(600): time.sleep(0.1)\n")
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            lines = []
            while not lines or lines[-1] != "paused":
                lines.append(child.stdout.readline().strip())
                assert child.poll() is None, "the pausing process ended early: %r" % lines
            assert state(root, 0) == "off"
            assert any("echo on > " in line for line in lines), "no restore command logged: %r" % lines
            child.send_signal(number)
            assert child.wait(timeout=30) == 128 + number
        finally:
            child.kill()
        assert state(root, 0) == "on", "signal %d during the run left the kdamond off" % number


def test_an_interrupted_run_turns_the_kdamond_on_again():
    interrupted_run_restores(signal.SIGTERM)


def test_a_hangup_turns_the_kdamond_on_again():
    interrupted_run_restores(signal.SIGHUP)


def test_a_signal_that_lands_while_the_log_is_being_written_still_restores_and_exits():
    """print() calls the signal handler from inside its own flush, so the
    handler's log line meets a busy stream (RuntimeError: reentrant call,
    seen under load). The line may be lost; the restore and the exit not."""
    with tempfile.TemporaryDirectory() as root:
        fake_tree(root, ["on"])
        script = damon_script(root,
                              "busy = []\n"
                              "def log(line):\n"
                              "    if busy: raise RuntimeError('reentrant call inside the log stream')\n"
                              "    if line == 'the run goes on':\n"
                              "        busy.append(line); os.kill(os.getpid(), signal.SIGTERM); busy.clear()\n"
                              "damon.pause(log)\n"
                              "log('the run goes on')\n"
                              "print('not reached')\n")
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
        assert result.returncode == 128 + signal.SIGTERM, (result.returncode, result.stderr)
        assert "not reached" not in result.stdout
        assert state(root, 0) == "on", "the kdamond was left off"


if __name__ == "__main__":
    run_tests(globals())
