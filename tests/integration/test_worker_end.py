"""A worker's end flushes what its plugin left in stdio's buffers (README,
"How a worker ends"): lines on stdout (a pipe, so fully buffered), a last
line without its newline, and a file the plugin opened and never closed,
whether run returned by itself or because the worker was stopped, with a
second thread running or a wide-oriented stdout. A worker that left nothing
buffered skips the flush (issue 13: it costs a stopping worker three page
faults); that one must still end as cleanly.

The plugin is tests/plugins/buffered.c.
"""

import os
import shutil
import tempfile

from harness import BUILD_DIR, Host, gone, run_tests, wait_for

SUPERVISORS = """
[supervisor:work]
max_children = infinity
"""

CHILDREN = {"buffered.ini": """
[child:buffered]
plugin = buffered
restart = temporary
shutdown = 2000
"""}

BUFFERED = os.path.join(BUILD_DIR, "test-plugins", "runtime", "buffered.so")


def new_host():
    folder = tempfile.mkdtemp(prefix="dynsup-plugins-")
    shutil.copy(BUFFERED, folder)
    return Host(SUPERVISORS, CHILDREN, plugin_dir=folder).start()


def run_to_its_end(host, *args):
    """Starts the child with args; stops it if "stop" is one of them; waits
    until the worker is gone and its clean end is logged. Returns its pid."""
    answer = host.start_child("work", "buffered", args=list(args))
    assert answer["result"] == "ok", answer
    pid = answer["pid"]
    if "stop" in args:
        assert host.request({"cmd": "terminate_child", "supervisor": "work", "pid": pid})["result"] == "ok"
    wait_for(lambda: gone(pid), what="worker %d to end" % pid)
    host.wait_log("pid=%d child buffered %s" % (pid, "stopped (exit status 0)" if "stop" in args
                                                 else "exited normally"))
    return pid


def assert_everything_flushed(host, pid, path):
    log = host.log()
    assert "pid=%d buffered line from %d" % (pid, pid) in log, log
    assert "pid=%d unfinished %d" % (pid, pid) in log, log
    with open(path) as written:
        assert written.read() == "buffered file line from %d\n" % pid


def check(*mode):
    scratch = tempfile.mkdtemp(prefix="dynsup-buffered-")
    path = os.path.join(scratch, "out.txt")
    with new_host() as host:
        pid = run_to_its_end(host, *mode, "file=" + path)
        assert_everything_flushed(host, pid, path)


def test_buffered_output_is_flushed_when_run_returns():
    check()


def test_buffered_output_is_flushed_when_the_worker_is_stopped():
    check("stop")


def test_buffered_output_is_flushed_with_a_second_thread_running():
    check("threaded")
    check("stop", "threaded")


def test_a_file_the_plugin_left_unflushed_is_written_when_stdout_holds_nothing():
    """Only the plugin's own FILE holds output: glibc's list of streams
    must be the one libc keeps (an executable's copy of `_IO_list_all`,
    made at load, never sees a stream opened later)."""
    for mode in ([], ["stop"]):
        scratch = tempfile.mkdtemp(prefix="dynsup-buffered-")
        path = os.path.join(scratch, "out.txt")
        with new_host() as host:
            pid = run_to_its_end(host, "quiet", *mode, "file=" + path)
            with open(path) as written:
                assert written.read() == "buffered file line from %d\n" % pid, mode


def test_wide_oriented_stdout_is_flushed_too():
    check("wide")
    check("stop", "wide")


def test_a_worker_with_nothing_buffered_ends_normally_and_logs_nothing_of_its_own():
    with new_host() as host:
        for mode in ([], ["stop"]):
            pid = run_to_its_end(host, "quiet", *mode)
            lines = [line for line in host.log().splitlines() if "pid=%d " % pid in line]
            assert all(" child buffered" in line for line in lines), lines


if __name__ == "__main__":
    run_tests(globals())
