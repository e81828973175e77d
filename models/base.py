"""The one forecaster interface, in the manner of scikit-learn and sktime.

Subclasses write ``_fit`` and ``_predict`` only (and ``_validate_params`` when they have
parameters to check). The public ``fit``:

1. resets every learned attribute (a failed refit never leaves the previous fit behind);
2. validates the parameters (constructors only store them, as in scikit-learn);
3. checks the cube and cuts every input — cube, events and covariates — at the cutoff: this
   is the single leakage guard, so no model can see a period after ``until`` however it is
   written;
4. under a cube's target (``features.targets``) cuts the events of a model tagged
   ``needs_events`` to the target's categories; for a harm target such a model still fits
   the crimes (a count process) and ``predict`` turns its expected crimes into expected harm
   with each cell's recent harm per crime. Count models just read the targeted ``counts``;
5. calls ``_fit``;
6. marks the model fitted last, so any exception leaves it unfitted.

Capabilities are tags (``needs_events``, ``baseline``, ``takes_covariates``), read with
:meth:`BaseForecaster.get_tag`, never inferred from names or signatures.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError, DataError, LeakageError, NotFittedError
from hotspot.core.periods import period_label, period_range, period_starts, to_period
from hotspot.features.cube import check_cube, cube_periods
from hotspot.features.targets import target_events, target_harm_per_crime, target_of

#: Covariate tables by group name (``{"weather": frame}``), each indexed by period start (a
#: ``DatetimeIndex`` or ``PeriodIndex``) or with a ``time`` column of period starts.
Covariates = Mapping[str, pd.DataFrame | pd.Series]

T = TypeVar("T")

#: Tags every model has; a subclass's ``_tags`` override some of them.
DEFAULT_TAGS: dict[str, bool] = {
    "needs_events": False,      # fit needs event-level data (timestamps, exact locations)
    "baseline": False,          # a baseline every other model must beat
    "takes_covariates": False,  # fit/predict use calendar or weather covariates
}


class BaseForecaster:
    """Fit on a cube up to a cutoff period; predict expected counts per cell after it."""

    #: Registry name, e.g. ``naive-mean``.
    name: ClassVar[str] = ""
    #: This class's own tags; see :data:`DEFAULT_TAGS` and :meth:`get_tag`.
    _tags: ClassVar[dict[str, bool]] = {}

    # -- parameters ------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name, p in signature.parameters.items()
                if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters as stored (``type(self)(**get_params())`` clones)."""
        return {name: getattr(self, name) for name in self._param_names()}

    @classmethod
    def get_tag(cls, tag: str) -> bool:
        """A capability tag, merged along the class hierarchy."""
        if tag not in DEFAULT_TAGS:
            raise KeyError(f"unknown model tag {tag!r}: one of {', '.join(DEFAULT_TAGS)}")
        for klass in cls.__mro__:
            if tag in vars(klass).get("_tags", {}):
                return vars(klass)["_tags"][tag]
        return DEFAULT_TAGS[tag]

    def _validate_params(self) -> None:
        """Raise ``ConfigError`` naming a bad parameter (models with parameters override)."""

    def check_params(self) -> None:
        """Raise ``ConfigError`` unless every parameter is usable (``fit`` and the registry
        call this; a value of the wrong type fails here too, not deep inside ``_fit``)."""
        try:
            self._validate_params()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model {self.name}: a parameter has an unusable value "
                              f"({exc}): check its --param {self.name}.KEY=VALUE") from None

    # -- fitting ---------------------------------------------------------------------
    def _reset(self) -> None:
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, attr)

    @property
    def is_fitted(self) -> bool:
        return bool(getattr(self, "is_fitted_", False))

    def fit(
        self,
        cube: xr.Dataset,
        until: pd.Period | str,
        events: pd.DataFrame | None = None,
        covariates: Covariates | None = None,
    ) -> Self:
        """Fit on the cube's periods up to and including ``until``; return ``self``."""
        self._reset()
        self.check_params()
        check_cube(cube)
        cutoff = to_period(until, cube.attrs["freq"])
        periods = cube_periods(cube)
        if cutoff < periods[0]:
            raise DataError(
                f"cutoff {period_label(cutoff)} is before the cube's first period "
                f"{period_label(periods[0])}: choose a later origin"
            )
        if self.get_tag("needs_events") and events is None:
            raise DataError(f"model {self.name} needs event-level data: pass events to fit")
        history = cube.isel(time=np.flatnonzero(periods <= cutoff))
        end = (cutoff + 1).start_time
        if events is not None:
            events = events.loc[events["time"] < end]
        self.cutoff_ = cutoff
        self.freq_ = cube.attrs["freq"]
        self.cells_ = cube["cell"].values
        target = target_of(cube)
        try:
            if target is not None:
                self.target_ = target.name
                if self.get_tag("needs_events"):
                    events = target_events(events, target)
                    if target.weighted:
                        self.harm_per_crime_ = target_harm_per_crime(history, target)
            self._fit(history, events, cut_covariates(covariates, end))
        except BaseException:
            self._reset()
            raise
        self.is_fitted_ = True
        return self

    def predict(self, periods: int = 1, covariates: Covariates | None = None) -> xr.DataArray:
        """Expected counts ``(time, cell)`` for the ``periods`` periods after the cutoff.

        ``covariates`` (models tagged ``takes_covariates``) may reach past the cutoff: they
        are cut at the end of the last predicted period.
        """
        if not self.is_fitted:
            raise NotFittedError(f"model {self.name} must be fitted before predict")
        if periods < 1:
            raise DataError(f"periods must be at least 1, got {periods}")
        targets = period_range(self.cutoff_ + 1, self.cutoff_ + periods)
        expected = np.asarray(
            self._predict(periods, cut_covariates(covariates, (targets[-1] + 1).start_time)),
            dtype=float)
        if hasattr(self, "harm_per_crime_"):  # an event model under a harm target
            expected = expected * self.harm_per_crime_
        if expected.shape != (periods, len(self.cells_)):
            raise RuntimeError(f"{self.name} predicted shape {expected.shape}")
        if not np.all(np.isfinite(expected)) or np.any(expected < 0):
            raise RuntimeError(f"{self.name} predicted negative or non-finite counts")
        if targets[0] <= self.cutoff_:
            raise LeakageError(f"{self.name} predicted a period at or before its cutoff")
        attrs = {"model": self.name, "cutoff": period_label(self.cutoff_), "freq": self.freq_}
        if hasattr(self, "target_"):
            attrs["target"] = self.target_
        return xr.DataArray(
            expected,
            dims=("time", "cell"),
            coords={"time": period_starts(targets), "cell": self.cells_},
            name="expected",
            attrs=attrs,
        )

    def fitted_params(self) -> dict[str, Any]:
        """Learned parameters worth saving next to predictions (override to add more)."""
        return {}

    # -- to be written by each model -------------------------------------------------
    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        raise NotImplementedError

    def _predict(self, periods: int, covariates: Covariates | None) -> np.ndarray:
        raise NotImplementedError


def clone(model: BaseForecaster) -> BaseForecaster:
    """A new, unfitted model with copies of the same parameters (as scikit-learn's
    ``clone``: the two never share a mutable parameter)."""
    return type(model)(**copy.deepcopy(model.get_params()))


def optional(kind: Callable[[Any], T], value: Any) -> T | None:
    """``kind(value)``, or ``None`` for ``None``: an optional parameter converted where a
    model uses it (constructors store parameters as given)."""
    return None if value is None else kind(value)


def _row_starts(group: str, table: pd.DataFrame | pd.Series) -> pd.DatetimeIndex:
    """When each row's period starts, read the way ``features.design`` reads the table."""
    times = (table["time"] if isinstance(table, pd.DataFrame) and "time" in table.columns
             else table.index)
    if isinstance(times, pd.PeriodIndex):
        return times.start_time
    try:
        return pd.DatetimeIndex(times)
    except (TypeError, ValueError):
        raise DataError(f"covariate {group!r} must be indexed by period start (or have a "
                        f"'time' column): got a {type(table.index).__name__}") from None


def cut_covariates(covariates: Covariates | None, end: pd.Timestamp) -> dict | None:
    """Each covariate table's rows for periods starting before ``end``.

    A row belongs to the period its time falls in, so a row timed inside a period after
    the cut (say mid-month) goes too.
    """
    if covariates is None:
        return None
    return {group: table.loc[np.asarray(_row_starts(group, table) < end)]
            for group, table in covariates.items()}


class LevelForecaster(BaseForecaster):
    """A forecaster whose prediction is one level per cell, the same for every horizon."""

    level_: np.ndarray

    def _predict(self, periods: int, covariates: Covariates | None) -> np.ndarray:
        return np.tile(self.level_, (periods, 1))
