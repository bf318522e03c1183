"""Config files that could flood or fool the host (SPEC sections 4 and 8):
a file of a million bytes of junk lines is answered with a short list of
errors, quickly, by the socket, the CLI and the log alike; a trailing
backslash (a continuation) never swallows a key or a section silently.
"""

import json
import os
import signal
import time

from harness import TIME_SCALE, Host, run_tests, wait_for

CHILDREN = """
[supervisor:work]
"""

SLEEPER = """
[child:sleepy]
plugin = sleeper
restart = permanent
shutdown = 1000
"""

JUNK_LINES = 349000  # "[x\n" each: 1,047,000 bytes, just under the 1 MiB limit of a file
JUNK_FILES = 4
SHOWN_PER_FILE = 20  # CONFIG_FILE_MAX_ERRORS


def drop_junk(host):
    for i in range(JUNK_FILES):
        with open(host.path("children.d", "bad%d.ini" % i), "w") as junk:
            junk.write("[x\n" * JUNK_LINES)


def test_a_reload_of_huge_junk_files_answers_a_short_list_quickly():
    with Host(CHILDREN, {"sleepy.ini": SLEEPER}).start() as host:
        assert host.start_child("work", "sleepy")["result"] == "ok"
        drop_junk(host)
        started = time.monotonic()
        with host.connect() as client:
            client.sendall(b'{"cmd": "reload"}\n')
            raw = b""
            while not raw.endswith(b"\n"):
                got = client.recv(1 << 20)
                assert got, "the host closed the connection"
                raw += got
        took = time.monotonic() - started
        answer = json.loads(raw)
        assert answer["result"] == "error" and answer["error"] == "invalid_config", answer
        errors = answer["errors"]
        assert len(errors) == JUNK_FILES * (SHOWN_PER_FILE + 1) and len(raw) < 64 * 1024, (
            len(errors), len(raw))
        assert "children.d/bad0.ini:1: cannot parse \"[x\"" in errors[0], errors[0]
        # every file was read to its end: each says how many more errors it had
        for i in range(JUNK_FILES):
            more = "children.d/bad%d.ini: ... and %d more errors in this file (not shown)" % (
                i, JUNK_LINES - SHOWN_PER_FILE)
            assert any(e.endswith(more) for e in errors), (more, errors[-JUNK_FILES:])
        # 4 such files held the loop 7 s before the errors were capped (over
        # 10 s in a Debug build); now about 0.3 s (Debug), 0.8 s (ASan)
        assert took < 4 * TIME_SCALE, "the reload held the host for %.2f s" % took

        # the CLI prints them (it failed with "Message too long" before)
        result = host.cli("reload", check=1)
        assert "error invalid_config" in result.stdout, result
        lines = result.stderr.splitlines()
        assert len(lines) <= len(errors) + 2, len(lines)
        assert "bad0.ini:1: cannot parse" in result.stderr and "bad3.ini: ... and" in result.stderr, (
            result.stderr[-2000:])
        assert host.start_child("work", "sleepy")["result"] == "ok"
        assert host.stop() == 0


def test_one_junk_file_says_how_many_more_errors_it_has_in_check_and_the_log():
    with Host(CHILDREN, {"sleepy.ini": SLEEPER}).start() as host:
        with open(host.path("children.d", "bad.ini"), "w") as junk:
            junk.write("[x\n" * JUNK_LINES)
        more = "children.d/bad.ini: ... and %d more errors in this file (not shown)" % (
            JUNK_LINES - SHOWN_PER_FILE)
        result = host.cli("check", check=2)
        assert more in result.stderr, result.stderr[-2000:]
        assert len(result.stderr.splitlines()) <= SHOWN_PER_FILE + 3, len(result.stderr.splitlines())
        os.kill(host.pid, signal.SIGHUP)
        host.wait_log(more)
        assert "reload refused, nothing changed (%d errors)" % JUNK_LINES in host.log()
        assert host.log().count("cannot parse") == SHOWN_PER_FILE, host.log()[-3000:]
        assert host.start_child("work", "sleepy")["result"] == "ok"
        assert host.stop() == 0


def test_a_backslash_that_swallows_a_key_is_refused_by_check_and_quoting_says_what_was_meant():
    swallowing = "[supervisor:demo]\nextra_arguments = --dir C:\\\nmax_children = 1\n"
    host = Host(swallowing, {"sleepy.ini": SLEEPER})
    result = host.cli("check", check=2)
    assert ("dynsup.ini:9: [supervisor:demo] extra_arguments: the line ends with a backslash, "
            "which continues it on line 10, but line 10 reads as a key (\"max_children = 1\")"
            in result.stderr), result.stderr
    # the way the error says to write a value that ends in a backslash
    with open(host.config) as config:
        text = config.read()
    with open(host.config, "w") as config:
        config.write(text.replace("--dir C:\\", "--dir 'C:\\'"))
    host.cli("check", check=0)
    with host.start():
        assert host.start_child("demo", "sleepy")["result"] == "ok"
        assert host.start_child("demo", "sleepy")["error"] == "max_children"
        assert host.which_children("demo")[0]["args"][:2] == ["--dir", "C:\\"], host.which_children("demo")
        assert host.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
