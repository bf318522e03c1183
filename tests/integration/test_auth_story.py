"""The auth-rules story (issue 3, SPEC sections 4 and 7): the real host runs the
real auth_loader against tools/fake-auth-service; the rules reach the store
at boot, on `emit` (CLI and request) and on SIGUSR1, exactly as served."""

import os
import re
import signal

from auth_fixture import (RULES_V7, RULES_V8, Story, assert_story_lines)
from harness import gone, run_tests, wait_for


def test_autostart_loads_the_rules_at_boot_exactly_as_served():
    with Story(RULES_V7, autostart=True) as story:
        story.start()
        host = story.host
        host.wait_log("child=auth_loader pid=- autostart")
        line = wait_for(lambda: re.search(r"pid=(\d+) child auth_loader started", host.log()),
                        what="the autostarted loader")
        pid = int(line.group(1))
        wait_for(lambda: gone(pid), what="the autostarted loader to exit")
        story.wait_exit_logged(pid)
        assert story.store_bytes() == RULES_V7
        assert "exited normally (exit status 0); not restarted (transient)" in story.exit_line(pid)
        assert story.store_folder() == ["auth_rules.json", "auth_rules.json.meta"]


def test_the_story_log_lines_are_tagged_with_supervisor_child_and_pid():
    with Story(RULES_V7) as story:
        story.start()
        pid = story.emit_and_wait()
        assert_story_lines(story.loader_lines(pid), story.service.rules_url, story.store, 2)
        assert story.loader_errors(pid) == []


def test_a_200_saves_the_body_byte_for_byte_and_keeps_its_validators():
    with Story(RULES_V7) as story:
        story.start()
        story.emit_and_wait()
        assert story.store_bytes() == RULES_V7
        served = story.service.stats()
        assert served["requests"] == 1
        # the first request is unconditional: there was no store yet
        assert "If-None-Match" not in served["last_headers"], served
        meta = story.read_meta()
        assert re.fullmatch(r'"[0-9a-f]{32}"', meta["etag"]), meta
        assert meta["last_modified"].endswith(" GMT"), meta


def test_the_validators_are_sent_back_and_a_304_leaves_the_store_untouched():
    with Story(RULES_V7) as story:
        story.start()
        story.emit_and_wait()
        meta = story.read_meta()
        before = story.store_identity()
        story.service.set_mode("ok")  # resets the request count
        pid = story.emit_and_wait()
        headers = story.service.stats()["last_headers"]
        assert headers.get("If-None-Match") == meta["etag"], headers
        assert headers.get("If-Modified-Since") == meta["last_modified"], headers
        lines = story.loader_lines(pid)
        assert "rules unchanged (304 Not Modified)" in lines, lines
        assert lines[-1] == "work done", lines
        # bytes, inode and mtime of the store and its meta file: not rewritten
        assert story.store_identity() == before
        assert story.store_folder() == ["auth_rules.json", "auth_rules.json.meta"]


def test_emit_by_the_cli_loads_the_new_rules():
    with Story(RULES_V7) as story:
        story.start()
        story.emit_and_wait()
        story.write_rules(RULES_V8)
        result = story.host.cli("emit", "update_auth_rules", check=0)
        match = re.fullmatch(r"ok (\d+)\n", result.stdout)
        assert match, result.stdout
        pid = int(match.group(1))
        wait_for(lambda: story.store_bytes() == RULES_V8, what="the new rules in the store")
        story.wait_exit_logged(pid)
        assert_story_lines(story.loader_lines(pid), story.service.rules_url, story.store, 3)
        assert "event update_auth_rules fired (emit request)" in story.host.log()


def test_emit_by_the_socket_request_loads_the_new_rules():
    with Story(RULES_V7) as story:
        story.start()
        story.emit_and_wait()
        story.write_rules(RULES_V8)
        answer = story.emit()
        assert answer["result"] == "ok" and answer["pid"] > 0, answer
        wait_for(lambda: story.store_bytes() == RULES_V8, what="the new rules in the store")
        story.wait_exit_logged(answer["pid"])
        # the new body was fetched because its ETag no longer matched
        assert story.service.stats()["requests"] == 2


def test_sigusr1_to_the_host_fires_the_event_and_loads_the_new_rules():
    with Story(RULES_V7, autostart=True) as story:
        story.start()
        booted = wait_for(lambda: re.search(r"pid=(\d+) child auth_loader started", story.host.log()),
                          what="the autostarted loader")
        story.wait_exit_logged(int(booted.group(1)))  # else the signal gets already_started
        assert story.store_bytes() == RULES_V7
        story.write_rules(RULES_V8)
        os.kill(story.host.pid, signal.SIGUSR1)
        story.host.wait_log("event update_auth_rules fired (signal)")
        wait_for(lambda: story.store_bytes() == RULES_V8, what="the new rules in the store")
        match = wait_for(lambda: re.search(r"pid=(\d+) save data \(3 rules\)", story.host.log()),
                         what="the signalled loader's save line")
        story.wait_exit_logged(int(match.group(1)))
        assert story.host.process.poll() is None, "SIGUSR1 must not end the host"


def test_an_interval_event_reloads_the_rules_periodically():
    with Story(RULES_V7, event_keys="interval = 1") as story:
        story.start()
        wait_for(lambda: os.path.exists(story.store) and story.store_bytes() == RULES_V7,
                 what="the rules loaded by the first tick")
        story.write_rules(RULES_V8)
        wait_for(lambda: story.store_bytes() == RULES_V8, what="the new rules loaded by a later tick")
        log = story.host.log()
        assert log.count("event update_auth_rules fired (interval)") >= 2, log
        assert "fired (emit request)" not in log and "fired (signal)" not in log


def test_an_event_while_the_loader_runs_answers_already_started_with_its_pid():
    # the service takes a second to send the rules, well within the timeout
    with Story(RULES_V7, args="--timeout-ms 10000") as story:
        story.service.set_mode("slow", slow_seconds=1.0)
        story.start()
        first = story.emit()
        assert first["result"] == "ok", first
        second = story.emit()
        assert second == {"result": "error", "error": "already_started", "pid": first["pid"]}, second
        cli = story.host.cli("emit", "update_auth_rules", check=1)
        assert cli.stdout.strip() == "error already_started %d" % first["pid"], cli.stdout
        assert story.host.count_children("auth_rules")["workers"] == 1
        # the running loader was not disturbed and finishes its job
        wait_for(lambda: gone(first["pid"]), what="the slow loader to finish")
        story.wait_exit_logged(first["pid"])
        assert story.store_bytes() == RULES_V7
        assert story.service.stats()["requests"] == 1


def test_a_transient_loader_failing_twice_then_succeeding_recovers_within_intensity():
    # Two failures that take a second each (the service hangs, the loader times
    # out) leave time to heal the service before the third try.
    with Story(RULES_V8, mode="hang", seed=True, max_restarts=3, max_seconds=5) as story:
        story.start()
        first = story.emit()
        assert first["result"] == "ok", first
        wait_for(lambda: story.service.stats()["requests"] >= 2, what="the second try")
        story.service.call("/control", {"mode": "ok"})  # the second try still hangs
        wait_for(lambda: os.path.exists(story.store) and story.store_bytes() == RULES_V8,
                 what="the new rules after two failures")
        # The loader's lines reach the host's log through its pipe, after
        # the store may already be in place (seen under load).
        saved = wait_for(lambda: re.search(r"pid=(\d+) save data \(3 rules\)", story.host.log()),
                         what="the loader's 'save data' line in the host's log")
        saved_by = int(saved.group(1))
        log = story.host.log()
        failures = re.findall(r"child auth_loader exited abnormally \(exit status 4\); restarting", log)
        assert len(failures) == 2, log
        assert len(re.findall(r"child auth_loader restarted \(pid \d+\)", log)) == 2, log
        story.wait_exit_logged(saved_by)
        assert "exited normally (exit status 0); not restarted" in story.exit_line(saved_by)
        assert story.service.stats()["requests"] == 3
        supervisor = story.host.request({"cmd": "status"})["supervisors"][0]
        assert supervisor["name"] == "auth_rules"
        assert supervisor["restarts_in_window"] == 2, supervisor
        assert supervisor["times_restarted"] == 0, supervisor
        assert "intensity exceeded" not in story.host.log()
        assert story.store_folder() == ["auth_rules.json", "auth_rules.json.meta"]
        assert story.host.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
