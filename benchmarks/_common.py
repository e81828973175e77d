"""What the benchmark scripts share: the ``--out`` and ``--data`` options, the real data
sets under ``--data``, and writing results only under ``--out``.

The scripts are run from a checkout (``.venv/bin/python benchmarks/<script>.py``), so this
folder is on ``sys.path`` and they import each other by bare name.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from hotspot.core.area import StudyArea, load_area
from hotspot.core.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
#: Where the committed results live; only meaningful in a checkout, which is where the
#: benchmarks run. Never inside the package folders.
DEFAULT_OUT = ROOT / "benchmarks" / "results"
#: The real data sets, beside the checkout (``HOTSPOT_SHARED_DATA`` points elsewhere, as it
#: does for the tests).
DEFAULT_DATA = Path(os.environ.get("HOTSPOT_SHARED_DATA", ROOT.parent / "shared" / "data"))
CHICAGO_CSV = ("chicago", "aggravated-assaults-2010-2016.csv.gz")
LONDON_WARDS = ("boundaries", "london_wards.zip")
CITY_FILTER = "BOROUGH=City of London"


def make_parser(doc: str | None, *, out: Path = DEFAULT_OUT, data: bool = True,
                out_help: str = "folder for the results") -> argparse.ArgumentParser:
    """A parser described by the first paragraph of ``doc`` with ``--out`` (and ``--data``)."""
    description = (doc or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=out,
                        help=f"{out_help}; nothing is written elsewhere (default: {out})")
    if data:
        parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                            help=f"the real data sets (default: {DEFAULT_DATA})")
    return parser


def need(data: Path, *parts: str) -> Path:
    """``data/parts...``, or exit with what is missing and how to point at it."""
    path = data.joinpath(*parts)
    if not path.exists():
        sys.exit(f"needs {path}: pass --data DIR holding the shared data sets")
    return path


def city_area(data: Path) -> StudyArea:
    """The City of London wards (from the London wards file under ``data``)."""
    return load_area(need(data, *LONDON_WARDS), CITY_FILTER)


def ingest_city(data: Path, store: Path) -> StudyArea:
    """Ingest the City of London police.uk files under ``data`` into ``store``."""
    from hotspot.ingest.police_uk import ingest_police_uk

    area = city_area(data)
    ingest_police_uk([need(data, "police-uk")], store, area=area)
    return area


def write_json(out: Path, name: str, payload: Any, *, indent: int = 1) -> Path:
    """Write ``payload`` to ``out/name`` atomically (numpy scalars as numbers)."""
    text = json.dumps(payload, indent=indent, default=_jsonable, allow_nan=True) + "\n"
    return write_text(out, name, text)


def write_text(out: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``out/name`` atomically, creating ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(out / name, text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
