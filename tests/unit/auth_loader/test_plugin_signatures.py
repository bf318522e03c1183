#!/usr/bin/env python3
"""auth_loader.so with --public-key: signatures made by the real minisign
tool (keys from `minisign -G -W`, signatures by tools/fake-auth-service
--sign-key, which calls `minisign -S`), every failure class with its exit
status, one error line and the store kept byte for byte.

Environment: as test_plugin_scenarios.py (AUTH_LOADER_PLUGIN,
AUTH_LOADER_DRIVER, FAKE_AUTH_SERVICE).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plugin_scenarios import (  # noqa: E402 (after the path is set)
    DRIVER, EXIT_BAD_ARGUMENTS, EXIT_BAD_SIGNATURE, EXIT_DONE, EXIT_MALFORMED_SIGNATURE,
    EXIT_NO_SIGNATURE, EXIT_OLDER_VERSION, EXIT_UNKNOWN_KEY, OLD_META, OLD_STORE, PLUGIN, RULES,
    SERVICE, FakeAuthService, Run)


def make_key_pair(folder, name):
    subprocess.run(["minisign", "-G", "-W", "-p", f"{name}.pub", "-s", f"{name}.key"],
                   cwd=folder, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    with open(os.path.join(folder, f"{name}.pub")) as public_key:
        key_id = public_key.readline().split()[-1]
    return os.path.join(folder, f"{name}.pub"), os.path.join(folder, f"{name}.key"), key_id


class SignedRules(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for name, value in (("AUTH_LOADER_PLUGIN", PLUGIN), ("AUTH_LOADER_DRIVER", DRIVER),
                            ("FAKE_AUTH_SERVICE", SERVICE)):
            if not value or not os.path.exists(value):
                raise unittest.SkipTest(f"{name} is not set to an existing file")
        if shutil.which("minisign") is None:
            raise unittest.SkipTest("minisign is not installed (tools/deps installs it)")
        cls.keys_folder = tempfile.mkdtemp(prefix="auth_loader_keys_")
        cls.old_pub, cls.old_key, cls.old_id = make_key_pair(cls.keys_folder, "old")
        cls.new_pub, cls.new_key, cls.new_id = make_key_pair(cls.keys_folder, "new")
        cls.rules_path = os.path.join(cls.keys_folder, "rules.json")
        with open(cls.rules_path, "wb") as rules_file:
            rules_file.write(RULES)
        cls.service = FakeAuthService(cls.rules_path, "--sign-key", cls.old_key)

    @classmethod
    def tearDownClass(cls):
        cls.service.close()
        shutil.rmtree(cls.keys_folder)

    def setUp(self):
        with open(self.rules_path, "wb") as rules_file:
            rules_file.write(RULES)
        self.service.call("/control", {"mode": "ok", "signature": "ok", "sign_key": self.old_key,
                                       "sign_legacy": False, "reset_stats": True})
        self.folder = tempfile.mkdtemp(prefix="auth_loader_store_")
        self.store = os.path.join(self.folder, "rules.json")
        self.meta = self.store + ".meta"
        self.url = self.service.rules_url

    def tearDown(self):
        shutil.rmtree(self.folder)

    def run_loader(self, *keys):
        arguments = [word for key in keys for word in ("--public-key", key)]
        process = subprocess.run([DRIVER, PLUGIN, self.url, self.store, *arguments],
                                 capture_output=True, text=True, timeout=60)
        self.assertNotIn("Sanitizer", process.stderr)
        self.assertNotIn("runtime error", process.stderr)
        return Run(process.returncode, process.stdout, process.stderr)

    def read(self, path):
        with open(path, "rb") as source:
            return source.read()

    def write(self, path, data):
        with open(path, "wb") as output:
            output.write(data)

    def by_kind(self):
        return self.service.stats()["by_kind"]

    # --- trusted ----------------------------------------------------------

    def test_a_prehashed_signature_by_the_trusted_key_saves_the_rules(self):
        run = self.run_loader(self.old_pub)
        self.assertEqual(run.status, EXIT_DONE, run.lines)
        self.assertEqual(run.lines, [
            f"info started with URL {self.url}", f"info load data from {self.url}",
            f"info load signature from {self.url}.minisig",
            f"info signature verified: key {self.old_id}",
            f"info save data (2 rules) to {self.store}", "info work done"])
        self.assertEqual(self.read(self.store), RULES)
        self.assertEqual(self.by_kind()["signature"], 1)

    def test_a_legacy_signature_saves_the_rules(self):
        self.service.call("/control", {"sign_legacy": True})
        run = self.run_loader(self.old_pub)
        self.assertEqual(run.status, EXIT_DONE, run.lines)
        self.assertEqual(self.read(self.store), RULES)

    def test_a_304_fetches_no_signature(self):
        self.assertEqual(self.run_loader(self.old_pub).status, EXIT_DONE)
        before = self.by_kind()
        run = self.run_loader(self.old_pub)
        self.assertEqual(run.status, EXIT_DONE, run.lines)
        self.assertIn("info rules unchanged (304 Not Modified)", run.lines)
        after = self.by_kind()
        self.assertEqual(after["304"], before["304"] + 1)
        self.assertEqual(after["signature"], before["signature"])

    def test_two_keys_let_the_fleet_rotate(self):
        both = (self.old_pub, self.new_pub)
        self.assertEqual(self.run_loader(*both).status, EXIT_DONE)   # signed by old
        self.write(self.rules_path, RULES.replace(b'"version": 7', b'"version": 8'))
        self.service.call("/control", {"sign_key": self.new_key})
        run = self.run_loader(*both)                                   # signed by new
        self.assertEqual(run.status, EXIT_DONE, run.lines)
        self.assertIn(f"info signature verified: key {self.new_id}", run.lines)
        self.assertIn(b'"version": 8', self.read(self.store))

    # --- refused: exit status, one line, store and meta byte for byte -------

    def assert_refused(self, status, message, keys=None):
        self.write(self.store, OLD_STORE)
        self.write(self.meta, OLD_META)
        run = self.run_loader(*(keys or (self.old_pub,)))
        self.assertEqual(run.status, status, run.lines)
        self.assertEqual(len(run.errors()), 1, run.lines)
        self.assertIn(message, run.errors()[0])
        self.assertNotIn("info work done", run.lines)
        self.assertEqual(self.read(self.store), OLD_STORE)
        self.assertEqual(self.read(self.meta), OLD_META)
        self.assertEqual([name for name in os.listdir(self.folder) if ".tmp." in name], [])
        return run

    def test_a_missing_signature_is_refused(self):
        self.service.call("/control", {"signature": "missing"})
        self.assert_refused(EXIT_NO_SIGNATURE, f"error no signature for {self.url}: "
                            f"{self.url}.minisig answered HTTP status 404")

    def test_a_malformed_signature_is_refused(self):
        self.service.call("/control", {"signature": "malformed"})
        self.assert_refused(EXIT_MALFORMED_SIGNATURE,
                            f"error signature of {self.url} refused: malformed signature")

    def test_a_signature_by_an_unknown_key_is_refused_naming_the_key(self):
        self.service.call("/control", {"sign_key": self.new_key})
        self.assert_refused(EXIT_UNKNOWN_KEY, f"error signature of {self.url} refused: signed "
                            f"by unknown key {self.new_id} (trusted: 1 key given by --public-key)")

    def test_a_tampered_document_is_a_bad_signature(self):
        self.service.call("/control", {"signature": "tampered"})
        self.assert_refused(EXIT_BAD_SIGNATURE, f"error signature of {self.url} refused: bad "
                            f"signature: key {self.old_id} did not sign this document")

    def test_a_tampered_legacy_signed_document_is_a_bad_signature(self):
        self.service.call("/control", {"signature": "tampered", "sign_legacy": True})
        self.assert_refused(EXIT_BAD_SIGNATURE, "did not sign this document")

    def test_a_forged_trusted_comment_is_a_bad_signature(self):
        self.service.call("/control", {"signature": "forged_comment"})
        self.assert_refused(EXIT_BAD_SIGNATURE, f"bad signature: the trusted comment was not "
                            f"signed by key {self.old_id}")

    def test_an_older_signed_document_is_refused_as_a_rollback(self):
        # Once validly signed, version 6 must not come back over version 7.
        self.assertEqual(self.run_loader(self.old_pub).status, EXIT_DONE)
        stored, meta = self.read(self.store), self.read(self.meta)
        self.write(self.rules_path, RULES.replace(b'"version": 7', b'"version": 6'))
        run = self.run_loader(self.old_pub)
        self.assertEqual(run.status, EXIT_OLDER_VERSION, run.lines)
        self.assertEqual(run.errors(), [f"error refused rules from {self.url}: version 6 is "
                                        "older than the stored version 7"])
        self.assertIn(f"info signature verified: key {self.old_id}", run.lines)
        self.assertEqual((self.read(self.store), self.read(self.meta)), (stored, meta))

    # --- bad keys: init fails, nothing fetched --------------------------------

    def assert_init_refuses(self, key, message):
        run = self.run_loader(key)
        self.assertEqual(run.status, EXIT_BAD_ARGUMENTS, run.lines)
        self.assertEqual(run.errors(), [f"error bad arguments: --public-key {key}: {message}"])
        self.assertEqual(self.service.stats()["requests"], 0)

    def test_a_missing_key_file_fails_init(self):
        self.assert_init_refuses(os.path.join(self.folder, "absent.pub"),
                                 "No such file or directory")

    def test_a_secret_key_given_as_public_key_fails_init(self):
        self.assert_init_refuses(self.old_key, "not a minisign public key (the key line is not "
                                 "base64 of 42 bytes)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
