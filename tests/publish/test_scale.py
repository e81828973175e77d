"""The shared colour scale (rank classes) and the rank labels of map.png."""

from __future__ import annotations

import numpy as np
import shapely
from matplotlib.figure import Figure

from hotspot.publish import cell_table
from hotspot.publish.maps import draw_boxes
from hotspot.publish.scale import CLASS_COLOURS, ZERO_COLOUR, class_colours, rank_classes


def test_classes_cover_every_rank_once_darkest_first(forecast, cube):
    table, _ = cell_table(forecast, cube)
    classes = rank_classes(table)
    covered = [r for c in classes for r in range(c.first, c.last + 1)]
    assert covered == list(range(1, len(table) + 1))
    assert classes[0].first == 1 and classes[0].colour == CLASS_COLOURS[0]
    # by the ranking quantity: no class holds a denser cell than the class before it
    highs = [c.density_high for c in classes]
    lows = [c.density_low for c in classes]
    assert all(lows[i] >= highs[i + 1] for i in range(len(classes) - 1))
    colours = class_colours(table, classes)
    assert colours[table["rank"].to_numpy() == 1][0] == CLASS_COLOURS[0]


def test_cells_expected_to_see_nothing_are_grey(forecast, cube):
    values = forecast.values.copy()
    values[0, ::2] = 0.0  # half the cells expect nothing
    table, _ = cell_table(forecast.copy(data=values), cube)
    classes = rank_classes(table)
    zero = table["expected"].to_numpy() == 0
    colours = class_colours(table, classes)
    assert (colours[zero] == ZERO_COLOUR).all() and (colours[~zero] != ZERO_COLOUR).all()
    assert classes[-1].label.endswith("none expected")


def test_png_boxes_carry_their_rank(forecast, cube):
    table, _ = cell_table(forecast, cube, boxes=12)
    ax = Figure().add_subplot()
    assert draw_boxes(ax, table) == 12
    labels = sorted(int(t.get_text()) for t in ax.texts)
    assert labels == list(range(1, 13))
    # each label sits inside its own box
    boxes = table[table["in_boxes"]].set_index("rank")
    for text in ax.texts:
        x, y = text.get_position()
        cell = boxes.loc[int(text.get_text()), "geometry"]
        assert cell.contains(shapely.Point(x, y))
    assert np.isfinite([t.get_position() for t in ax.texts]).all()
