#!/usr/bin/env python3
"""Runs a test program with signatures made by the real minisign tool.

    minisign_fixtures.py PROGRAM [ARGS...]

Makes, in a temporary folder, two unencrypted key pairs (`minisign -G -W`:
old.pub/old.key and new.pub/new.key), a rules document `doc.json`, and its
signatures: doc.json.minisig (prehashed, by old), doc.json.legacy.minisig
(legacy, by old) and doc.json.new.minisig (prehashed, by new); then runs
PROGRAM with SIGNATURE_FIXTURES set to that folder and exits with its
status. Without minisign the test is skipped (ctest SKIP_RETURN_CODE 77).
"""

import os
import shutil
import subprocess
import sys
import tempfile

DOCUMENT = b'{"version": 3, "rules": [{"client": "web", "service": "catalog"}]}\n'


def minisign(*arguments, folder):
    subprocess.run(["minisign", *arguments], cwd=folder, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def make_fixtures(folder):
    for name in ("old", "new"):
        minisign("-G", "-W", "-p", f"{name}.pub", "-s", f"{name}.key", folder=folder)
    with open(os.path.join(folder, "doc.json"), "wb") as document:
        document.write(DOCUMENT)
    minisign("-S", "-s", "old.key", "-m", "doc.json", "-t", "rules version 3", folder=folder)
    minisign("-S", "-l", "-s", "old.key", "-m", "doc.json", "-x", "doc.json.legacy.minisig",
             "-t", "rules version 3 (legacy)", folder=folder)
    minisign("-S", "-s", "new.key", "-m", "doc.json", "-x", "doc.json.new.minisig",
             "-t", "rules version 3 (new key)", folder=folder)


def main(argv):
    if shutil.which("minisign") is None:
        print("minisign is not installed (tools/deps installs it): skipped")
        return 77
    folder = tempfile.mkdtemp(prefix="minisign_fixtures_")
    try:
        make_fixtures(folder)
        return subprocess.run(argv, env=dict(os.environ, SIGNATURE_FIXTURES=folder)).returncode
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
