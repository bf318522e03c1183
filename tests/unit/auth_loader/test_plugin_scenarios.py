#!/usr/bin/env python3
"""auth_loader.so end to end: the real plugin, loaded by plugin_driver (a
stand-in for the host's worker runtime), against tools/fake-auth-service.

Environment (set by plugins/auth_loader/CMakeLists.txt):
  AUTH_LOADER_PLUGIN   path of auth_loader.so
  AUTH_LOADER_DRIVER   path of auth_loader_plugin_driver
  FAKE_AUTH_SERVICE    path of tools/fake-auth-service
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

PLUGIN = os.environ.get("AUTH_LOADER_PLUGIN", "")
DRIVER = os.environ.get("AUTH_LOADER_DRIVER", "")
SERVICE = os.environ.get("FAKE_AUTH_SERVICE", "")

# Exit statuses documented at the top of plugins/auth_loader/auth_loader.c.
EXIT_DONE, EXIT_BAD_ARGUMENTS, EXIT_CANNOT_CONNECT, EXIT_TIMEOUT = 0, 2, 3, 4
EXIT_HTTP_STATUS, EXIT_TOO_LARGE, EXIT_TOO_MANY_REDIRECTS = 5, 6, 7
EXIT_INVALID_DOCUMENT, EXIT_CANNOT_SAVE, EXIT_STOPPED, EXIT_TRANSFER_FAILED = 8, 9, 10, 11
EXIT_NO_SIGNATURE, EXIT_MALFORMED_SIGNATURE, EXIT_UNKNOWN_KEY, EXIT_BAD_SIGNATURE = 12, 13, 14, 15
EXIT_OLDER_VERSION = 16

# Odd spacing on purpose: the store must hold these bytes, not a re-encoding.
RULES = (b'{"version": 7,\n  "rules": [ {"client": "billing", "service": "payments"},\n'
         b'   {"client":"web","service":"catalog","methods":["GET"]} ] }\n')
OLD_STORE = b'{"version": 6, "rules": []}\n'
OLD_META = b'{"etag": "\\"stale\\"", "last_modified": null}\n'


class FakeAuthService:
    """tools/fake-auth-service on a free port, serving a rules file."""

    def __init__(self, rules_path, *options):
        self.process = subprocess.Popen(
            [sys.executable, SERVICE, "--port", "0", "--rules", rules_path, *options],
            stdout=subprocess.PIPE, text=True)
        first_line = self.process.stdout.readline().strip()
        prefix = "listening on "
        if not first_line.startswith(prefix):
            self.process.kill()
            raise RuntimeError(f"fake-auth-service said {first_line!r}")
        self.base_url = first_line[len(prefix):]
        self.rules_url = self.base_url + "/rules"

    def call(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(self.base_url + path, data=data, timeout=5) as answer:
            return json.loads(answer.read())

    def set_mode(self, mode, **settings):
        self.call("/control", dict(mode=mode, reset_stats=True, **settings))

    def stats(self):
        return self.call("/stats")

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=5)
        self.process.stdout.close()


class Run:
    """One finished worker: exit status, log lines, stderr."""

    def __init__(self, status, stdout, stderr):
        self.status = status
        self.lines = stdout.splitlines()
        self.stderr = stderr

    def errors(self):
        return [line for line in self.lines if line.startswith("error ")]


class AuthLoaderScenarios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for name, value in (("AUTH_LOADER_PLUGIN", PLUGIN), ("AUTH_LOADER_DRIVER", DRIVER),
                            ("FAKE_AUTH_SERVICE", SERVICE)):
            if not value or not os.path.exists(value):
                raise unittest.SkipTest(f"{name} is not set to an existing file")
        cls.service_folder = tempfile.mkdtemp(prefix="fake_auth_")
        cls.rules_path = os.path.join(cls.service_folder, "rules.json")
        with open(cls.rules_path, "wb") as rules_file:
            rules_file.write(RULES)
        cls.service = FakeAuthService(cls.rules_path)

    @classmethod
    def tearDownClass(cls):
        cls.service.close()
        shutil.rmtree(cls.service_folder)

    def setUp(self):
        with open(self.rules_path, "wb") as rules_file:
            rules_file.write(RULES)
        self.service.set_mode("ok")
        self.folder = tempfile.mkdtemp(prefix="auth_loader_store_")
        self.store = os.path.join(self.folder, "rules.json")
        self.meta = self.store + ".meta"

    def tearDown(self):
        shutil.rmtree(self.folder)

    # --- helpers --------------------------------------------------------

    def start(self, *arguments, url=None, preexec_fn=None):
        return subprocess.Popen(
            [DRIVER, PLUGIN, url or self.service.rules_url, self.store, *arguments],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn)

    def run_loader(self, *arguments, url=None, preexec_fn=None):
        process = self.start(*arguments, url=url, preexec_fn=preexec_fn)
        stdout, stderr = process.communicate(timeout=60)
        return self.finished(process, stdout, stderr)

    def finished(self, process, stdout, stderr):
        self.assertNotIn("Sanitizer", stderr)
        self.assertNotIn("runtime error", stderr)
        return Run(process.returncode, stdout, stderr)

    def write(self, path, data):
        with open(path, "wb") as output:
            output.write(data)

    def read(self, path):
        with open(path, "rb") as source:
            return source.read()

    def assert_no_temp_left(self):
        leftovers = [name for name in os.listdir(self.folder) if ".tmp." in name]
        self.assertEqual(leftovers, [])

    def assert_story(self, run, *middle):
        url = self.service.rules_url
        expected = [f"info started with URL {url}", f"info load data from {url}", *middle,
                    "info work done"]
        self.assertEqual(run.lines, expected, run.stderr)

    # --- success --------------------------------------------------------

    def test_first_run_saves_the_body_exactly_as_served_with_its_validators(self):
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_DONE)
        self.assert_story(run, f"info save data (2 rules) to {self.store}")
        self.assertEqual(self.read(self.store), RULES)
        meta = json.loads(self.read(self.meta))
        self.assertTrue(meta["etag"].startswith('"'))
        self.assertTrue(meta["last_modified"].endswith("GMT"))
        self.assert_no_temp_left()

    def test_second_run_sends_the_validators_and_keeps_the_store_on_304(self):
        self.assertEqual(self.run_loader().status, EXIT_DONE)
        etag = json.loads(self.read(self.meta))["etag"]
        before = os.stat(self.store)
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_DONE)
        self.assert_story(run, "info rules unchanged (304 Not Modified)")
        self.assertEqual(self.service.stats()["last_headers"].get("If-None-Match"), etag)
        after = os.stat(self.store)
        self.assertEqual((before.st_ino, before.st_mtime_ns), (after.st_ino, after.st_mtime_ns))

    def test_a_changed_document_is_downloaded_again(self):
        self.assertEqual(self.run_loader().status, EXIT_DONE)
        changed = b'{"version": 8, "rules": [{"client": "a", "service": "b"}]}'
        self.write(self.rules_path, changed)
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_DONE)
        self.assert_story(run, f"info save data (1 rule) to {self.store}")
        self.assertEqual(self.read(self.store), changed)

    # --- no rollback ------------------------------------------------------

    def test_an_older_version_is_refused_and_the_store_kept(self):
        older = b'{"version": 6, "rules": [{"client": "old", "service": "rules"}]}\n'
        self.assertEqual(self.run_loader().status, EXIT_DONE)  # the store holds version 7
        stored, meta = self.read(self.store), self.read(self.meta)
        self.write(self.rules_path, older)
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_OLDER_VERSION, run.lines)
        self.assertEqual(run.errors(), [f"error refused rules from {self.service.rules_url}: "
                                        "version 6 is older than the stored version 7"])
        self.assertEqual((self.read(self.store), self.read(self.meta)), (stored, meta))
        self.assert_no_temp_left()

    def test_a_document_without_version_cannot_replace_a_versioned_one(self):
        self.assertEqual(self.run_loader().status, EXIT_DONE)
        stored = self.read(self.store)
        self.write(self.rules_path, b'{"rules": []}')
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_OLDER_VERSION, run.lines)
        self.assertEqual(len(run.errors()), 1, run.lines)
        self.assertIn("it has no version, older than the stored version 7", run.errors()[0])
        self.assertEqual(self.read(self.store), stored)

    def test_the_same_version_is_accepted(self):
        # The store lost its validators (an unconditional request): the same
        # version comes again and is saved, here with new bytes.
        self.assertEqual(self.run_loader().status, EXIT_DONE)
        os.unlink(self.meta)
        same_version = RULES.replace(b"billing", b"billing2")
        self.write(self.rules_path, same_version)
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_DONE, run.lines)
        self.assertEqual(self.read(self.store), same_version)

    def test_an_unreadable_store_is_repaired_with_a_warning(self):
        self.write(self.store, b'{"version": 9, "rul')
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_DONE, run.lines)
        self.assertIn("no version check against the stored rules", "\n".join(run.lines))
        self.assertEqual(self.read(self.store), RULES)

    def test_if_modified_since_alone_can_answer_304(self):
        self.assertEqual(self.run_loader().status, EXIT_DONE)
        meta = json.loads(self.read(self.meta))
        self.write(self.meta, json.dumps({"last_modified": meta["last_modified"]}).encode())
        run = self.run_loader()
        self.assert_story(run, "info rules unchanged (304 Not Modified)")
        headers = self.service.stats()["last_headers"]
        self.assertNotIn("If-None-Match", headers)
        self.assertEqual(headers.get("If-Modified-Since"), meta["last_modified"])

    def test_validators_are_not_sent_when_the_store_is_gone(self):
        self.assertEqual(self.run_loader().status, EXIT_DONE)
        os.unlink(self.store)
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_DONE)
        self.assertNotIn("If-None-Match", self.service.stats()["last_headers"])
        self.assertEqual(self.read(self.store), RULES)

    def test_one_redirect_is_followed(self):
        self.service.set_mode("redirect_once")
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_DONE, run.lines)
        self.assertEqual(self.read(self.store), RULES)

    def test_a_slow_answer_within_the_timeout_is_saved(self):
        self.service.set_mode("slow", slow_seconds=0.4)
        run = self.run_loader("--timeout-ms", "10000")
        self.assertEqual(run.status, EXIT_DONE, run.lines)
        self.assertEqual(self.read(self.store), RULES)

    def test_temp_files_of_an_interrupted_run_are_removed(self):
        leftover = os.path.join(self.folder, ".rules.json.tmp.Ab12Cd")
        self.write(leftover, b"half a docu")
        run = self.run_loader()
        self.assertEqual(run.status, EXIT_DONE)
        self.assertFalse(os.path.exists(leftover))
        self.assertIn("interrupted run", "\n".join(run.lines))
        self.assert_no_temp_left()

    # --- failures: one error line, store byte for byte, no temp ----------

    def assert_failure_keeps_the_store(self, mode, arguments, status, message, url=None,
                                       **settings):
        self.write(self.store, OLD_STORE)
        self.write(self.meta, OLD_META)
        self.service.set_mode(mode, **settings)
        run = self.run_loader(*arguments, url=url)
        self.assertEqual(run.status, status, run.lines)
        self.assertEqual(len(run.errors()), 1, run.lines)
        self.assertIn(message, run.errors()[0])
        self.assertNotIn("info work done", run.lines)
        self.assertEqual(self.read(self.store), OLD_STORE)
        self.assertEqual(self.read(self.meta), OLD_META)
        self.assert_no_temp_left()
        return run

    def test_http_500_fails_naming_the_status(self):
        self.assert_failure_keeps_the_store("error500", [], EXIT_HTTP_STATUS, "HTTP status 500")

    def test_a_missing_document_fails_naming_404(self):
        url = self.service.base_url + "/no-such-path"
        self.assert_failure_keeps_the_store("ok", [], EXIT_HTTP_STATUS, "HTTP status 404", url=url)

    def test_invalid_json_fails_naming_line_and_column(self):
        self.assert_failure_keeps_the_store("invalid_json", [], EXIT_INVALID_DOCUMENT,
                                            "invalid JSON at line 2 column")

    def test_a_schema_violation_fails_naming_the_path(self):
        self.assert_failure_keeps_the_store("bad_schema", [], EXIT_INVALID_DOCUMENT,
                                            "rules[1].service: missing")

    def test_an_endless_body_is_cut_at_the_cap(self):
        self.assert_failure_keeps_the_store("oversize", ["--max-bytes", "100000"], EXIT_TOO_LARGE,
                                            "body exceeds 100000 bytes")

    def test_an_announced_oversize_body_is_refused_before_reading_it(self):
        self.assert_failure_keeps_the_store("oversize_lying", ["--max-bytes", "100000"],
                                            EXIT_TOO_LARGE, "announced by Content-Length")

    def test_a_redirect_loop_fails_after_five_hops(self):
        self.assert_failure_keeps_the_store("redirect_loop", [], EXIT_TOO_MANY_REDIRECTS,
                                            "too many redirects (more than 5)")
        self.assertEqual(self.service.stats()["requests"], 6)

    def test_a_redirect_to_a_file_url_is_refused(self):
        self.assert_failure_keeps_the_store("redirect_file", [], EXIT_TRANSFER_FAILED,
                                            "non-http(s) URL")

    def test_a_hanging_service_fails_after_the_total_timeout(self):
        started = time.monotonic()
        self.assert_failure_keeps_the_store("hang", ["--timeout-ms", "500"], EXIT_TIMEOUT,
                                            "timeout after 500 ms")
        self.assertLess(time.monotonic() - started, 5)

    def test_a_too_slow_body_fails_after_the_total_timeout(self):
        self.assert_failure_keeps_the_store("slow", ["--timeout-ms", "500"], EXIT_TIMEOUT,
                                            "timeout after 500 ms", slow_seconds=5)

    def test_a_closed_port_fails_with_connection_refused(self):
        self.assert_failure_keeps_the_store("ok", [], EXIT_CANNOT_CONNECT, "connection refused",
                                            url="http://127.0.0.1:1/rules")

    def test_a_failed_save_keeps_the_old_store_and_removes_the_temp(self):
        def limit_file_size():
            # write() then fails with EFBIG half-way, as on a full disk; the
            # ignored SIGXFSZ survives exec, the limit too.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

        self.write(self.store, OLD_STORE)
        self.write(self.meta, OLD_META)
        run = self.run_loader(preexec_fn=limit_file_size)
        self.assertEqual(run.status, EXIT_CANNOT_SAVE, run.lines)
        self.assertEqual(len(run.errors()), 1, run.lines)
        self.assertIn(f"save data to {self.store} failed: cannot write", run.errors()[0])
        self.assertEqual(self.read(self.store), OLD_STORE)
        self.assertEqual(self.read(self.meta), OLD_META)
        self.assert_no_temp_left()

    def test_a_stop_request_ends_a_hanging_download_within_a_second(self):
        self.write(self.store, OLD_STORE)
        self.service.set_mode("hang")
        process = self.start("--timeout-ms", "60000")
        deadline = time.monotonic() + 10
        while self.service.stats()["requests"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
        self.assertLess(time.monotonic() - asked, 1.0)
        run = self.finished(process, stdout, stderr)
        self.assertEqual(run.status, EXIT_STOPPED)
        self.assertEqual(len(run.errors()), 1)
        self.assertIn("stopped by supervisor", run.errors()[0])
        self.assertEqual(self.read(self.store), OLD_STORE)
        self.assert_no_temp_left()

    # --- bad arguments: init fails, nothing is fetched ---------------------

    def assert_init_refuses(self, arguments, message):
        process = subprocess.Popen([DRIVER, PLUGIN, *arguments], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        run = self.finished(process, *process.communicate(timeout=30))
        self.assertEqual(run.status, EXIT_BAD_ARGUMENTS)
        self.assertEqual(len(run.errors()), 1, run.lines)
        self.assertTrue(run.errors()[0].startswith("error bad arguments: "), run.errors())
        self.assertIn(message, run.errors()[0])
        self.assertEqual(self.service.stats()["requests"], 0)

    def test_an_ftp_url_fails_init(self):
        self.assert_init_refuses(["ftp://127.0.0.1/rules", self.store],
                                 'URL "ftp://127.0.0.1/rules": only http and https are allowed')

    def test_a_missing_store_fails_init(self):
        self.assert_init_refuses([self.service.rules_url], "missing STORE")

    def test_a_store_in_a_missing_folder_fails_init(self):
        store = os.path.join(self.folder, "absent", "rules.json")
        self.assert_init_refuses([self.service.rules_url, store], "No such file or directory")

    def test_a_store_that_is_a_folder_fails_init(self):
        self.assert_init_refuses([self.service.rules_url, self.folder], "is a folder")

    def test_a_bad_number_fails_init(self):
        self.assert_init_refuses([self.service.rules_url, self.store, "--timeout-ms", "soon"],
                                 '--timeout-ms: expected a whole number from 1 to 86400000, '
                                 'got "soon"')


if __name__ == "__main__":
    unittest.main(verbosity=2)
