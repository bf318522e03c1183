"""The Debian package: `cpack -G DEB` from a /usr build gives a .deb with
Depends from the libraries really linked, the config as conffiles, the
unit and maintainer scripts that enable it with deb-systemd-helper. The
package is unpacked (dpkg-deb -x) into a throwaway root, laid over this
machine's /etc, /usr and /var inside a private mount namespace (nothing
outside the test's folder is touched), and the installed host runs there on
the installed config: check, run, start a child, stop."""

import glob
import os
import shutil
import subprocess
import sys

from harness import run_tests
from installed import InstalledHost, configure_and_build, exercise, run, short_temp_dir

WORK = short_temp_dir("dsp-")
BUILD = os.path.join(WORK, "build")
ROOT = os.path.join(WORK, "root")


def build_package():
    configure_and_build(BUILD, "-DCMAKE_INSTALL_PREFIX=/usr")
    run(["cpack", "-G", "DEB"], cwd=BUILD)
    packages = glob.glob(os.path.join(BUILD, "dynsup_0.2.0_*.deb"))
    assert len(packages) == 1, os.listdir(BUILD)
    return packages[0]


def field(package, name):
    return run(["dpkg-deb", "-f", package, name]).stdout.strip()


class Namespace:
    """A process holding a private mount namespace where ROOT's /etc, /usr
    and /var are overlaid on the machine's, and /run is a fresh tmpfs."""

    def __init__(self):
        upper = os.path.join(WORK, "var-upper")
        work = os.path.join(WORK, "var-work")
        os.makedirs(upper)
        os.makedirs(work)
        script = " && ".join([
            "mount --make-rprivate /",
            "mount -t overlay overlay -o lowerdir=%s/etc:/etc /etc" % ROOT,
            "mount -t overlay overlay -o lowerdir=%s/usr:/usr /usr" % ROOT,
            "mount -t overlay overlay -o lowerdir=%s/var:/var,upperdir=%s,workdir=%s /var" % (ROOT, upper, work),
            "mount -t tmpfs -o mode=0755 tmpfs /run",
            "echo ready",
            "exec sleep 100000",
        ])
        self.holder = subprocess.Popen(["unshare", "--mount", "sh", "-c", script], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            self.holder.wait(30)
            raise OSError(self.holder.stderr.read().strip() or "the mount namespace could not be set up")

    def wrap(self):
        return ["nsenter", "--target", str(self.holder.pid), "--mount", "--"]

    def close(self):
        self.holder.kill()
        self.holder.wait()


PACKAGE = build_package()


def test_control_fields_depends_and_conffiles():
    assert field(PACKAGE, "Package") == "dynsup"
    assert field(PACKAGE, "Version") == "0.2.0"
    depends = field(PACKAGE, "Depends")
    for library in ["libuv1", "libjansson4", "libiniparser1", "libcurl4", "libc6"]:
        assert library in depends, depends
    control = os.path.join(WORK, "control")
    run(["dpkg-deb", "-e", PACKAGE, control])
    with open(os.path.join(control, "conffiles")) as conffiles:
        assert conffiles.read().split() == ["/etc/dynsup/dynsup.ini", "/etc/dynsup/children.d/auth_loader.ini",
                                            "/etc/dynsup/children.d/sleeper.ini"]
    with open(os.path.join(control, "postinst")) as postinst:
        text = postinst.read()
    assert "deb-systemd-helper enable" in text and "deb-systemd-invoke" in text
    run(["sh", "-n", os.path.join(control, "postinst")])
    run(["sh", "-n", os.path.join(control, "prerm")])
    run(["sh", "-n", os.path.join(control, "postrm")])


def test_contents_follow_the_debian_layout():
    listing = run(["dpkg-deb", "-c", PACKAGE]).stdout
    multiarch = run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]).stdout.strip()
    for path in ["./usr/bin/dynsup-host", "./usr/libexec/dynsup/dynsup-spawner", "./usr/lib/%s/dynsup/plugins/auth_loader.so" % multiarch,
                 "./usr/lib/%s/dynsup/plugins/sleeper.so" % multiarch, "./usr/include/dynsup/plugin.h",
                 "./usr/lib/%s/pkgconfig/dynsup.pc" % multiarch,
                 "./usr/lib/%s/cmake/dynsup/dynsupConfigVersion.cmake" % multiarch,
                 "./usr/lib/systemd/system/dynsup.service", "./etc/dynsup/dynsup.ini",
                 "./usr/share/bash-completion/completions/dynsup-host", "./var/lib/dynsup/"]:
        assert path in listing, path
    assert "./usr/etc" not in listing and "./usr/var" not in listing


def test_unpacked_package_runs_on_its_installed_config():
    run(["dpkg-deb", "-x", PACKAGE, ROOT])
    with open(os.path.join(ROOT, "etc", "dynsup", "dynsup.ini")) as config:
        text = config.read()
    assert "socket       = /run/dynsup/dynsup.sock" in text, text
    assert "/var/lib/dynsup/auth_rules.json" in text
    with open(os.path.join(ROOT, "usr", "lib", "systemd", "system", "dynsup.service")) as unit:
        assert "ExecStart=/usr/bin/dynsup-host run -c /etc/dynsup/dynsup.ini\n" in unit.read()
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        print("SKIP (part): unshare/nsenter (util-linux) are missing: cannot run the unpacked host")
        return
    try:
        namespace = Namespace()
    except OSError as error:
        print("SKIP (part): no private mount namespace here (%s): cannot run the unpacked host" % error)
        return
    try:
        host = InstalledHost("/usr/bin/dynsup-host", "/etc/dynsup/dynsup.ini", wrap=namespace.wrap(),
                             log_dir=WORK)
        exercise(host, spawner="/usr/libexec/dynsup/dynsup-spawner")
    finally:
        namespace.close()


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
