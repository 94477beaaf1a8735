#!/usr/bin/env python3
"""Hostile HTTP clients for scripts/hostile-client-test.sh (issue 14).

Each subcommand attacks a running coordinator and prints one line per check, `ok: ...` or
`FAIL: ...`; the shell script counts them. Standard library only; every socket has a timeout.
"""
import hashlib
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse


def parse(url):
    u = urllib.parse.urlparse(url)
    return u.hostname, u.port


def request(url, method, path, body=None, headers=None, timeout=10):
    host, port = parse(url)
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def report(ok, what, detail=""):
    print(("ok: " if ok else "FAIL: ") + what + ("" if ok or not detail else f" ({detail})"), flush=True)


def error_message(body):
    try:
        return json.loads(body).get("error", "")
    except Exception:
        return body[:200].decode("utf-8", "replace")


def login(url):
    """Malformed form bodies on POST /login: 400, never a crash."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in [b"token=a b", b"token=%zz", b"%", b"token=%", b"token=x&next=/\\evil", b"token=%E0%80", b"\xff\xfe"]:
        try:
            status, _ = request(url, "POST", "/login", body, form)
            report(status == 400, f"POST /login {body!r} -> 400", f"got {status}")
        except Exception as e:
            report(False, f"POST /login {body!r} -> 400", repr(e))


def results(url, token, run, dataset):
    """Results keyed with negative or inverted indices: 422 (or 400), never a crash."""
    fit = {"coefficients": {"_0": [0.0] * 20}}
    cv = {"cv": {"failures": [None], "heldOutWeight": 1, "scores": [0.5]}}
    cases = [
        ({"cv": {"fold": 0, "outcome": -1}}, cv),
        ({"cv": {"fold": -1, "outcome": 0}}, cv),
        ({"estimate": {"outcome": -1}}, {"estimate": {"_0": fit, "iterations": 1, "kktViolation": 0}}),
        ({"bootstrap": {"end": -4, "start": -5}}, {"bootstrap": {"fits": [[fit, fit]]}}),
        ({"bootstrap": {"end": 1, "start": 3}}, {"bootstrap": {"fits": []}}),
        ({"bootstrap": {"end": 9223372036854775807, "start": -9223372036854775808}}, {"bootstrap": {"fits": []}}),
        ({"jackknife": {"end": 1, "outcome": -1, "start": 0}}, {"jackknife": {"fits": [fit]}}),
        ({"jackknife": {"end": -1, "outcome": 0, "start": -2}}, {"jackknife": {"fits": [fit]}}),
    ]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for key, result in cases:
        body = json.dumps({"worker": "hostile", "run": run, "key": key, "lease": "forged", "dataset": dataset, "result": result})
        try:
            status, reply = request(url, "POST", "/v1/results", body.encode(), headers)
            report(status in (400, 422), f"result keyed {json.dumps(key)} -> 422", f"got {status} {error_message(reply)}")
        except Exception as e:
            report(False, f"result keyed {json.dumps(key)} -> 422", repr(e))


def dataset(url, token, size, limit):
    """A dataset over --max-dataset-bytes: 413 naming the limit (announced, and sent in chunks)."""
    data = os.urandom(size // 2).hex().encode()[:size]
    digest = hashlib.sha256(data).hexdigest()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    try:
        status, reply = request(url, "PUT", f"/v1/datasets/{digest}", data, headers, timeout=30)
        msg = error_message(reply)
        report(status == 413 and str(limit) in msg, f"PUT dataset of {size} bytes (limit {limit}) -> 413 naming the limit", f"got {status} {msg}")
    except Exception as e:
        report(False, "PUT oversized dataset -> 413", repr(e))
    # Chunked, no Content-Length: refused while reading.
    host, port = parse(url)
    try:
        c = http.client.HTTPConnection(host, port, timeout=30)
        c.putrequest("PUT", f"/v1/datasets/{digest}")
        c.putheader("Authorization", f"Bearer {token}")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        chunk = 64 << 10
        try:
            for i in range(0, len(data), chunk):
                part = data[i:i + chunk]
                c.send(b"%x\r\n" % len(part) + part + b"\r\n")
            c.send(b"0\r\n\r\n")
        except OSError:
            pass  # the coordinator may answer and close before the whole body is sent
        r = c.getresponse()
        reply = r.read()
        report(r.status == 413, "PUT oversized dataset, chunked -> 413", f"got {r.status} {error_message(reply)}")
        c.close()
    except Exception as e:
        report(False, "PUT oversized dataset, chunked -> 413", repr(e))


def auth(url, token):
    """/openapi.json needs the client token; the bearer scheme is case-insensitive."""
    for path, headers, want in [
        ("/openapi.json", {}, 401),
        ("/openapi.json", {"Authorization": f"Bearer {token}"}, 200),
        ("/v1/runs", {"Authorization": f"bearer {token}"}, 200),
        ("/v1/runs", {"Authorization": f"BEARER {token}"}, 200),
        ("/v1/runs", {"Authorization": f"Basic {token}"}, 401),
        ("/healthz", {}, 200),
        # Malformed percent-encoding in queries and the cookie: answered, not a crash.
        ("/login?next=%zz%", {}, 200),
        ("/v1/runs/run-x?wait=%zz", {"Authorization": f"Bearer {token}"}, 400),
        ("/v1/runs/%zz%", {"Authorization": f"Bearer {token}"}, (400, 404)),
        ("/v1/runs", {"Cookie": "lassoboot_token=%zz%"}, 401),
    ]:
        try:
            status, _ = request(url, "GET", path, None, headers)
            allowed = want if isinstance(want, tuple) else (want,)
            how = (list(headers)[0] + ": " + list(headers.values())[0].split(" ")[0]) if headers else "no token"
            report(status in allowed, f"GET {path} ({how}) -> {'/'.join(map(str, allowed))}", f"got {status}")
        except Exception as e:
            report(False, f"GET {path}", repr(e))


def health_once(url, timeout):
    t0 = time.monotonic()
    status, body = request(url, "GET", "/healthz", timeout=timeout)
    return status == 200 and body == b"ok\n", time.monotonic() - t0


def idle(url, count, idle_timeout, slow):
    """`count` idle connections (and `slow` that dribble a header byte a second): /healthz keeps
    answering while they are open, and the coordinator closes them all within its idle timeout."""
    host, port = parse(url)
    socks = []
    t0 = time.monotonic()
    failed_connects = 0
    for i in range(count + slow):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((host, port))
            s.setblocking(False)
            socks.append(s)
        except OSError:
            failed_connects += 1
            s.close()
    opened = time.monotonic() - t0
    print(f"  opened {len(socks)} connections in {opened:.2f} s ({failed_connects} failed)", flush=True)
    report(failed_connects == 0, f"{count + slow} connections opened", f"{failed_connects} failed")
    # /healthz while they are all open.
    worst, ok_all = 0.0, True
    for _ in range(10):
        try:
            ok, dt = health_once(url, 10)
        except Exception:
            ok, dt = False, 10
        ok_all &= ok
        worst = max(worst, dt)
        time.sleep(0.1)
    report(ok_all, f"/healthz answers with {len(socks)} idle connections open (worst {worst * 1000:.0f} ms)")
    # Slowloris: a header byte a second on the last `slow` sockets; wait for the server to close all.
    slow_socks = socks[count:]
    header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    open_socks = set(range(len(socks)))
    closed_at = {}
    deadline = time.monotonic() + idle_timeout + 15
    sent = 0
    while open_socks and time.monotonic() < deadline:
        if sent < len(header):
            for j, s in enumerate(slow_socks):
                if count + j in open_socks:
                    try:
                        s.send(header[sent:sent + 1])
                    except OSError:
                        pass
            sent += 1
        end = time.monotonic() + 1
        while time.monotonic() < end:
            for i in list(open_socks):
                try:
                    data = socks[i].recv(4096)
                    if data == b"" or data:
                        # EOF (or an error response before EOF): the server is done with it.
                        if data == b"":
                            open_socks.discard(i)
                            closed_at[i] = time.monotonic() - t0
                except BlockingIOError:
                    pass
                except OSError:
                    open_socks.discard(i)
                    closed_at[i] = time.monotonic() - t0
            time.sleep(0.05)
    last = max(closed_at.values()) if closed_at else float("nan")
    slow_closed = sum(1 for i in closed_at if i >= count)
    print(f"  closed by the coordinator: {len(closed_at)} of {len(socks)} (slowloris {slow_closed} of {slow}); "
          f"last closed {last:.1f} s after opening began (idle timeout {idle_timeout} s)", flush=True)
    report(not open_socks, f"all {len(socks)} idle/slowloris connections closed by the idle timeout",
           f"{len(open_socks)} still open after {idle_timeout + 15} s")
    for s in socks:
        s.close()


def flood(url, count, hold):
    """More connections than the coordinator may serve (its cap, or its descriptor limit): it
    stays up and /healthz is answered within the idle timeout."""
    host, port = parse(url)
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect((host, port))
            socks.append(s)
        except OSError:
            s.close()
    try:
        ok, dt = health_once(url, hold)
    except Exception as e:
        ok, dt = False, hold
    report(ok, f"/healthz answered within {hold} s while {len(socks)} connections were pushed at the cap ({dt:.1f} s)")
    for s in socks:
        s.close()


def healthmon(url, stop_file, out_file):
    """Polls /healthz until stop_file exists; writes `polls failures worst_ms`."""
    polls = failures = 0
    worst = 0.0
    while not os.path.exists(stop_file):
        try:
            ok, dt = health_once(url, 5)
        except Exception:
            ok, dt = False, 5
        polls += 1
        failures += 0 if ok else 1
        worst = max(worst, dt)
        time.sleep(0.2)
    with open(out_file, "w") as f:
        f.write(f"{polls} {failures} {worst * 1000:.0f}\n")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "login":
        login(*args)
    elif cmd == "results":
        results(*args)
    elif cmd == "dataset":
        dataset(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "auth":
        auth(*args)
    elif cmd == "idle":
        idle(args[0], int(args[1]), float(args[2]), int(args[3]))
    elif cmd == "flood":
        flood(args[0], int(args[1]), float(args[2]))
    elif cmd == "healthmon":
        healthmon(*args)
    else:
        sys.exit(f"unknown command {cmd}")
