"""The events one self-exciting fit sees, as float days since the start of its history.

Shared by ``etas-grid`` and ``sepp``: times sorted, each event assigned to a cell, events
outside the grid dropped as the cube drops them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from hotspot.features.cube import grid_of


@dataclass(frozen=True)
class EventWindow:
    """The events one fit sees: times in days since ``start`` (sorted), positions, cells."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    cell: np.ndarray
    T: float
    start: pd.Timestamp
    n_cells: int

    @property
    def n(self) -> int:
        return int(self.t.size)

    @property
    def remaining(self) -> np.ndarray:
        """Time from each event to the end of the observation window, ``T − t_i``."""
        return self.T - self.t


def event_window(history: xr.Dataset, events: pd.DataFrame, cutoff: pd.Period) -> EventWindow:
    """Events from the start of ``history``'s first period to the end of ``cutoff``, in cells.

    Events outside the grid's area (or without coordinates) are dropped, as the cube drops
    them. Times become float days since the first period's start; the observation window
    is ``[0, T)`` with ``T`` the end of the cutoff period. Month-resolution sources (all
    times on the 1st) come through unchanged: every event sits at its month's start.
    """
    start = pd.Timestamp(history["time"].values[0])
    end = (cutoff + 1).start_time
    if events is None or len(events) == 0:
        empty = np.empty(0)
        return EventWindow(empty, empty, empty, np.empty(0, np.int64),
                           float((end - start) / pd.Timedelta(days=1)), start,
                           history.sizes["cell"])
    times = pd.DatetimeIndex(events["time"])
    x = events["x"].to_numpy(dtype=float)
    y = events["y"].to_numpy(dtype=float)
    keep = np.asarray((times >= start) & (times < end)) & np.isfinite(x) & np.isfinite(y)
    cell = np.full(x.shape, -1, dtype=np.int64)
    if keep.any():
        cell[keep] = grid_of(history).assign(x[keep], y[keep])
    keep &= cell >= 0
    t = np.asarray((times[keep] - start) / pd.Timedelta(days=1), dtype=float)
    order = np.argsort(t, kind="stable")
    return EventWindow(
        t=t[order], x=x[keep][order], y=y[keep][order], cell=cell[keep][order],
        T=float((end - start) / pd.Timedelta(days=1)), start=start,
        n_cells=history.sizes["cell"],
    )
