#!/usr/bin/env python3
"""What people look at, tested against a live coordinator (issue 5).

Starts a real coordinator and workers (the debug binary), with one finished and one running
run of the demo job, then:

1. headless Chromium (selenium + chromedriver) signs in with the client token (the worker token
   is refused), loads `/`, `/runs/<finished>` and `/runs/<running>`: no console errors, the
   forest plot has one row per feature whose odds ratios equal report.json's, the progress
   numbers move; PNG screenshots are saved to the artifacts directory;
2. `/metrics` parses with prometheus_client's text-format parser and its counters match the runs;
3. schemathesis fuzzes every operation of the committed OpenAPI document against a second
   coordinator (valid tokens, bounded examples): no 5xx, every response conforms.

Usage: web_test.py BINARY ARTIFACTS_DIR
"""
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENT, WORKER = "web-client-token", "web-worker-token"
PROCS = []


def fail(msg):
    print(f"web_test: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"  ok: {msg}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, log, env=None):
    p = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    PROCS.append(p)
    return p


def stop_all():
    for p in PROCS:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in PROCS:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def http(url, token=CLIENT, method="GET", data=None):
    req = urllib.request.Request(url, method=method, data=data)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def coordinator(binary, tmp, name, extra=()):
    port = free_port()
    start([binary, "coordinator", "--port", str(port), "--db", os.path.join(tmp, f"{name}.db"),
           "--token", CLIENT, "--worker-token", WORKER, *extra], os.path.join(tmp, f"{name}.log"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if http(url + "/healthz", token=None)[0] == 200:
                return url
        except OSError:
            pass
        time.sleep(0.05)
    fail(f"coordinator {name} did not start (log: {tmp}/{name}.log)")


def submit(binary, url, tmp, *extra):
    out = subprocess.run([binary, "submit", os.path.join(REPO, "jobs/demo.json"), "--coordinator", url, "--token", CLIENT, *extra],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        fail(f"submit failed: {out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def run_status(url, run):
    code, body = http(f"{url}/v1/runs/{run}")
    if code != 200:
        fail(f"GET /v1/runs/{run}: {code} {body[:200]!r}")
    return json.loads(body)


def browser_checks(url, finished, running, artifacts):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,2400"]:
        opts.add_argument(a)
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(60)

    def console_errors():
        return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]

    def text_of(element_id):
        # The page swaps its facts in as fresh HTML every refresh: read an element by id again
        # when the one found was replaced in between.
        from selenium.common.exceptions import StaleElementReferenceException
        for _ in range(20):
            try:
                return driver.find_element(By.ID, element_id).text
            except StaleElementReferenceException:
                time.sleep(0.05)
        return driver.find_element(By.ID, element_id).text

    def sign_in(token):
        driver.get(url + "/login?next=/")
        driver.find_element(By.NAME, "token").send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "form.login button").click()
        time.sleep(0.3)

    try:
        # No token: the sign-in page, not the data.
        driver.get(url + "/")
        check("Sign in" in driver.page_source and "runs-box" not in driver.page_source, "without a token / shows the sign-in page")
        sign_in(WORKER)
        check("not accepted" in driver.page_source, "the worker token is refused by the dashboard")
        driver.get_log("browser")  # the 401 of that refusal is expected: clear it
        sign_in(CLIENT)
        check(driver.current_url.rstrip("/") == url, "the client token signs in and returns to /")

        rows = driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr[data-run]")
        check({r.get_attribute("data-run") for r in rows} == {finished, running}, "/ lists both runs")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#workers tbody tr[data-worker]")) >= 1, "/ lists the workers")
        time.sleep(2.5)  # one refresh cycle of the page's script
        check(console_errors() == [], "/ renders and refreshes with no console errors")
        driver.save_screenshot(os.path.join(artifacts, "dashboard-runs.png"))

        # The finished run: report with plots, one forest row per feature, the table's odds ratios.
        code, body = http(f"{url}/v1/runs/{finished}/report?format=json")
        report = json.loads(body)
        driver.get(f"{url}/runs/{finished}")
        time.sleep(1)
        check(console_errors() == [], f"/runs/{finished} renders with no console errors")
        for o in report["outcomes"]:
            # The intercept is in the table, not the plot.
            features = [f for f in o["features"] if not (f["name"] == "const" and f["group"] == "Intercept")]
            marks = driver.find_elements(By.CSS_SELECTOR, f'g.forest-row[data-outcome="{o["name"]}"]')
            check(len(marks) == len(features), f"forest plot of {o['name']}: {len(marks)} rows = {len(features)} features (intercept aside)")
            shown = {m.get_attribute("data-feature"): float(m.get_attribute("data-odds-ratio")) for m in marks}
            for f in features:
                got = shown.get(f["name"])
                if got is None or not math.isclose(got, f["oddsRatio"], rel_tol=1e-12):
                    fail(f"{o['name']} / {f['name']}: plotted odds ratio {got} != report {f['oddsRatio']}")
            check(True, f"forest plot of {o['name']}: every plotted odds ratio equals report.json's")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#report svg")) >= 1 + len(report["outcomes"]),
              "the run page shows the CV curve and a forest plot per outcome")
        driver.save_screenshot(os.path.join(artifacts, "dashboard-finished-run.png"))

        # The running run: numbers move without a reload.
        driver.get(f"{url}/runs/{running}")
        marker = driver.execute_script("window.__noReload = 1; return window.__noReload;")
        first = int(text_of("tasks-done"))
        first_res = int(text_of("resamples-done"))
        deadline = time.time() + 60
        moved = False
        while time.time() < deadline:
            time.sleep(1)
            done = int(text_of("tasks-done"))
            res = int(text_of("resamples-done"))
            if done > first and res > first_res:
                moved = True
                break
        check(moved, f"progress moves on the running run's page (tasks {first} -> {done}, resamples {first_res} -> {res})")
        check(driver.execute_script("return window.__noReload;") == marker, "... without a page reload")
        time.sleep(2)
        check("/s" in driver.find_element(By.ID, "throughput").text, f"throughput shown: {driver.find_element(By.ID, 'throughput').text!r}")
        eta = driver.find_element(By.ID, "eta").text
        check(eta not in ("", "–") and "could not" not in eta, f"ETA shown: {eta!r}")
        check(console_errors() == [], f"/runs/{running} refreshes with no console errors")
        driver.save_screenshot(os.path.join(artifacts, "dashboard-running-run.png"))
    finally:
        driver.quit()


def metrics_checks(url, runs):
    from prometheus_client.parser import text_string_to_metric_families

    code, body = http(url + "/metrics", token=WORKER)
    check(code == 401, "/metrics refuses the worker token")
    code, body = http(url + "/metrics")
    check(code == 200, "/metrics answers the client token")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    print(f"  /metrics: {len(samples)} samples parsed")

    def v(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        if key not in samples:
            fail(f"/metrics has no {name}{labels}")
        return samples[key]

    statuses = [run_status(url, r) for r in runs]
    done = sum(s["tasks"]["done"] for s in statuses)
    check(v("lassoboot_results_accepted_total") == done, f"results accepted {v('lassoboot_results_accepted_total')} = tasks done {done}")
    check(v("lassoboot_fit_seconds_count") == done, "one fit-time observation per accepted result")
    check(v("lassoboot_fit_seconds_sum") > 0, "fit time sum is positive")
    check(v("lassoboot_leases_issued_total") >= done, "leases issued >= results accepted")
    check(v("lassoboot_tasks_failed_total") == 0 and v("lassoboot_results_mismatched_duplicate_total") == 0, "no failed task, no mismatched duplicate")
    by_state = {}
    for s in statuses:
        by_state[s["state"]] = by_state.get(s["state"], 0) + 1
    for state in ["running", "done", "failed", "cancelled"]:
        check(v("lassoboot_runs", state=state) == by_state.get(state, 0), f"runs {state} = {by_state.get(state, 0)}")
    check(v("lassoboot_queue_depth") == v("lassoboot_tasks", state="queued"), "queue depth = queued tasks")
    check(v("lassoboot_workers_seen") >= 1, "workers seen")


def schemathesis_checks(binary, tmp, artifacts):
    # One token for both roles so every operation can be exercised; short long-polls.
    port = free_port()
    start([binary, "coordinator", "--port", str(port), "--db", os.path.join(tmp, "fuzz.db"), "--token", CLIENT,
           "--max-lease-wait", "0.2"], os.path.join(tmp, "fuzz.log"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if http(url + "/healthz", token=None)[0] == 200:
                break
        except OSError:
            time.sleep(0.05)
    # Something to find: a finished run, so ids and reports exist.
    submit(binary, url, tmp, "--resamples", "20")
    start([binary, "worker", "--coordinator", url, "--token", CLIENT, "--threads", "2", "--idle-exit", "2"], os.path.join(tmp, "fuzz-worker.log"))
    venv_bin = os.path.dirname(sys.executable)
    examples = os.environ.get("SCHEMATHESIS_EXAMPLES", "40")
    cmd = [os.path.join(venv_bin, "schemathesis"), "run", os.path.join(REPO, "Sources/Coordinator/openapi.json"),
           "--url", url, "-H", f"Authorization: Bearer {CLIENT}",
           "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
           "--max-examples", examples, "--generation-deterministic", "--request-timeout", "30",
           "--report", "junit", "--report-dir", artifacts]
    print("  $ " + " ".join(cmd))
    r = subprocess.run(cmd, timeout=1800)
    check(r.returncode == 0, f"schemathesis: every operation, {examples} examples each: no 5xx, responses match the document")
    code, _ = http(url + "/healthz", token=None)
    check(code == 200, "the coordinator still serves after the fuzzing")


def main():
    if len(sys.argv) != 3:
        fail("usage: web_test.py BINARY ARTIFACTS_DIR")
    binary, artifacts = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(artifacts, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="lassoboot-web.")
    try:
        url = coordinator(binary, tmp, "coord")
        finished = submit(binary, url, tmp, "--resamples", "60")
        start([binary, "worker", "--coordinator", url, "--token", WORKER, "--threads", "2", "--name", "web-w1"], os.path.join(tmp, "w1.log"))
        deadline = time.time() + 300
        while run_status(url, finished)["state"] != "done":
            if time.time() > deadline or run_status(url, finished)["state"] in ("failed", "cancelled"):
                fail(f"the first run did not finish: {run_status(url, finished)}")
            time.sleep(0.2)
        print(f"  run {finished} done")
        # A long run that keeps running while the browser watches (cancelled at the end).
        running = submit(binary, url, tmp, "--resamples", "200000")
        print("== browser")
        browser_checks(url, finished, running, artifacts)
        http(f"{url}/v1/runs/{running}/cancel", method="POST", data=b"")
        time.sleep(0.5)
        print("== metrics")
        metrics_checks(url, [finished, running])
        print("== schemathesis")
        schemathesis_checks(binary, tmp, artifacts)
        print(f"web_test: all checks passed (screenshots in {artifacts})")
    finally:
        stop_all()
        if os.environ.get("KEEP_WEB_TMP"):
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
