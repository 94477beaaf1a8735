"""The Python package against the binary it carries and a live coordinator (issue 13).

Run by scripts/python-test.sh in a fresh venv where the wheel is installed and no Swift
toolchain is on PATH. REPO is the repository (for jobs/demo.json).
"""

import json
import os
import shutil
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

import lassoboot

REPO = os.environ.get("LASSOBOOT_REPO", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


@pytest.fixture(scope="module")
def frame():
    """Continuous, unstandardized features with a named string index and a boolean outcome."""
    rng = np.random.default_rng(7)
    n = 400
    x1 = rng.normal(10, 3, n)         # units of 3
    x2 = rng.normal(0, 0.01, n)       # tiny units
    x3 = rng.integers(0, 2, n)        # an indicator
    noise = rng.normal(0, 1, n)
    eta = -0.5 + 0.3 * (x1 - 10) + 80 * x2 + 0.8 * x3
    y = rng.random(n) < 1 / (1 + np.exp(-eta))
    df = pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "noise": noise, "y": y, "id": np.arange(n)},
                      index=pd.Index([f"p{i:04d}" for i in range(n)], name="patient"))
    return df


def test_packaged_binary_is_used():
    path = lassoboot.binary()
    assert path.endswith(os.path.join("lassoboot", "bin", "lassoboot")), path
    assert shutil.which("swift") is None, "the test runs without a Swift toolchain on PATH"
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith(lassoboot.__version__ + " (commit "), out


def test_run_dataframe_matches_the_binary(frame, tmp_path):
    result = lassoboot.run(frame, outcome="y", exclude=["id"], resamples=60, seed=3, threads=2)
    table = result.table
    assert set(table["feature"]) == {"const", "x1", "x2", "x3", "noise"}, "the index and excluded columns are not features"
    assert (table["outcome"] == "y").all()
    for column in ["coef", "oddsRatio", "percentileLow", "percentileHigh", "debiasedWaldLow", "debiasedWaldHigh",
                   "selectionFrequency", "flags"]:
        assert column in table.columns
    assert (table["resamples"] == 60).all()
    # The same CSV through the binary by hand gives the same table, number for number.
    csv = tmp_path / "same.csv"
    frame.to_csv(csv, index=False)
    direct = subprocess.run([lassoboot.binary(), "run", "--data", str(csv), "--outcome", "y", "--exclude", "id",
                             "--resamples", "60", "--seed", "3", "--threads", "2", "--quiet", "--format", "csv"],
                            capture_output=True, text=True, check=True).stdout
    with open(os.path.join(result.directory, "report.csv")) as f:
        assert f.read() == direct
    # The files a user opens next.
    assert result.report_html_path and os.path.getsize(result.report_html_path) > 1000
    assert result.replicates is not None and len(result.replicates) >= 60
    assert {"alpha"} <= set(result.cv.columns)
    assert result.report["outcomes"][0]["name"] == "y"
    # Signals are found; the debiased interval of the strong feature excludes 1.
    x1 = table[table["feature"] == "x1"].iloc[0]
    assert x1["debiasedWaldLow"] > 0


def test_run_job_with_data_path():
    result = lassoboot.run(os.path.join(REPO, "jobs/demo/demo.csv"), job=os.path.join(REPO, "jobs/demo.json"),
                           resamples=49, threads=2)
    assert sorted(result.table["outcome"].unique()) == ["isForcedLabour", "isSexualExploit"]
    assert len(result.table) == 2 * 19


def test_errors_carry_the_binarys_one_line_message(frame, tmp_path):
    bad = frame.assign(y=np.where(frame["y"], 2, 0))
    with pytest.raises(lassoboot.LassobootError) as e:
        lassoboot.run(bad, outcome="y", exclude=["id"], resamples=20)
    message = str(e.value)
    assert "'y'" in message and "expected 0 or 1" in message and "\n" not in message, message
    assert e.value.returncode not in (None, 0)
    with pytest.raises(lassoboot.LassobootError, match="no column named 'nope'"):
        lassoboot.run(frame, outcome="nope", resamples=20)
    with pytest.raises(lassoboot.LassobootError, match="no such file"):
        lassoboot.run(str(tmp_path / "missing.csv"), outcome="y")


def test_fit(frame):
    f = lassoboot.fit(frame, outcome="y", alpha=2.0, exclude=["id"])
    assert list(f.coefficients["name"]) == ["const", "x1", "x2", "x3", "noise"]
    assert f.info["kktViolation"] < 1e-9
    assert f.info["outcome"] == "y" and f.info["alpha"] == 2.0
    # Odds ratios are exp(coef).
    assert np.allclose(np.exp(f.coefficients["coef"]), f.coefficients["oddsRatio"], rtol=1e-12)
    both = lassoboot.fit(frame.assign(z=frame["x3"] == 1), outcome=["y", "z"], alpha=2.0, exclude=["id", "x3"])
    assert set(both) == {"y", "z"}


@pytest.fixture()
def coordinator(tmp_path):
    token = "py-test-token"
    env = dict(os.environ, LASSOBOOT_TOKEN=token)
    log = open(tmp_path / "coordinator.log", "w+")
    coord = subprocess.Popen([lassoboot.binary(), "coordinator", "--port", "0", "--db", str(tmp_path / "c.db")],
                             stdout=log, stderr=subprocess.STDOUT, env=env)
    url = None
    for _ in range(200):
        log.seek(0)
        for line in log.read().splitlines():
            if "listening on http" in line:
                url = line.split("listening on ")[1].split()[0]
        if url:
            break
        time.sleep(0.05)
    assert url, "coordinator did not start"
    worker = subprocess.Popen([lassoboot.binary(), "worker", "--coordinator", url, "--threads", "2", "--name", "py"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    yield url, token
    for p in (worker, coord):
        p.terminate()
    for p in (worker, coord):
        p.wait(timeout=30)


def test_client_round_trip(frame, coordinator):
    url, token = coordinator
    client = lassoboot.Client(url, token=token)
    run_id = client.submit(frame, outcome="y", exclude=["id"], resamples=60, seed=3)
    assert run_id.startswith("run-")
    assert client.status(run_id)["state"] in ("running", "done")
    assert client.wait(run_id, timeout=300)["state"] == "done"
    remote = client.results(run_id)
    local = lassoboot.run(frame, outcome="y", exclude=["id"], resamples=60, seed=3, threads=2)
    pd.testing.assert_frame_equal(remote.table, local.table)
    with open(os.path.join(remote.directory, "report.csv")) as a, open(os.path.join(local.directory, "report.csv")) as b:
        assert a.read() == b.read(), "the coordinator's table is byte-identical to lassoboot run's"
    assert remote.run_id == run_id and remote.replicates is not None and remote.model_path
    with open(remote.model_path) as f:
        assert json.load(f)["format"].startswith("lassoboot-model/")
    with pytest.raises(lassoboot.LassobootError) as e:
        lassoboot.Client(url, token="wrong").status(run_id)
    assert e.value.status == 401
    with pytest.raises(lassoboot.LassobootError, match="404"):
        client.status("run-does-not-exist")
