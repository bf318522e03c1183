"""Metrics in Prometheus' text format: the metrics request and CLI, the
[host] metrics_listen HTTP endpoint (libmicrohttpd), promtool's check, a
real Prometheus scrape read back through its query API, labels that never
hold a pid, and no wake-up of an idle host for any of it."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import DEADLINE, HOST_BINARY, Host, gone, open_fds, run_tests, wait_for


def http_built():
    version = subprocess.run([HOST_BINARY, "--version"], capture_output=True, text=True).stdout
    return "metrics endpoint (libmicrohttpd): built" in version


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def samples(text):
    """{'name{labels}': value} of every sample line."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            found[key] = float(value)
    return found


CHILDREN = {"c.ini": "[child:sleeper]\nplugin = sleeper\n"
                     "[child:failing]\nplugin = exit_code\nargs = 3\nrestart = transient\n"}


def busy_host(host_keys=""):
    """A host with two running sleepers and a child that failed until its
    supervisor gave up: every family has something to say."""
    host = Host("[supervisor:work]\nmax_restarts = 2\nmax_seconds = 60\n", CHILDREN, host_keys=host_keys)
    return host


def make_busy(host):
    pids = [host.start_child("work", "sleeper")["pid"] for _ in range(2)]
    assert host.start_child("work", "failing")["result"] == "ok"
    host.wait_log("supervisor terminated and restarted empty by the root")
    for pid in pids:
        wait_for(lambda: gone(pid), what="the escalation to stop the sleepers")
    # After the escalation: two new sleepers that stay.
    return [host.start_child("work", "sleeper")["pid"] for _ in range(2)]


def test_metrics_request_and_cli_tell_what_happened():
    host = busy_host()
    with host.start():
        make_busy(host)
        answer = host.request({"cmd": "metrics"})
        assert answer["result"] == "ok", answer
        found = samples(answer["metrics"])
        assert found['dynsup_supervisor_children{supervisor="work",state="running"}'] == 2
        assert found['dynsup_children{supervisor="work",child="sleeper",plugin="sleeper",state="running"}'] == 2
        assert found['dynsup_child_starts_total{supervisor="work",result="ok"}'] == 5
        assert found['dynsup_child_restarts_total{supervisor="work",child="failing"}'] == 2
        assert found['dynsup_child_exits_total{supervisor="work",child="failing",kind="error"}'] == 3
        assert found['dynsup_child_exits_total{supervisor="work",child="sleeper",kind="normal"}'] == 2
        assert found['dynsup_supervisor_escalations_total{supervisor="work"}'] == 1
        assert found['dynsup_plugin_info{plugin="sleeper",version="1.0.0",generation="1",current="yes",'
                     'file="%s"}' % os.path.join(os.path.dirname(HOST_BINARY), "plugins", "sleeper.so")] == 1
        assert found['dynsup_plugin_workers{plugin="sleeper",generation="1"}'] == 2
        assert found["process_open_fds"] > 0 and found["process_resident_memory_bytes"] > 0
        # Every request answered: five starts, one latency sample each.
        assert found['dynsup_start_latency_seconds_count{supervisor="work"}'] == 5
        assert found['dynsup_start_latency_seconds_bucket{supervisor="work",le="+Inf"}'] == 5
        # The CLI prints the same text, as is (node_exporter's textfile collector).
        printed = host.cli("metrics", check=0).stdout
        assert printed.startswith("# HELP dynsup_build_info"), printed[:200]
        assert samples(printed)['dynsup_child_starts_total{supervisor="work",result="ok"}'] == 5


def test_process_open_fds_follows_the_host_descriptors():
    # Counted without listing /proc/self/fd for every request (Linux 6.2+:
    # the folder's size; older kernels: a listing reused up to a second).
    with Host().start() as host:
        def counted():
            return samples(host.request({"cmd": "metrics"})["metrics"])["process_open_fds"]
        before = counted()
        clients = [host.connect() for _ in range(50)]
        try:
            def matches():
                figure = counted()
                # the host counted while it still held the request's connection
                return figure >= before + 50 and figure - len(open_fds(host.pid)) in (0, 1)
            wait_for(matches, what="process_open_fds to count the 50 clients, as /proc/PID/fd lists them")
        finally:
            for client in clients:
                client.close()


def test_reloads_are_counted_and_the_last_good_one_dated():
    host = Host("[supervisor:s]\n")
    with host.start():
        boot = samples(host.request({"cmd": "metrics"})["metrics"])
        loaded_at = boot["dynsup_config_last_load_success_timestamp_seconds"]
        assert abs(loaded_at - boot["process_start_time_seconds"]) < 5, boot
        host.cli("reload", check=0)
        with open(host.config, "a") as config:
            config.write("[supervisor:t]\nbogus = 1\n")
        assert host.cli("reload").returncode == 1
        host.cli("reload", "--dry-run")
        found = samples(host.request({"cmd": "metrics"})["metrics"])
        assert found['dynsup_reloads_total{result="ok"}'] == 1, found
        assert found['dynsup_reloads_total{result="invalid_config"}'] == 1, found
        assert found["dynsup_config_last_load_success_timestamp_seconds"] >= loaded_at
        info = [key for key in found if key.startswith("dynsup_plugin_info{plugin=\"sleeper\"")]
        assert len(info) == 1 and 'generation="1",current="yes"' in info[0], info


def test_labels_never_hold_a_pid():
    host = busy_host()
    with host.start():
        pids = make_busy(host)
        text = host.request({"cmd": "metrics"})["metrics"]
        assert "pid=" not in text
        labels = " ".join(re.findall(r"\{[^}]*\}", text))
        for pid in pids + [host.pid]:
            assert '"%d"' % pid not in labels, pid


def test_promtool_accepts_the_metrics():
    promtool = shutil.which("promtool")
    if not promtool:
        print("SKIP: promtool not installed (Debian package prometheus)")
        return
    host = busy_host()
    with host.start():
        make_busy(host)
        text = host.cli("metrics", check=0).stdout
        checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                                 text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.strip() == "" and checked.stderr.strip() == "", (checked.stdout, checked.stderr)


def test_a_bad_metrics_listen_is_a_config_error_naming_the_key():
    host = Host(host_keys="metrics_listen = localhost:99999\n")
    result = host.cli("check")
    assert result.returncode == 2, result
    assert "metrics_listen" in result.stderr + result.stdout
    assert "65535" in result.stderr + result.stdout


def test_a_taken_metrics_port_stops_the_boot_with_a_clear_error():
    if not http_built():
        print("SKIP: dynsup-host was built without libmicrohttpd")
        return
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        host = Host(host_keys="metrics_listen = 127.0.0.1:%d\n" % port)
        result = subprocess.run([HOST_BINARY, "run", "-c", host.config], capture_output=True, text=True,
                                timeout=DEADLINE)
    assert result.returncode == 2, result
    assert "metrics_listen 127.0.0.1:%d: cannot listen: Address already in use" % port in result.stderr, \
        result.stderr


def context_switches(pid):
    """Voluntary + involuntary context switches of every thread of pid."""
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, task)) as status:
            for line in status:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def idle_wakeups(host, seconds=1.5):
    """Context switches of the host (all threads) over a window."""
    before = context_switches(host.pid)
    time.sleep(seconds)  # a measurement window, not a wait for a condition
    return context_switches(host.pid) - before


def settles_without_wakeups(host):
    """Once the last client's close is handled, a whole 1.5 s window passes
    with no wake-up of any thread (a timer of 1.5 s or less never would)."""
    wait_for(lambda: idle_wakeups(host) == 0, what="a 1.5 s window without a wake-up")


def test_idle_host_has_no_wakeups_without_and_with_the_endpoint():
    with Host().start() as host:
        host.request({"cmd": "metrics"})
        settles_without_wakeups(host)
    if not http_built():
        print("SKIP (part): the endpoint is not built")
        return
    port = free_port()
    with Host(host_keys="metrics_listen = 127.0.0.1:%d\n" % port).start() as host:
        urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=DEADLINE).read()
        settles_without_wakeups(host)


def test_http_endpoint_serves_fresh_metrics():
    if not http_built():
        print("SKIP: dynsup-host was built without libmicrohttpd")
        return
    port = free_port()
    host = busy_host("metrics_listen = 127.0.0.1:%d\n" % port)
    with host.start():
        host.wait_log("metrics on http://127.0.0.1:%d/metrics" % port)
        url = "http://127.0.0.1:%d/metrics" % port
        with urllib.request.urlopen(url, timeout=DEADLINE) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            before = samples(response.read().decode())
        assert before['dynsup_supervisor_children{supervisor="work",state="running"}'] == 0
        host.start_child("work", "sleeper")
        # Fresh at every scrape: the loop renders it when asked.
        with urllib.request.urlopen(url, timeout=DEADLINE) as response:
            after = samples(response.read().decode())
        assert after['dynsup_supervisor_children{supervisor="work",state="running"}'] == 1
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/other" % port, timeout=DEADLINE)
            raise AssertionError("/other answered")
        except urllib.error.HTTPError as error:
            assert error.code == 404
        # Scraping while workers start and stop does not disturb supervision.
        for _ in range(20):
            urllib.request.urlopen(url, timeout=DEADLINE).read()
            host.start_child("work", "sleeper")
        assert host.count_children("work")["active"] == 21
        assert host.stop() == 0


def test_stopping_while_scrapes_run_ends_cleanly():
    if not http_built():
        print("SKIP: dynsup-host was built without libmicrohttpd")
        return
    import threading
    port = free_port()
    host = busy_host("metrics_listen = 127.0.0.1:%d\n" % port)
    scraped = []
    done = threading.Event()

    def scrape():
        while not done.is_set():
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=DEADLINE).read()
                scraped.append(1)
            except OSError:
                pass  # the host went away mid-scrape: expected at the end

    with host.start():
        for _ in range(5):
            host.start_child("work", "sleeper")
        threads = [threading.Thread(target=scrape) for _ in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(scraped) >= 50, what="50 scrapes")
        host.cli("stop", check=0)
        assert host.process.wait(DEADLINE) == 0, host.log()
        done.set()
        for thread in threads:
            thread.join(DEADLINE)


def test_a_plugin_added_by_reload_while_scrapes_run_starts_and_scrapes_follow():
    """A reload that loads a plugin forks its spawner from a host that has
    the endpoint's thread running: the new plugin must start workers, and
    the metrics show its generation."""
    if not http_built():
        print("SKIP: dynsup-host was built without libmicrohttpd")
        return
    import threading
    built = os.path.join(os.path.dirname(HOST_BINARY), "plugins")
    folder = tempfile.mkdtemp(prefix="dynsup-plugins-")
    shutil.copy(os.path.join(built, "sleeper.so"), folder)
    port = free_port()
    host = Host("[supervisor:work]\n", {"c.ini": "[child:sleeper]\nplugin = sleeper\n"},
                host_keys="metrics_listen = 127.0.0.1:%d\n" % port, plugin_dir=folder)
    done = threading.Event()

    def scrape():
        while not done.is_set():
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=DEADLINE).read()
            except OSError:
                pass

    with host.start():
        threads = [threading.Thread(target=scrape) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            shutil.copy(os.path.join(built, "hello.so"), folder)
            with open(host.path("children.d", "hello.ini"), "w") as spec:
                spec.write("[child:hello]\nplugin = hello\nrestart = temporary\n")
            host.cli("reload", check=0)  # forks hello's spawner while the scrapes run
            for _ in range(5):
                assert host.start_child("work", "hello")["result"] == "ok"
                assert host.start_child("work", "sleeper")["result"] == "ok"
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=DEADLINE).read().decode()
            found = samples(text)
            assert found['dynsup_plugin_workers{plugin="sleeper",generation="1"}'] == 5, text
            assert any(key.startswith('dynsup_plugin_info{plugin="hello",version="1.0.0",generation="1"')
                       for key in found), text
        finally:
            done.set()
            for thread in threads:
                thread.join(DEADLINE)
        assert host.stop() == 0
    shutil.rmtree(folder, ignore_errors=True)


def test_a_real_prometheus_scrapes_the_endpoint():
    prometheus = shutil.which("prometheus")
    if not prometheus or not http_built():
        print("SKIP: needs the prometheus server (Debian package prometheus) and libmicrohttpd")
        return
    port = free_port()
    host = busy_host("metrics_listen = 127.0.0.1:%d\n" % port)
    work = tempfile.mkdtemp(prefix="dynsup-prometheus-")
    with open(os.path.join(work, "prometheus.yml"), "w") as config:
        config.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: dynsup\n"
                     "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % port)
    web_port = free_port()
    with host.start():
        for _ in range(3):
            host.start_child("work", "sleeper")
        server = subprocess.Popen([prometheus, "--config.file=" + os.path.join(work, "prometheus.yml"),
                                   "--storage.tsdb.path=" + os.path.join(work, "data"),
                                   "--web.listen-address=127.0.0.1:%d" % web_port],
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "log"), "wb"))
        try:
            query = urllib.parse.urlencode(
                {"query": 'dynsup_supervisor_children{supervisor="work",state="running"}'})

            def value():
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?%s" % (web_port, query),
                                                timeout=5) as response:
                        result = json.load(response)["data"]["result"]
                except (OSError, ValueError, KeyError):
                    return None
                return result and result[0]["value"][1]

            assert wait_for(value, timeout=max(DEADLINE, 60), what="prometheus to scrape dynsup") == "3"
        finally:
            server.terminate()
            server.wait(DEADLINE)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())
