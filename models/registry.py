"""Models by name: ``register`` a class, ``make_model`` an instance."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hotspot.core.errors import ConfigError
from hotspot.models.base import BaseForecaster

_REGISTRY: dict[str, type[BaseForecaster]] = {}


def register(cls: type[BaseForecaster]) -> type[BaseForecaster]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name to register under")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise TypeError(f"model name {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def available_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_REGISTRY)


def make_model(name: str, **params: Any) -> BaseForecaster:
    """A new, unfitted instance of the model registered as ``name``."""
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown model {name!r}: choose from {', '.join(available_models())}"
        )
    try:
        return _REGISTRY[name](**params)
    except TypeError as exc:
        raise ConfigError(f"model {name}: bad parameter ({exc})") from None


def parse_model_names(text: str) -> list[str]:
    """Split ``a,b,c`` and check each name is registered."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--models is empty: give one or more names separated by commas")
    for name in names:
        if name not in _REGISTRY:
            make_model(name)  # raises the helpful error
    return names


def parse_param_value(text: str) -> Any:
    """A parameter value from text: JSON where it parses (``3``, ``0.5``, ``true``,
    ``[1, 2]``), the text itself otherwise (``seasonal``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_model_params(
    options: list[str] | None, configured: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """``["etas-grid.background_time=seasonal", "naive-mean.k=6"]`` → parameters per model,
    on top of ``configured`` ones (the settings' ``model_params``); every model's final
    parameters are checked by making it."""
    params = {name: dict(values) for name, values in (configured or {}).items()}
    for option in options or []:
        target, sep, text = option.partition("=")
        name, dot, key = target.partition(".")
        if not (sep and dot and name and key):
            raise ConfigError(f"--param {option!r} is not MODEL.KEY=VALUE, e.g. "
                              f"etas-grid.background_time=seasonal")
        params.setdefault(name, {})[key] = parse_param_value(text)
    for name, values in params.items():
        make_model(name, **values)  # an unknown model, key or value fails now, before work
    return params
