"""The manuals (man/*.scd, built with scdoc): each renders with man -l
without a warning; dynsup.ini(5) documents every key the config parser
knows (read from its key tables); dynsup-host(1) every command the CLI has."""

import os
import re
import subprocess
import sys

from harness import BUILD_DIR, HOST_BINARY, SOURCE_DIR, run_tests

MAN_DIR = os.path.join(BUILD_DIR, "man")
PAGES = ["dynsup-host.1", "dynsup.ini.5", "dynsup-plugin.7"]


def rendered(page):
    result = subprocess.run(["man", "-l", os.path.join(MAN_DIR, page)], capture_output=True, text=True,
                            env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="100",
                                     MAN_KEEP_FORMATTING="0"), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", "%s: %s" % (page, result.stderr)
    # Plain text: drop overstrike bold/underline, join hyphenated line breaks.
    text = re.sub(r".\x08", "", result.stdout)
    return re.sub(r"\u2010\n\s*", "", text)


def parser_keys():
    """{section kind: [keys]} from config.c's tables (host_keys[] = {...})."""
    with open(os.path.join(SOURCE_DIR, "core", "src", "config", "config.c")) as source:
        text = source.read()
    tables = re.findall(r"static const char \*const (\w+)_keys\[\] = \{([^}]*)\}", text)
    assert tables, "no key tables found in config.c"
    return {kind: re.findall(r'"([a-z0-9_]+)"', body) for kind, body in tables}


def test_every_manual_renders_with_man_without_a_warning():
    for page in PAGES:
        text = rendered(page)
        assert "NAME" in text and "SEE ALSO" in text, page


def manual_sections(text):
    """{heading: body} of a rendered page (headings start at column 0)."""
    parts = re.split(r"^(\S.*)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_dynsup_ini_5_documents_every_key_the_parser_knows():
    sections = manual_sections(rendered("dynsup.ini.5"))
    headings = {"host": "[host]", "supervisor": "[supervisor:NAME]", "event": "[event:NAME]",
                "child": "[child:ID]"}
    for kind, keys in parser_keys().items():
        heading = headings.get(kind, "[%s]" % kind)
        assert heading in sections, "dynsup.ini(5) has no section %s" % heading
        for key in keys:
            assert re.search(r"^\s+%s = \S" % re.escape(key), sections[heading], re.M), \
                "dynsup.ini(5) does not document [%s] %s (with its type)" % (kind, key)
            entry = sections[heading].split(key + " = ", 1)[1].split("\n\n", 1)[0]
            assert "Example: " in entry, "dynsup.ini(5): [%s] %s has no example" % (kind, key)
            assert "default" in entry.split("\n")[0] or "(required)" in entry, \
                "dynsup.ini(5): [%s] %s has no default" % (kind, key)


def test_dynsup_host_1_documents_every_command():
    usage = subprocess.run([HOST_BINARY, "--help"], capture_output=True, text=True).stdout
    commands = re.findall(r"^  ([a-z][a-z-]+)", usage, re.M)
    assert "start-child" in commands and "run" in commands, usage
    text = rendered("dynsup-host.1")
    for command in commands:
        assert re.search(r"^\s+%s\b" % re.escape(command), text, re.M), \
            "dynsup-host(1) does not describe %s" % command
    for option in ["--config", "--socket", "--json", "--version", "--help"]:
        assert option in text, option


if __name__ == "__main__":
    if not os.path.isdir(MAN_DIR):
        print("SKIP: the manuals were not built (scdoc not found at configure time)")
        sys.exit(0)
    run_tests(globals())
