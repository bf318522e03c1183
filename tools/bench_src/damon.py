"""DAMON, the kernel's data access monitor, as the bench meets it.

Some machines run a kdamond with a `pageout` scheme (this project's VMs
do: physical-address monitoring, file pages paged out once cold). Paging
out a file page that 10,000 processes map means unmapping it from 10,000
page tables while holding that file's rmap lock, and fork and exit need
the same lock: with thousands of live processes, every restart then
waits tens of milliseconds now and then, dynsup's and the bare floor's
alike (measured on 2026-12-07: the floor among 10,000 live, 250 kills,
p99 0.44 - 1.09 ms with the kdamond off, 48 - 94 ms with it on, within a
minute of each other; the stalls begin when the scheme's first pageouts
are applied, about a minute after it starts).

The bench says in its notes which kdamonds ran, and `--pause-damon`
(root) turns the running ones off for the run and back on after it.
Turning one on again restarts its monitoring from scratch, which is all
a pause costs the machine.
"""
import atexit
import glob
import os
import signal

ADMIN = "/sys/kernel/mm/damon/admin/kdamonds"


def _read(path):
    try:
        with open(path) as source:
            return source.read().strip()
    except OSError:
        return ""


def running():
    """The kdamonds that are on: [(state file, description)]."""
    found = []
    for state in sorted(glob.glob(os.path.join(ADMIN, "[0-9]*", "state"))):
        if _read(state) != "on":
            continue
        folder = os.path.dirname(state)
        contexts = []
        for context in sorted(glob.glob(os.path.join(folder, "contexts", "[0-9]*"))):
            actions = [_read(os.path.join(scheme, "action"))
                       for scheme in sorted(glob.glob(os.path.join(context, "schemes", "[0-9]*")))]
            contexts.append("%s%s" % (_read(os.path.join(context, "operations")) or "?",
                                      ", schemes: " + " ".join(actions) if actions else ""))
        found.append((state, "kdamond %s (%s)" % (os.path.basename(folder), "; ".join(contexts))))
    return found


def describe(paused):
    on = running()
    if paused:
        text = "DAMON: paused for the run (--pause-damon): %s" % ", ".join(d for _, d in paused)
        if on:
            text += "; still running: %s" % ", ".join(d for _, d in on)
        return text
    if not on:
        return "DAMON: no kdamond running"
    return ("DAMON: %s running; a pageout scheme stalls fork and exit among thousands of "
            "processes (tools/bench_src/damon.py), --pause-damon measures without it"
            % ", ".join(d for _, d in on))


def _quietly(log, text):
    try:
        log(text)
    # OSError, ValueError: stderr gone (a closed pipe). RuntimeError: a
    # signal handler's line met the stream busy with the line it
    # interrupted (print() runs handlers inside its flush). Either way,
    # restoring matters more than the line.
    except (OSError, ValueError, RuntimeError):
        pass


def pause(log):
    """Turns every running kdamond off until the bench exits: at its
    normal end, on an exception (atexit), and on SIGTERM, SIGINT or SIGHUP
    (a signal that was ignored stays ignored). Only a SIGKILL can leave
    one off, so the command that turns it on again is logged first.
    Returns what was paused; [] if none ran or this is not allowed (then
    the log says so)."""
    paused = []
    # Ready to restore before the first one goes off.
    atexit.register(resume, paused, log)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        previous = signal.getsignal(number)
        if previous == signal.SIG_IGN:
            continue

        def on_signal(signum, frame, previous=previous):
            resume(paused, log)
            if callable(previous):
                previous(signum, frame)
            raise SystemExit(128 + signum)
        signal.signal(number, on_signal)
    for state, description in running():
        _quietly(log, "DAMON: pausing %s for the run (if the bench is killed: echo on > %s)"
                 % (description, state))
        paused.append((state, description))  # before the write: a signal now restores it too
        try:
            with open(state, "w") as control:
                control.write("off")
        except OSError as error:
            paused.remove((state, description))
            _quietly(log, "warning: cannot pause %s (%s): its stalls stay in the figures"
                     % (description, error.strerror))
    return paused


def resume(paused, log):
    """Turns the paused kdamonds on again, once (signals held meanwhile,
    so a second Ctrl-C cannot cut it short); an entry leaves the list
    only once it is on again."""
    blocked = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        for state, description in list(paused):
            try:
                if _read(state) != "on":
                    with open(state, "w") as control:
                        control.write("on")
                paused.remove((state, description))
                _quietly(log, "DAMON: %s on again" % description)
            except OSError as error:
                _quietly(log, "warning: could not turn %s on again (%s): echo on > %s"
                         % (description, error.strerror, state))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
