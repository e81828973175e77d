"""One nightly setup for the tests that run ``hotspot nightly`` or its flow: shipped
police.uk months copied into a drop folder and a ``nightly.toml`` beside it.

Every such test needs the same base (a store, the City of London wards, the drop folder, a
runs folder) and differs only in a few settings, so each passes just those; the base stays
in one place and a change to the settings' grammar is made once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hotspot.core.resources import embedded_path

WARDS = embedded_path("boundaries", "city-of-london-wards.gpkg")

#: Under ``[hotspot]``: relative folders, so a command started in the root finds them.
BASE: dict[str, Any] = {
    "store": "store",
    "area": str(WARDS),
    "nightly": {
        "sources": {"drop_folder": "drop", "drop_settle_s": 0},
        "outputs": {"runs_dir": "runs"},
    },
}


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, tables merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _value(value: Any) -> str:
    # bool before int (a bool is an int); JSON strings and lists are valid TOML here
    # (plain text, no control characters)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str | list | tuple):
        return json.dumps(list(value) if isinstance(value, tuple) else value)
    raise TypeError(f"no TOML form for {value!r} in a test config")


def _toml(table: Mapping[str, Any], name: str) -> list[str]:
    """Lines of ``[name]`` (its plain keys), then its sub-tables, depth first; a table of
    sub-tables only gets no header of its own (TOML defines it implicitly)."""
    lines = [f"{key} = {_value(v)}" for key, v in table.items() if not isinstance(v, Mapping)]
    lines = [f"[{name}]", *lines] if lines else []
    for key, value in table.items():
        if isinstance(value, Mapping):
            lines += _toml(value, f"{name}.{key}")
    return lines


def nightly_config(
    root: Path, drop_months: Iterable[str], settings: Mapping[str, Any] | None = None
) -> Path:
    """Copy the shipped police.uk ``drop_months`` into ``root/drop`` and write
    ``root/nightly.toml``: :data:`BASE` with ``settings`` (tables under ``[hotspot]``)
    merged over it. Returns the config's path."""
    for month in drop_months:
        shutil.copytree(embedded_path("police-uk", month), root / "drop" / month)
    config = root / "nightly.toml"
    config.write_text("\n".join(_toml(_merged(BASE, settings or {}), "hotspot")) + "\n")
    return config
