"""Changing things while it runs (issue 10, SPEC section 8): reload by
request, CLI and SIGHUP; every change applied live, nothing running
touched; plugins upgraded as generations; a broken change refused whole.

Each test gets its own plugin folder with copies of the plugins it needs
(tests/plugins/versioned.c is built as 1.0.0 and 1.1.0).
"""

import json
import os
import re
import shutil
import signal
import tempfile
import time

from harness import (BUILD_DIR, PLUGIN_DIR, SPARE, TIME_SCALE, Host, alive, children_of, comm_of, gone,
                     parent_of, run_tests, wait_for)

VERSIONS = os.path.join(BUILD_DIR, "test-plugins", "versions")
BAD_PLUGINS = os.path.join(BUILD_DIR, "test-plugins", "bad")

SUPERVISORS = """
[supervisor:work]
max_restarts = 50
max_seconds = 5

[supervisor:other]
"""

CHILDREN = """
[child:sleepy]
plugin = sleeper
args = --first
restart = temporary
shutdown = 1000

[child:keeper]
plugin = sleeper
args = --old
restart = transient
shutdown = 1000

[child:upgraded]
plugin = versioned
restart = permanent
shutdown = 1000
"""


def plugin_folder(versioned="1.0"):
    folder = tempfile.mkdtemp(prefix="dynsup-plugins-")
    shutil.copy(os.path.join(PLUGIN_DIR, "sleeper.so"), folder)
    if versioned:
        shutil.copy(os.path.join(VERSIONS, versioned, "versioned.so"), folder)
    return folder


def new_host(children=CHILDREN, supervisors=SUPERVISORS, folder=None):
    folder = folder or plugin_folder()
    host = Host(supervisors, {"children.ini": children}, plugin_dir=folder)
    host.plugin_folder = folder
    return host.start()


def install(folder, source, name):
    """Drops a plugin file the way a package manager does: a temp file, then rename."""
    temporary = os.path.join(folder, ".%s.tmp" % name)
    shutil.copy(source, temporary)
    os.replace(temporary, os.path.join(folder, name))


def reload(host, dry_run=False):
    message = {"cmd": "reload"}
    if dry_run:
        message["dry_run"] = True
    return host.request(message)


def change(answer, kind, ident):
    found = [c for c in answer["changes"] if c["kind"] == kind and c["id"] == ident]
    assert len(found) == 1, answer
    return found[0]


def write_children(host, text):
    with open(host.path("children.d", "children.ini"), "w") as children:
        children.write(text)


def children_of_supervisor(host, supervisor):
    return {c["id"]: c for c in host.which_children(supervisor)}


def test_a_plugin_and_a_spec_added_live_are_startable_at_once():
    without = CHILDREN.replace("plugin = versioned", "plugin = sleeper")
    with new_host(children=without, folder=plugin_folder(versioned=None)) as host:
        assert host.start_child("work", "fresh")["error"] == "unknown_child"
        install(host.plugin_folder, os.path.join(PLUGIN_DIR, "hello.so"), "hello.so")
        write_children(host, without + "\n[child:fresh]\nplugin = hello\nrestart = temporary\n")
        answer = reload(host)
        assert answer["result"] == "ok", answer
        assert change(answer, "plugin", "hello")["change"] == "added"
        assert change(answer, "child", "fresh")["change"] == "added"
        started = host.start_child("work", "fresh", args=["live"])
        assert started["result"] == "ok", started
        host.wait_log("hello from fresh, args: live")
        assert host.stop() == 0


def test_a_plugin_added_live_has_a_spare_ready_for_its_first_start():
    """Issue 10's "the first start from a freshly added plugin within 2x a
    normal start": a normal start becomes a prepared spare, a first start
    from a plugin with none forks. A plugin a reload loads that a child
    spec names gets its spare at once, so that its first start, once the
    spare has come, is a normal one: the worker of that start is the
    process that was the spare."""
    without = CHILDREN.replace("plugin = versioned", "plugin = sleeper")
    with new_host(children=without, folder=plugin_folder(versioned=None)) as host:
        install(host.plugin_folder, os.path.join(PLUGIN_DIR, "hello.so"), "hello.so")
        write_children(host, without + "\n[child:fresh]\nplugin = hello\nrestart = temporary\n")
        answer = reload(host)
        assert answer["result"] == "ok", answer
        spare = wait_for(lambda: waiting_spares_of_plugin(host, "hello"),
                         what="a dynsup-spare of the plugin added live, waiting for a job")
        host.count_children("work")  # a loop turn of the host's after the spare's SPARE
        started = host.start_child("work", "fresh", args=["live"])
        assert started["result"] == "ok", started
        assert started["pid"] == spare[0], "the first start forked %d instead of becoming the spare %d" % (
            started["pid"], spare[0])
        host.wait_log("hello from fresh, args: live")
        assert host.stop() == 0


def test_a_plugin_added_live_that_no_spec_names_gets_no_spare():
    """The positive control comes last: the same plugin, once a spec names
    it and a reload loads it again (a new file), gets its spare; before
    that, over 20 looks, it had none."""
    without = CHILDREN.replace("plugin = versioned", "plugin = sleeper")
    with new_host(children=without, folder=plugin_folder(versioned=None)) as host:
        install(host.plugin_folder, os.path.join(PLUGIN_DIR, "hello.so"), "hello.so")
        answer = reload(host)
        assert answer["result"] == "ok", answer
        assert spawner_of_plugin(host, "hello"), "no spawner for hello after the reload"
        looks = [spares_of_plugin(host, "hello") for _ in range(20)]
        assert not any(looks), "a spare for a plugin nothing can start: %r" % looks
        os.unlink(os.path.join(host.plugin_folder, "hello.so"))
        assert reload(host)["result"] == "ok"
        install(host.plugin_folder, os.path.join(PLUGIN_DIR, "hello.so"), "hello.so")
        write_children(host, without + "\n[child:fresh]\nplugin = hello\nrestart = temporary\n")
        assert reload(host)["result"] == "ok"
        wait_for(lambda: spares_of_plugin(host, "hello"), what="the spare once a spec names it")
        assert host.stop() == 0


def test_an_upgrade_moves_the_spare_to_the_new_generation():
    """The retired generation can serve no start again: its spare goes
    with the reload, and the new generation gets one."""
    with new_host() as host:
        first = host.start_child("work", "upgraded")["pid"]
        old_spawner = parent_of(first)
        wait_for(lambda: [p for p in children_of(old_spawner) if comm_of(p) == SPARE],
                 what="the 1.0.0 spare after its first start")
        install(host.plugin_folder, os.path.join(VERSIONS, "1.1", "versioned.so"), "versioned.so")
        assert reload(host)["result"] == "ok"
        wait_for(lambda: not [p for p in children_of(old_spawner) if comm_of(p) == SPARE],
                 what="the 1.0.0 spare gone with its generation's retirement")
        assert alive(first), "the running 1.0.0 worker was touched"
        wait_for(lambda: spares_of_plugin(host, "versioned"), what="a spare of the 1.1.0 generation")
        assert host.stop() == 0


def test_a_start_sent_the_moment_a_reload_answers_waits_for_the_readied_spare():
    """The spare a reload asks for comes a fraction of a millisecond after
    the reload's answer. A start sent at once waits for it instead of
    sending the spawner a fork that would queue behind the spare's own:
    the worker is the spare, forked before the refill that follows it
    (pids in order, modulo pid_max). Five upgrades, each a new generation
    with a start right after; sent to the spawner, about half forked."""
    with open("/proc/sys/kernel/pid_max") as source:
        pid_max = int(source.read())
    with new_host() as host:
        version = "1.0"
        for _ in range(5):
            version = "1.1" if version == "1.0" else "1.0"
            install(host.plugin_folder, os.path.join(VERSIONS, version, "versioned.so"), "versioned.so")
            client = host.connect()
            try:
                client.sendall(b'{"cmd":"reload"}\n{"cmd":"start_child","supervisor":"work","child":"upgraded"}\n')
                reader = client.makefile("rb")
                reloaded, started = json.loads(reader.readline()), json.loads(reader.readline())
            finally:
                client.close()
            assert reloaded["result"] == "ok" and started["result"] == "ok", (reloaded, started)
            spawner = parent_of(started["pid"])
            refill = wait_for(lambda: [p for p in children_of(spawner) if comm_of(p) == SPARE],
                              what="the spare that follows the start")[0]
            assert 0 < (refill - started["pid"]) % pid_max < pid_max // 2, \
                "the start forked %d after the readied spare %d" % (started["pid"], refill)
        assert host.stop() == 0


def spawner_of_plugin(host, plugin):
    """The pid of the spawner whose log line says it loaded `plugin` last."""
    found = re.findall(r"pid=(\d+) plugin %s \S+ loaded" % re.escape(plugin), host.log())
    return int(found[-1]) if found else None


def spares_of_plugin(host, plugin):
    spawner = spawner_of_plugin(host, plugin)
    if not spawner:
        return []
    return [pid for pid in children_of(spawner) if comm_of(pid) == SPARE]


def waiting_spares_of_plugin(host, plugin):
    """Spares asleep on their job pipe: prepared, so their spawner has long
    sent the host their SPARE (it does so as soon as fork returns)."""
    def asleep_in_poll(pid):
        try:
            with open("/proc/%d/wchan" % pid) as wchan:
                return "poll" in wchan.read()
        except OSError:
            return False
    return [pid for pid in spares_of_plugin(host, plugin) if asleep_in_poll(pid)]


def test_a_changed_spec_applies_to_new_starts_only_and_its_running_child_keeps_the_old():
    with new_host() as host:
        old = host.start_child("work", "keeper")
        assert old["result"] == "ok"
        write_children(host, CHILDREN.replace("args = --old", "args = --new")
                       .replace("restart = transient", "restart = permanent"))
        answer = reload(host)
        detail = change(answer, "child", "keeper")["detail"]
        assert "args --old -> --new" in detail and "restart transient -> permanent" in detail, detail
        children = children_of_supervisor(host, "work")
        assert children["keeper"]["pid"] == old["pid"] and children["keeper"]["args"] == ["--old"]
        # Its own spec: transient, so a crash restarts it (permanent would
        # too) with its old args; an exit 0 would not (checked below).
        os.kill(old["pid"], signal.SIGKILL)
        wait_for(lambda: host.child_pids("work", "keeper")[0] not in (None, old["pid"]),
                 what="the keeper restarted")
        assert host.which_children("work")[0]["args"] == ["--old"]
        new = host.start_child("work", "keeper")
        assert new["result"] == "ok", new
        args = {c["pid"]: c["args"] for c in host.which_children("work")}
        assert args[new["pid"]] == ["--new"], args
        assert host.stop() == 0


def test_a_removed_spec_keeps_its_running_child_and_refuses_new_starts():
    with new_host() as host:
        running = host.start_child("work", "sleepy")["pid"]
        write_children(host, CHILDREN.replace("[child:sleepy]", "[child:sleepy_gone]"))
        answer = reload(host)
        assert change(answer, "child", "sleepy")["change"] == "removed"
        assert alive(running) and host.child_pids("work", "sleepy") == [running]
        refused = host.start_child("work", "sleepy")
        assert refused["result"] == "error" and refused["error"] == "unknown_child", refused
        assert host.terminate_child("work", running)["result"] == "ok"
        assert host.stop() == 0


def generations(host, name):
    plugins = host.request({"cmd": "plugins"})["plugins"]
    return sorted((p["generation"], p["version"], p["workers"], p["current"])
                  for p in plugins if p["name"] == name)


def test_a_plugin_upgraded_while_a_worker_runs_is_a_new_generation():
    with new_host() as host:
        old = host.start_child("work", "upgraded")["pid"]
        host.wait_log("pid=%d versioned 1.0.0 running" % old)
        old_spawner = parent_of(old)
        install(host.plugin_folder, os.path.join(VERSIONS, "1.1", "versioned.so"), "versioned.so")
        answer = reload(host)
        assert change(answer, "plugin", "versioned")["detail"].startswith("version 1.0.0 -> 1.1.0"), answer
        assert generations(host, "versioned") == [(1, "1.0.0", 1, False), (2, "1.1.0", 0, True)]
        assert alive(old) and host.child_pids("work", "upgraded") == [old]
        assert [c["plugin_version"] for c in host.which_children("work")] == ["1.0.0"]
        # A new start runs 1.1 ...
        fresh = host.start_child("work", "upgraded")["pid"]
        host.wait_log("pid=%d versioned 1.1.0 running" % fresh)
        # ... and so does the old child's restart; the old worker ran 1.0 to its end.
        os.kill(old, signal.SIGTERM)  # from outside: abnormal, a permanent child comes back
        host.wait_log("pid=%d versioned 1.0.0 stopping" % old)
        wait_for(lambda: len([p for p in host.child_pids("work", "upgraded") if p]) == 2
                 and old not in host.child_pids("work", "upgraded"), what="the old child restarted")
        restarted = [p for p in host.child_pids("work", "upgraded") if p not in (old, fresh)][0]
        host.wait_log("pid=%d versioned 1.1.0 running" % restarted)
        assert {c["pid"]: c["plugin_version"] for c in host.which_children("work")} == {
            fresh: "1.1.0", restarted: "1.1.0"}
        # The old generation's process goes with its last worker.
        wait_for(lambda: gone(old_spawner), what="the 1.0.0 plugin process gone")
        assert generations(host, "versioned") == [(2, "1.1.0", 2, True)]
        assert host.stop() == 0


def test_a_plugin_file_overwritten_in_place_harms_no_running_worker():
    with new_host() as host:
        old = host.start_child("work", "upgraded")["pid"]
        host.wait_log("pid=%d versioned 1.0.0 running" % old)
        # cp writes into the very file the running generation was loaded from.
        with open(os.path.join(VERSIONS, "1.1", "versioned.so"), "rb") as source, \
                open(os.path.join(host.plugin_folder, "versioned.so"), "r+b") as target:
            target.truncate(0)
            target.write(source.read())
        answer = reload(host)
        assert answer["result"] == "ok", answer
        fresh = host.start_child("work", "upgraded")["pid"]
        host.wait_log("pid=%d versioned 1.1.0 running" % fresh)
        assert alive(old)
        assert host.terminate_child("work", old)["result"] == "ok"
        host.wait_log("pid=%d versioned 1.0.0 stopping" % old)
        assert "killed by signal" not in host.log(), host.log()
        assert host.stop() == 0


def test_an_invalid_change_is_refused_with_every_error_and_nothing_changes():
    with new_host() as host:
        running = host.start_child("work", "keeper")["pid"]
        before_plugins = host.request({"cmd": "plugins"})
        write_children(host, CHILDREN.replace("args = --old", "args = --new\ncolour = blue"))
        shutil.copy(os.path.join(BAD_PLUGINS, "bad_abi.so"), host.plugin_folder)
        with open(os.path.join(VERSIONS, "1.1", "versioned.so"), "rb") as whole:
            half = whole.read()
        with open(os.path.join(host.plugin_folder, "truncated.so"), "wb") as truncated:
            truncated.write(half[:len(half) // 3])
        answer = reload(host)
        assert answer["result"] == "error" and answer["error"] == "invalid_config", answer
        errors = "\n".join(answer["errors"])
        assert "colour" in errors and "bad_abi.so" in errors and "truncated.so" in errors, errors
        assert len(answer["errors"]) >= 3
        # the CLI prints every one of them, and says what failed
        result = host.cli("reload", check=1)
        assert "error invalid_config" in result.stdout and "colour" in result.stderr, result
        after_plugins = host.request({"cmd": "plugins"})
        assert after_plugins == before_plugins, (before_plugins, after_plugins)
        assert host.which_children("work")[0]["args"] == ["--old"]
        assert host.child_pids("work", "keeper") == [running]
        assert host.start_child("work", "keeper")["result"] == "ok"
        assert {c["pid"]: c["args"] for c in host.which_children("work")}.get(running) == ["--old"]
        assert [c["args"] for c in host.which_children("work")] == [["--old"], ["--old"]]
        assert host.stop() == 0


def test_a_dry_run_lists_the_changes_and_applies_nothing():
    with new_host() as host:
        write_children(host, CHILDREN + "\n[child:later]\nplugin = sleeper\n")
        answer = reload(host, dry_run=True)
        assert answer["result"] == "ok" and answer["dry_run"] is True, answer
        assert change(answer, "child", "later")["change"] == "added"
        assert host.start_child("work", "later")["error"] == "unknown_child"
        result = host.cli("reload", "--dry-run", check=0)
        assert "+ child later" in result.stdout and "dry run: nothing applied" in result.stdout, result
        result = host.cli("reload", check=0)
        assert "+ child later" in result.stdout and "reloaded (1 change)" in result.stdout, result
        assert host.start_child("work", "later")["result"] == "ok"
        assert host.stop() == 0


def test_sighup_reloads():
    with new_host() as host:
        write_children(host, CHILDREN + "\n[child:by_hup]\nplugin = sleeper\n")
        os.kill(host.pid, signal.SIGHUP)
        host.wait_log("received signal 1 (SIGHUP): reloaded (1 changes)")
        assert "child by_hup added" in host.log()
        assert host.start_child("work", "by_hup")["result"] == "ok"
        assert host.stop() == 0


def test_supervisors_added_changed_and_removed():
    with new_host() as host:
        doomed = [host.start_child("other", "sleepy")["pid"] for _ in range(3)]
        kept = host.start_child("work", "sleepy")["pid"]
        with open(host.config) as config:
            text = config.read()
        text = text.replace("[supervisor:other]\n", "[supervisor:fresh]\nautostart = sleepy\n")
        text = text.replace("max_restarts = 50\n", "max_restarts = 50\nmax_children = 1\n", 1)
        with open(host.config, "w") as config:
            config.write(text)
        answer = reload(host)
        assert change(answer, "supervisor", "other")["change"] == "removed"
        assert change(answer, "supervisor", "fresh")["change"] == "added"
        assert "max_children infinity -> 1" in change(answer, "supervisor", "work")["detail"]
        wait_for(lambda: all(gone(pid) for pid in doomed), what="the removed supervisor's children stopped")
        wait_for(lambda: [s["name"] for s in host.status()["supervisors"]] == ["work", "fresh"],
                 what="the removed supervisor gone from the tree")
        assert "sup=other child=- pid=- supervisor removed\n" in host.log()
        wait_for(lambda: host.child_pids("fresh") and all(host.child_pids("fresh")),
                 what="the added supervisor's autostart")
        # lowered max_children: the running child stays, new starts are refused
        assert host.child_pids("work") == [kept] and alive(kept)
        assert host.start_child("work", "sleepy")["error"] == "max_children"
        assert host.stop() == 0


def test_a_killed_plugin_process_is_relaunched_and_its_workers_restarted():
    with new_host() as host:
        first = host.start_child("work", "upgraded")["pid"]
        temporary = host.start_child("work", "sleepy")["pid"]
        spawner = parent_of(first)
        os.kill(spawner, signal.SIGKILL)
        wait_for(lambda: gone(first), what="the worker gone with its plugin process")
        wait_for(lambda: [p for p in host.child_pids("work", "upgraded") if p and p != first],
                 what="the permanent child restarted in a relaunched plugin process")
        restarted = host.child_pids("work", "upgraded")[0]
        assert parent_of(restarted) != spawner
        assert host.process.poll() is None
        assert re.search(r"plugin versioned relaunched", host.log()), host.log()
        assert alive(temporary), "a worker of another plugin process was harmed"
        assert host.stop() == 0


def test_a_plugin_process_that_keeps_dying_ends_in_a_root_escalation():
    with Host(SUPERVISORS, {"children.ini": CHILDREN}, plugin_dir=plugin_folder(),
              root_intensity=(2, 30)).start() as host:
        for _ in range(3):
            pid = wait_for(lambda: [p for p in host.child_pids("work", "upgraded") if p]
                           if host.child_pids("work", "upgraded") else
                           [host.start_child("work", "upgraded")["pid"]], what="a running child")[0]
            try:
                os.kill(parent_of(pid), signal.SIGKILL)
            except (ProcessLookupError, FileNotFoundError):
                pass
            wait_for(lambda: gone(pid) or host.process.poll() is not None, what="its worker gone")
            if host.process.poll() is not None:
                break
        assert host.process.wait(20) == 1
        assert "root restart intensity exceeded" in host.log()


def watching_host(folder=None):
    folder = folder or plugin_folder()
    host = Host(SUPERVISORS, {"children.ini": CHILDREN}, host_keys="watch = yes", plugin_dir=folder)
    host.plugin_folder = folder
    return host.start()


def test_watch_picks_up_a_dropped_child_spec_within_two_seconds():
    with watching_host() as host:
        host.wait_log("watch: reloading by itself")
        started = time.monotonic()
        with open(host.path("children.d", ".dropped.tmp"), "w") as spec:
            spec.write("[child:dropped]\nplugin = sleeper\n")
        os.replace(host.path("children.d", ".dropped.tmp"), host.path("children.d", "dropped.ini"))
        wait_for(lambda: host.start_child("work", "dropped")["result"] == "ok",
                 what="the dropped spec startable")
        took = time.monotonic() - started
        print("dropped child spec startable after %.3f s" % took)
        assert took <= 2.0 * TIME_SCALE, "took %.3f s" % took
        # the host's own log, next to the config, triggers nothing
        reloads = host.log().count("a watched file changed: reloaded")
        assert reloads == 1, host.log()
        assert host.stop() == 0


def test_watch_ignores_a_half_written_plugin_until_it_is_whole():
    with watching_host() as host:
        host.wait_log("watch: reloading by itself")
        with open(os.path.join(PLUGIN_DIR, "hello.so"), "rb") as source:
            whole = source.read()
        target = os.path.join(host.plugin_folder, "hello.so")
        with open(target, "wb") as half:
            half.write(whole[:len(whole) // 2])
        host.wait_log("a watched file changed: reload refused, nothing changed")
        assert "hello" not in [p["name"] for p in host.request({"cmd": "plugins"})["plugins"]]
        with open(target, "ab") as rest:
            rest.write(whole[len(whole) // 2:])
        wait_for(lambda: "hello" in [p["name"] for p in host.request({"cmd": "plugins"})["plugins"]],
                 what="the whole plugin loaded")
        assert host.process.poll() is None
        assert host.stop() == 0


def test_watch_follows_a_configmap_style_swap_of_a_data_symlink():
    """Kubernetes mounts a ConfigMap as files that are symlinks into
    ..data, itself a symlink to a timestamped folder swapped atomically."""
    folder = plugin_folder()
    root = tempfile.mkdtemp(prefix="dynsup-configmap-")
    run = os.path.join(root, "run")
    os.makedirs(run, mode=0o700)

    def publish(version, children_text):
        data = os.path.join(root, "..%d" % version)
        os.makedirs(os.path.join(data, "children.d"))
        with open(os.path.join(data, "dynsup.ini"), "w") as config:
            config.write("[host]\nplugin_dir = %s\nchildren_dir = children.d\nsocket = %s\n"
                         "watch = yes\n%s" % (folder, os.path.join(run, "dynsup.sock"), SUPERVISORS))
        with open(os.path.join(data, "children.d", "children.ini"), "w") as children:
            children.write(children_text)
        os.symlink("..%d" % version, os.path.join(root, "..data_tmp"))
        os.replace(os.path.join(root, "..data_tmp"), os.path.join(root, "..data"))

    publish(1, CHILDREN)
    os.symlink("..data/dynsup.ini", os.path.join(root, "dynsup.ini"))
    os.symlink("..data/children.d", os.path.join(root, "children.d"))
    host = Host()
    host.dir, host.config, host.socket_path = root, os.path.join(root, "dynsup.ini"), os.path.join(run, "dynsup.sock")
    host.log_path = os.path.join(tempfile.mkdtemp(prefix="dynsup-log-"), "host.log")
    with host.start():
        host.wait_log("watch: reloading by itself")
        assert host.start_child("work", "configmapped")["error"] == "unknown_child"
        publish(2, CHILDREN + "\n[child:configmapped]\nplugin = sleeper\n")
        wait_for(lambda: host.start_child("work", "configmapped")["result"] == "ok",
                 what="the spec from the swapped ConfigMap startable")
        assert host.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
