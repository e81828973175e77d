"""The store's nightly state (``STORE/nightly_state.json``): what went in, what was published."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from hotspot.core.atomic import write_text_atomic
from hotspot.cube_guard import store_fingerprint
from hotspot.features.harm import DEFAULT_WEIGHTS_FILE
from hotspot.settings import Settings

STATE_FILE = "nightly_state.json"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def read_state(store: Path) -> dict[str, Any]:
    """The state file's content, with every key present (an empty store has none)."""
    path = Path(store) / STATE_FILE
    state = json.loads(path.read_text()) if path.exists() else {}
    state.setdefault("version", 1)
    state.setdefault("drop_files", {})
    state.setdefault("api_months", {})
    state.setdefault("published", None)
    return state


def write_state(store: Path, state: dict[str, Any]) -> Path:
    return write_text_atomic(Path(store) / STATE_FILE, json.dumps(state, indent=1) + "\n")


def params_fingerprint(settings: Settings) -> str:
    """What, besides the data, changes a published run: model, grid, backtest, harm."""
    weights = settings.nightly.harm.weights
    weights_file = Path(weights) if weights else Path(DEFAULT_WEIGHTS_FILE)
    model = settings.forecast.model
    relevant = {
        "model": model, "model_params": settings.model_params.get(model, {}),
        "cell_size_m": settings.cell_size_m,
        "area": {"file": str(settings.area), "filter": settings.area_filter,
                 "crs": settings.crs},
        "backtest": settings.backtest.model_dump(mode="json"),
        "harm": settings.nightly.harm.model_dump(mode="json"),
        "weights_sha256": hashlib.sha256(weights_file.read_bytes()).hexdigest()
        if weights_file.exists() else None,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def published_differs(settings: Settings, state: dict[str, Any]) -> bool:
    """Whether the store's events or the settings changed since the last published run."""
    published = state.get("published") or {}
    return (published.get("data") != store_fingerprint(settings.store)["sha256"]
            or published.get("params") != params_fingerprint(settings))


__all__ = ["STATE_FILE", "params_fingerprint", "published_differs",
           "read_state", "utc_now", "write_state"]
