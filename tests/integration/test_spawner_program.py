"""The spawner's own program (issue 13): every worker is a fork of its
spawner and maps what the spawner maps, so the host runs its spawners from
dynsup-spawner (libc only), found beside dynsup-host, and falls back to
`dynsup-host --internal-spawner` when there is none. The real effects: the
spawner's /proc/PID/exe, and a worker's /proc/PID/maps without the host's
libraries."""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile

from harness import (BUILD_DIR, HOST_BINARY, SPARE, Host, children_of, comm_of, gone, parent_of, run_tests,
                     spawners_of, wait_for, wait_workers)
import harness

SPAWNER_BINARY = os.path.join(BUILD_DIR, "dynsup-spawner")
HOST_LIBRARIES = ("libuv", "libjansson", "libiniparser")

SUPERVISOR = """
[supervisor:work]
max_children = infinity
"""

CHILDREN = {"sleeper.ini": """
[child:sleeper]
plugin = sleeper
restart = temporary
shutdown = 2000
"""}


def exe_of(pid):
    return os.readlink("/proc/%d/exe" % pid)


def libraries_mapped(pid):
    with open("/proc/%d/maps" % pid) as maps:
        return sorted({line.split()[-1] for line in maps
                       if any(name in line for name in HOST_LIBRARIES)})


def mapping_count(pid):
    with open("/proc/%d/maps" % pid) as maps:
        return len(maps.readlines())


def sleeper_worker(host):
    answer = host.start_child("work", "sleeper")
    assert answer["result"] == "ok", answer
    return wait_workers(host, 1)[0]


def test_spawners_run_dynsup_spawner_found_beside_the_host():
    with Host(SUPERVISOR, CHILDREN).start() as host:
        spawners = spawners_of(host)
        assert spawners
        for pid in spawners:
            assert exe_of(pid) == os.path.realpath(SPAWNER_BINARY), (pid, exe_of(pid))
        host.wait_log("spawners run %s (found beside dynsup-host)" % os.path.realpath(SPAWNER_BINARY))


def test_a_worker_maps_none_of_the_hosts_libraries():
    with Host(SUPERVISOR, CHILDREN).start() as host:
        worker = sleeper_worker(host)
        assert comm_of(worker) == "sleeper"
        assert exe_of(worker) == os.path.realpath(SPAWNER_BINARY)
        assert libraries_mapped(worker) == [], libraries_mapped(worker)
        # ...which the host itself does map (the check would see them).
        assert len(libraries_mapped(host.pid)) == len(HOST_LIBRARIES), libraries_mapped(host.pid)
        print("mappings: worker %d, host %d" % (mapping_count(worker), mapping_count(host.pid)))


def test_dynsup_spawner_run_by_hand_says_it_is_the_hosts_and_exits_2():
    result = subprocess.run([SPAWNER_BINARY], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2, result
    assert "started by dynsup-host only" in result.stderr, result.stderr


@contextlib.contextmanager
def host_copy(prefix, with_spawner):
    """dynsup-host (and, with_spawner, dynsup-spawner) copied into a fresh
    folder, which Host() runs meanwhile; yields (folder, the host's path)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    copy = os.path.join(folder, "dynsup-host")
    shutil.copy2(HOST_BINARY, copy)
    if with_spawner:
        shutil.copy2(SPAWNER_BINARY, os.path.join(folder, "dynsup-spawner"))
    saved = harness.HOST_BINARY
    harness.HOST_BINARY = copy
    try:
        yield folder, copy
    finally:
        harness.HOST_BINARY = saved
        shutil.rmtree(folder)


def test_without_dynsup_spawner_the_host_runs_its_own_image_and_says_why():
    with host_copy("dynsup-no-spawner-", with_spawner=False) as (folder, host_path):
        with Host(SUPERVISOR, CHILDREN).start() as host:
            log = host.wait_log("spawners run")
            if "(its installed path)" in host.log():
                print("skipped: a dynsup-spawner is installed on this machine")
                return
            host.wait_log("spawners run as dynsup-host --internal-spawner: no executable dynsup-spawner")
            assert log
            for pid in spawners_of(host):
                assert exe_of(pid) == host_path, exe_of(pid)
            worker = sleeper_worker(host)
            assert exe_of(worker) == host_path
            print("mappings: worker %d (host image)" % mapping_count(worker))


def test_a_relaunched_spawner_runs_the_file_chosen_at_start_even_if_replaced():
    with host_copy("dynsup-spawner-replaced-", with_spawner=True) as (folder, host_path):
        spawner_path = os.path.join(folder, "dynsup-spawner")
        with Host(SUPERVISOR, CHILDREN).start() as host:
            before = {comm_of(pid): pid for pid in spawners_of(host)}
            assert all(exe_of(pid) == spawner_path for pid in before.values())
            worker = sleeper_worker(host)
            spawner = parent_of(worker)
            # An upgrade replaces the file (a new inode at the same path).
            os.rename(spawner_path, spawner_path + ".old")
            shutil.copy2("/bin/true", spawner_path)
            os.kill(spawner, signal.SIGKILL)
            wait_for(lambda: gone(spawner), what="the killed spawner gone")

            def relaunched():
                fresh = [pid for pid in children_of(host.pid) if pid not in before.values()]
                return fresh if fresh else None

            fresh = wait_for(relaunched, what="the relaunched spawner")
            # Still the file opened at start (now renamed), not /bin/true.
            assert exe_of(fresh[0]) == spawner_path + ".old", exe_of(fresh[0])
            assert comm_of(fresh[0]) != SPARE


def test_a_spawner_program_that_cannot_be_run_is_named_as_such():
    with host_copy("dynsup-spawner-unrunnable-", with_spawner=True) as (folder, host_path):
        spawner_path = os.path.join(folder, "dynsup-spawner")
        with Host(SUPERVISOR, CHILDREN).start() as host:
            worker = sleeper_worker(host)
            spawner = parent_of(worker)
            os.chmod(spawner_path, 0o644)  # the file chosen at start can no longer be run
            os.kill(spawner, signal.SIGKILL)
            host.wait_log("cannot run the spawner program (EACCES")
            assert "the plugin crashed while being loaded" not in host.log()
            print([l for l in host.log().splitlines() if "cannot run" in l][0])


if __name__ == "__main__":
    run_tests(globals())
