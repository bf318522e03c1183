"""A plugin retired by a reload (its spec and its .so removed) while one of
its children still runs (SPEC section 8): the child keeps its code, so do
its restarts, and no other child is harmed; the plugin's process goes once
no child of the tree can restart into it any more.

Each test gets its own plugin folder with copies of sleeper.so and
versioned.so 1.0.0 (tests/plugins/versioned.c).
"""

import os
import shutil
import signal

from harness import (BUILD_DIR, PLUGIN_DIR, Host, alive, gone, parent_of, plugin_folder_holding, run_tests, wait_for)

VERSIONS = os.path.join(BUILD_DIR, "test-plugins", "versions")

# Default intensity on purpose: a restart that cannot run is retried at
# once, and a handful of those escalate.
SUPERVISORS = """
[supervisor:s]
"""

OTHER = """
[child:o]
plugin = sleeper
restart = permanent
"""

RETIRED = """
[child:c]
plugin = versioned
restart = %s
shutdown = 1000
%s
"""


def retiring_host(restart="permanent", extra=""):
    folder = plugin_folder_holding(os.path.join(PLUGIN_DIR, "sleeper.so"), os.path.join(VERSIONS, "1.0", "versioned.so"))
    host = Host(SUPERVISORS, {"o.ini": OTHER, "c.ini": RETIRED % (restart, extra)},
                plugin_dir=folder)
    host.plugin_folder = folder
    return host.start()


def retire_the_plugin(host):
    """The usual way: its spec and its file deleted, then a reload."""
    os.unlink(host.path("children.d", "c.ini"))
    os.unlink(os.path.join(host.plugin_folder, "versioned.so"))
    answer = host.request({"cmd": "reload"})
    assert answer["result"] == "ok", answer
    removed = [c for c in answer["changes"] if c["kind"] == "plugin" and c["id"] == "versioned"]
    assert len(removed) == 1 and removed[0]["change"] == "removed", answer


def versioned_generations(host):
    plugins = host.request({"cmd": "plugins"})["plugins"]
    return [(p["generation"], p["workers"], p["current"]) for p in plugins if p["name"] == "versioned"]


def pid_of(host, child_id):
    pids = host.child_pids("s", child_id)
    return pids[0] if pids else None



def kill_c_and_wait_for_its_restart_to_be_due(host):
    """Starts c, kills it, waits until it waits for its restart (its
    backoff); returns the plugin process it ran in."""
    retired = host.start_child("s", "c")["pid"]
    host.wait_log("pid=%d versioned 1.0.0 running" % retired)
    plugin_process = parent_of(retired)
    os.kill(retired, signal.SIGKILL)
    wait_for(lambda: [c for c in host.which_children("s") if c["id"] == "c"
                      and c["state"] == "restarting"], what="the child waiting for its restart")
    return plugin_process


def wait_released(host, plugin_process):
    wait_for(lambda: gone(plugin_process), what="the retired plugin's process released")
    # unlisted when the host reaps it, a moment after gone() turns true
    wait_for(lambda: versioned_generations(host) == [], what="the released generation unlisted")


def test_a_restart_of_a_retired_plugins_child_runs_its_kept_code_and_harms_no_sibling():
    with retiring_host() as host:
        retired = host.start_child("s", "c")["pid"]
        sibling = host.start_child("s", "o")["pid"]
        host.wait_log("pid=%d versioned 1.0.0 running" % retired)
        plugin_process = parent_of(retired)
        retire_the_plugin(host)
        assert versioned_generations(host) == [(1, 1, False)]
        os.kill(retired, signal.SIGKILL)
        replacement = wait_for(lambda: pid_of(host, "c") not in (None, retired) and pid_of(host, "c"),
                               what="the retired plugin's child restarted")
        host.wait_log("pid=%d versioned 1.0.0 running" % replacement)
        assert parent_of(replacement) == plugin_process, "not the code its worker kept"
        assert alive(sibling) and pid_of(host, "o") == sibling, host.log()
        assert "intensity exceeded" not in host.log(), host.log()
        assert "its plugin is not loaded" not in host.log(), host.log()
        assert versioned_generations(host) == [(1, 1, False)]
        # Once no child can restart into it, the plugin's process goes.
        assert host.terminate_child("s", replacement)["result"] == "ok"
        wait_released(host, plugin_process)
        assert alive(sibling)
        assert host.stop() == 0


def test_a_retired_plugins_temporary_child_that_ends_releases_its_process():
    with retiring_host(restart="temporary") as host:
        retired = host.start_child("s", "c")["pid"]
        host.wait_log("pid=%d versioned 1.0.0 running" % retired)
        plugin_process = parent_of(retired)
        retire_the_plugin(host)
        os.kill(retired, signal.SIGKILL)  # temporary: never restarted
        wait_released(host, plugin_process)
        assert host.stop() == 0


def test_a_retired_plugins_child_waiting_for_its_restart_keeps_the_process_until_terminated():
    with retiring_host(extra="restart_delay = 60000\nrestart_delay_max = 60000") as host:
        plugin_process = kill_c_and_wait_for_its_restart_to_be_due(host)
        # No worker left, but the child may still restart into this code.
        retire_the_plugin(host)
        assert versioned_generations(host) == [(1, 0, False)]
        assert alive(plugin_process)
        key = [c["key"] for c in host.which_children("s") if c["id"] == "c"][0]
        answer = host.request({"cmd": "terminate_child", "supervisor": "s", "key": key})
        assert answer["result"] == "ok", answer
        wait_released(host, plugin_process)
        assert host.stop() == 0


def test_a_retired_plugin_added_back_releases_the_kept_process_at_once():
    with retiring_host(extra="restart_delay = 15000\nrestart_delay_max = 15000") as host:
        plugin_process = kill_c_and_wait_for_its_restart_to_be_due(host)
        retire_the_plugin(host)
        assert alive(plugin_process)
        shutil.copy(os.path.join(VERSIONS, "1.1", "versioned.so"), host.plugin_folder)
        with open(host.path("children.d", "c.ini"), "w") as spec:
            spec.write(RETIRED % ("permanent", ""))
        assert host.request({"cmd": "reload"})["result"] == "ok"
        # Its restart (due in 11 s at the earliest) will run 1.1.0: 1.0.0 goes now.
        wait_for(lambda: gone(plugin_process), what="the kept 1.0.0 process released")
        waiting = [c for c in host.which_children("s") if c["id"] == "c"]
        assert waiting[0]["state"] == "restarting" and waiting[0]["plugin_version"] == "1.1.0", waiting
        wait_for(lambda: [g[0] for g in versioned_generations(host)] == [2],
                 what="only generation 2 listed once 1.0.0 is reaped")
        assert host.stop() == 0

if __name__ == "__main__":
    run_tests(globals())
