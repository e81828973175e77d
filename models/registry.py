"""Models by name, imported only when asked for.

``import hotspot.models`` imports no model module (so neither statsmodels nor scikit-learn):
the table below maps each name to ``module:Class`` and :func:`model_class` imports the one
asked for. A test checks every entry's class carries its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from inspect import signature
from typing import TYPE_CHECKING, Any

from hotspot.core.errors import ConfigError

if TYPE_CHECKING:
    from hotspot.models.base import BaseForecaster

MODELS: dict[str, str] = {
    "ensemble": "hotspot.models.ensemble:Ensemble",
    "etas-grid": "hotspot.models.etas_grid:EtasGrid",
    "gbm": "hotspot.models.gbm:GBMForecaster",
    "glm": "hotspot.models.glm:GLMForecaster",
    "hotspot-map": "hotspot.models.hotspot_map:HotspotMap",
    "kde": "hotspot.models.kde:KernelDensity",
    "naive-last": "hotspot.models.naive_last:NaiveLast",
    "naive-longrun": "hotspot.models.naive_longrun:NaiveLongrun",
    "naive-mean": "hotspot.models.naive_mean:NaiveMean",
    "prospective-hotspot": "hotspot.models.prospective_hotspot:ProspectiveHotspot",
    "rfg-harm": "hotspot.models.rfg_harm:RFGHarm",
    "self-exciting-counts": "hotspot.models.self_exciting_counts:SelfExcitingCounts",
    "sepp": "hotspot.models.sepp:Sepp",
}


def available_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(MODELS)


def _unknown(name: str) -> ConfigError:
    return ConfigError(f"unknown model {name!r}: choose from {', '.join(available_models())}")


def model_class(name: str) -> type[BaseForecaster]:
    """The class registered as ``name`` (its module is imported now)."""
    if name not in MODELS:
        raise _unknown(name)
    module, _, cls = MODELS[name].partition(":")
    return getattr(import_module(module), cls)


def model_tag(name: str, tag: str) -> bool:
    """A capability tag of the model registered as ``name`` (``needs_events``, ``baseline``,
    ``takes_covariates``)."""
    return model_class(name).get_tag(tag)


#: Constructor annotations that take only numbers or booleans (``int | None`` too).
_KINDS = {"int": "an integer", "float": "a number", "bool": "true or false"}


def _check_kinds(name: str, cls: type[BaseForecaster], params: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` naming the parameter when a value has the wrong kind for a
    number or a flag (``--param naive-mean.k=abc``, ``k=1.5``, ``k=true``, ``NaN``),
    before the model sees it."""
    annotations = {p.name: p.annotation for p in signature(cls.__init__).parameters.values()}
    for key, value in params.items():
        kinds = [k.strip() for k in str(annotations.get(key, "")).split("|")]
        wanted = [_KINDS[k] for k in kinds if k in _KINDS]
        if not wanted or not all(k in _KINDS or k == "None" for k in kinds):
            continue
        # JSON gives 1.5 for an integer, true for a count, NaN for a number: each would
        # be truncated or compared silently deep inside the fit
        wrong = (isinstance(value, str)
                 or (isinstance(value, bool) and "bool" not in kinds)
                 or (isinstance(value, float) and "float" not in kinds)
                 or (isinstance(value, int | float) and not isinstance(value, bool)
                     and "bool" in kinds and len(wanted) == 1)
                 or (isinstance(value, float) and value != value))
        if wrong:
            raise ConfigError(f"model {name}: parameter {key} must be {' or '.join(wanted)}, "
                              f"got {value!r}: check --param {name}.{key}=VALUE (or the config's "
                              "model_params)")


def make_model(name: str, **params: Any) -> BaseForecaster:
    """A new, unfitted instance of the model registered as ``name``, its parameters checked
    now so a bad option fails before any work."""
    cls = model_class(name)
    try:
        model = cls(**params)
    except TypeError as exc:
        raise ConfigError(f"model {name}: bad parameter ({exc})") from None
    model.check_params()
    return model


def check_model(name: str, params: Mapping[str, Any] | None = None) -> None:
    """Raise ``ConfigError`` unless ``name`` is a model that takes ``params`` (the check of
    every ``--param`` and config value: a bad one is named with its key)."""
    _check_kinds(name, model_class(name), params or {})
    make_model(name, **dict(params or {}))


def parse_model_names(text: str) -> list[str]:
    """Split ``a,b,c`` and check each name is registered."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--models is empty: give one or more names separated by commas")
    for name in names:
        if name not in MODELS:
            raise _unknown(name)
    return names
