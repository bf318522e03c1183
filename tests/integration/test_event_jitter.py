"""[event:X] jitter = S: each periodic firing comes a random 0..S seconds
after it is due (SPEC §7), measured on a real host's log.

Two hosts run side by side for ~8 s: interval = 1 with jitter = 1 and
interval = 1 without jitter. For the k-th firing after the first, its
offset is t_k - t_0 - k s. With jitter every offset lies within
[-1, +1] s (no drift: firings are counted from their due times), and
their spread (max - min) is wide: 8 uniform draws all within 150 ms of
each other happen about once in a million runs. Without jitter the spread
is printed next to it for comparison (timer latency only; not asserted,
as a loaded machine delays timers too).
"""

import datetime
import re

from harness import Host, run_tests, wait_for

FIRINGS = 8
STAMP = re.compile(r"^(\S+Z) \S+ .*event tick fired \(interval\)", re.MULTILINE)

CHILDREN = {"hello.ini": "[child:hello]\nplugin = hello\nrestart = temporary\n"}


def host_with(event_keys):
    return Host("[supervisor:s]\nmax_children = infinity\n"
                "[event:tick]\nsupervisor = s\nchild = hello\n" + event_keys, CHILDREN)


def firing_times(host):
    return [datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            for stamp in STAMP.findall(host.log())]


def offsets_ms(times):
    return [(t - times[0] - k) * 1000 for k, t in enumerate(times)]


def test_jitter_spreads_each_periodic_firing_over_its_window():
    with host_with("interval = 1\njitter = 1\n").start() as jittered, \
            host_with("interval = 1\n").start() as steady:
        for host in (jittered, steady):
            wait_for(lambda: len(firing_times(host)) >= FIRINGS, timeout=FIRINGS * 2 + 20,
                     what=f"{FIRINGS} interval firings")
        jitter_offsets = offsets_ms(firing_times(jittered)[:FIRINGS])
        steady_offsets = offsets_ms(firing_times(steady)[:FIRINGS])
    spread = max(jitter_offsets) - min(jitter_offsets)
    steady_spread = max(steady_offsets) - min(steady_offsets)
    print("    offsets with jitter = 1 (ms): %s; spread %.0f ms; without jitter: spread %.0f ms"
          % (" ".join("%.0f" % o for o in jitter_offsets), spread, steady_spread))
    tolerance = 250  # timer latency on a busy machine
    assert all(-1000 - tolerance <= o <= 1000 + tolerance for o in jitter_offsets), jitter_offsets
    assert spread > 150, "jitter = 1 spread the firings by only %.0f ms" % spread


def test_a_jitter_without_interval_is_refused_by_check():
    host = host_with("jitter = 5\n")
    result = host.cli("check", check=2)
    assert "[event:tick] jitter: needs interval (jitter delays the periodic firings)" in \
        result.stderr + result.stdout, result


if __name__ == "__main__":
    run_tests(globals())
