"""Every way the auth service can fail (issue 3 point 1, SPEC section 7): under
the real host, the store keeps its pre-seeded bytes (and inode and mtime), no
temp file is left, each try logs one error line naming the cause and exits
non-zero, and the transient loader is retried until the supervisor's
intensity gives up. A stop request ends a hanging download within a second."""

import re
import signal
import time

from auth_fixture import (EXIT_CANNOT_CONNECT, EXIT_HTTP_STATUS, EXIT_INVALID_DOCUMENT, EXIT_STOPPED,
                          EXIT_TIMEOUT, EXIT_TOO_LARGE, EXIT_TOO_MANY_REDIRECTS, RULES_V8, Story)
from harness import alive, gone, run_tests, wait_for

STORE_FILES = ["auth_rules.json", "auth_rules.json.meta"]
# A window wide enough that the slowest failure (a 1 s timeout) still
# exhausts the intensity, so every case ends the same way.
MAX_RESTARTS, MAX_SECONDS = 3, 60


def assert_failure_leaves_the_store_untouched(mode, exit_status, cause, settings=None):
    with Story(RULES_V8, seed=True, max_restarts=MAX_RESTARTS, max_seconds=MAX_SECONDS) as story:
        before = story.store_identity()
        if mode == "refused":
            story.service.stop()  # nothing listens on its port any more
        else:
            story.service.set_mode(mode, **(settings or {}))
        story.start()
        first = story.emit()
        assert first["result"] == "ok", first

        # 1 try + MAX_RESTARTS restarts, then the supervisor gives up and the
        # root restarts it empty; the host lives on.
        story.host.wait_log("supervisor terminated and restarted empty by the root")
        log = story.host.log()
        starts = r"pid=(\d+) child auth_loader (?:started|restarted) \(pid"
        pids = [int(pid) for pid in re.findall(starts, log)]
        assert len(pids) == 1 + MAX_RESTARTS and pids[0] == first["pid"], log
        assert re.search(r"restart intensity exceeded: %d restarts" % (MAX_RESTARTS + 1), log), log
        for pid in pids:
            story.wait_exit_logged(pid)
            exit_line = story.exit_line(pid)
            assert "exited abnormally (exit status %d)" % exit_status in exit_line, exit_line
            errors = story.loader_errors(pid)
            assert len(errors) == 1, "loader %d: %r" % (pid, errors)
            assert re.search(cause, errors[0]), "loader %d said %r, expected %r" % (pid, errors[0], cause)
            lines = story.loader_lines(pid)
            assert lines[0] == "started with URL %s" % story.service.rules_url, lines
            assert not any(line.startswith(("save data", "work done")) for line in lines), lines
        assert "restarting (transient)" in story.exit_line(pids[0])
        assert story.host.request({"cmd": "status"})["supervisors"][0]["times_restarted"] == 1

        assert story.host.stop() == 0, story.host.log()
        assert story.store_identity() == before
        assert story.store_folder() == STORE_FILES


def test_http_500_leaves_the_store_untouched():
    assert_failure_leaves_the_store_untouched("error500", EXIT_HTTP_STATUS, r"failed: HTTP status 500$")


def test_a_body_slower_than_the_timeout_leaves_the_store_untouched():
    assert_failure_leaves_the_store_untouched("slow", EXIT_TIMEOUT, r"failed: timeout after 1000 ms$",
                                              {"slow_seconds": 30})


def test_a_hanging_service_leaves_the_store_untouched():
    assert_failure_leaves_the_store_untouched("hang", EXIT_TIMEOUT, r"failed: timeout after 1000 ms$")


def test_an_endless_body_without_content_length_is_cut_and_leaves_the_store_untouched():
    assert_failure_leaves_the_store_untouched("oversize", EXIT_TOO_LARGE,
                                              r"failed: body exceeds 65536 bytes$", {"oversize_bytes": 4 << 20})


def test_a_lying_content_length_is_refused_and_leaves_the_store_untouched():
    assert_failure_leaves_the_store_untouched("oversize_lying", EXIT_TOO_LARGE,
                                              r"body exceeds 65536 bytes \(announced by Content-Length\)$")


def test_invalid_json_leaves_the_store_untouched():
    assert_failure_leaves_the_store_untouched("invalid_json", EXIT_INVALID_DOCUMENT,
                                              r"^invalid rules from \S+: invalid JSON at line 2")


def test_a_schema_violation_leaves_the_store_untouched():
    assert_failure_leaves_the_store_untouched("bad_schema", EXIT_INVALID_DOCUMENT,
                                              r"^invalid rules from \S+: rules\[1\]\.service: missing")


def test_a_redirect_loop_leaves_the_store_untouched():
    assert_failure_leaves_the_store_untouched("redirect_loop", EXIT_TOO_MANY_REDIRECTS,
                                              r"failed: too many redirects \(more than 5\)$")


def test_connection_refused_leaves_the_store_untouched():
    assert_failure_leaves_the_store_untouched("refused", EXIT_CANNOT_CONNECT, r"failed: connection refused$")


def hanging_download(story):
    """Starts a loader against the hanging service; returns its pid once its
    request is being served."""
    story.service.set_mode("hang")
    story.start()
    answer = story.emit()
    assert answer["result"] == "ok", answer
    wait_for(lambda: story.service.stats()["requests"] == 1, what="the loader's request")
    return answer["pid"]


def test_terminate_child_ends_a_hanging_download_within_a_second():
    # the story's own timeout, so only the stop request can end the download
    with Story(RULES_V8, seed=True, args="--timeout-ms 60000") as story:
        before = story.store_identity()
        pid = hanging_download(story)
        started = time.monotonic()
        answer = story.host.request({"cmd": "terminate_child", "supervisor": "auth_rules", "pid": pid})
        assert answer == {"result": "ok"}, answer
        wait_for(lambda: gone(pid), timeout=5, interval=0.002, what="loader %d to exit" % pid)
        took = time.monotonic() - started
        assert took <= 1.0, "the loader took %.3f s to stop" % took
        story.wait_exit_logged(pid)
        assert "stopped (exit status %d)" % EXIT_STOPPED in story.exit_line(pid), story.exit_line(pid)
        assert story.loader_errors(pid) == ["load data from %s failed: stopped by supervisor"
                                            % story.service.rules_url]
        assert story.host.count_children("auth_rules")["workers"] == 0  # not restarted
        assert story.store_identity() == before
        assert story.store_folder() == STORE_FILES


def test_sigterm_to_the_host_ends_a_hanging_download_within_a_second():
    with Story(RULES_V8, seed=True, args="--timeout-ms 60000") as story:
        before = story.store_identity()
        pid = hanging_download(story)
        started = time.monotonic()
        story.host.process.send_signal(signal.SIGTERM)
        wait_for(lambda: gone(pid), timeout=5, interval=0.002, what="loader %d to exit" % pid)
        took = time.monotonic() - started
        assert took <= 1.0, "the loader took %.3f s to stop" % took
        assert story.host.process.wait(5) == 0, story.host.log()
        assert "stopped by supervisor" in story.loader_errors(pid)[0]
        assert story.store_identity() == before
        assert story.store_folder() == STORE_FILES
        assert not alive(pid)


if __name__ == "__main__":
    run_tests(globals())
