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
    if paused:
        return "DAMON: paused for the run (--pause-damon): %s" % ", ".join(d for _, d in paused)
    on = running()
    if not on:
        return "DAMON: no kdamond running"
    return ("DAMON: %s running; a pageout scheme stalls fork and exit among thousands of "
            "processes (tools/bench_src/damon.py), --pause-damon measures without it"
            % ", ".join(d for _, d in on))


def pause(log):
    """Turns every running kdamond off until the bench exits (also on
    SIGTERM or SIGINT). Returns what was paused; [] if none ran or this
    is not allowed (then the log says so)."""
    paused = []
    for state, description in running():
        try:
            with open(state, "w") as control:
                control.write("off")
            paused.append((state, description))
            log("DAMON: paused %s for the run" % description)
        except OSError as error:
            log("warning: cannot pause %s (%s): its stalls stay in the figures"
                % (description, error.strerror))
    if paused:
        atexit.register(resume, paused, log)
        for number in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(number)

            def on_signal(signum, frame, previous=previous):
                resume(paused, log)
                if callable(previous):
                    previous(signum, frame)
                raise SystemExit(128 + signum)
            signal.signal(number, on_signal)
    return paused


def resume(paused, log):
    while paused:
        state, description = paused.pop()
        try:
            with open(state, "w") as control:
                control.write("on")
            log("DAMON: %s on again" % description)
        except OSError as error:
            log("warning: could not turn %s on again (%s): echo on > %s"
                % (description, error.strerror, state))
