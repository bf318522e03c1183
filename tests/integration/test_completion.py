"""bash completion (packaging/bash-completion/dynsup-host) in a real bash
with bash-completion loaded: commands, supervisors and child pids from the
running host, child spec and event ids from its config."""

import os
import shutil
import subprocess

from harness import HOST_BINARY, SOURCE_DIR, Host, run_tests

COMPLETION = os.path.join(SOURCE_DIR, "packaging", "bash-completion", "dynsup-host")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def complete(line, env=None):
    """What bash offers for the last word of `line` (a trailing space: a new word)."""
    words = line.split(" ")
    script = ("source %s; source %s; COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%s; COMP_POINT=${#COMP_LINE};"
              " _dynsup_host; printf '%%s\\n' \"${COMPREPLY[@]}\""
              % (BASH_COMPLETION, COMPLETION, " ".join("'%s'" % w for w in words), len(words) - 1,
                 "'%s'" % line))
    environment = dict(os.environ, PATH=os.path.dirname(HOST_BINARY) + ":" + os.environ["PATH"], **(env or {}))
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=environment, timeout=60)
    assert result.returncode == 0, result.stderr
    return sorted(w for w in result.stdout.split("\n") if w)


def test_completion_of_commands_supervisors_children_pids_and_events():
    if not os.path.exists(BASH_COMPLETION) or not shutil.which("bash"):
        print("SKIP: bash-completion is not installed")
        return
    host = Host("[supervisor:alpha]\n[supervisor:beta]\n[event:refresh]\nsupervisor = alpha\nchild = sleeper\n",
                {"s.ini": "[child:sleeper]\nplugin = sleeper\n[child:second]\nplugin = sleeper\n"})
    with host.start():
        pid = host.start_child("alpha", "sleeper")["pid"]
        assert complete("dynsup-host which-ch") == ["which-children"]
        assert complete("dynsup-host which-children -c %s " % host.config) == ["alpha", "beta"]
        assert complete("dynsup-host start-child -c %s alpha " % host.config) == ["second", "sleeper"]
        assert complete("dynsup-host terminate-child -c %s alpha " % host.config) == [str(pid)]
        assert complete("dynsup-host emit ", env={"DYNSUP_CONFIG": host.config}) == ["refresh"]
        assert "--version" in complete("dynsup-host --v")


if __name__ == "__main__":
    run_tests(globals())
