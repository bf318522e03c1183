"""Untrusted text never reaches a terminal raw (issue 9 item 10): request
args in which-children's table, a plugin's file name in its load error and
a worker's output (NUL bytes included) are printed with every control
character escaped (\\n, \\t, \\xHH), so they can neither forge a line,
drive the terminal, nor hide what follows them."""

import os
import shutil
import subprocess
import tempfile

from harness import PLUGIN_DIR, SOURCE_DIR, Host, run_cli, run_tests

NOISY_SOURCE = r"""
#include <dynsup/plugin.h>
#include <unistd.h>

/* One line with a NUL, a terminal escape and a carriage return in it. */
static int noisy_run(dynsup_worker *w, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static const char line[] = "before\0after \x1b[2J\rtail\n";
    if (write(STDOUT_FILENO, line, sizeof line - 1) < 0)
        return 1;
    while (!dynsup_should_stop(w))
        usleep(10000);
    return 0;
}

DYNSUP_EXPORT const struct dynsup_plugin dynsup_plugin = {
    .abi_version = DYNSUP_PLUGIN_ABI_VERSION,
    .name = "noisy",
    .version = "1.0.0",
    .run = noisy_run,
};
"""

SUPERVISORS = "[supervisor:work]\n"
CHILDREN = {"children.ini": """
[child:sleeper]
plugin = sleeper
restart = temporary

[child:noisy]
plugin = noisy
restart = temporary
"""}


def plugin_folder(extra_files=()):
    """A private plugin folder: noisy.so (built here), a copy of sleeper.so,
    and copies of sleeper.so under each name in extra_files."""
    folder = tempfile.mkdtemp(prefix="dynsup-untrusted-")
    source = os.path.join(folder, "noisy.c")
    with open(source, "w") as out:
        out.write(NOISY_SOURCE)
    subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-I", os.path.join(SOURCE_DIR, "core", "include"),
                    source, "-o", os.path.join(folder, "noisy.so")], check=True, timeout=120)
    os.unlink(source)
    for name in ("sleeper.so",) + tuple(extra_files):
        shutil.copyfile(os.path.join(PLUGIN_DIR, "sleeper.so"), os.path.join(folder, name))
        os.chmod(os.path.join(folder, name), 0o755)
    os.chmod(os.path.join(folder, "noisy.so"), 0o755)
    return folder


FOLDER = plugin_folder()


def assert_no_control_characters(text, allowed="\n"):
    bad = [c for c in text if (ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f) and c not in allowed]
    assert not bad, "raw control characters %r in %r" % (bad, text)


def test_which_children_table_escapes_control_characters_in_args():
    with Host(SUPERVISORS, CHILDREN, plugin_dir=FOLDER).start() as host:
        answer = host.start_child("work", "sleeper", args=["two\nlines", "\x1b[31mred", "tab\there", "plain"])
        assert answer["result"] == "ok", answer
        result = host.cli("which-children", "work", check=0)
        assert_no_control_characters(result.stdout)
        lines = result.stdout.splitlines()
        assert len(lines) == 2, result.stdout
        # bash's $'...' quoting: what is shown can be typed back
        assert "$'two\\nlines' $'\\x1b[31mred' $'tab\\there' plain" in lines[1], result.stdout


def test_worker_output_keeps_what_follows_a_nul_and_escapes_controls():
    with Host(SUPERVISORS, CHILDREN, plugin_dir=FOLDER).start() as host:
        answer = host.start_child("work", "noisy")
        assert answer["result"] == "ok", answer
        host.wait_log("before\\x00after \\x1b[2J\\rtail")
        assert_no_control_characters(host.log())


def test_a_newline_in_a_plugin_file_name_does_not_swallow_the_error():
    folder = plugin_folder(extra_files=("evil\nforged.so",))
    host = Host(SUPERVISORS, CHILDREN, plugin_dir=folder)
    result = run_cli("check", "-c", host.config)
    assert result.returncode == 2, result
    assert_no_control_characters(result.stdout + result.stderr)
    lines = [line for line in result.stderr.splitlines() if "evil" in line]
    assert len(lines) == 1, result.stderr
    # the whole error on one line: the escaped name and the reason after it
    assert "evil\\nforged.so" in lines[0], result.stderr
    reason = lines[0].split("evil\\nforged.so", 1)[1]
    assert reason.startswith(": name: expected") and 'found "sleeper"' in reason, result.stderr


if __name__ == "__main__":
    run_tests(globals())
