#!/usr/bin/python3
"""Dashboard test in a real browser.

Starts tachyon-gateway (admin plane on an ephemeral port), a subscriber and a
publisher, opens the dashboard at / in headless Chromium (Debian's chromium and
chromium-driver, driven through python3-selenium), and checks that:
  * the page receives live snapshots over the WebSocket and its charts get
    data (messages/s of the published stream above zero, delivery latency),
  * once the publisher has finished, the numbers in the page's stream table
    match GET /api/v1/streams exactly,
and saves a screenshot of the page next to the test's build files.

Usage: dashboard_test.py GATEWAY PUB SUB SCREENSHOT_PNG
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
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    gateway_bin, pub_bin, sub_bin, screenshot = sys.argv[1:5]
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
        gateway = subprocess.Popen(
            [gateway_bin, "--port=0", "--admin_port=0", "--workers=2",
             "--idle=block"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(pub)

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

        os.makedirs(os.path.dirname(os.path.abspath(screenshot)),
                    exist_ok=True)
        assert driver.save_screenshot(screenshot), "screenshot failed"
        print(f"dashboard OK: {js('window.tachyonDashboard.snapshots')} "
              f"snapshots, {MESSAGES} messages matched /api/v1/streams; "
              f"screenshot {screenshot}")
        return 0
    finally:
        if driver is not None:
            driver.quit()
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
