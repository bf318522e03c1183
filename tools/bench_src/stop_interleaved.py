#!/usr/bin/env python3
"""Stop at N live children against the graceful floor, interleaved.

    flock /work/bench.lock tools/bench_src/stop_interleaved.py [--pause-damon] [--perf] [--tree-cpu] [--floor-with-plugin] SIZES REPS BUILD_DIR...

e.g. `... 2000,10000 3 build-before build-bench`: each repetition runs, per
size, `baseline stop N` (the floor, from the first build dir) and then a
fresh dynsup-host of each build dir holding N sleepers, stopped (request
to host exit), one after the other, so that every build meets the same
machine. Each BUILD_DIR is a tools/bench build (its bench/ folder holds
the baseline and the bench plugins). Runs SCHED_FIFO, as `tools/bench
--realtime` does. Besides the wall time it can report the CPU the stop
cost; either way perturbs what it measures, so the ratios of such a run
are not the figure:
  --tree-cpu  every process of the host's tree (children's rusage, less
              what they had used before the stop). That "before" reads
              every worker's /proc entry, and the kernel then has to drop
              those entries when each worker is reaped: about 15 us more
              of the spawner's CPU per worker, at the end of the stop
              (the floor's children are never looked at).
  --perf      the host's and the spawners' own (perf stat, at normal
              priority: a perf under SCHED_FIFO can hold a CPU). perf stat
              makes every context switch of the processes it watches
              dearer, and only dynsup's are watched.
Every repetition is printed and written to BUILD_DIR0/stop-interleaved.json.
--pause-damon: as tools/bench's.
--floor-with-plugin: each repetition also runs the floor from a process
that has dlopen'ed the bench's worker plugin first (`baseline --load`), so
that its children map what a worker maps (the plugin's file besides libc
and ld.so): what part of the gap is the plugin's mappings' and not the
supervisor's.
"""
import importlib.machinery
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import time

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def load_bench():
    loader = importlib.machinery.SourceFileLoader("bench", os.path.join(SOURCE_DIR, "tools", "bench"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("bench", loader))
    loader.exec_module(module)
    return module


def stop_once(bench, build, env, live, use_perf, tree_cpu):
    host = bench.Host(build, env["run_dir"], env["config"], "stop")
    try:
        host.start_many("sleeper", live)
        if host.count()["active"] != live:
            raise RuntimeError("not all %d workers started" % live)
        time.sleep(0.3)
        before = bench.cpu_ns(host.pid) + sum(bench.cpu_ns(p) for p in host.spawner_pids)
        for spawner in (host.spawner_pids if tree_cpu else []):
            for worker in bench.children_of(spawner):
                try:
                    before += bench.cpu_ns(worker)
                except OSError:
                    pass
        perf, stat_path = None, os.path.join(env["run_dir"], "perf-stat.txt")
        if use_perf and shutil.which("perf"):
            pids = ",".join(str(p) for p in [host.pid] + host.spawner_pids)
            perf = subprocess.Popen(["chrt", "-o", "0", "perf", "stat", "--per-thread", "-x,", "-e",
                                     "task-clock", "-o", stat_path, "-p", pids],
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.3)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall_ms = host.stop() / 1e6
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_ms = None
        if tree_cpu:
            cpu_ms = (after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime) * 1e3 - before / 1e6
        own = {"host_cpu_ms": None, "spawner_cpu_ms": None}
        if perf:
            perf.wait(timeout=60)
            own = {"host_cpu_ms": 0.0, "spawner_cpu_ms": 0.0}
            for line in open(stat_path):
                fields = line.strip().split(",")
                if len(fields) > 3 and "task-clock" in line:
                    who = "host_cpu_ms" if fields[0].startswith("dynsup-host") else "spawner_cpu_ms"
                    own[who] += float(fields[1])
        return dict(ms=wall_ms, cpu_ms=cpu_ms, **own)
    finally:
        host.kill()


def print_ratios(bench, label, ratios, numerators=None, denominators=None):
    """Every repetition's ratio, sorted, and their median; with the times,
    also the ratio of their medians (tools/bench's way). The two differ
    when a repetition's two stops vary apart: neither is the better one
    to quote alone."""
    median = bench.report.median
    line = "%s: ratios %s, median %.2f" % (label, " ".join("%.2f" % x for x in sorted(ratios)),
                                           median(ratios))
    if numerators and denominators:
        line += "; ratio of the medians %.2f (%.1f / %.1f ms)" % (
            median(numerators) / median(denominators), median(numerators), median(denominators))
    print(line)


def main(argv):
    pause_damon = "--pause-damon" in argv
    use_perf = "--perf" in argv
    with_plugin = "--floor-with-plugin" in argv
    tree_cpu = "--tree-cpu" in argv
    argv = [a for a in argv if a not in ("--pause-damon", "--perf", "--floor-with-plugin", "--tree-cpu")]
    sizes, reps = [int(n) for n in argv[0].split(",")], int(argv[1])
    builds = [os.path.abspath(b) for b in argv[2:]]
    # Each build's name in the output: its folder's name, or its whole path
    # when two builds share that name (they would be counted as one).
    names = [os.path.basename(b) for b in builds]
    label = {b: (b if names.count(os.path.basename(b)) > 1 else os.path.basename(b)) for b in builds}
    bench = load_bench()
    print("priority %s, load average %s, %s UTC" % (bench.raise_priority(True), os.getloadavg(),
                                                   time.strftime("%H:%M:%S", time.gmtime())), flush=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import damon
    paused = damon.pause(bench.log) if pause_damon else []
    print(damon.describe(paused), flush=True)
    envs = {}
    for build in builds:
        run_dir = os.path.join(build, "bench", "stop-run")
        shutil.rmtree(run_dir, ignore_errors=True)
        os.makedirs(run_dir)
        envs[build] = {"run_dir": run_dir, "baseline": os.path.join(builds[0], "bench", "baseline"),
                       "config": bench.write_config(run_dir, os.path.join(build, "bench", "plugins"),
                                                    os.path.join(run_dir, "report.sock"),
                                                    "http://127.0.0.1:1/unused",
                                                    os.path.join(run_dir, "auth.json"))}
    rows = []
    for rep in range(reps):
        for live in sizes:
            floor = bench.baseline(envs[builds[0]], "stop", live)[0] / 1e6
            line = "rep %d, %5d live: floor %7.1f ms" % (rep + 1, live, floor)
            plugin_floor = None
            if with_plugin:
                plugin = os.path.join(builds[0], "bench", "plugins", "bench_worker.so")
                plugin_floor = bench.baseline(envs[builds[0]], "--load", plugin, "stop", live)[0] / 1e6
                line += ", with the plugin %7.1f ms" % plugin_floor
            for build in builds:
                row = dict(rep=rep, live=live, build=label[build], floor_ms=floor,
                           plugin_floor_ms=plugin_floor,
                           **stop_once(bench, build, envs[build], live, use_perf, tree_cpu))
                rows.append(row)
                line += " | %s %7.1f ms %.2fx" % (row["build"], row["ms"], row["ms"] / floor)
                if row["cpu_ms"] is not None:
                    line += ", CPU %5.0f ms" % row["cpu_ms"]
                if row["host_cpu_ms"] is not None:
                    line += " (host %.0f, spawners %.0f)" % (row["host_cpu_ms"], row["spawner_cpu_ms"])
            print(line, flush=True)
    for live in sizes:
        for build in builds:
            mine = [r for r in rows if r["live"] == live and r["build"] == label[build]]
            print_ratios(bench, "%5d live, %s" % (live, label[build]),
                         [r["ms"] / r["floor_ms"] for r in mine],
                         [r["ms"] for r in mine], [r["floor_ms"] for r in mine])
            if with_plugin:
                print_ratios(bench, "%5d live, %s against the floor with the plugin"
                             % (live, label[build]),
                             [r["ms"] / r["plugin_floor_ms"] for r in mine])
        if with_plugin:
            print_ratios(bench, "%5d live, the floor with the plugin against the floor" % live,
                         [r["plugin_floor_ms"] / r["floor_ms"] for r in rows
                          if r["live"] == live and r["build"] == label[builds[0]]])
    with open(os.path.join(builds[0], "stop-interleaved.json"), "w") as out:
        json.dump(rows, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
