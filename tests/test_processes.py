"""No process outlives its command and nothing leaves the loopback (issue 13, items 15-16).

``hotspot backtest-grid`` (process workers) and ``hotspot nightly`` (the Prefect flow, on
a temporary Prefect server) run as real commands, each in its own session. A
``sitecustomize.py`` put on the children's ``PYTHONPATH`` (so every Python process they
start loads it: Dask workers, the Prefect server) records every name lookup and socket
connect. The environment carries none of the opt-outs (``DO_NOT_TRACK``,
``PREFECT_SERVER_ANALYTICS_ENABLED``, CI markers): the project must turn telemetry off
itself. Both commands run at the same time to keep the wall time down.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotspot.core.resources import embedded_path
from tests._nightly_setup import WARDS, nightly_config

pytestmark = pytest.mark.prefect

TIMEOUT_S = 300

SITECUSTOMIZE = '''
"""Test hook: record every name lookup and socket connect of this process."""
import json, os, socket

_LOG = os.environ["HOTSPOT_NET_LOG"]


def _record(kind, target):
    try:
        with open(_LOG, "a") as log:
            log.write(json.dumps({"pid": os.getpid(), "kind": kind, "target": target}) + "\\n")
    except Exception:
        pass


def _target(sock, address):
    if getattr(socket, "AF_UNIX", None) is not None and sock.family == socket.AF_UNIX:
        return ["unix", str(address)]
    if isinstance(address, tuple):
        return [str(address[0]), address[1] if len(address) > 1 else None]
    return [str(address), None]


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
_getaddrinfo, _create_connection = socket.getaddrinfo, socket.create_connection


def connect(self, address):
    _record("connect", _target(self, address))
    return _connect(self, address)


def connect_ex(self, address):
    _record("connect", _target(self, address))
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    _record("lookup", [None if host is None else str(host), None])
    return _getaddrinfo(host, *args, **kwargs)


def create_connection(address, *args, **kwargs):
    _record("connect", [str(address[0]), address[1]])
    return _create_connection(address, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection
_record("start", [" ".join(__import__("sys").argv)[:200], None])
'''

#: What the child must work out on its own; CI markers also switch Prefect's client
#: telemetry off, so they would hide a missing opt-out.
SCRUBBED = ("DO_NOT_TRACK", "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_API_URL",
            "CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "TRAVIS", "CIRCLECI",
            "BUILDKITE", "TF_BUILD", "CODEBUILD_BUILD_ID", "BITBUCKET_COMMIT",
            "TEAMCITY_VERSION", "DRONE", "SEMAPHORE", "APPVEYOR", "BUDDY", "CI_NAME")


@dataclass
class Finished:
    name: str
    returncode: int
    session: int
    left: list[str]
    records: list[dict]
    output: str
    seconds: float


def _session_processes(sid: int) -> list[str]:
    """``pid cmdline`` of every live (non-zombie) process in session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited while we looked
            continue
        state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if int(session) == sid and state != "Z":
            found.append(f"{entry.name} {cmd.strip()}")
    return found


def _kill_session(sid: int) -> None:
    """Clean up after a failing case (never reached when the command behaves)."""
    for line in _session_processes(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def _environment(root: Path) -> dict[str, str]:
    hook = root / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["PYTHONPATH"] = os.pathsep.join([str(hook), *filter(None, [env.get("PYTHONPATH")])])
    env["PREFECT_HOME"] = str(root / "prefect-home")
    env["HOTSPOT_NET_LOG"] = str(root / "net.jsonl")
    return env


def _start(name: str, args: list[str], root: Path) -> tuple[subprocess.Popen, float]:
    root.mkdir(parents=True, exist_ok=True)
    output = (root / "output.txt").open("wb")  # a file, not a pipe: a leftover holds no pipe
    process = subprocess.Popen(
        [sys.executable, "-c", "from hotspot.cli import app; app()", *args],
        cwd=root, env=_environment(root), stdout=output, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    output.close()
    return process, time.perf_counter()


def _finish(name: str, process: subprocess.Popen, started: float, root: Path) -> Finished:
    try:
        returncode = process.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill_session(process.pid)
        process.wait()
        returncode = -1
    seconds = time.perf_counter() - started
    left = _session_processes(process.pid)  # the session id is the leader's pid
    _kill_session(process.pid)
    log = root / "net.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return Finished(name, returncode, process.pid, left, records,
                    (root / "output.txt").read_text(errors="replace"), seconds)


def _nightly_config(root: Path) -> Path:
    return nightly_config(root, [f"2020-{m:02d}" for m in range(1, 7)], {
        "forecast": {"model": "naive-mean"},
        "nightly": {
            "sources": {"api": {"enabled": False}},
            "harm": {"boundaries": str(WARDS), "months": 3},
            "health": {"anomaly_history": 4},
        },
        "backtest": {"periods": 2, "n_bootstrap": 100, "baselines": ["naive-last"]},
    })


def _grid_store(store: Path) -> None:
    from hotspot.core.area import load_area
    from hotspot.ingest.police_uk import ingest_police_uk

    months = sorted(embedded_path("police-uk").glob("2020-*"))
    ingest_police_uk(months, store, area=load_area(WARDS))


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict[str, Finished]:
    """Both commands, started together, each in its own session, run to the end."""
    root = tmp_path_factory.mktemp("processes")
    grid_root, nightly_root = root / "grid", root / "nightly"
    grid_root.mkdir()
    _grid_store(grid_root / "store")
    nightly_root.mkdir()
    config = _nightly_config(nightly_root)
    started = {
        "backtest-grid": (_start("backtest-grid", [
            "backtest-grid", "--store", "store", "--models", "naive-last,naive-mean",
            "--from", "2020-10", "--to", "2020-12", "--out", "grid", "--workers", "2",
            "--processes", "--n-bootstrap", "100"], grid_root), grid_root),
        "nightly": (_start("nightly", ["nightly", "--config", str(config)], nightly_root),
                    nightly_root),
    }
    return {name: _finish(name, process, t0, where)
            for name, ((process, t0), where) in started.items()}


def _is_loopback(host: str | None) -> bool:
    if host in (None, "", "localhost", "unix"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host.endswith(".localhost")


@pytest.mark.parametrize("name", ["backtest-grid", "nightly"])
def test_command_leaves_no_process_and_no_off_machine_connection(finished, name):
    run = finished[name]
    assert run.returncode == 0, f"{name}: exit {run.returncode}\n{run.output[-3000:]}"
    assert run.left == [], f"{name}: processes outlived the command: {run.left}"
    outside = sorted({f"{r['kind']} {r['target'][0]}:{r['target'][1]}" for r in run.records
                      if r["kind"] != "start" and not _is_loopback(r["target"][0])})
    assert outside == [], f"{name}: attempted off the loopback: {outside}"
    # a heartbeat that fails before the network (e.g. at its database write) still ran
    assert "telemetry" not in run.output.lower(), f"{name}: telemetry ran\n{run.output}"
    processes = {r["pid"] for r in run.records if r["kind"] == "start"}
    # the hook saw the command and the processes it started (workers or the Prefect server)
    assert len(processes) >= 2, f"{name}: the hook ran in {len(processes)} process(es)"
    assert any(r["kind"] == "connect" for r in run.records), f"{name}: no connect recorded"
    print(f"{name}: {run.seconds:.1f} s, {len(processes)} processes")


def test_backtest_grid_ran_on_process_workers_without_prefect(finished):
    run = finished["backtest-grid"]
    assert "2 process workers" in run.output and "PAI@5%" in run.output, run.output[-2000:]
    assert "temporary server" not in run.output, run.output[-2000:]


def test_nightly_ran_as_a_prefect_flow_and_published(finished):
    run = finished["nightly"]
    starts = [r["target"][0] for r in run.records if r["kind"] == "start"]
    # the flow's one temporary server
    assert any("prefect.server.api.server:create_app" in s for s in starts), starts
    assert "forecast for 2020-07" in run.output, run.output[-2000:]
