"""The one ``--param`` grammar: ``MODEL.KEY=VALUE``, repeatable; grids ``MODEL.KEY=V1|V2``.

Values are JSON where they parse (``3``, ``0.5``, ``true``, ``[1, 2]``) and text otherwise
(``seasonal``). Every command, flow and config file goes through these two functions, so a
parameter means the same thing whichever door a run comes in by.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from hotspot.core.errors import ConfigError
from hotspot.models.registry import check_model

ModelParams = dict[str, dict[str, Any]]


def parse_param_value(text: str) -> Any:
    """A parameter value from text: JSON where it parses, the text itself otherwise."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split(option: str) -> tuple[str, str, list[Any]]:
    target, sep, text = option.partition("=")
    name, dot, key = target.strip().partition(".")
    if not (sep and dot and name and key):
        raise ConfigError(f"--param {option!r} is not MODEL.KEY=VALUE, e.g. "
                          "etas-grid.background_time=seasonal (a grid: naive-mean.k=3|6|12)")
    return name, key, [parse_param_value(v.strip()) for v in text.split("|")]


def _configured(configured: Mapping[str, Mapping[str, Any]] | None) -> ModelParams:
    return {name: dict(values) for name, values in (configured or {}).items()}


def parse_model_params(
    options: Iterable[str] | None, configured: Mapping[str, Mapping[str, Any]] | None = None
) -> ModelParams:
    """``["etas-grid.background_time=seasonal", "naive-mean.k=6"]`` → parameters per model,
    on top of ``configured`` ones (the settings' ``model_params``). Every model's final
    parameters are checked now, before any work."""
    params = _configured(configured)
    for option in options or []:
        name, key, values = _split(option)
        if len(values) != 1:
            raise ConfigError(f"--param {option!r} gives {len(values)} values: this command "
                              "takes one value per parameter (grids are for backtest-grid)")
        params.setdefault(name, {})[key] = values[0]
    for name, values in params.items():
        check_model(name, values)
    return params


def parse_param_grid(
    options: Iterable[str] | None, configured: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``["naive-mean.k=3|6|12", "kde.decay=0.5"]`` → parameter sets per model: the product
    of each key's values, on top of ``configured`` single values. Each set is checked now."""
    values_by_key: dict[str, dict[str, list[Any]]] = {
        name: {key: [value] for key, value in values.items()}
        for name, values in _configured(configured).items()}
    for option in options or []:
        name, key, values = _split(option)
        values_by_key.setdefault(name, {})[key] = values
    grid: dict[str, list[dict[str, Any]]] = {}
    for name, keyed in values_by_key.items():
        keys = list(keyed)
        grid[name] = [dict(zip(keys, combo, strict=True))
                      for combo in itertools.product(*(keyed[k] for k in keys))]
        for params in grid[name]:
            check_model(name, params)
    return grid
