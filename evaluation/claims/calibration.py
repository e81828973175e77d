"""The calibration table: each method's false-positive rate and CI coverage measured on real
data by ``benchmarks/bench_claims.py``, the rule that calls a method calibrated, and the
notes and flags it puts on the estimates.

The rule (:func:`judge`): a method is *calibrated* iff on **every** data set of
:data:`REQUIRED_DATASETS` its false-positive rate at alpha = 5 % is at most
:data:`MAX_FPR` and its 95 % CI coverage of planted effects lies in :data:`COVERAGE`. The
false-positive rate counts both ways a null draw can be flagged: p < 0.05, and a 95 % CI
that excludes 1 (the verdict reads the intervals; a rank-based p-value, whose smallest
value is ``1 / (n + 1)``, can hide intervals that are too narrow).
Otherwise it is uncalibrated: its row is still reported, but it never drives a verdict
(:mod:`.verdict`). Entries carry ``calibrated`` and, for older readers, its negation
``badly_calibrated``.

The table ships as package data (``calibration.json`` beside this module) and is read
through :mod:`importlib.resources`, so a wheel install finds it as a checkout does. To adopt
a new measurement, copy the ``calibration.json`` that ``bench_claims.py`` writes under its
``--out`` over the shipped one.
"""

from __future__ import annotations

import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from hotspot.core.errors import DataError
from hotspot.evaluation.claims.its import Estimate

#: Data sets a method must pass on (City of London police.uk, Chicago assaults).
REQUIRED_DATASETS = ("chicago", "city")
#: Highest false-positive rate at alpha = 5 % a calibrated method may have.
MAX_FPR = 0.07
#: Range the 95 % CI coverage of planted effects must fall in.
COVERAGE = (0.90, 0.97)
RULE = (f"calibrated iff on both data sets ({' and '.join(REQUIRED_DATASETS)}) the "
        f"false-positive rate at alpha 5 % (p < 0.05, and likewise 95 % CIs excluding 1 on "
        f"null draws) is <= {MAX_FPR:.0%} and the 95 % CI coverage of planted effects is "
        f"within {COVERAGE[0]:.0%}-{COVERAGE[1]:.0%}; otherwise uncalibrated, and never "
        "used for the verdict")

#: The shipped table (package data of ``hotspot.evaluation.claims``).
DEFAULT_CALIBRATION: Traversable = files("hotspot.evaluation.claims") / "calibration.json"


def load_calibration(source: Traversable | Path | str | None = DEFAULT_CALIBRATION
                     ) -> dict[str, Any]:
    """The table's ``methods`` mapping (method → ``calibrated``, ``summary``, ...).

    ``None`` means no calibration: ``{}``.

    Raises
    ------
    DataError
        The file is missing or is not a calibration table.
    """
    if source is None:
        return {}
    resource = Path(source) if isinstance(source, str) else source
    if not resource.is_file():
        # A missing table used to give {} and the "badly calibrated" warnings vanished.
        raise DataError(f"calibration table {resource} not found: pass an existing file, or "
                        "reinstall hotspot if it is the shipped one")
    try:
        methods = json.loads(resource.read_text(encoding="utf-8")).get("methods", {})
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise DataError(f"calibration table {resource} is not a JSON object with 'methods' "
                        f"({err.__class__.__name__}): use one bench_claims.py wrote") from None
    if not isinstance(methods, dict):
        raise DataError(f"calibration table {resource}: 'methods' must map method names to "
                        "entries: use one bench_claims.py wrote")
    return dict(methods)


def judge(datasets: dict[str, dict[str, Any]]) -> tuple[bool, list[str]]:
    """Whether per-data-set measurements pass the rule, and why not.

    ``datasets`` maps a data set to ``false_positive_rate`` and ``planted_coverage``
    (fractions; NaN or missing: not measured, which fails) and, optionally,
    ``ci_false_positive_rate`` (share of null draws whose CI excludes 1).
    """
    why = []
    for ds in REQUIRED_DATASETS:
        d = datasets.get(ds) or {}
        fpr = _number(d.get("false_positive_rate"))
        cov = _number(d.get("planted_coverage"))
        if fpr is None or cov is None:
            why.append(f"{ds}: not measured")
            continue
        ci_fpr = _number(d.get("ci_false_positive_rate"))
        if fpr > MAX_FPR:
            why.append(f"{ds}: false positives {fpr:.1%} > {MAX_FPR:.0%}")
        if ci_fpr is not None and ci_fpr > MAX_FPR:
            why.append(f"{ds}: null CIs excluding 1 {ci_fpr:.1%} > {MAX_FPR:.0%}")
        if not COVERAGE[0] <= cov <= COVERAGE[1]:
            why.append(f"{ds}: coverage {cov:.1%} outside {COVERAGE[0]:.0%}-{COVERAGE[1]:.0%}")
    return not why, why


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None  # NaN: not measured


def is_calibrated(entry: Any) -> bool:
    """An entry's ``calibrated`` flag (older tables: not ``badly_calibrated``)."""
    if not isinstance(entry, dict):
        return False
    if "calibrated" in entry:
        return bool(entry["calibrated"])
    return "badly_calibrated" in entry and not entry["badly_calibrated"]


def calibrated_methods(calibration: dict[str, Any]) -> set[str]:
    """The methods the table calls calibrated."""
    return {m for m, c in calibration.items() if is_calibrated(c)}


def badly_calibrated(calibration: dict[str, Any]) -> set[str]:
    """The methods the table has an entry for and does not call calibrated."""
    return {m for m, c in calibration.items() if isinstance(c, dict) and not is_calibrated(c)}


def short_text(entry: Any) -> str:
    """``calibrated: 5.6 % / 4.0 % false positives, 94 % / 93 % coverage on chicago / city``
    (or ``uncalibrated: ...``; ``no calibration measured`` without an entry)."""
    if not isinstance(entry, dict):
        return "no calibration measured"
    flag = "calibrated" if is_calibrated(entry) else "uncalibrated"
    datasets = entry.get("datasets") or {}
    names = [ds for ds in REQUIRED_DATASETS if ds in datasets]
    if not names:
        return flag
    fpr = " / ".join(_pct(datasets[ds].get("false_positive_rate"), 1) for ds in names)
    cov = " / ".join(_pct(datasets[ds].get("planted_coverage"), 0) for ds in names)
    return f"{flag}: {fpr} false positives, {cov} coverage on {' / '.join(names)}"


def _pct(value: Any, digits: int) -> str:
    number = _number(value)
    return "n/a" if number is None else f"{number * 100:.{digits}f} %"


def with_calibration(estimate: Estimate, entry: Any) -> Estimate:
    """``estimate`` with the table's summary for its method appended to its note."""
    if not isinstance(entry, dict) or not entry.get("summary"):
        return estimate
    prefix = ("BADLY CALIBRATED on real data: " if not is_calibrated(entry)
              else "calibration: ")
    note = f"{estimate.note} | {prefix}{entry['summary']}"
    return Estimate(estimate.method, estimate.estimate, estimate.ci_low, estimate.ci_high,
                    estimate.p_value, note, estimate.extra)
