"""The calibration table: each method's false-positive rate and CI coverage measured on real
data by ``benchmarks/bench_claims.py``, and the notes and flags it puts on the estimates.

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

#: The shipped table (package data of ``hotspot.evaluation.claims``).
DEFAULT_CALIBRATION: Traversable = files("hotspot.evaluation.claims") / "calibration.json"


def load_calibration(source: Traversable | Path | str | None = DEFAULT_CALIBRATION
                     ) -> dict[str, Any]:
    """The table's ``methods`` mapping (method → ``badly_calibrated``, ``summary``, ...).

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


def badly_calibrated(calibration: dict[str, Any]) -> set[str]:
    """The methods the table marks as badly calibrated."""
    return {m for m, c in calibration.items() if isinstance(c, dict) and c.get("badly_calibrated")}


def with_calibration(estimate: Estimate, entry: Any) -> Estimate:
    """``estimate`` with the table's summary for its method appended to its note."""
    if not isinstance(entry, dict) or not entry.get("summary"):
        return estimate
    prefix = ("BADLY CALIBRATED on real data: " if entry.get("badly_calibrated")
              else "calibration: ")
    note = f"{estimate.note} | {prefix}{entry['summary']}"
    return Estimate(estimate.method, estimate.estimate, estimate.ci_low, estimate.ci_high,
                    estimate.p_value, note, estimate.extra)
