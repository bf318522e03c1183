"""The checkout's etc/dynsup.ini (README's "Build and run by hand") boots
without a single warning or error line: nothing is started against an auth
service that is not running."""

import os
import shutil
import tempfile

from harness import HOST_BINARY, PLUGIN_DIR, SOURCE_DIR, run_tests
from installed import InstalledHost, exercise


def test_the_checkout_config_boots_without_an_error_line():
    work = tempfile.mkdtemp(prefix="dsd-", dir="/tmp")
    try:
        # etc/ as is, but for the two paths that point into the checkout
        # (its build/ and var/ folders).
        shutil.copytree(os.path.join(SOURCE_DIR, "etc"), os.path.join(work, "etc"))
        config = os.path.join(work, "etc", "dynsup.ini")
        with open(config) as original:
            text = original.read()
        text = text.replace("plugin_dir   = ../build/plugins", "plugin_dir   = " + PLUGIN_DIR)
        assert PLUGIN_DIR in text, "etc/dynsup.ini: plugin_dir is not ../build/plugins any more"
        with open(config, "w") as changed:
            changed.write(text)
        log = exercise(InstalledHost(HOST_BINARY, config, log_dir=work), supervisor="demo")
        assert "autostart" not in log, log
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())
