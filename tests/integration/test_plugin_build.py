"""Plugins build alone: the SPEC's one-line cc command, and each plugin's own
CMakeLists.txt out of tree, against a checkout and against an installed
dynsup. The results really load in a host."""

import os
import shutil
import subprocess
import tempfile

from harness import BUILD_DIR, SOURCE_DIR, Host, gone, run_tests, wait_for

INCLUDE = os.path.join(SOURCE_DIR, "core", "include")


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, **kwargs)
    assert result.returncode == 0, "%s failed:\n%s\n%s" % (command, result.stdout, result.stderr)
    return result


def exported_symbols(path):
    return run(["nm", "-D", "--defined-only", path]).stdout


def test_plain_cc_command_builds_a_loadable_plugin_with_no_library_linked():
    work = tempfile.mkdtemp(prefix="dynsup-cc-")
    plugin = os.path.join(work, "plugins", "hello.so")
    os.makedirs(os.path.dirname(plugin))
    run(["cc", "-shared", "-fPIC", "-I", INCLUDE, os.path.join(SOURCE_DIR, "plugins", "hello", "hello.c"),
         "-o", plugin])
    needed = run(["readelf", "-d", plugin]).stdout
    assert "libdynsup" not in needed
    host = Host("[supervisor:s]\n", {"h.ini": "[child:hello]\nplugin = hello\nrestart = temporary\n"},
                plugin_dir=os.path.dirname(plugin))
    with host.start():
        answer = host.start_child("s", "hello")
        assert answer["result"] == "ok", answer
        wait_for(lambda: gone(answer["pid"]), what="hello to finish")
        host.wait_log("child=hello pid=%d" % answer["pid"])
    shutil.rmtree(work)


def test_plugin_cmakelists_builds_out_of_tree_against_a_checkout():
    work = tempfile.mkdtemp(prefix="dynsup-oot-")
    run(["cmake", "-S", os.path.join(SOURCE_DIR, "plugins", "sleeper"), "-B", work,
         "-Ddynsup_DIR=" + os.path.join(SOURCE_DIR, "cmake")])
    run(["cmake", "--build", work])
    plugin = os.path.join(work, "sleeper.so")
    assert os.path.exists(plugin)
    symbols = [line.split()[-1] for line in exported_symbols(plugin).splitlines()]
    assert symbols == ["dynsup_plugin"], symbols
    shutil.rmtree(work)


def test_plugin_cmakelists_builds_against_an_installed_dynsup():
    work = tempfile.mkdtemp(prefix="dynsup-install-")
    prefix = os.path.join(work, "prefix")
    run(["cmake", "--install", BUILD_DIR, "--prefix", prefix])
    assert os.path.exists(os.path.join(prefix, "include", "dynsup", "plugin.h"))
    build = os.path.join(work, "build")
    run(["cmake", "-S", os.path.join(SOURCE_DIR, "plugins", "exit_code"), "-B", build,
         "-DCMAKE_PREFIX_PATH=" + prefix])
    run(["cmake", "--build", build])
    assert os.path.exists(os.path.join(build, "exit_code.so"))
    shutil.rmtree(work)


if __name__ == "__main__":
    run_tests(globals())
