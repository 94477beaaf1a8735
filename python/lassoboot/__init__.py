"""lassoboot from Python: sparse logistic models with honest uncertainty.

L1-penalized logistic regression with the penalty chosen by cross-validation and confidence
intervals that say what they cover (debiased Wald and bootstrap intervals, stability selection),
computed by the ``lassoboot`` binary this package carries, on this machine (:func:`run`,
:func:`fit`) or on a coordinator and its workers (:class:`Client`). Results are pandas
DataFrames.

Errors from the binary (a missing column, a non-binary outcome, a coordinator that refuses a
token) raise :class:`LassobootError` with the binary's one-line message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import pandas as pd

__version__ = "0.1.0"
__all__ = ["run", "fit", "Client", "Result", "FitResult", "LassobootError", "binary", "__version__"]

DataLike = Union[str, os.PathLike, pd.DataFrame]


class LassobootError(RuntimeError):
    """A lassoboot command or coordinator request failed; ``str(error)`` is its one-line message."""

    def __init__(self, message: str, stderr: str = "", returncode: Optional[int] = None, status: Optional[int] = None):
        super().__init__(message)
        self.stderr = stderr
        self.returncode = returncode
        self.status = status


def binary() -> str:
    """Path of the lassoboot binary: the one in this package, else ``$LASSOBOOT_BIN``, else PATH."""
    packaged = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "lassoboot")
    for candidate in (packaged, os.environ.get("LASSOBOOT_BIN")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("lassoboot")
    if found:
        return found
    raise LassobootError("no lassoboot binary: this package carries none and neither $LASSOBOOT_BIN nor PATH has one")


def _message(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("Error: "):
            return line[len("Error: "):]
    return lines[-1] if lines else "lassoboot failed without a message"


def _call(args: Sequence[str], env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    done = subprocess.run([binary(), *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise LassobootError(_message(done.stderr), stderr=done.stderr, returncode=done.returncode)
    return done


def _as_csv(data: DataLike, directory: str) -> str:
    """A CSV path for `data`: a DataFrame is written without its index (the index is row labels,
    not a feature); a path is used as it is."""
    if isinstance(data, pd.DataFrame):
        path = os.path.join(directory, "data.csv")
        data.to_csv(path, index=False)
        return path
    path = os.fspath(data)
    if not os.path.exists(path):
        raise LassobootError(f"{path}: no such file")
    return os.path.abspath(path)


def _names(value: Union[str, Iterable[str], None]) -> List[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@dataclass
class Result:
    """A finished run's results.

    ``table`` has one row per outcome x feature (the intercept included, as ``const``): the
    penalized coefficient and odds ratio, every interval the run computed (``percentileLow``,
    ``debiasedWaldLow``, ...), the selection frequency and the flags; the README's "Which
    interval to report" says what each covers.
    """

    table: pd.DataFrame
    cv: pd.DataFrame
    replicates: Optional[pd.DataFrame]
    report: Dict[str, Any]
    directory: Optional[str] = None
    report_html_path: Optional[str] = None
    model_path: Optional[str] = None
    run_id: Optional[str] = None

    def __repr__(self) -> str:
        outcomes = ", ".join(o.get("name", "?") for o in self.report.get("outcomes", []))
        return f"<lassoboot.Result {outcomes}: {len(self.table)} rows{', run ' + self.run_id if self.run_id else ''}>"


def _read_dir(directory: str, run_id: Optional[str] = None) -> Result:
    def path(name: str) -> str:
        return os.path.join(directory, name)

    with open(path("report.json")) as f:
        report = json.load(f)
    replicates = pd.read_csv(path("replicates.csv")) if os.path.exists(path("replicates.csv")) else None
    return Result(
        table=pd.read_csv(path("report.csv")), cv=pd.read_csv(path("cv.csv")), replicates=replicates, report=report,
        directory=directory,
        report_html_path=path("report.html") if os.path.exists(path("report.html")) else None,
        model_path=path("model.json") if os.path.exists(path("model.json")) else None, run_id=run_id)


def _run_options(resamples, seed, folds, positive, standardize, delimiter) -> List[str]:
    args: List[str] = []
    if resamples is not None:
        args += ["--resamples", str(int(resamples))]
    if seed is not None:
        args += ["--seed", str(int(seed))]
    if folds is not None:
        args += ["--folds", str(int(folds))]
    if positive is not None:
        args += ["--positive", str(positive)]
    if standardize is not None:
        args.append("--standardize" if standardize else "--no-standardize")
    if delimiter is not None:
        args += ["--delimiter", delimiter]
    return args


def run(data: Optional[DataLike] = None, outcome: Union[str, Sequence[str], None] = None, exclude: Sequence[str] = (),
        resamples: Optional[int] = 1999, seed: Optional[int] = 1, threads: Optional[int] = None, *, job: Optional[str] = None,
        folds: Optional[int] = None, positive: Optional[str] = None, standardize: Optional[bool] = None,
        delimiter: Optional[str] = None, out: Optional[str] = None) -> Result:
    """Runs the whole analysis here (``lassoboot run``): cross-validation, bootstrap and the
    intervals, with a coordinator and workers inside this process's child.

    ``data`` is a DataFrame or a CSV path; every column except ``outcome`` and ``exclude`` is a
    numeric feature (booleans are 0/1; the DataFrame's index is not a column). With ``job`` (a
    job spec path) the spec says which columns are what, and ``data``, if given, replaces its CSV.
    ``threads`` defaults to every core. The files (report.csv/json/html, cv.csv, replicates.csv,
    model.json) go to ``out`` if given, else a temporary directory that lives as long as the
    process (``Result.directory``).
    """
    if job is None and (data is None or not _names(outcome)):
        raise LassobootError("run needs data and an outcome (or a job spec)")
    directory = os.path.abspath(out) if out else tempfile.mkdtemp(prefix="lassoboot-")
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lassoboot-data-") as scratch:
        args = ["run"] + ([job] if job else [])
        if data is not None:
            args += ["--data", _as_csv(data, scratch)]
        for o in _names(outcome):
            args += ["--outcome", o]
        for e in exclude:
            args += ["--exclude", e]
        args += _run_options(resamples, seed, folds, positive, standardize, delimiter)
        args += ["--threads", str(int(threads or os.cpu_count() or 1)), "--quiet", "--format", "csv", "--out", directory]
        _call(args)
    return _read_dir(directory)


@dataclass
class FitResult:
    """One penalized fit at a given alpha (``lassoboot fit``): ``coefficients`` has one row per
    column (``const`` first) with coef, odds ratio and, for the selected ones, Wald intervals
    conditional on the selection (statsmodels' ``conf_int()`` of an L1 fit, not honest
    intervals); ``info`` has the objective, KKT violation, iterations and settings."""

    outcome: str
    coefficients: pd.DataFrame
    info: Dict[str, Any] = field(default_factory=dict)


def fit(data: DataLike, outcome: Union[str, Sequence[str]], alpha: float, exclude: Sequence[str] = (), *,
        scale: str = "sum", standardize: bool = False, penalize_intercept: bool = False,
        level: Optional[float] = None) -> Union[FitResult, Dict[str, FitResult]]:
    """Fits the lasso at one ``alpha`` (``lassoboot fit``); a dict by outcome when several are given."""
    outcomes = _names(outcome)
    if not outcomes:
        raise LassobootError("fit needs an outcome")
    with tempfile.TemporaryDirectory(prefix="lassoboot-data-") as scratch:
        args = ["fit", "--data", _as_csv(data, scratch), "--alpha", repr(float(alpha)), "--scale", scale, "--format", "json"]
        for o in outcomes:
            args += ["--outcome", o]
        for e in exclude:
            args += ["--exclude", e]
        args.append("--standardize" if standardize else "--no-standardize")
        if penalize_intercept:
            args.append("--penalize-intercept")
        if level is not None:
            args += ["--level", repr(float(level))]
        parsed = json.loads(_call(args).stdout)
    fits = parsed if isinstance(parsed, list) else [parsed]
    results = {}
    for f in fits:
        coefficients = pd.DataFrame(f.get("coefficients", []))
        info = {k: v for k, v in f.items() if k != "coefficients"}
        results[f.get("outcome", outcomes[0])] = FitResult(outcome=f.get("outcome", outcomes[0]), coefficients=coefficients, info=info)
    return results[outcomes[0]] if len(outcomes) == 1 and isinstance(outcome, str) else results


class Client:
    """A lassoboot coordinator over HTTP: submit runs, follow them, fetch their results.

    ``token`` defaults to ``$LASSOBOOT_TOKEN`` (the client token, or the coordinator's single
    token). Submitting goes through this package's binary (``lassoboot submit``), which uploads
    the data only when the coordinator does not have it yet.
    """

    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 60):
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("LASSOBOOT_TOKEN")
        self.timeout = timeout

    def _get(self, path: str, query: Optional[Dict[str, str]] = None, timeout: Optional[float] = None) -> bytes:
        url = f"{self.url}/{path}" + (("?" + urllib.parse.urlencode(query)) if query else "")
        request = urllib.request.Request(url)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                message = json.loads(body).get("error") or body.decode(errors="replace")
            except ValueError:
                message = body.decode(errors="replace")[:300]
            raise LassobootError(f"the coordinator answered {e.code}: {message}", status=e.code) from None
        except urllib.error.URLError as e:
            raise LassobootError(f"coordinator unreachable: {self.url}: {e.reason}") from None

    def submit(self, data: Optional[DataLike] = None, outcome: Union[str, Sequence[str], None] = None,
               exclude: Sequence[str] = (), resamples: Optional[int] = None, seed: Optional[int] = None, *,
               job: Optional[str] = None, folds: Optional[int] = None, positive: Optional[str] = None,
               standardize: Optional[bool] = None) -> str:
        """Submits a run and returns its id at once. Either ``job`` (a job spec path) or ``data``
        with ``outcome`` (every other column but ``exclude`` a numeric feature, 10-fold CV and
        standardized features, as ``lassoboot run --data``)."""
        env = dict(os.environ)
        if self.token:
            env["LASSOBOOT_TOKEN"] = self.token
        with tempfile.TemporaryDirectory(prefix="lassoboot-submit-") as scratch:
            if job is None:
                if data is None or not _names(outcome):
                    raise LassobootError("submit needs data and an outcome (or a job spec)")
                csv = _as_csv(data, scratch)
                spec: Dict[str, Any] = {
                    "name": os.path.splitext(os.path.basename(csv))[0] if not isinstance(data, pd.DataFrame) else "DataFrame",
                    "data": {"csv": csv},
                    "features": "all",
                    "outcomes": [{"name": o} if positive is None else {"name": o, "positive": positive} for o in _names(outcome)],
                    "cv": {"folds": int(folds) if folds is not None else 10},
                }
                if exclude:
                    spec["exclude"] = list(exclude)
                if standardize is not None:
                    spec["penalty"] = {"standardize": bool(standardize)}
                job = os.path.join(scratch, "job.json")
                with open(job, "w") as f:
                    json.dump(spec, f)
            args = ["submit", os.fspath(job), "--coordinator", self.url]
            if resamples is not None:
                args += ["--resamples", str(int(resamples))]
            if seed is not None:
                args += ["--seed", str(int(seed))]
            done = _call(args, env=env)
        return done.stdout.strip().splitlines()[-1]

    def status(self, run_id: str) -> Dict[str, Any]:
        """The run's state (``running``, ``done``, ``failed``, ``cancelled``), phase and progress."""
        return json.loads(self._get(f"v1/runs/{urllib.parse.quote(run_id)}"))

    def wait(self, run_id: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Waits until the run ends (long polls); raises if it failed or ``timeout`` seconds pass."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = json.loads(self._get(f"v1/runs/{urllib.parse.quote(run_id)}", {"wait": "1"}))
            if status.get("state") == "done":
                return status
            if status.get("state") != "running":
                raise LassobootError(f"run {run_id} {status.get('state')}: {status.get('error', '')}")
            if deadline is not None and time.monotonic() > deadline:
                raise LassobootError(f"run {run_id} still running after {timeout} s")

    def results(self, run_id: str, out: Optional[str] = None) -> Result:
        """The finished run's results, as :func:`run` returns them (files written to ``out``, else
        a temporary directory)."""
        directory = os.path.abspath(out) if out else tempfile.mkdtemp(prefix="lassoboot-")
        os.makedirs(directory, exist_ok=True)
        quoted = urllib.parse.quote(run_id)
        for fmt, name in [("json", "report.json"), ("csv", "report.csv"), ("cv", "cv.csv"), ("replicates", "replicates.csv"),
                          ("html", "report.html"), ("model", "model.json")]:
            with open(os.path.join(directory, name), "wb") as f:
                f.write(self._get(f"v1/runs/{quoted}/report", {"format": fmt}))
        return _read_dir(directory, run_id=run_id)
