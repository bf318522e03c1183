"""Rules a fleet can trust, under the real host (SPEC §7 "Trust" and "No
rollback"): auth_loader with --public-key against tools/fake-auth-service
--sign-key, keys and signatures made by the real minisign tool. The
plugin's own scenario tests (tests/unit/auth_loader/test_plugin_signatures.py)
cover every failure class; here: the host sees the distinct exit statuses,
retries a refused document as a transient failure, and the store keeps its
bytes throughout.
"""

import os
import shutil
import subprocess
import tempfile

from auth_fixture import LOADER_ARGS, RULES_V7, RULES_V8, SEEDED_STORE, Story
from harness import run_tests, wait_for

EXIT_NO_SIGNATURE, EXIT_UNKNOWN_KEY, EXIT_OLDER_VERSION = 12, 14, 16


class Keys:
    """Two minisign key pairs (old, new) in a temporary folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dynsup-keys-")
        for name in ("old", "new"):
            subprocess.run(["minisign", "-G", "-W", "-p", f"{name}.pub", "-s", f"{name}.key"],
                           cwd=self.dir, check=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL)

    def path(self, name):
        return os.path.join(self.dir, name)

    def key_id(self, name):
        with open(self.path(name + ".pub")) as public_key:
            return public_key.readline().split()[-1]

    def close(self):
        shutil.rmtree(self.dir)


def signed_story(keys, trusted, rules=RULES_V7, **settings):
    args = LOADER_ARGS + "".join(" --public-key " + keys.path(name + ".pub") for name in trusted)
    return Story(rules, args=args, service_options=("--sign-key", keys.path("old.key")),
                 **settings)


def exit_status_logged(story, status):
    return wait_for(lambda: "exited abnormally (exit status %d)" % status in story.host.log(),
                    what="a loader exit with status %d" % status)


def test_signed_rules_are_loaded_and_a_key_rotation_goes_through():
    keys = Keys()
    try:
        with signed_story(keys, ("old", "new")) as story:
            story.start()
            pid = story.emit_and_wait()
            assert story.store_bytes() == RULES_V7
            assert "signature verified: key %s" % keys.key_id("old") in story.loader_lines(pid)
            # The publisher rotates to the new key; nodes trusting both follow.
            story.service.call("/control", {"sign_key": keys.path("new.key")})
            story.write_rules(RULES_V8)
            pid = story.emit_and_wait()
            assert story.store_bytes() == RULES_V8, story.loader_lines(pid)
            assert "signature verified: key %s" % keys.key_id("new") in story.loader_lines(pid)
    finally:
        keys.close()


def test_refused_signatures_keep_the_store_and_exit_with_their_own_status():
    keys = Keys()
    try:
        with signed_story(keys, ("old",), seed=True) as story:
            story.service.call("/control", {"signature": "missing"})
            kept = story.store_identity()
            story.start()
            story.emit()
            exit_status_logged(story, EXIT_NO_SIGNATURE)
            # Signed by a key this node does not trust (yet).
            story.service.call("/control", {"signature": "ok", "sign_key": keys.path("new.key")})
            wait_for(lambda: story.host.request({"cmd": "emit", "event": "update_auth_rules"})
                     ["result"] == "ok", what="a new loader started")
            exit_status_logged(story, EXIT_UNKNOWN_KEY)
            assert "signed by unknown key %s" % keys.key_id("new") in story.host.log()
            assert story.store_identity() == kept
            assert story.store_bytes() == SEEDED_STORE
    finally:
        keys.close()


def test_an_older_document_is_a_rollback_the_host_sees_as_its_own_status():
    with Story(RULES_V8) as story:
        story.start()
        story.emit_and_wait()
        assert story.store_bytes() == RULES_V8
        kept = story.store_identity()
        story.write_rules(RULES_V7)
        story.emit()
        exit_status_logged(story, EXIT_OLDER_VERSION)
        assert "version 7 is older than the stored version 8" in story.host.log()
        assert story.store_identity() == kept


if __name__ == "__main__":
    run_tests(globals())
