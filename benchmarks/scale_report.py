"""The markdown report of the scale benchmark (``bench_scale.py``)."""

from __future__ import annotations

from typing import Any


def markdown(r: dict[str, Any], event_sizes: dict[str, int], cell_sizes: dict[str, int]) -> str:
    """``scale.md`` from the results of ``bench_scale.py``."""
    lines = [
        "# Scale benchmark (synthetic national police.uk data)", "",
        f"Machine: {r['machine']}. {r['months']} months; sizes are shares of ~500,000 "
        "crimes a month over the 43 forces + BTP. Each step ran in its own process; peak "
        "RSS is that process's `ru_maxrss`. Made by `benchmarks/bench_scale.py` in "
        f"{r['total_minutes']} min of steps (data generation aside).", "",
        "## Ingest (police.uk street CSVs → event store, streaming)", "",
        "| size | rows | CSV MB | seconds | rows/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k in event_sizes:
        i = r["ingest"][k]
        lines.append(f"| {k} | {i['rows']:,} | {i['csv_mb']} | {i['seconds']} | "
                     f"{i['rows_per_s']:,} | {i['peak_rss_mb']} |")
    lines += ["", f"## Cube build ({r['cube'][list(event_sizes)[0]]['chunked']['cells']:,} "
                  f"cells, {r['months']} months)", "",
              "| size | events | chunked s | chunked peak MB | in-memory s | in-memory peak MB |",
              "|---|---:|---:|---:|---:|---:|"]
    for k in event_sizes:
        c = r["cube"][k]
        lines.append(f"| {k} | {c['events']:,} | {c['chunked']['seconds']} | "
                     f"{c['chunked']['peak_rss_mb']} | {c['in_memory']['seconds']} | "
                     f"{c['in_memory']['peak_rss_mb']} |")
    lines += ["", "## Grid build + assign (all events of the 1x store)", "",
              "| grid | cells | cell m | build s | points | assign s | points/s | peak MB |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for k in cell_sizes:
        g = r["grid"][k]
        lines.append(f"| {k} | {g['cells']:,} | {g['cell_m']:,} | {g['build_s']} | "
                     f"{g['points']:,} | {g['assign_s']} | {g['points_per_s']:,} | "
                     f"{g['peak_rss_mb']} |")
    lines += ["", f"## Backtest: {len(r['models'])} models x 6 origins on the 1x cube, serial "
                  "vs Dask with 2 workers", "",
              "| grid | cells | units | serial s | Dask threads s (speed-up) | "
              "Dask processes s (speed-up) | processes incl. start-up s (speed-up) | "
              "identical | serial peak MB | threads peak MB | process worker peak MB |",
              "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for k in cell_sizes:
        b = r["backtest"][k]
        s, t, p = b["serial"], b["dask-threads"], b["dask-processes"]
        lines.append(
            f"| {k} | {s['cells']:,} | {s['units']} | {s['seconds']} | {t['seconds']} "
            f"({t['speedup']}) | {p['seconds']} ({p['speedup']}) | "
            f"{p['seconds_with_startup']} ({p['speedup_with_startup']}) | "
            f"{t['identical_to_serial'] and p['identical_to_serial']} | {s['peak_rss_mb']} | "
            f"{t['peak_rss_mb']} | {p['worker_peak_rss_mb']} |")
    lines += ["", "Speed-ups are on warm workers (models imported, cube open); the start-up "
                  "column adds cluster start and each worker's first imports."]
    lines += ["", "## How cost grows (exponent b in cost ~ size^b, smallest to largest)", ""]
    for key, value in r["growth_exponents"].items():
        lines.append(f"- {key}: {value}")
    return "\n".join(lines) + "\n"
