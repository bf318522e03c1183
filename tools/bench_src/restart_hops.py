#!/usr/bin/env python3
"""restart_hops: where a restart's time goes, hop by hop.

    cmake -S . -B build-hops -DCMAKE_BUILD_TYPE=Release -DDYNSUP_BUILD_TESTS=OFF \
          -DCMAKE_C_FLAGS=-DDYNSUP_HOP_TRACE && cmake --build build-hops
    flock /work/bench.lock tools/bench_src/restart_hops.py build-hops --realtime

BUILD_DIR must hold a build with DYNSUP_HOP_TRACE defined
(core/src/common/hop_trace.h): each hop of the restart path stamps
CLOCK_MONOTONIC into a shared file mapping (the vDSO clock, no system
call). Kills the bench's `reporter` child --kills times per round, as
tools/bench does, after the baseline's restart loop of as many kills;
prints each hop's time from the kill (median, p10, p90), the spare's
minor page faults, and the floor. HOPS_MAPS=FILE also writes the
spawners' /proc/PID/maps (to place page faults seen with ftrace).
"""
import argparse
import importlib.machinery
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
loader = importlib.machinery.SourceFileLoader("bench", os.path.join(SOURCE_DIR, "tools", "bench"))
spec = importlib.util.spec_from_loader("bench", loader)
bench = importlib.util.module_from_spec(spec)
loader.exec_module(bench)

SLOTS = 65536
ENTRY = struct.Struct("<Iiq")
HEADER = 16
TAGS = {1: "spawner woke", 2: "spawner reaped", 3: "spawner sent EXITED", 4: "host woke",
        5: "host decided", 6: "host wrote job to spare", 7: "host done", 8: "spare woke",
        9: "spare decoded job", 10: "run called", 11: "spawner forked refill spare"}
PATH_ORDER = [1, 2, 3, 4, 5, 6, 8, 9, 10, 7, 11]


def read_entries(trace_path, since):
    with open(trace_path, "rb") as trace:
        data = trace.read()
    count = struct.unpack_from("<Q", data, 0)[0]
    entries = []
    for index in range(since, count):
        tag, pid, ns = ENTRY.unpack_from(data, HEADER + (index % SLOTS) * ENTRY.size)
        entries.append((tag, pid, ns))
    return entries, count


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("build_dir")
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--realtime", action="store_true")
    parser.add_argument("--pause-ms", type=float, default=0.0,
                        help="wait this long after each restart before the next kill")
    options = parser.parse_args(argv)
    build_dir = os.path.abspath(options.build_dir)
    bench_dir = os.path.join(build_dir, "bench")
    plugin_dir = os.path.join(bench_dir, "plugins")
    os.makedirs(plugin_dir, exist_ok=True)
    src = os.path.join(SOURCE_DIR, "tools", "bench_src")
    flags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"]
    subprocess.run(["cc", *flags, os.path.join(src, "baseline.c"), "-o",
                    os.path.join(bench_dir, "baseline")], check=True)
    subprocess.run(["cc", *flags, "-shared", "-fPIC", "-fvisibility=hidden",
                    "-I", os.path.join(SOURCE_DIR, "core", "include"),
                    os.path.join(src, "bench_worker.c"), "-o",
                    os.path.join(plugin_dir, "bench_worker.so")], check=True)
    shutil.copy2(os.path.join(build_dir, "plugins", "auth_loader.so"),
                 os.path.join(plugin_dir, "auth_loader.so"))
    print("priority:", bench.raise_priority(options.realtime), file=sys.stderr)
    run_dir = os.path.join(bench_dir, "hops-run")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    trace_path = os.path.join("/dev/shm", "dynsup-hops-%d" % os.getpid())
    with open(trace_path, "wb") as trace:
        trace.truncate(HEADER + SLOTS * ENTRY.size)
    os.environ["DYNSUP_HOP_TRACE_FILE"] = trace_path
    report_path = os.path.join(run_dir, "run-entered.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(report_path)
    receiver.settimeout(10)
    config = bench.write_config(run_dir, plugin_dir, report_path, "http://127.0.0.1:9/x",
                                os.path.join(run_dir, "store"))
    env = {"baseline": os.path.join(bench_dir, "baseline")}
    per_tag = {tag: [] for tag in TAGS}
    totals, floors = [], []
    faults = {}
    try:
        for round_number in range(options.rounds):
            floors += [ns / 1e3 for ns in bench.baseline(env, "restart", options.kills)]
            host = bench.Host(build_dir, run_dir, config, "hops")
            try:
                host.request({"cmd": "start_child", "supervisor": "bench", "child": "reporter"})
                pid = int(receiver.recv(64).split()[0])
                if os.environ.get("HOPS_MAPS"):
                    with open(os.environ["HOPS_MAPS"], "w") as out:
                        for spawner in host.spawner_pids:
                            with open("/proc/%d/maps" % spawner) as maps:
                                out.write("spawner %d\n" % spawner + maps.read())
                _, seen = read_entries(trace_path, 0)
                for _ in range(options.kills):
                    killed_at = bench.now_ns()
                    os.kill(pid, signal.SIGKILL)
                    new_pid, entered = (int(w) for w in receiver.recv(64).split())
                    # the refill spare's fork may come after run: wait for it
                    for _ in range(1000):
                        entries, count = read_entries(trace_path, seen)
                        if any(tag == 11 for tag, _, _ in entries):
                            break
                        bench.time.sleep(0.0002)
                    seen = count
                    if options.pause_ms:
                        bench.time.sleep(options.pause_ms / 1000)
                        _, seen = read_entries(trace_path, 0)
                    firsts = {}
                    for tag, value, ns in entries:
                        # the host also wakes for the refill spare and the
                        # dead worker's end of output: its wake for EXITED
                        # is the first after the spawner sent it
                        if tag == 4 and (3 not in firsts or ns < firsts[3]):
                            continue
                        firsts.setdefault(tag, ns)
                        if tag in (8, 9, 10):
                            faults.setdefault(tag, []).append(value)
                    for tag, ns in firsts.items():
                        per_tag[tag].append((ns - killed_at) / 1e3)
                    totals.append((entered - killed_at) / 1e3)
                    pid = new_pid
                host.request({"cmd": "terminate_child", "supervisor": "bench", "pid": pid})
            finally:
                host.stop()
    finally:
        os.unlink(trace_path)
    print("kill -> hop, microseconds (median, p10, p90 of %d kills in %d rounds)"
          % (len(totals), options.rounds))
    for tag in PATH_ORDER:
        samples = sorted(per_tag[tag])
        if samples:
            print("  %-30s %8.1f %8.1f %8.1f  (n=%d)" % (
                TAGS[tag], statistics.median(samples), samples[len(samples) // 10],
                samples[len(samples) * 9 // 10], len(samples)))
    if faults.get(8) and faults.get(10):
        print("  minor faults, spare woke -> decoded -> run: median %d, %d" % (
            statistics.median(b - a for a, b in zip(faults[8], faults[9])),
            statistics.median(b - a for a, b in zip(faults[9], faults[10]))))
    totals.sort()
    floors.sort()
    print("  %-30s %8.1f %8.1f %8.1f" % ("run entered (worker's report)", statistics.median(totals),
                                          totals[len(totals) // 10], totals[len(totals) * 9 // 10]))
    print("  %-30s %8.1f %8.1f %8.1f" % ("floor: kill -> child runs", statistics.median(floors),
                                          floors[len(floors) // 10], floors[len(floors) * 9 // 10]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
