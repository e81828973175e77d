"""One settings object: defaults < TOML file < ``HOTSPOT_*`` environment < CLI options.

Every command and flow builds :class:`Settings` once with :func:`load_settings` and passes
its values down, so seeds, bootstrap counts, coverages and model parameters are the same
whichever door a run comes in by. Library functions take plain arguments (or one section
of this object), never globals.

The TOML file holds the settings under ``[hotspot]``, each section in its own table
(``[hotspot.backtest]``, ``[hotspot.forecast]``, ``[hotspot.nightly.sources]``, ...; see
``examples/nightly.toml``); relative paths in it are relative to the file. Environment
variables name nested settings with ``__``: ``HOTSPOT_BACKTEST__N_BOOTSTRAP=500``;
complex values are JSON (``HOTSPOT_MODEL_PARAMS='{"naive-mean": {"k": 6}}'``).

Earlier flat keys still work in the file, as options and in the environment: ``model``
(``forecast.model``), ``models`` (``backtest.baselines``), ``backtest_periods``,
``coverages``, ``seed`` and ``n_bootstrap`` (``backtest.*``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from hotspot.core.coverages import DEFAULT_COVERAGES
from hotspot.core.errors import ConfigError
from hotspot.models.registry import available_models

ENV_PREFIX = "HOTSPOT_"
BASELINES = ("naive-last", "naive-mean", "naive-longrun")

#: Earlier flat names → where the setting lives now.
_MOVED: dict[str, tuple[str, str]] = {
    "model": ("forecast", "model"),
    "models": ("backtest", "baselines"),
    "backtest_periods": ("backtest", "periods"),
    "coverages": ("backtest", "coverages"),
    "seed": ("backtest", "seed"),
    "n_bootstrap": ("backtest", "n_bootstrap"),
}
#: Settings that are paths: relative ones in the TOML file are relative to the file.
_PATHS = (("store",), ("out",), ("area",), ("nightly", "sources", "drop_folder"),
          ("nightly", "outputs", "runs_dir"), ("nightly", "harm", "weights"),
          ("nightly", "harm", "boundaries"))


def _known_models(names: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in available_models()]
    if unknown:
        raise ValueError(f"unknown model {unknown[0]!r}: choose from "
                         f"{', '.join(available_models())}")
    return names


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `key = ""` in a TOML file reads as "not set", as a commented-out line would
        return None if isinstance(value, str) and not value.strip() else value


class BacktestSettings(_Section):
    """How backtests are run and summarised, by every command, flow and the nightly pass."""

    baselines: tuple[str, ...] = BASELINES
    #: Newest held-out periods of the recent backtest (forecast report, demo, nightly).
    periods: int = Field(6, ge=1)
    coverages: tuple[float, ...] = DEFAULT_COVERAGES
    n_bootstrap: int = Field(2000, ge=100)
    seed: int = 20150601

    @field_validator("baselines")
    @classmethod
    def _models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known_models(value)

    @field_validator("coverages")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        # reports, the nightly drift check and the summary tables read the 5 % coverage
        if not value or any(not 0 < c <= 1 for c in value) or 0.05 not in value:
            raise ValueError("coverages must be fractions in (0, 1] that include 0.05, "
                             "e.g. [0.01, 0.05, 0.1]")
        return value


class ForecastSettings(_Section):
    """The published forecast."""

    model: str = "naive-mean"
    #: Area share whose top-ranked cells are marked and mapped.
    top_share: float = Field(0.05, gt=0, le=1)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _known_models((value,))[0]


class ApiSettings(_Section):
    enabled: bool = False
    base_url: str = "https://data.police.uk/api"
    #: Force id naming the API's files and store partitions (e.g. ``city-of-london``), so
    #: a bulk file of the same month later replaces them; default ``api``.
    force: str | None = None
    force_name: str = ""
    include_no_location: bool = False
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(2.0, ge=0)
    max_rate_per_s: float = Field(10.0, gt=0)
    max_requests: int = Field(2000, ge=1)
    max_tile_depth: int = Field(6, ge=0, le=12)
    initial_months: int = Field(12, ge=1, le=36)
    max_months_per_run: int = Field(12, ge=1, le=36)
    task_retries: int = Field(2, ge=0, le=10)
    task_retry_delay_s: float = Field(60.0, ge=0)


class SourcesSettings(_Section):
    drop_folder: Path | None = None
    drop_settle_s: float = Field(60.0, ge=0)
    api: ApiSettings = ApiSettings()


class OutputsSettings(_Section):
    runs_dir: Path | None = None
    keep: int = Field(14, ge=1)


class HarmSettings(_Section):
    weights: Path | None = None
    boundaries: Path | None = None
    boundaries_filter: str | None = None
    name_column: str | None = None
    window: int = Field(12, ge=1)
    months: int = Field(12, ge=1)
    top_n: int = Field(10, ge=1)


class HealthSettings(_Section):
    anomaly_history: int = Field(24, ge=3)
    anomaly_min_history: int = Field(6, ge=3)
    anomaly_band: tuple[float, float] = (0.01, 0.99)
    robust_z: float = Field(3.0, gt=0)
    drift_coverage: float = 0.05


class ScheduleSettings(_Section):
    cron: str = "0 2 * * *"
    timezone: str | None = None
    deployment: str = "nightly"


class NightlySettings(_Section):
    """The nightly pass (``hotspot nightly``, ``hotspot serve``; docs/nightly.md)."""

    sources: SourcesSettings = SourcesSettings()
    outputs: OutputsSettings = OutputsSettings()
    harm: HarmSettings = HarmSettings()
    health: HealthSettings = HealthSettings()
    schedule: ScheduleSettings = ScheduleSettings()


class ClaimsSettings(_Section):
    """Claim evaluation (``hotspot evaluate-claim``)."""

    controls: str = "auto"
    buffer_m: float = Field(500.0, ge=0)
    n_controls: int = Field(20, ge=1)
    min_unit_events: float = Field(5.0, ge=0)


#: The TOML file's values while one ``load_settings`` call builds the object.
_FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("hotspot_file_values",
                                                             default=None)


class Settings(BaseSettings):
    """Everything a run needs to know, resolved once."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      extra="forbid", frozen=True)

    store: Path = Path("store")
    out: Path = Path("out")
    area: Path | None = None
    area_filter: str | None = None
    crs: str | None = None
    cell_size_m: float = Field(150.0, gt=0)
    freq: Literal["M", "W", "D"] = "M"
    #: ``hotspot cube`` refuses a cube whose estimated build memory is over this (GB).
    max_cube_gb: float = Field(4.0, gt=0)
    #: Parameters per model name, e.g. ``{"etas-grid": {"background_time": "seasonal"}}``
    #: (TOML: a ``[hotspot.model_params.etas-grid]`` table).
    model_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    backtest: BacktestSettings = BacktestSettings()
    forecast: ForecastSettings = ForecastSettings()
    nightly: NightlySettings = NightlySettings()
    claims: ClaimsSettings = ClaimsSettings()
    #: The TOML file the settings came from (absolute), if any.
    config_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FlatEnvSource(settings_cls),
                _FileSource(settings_cls))

    def public(self) -> dict[str, Any]:
        """The settings as plain JSON values (for ``run.json``)."""
        return self.model_dump(mode="json")


class _FileSource(PydanticBaseSettingsSource):
    """The ``[hotspot]`` table of the TOML file ``load_settings`` read."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # whole-object source: see __call__

    def __call__(self) -> dict[str, Any]:
        return _FILE_VALUES.get() or {}


class _FlatEnvSource(PydanticBaseSettingsSource):
    """The earlier flat variables (``HOTSPOT_SEED``, ``HOTSPOT_MODELS=a,b``), below the
    nested ones (``HOTSPOT_BACKTEST__SEED``)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in _MOVED:
            raw = os.environ.get(f"{ENV_PREFIX}{name.upper()}")
            if raw is not None:
                values[name] = (tuple(p.strip() for p in raw.split(",") if p.strip())
                                if name in ("models", "coverages") else raw)
        return _nest(values)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _drop_none(value) if isinstance(value, Mapping) else value
            for key, value in values.items() if value is not None}


def _nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with ``None`` dropped (an option left unset falls through to the sources
    below it) and earlier flat names moved into their sections."""
    nested = {k: v for k, v in _drop_none(values).items() if k not in _MOVED}
    for key, (section, name) in _MOVED.items():
        if values.get(key) is not None and isinstance(nested.setdefault(section, {}), dict):
            nested[section].setdefault(name, values[key])  # the section's own key wins
    return nested


def _resolve_paths(values: dict[str, Any], base: Path) -> dict[str, Any]:
    for where in _PATHS:
        target = values
        for part in where[:-1]:
            target = target.get(part) if isinstance(target, dict) else None
        raw = target.get(where[-1]) if isinstance(target, dict) else None
        if isinstance(raw, str) and raw.strip():
            target[where[-1]] = str((base / Path(raw).expanduser()).resolve())
    return values


def _check_tables(values: Mapping[str, Any], model: type[BaseModel], path: Path,
                  where: str = "hotspot") -> None:
    """Raise ``ConfigError`` where the file gives a plain value for a section: a command-line
    option of that section would otherwise replace it whole, hiding the mistake."""
    for name, field in model.model_fields.items():
        section = field.annotation
        if name not in values or not (isinstance(section, type)
                                      and issubclass(section, BaseModel)):
            continue
        if not isinstance(values[name], Mapping):
            raise ConfigError(f"config file {path}: {where}.{name} is {values[name]!r}, not a "
                              f"table: write its settings under [{where}.{name}] (see "
                              "examples/nightly.toml)")
        _check_tables(values[name], section, path, f"{where}.{name}")


def read_config_file(path: Path | str) -> dict[str, Any]:
    """The ``[hotspot]`` table of a TOML settings file, paths resolved against its folder."""
    path = Path(path)
    try:
        # TOML is UTF-8 whatever the locale says; a BOM (Windows editors) is allowed
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found: pass an existing TOML file "
                          "(see examples/nightly.toml)") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder: pass a TOML file (see "
                          "examples/nightly.toml)") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}): TOML "
                          "files are UTF-8; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    if "hotspot" not in data:
        raise ConfigError(f"config file {path} has no [hotspot] table: put the settings "
                          "under [hotspot] (nightly ones under [hotspot.nightly.*]; see "
                          "examples/nightly.toml)")
    if not isinstance(data["hotspot"], dict):
        raise ConfigError(f"config file {path}: 'hotspot' is {data['hotspot']!r}, not a table: "
                          "put the settings under a [hotspot] table (see examples/nightly.toml)")
    _check_tables(data["hotspot"], Settings, path)
    values = _resolve_paths(_nest(data["hotspot"]), path.resolve().parent)
    return {**values, "config_file": str(path.resolve())}


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Resolve the settings: defaults < ``config`` (TOML) < ``HOTSPOT_*`` < ``overrides``.

    ``overrides`` are the command-line options: flat names or section dicts
    (``backtest={"n_bootstrap": 500}``); ``None`` values are ignored.
    """
    token = _FILE_VALUES.set(read_config_file(config) if config is not None else {})
    try:
        return Settings(**_nest(overrides))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"setting '{where}': {message}") from None
    except SettingsError as exc:
        found = re.search(r'field "(\w+)"', str(exc))
        name = found[1] if found else "settings"
        raise ConfigError(f"setting '{name}': {ENV_PREFIX}{name.upper()} must be JSON, e.g. "
                          """HOTSPOT_MODEL_PARAMS='{"naive-mean": {"k": 6}}'""") from None
    finally:
        _FILE_VALUES.reset(token)
