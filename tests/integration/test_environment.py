"""Each child's execution environment (issue 11, SPEC section 9), proven
from inside the worker: the probe plugin reports its ids, groups, limits,
nice, umask, folder and environment as it sees them, and /proc shows the
rest. Tests that switch users need a root host and say `skip` otherwise."""

import os
import shutil
import subprocess
import tempfile

from harness import (DEADLINE, HOST_BINARY, SANITIZED, Host, host_binary_for_anyone,
                     plugin_dir_for_anyone, read_probe, run_tests, wait_for)

# ASan's shadow memory needs terabytes of address space: an instrumented
# worker cannot run under a 1 GiB limit_memory.
MEMORY_LIMIT = "infinity" if SANITIZED else "1G"
MEMORY_REPORT = "infinity infinity" if SANITIZED else "%d %d" % (1 << 30, 1 << 30)

SUPERVISORS = """
[supervisor:work]
"""


def children(work_dir):
    """The probes' specs. A host that is not root refuses a spec naming
    another user at load (its `check` says why), so such a host gets no
    confined probe: the tests that use it need root and say skip."""
    confined = CONFINED % (MEMORY_LIMIT, work_dir) if is_root() else ""
    return {"probes.ini": """
[child:plain]
plugin = probe
restart = temporary
%s
[child:many_fds]
plugin = probe
restart = temporary
limit_nofile = 4096
limit_core = infinity
""" % confined}


CONFINED = """
[child:confined]
plugin = probe
restart = temporary
user = nobody
group = nogroup
limit_nofile = 256
limit_memory = %s
limit_cpu = 30
limit_core = 0
nice = 5
umask = 027
working_directory = %s
environment = GREETING=hello "SPACED=a b" PATH=/opt/probe/bin:/usr/bin
"""


def is_root():
    return os.geteuid() == 0


def probe(host, child, out):
    answer = host.start_child("work", child, args=[out])
    assert answer["result"] == "ok", answer
    wait_for(lambda: os.path.exists(out), what="the probe's report from %s" % child)
    return answer["pid"], read_probe(out)


def proc_status(pid, field):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith(field + ":"):
                return line.split()[1:]
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def new_host():
    """A host whose probes write into a folder anyone may write (the
    confined probe runs as nobody), with a marker in the host's environment."""
    folder = tempfile.mkdtemp(prefix="dynsup-env-out-")
    os.chmod(folder, 0o1777)
    work = os.path.join(folder, "work")
    os.makedirs(work)
    os.chmod(work, 0o755)
    host = Host(SUPERVISORS, children(work))
    os.environ["DYNSUP_HOST_ONLY_MARKER"] = "leaks"
    return host, folder, work


def test_a_worker_runs_as_its_spec_says_from_the_inside():
    if not is_root():
        print("skip: needs a root host to switch users")
        return
    host, folder, work = new_host()
    with host:
        host.start()
        pid, report = probe(host, "confined", os.path.join(folder, "confined.out"))
        assert report["uid"] == "65534 65534" and report["gid"] == "65534 65534", report
        assert report["groups"] == "65534", report                # nobody's groups, root's are gone
        # real, effective, saved and filesystem ids all dropped: no way back
        assert proc_status(pid, "Uid") == ["65534"] * 4, proc_status(pid, "Uid")
        assert proc_status(pid, "Gid") == ["65534"] * 4, proc_status(pid, "Gid")
        assert report["no_new_privs"] == "1", report
        assert report["pdeathsig"] == "9", report                 # set again after the switch
        assert report["limit_nofile"] == "256 256", report
        assert report["limit_memory"] == MEMORY_REPORT, report
        assert report["limit_cpu"] == "30 30", report
        assert report["limit_core"] == "0 0", report
        assert report["nice"] == "5", report
        assert report["umask"] == "0027", report
        assert report["cwd"] == work, report
        env = dict(item.split("=", 1) for item in report["env"])
        assert env["GREETING"] == "hello" and env["SPACED"] == "a b", env
        assert env["PATH"] == "/opt/probe/bin:/usr/bin", env      # the spec's word wins over the base
        assert env["HOME"] == "/nonexistent" and env["USER"] == "nobody" == env["LOGNAME"], env
        assert "DYNSUP_HOST_ONLY_MARKER" not in env, env
        # the host itself is unchanged
        assert proc_status(host.pid, "Uid")[0] == "0"


def test_a_worker_without_settings_gets_the_base_environment_and_no_raised_descriptor_limit():
    host, folder, _ = new_host()
    with host:
        host.start()
        pid, report = probe(host, "plain", os.path.join(folder, "plain.out"))
        soft, hard = report["limit_nofile"].split()
        assert int(soft) <= 1024, report                           # not the host's raised limit
        with open("/proc/%d/limits" % host.pid) as limits:
            host_soft = [line.split()[3] for line in limits if line.startswith("Max open files")][0]
        assert int(host_soft) > 1024, host_soft                    # which the host did raise
        env = dict(item.split("=", 1) for item in report["env"])
        assert sorted(env) == ["HOME", "LANG", "LOGNAME", "PATH", "USER"], env
        assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", env
        assert env["LANG"] == "C.UTF-8", env
        assert report["cwd"] == host.dir, report                  # the config's folder, as before
        assert report["uid"] == "%d %d" % (os.getuid(), os.geteuid()), report

        # asked for more, it gets more
        _, report = probe(host, "many_fds", os.path.join(folder, "many.out"))
        assert report["limit_nofile"] == "4096 4096", report
        assert report["limit_core"] == "infinity infinity", report


def test_a_working_directory_gone_after_check_fails_init_with_the_reason():
    host, folder, work = new_host()
    with host:
        host.start()
        shutil.rmtree(work)
        answer = host.start_child("work", "confined" if is_root() else "plain",
                                  args=[os.path.join(folder, "never.out")])
        if not is_root():
            assert answer["result"] == "ok", answer                # plain has no folder of its own
            return
        assert answer["result"] == "error" and answer["error"] == "init_failed", answer
        assert "cannot enter working_directory %s" % work in answer["detail"], answer
        assert host.which_children("work") == []


def run_check_as_nobody(config):
    """`dynsup-host check` run as nobody: what a non-root host could do."""
    def become_nobody():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    return subprocess.run([host_binary_for_anyone(), "check", "-c", config], capture_output=True, text=True,
                          timeout=DEADLINE, preexec_fn=become_nobody)


def test_check_refuses_what_a_non_root_host_cannot_do():
    if not is_root():
        print("skip: needs root to run check as another user")
        return
    host = Host(SUPERVISORS, {"a.ini": """
[child:a]
plugin = probe
user = root
group = root
limit_nofile = 1048576
nice = -5
"""}, plugin_dir=plugin_dir_for_anyone())
    os.chmod(host.dir, 0o755)
    for root, dirs, files in os.walk(host.dir):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    result = run_check_as_nobody(host.config)
    output = result.stdout + result.stderr
    assert result.returncode == 2, result
    assert "plugin" not in output.replace("plugin = probe", ""), output  # only the four refusals
    for expected in ('[child:a] user: running as user "root" needs a root host: dynsup-host runs as uid 65534',
                     '[child:a] group: running as group "root" needs a root host',
                     "[child:a] limit_nofile: 1048576 is above the host's hard limit",
                     # the host's own niceness is ours (the suite may run under nice)
                     "[child:a] nice: -5 is a higher priority than the host's (%d): needs a root host"
                     % os.nice(0)):
        assert expected in output, (expected, output)
    # the same config is fine for a root host
    result = subprocess.run([HOST_BINARY, "check", "-c", host.config], capture_output=True, text=True,
                            timeout=DEADLINE)
    assert result.returncode == 0, result


if __name__ == "__main__":
    run_tests(globals())
