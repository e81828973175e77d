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

Targets (``target``, ``target_groups``, ``harm_weights``) are checked for their shape here;
whether a name is valid depends on the cube's categories, so the pipeline checks names
(``hotspot.features.targets.resolve_target``) once a cube is at hand.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from hotspot.core.errors import ConfigError
from hotspot.settings_sections import (
    COVERAGE_SCORES,
    BacktestSettings,
    ClaimsSettings,
    ForecastSettings,
    NightlySettings,
    split_targets,
    split_targets_or_none,
)

ENV_PREFIX = "HOTSPOT_"

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
_PATHS = (("store",), ("out",), ("area",), ("clip_water",),
          ("nightly", "sources", "drop_folder"),
          ("nightly", "outputs", "runs_dir"), ("nightly", "harm", "weights"),
          ("nightly", "harm", "boundaries"), ("harm_weights",))



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
    #: Land polygons to clip the study area to (``--clip-water FILE``): each part of the
    #: area is intersected with them, so a river or the sea inside a boundary (the City
    #: wards run to mid-Thames) gets no cells. The file holds the land to *keep*.
    clip_water: Path | None = None
    crs: str | None = None
    cell_size_m: float = Field(150.0, gt=0)
    freq: Literal["M", "W", "D"] = "M"
    #: ``hotspot cube`` refuses a cube whose estimated build memory is over this (GB).
    max_cube_gb: float = Field(4.0, gt=0)
    #: What models forecast: a police.uk category (``burglary``), a group (``property``),
    #: ``crime`` (all but anti-social behaviour), ``all`` or ``harm``; backtests take a
    #: comma list (``crime,harm``). Unset: the cube's own target (``all`` for a plain cube).
    target: str = "all"
    #: Groups on top of the shipped ``data/target_groups.csv``: name → category names.
    target_groups: dict[str, list[str]] = Field(default_factory=dict)
    #: Weights table of the ``harm`` target (default the shipped ``data/harm_weights.csv``);
    #: ``nightly.harm.weights`` defaults to it, so rankings and forecasts use one table.
    harm_weights: Path | None = None
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

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        if not split_targets_or_none(value):  # names are checked on the cube
            raise ValueError(f"{value!r} names no target: give one or more names, e.g. crime "
                             "or crime,harm")
        return value

    @model_validator(mode="after")
    def _one_harm_table(self) -> Settings:
        if self.harm_weights is not None and self.nightly.harm.weights is None:
            harm = self.nightly.harm.model_copy(update={"weights": self.harm_weights})
            # frozen: the one place the object is completed after validation
            object.__setattr__(self, "nightly", self.nightly.model_copy(update={"harm": harm}))
        coverage = self.forecast.select_coverage
        if coverage is not None and self.forecast.select_by in COVERAGE_SCORES and not any(
                abs(coverage - c) < 1e-12 for c in self.backtest.coverages):
            raise ValueError(f"forecast.select_coverage {coverage:g} is not one of "
                             "backtest.coverages: add it there or choose one of "
                             + ", ".join(f"{c:g}" for c in self.backtest.coverages))
        return self

    @property
    def targets(self) -> list[str]:
        """The names of ``target``, split at commas."""
        return split_targets(self.target)

    @property
    def target_set(self) -> bool:
        """Whether ``target`` was given (file, environment or option), not the default:
        an unset target means the cube's own."""
        return "target" in self.model_fields_set

    @property
    def harm_weights_file(self) -> Path | None:
        """The harm weights table every harm figure uses (``None``: the shipped one)."""
        return self.harm_weights or self.nightly.harm.weights

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
