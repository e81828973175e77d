"""The one forecaster interface.

Subclasses write ``_fit`` and ``_predict`` only. The public ``fit`` checks the cube and
cuts it (and any events) to the cutoff: this is the single leakage guard, so no model can
see a period after ``until`` however it is written. ``__init__`` only stores parameters;
learned state ends in ``_``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.errors import DataError, LeakageError, NotFittedError
from hotspot.core.periods import period_label, period_range, period_starts, to_period
from hotspot.features.cube import check_cube, cube_periods


class BaseForecaster:
    """Fit on a cube up to a cutoff period; predict expected counts per cell after it."""

    #: Registry name, e.g. ``naive-mean``.
    name: ClassVar[str] = ""
    #: Models that need event-level data (timestamps, exact locations) set this.
    needs_events: ClassVar[bool] = False

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def fit(
        self, cube: xr.Dataset, until: pd.Period | str, events: pd.DataFrame | None = None
    ) -> Self:
        """Fit on the cube's periods up to and including ``until``; return ``self``."""
        check_cube(cube)
        cutoff = to_period(until, cube.attrs["freq"])
        periods = cube_periods(cube)
        if cutoff < periods[0]:
            raise DataError(
                f"cutoff {period_label(cutoff)} is before the cube's first period "
                f"{period_label(periods[0])}: choose a later origin"
            )
        history = cube.isel(time=np.flatnonzero(periods <= cutoff))
        if self.needs_events and events is None:
            raise DataError(f"model {self.name} needs event-level data: pass events to fit")
        if events is not None:
            events = events.loc[events["time"] < (cutoff + 1).start_time]
        self.cutoff_ = cutoff
        self.freq_ = cube.attrs["freq"]
        self.cells_ = cube["cell"].values
        self._fit(history, events)
        return self

    def predict(self, periods: int = 1) -> xr.DataArray:
        """Expected counts ``(time, cell)`` for the ``periods`` periods after the cutoff."""
        if not hasattr(self, "cutoff_"):
            raise NotFittedError(f"model {self.name} must be fitted before predict")
        if periods < 1:
            raise DataError(f"periods must be at least 1, got {periods}")
        expected = np.asarray(self._predict(periods), dtype=float)
        if expected.shape != (periods, len(self.cells_)):
            raise RuntimeError(f"{self.name} predicted shape {expected.shape}")
        if not np.all(np.isfinite(expected)) or np.any(expected < 0):
            raise RuntimeError(f"{self.name} predicted negative or non-finite counts")
        targets = period_range(self.cutoff_ + 1, self.cutoff_ + periods)
        if targets[0] <= self.cutoff_:
            raise LeakageError(f"{self.name} predicted a period at or before its cutoff")
        return xr.DataArray(
            expected,
            dims=("time", "cell"),
            coords={"time": period_starts(targets), "cell": self.cells_},
            name="expected",
            attrs={"model": self.name, "cutoff": period_label(self.cutoff_),
                   "freq": self.freq_},
        )

    def fitted_params(self) -> dict[str, Any]:
        """Learned parameters worth saving next to predictions (override to add more)."""
        return {}

    # -- to be written by each model -------------------------------------------------
    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None) -> None:
        raise NotImplementedError

    def _predict(self, periods: int) -> np.ndarray:
        raise NotImplementedError



class LevelForecaster(BaseForecaster):
    """A forecaster whose prediction is one level per cell, the same for every horizon."""

    level_: np.ndarray

    def _predict(self, periods: int) -> np.ndarray:
        return np.tile(self.level_, (periods, 1))
