"""The shipped configuration (etc/) under the real host (issue 11): an auth
service that is down at boot is retried with backoff until it answers,
never escalating; the control socket can start only the listed specs, and
auth_loader only with the config's own arguments."""

import os
import re
import shutil
import tempfile

from auth_fixture import RULES_V7, FakeAuthService
from harness import DEADLINE, PLUGIN_DIR, SOURCE_DIR, Host, gone, run_tests, wait_for
from test_backoff import exits_and_restarts_of


class ShippedHost(Host):
    """A host running a copy of etc/ with this build's plugins, a socket and
    a store in a temporary folder, and the auth service at `url`."""

    def __init__(self, url):
        self.dir = tempfile.mkdtemp(prefix="dynsup-shipped-")
        shutil.copytree(os.path.join(SOURCE_DIR, "etc"), os.path.join(self.dir, "etc"))
        self.config = os.path.join(self.dir, "etc", "dynsup.ini")
        self.socket_path = os.path.join(self.dir, "run", "dynsup.sock")
        self.store = os.path.join(self.dir, "auth_rules.json")
        with open(self.config) as source:
            text = source.read()
        text = re.sub(r"(?m)^plugin_dir\s*=.*$", "plugin_dir = " + os.path.abspath(PLUGIN_DIR), text)
        text = re.sub(r"(?m)^socket\s*=.*$", "socket = " + self.socket_path, text)
        text = re.sub(r"(?m)^extra_arguments\s*=.*$", "extra_arguments = %s %s" % (url, self.store), text)
        # Shipped commented out (no error lines at boot while no auth service
        # is known, issue 12); an operator with a service turns it on.
        text = re.sub(r"(?m)^;autostart(\s*=)", r"autostart\1", text)
        assert re.search(r"(?m)^autostart\s*= auth_loader", text), "etc/dynsup.ini: no autostart line"
        with open(self.config, "w") as target:
            target.write(text)
        self.log_path = os.path.join(self.dir, "host.log")
        self.process = None


def test_an_auth_service_down_at_boot_is_retried_with_backoff_until_it_answers():
    rules_dir = tempfile.mkdtemp(prefix="dynsup-rules-")
    rules = os.path.join(rules_dir, "rules.json")
    with open(rules, "wb") as served:
        served.write(RULES_V7)
    # a free port, then nobody listening on it: the service is down
    probe = FakeAuthService(rules)
    port = int(probe.base_url.rsplit(":", 1)[1])
    url = probe.rules_url
    probe.stop()
    with ShippedHost(url) as host:
        host.start()
        # autostart ran the loader; it cannot connect (exit 3) and is retried 1 s, 2 s later
        wait_for(lambda: len(exits_and_restarts_of(host, "auth_loader")) >= 2, timeout=DEADLINE + 10,
                 what="two restarts of auth_loader")
        gaps = [restarted - exited for exited, restarted in exits_and_restarts_of(host, "auth_loader")[:2]]
        assert 0.75 <= gaps[0] <= 1.5 and 1.5 <= gaps[1] <= 2.75, gaps
        assert "exited abnormally (exit status 3)" in host.log()
        assert "intensity exceeded" not in host.log()
        assert not os.path.exists(host.store)

        # the service comes back on its port: the next try loads the rules
        with FakeAuthService(rules, port=port):
            wait_for(lambda: os.path.exists(host.store), timeout=DEADLINE + 10,
                     what="the store written once the service answers")
            host.wait_log("child auth_loader exited normally")
            with open(host.store, "rb") as store:
                assert store.read() == RULES_V7
            wait_for(lambda: host.which_children("auth_rules") == [], what="the loader gone")
        status = host.supervisor_status("auth_rules")
        assert status["times_restarted"] == 0, status
        assert "intensity exceeded" not in host.log()


def test_the_shipped_specs_bound_what_the_control_socket_may_start():
    with ShippedHost("http://127.0.0.1:9/rules") as host:
        host.start()
        # auth_rules starts auth_loader only; demo does not start it at all
        answer = host.start_child("auth_rules", "sleeper")
        assert answer["error"] == "unknown_child", answer
        assert 'may not start child spec "sleeper"' in answer["detail"], answer
        assert "[supervisor:auth_rules] children" in answer["detail"], answer
        answer = host.start_child("demo", "auth_loader")
        assert answer["error"] == "unknown_child" and "[supervisor:demo] children" in answer["detail"], answer
        # and never with a caller's URL or store
        host.request({"cmd": "terminate_child", "supervisor": "auth_rules", "name": "auth_loader"})
        wait_for(lambda: host.which_children("auth_rules") == [], what="no loader")
        answer = host.start_child("auth_rules", "auth_loader", args=["http://evil/", "/etc/passwd"])
        assert answer["error"] == "bad_request", answer
        assert "[child:auth_loader] request_args = no" in answer["detail"], answer
        assert host.which_children("auth_rules") == []
        result = host.cli("start-child", "auth_rules", "auth_loader", "/tmp/x", check=1)
        assert "request_args = no" in result.stderr, result
        # the listed specs still start
        answer = host.start_child("demo", "sleeper")
        assert answer["result"] == "ok", answer
        assert host.request({"cmd": "terminate_child", "supervisor": "demo", "pid": answer["pid"]}) == \
            {"result": "ok"}
        wait_for(lambda: gone(answer["pid"]), what="the sleeper gone")


if __name__ == "__main__":
    run_tests(globals())
