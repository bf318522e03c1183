"""A supervisor a reload adds while one of the same name that an earlier
reload removed is still stopping its children (SPEC section 8, "supervisor
added: created empty, its autostart run"): it is created, empty, as soon as
the old one is gone, and its autostart runs then, with the settings of the
config as it is at that moment. Removed again before that, it stays gone.

Removing several supervisors in one reload is here too: each one's
"supervisor removed" line is written while the others are taken out.

The old supervisor's child ignores SIGTERM and has a shutdown of a minute,
so the old one is still there while the next reloads are sent, however
slow the machine; the test then ends that removal itself (SIGKILL). The
re-added supervisor autostarts a child that stops at once.
"""

import os
import signal

from harness import Host, alive, gone, run_tests, wait_for

SUPERVISORS = """
[supervisor:work]

[supervisor:r]
autostart = stubborn
"""

CHILDREN = """
[child:stubborn]
plugin = sleeper
args = --ignore-stop
restart = permanent
shutdown = 60000

[child:quick]
plugin = sleeper
restart = permanent
shutdown = 1000
"""


# r as a reload adds it back: its autostart stops at once at the host's stop
READDED = SUPERVISORS.replace("autostart = stubborn", "autostart = quick")


def new_host(supervisors=SUPERVISORS):
    return Host(supervisors, {"children.ini": CHILDREN}).start()


def pids_listed_under_r(host):
    answer = host.request({"cmd": "which_children", "supervisor": "r"})
    return [child["pid"] for child in answer["children"]] if answer["result"] == "ok" else []


def end_the_removal(host, old):
    """The old child would hold its supervisor's removal for a minute.
    Killed, it is waited for until the host no longer lists it: the
    process gone, the host may not have heard of its exit yet, and until
    then "r" is still the old supervisor, stopping."""
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: gone(old), what="the old child gone")
    wait_for(lambda: old not in pids_listed_under_r(host), what="the host done with the old child")


def configure(host, supervisors):
    """The host file with these supervisor sections instead of SUPERVISORS."""
    with open(host.config) as config:
        text = config.read()
    start = text.index("[supervisor:work]")
    with open(host.config, "w") as config:
        config.write(text[:start] + supervisors)


def reload(host):
    answer = host.request({"cmd": "reload"})
    assert answer["result"] == "ok", answer
    return answer


def supervisor_change(answer, name):
    found = [c["change"] for c in answer["changes"] if c["kind"] == "supervisor" and c["id"] == name]
    return found[0] if found else None


def supervisor_names(host):
    return [s["name"] for s in host.status()["supervisors"]]


def remove_r_leaving_its_stubborn_child_stopping(host):
    """Removes r by a reload; returns the pid of its child, still alive."""
    old = wait_for(lambda: host.child_pids("r") and all(host.child_pids("r")) and host.child_pids("r"),
                   what="r's autostart")[0]
    configure(host, "[supervisor:work]\n")
    assert supervisor_change(reload(host), "r") == "removed"
    assert host.supervisor_status("r")["stopping"], host.status()
    return old


def test_a_supervisor_re_added_while_its_removal_runs_is_created_once_the_old_one_is_gone():
    with new_host() as host:
        old = remove_r_leaving_its_stubborn_child_stopping(host)
        configure(host, READDED)
        answer = reload(host)
        added = [c for c in answer["changes"] if c["id"] == "r"]
        assert added == [{"kind": "supervisor", "id": "r", "change": "added",
                          "detail": "created once the one removed by an earlier reload has stopped its children"}], answer
        assert alive(old), "the old child stopped before the re-add: the race was not exercised"
        # Meanwhile r is the old one, stopping: new starts are refused.
        assert host.start_child("r", "stubborn")["error"] == "shutting_down"
        end_the_removal(host, old)
        wait_for(lambda: "r" in supervisor_names(host), what="the re-added r in status")
        fresh = wait_for(lambda: host.child_pids("r") and all(host.child_pids("r")) and host.child_pids("r"),
                         what="the re-added r's autostart")
        assert len(fresh) == 1 and fresh[0] != old and alive(fresh[0]), fresh
        assert host.start_child("r", "quick")["result"] == "ok"
        assert "sup=r child=- pid=- supervisor added (re-added by a reload" in host.log()
        # The host's view of the config and its tree agree: nothing to do.
        assert reload(host)["changes"] == []
        assert host.stop() == 0


def test_the_latest_config_applies_to_a_re_added_supervisor_when_it_is_created():
    with new_host() as host:
        old = remove_r_leaving_its_stubborn_child_stopping(host)
        configure(host, READDED)
        reload(host)
        configure(host, READDED.replace("autostart = quick", "max_children = 1\nautostart = quick"))
        assert supervisor_change(reload(host), "r") == "changed"
        assert alive(old), "the old child stopped before the change: the race was not exercised"
        end_the_removal(host, old)
        fresh = wait_for(lambda: host.which_children("r") if "r" in supervisor_names(host) else None,
                         what="the re-added r's autostart")
        assert [c["id"] for c in fresh] == ["quick"], fresh
        assert host.start_child("r", "quick")["error"] == "max_children"
        assert host.stop() == 0


def test_a_supervisor_re_added_then_removed_again_before_the_old_one_is_gone_stays_gone():
    with new_host() as host:
        old = remove_r_leaving_its_stubborn_child_stopping(host)
        configure(host, READDED)
        reload(host)
        configure(host, "[supervisor:work]\n")
        assert supervisor_change(reload(host), "r") == "removed"
        assert alive(old), "the old child stopped before the second removal: the race was not exercised"
        end_the_removal(host, old)
        wait_for(lambda: supervisor_names(host) == ["work"], what="r gone from the tree")
        assert host.start_child("r", "stubborn")["error"] == "unknown_supervisor"
        assert "sup=r child=- pid=- supervisor added" not in host.log()
        assert reload(host)["changes"] == []
        assert host.stop() == 0


def test_supervisors_removed_together_by_one_reload_are_each_logged_and_gone():
    """Empty supervisors are taken out of the tree at once; the log line of
    the first must not point at what the removal of the second freed (an
    ASan build of the host showed a use-after-free here)."""
    with new_host(READDED) as host:
        configure(host, READDED + "\n[supervisor:a]\n[supervisor:b]\n")
        reload(host)
        configure(host, READDED)
        answer = reload(host)
        assert [supervisor_change(answer, name) for name in "ab"] == ["removed", "removed"], answer
        assert supervisor_names(host) == ["work", "r"]
        for name in "ab":
            assert "sup=%s child=- pid=- supervisor removed\n" % name in host.log()
        assert host.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
