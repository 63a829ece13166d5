#!/usr/bin/python3
"""Dashboard test in a real browser.

Starts a backend service (tachyon-reply), tachyon-gateway (admin plane on an
ephemeral port, forwarding service "echo" to the backend), a subscriber, a
publisher and a requester, opens the dashboard at / in headless Chromium
(Debian's chromium and chromium-driver, driven through python3-selenium), and
checks that:
  * the page receives live snapshots over the WebSocket and all five charts
    get data: messages/s of the published stream above zero, delivery
    latency, sessions, slow consumers and drops (points, zero here), and the
    backend pool's ready and predicted series above zero,
  * once the publisher has finished, the numbers in the page's stream table
    match GET /api/v1/streams exactly, and its backend table matches
    GET /api/v1/backends,
  * a stream retired by DELETE /api/v1/streams/NAME leaves the rate chart,
and saves a screenshot of the page next to the test's build files.

The gateway runs on its built-in defaults (anonymous access allowed), so the
tools need no token; TACHYON_TOKEN (which the shipped config's demo principal
uses) is removed from their environment so an exported one cannot interfere.

Usage: dashboard_test.py GATEWAY PUB SUB REPLY REQ SCREENSHOT_PNG
Exit 77 (skipped) when the browser is missing, except under TACHYON_CI=1,
where a missing browser is a failure.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
STREAM = "dash.demo"
MESSAGES = 3000
RATE = 600  # msgs/s: five seconds of traffic, several snapshots' worth
SERVICE = "echo"
REQUESTS = 50

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def skip_or_fail(reason):
    if os.environ.get("TACHYON_CI"):
        print(f"FAIL: {reason} (TACHYON_CI is set: CI installs it)")
        sys.exit(1)
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def wait_for(what, condition, timeout_s=60.0, interval_s=0.1):
    """Polls condition() until it returns a truthy value; bounded in time
    and in count. Fails the test naming `what` if it never does."""
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / interval_s) + 1):
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(interval_s)
    raise AssertionError(f"timed out waiting for {what}")


def read_line_matching(proc, pattern, lines):
    """Reads proc's stdout until a line matches `pattern` (bounded)."""
    for _ in range(200):
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(
                "gateway exited before printing a line matching "
                f"{pattern!r}; output so far:\n" + "".join(lines))
        lines.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    raise AssertionError(f"no line matching {pattern!r} in: " + "".join(lines))


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode())


def delete(url):
    req = urllib.request.Request(url, method="DELETE")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main():
    if len(sys.argv) != 7:
        print(__doc__)
        return 2
    gateway_bin, pub_bin, sub_bin, reply_bin, req_bin, screenshot = (
        sys.argv[1:7])
    env = dict(os.environ)
    env.pop("TACHYON_TOKEN", None)
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        skip_or_fail(f"{CHROMIUM} or {CHROMEDRIVER} not installed "
                     "(Debian packages chromium, chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("python3-selenium is not installed")

    procs = []
    driver = None
    profile = tempfile.mkdtemp(prefix="tachyon-dashboard-")
    try:
        # The backend first: the gateway's pool connects at start.
        reply = subprocess.Popen([reply_bin, "--port=0"],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env=env)
        procs.append(reply)
        reply_out = []
        backend_port = int(read_line_matching(
            reply, r"listening on 127\.0\.0\.1:(\d+)", reply_out).group(1))
        reply_drain = subprocess.Popen(["cat"], stdin=reply.stdout,
                                       stdout=subprocess.DEVNULL)
        procs.append(reply_drain)
        endpoint = f"127.0.0.1:{backend_port}"

        gateway = subprocess.Popen(
            [gateway_bin, "--port=0", "--admin_port=0", "--workers=2",
             "--idle=block", f"--backend={SERVICE}:1@{endpoint}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env)
        procs.append(gateway)
        out = []
        port = int(read_line_matching(
            gateway, r"listening on [^ ]*:(\d+)", out).group(1))
        admin = read_line_matching(
            gateway, r"(http://127\.0\.0\.1:\d+)", out).group(1)
        # Keep draining the gateway's output so it never blocks on a pipe.
        drain = subprocess.Popen(["cat"], stdin=gateway.stdout,
                                 stdout=subprocess.DEVNULL)
        procs.append(drain)

        sub = subprocess.Popen(
            [sub_bin, f"--port={port}", f"--stream={STREAM}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        procs.append(sub)
        wait_for("the subscriber's session",
                 lambda: get_json(admin + "/api/v1/streams").get("streams"))

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1400,1400",
                    f"--user-data-dir={profile}"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER),
                                  options=options)
        driver.set_page_load_timeout(60)
        driver.get(admin + "/")

        pub = subprocess.Popen(
            [pub_bin, f"--port={port}", f"--stream={STREAM}",
             f"--count={MESSAGES}", f"--rate={RATE}", "--size=64", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        procs.append(pub)
        # Requests through the backend while the page watches.
        req = subprocess.run(
            [req_bin, f"--port={port}", f"--service={SERVICE}",
             f"--count={REQUESTS}", "hello"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env, timeout=60)
        assert req.returncode == 0, "tachyon-req failed:\n" + req.stdout
        assert req.stdout.count("OK ") == REQUESTS, req.stdout

        def js(expr):
            return driver.execute_script("return " + expr)

        # The charts receive data: a point above zero for our stream's rate.
        wait_for("a messages/s point above zero for " + STREAM, lambda: js(
            "(window.tachyonDashboard && window.tachyonDashboard.charts.rates"
            ".data.datasets.some(d => d.label === '%s' && "
            "d.data.some(v => v > 0))) || false" % STREAM))
        wait_for("delivery latency points", lambda: js(
            "window.tachyonDashboard.charts.latency.data.datasets"
            ".some(d => d.data.some(v => v !== null && v > 0))"))
        wait_for("a sessions point", lambda: js(
            "window.tachyonDashboard.charts.sessions.data.datasets"
            ".some(d => d.data.some(v => v >= 1))"))
        # Slow consumers and drops: none happen, but both series get points.
        for label in ("slow consumers", "drops"):
            wait_for(f"'{label}' points", lambda label=label: js(
                "window.tachyonDashboard.charts.losses.data.datasets"
                ".some(d => d.label === '%s' && "
                "d.data.some(v => v !== null && v >= 0))" % label))
        # The backend pool: ready and predicted connections above zero.
        for series in ("ready", "predicted"):
            name = f"{SERVICE}@{endpoint} {series}"
            wait_for(f"a backend '{name}' point above zero",
                     lambda name=name: js(
                         "window.tachyonDashboard.charts.backends.data"
                         ".datasets.some(d => d.label === '%s' && "
                         "d.data.some(v => v > 0))" % name))
        assert js("window.tachyonDashboard.errors") == 0, "bad snapshots"

        assert pub.wait(timeout=120) == 0, "publisher failed"

        # Traffic over: the page's table settles on the API's numbers.
        def api_row():
            for s in get_json(admin + "/api/v1/streams")["streams"]:
                if s["name"] == STREAM:
                    return s
            return None

        wait_for("all messages appended",
                 lambda: (api_row() or {}).get("appends_total") == MESSAGES)
        row = api_row()

        def page_cell(key):
            return js(
                "(() => { const tr = document.querySelector("
                "'#streams tbody tr[data-name=\"%s\"]'); if (!tr) return null;"
                " const td = tr.querySelector('td[data-key=\"%s\"]');"
                " return td ? td.textContent : null; })()" % (STREAM, key))

        wait_for("the page's message count to match the API",
                 lambda: page_cell("appends_total") == str(MESSAGES))
        assert page_cell("retained") == (
            f"{row['first_sequence']} .. {row['next_sequence']}"), (
                page_cell("retained"), row)
        assert page_cell("publishers") == str(row["publishers"])
        assert page_cell("subscribers") == str(row["subscribers"]) == "1", (
            page_cell("subscribers"), row)
        assert page_cell("slow_consumers_total") == str(
            row["slow_consumers_total"])

        # The backend table against /api/v1/backends (pool sizes settle:
        # compare once both agree, bounded).
        def backend_cells():
            return js(
                "(() => { const tr = document.querySelector("
                "'#backends tbody tr[data-name=\"%s@%s\"]'); if (!tr) "
                "return null; const o = {}; for (const td of "
                "tr.querySelectorAll('td[data-key]')) o[td.dataset.key] = "
                "td.textContent; return o; })()" % (SERVICE, endpoint))

        def api_service():
            for svc in get_json(admin + "/api/v1/backends")["services"]:
                if svc["service"] == SERVICE:
                    return svc
            return None

        def api_backend():
            for b in (api_service() or {}).get("endpoints", []):
                if b["endpoint"] == endpoint:
                    return b
            return None

        def backends_agree():
            page, api = backend_cells(), api_backend()
            if not page or not api:
                return None
            keys = ("ready", "busy", "predicted")
            if all(page.get(k) == str(api.get(k)) for k in keys):
                return (page, api)
            return None

        page_b, api_b = wait_for("the page's backend row to match the API",
                                 backends_agree, timeout_s=30)
        assert int(api_b["ready"]) > 0, api_b
        answered = sum(api_service()["requests"].values())
        assert answered == REQUESTS, (answered, api_service())

        os.makedirs(os.path.dirname(os.path.abspath(screenshot)),
                    exist_ok=True)
        assert driver.save_screenshot(screenshot), "screenshot failed"

        # A stream that goes away takes its rate series with it.
        stop(sub)
        wait_for("the stream to have no subscriber", lambda: (
            (api_row() or {}).get("subscribers") == 0))
        assert delete(admin + "/api/v1/streams/" + STREAM) == 200
        wait_for("the retired stream's series to leave the rate chart",
                 lambda: js(
                     "!window.tachyonDashboard.charts.rates.data.datasets"
                     ".some(d => d.label === '%s')" % STREAM))
        assert js("window.tachyonDashboard.errors") == 0, "bad snapshots"
        print(f"dashboard OK: {js('window.tachyonDashboard.snapshots')} "
              f"snapshots, {MESSAGES} messages matched /api/v1/streams, "
              f"{REQUESTS} requests through {SERVICE}@{endpoint}, backend "
              f"row {page_b}; screenshot {screenshot}")
        return 0
    finally:
        if driver is not None:
            driver.quit()
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
