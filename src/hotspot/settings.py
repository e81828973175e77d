"""One settings object: defaults < config file (TOML) < ``HOTSPOT_*`` environment < CLI.

Resolve once at the edge (command line, flow) and pass the values down; library
functions take plain arguments, never this object's globals.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hotspot.core.errors import ConfigError
from hotspot.evaluation.metrics import DEFAULT_COVERAGES


class Settings(BaseModel):
    """Everything a run needs to know, resolved once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: Path = Path("store")
    out: Path = Path("out")
    area: Path | None = None
    area_filter: str | None = None
    crs: str | None = None
    cell_size_m: float = Field(150.0, gt=0)
    freq: Literal["M", "W", "D"] = "M"
    model: str = "naive-mean"
    models: tuple[str, ...] = ("naive-last", "naive-mean", "naive-longrun")
    backtest_periods: int = Field(6, ge=1)
    coverages: tuple[float, ...] = DEFAULT_COVERAGES
    seed: int = 20150601
    n_bootstrap: int = Field(2000, ge=100)
    #: Parameters per model name, e.g. ``{"etas-grid": {"background_time": "seasonal"}}``
    #: (TOML: a ``[hotspot.model_params.etas-grid]`` table).
    model_params: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("coverages")
    @classmethod
    def _coverages_are_fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0 < c <= 1 for c in value):
            raise ValueError("coverages must be fractions in (0, 1], e.g. 0.05 for 5 %")
        return value


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        raw = environ.get(f"HOTSPOT_{name.upper()}")
        if raw is None:
            continue
        if name in ("models", "coverages"):
            values[name] = tuple(part.strip() for part in raw.split(",") if part.strip())
        elif name == "model_params":
            try:
                values[name] = json.loads(raw)
            except json.JSONDecodeError:
                raise ConfigError("HOTSPOT_MODEL_PARAMS must be JSON, e.g. "
                                  '{"naive-mean": {"k": 6}}') from None
        else:
            values[name] = raw
    return values


def load_settings(
    config: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Resolve settings from a TOML file, ``HOTSPOT_*`` variables and explicit overrides.

    Overrides whose value is ``None`` are ignored so CLI options left unset fall through.
    """
    values: dict[str, Any] = {}
    if config is not None:
        try:
            values.update(tomllib.loads(Path(config).read_text()).get("hotspot", {}))
        except FileNotFoundError:
            raise ConfigError(
                f"config file {config} not found: pass an existing TOML file"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config} is not valid TOML: {exc}") from None
    values.update(_from_env(dict(os.environ) if environ is None else environ))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"setting '{where}': {first['msg']}") from None
