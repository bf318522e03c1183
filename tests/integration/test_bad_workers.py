"""Workers behaving badly (issue 5 point 7): a worker that writes a 1 MB
line, floods its output, closes its stdout and stderr, or spins in a busy
loop ignoring the stop request harms neither the host nor its siblings.

The misbehaving plugin is built here with the SPEC's one-line cc command
into a private plugin folder, next to copies of the example plugins.
"""

import os
import shutil
import tempfile
import time

from harness import PLUGIN_DIR, SOURCE_DIR, Host, alive, gone, run_tests, vm_rss_kib, wait_for

BAD_WORKER_SOURCE = r"""
#include <dynsup/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written <= 0)
            return;
        data += written;
        length -= (size_t)written;
    }
}

/* argv[0] says how to misbehave; argv[1] is a size or count. */
static int bad_run(dynsup_worker *w, int argc, char **argv)
{
    const char *mode = argc > 0 ? argv[0] : "";
    size_t amount = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
    if (strcmp(mode, "huge-line") == 0) {
        char *line = malloc(amount + 1);
        if (line == NULL)
            return 3;
        memset(line, 'x', amount);
        line[amount] = '\n';
        write_all(STDOUT_FILENO, line, amount + 1);
        free(line);
        dynsup_log(w, DYNSUP_LOG_INFO, "huge line written");
        while (!dynsup_should_stop(w))
            usleep(10000);
        return 0;
    }
    if (strcmp(mode, "flood") == 0) {
        char line[64];
        for (size_t i = 0; i < amount && !dynsup_should_stop(w); i++) {
            int length = snprintf(line, sizeof line, "flood line %zu\n", i);
            write_all(STDOUT_FILENO, line, (size_t)length);
        }
        dynsup_log(w, DYNSUP_LOG_INFO, "flood done");
        while (!dynsup_should_stop(w))
            usleep(10000);
        return 0;
    }
    if (strcmp(mode, "close-output") == 0) {
        dynsup_log(w, DYNSUP_LOG_INFO, "closing stdout and stderr");
        close(STDOUT_FILENO);
        close(STDERR_FILENO);
        while (!dynsup_should_stop(w))
            usleep(10000);
        return 0;
    }
    if (strcmp(mode, "busy") == 0) {
        dynsup_log(w, DYNSUP_LOG_INFO, "spinning");
        volatile unsigned long turns = 0;
        for (;;)
            turns++;
    }
    return 2;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "bad_worker",
    .version = "1.0.0",
    .run = bad_run,
};
"""

SUPERVISOR = "[supervisor:work]\nmax_children = infinity\n"
CHILDREN = {"bad.ini": """
[child:bad]
plugin = bad_worker
restart = temporary
shutdown = 300

[child:sleeper]
plugin = sleeper
restart = temporary
"""}


def build_plugin_folder():
    """A private plugin folder with bad_worker.so and the example sleeper."""
    import subprocess
    folder = tempfile.mkdtemp(prefix="dynsup-bad-workers-")
    source = os.path.join(folder, "bad_worker.c")
    with open(source, "w") as out:
        out.write(BAD_WORKER_SOURCE)
    subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-I", os.path.join(SOURCE_DIR, "core", "include"),
                    source, "-o", os.path.join(folder, "bad_worker.so")], check=True, timeout=120)
    os.chmod(os.path.join(folder, "bad_worker.so"), 0o755)
    shutil.copyfile(os.path.join(PLUGIN_DIR, "sleeper.so"), os.path.join(folder, "sleeper.so"))
    os.chmod(os.path.join(folder, "sleeper.so"), 0o755)
    return folder


FOLDER = build_plugin_folder()


def new_host():
    return Host(SUPERVISOR, CHILDREN, plugin_dir=FOLDER)


def assert_host_answers(host):
    assert host.process.poll() is None, "host exited with %s" % host.process.returncode
    assert host.request({"cmd": "status"})["result"] == "ok"


def x_count_of(host, pid):
    return sum(line.count("x") for line in host.log().splitlines()
               if "pid=%d " % pid in line and "xxxx" in line)


def test_a_worker_writing_a_1_mb_line_is_logged_in_bounded_pieces_and_harms_nothing():
    # No `with`: on failure the harness would print a log holding 1 MB of x.
    host = new_host().start()
    try:
        sibling = host.start_child("work", "sleeper")["pid"]
        rss_before = vm_rss_kib(host.pid)
        size = 1024 * 1024
        answer = host.start_child("work", "bad", args=["huge-line", str(size)])
        assert answer["result"] == "ok", answer
        pid = answer["pid"]
        host.wait_log("huge line written")
        try:
            wait_for(lambda: x_count_of(host, pid) >= size, what="the whole line in the log")
        except AssertionError:
            raise AssertionError("%d of %d bytes reached the log" % (x_count_of(host, pid), size))
        assert x_count_of(host, pid) == size
        longest = max(len(line) for line in host.log().splitlines())
        assert longest < 8192, "a log line of %d bytes" % longest
        grown = vm_rss_kib(host.pid) - rss_before
        assert grown < 16 * 1024, "host grew by %d kB" % grown
        assert alive(sibling)
        assert_host_answers(host)
    finally:
        host.kill()


def test_a_worker_flooding_its_output_does_not_starve_requests():
    with new_host().start() as host:
        answer = host.start_child("work", "bad", args=["flood", "3000000"])
        assert answer["result"] == "ok", answer
        wait_for(lambda: "flood line 1000" in host.log(), what="the flood to start")
        slowest = 0.0
        for _ in range(20):
            started = time.monotonic()
            assert_host_answers(host)
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 2.0, "a status request took %.2fs during the flood" % slowest
        assert host.terminate_child("work", answer["pid"])["result"] == "ok"
        assert gone(answer["pid"])


def test_a_worker_closing_stdout_and_stderr_keeps_running_and_stops_normally():
    with new_host().start() as host:
        answer = host.start_child("work", "bad", args=["close-output"])
        pid = answer["pid"]
        host.wait_log("closing stdout and stderr")
        time.sleep(0.3)  # give a wrong "output closed means exited" reaction time to show
        assert alive(pid)
        assert [c["pid"] for c in host.which_children("work")] == [pid]
        assert host.terminate_child("work", pid)["result"] == "ok"
        assert gone(pid)
        assert_host_answers(host)


def test_a_busy_looping_worker_ignoring_stop_is_killed_after_its_shutdown_timeout():
    with new_host().start() as host:
        answer = host.start_child("work", "bad", args=["busy"])
        pid = answer["pid"]
        host.wait_log("spinning")
        started = time.monotonic()
        assert host.terminate_child("work", pid)["result"] == "ok"
        took = time.monotonic() - started
        assert gone(pid)
        assert 0.25 <= took < 3.0, "terminate took %.2fs with shutdown = 300" % took
        assert host.which_children("work") == []
        assert_host_answers(host)


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        shutil.rmtree(FOLDER, ignore_errors=True)
