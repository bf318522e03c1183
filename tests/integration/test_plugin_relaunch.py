"""A plugin process that dies is relaunched (SPEC section 8) with the code
of the generation it ran, never with whatever file is on disk now: a file
overwritten in place, but never reloaded, is no generation yet. The same
holds for a retired plugin whose file is gone.

Each test gets its own plugin folder with copies of sleeper.so and
versioned.so 1.0.0 (tests/plugins/versioned.c).
"""

import os
import re
import shutil
import signal
import tempfile

from harness import (BUILD_DIR, PLUGIN_DIR, Host, alive, gone, parent_of, plugin_folder_holding, run_tests, wait_for)

VERSIONS = os.path.join(BUILD_DIR, "test-plugins", "versions")

SUPERVISORS = """
[supervisor:s]
"""

CHILDREN = """
[child:c]
plugin = versioned
restart = permanent
shutdown = 1000

[child:o]
plugin = sleeper
restart = permanent
"""


def relaunching_host(env=None, children=CHILDREN):
    folder = plugin_folder_holding(os.path.join(PLUGIN_DIR, "sleeper.so"), os.path.join(VERSIONS, "1.0", "versioned.so"))
    host = Host(SUPERVISORS, {"children.ini": children}, plugin_dir=folder)
    host.plugin_folder = folder
    return host.start(env=env)


def overwrite_in_place(host, data):
    """As `cp` does: the same inode, new bytes; no reload."""
    with open(os.path.join(host.plugin_folder, "versioned.so"), "r+b") as target:
        target.truncate(0)
        target.write(data)


def running_versioned(host):
    child = host.start_child("s", "c")["pid"]
    host.wait_log("pid=%d versioned 1.0.0 running" % child)
    return child


def kill_its_plugin_process_and_wait_for_the_restart(host, child):
    plugin_process = parent_of(child)
    os.kill(plugin_process, signal.SIGKILL)
    replacement = wait_for(lambda: [p for p in host.child_pids("s", "c") if p and p != child],
                           what="the child restarted in a relaunched plugin process")[0]
    assert parent_of(replacement) != plugin_process
    return replacement


def versioned_generations(host):
    plugins = host.request({"cmd": "plugins"})["plugins"]
    return [(p["generation"], p["version"], p["current"]) for p in plugins
            if p["name"] == "versioned"]


def test_a_relaunch_runs_the_lost_generations_code_not_the_file_overwritten_since():
    with relaunching_host() as host:
        child = running_versioned(host)
        with open(os.path.join(VERSIONS, "1.1", "versioned.so"), "rb") as newer:
            overwrite_in_place(host, newer.read())
        replacement = kill_its_plugin_process_and_wait_for_the_restart(host, child)
        host.wait_log("pid=%d versioned 1.0.0 running" % replacement)
        assert "versioned 1.1.0" not in host.log(), host.log()
        assert versioned_generations(host) == [(2, "1.0.0", True)]
        # The file on disk is still a change the next reload loads, validated.
        answer = host.request({"cmd": "reload"})
        assert answer["result"] == "ok", answer
        assert versioned_generations(host) == [(2, "1.0.0", False), (3, "1.1.0", True)]
        assert host.stop() == 0


def test_a_relaunch_survives_a_truncated_file_on_disk():
    with relaunching_host() as host:
        child = running_versioned(host)
        sibling = host.start_child("s", "o")["pid"]
        with open(os.path.join(VERSIONS, "1.1", "versioned.so"), "rb") as newer:
            overwrite_in_place(host, newer.read()[:4096])
        replacement = kill_its_plugin_process_and_wait_for_the_restart(host, child)
        host.wait_log("pid=%d versioned 1.0.0 running" % replacement)
        assert alive(sibling) and host.child_pids("s", "o") == [sibling]
        assert "intensity exceeded" not in host.log(), host.log()
        assert host.stop() == 0


def test_a_retired_plugins_process_that_dies_is_relaunched_from_its_kept_code():
    with relaunching_host() as host:
        child = running_versioned(host)
        with open(host.path("children.d", "children.ini"), "w") as children:
            children.write(CHILDREN[CHILDREN.index("[child:o]"):])
        os.unlink(os.path.join(host.plugin_folder, "versioned.so"))
        assert host.request({"cmd": "reload"})["result"] == "ok"
        replacement = kill_its_plugin_process_and_wait_for_the_restart(host, child)
        host.wait_log("pid=%d versioned 1.0.0 running" % replacement)
        assert re.search(r"plugin versioned relaunched", host.log()), host.log()
        assert [current for _, _, current in versioned_generations(host)] == [False]
        relaunched = parent_of(replacement)
        assert host.terminate_child("s", replacement)["result"] == "ok"
        wait_for(lambda: gone(relaunched), what="the relaunched retired process released")
        # gone() is true from its exit on; the host drops it from the list
        # when it reaps it, a moment later
        wait_for(lambda: versioned_generations(host) == [], what="the released generation unlisted")
        assert host.stop() == 0


def test_a_current_generation_that_cannot_be_relaunched_leaves_no_start_to_an_older_one():
    """1.0.0 still runs a worker after a reload to 1.1.0; 1.1.0's process
    dies and can no longer be loaded. New starts fail ("not loaded"), as
    the log says, rather than run the 1.0.0 code that was replaced."""
    refuse = os.path.join(tempfile.mkdtemp(prefix="dynsup-refuse-"), "refuse")
    children = CHILDREN + "\n[child:d]\nplugin = versioned\nrestart = temporary\n"
    with relaunching_host(env=dict(os.environ, VERSIONED_REFUSE_LOAD=refuse), children=children) as host:
        old_worker = running_versioned(host)
        newer = os.path.join(host.plugin_folder, ".versioned.so.new")
        shutil.copy(os.path.join(VERSIONS, "1.1", "versioned.so"), newer)
        os.rename(newer, os.path.join(host.plugin_folder, "versioned.so"))
        assert host.request({"cmd": "reload"})["result"] == "ok"
        newer_worker = host.start_child("s", "d")["pid"]
        host.wait_log("pid=%d versioned 1.1.0 running" % newer_worker)
        open(refuse, "w").close()
        os.kill(parent_of(newer_worker), signal.SIGKILL)
        host.wait_log("plugin versioned cannot be relaunched")
        answer = host.start_child("s", "d")
        assert answer["result"] == "error", answer
        assert host.log().count("versioned 1.0.0 running") == 1, host.log()
        assert alive(old_worker)
        assert host.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
