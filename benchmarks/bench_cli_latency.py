"""How long a user waits for the first sign of life from ``hotspot backtest``.

    .venv/bin/python benchmarks/bench_cli_latency.py [--out DIR] [--repeat N]
        [--models NAME[,NAME]] [--label NAME] [--baseline TREE]

Builds a store from the shipped sample (``data/police-uk``, City wards) under
``--out/work``, then runs ``hotspot backtest`` on it as its own process on a
pseudo-terminal (progress bars are drawn only on a terminal) and records, per run, the
seconds from start to the first byte printed, to the first text naming a model, to the
first progress bar (its ETA column), to the first ETA estimate, and to exit. Medians over
``--repeat`` runs are reported.

``--baseline TREE`` also times the same command on another source tree laid out as the
installed package (``TREE/hotspot/...``, e.g. ``git archive`` of an older commit's
``src`` and layer folders), alternating the two runs so a busy machine slows both alike.
Writes ``cli_latency[-LABEL].json`` and ``.md`` under ``--out`` (nothing elsewhere).
"""

from __future__ import annotations

import os
import pty
import re
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import make_parser, write_json, write_text

from hotspot.core.resources import embedded_path

CLI = "from hotspot.cli import app; app()"
#: Escape sequences of the live display, removed before the text is searched.
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r")
#: The ETA column of a bar (``-:--:--`` until a step is done), and a real estimate.
_BAR = re.compile(rb"eta\s*[-0-9]+:[-0-9]{2}:[-0-9]{2}", re.IGNORECASE)
_ETA = re.compile(rb"eta\s*[0-9]+:[0-9]{2}:[0-9]{2}", re.IGNORECASE)


def _hotspot(*args: str) -> list[str]:
    return [sys.executable, "-c", CLI, *args]


def timed_run(command: list[str], models: list[str], timeout_s: float = 600,
              pythonpath: Path | None = None) -> dict:
    """Run ``command`` on a pseudo-terminal; seconds to first output, to a model name, to
    an ETA, and to exit (``None`` for what never appeared)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower,
                               env=env, close_fds=True)
    os.close(follower)
    seen = {"first_output_s": None, "model_shown_s": None, "bar_shown_s": None,
            "eta_shown_s": None}
    text = b""
    names = [re.escape(name.encode()) for name in models]
    model_pattern = re.compile(b"|".join(names))
    while True:
        ready, _, _ = select.select([leader], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                break
            now = time.perf_counter() - start
            visible = _ANSI.sub(b"", chunk)  # a hidden cursor is not a sign of life
            text += visible
            if seen["first_output_s"] is None and visible.strip():
                seen["first_output_s"] = now
            if seen["model_shown_s"] is None and model_pattern.search(text):
                seen["model_shown_s"] = now
            if seen["bar_shown_s"] is None and _BAR.search(text):
                seen["bar_shown_s"] = now
            if seen["eta_shown_s"] is None and _ETA.search(text):
                seen["eta_shown_s"] = now
        elif process.poll() is not None:
            break
        if time.perf_counter() - start > timeout_s:
            process.kill()
            break
    process.wait()
    os.close(leader)
    return {**seen, "exit_s": time.perf_counter() - start, "returncode": process.returncode}


def build_store(work: Path) -> Path:
    store = work / "store"
    if not (store / "cube.zarr").exists():
        for args in (("ingest", "police-uk", str(embedded_path("police-uk")), "--store",
                      str(store), "--area",
                      str(embedded_path("boundaries", "city-of-london-wards.gpkg"))),
                     ("cube", "--store", str(store))):
            subprocess.run(_hotspot(*args), check=True, capture_output=True)
    return store


def _median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if len(values) == len(runs) else None


def _fmt(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> dict:
    parser = make_parser(__doc__, data=False)
    parser.add_argument("--repeat", type=int, default=3, help="runs to take the median of")
    parser.add_argument("--models", default="naive-last,naive-mean,kde,glm",
                        help="models of the timed backtest")
    parser.add_argument("--label", default="", help="suffix of the result files")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another source tree (TREE/hotspot/...) to time alongside")
    args = parser.parse_args(argv)
    out = Path(args.out)
    store = build_store(out / "work")
    models = [m for m in args.models.split(",") if m]
    command = _hotspot("backtest", "--store", str(store), "--models", args.models,
                       "--from", "2020-07", "--to", "2020-12", "--n-bootstrap", "200",
                       "--out", str(out / "work" / "backtest"))
    trees = {"this tree": None, **({"baseline": args.baseline} if args.baseline else {})}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.repeat):
        for name, tree in trees.items():
            runs[name].append(timed_run(command, models, pythonpath=tree))
    keys = ("first_output_s", "model_shown_s", "bar_shown_s", "eta_shown_s", "exit_s")
    result = {"command": "hotspot " + " ".join(command[3:]),
              "baseline": str(args.baseline) if args.baseline else None, "runs": runs,
              "median": {name: {key: _median(r, key) for key in keys}
                         for name, r in runs.items()}}
    suffix = f"-{args.label}" if args.label else ""
    write_json(out, f"cli_latency{suffix}.json", result)
    lines = ["# Time to first output of `hotspot backtest` (seconds, on a terminal)", "",
             f"`{result['command']}`, median of {args.repeat} runs", "",
             "| tree | first output | model named | bar | ETA estimate | exit |",
             "|---|---|---|---|---|---|",
             *("| " + " | ".join([name, *(_fmt(result["median"][name][k]) for k in keys)])
               + " |" for name in trees), ""]
    write_text(out, f"cli_latency{suffix}.md", "\n".join(lines))
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
