"""Control socket access (issue 5 point 4, SPEC section 5) on the real host.

The socket is born 0600 (0660 in the allowed group with allow_group) in a
folder only the host's user can write; the host creates a missing folder
0700 and refuses to start in a folder others can write. Every connection is
checked with SO_PEERCRED: a peer that is not root, the host's user or
allowed gets exactly one forbidden line, then EOF, and the host logs its uid
and pid. Clients of another user are forked children that drop to uid 65534
(nobody) before connecting, so these tests need root; they say so and pass
as skipped otherwise.
"""

import grp
import json
import os
import pwd
import signal
import socket
import stat

from harness import DEADLINE, Host, become, run_cli, run_tests, talk_as

SUPERVISOR = "[supervisor:work]\nmax_children = infinity\n"
CHILDREN = {"sleeper.ini": "[child:sleeper]\nplugin = sleeper\nrestart = temporary\n"}
NOBODY_UID = 65534
NOBODY_GID = 65534
FORBIDDEN = b'{"result":"error","error":"forbidden"}\n'


def skip_unless_root(what):
    if os.geteuid() != 0:
        print("skip: %s needs root (a client running as uid %d)" % (what, NOBODY_UID))
        return True
    return False


def let_others_reach_the_socket_folder(host):
    """Traversable (not listable, not writable) for other users: the temp
    folder and run/ are 0700 otherwise."""
    os.chmod(host.dir, 0o711)
    os.chmod(os.path.dirname(host.socket_path), 0o711)


def status_request():
    return (json.dumps({"cmd": "status"}) + "\n").encode()


def assert_served(received):
    lines = received.splitlines()
    assert len(lines) == 1, received
    assert json.loads(lines[0])["result"] == "ok", received


def group_name(gid):
    return grp.getgrgid(gid).gr_name


# ---- the socket file -----------------------------------------------------

def test_socket_is_mode_0600_owned_by_the_host_user_by_default():
    with Host(SUPERVISOR, CHILDREN).start() as host:
        info = os.stat(host.socket_path)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600, oct(info.st_mode)
        assert info.st_uid == os.geteuid()


def test_socket_with_allow_group_is_mode_0660_in_that_group():
    gid = NOBODY_GID if os.geteuid() == 0 else os.getegid()
    host = Host(SUPERVISOR, CHILDREN, host_keys="allow_group = %s" % group_name(gid))
    with host.start():
        info = os.stat(host.socket_path)
        assert stat.S_IMODE(info.st_mode) == 0o660, oct(info.st_mode)
        assert info.st_gid == gid, (info.st_gid, gid)


# ---- peers ---------------------------------------------------------------

def test_peer_of_another_user_gets_one_forbidden_line_then_eof_and_is_logged():
    if skip_unless_root("a forbidden peer"):
        return
    with Host(SUPERVISOR, CHILDREN).start() as host:
        let_others_reach_the_socket_folder(host)
        # Only SO_PEERCRED stands in the way now, as when an operator
        # opened the socket's mode.
        os.chmod(host.socket_path, 0o666)
        request = (json.dumps({"cmd": "start_child", "supervisor": "work", "child": "sleeper"}) + "\n"
                   + json.dumps({"cmd": "stop"}) + "\n").encode()
        client_pid, received = talk_as(host.socket_path, NOBODY_UID, NOBODY_GID, request)
        assert received == FORBIDDEN, received
        host.wait_log("refused peer uid %d pid %d" % (NOBODY_UID, client_pid))
        # nothing of the request was carried out
        assert host.which_children("work") == []
        assert host.process.poll() is None
        assert host.request({"cmd": "status"})["result"] == "ok"


def test_user_named_in_allow_users_is_served():
    if skip_unless_root("an allow_users peer"):
        return
    name = pwd.getpwuid(NOBODY_UID).pw_name
    host = Host(SUPERVISOR, CHILDREN, host_keys="allow_users = %s" % name)
    # The host makes the socket's folder itself; only the test's own temp
    # folder above it is opened for passing through.
    os.rmdir(os.path.dirname(host.socket_path))
    os.chmod(host.dir, 0o711)
    with host.start():
        assert stat.S_IMODE(os.stat(os.path.dirname(host.socket_path)).st_mode) == 0o711
        # allow_users: the file is open to all, SO_PEERCRED is the boundary
        assert stat.S_IMODE(os.stat(host.socket_path).st_mode) == 0o666
        _, received = talk_as(host.socket_path, NOBODY_UID, NOBODY_GID, status_request())
        assert_served(received)
        assert "refused peer" not in host.log()


def test_with_allow_users_a_user_not_named_is_still_forbidden():
    if skip_unless_root("an unlisted peer"):
        return
    host = Host(SUPERVISOR, CHILDREN, host_keys="allow_users = root")
    os.rmdir(os.path.dirname(host.socket_path))
    os.chmod(host.dir, 0o711)
    with host.start():
        _, received = talk_as(host.socket_path, NOBODY_UID, NOBODY_GID, status_request())
        assert received == FORBIDDEN, received


class SessionAs:
    """A connection held by a forked child running as uid/gid: it sends
    each request the parent hands it and passes back everything received
    for it (a line, or what came before EOF)."""

    parent_ends = []  # of every open session: a later session's child must not hold them

    def __init__(self, socket_path, uid, gid):
        self.to_child_read, self.to_child = os.pipe()
        self.from_child, self.from_child_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            for fd in SessionAs.parent_ends + [self.to_child, self.from_child]:
                os.close(fd)
            self._serve(socket_path, uid, gid)
        os.close(self.to_child_read)
        os.close(self.from_child_write)
        SessionAs.parent_ends += [self.to_child, self.from_child]

    def _serve(self, socket_path, uid, gid):
        status = 1
        try:
            become(uid, gid)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(DEADLINE)
            client.connect(socket_path)
            reader = client.makefile("rb")
            while True:
                request = os.read(self.to_child_read, 65536)
                if not request:
                    break
                try:
                    client.sendall(request)
                    answer = reader.readline()
                except OSError as error:
                    answer = ("error %r" % error).encode()
                os.write(self.from_child_write, answer or b"EOF")
            status = 0
        except BaseException as error:  # the parent's read then ends: say why
            os.write(2, ("session as uid %d: %r\n" % (uid, error)).encode())
        finally:
            os._exit(status)

    def ask(self, message):
        os.write(self.to_child, (json.dumps(message) + "\n").encode())
        return os.read(self.from_child, 65536)

    def close(self):
        for fd in (self.to_child, self.from_child):
            SessionAs.parent_ends.remove(fd)
            os.close(fd)
        _, status = os.waitpid(self.pid, 0)
        assert status == 0, status


def host_allowing_nobody():
    """A host whose allow_users names uid 65534, its socket reachable."""
    host = Host(SUPERVISOR, CHILDREN, host_keys="allow_users = %s" % pwd.getpwuid(NOBODY_UID).pw_name)
    let_others_reach_the_socket_folder(host)
    return host


def drop_allow_users(host):
    """The host file without its allow_users line (for the next reload)."""
    with open(host.config) as config:
        lines = config.read().splitlines(True)
    with open(host.config, "w") as config:
        config.writelines(line for line in lines if not line.startswith("allow_users"))


def test_a_reload_that_removes_a_user_from_allow_users_closes_that_users_open_connection():
    if skip_unless_root("an allow_users peer"):
        return
    with host_allowing_nobody().start() as host:
        session = SessionAs(host.socket_path, NOBODY_UID, NOBODY_GID)
        kept = SessionAs(host.socket_path, 0, 0)
        try:
            assert_served(session.ask({"cmd": "status"}))
            assert_served(kept.ask({"cmd": "status"}))
            drop_allow_users(host)
            answer = host.request({"cmd": "reload"})
            assert answer["result"] == "ok", answer
            received = session.ask({"cmd": "start_child", "supervisor": "work", "child": "sleeper"})
            # Closed by the reload: no answer, and above all no worker.
            assert received == b"EOF" or received.startswith(b"error"), received
            assert host.which_children("work") == [], host.which_children("work")
            host.wait_log("no longer allowed")
            # A peer still allowed keeps the connection it had.
            assert_served(kept.ask({"cmd": "status"}))
        finally:
            session.close()
            kept.close()


def test_a_revoking_reload_applies_even_when_the_socket_file_cannot_follow():
    """The file's mode is the second boundary, SO_PEERCRED the first: a
    socket file gone (or a chmod refused) must not leave the old, wider
    rule in force."""
    if skip_unless_root("an allow_users peer"):
        return
    with host_allowing_nobody().start() as host:
        session = SessionAs(host.socket_path, NOBODY_UID, NOBODY_GID)
        try:
            assert_served(session.ask({"cmd": "status"}))
            os.unlink(host.socket_path)  # its mode can no longer be changed
            drop_allow_users(host)
            os.kill(host.pid, signal.SIGHUP)  # the socket is gone: reload by signal
            host.wait_log("cannot change its access")
            received = session.ask({"cmd": "start_child", "supervisor": "work", "child": "sleeper"})
            assert received == b"EOF" or received.startswith(b"error"), received
            assert "no longer allowed" in host.log(), host.log()
            assert not any("child sleeper started" in line for line in host.log().splitlines()), host.log()
        finally:
            session.close()


def test_member_of_allow_group_is_served_through_the_0660_socket():
    if skip_unless_root("an allow_group peer"):
        return
    host = Host(SUPERVISOR, CHILDREN, host_keys="allow_group = %s" % group_name(NOBODY_GID))
    with host.start():
        let_others_reach_the_socket_folder(host)
        # no chmod of the socket: its 0660 and group are what let the client in
        _, received = talk_as(host.socket_path, NOBODY_UID, NOBODY_GID, status_request())
        assert_served(received)


def test_without_allow_group_the_0600_socket_keeps_other_users_out():
    if skip_unless_root("another user's client"):
        return
    with Host(SUPERVISOR, CHILDREN).start() as host:
        let_others_reach_the_socket_folder(host)
        try:
            talk_as(host.socket_path, NOBODY_UID, NOBODY_GID, status_request())
        except AssertionError as error:
            assert "PermissionError" in str(error), error
        else:
            raise AssertionError("uid %d connected to a 0600 socket" % NOBODY_UID)


def test_root_and_the_host_user_are_served():
    with Host(SUPERVISOR, CHILDREN).start() as host:
        with host.connect() as client:
            client.sendall(status_request())
            line = client.makefile("rb").readline()
        assert json.loads(line)["result"] == "ok"


# ---- the socket's folder -------------------------------------------------

def test_host_creates_a_missing_socket_folder_mode_0700():
    host = Host(SUPERVISOR, CHILDREN)
    folder = os.path.dirname(host.socket_path)
    os.rmdir(folder)
    os.umask(old_umask := os.umask(0))  # read the umask without changing it
    with host.start():
        info = os.stat(folder)
        assert stat.S_ISDIR(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o700 & ~old_umask, oct(info.st_mode)
        assert info.st_uid == os.geteuid()


def start_refused(host, message):
    host.start(wait=False)
    status = host.process.wait(DEADLINE)
    log = host.log()
    assert status == 2, "exit %d, expected 2; log:\n%s" % (status, log)
    assert message in log, "expected %r in:\n%s" % (message, log)
    assert not os.path.exists(host.socket_path)


def test_host_refuses_a_world_writable_socket_folder_naming_it():
    host = Host(SUPERVISOR, CHILDREN)
    folder = os.path.dirname(host.socket_path)
    os.chmod(folder, 0o777)
    start_refused(host, "control socket folder %s: refused: writable by group and others (mode 0777)" % folder)


def test_host_refuses_a_group_writable_socket_folder():
    host = Host(SUPERVISOR, CHILDREN)
    folder = os.path.dirname(host.socket_path)
    os.chmod(folder, 0o770)
    start_refused(host, "control socket folder %s: refused: writable by group (mode 0770)" % folder)


def test_host_refuses_a_socket_folder_owned_by_another_user():
    if skip_unless_root("a socket folder owned by another user"):
        return
    host = Host(SUPERVISOR, CHILDREN)
    folder = os.path.dirname(host.socket_path)
    os.chown(folder, NOBODY_UID, NOBODY_GID)
    start_refused(host, "control socket folder %s: refused: owned by uid %d" % (folder, NOBODY_UID))


def test_sticky_shared_folder_like_tmp_is_refused_too():
    host = Host(SUPERVISOR, CHILDREN)
    folder = os.path.dirname(host.socket_path)
    os.chmod(folder, 0o1777)
    start_refused(host, "control socket folder %s: refused: writable by group and others (mode 1777)" % folder)



# ---- check refuses what run refuses (issue 9 item 6) ----------------------

def check_and_run_refuse(host, message):
    """`check` exits 2 with `message`, and so does `run`, leaving no socket."""
    result = run_cli("check", "-c", host.config)
    assert result.returncode == 2, result
    assert message in result.stdout + result.stderr, "expected %r in %r" % (message, result)
    start_refused(host, message)


def test_check_refuses_a_socket_folder_writable_by_others_like_run():
    host = Host(SUPERVISOR, CHILDREN)
    folder = os.path.dirname(host.socket_path)
    os.chmod(folder, 0o777)
    check_and_run_refuse(host, "control socket folder %s: refused: writable by group and others (mode 0777)"
                         % folder)


def test_check_refuses_a_socket_path_too_long_for_a_unix_socket_like_run():
    long_folder = "run/" + "x" * 120
    host = Host(SUPERVISOR, CHILDREN)
    os.makedirs(host.path(long_folder), mode=0o700)
    with open(host.config) as config:
        text = config.read()
    with open(host.config, "w") as config:
        config.write(text.replace("socket = run/dynsup.sock", "socket = %s/dynsup.sock" % long_folder))
    host.socket_path = host.path(long_folder, "dynsup.sock")
    check_and_run_refuse(host, "is too long for a unix socket (at most 107 bytes)")


def test_check_refuses_a_socket_path_that_is_not_a_socket_like_run():
    host = Host(SUPERVISOR, CHILDREN)
    with open(host.socket_path, "w") as placeholder:
        placeholder.write("not a socket\n")
    result = run_cli("check", "-c", host.config)
    assert result.returncode == 2, result
    assert "exists and is not a socket" in result.stderr, result
    host.start(wait=False)
    assert host.process.wait(DEADLINE) == 2
    assert "exists and is not a socket" in host.log()
    with open(host.socket_path) as placeholder:
        assert placeholder.read() == "not a socket\n"

if __name__ == "__main__":
    run_tests(globals())
