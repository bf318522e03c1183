"""Plugin trust (issue 5 point 5): the host loads no plugin that someone
other than root or the host's user could have changed.

`dynsup-host check` and `dynsup-host run` both refuse, with exit status 2
and one line naming the file and the reason, a plugin (or plugin folder)
that is group- or world-writable, owned by another user, or a symlink
leading out of the plugin folder. The build's own plugin folder passes.
"""

import os
import shutil
import stat
import tempfile

from harness import PLUGIN_DIR, Host, run_cli, run_tests

CHILDREN = {"hello.ini": "[child:hello]\nplugin = hello\nrestart = temporary\n"}
SUPERVISOR = "[supervisor:work]\nautostart = hello\n"


def plugin_folder(*names):
    """A fresh plugin folder (mkdtemp: 0700, ours) holding copies of the
    built example plugins `names` (mode 0755, as cmake makes them)."""
    folder = tempfile.mkdtemp(prefix="dynsup-plugins-")
    for name in names:
        target = os.path.join(folder, name + ".so")
        shutil.copyfile(os.path.join(PLUGIN_DIR, name + ".so"), target)
        os.chmod(target, 0o755)
    return folder


def host_with(folder):
    return Host(SUPERVISOR, CHILDREN, plugin_dir=folder)


def skip_unless_root(what):
    if os.geteuid() != 0:
        print("skip: %s needs root (to give a file to uid 65534)" % what)
        return True
    return False


def owner_reason(uid):
    if os.geteuid() == 0:
        return "owned by uid %d, expected root (the host's user)" % uid
    return "owned by uid %d, expected root or uid %d (the host's user)" % (uid, os.geteuid())


def assert_refused(host, message):
    """check and run both exit 2 and print `message`; run never starts."""
    checked = host.cli("check")
    assert checked.returncode == 2, "check exit %d; stderr %r" % (checked.returncode, checked.stderr)
    assert message in checked.stderr, "check said %r, expected %r" % (checked.stderr, message)

    ran = run_cli("run", "-c", host.config)
    assert ran.returncode == 2, "run exit %d; stderr %r" % (ran.returncode, ran.stderr)
    assert message in ran.stderr, "run said %r, expected %r" % (ran.stderr, message)
    assert not os.path.exists(host.socket_path), "run created its socket despite the refusal"


def test_build_plugin_folder_and_files_are_owner_writable_only_so_they_load():
    # If a umask of 002 made the build group-writable, every test would fail
    # with "refused"; say so plainly here.
    for entry in [PLUGIN_DIR] + [os.path.join(PLUGIN_DIR, n) for n in os.listdir(PLUGIN_DIR) if n.endswith(".so")]:
        mode = stat.S_IMODE(os.stat(entry).st_mode)
        assert mode & 0o022 == 0, "%s is mode %04o: build with umask 022" % (entry, mode)
    host = Host(SUPERVISOR, CHILDREN)
    checked = host.cli("check", check=0)
    assert "ok" in checked.stdout, checked.stdout


def test_plugin_copied_into_a_private_folder_is_trusted_and_runs():
    folder = plugin_folder("hello")
    with host_with(folder).start() as host:
        host.wait_log("hello from hello")
    shutil.rmtree(folder)


def test_group_writable_plugin_is_refused_by_check_and_run():
    folder = plugin_folder("hello", "sleeper")
    plugin = os.path.join(folder, "sleeper.so")
    os.chmod(plugin, 0o664)
    assert_refused(host_with(folder), "%s: refused: writable by group (mode 0664); plugins must be "
                                      "writable only by their owner" % plugin)
    shutil.rmtree(folder)


def test_world_writable_plugin_is_refused_by_check_and_run():
    folder = plugin_folder("hello")
    plugin = os.path.join(folder, "hello.so")
    os.chmod(plugin, 0o757)
    assert_refused(host_with(folder), "%s: refused: writable by others (mode 0757); plugins must be "
                                      "writable only by their owner" % plugin)
    shutil.rmtree(folder)


def test_plugin_owned_by_another_user_is_refused_by_check_and_run():
    if skip_unless_root("a plugin owned by another user"):
        return
    folder = plugin_folder("hello")
    plugin = os.path.join(folder, "hello.so")
    os.chown(plugin, 65534, 65534)
    assert_refused(host_with(folder), "%s: refused: %s" % (plugin, owner_reason(65534)))
    shutil.rmtree(folder)


def test_world_writable_plugin_folder_is_refused_by_check_and_run():
    folder = plugin_folder("hello")
    os.chmod(folder, 0o777)
    assert_refused(host_with(folder), "%s: refused: plugin folder writable by group and others (mode 0777); "
                                      "plugin folders must be writable only by their owner" % folder)
    shutil.rmtree(folder)


def test_plugin_folder_owned_by_another_user_is_refused_by_check_and_run():
    if skip_unless_root("a plugin folder owned by another user"):
        return
    folder = plugin_folder("hello")
    os.chown(folder, 65534, 65534)
    assert_refused(host_with(folder), "%s: refused: plugin folder %s" % (folder, owner_reason(65534)))
    shutil.rmtree(folder)


def test_symlink_to_a_plugin_outside_the_folder_is_refused_by_check_and_run():
    folder = plugin_folder()
    elsewhere = plugin_folder("hello")
    link = os.path.join(folder, "hello.so")
    os.symlink(os.path.join(elsewhere, "hello.so"), link)
    target = os.path.join(os.path.realpath(elsewhere), "hello.so")
    assert_refused(host_with(folder), "%s: refused: symlink to %s, outside the plugin folder" % (link, target))
    shutil.rmtree(folder)
    shutil.rmtree(elsewhere)


def test_symlink_to_a_plugin_inside_the_folder_is_fine():
    folder = plugin_folder()
    os.makedirs(os.path.join(folder, "versions"), mode=0o755)
    shutil.copyfile(os.path.join(PLUGIN_DIR, "hello.so"), os.path.join(folder, "versions", "hello.so.2"))
    os.symlink("versions/hello.so.2", os.path.join(folder, "hello.so"))
    with host_with(folder).start() as host:
        host.wait_log("hello from hello")
    shutil.rmtree(folder)


def test_a_so_that_is_not_a_regular_file_is_refused_like_a_bad_plugin():
    """Operators drop plugins into the folder: a FIFO, a folder or a
    symlink to a device named like a plugin is as loud as a broken one
    (the same rule as a children.d *.ini)."""
    cases = [("fifo.so", os.mkfifo, "a FIFO"),
             ("folder.so", lambda path: os.mkdir(path, 0o755), "a folder"),
             ("zero.so", lambda path: os.symlink("/dev/zero", path), "a character device")]
    for name, make, kind in cases:
        folder = plugin_folder("hello")
        path = os.path.join(folder, name)
        make(path)
        assert_refused(host_with(folder), "%s: refused: not a regular file but %s" % (path, kind))
        shutil.rmtree(folder)
    folder = plugin_folder("hello")
    dangling = os.path.join(folder, "gone.so")
    os.symlink(os.path.join(folder, "nowhere.so"), dangling)
    assert_refused(host_with(folder), "%s: refused: a symlink to nothing" % dangling)
    shutil.rmtree(folder)


if __name__ == "__main__":
    run_tests(globals())
