"""One colour scale for every published view: classes of the ranking, darkest first.

Ranks come from expected density (expected count or harm per km², ``density_per_km2``),
so colouring by rank class is colouring by the ranking quantity: rank 1 is always in the
darkest class and a class never holds a denser cell than the class before it. Class
edges are shares of the cells (top 1 %, 2 %, 5 %, ...), because densities are skewed: a
linear scale on density would leave all but a handful of cells the palest colour. Cells
expected to see nothing form their own grey class at the end (they are the last ranks).

map.html, map.png, patrol.pdf and the GeoPackage's QGIS style all use these classes, so
the four show the same colours for the same cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np

#: Upper edges of the classes as shares of the ranked cells (the last is every cell).
CLASS_SHARES = (0.01, 0.02, 0.05, 0.10, 0.20, 0.40, 1.0)
#: Fill colours of the classes, darkest (rank 1) first: ColorBrewer YlOrRd, 7 classes.
CLASS_COLOURS = ("#b10026", "#e31a1c", "#fc4e2a", "#fd8d3c", "#feb24c", "#fed976", "#ffffb2")
#: Fill of cells expected to see no event (or no harm).
ZERO_COLOUR = "#eeeeee"
#: Outline of the top-N patrol boxes, on every view.
BOX_COLOUR = "#08306b"


@dataclass(frozen=True)
class RankClass:
    """Ranks ``first``..``last`` (inclusive), their colour and density range (per km²)."""

    first: int
    last: int
    colour: str
    density_high: float
    density_low: float

    @property
    def label(self) -> str:
        ranks = f"rank {self.first}" if self.first == self.last else \
            f"ranks {self.first}-{self.last}"
        if self.density_high <= 0:
            return f"{ranks}: none expected"
        low, high = _number(self.density_low), _number(self.density_high)
        return f"{ranks}: {low if low == high else f'{low}-{high}'} per km²"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def rank_classes(table: gpd.GeoDataFrame) -> list[RankClass]:
    """The colour classes of a published table (columns ``rank``, ``density_per_km2``,
    ``expected``), best ranks first; empty classes are left out."""
    ranked = table.sort_values("rank")
    density = ranked["density_per_km2"].to_numpy(dtype=float)
    n_cells = density.size
    # zero-expectation cells rank last (ties by id): they get the grey class alone
    n_positive = int(np.count_nonzero(ranked["expected"].to_numpy(dtype=float) > 0))
    classes: list[RankClass] = []
    first = 1
    for share, colour in zip(CLASS_SHARES, CLASS_COLOURS, strict=True):
        last = min(max(int(round(share * n_cells)), first), n_positive)
        if share == CLASS_SHARES[-1]:
            last = n_positive
        if last >= first:
            classes.append(RankClass(first, last, colour, float(density[first - 1]),
                                     float(density[last - 1])))
            first = last + 1
    if n_positive < n_cells:
        classes.append(RankClass(n_positive + 1, n_cells, ZERO_COLOUR, 0.0, 0.0))
    return classes


def class_colours(table: gpd.GeoDataFrame,
                  classes: list[RankClass] | None = None) -> np.ndarray:
    """Each row's fill colour (hex), in the table's row order."""
    classes = rank_classes(table) if classes is None else classes
    rank = table["rank"].to_numpy()
    colours = np.full(rank.size, ZERO_COLOUR, dtype=object)
    for cls in classes:
        colours[(rank >= cls.first) & (rank <= cls.last)] = cls.colour
    return colours
