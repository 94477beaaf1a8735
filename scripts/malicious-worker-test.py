#!/usr/bin/env python3
"""Hostile workers against a real coordinator (issue 14), driven by scripts/malicious-worker-test.sh.

While an honest `lassoboot worker` computes two runs, workers holding the worker token attack
over HTTP, each in its own way:

  forger     results under made-up lease ids, under another worker's name, for tasks it never
             leased: all refused (409), counted as `lassoboot_results_unleased_total`
  crossrun   its lease of run A used to hand in a result for the same key of run B: refused
  range      CV scores of -5, 12345 and NaN-like garbage, negative fold indices: 422
  coef       a bootstrap task answered with coefficients of the right shape but wrong values:
             refused (certificate fails, recomputation differs), the worker quarantined (403 after)
  spammer    leases whatever it can and reports an error for every task, for 12 s: errors from
             one worker count once, so no task and no run fails because of it

Then both runs must finish "done" with CSVs byte-identical to `lassoboot run`'s (checked by the
shell script) and /metrics must count what was refused. Prints one PASS/FAIL line per check.
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

URL, TOKEN, RUN_A, RUN_B, WIDTH, GRID = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
checks = []
lock = threading.Lock()


def check(ok, what):
    with lock:
        checks.append((ok, what))
        print(("PASS: " if ok else "FAIL: ") + what, flush=True)


def call(method, path, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def lease(worker, n=1, wait=1.0):
    status, body = call("POST", "/v1/lease", {"worker": worker, "host": "attacker", "threads": 1, "max": n, "wait": wait})
    if status != 200:
        return status, []
    return status, json.loads(body)["tasks"]


def submit(worker, task, result=None, lease_id=None, run=None, error=None, released=None):
    body = {"worker": worker, "run": run or task["run"], "key": task["key"], "lease": lease_id or task["lease"],
            "dataset": task["dataset"]}
    if result is not None:
        body["result"] = result
    if error is not None:
        body["error"] = error
    if released is not None:
        body["released"] = released
    status, text = call("POST", "/v1/results", body)
    return status, text.decode(errors="replace")


def release(worker, task):
    submit(worker, task, released=True)


def fake_result(task, cv_score=0.5):
    key = task["key"]
    if "cv" in key:
        return {"cv": {"failures": [None] * GRID, "heldOutWeight": 1.0, "scores": [cv_score] * GRID}}
    if "bootstrap" in key:
        n = key["bootstrap"]["end"] - key["bootstrap"]["start"]
        fit = {"coefficients": {"_0": [0.3] * WIDTH}}
        rows = [[fit, fit] for _ in range(n)]
        # The run's debiased intervals (Newton steps) need each resample's debiased estimate too:
        # the same right shape, wrong values, so the certificate (not the shape check) refuses it.
        return {"bootstrap": {"debiased": rows, "fits": rows}}
    if "estimate" in key:
        return {"estimate": {"_0": {"coefficients": {"_0": [0.3] * WIDTH}}, "iterations": 3, "kktViolation": 0}}
    if "jackknife" in key:
        n = key["jackknife"]["end"] - key["jackknife"]["start"]
        return {"jackknife": {"fits": [{"coefficients": {"_0": [0.3] * WIDTH}}] * n}}
    return {}


def forger():
    _, tasks = lease("forger", 2)
    if not tasks:
        check(False, "forger: got no lease to work from")
        return
    t = tasks[0]
    codes = [submit("forger", t, fake_result(t), lease_id="L1-0000000000000000")[0],   # made-up lease id
             submit("honest-impostor", t, fake_result(t))[0],                           # the lease is forger's, not this name's
             submit("forger", dict(t, key={"estimate": {"outcome": 0}}), fake_result(dict(t, key={"estimate": {"outcome": 0}})))[0]]  # a task it never leased
    check(all(c in (404, 409) for c in codes), f"forger: forged lease, impostor name, unleased task refused ({codes})")
    for x in tasks:
        release("forger", x)


def crossrun():
    deadline = time.time() + 20
    while time.time() < deadline:
        _, tasks = lease("crossrun", 1)
        for t in tasks:
            if t["run"] == RUN_A:
                code, text = submit("crossrun", t, fake_result(t), run=RUN_B)
                check(code in (404, 409, 422), f"crossrun: a lease of run A used for run B refused ({code})")
                release("crossrun", t)
                return
            release("crossrun", t)
    check(False, "crossrun: never leased a task of run A")


def out_of_range():
    deadline = time.time() + 20
    while time.time() < deadline:
        _, tasks = lease("range", 1)
        for t in tasks:
            if "cv" in t["key"]:
                codes = [submit("range", t, fake_result(t, s))[0] for s in (-5, 12345, 1.5)]
                bad_key = dict(t, key={"cv": {"outcome": -1, "fold": 0}})
                codes.append(submit("range", bad_key, fake_result(t))[0])
                bad_key = dict(t, key={"cv": {"outcome": 0, "fold": -1}})
                codes.append(submit("range", bad_key, fake_result(t))[0])
                check(all(c == 422 for c in codes[:3]) and all(c in (404, 409, 422) for c in codes[3:]),
                      f"range: scores -5, 12345, 1.5 and negative outcome/fold refused ({codes})")
                release("range", t)
                return
            release("range", t)
    check(False, "range: never leased a CV task")


def coef():
    deadline = time.time() + 60
    while time.time() < deadline:
        status, tasks = lease("coef", 1)
        for t in tasks:
            if "bootstrap" in t["key"]:
                code, text = submit("coef", t, fake_result(t))
                check(code == 422 and "quarantined" in text, f"coef: wrong coefficients of the right shape refused, worker quarantined ({code}: {text[:140]})")
                status, _ = lease("coef", 1, wait=0)
                check(status == 403, f"coef: a quarantined worker gets no more leases ({status})")
                return
            release("coef", t)
        time.sleep(0.05)
    check(False, "coef: never leased a bootstrap task")


def spammer():
    end, reported, answers = time.time() + 12, 0, set()
    while time.time() < end:
        _, tasks = lease("spammer", 4, wait=0.5)
        for t in tasks:
            code, text = submit("spammer", t, error="boom (deliberate)")
            answers.add(code)
            reported += 1
    check(reported > 0, f"spammer: reported {reported} errors (answers {sorted(answers)})")


attackers = [threading.Thread(target=f) for f in (forger, crossrun, out_of_range, coef, spammer)]
for a in attackers:
    a.start()
for a in attackers:
    a.join()

# What the coordinator counted.
status, body = call("GET", "/metrics")
metrics = {}
for line in body.decode().splitlines():
    if line.startswith("lassoboot_") and " " in line:
        name, value = line.rsplit(" ", 1)
        try:
            metrics[name] = float(value)
        except ValueError:
            pass
m = lambda n: metrics.get(n, 0)
check(m("lassoboot_results_unleased_total") >= 3, f"metrics: results_unleased_total = {m('lassoboot_results_unleased_total'):.0f} (>= 3)")
check(m("lassoboot_results_rejected_total") >= 8, f"metrics: results_rejected_total = {m('lassoboot_results_rejected_total'):.0f} (>= 8)")
check(m("lassoboot_workers_quarantined_total") == 1, f"metrics: workers_quarantined_total = {m('lassoboot_workers_quarantined_total'):.0f} (== 1)")
check(m("lassoboot_results_uncertified_total") >= 1, f"metrics: results_uncertified_total = {m('lassoboot_results_uncertified_total'):.0f} (>= 1)")
print(f"attack checks: {sum(ok for ok, _ in checks)} passed, {sum(not ok for ok, _ in checks)} failed", flush=True)
sys.exit(0 if all(ok for ok, _ in checks) else 1)
