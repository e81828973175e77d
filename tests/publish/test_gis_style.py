"""forecast.gpkg opens styled in QGIS: the layer_styles table, its QML and the metadata."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET

import geopandas as gpd
import pyogrio
import pytest

from hotspot.publish.scale import BOX_COLOUR, CLASS_COLOURS, rank_classes

QGIS_COLUMNS = ["id", "f_table_catalog", "f_table_schema", "f_table_name",
                "f_geometry_column", "styleName", "styleQML", "styleSLD", "useAsDefault",
                "description", "owner", "ui", "update_time"]


@pytest.fixture(scope="module")
def gpkg(published):
    db = sqlite3.connect(published["gpkg"])
    db.row_factory = sqlite3.Row
    yield db
    db.close()


@pytest.fixture(scope="module")
def cells(published):
    return gpd.read_file(published["gpkg"], layer="cells")


def _rgb(hex_colour: str) -> str:
    return ",".join(str(int(hex_colour[i:i + 2], 16)) for i in (1, 3, 5))


def test_layer_styles_has_qgis_schema_and_one_default(gpkg):
    columns = [row["name"] for row in gpkg.execute("PRAGMA table_info(layer_styles)")]
    assert columns == QGIS_COLUMNS
    rows = gpkg.execute("SELECT * FROM layer_styles").fetchall()
    assert len(rows) == 1
    (style,) = rows
    (geometry_column,) = gpkg.execute(
        "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = 'cells'").fetchone()
    assert (style["f_table_name"], style["f_geometry_column"]) == ("cells", geometry_column)
    assert style["useAsDefault"] == 1 and style["styleName"]
    assert style["update_time"]
    (kind,) = gpkg.execute(
        "SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    assert kind == "attributes"


def test_qml_is_graduated_by_rank_with_boxes_outlined_and_labelled(gpkg, cells):
    (qml,) = gpkg.execute("SELECT styleQML FROM layer_styles").fetchone()
    root = ET.fromstring(qml)
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == "rank"
    classes = rank_classes(cells)
    ranges = renderer.findall("ranges/range")
    assert len(ranges) == len(classes) >= 3
    # every rank falls in exactly one range, rank 1 in the darkest
    for rank in cells["rank"]:
        inside = [r for r in ranges if float(r.get("lower")) < rank <= float(r.get("upper"))]
        assert len(inside) == 1, rank
    first = min(ranges, key=lambda r: float(r.get("lower")))
    symbol = renderer.find(f"symbols/symbol[@name='{first.get('symbol')}']")
    fill, outline = symbol.findall("layer")
    props = {p.get("name"): p.get("value") for p in fill.find("Option").findall("Option")}
    assert props["color"].startswith(_rgb(CLASS_COLOURS[0]))
    legacy = {p.get("k"): p.get("v") for p in outline.findall("prop")}
    assert legacy["outline_color"].startswith(_rgb(BOX_COLOUR)) and legacy["style"] == "no"
    expression = outline.find(".//Option[@name='outlineStyle']/Option[@name='expression']")
    assert '"in_boxes"' in expression.get("value")
    assert root.get("labelsEnabled") == "1"
    label = root.find("labeling/settings/text-style")
    assert label.get("isExpression") == "1" and '"rank"' in label.get("fieldName")
    (sld,) = gpkg.execute("SELECT styleSLD FROM layer_styles").fetchone()
    ET.fromstring(sld)  # well-formed
    assert sld.count("<se:Rule>") == len(classes) + 1


def test_layer_metadata_names_target_model_period_licence(gpkg, published):
    identifier, description = gpkg.execute(
        "SELECT identifier, description FROM gpkg_contents WHERE table_name = 'cells'"
    ).fetchone()
    assert "naive-mean" in identifier and "2021-01" in identifier
    assert "Open Government Licence" in description and "Study area" in description
    docs = gpkg.execute(
        "SELECT m.md_standard_uri, m.metadata FROM gpkg_metadata m JOIN "
        "gpkg_metadata_reference r ON r.md_file_id = m.id WHERE r.table_name = 'cells' "
        "AND r.reference_scope = 'table'").fetchall()
    by_uri = {uri: text for uri, text in docs}
    assert set(by_uri) == {"http://gdal.org", "http://mrcc.com/qgis.dtd"}
    qgis = ET.fromstring(by_uri["http://mrcc.com/qgis.dtd"])
    assert "Open Government Licence" in qgis.find("licenses/license").text
    keywords = [k.text for k in qgis.findall("keywords/keyword")]
    assert {"target: all", "model: naive-mean", "period: 2021-01"} <= set(keywords)
    items = pyogrio.read_info(published["gpkg"], layer="cells")["layer_metadata"]
    assert (items["target"], items["model"], items["period"]) == ("all", "naive-mean",
                                                                   "2021-01")
    assert "Open Government Licence" in items["licence"]
    registered = gpkg.execute(
        "SELECT table_name, COUNT(*) FROM gpkg_extensions WHERE extension_name = "
        "'gpkg_metadata' GROUP BY table_name").fetchall()
    assert dict(registered) == {"gpkg_metadata": 1, "gpkg_metadata_reference": 1}


def test_styled_gpkg_still_reads_as_the_cells_layer(published, cells, cube):
    layers = dict(pyogrio.list_layers(published["gpkg"]))
    assert layers["cells"] == "Polygon" and "layer_styles" in layers
    assert len(cells) == cube.sizes["cell"]


#: A Python with PyQGIS (Debian's python3-qgis), if this machine has one.
_QGIS_PYTHON = "/usr/bin/python3"
_QGIS_PROBE = r"""
import json, sys
from qgis.core import QgsApplication, QgsVectorLayer
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
layer = QgsVectorLayer(sys.argv[1] + "|layername=cells", "cells", "ogr")
renderer = layer.renderer()
ranges = [[r.lowerValue(), r.upperValue(), r.symbol().color().name(),
           r.symbol().symbolLayerCount()] for r in renderer.ranges()]
print(json.dumps({"valid": layer.isValid(), "type": renderer.type(),
                  "attr": renderer.classAttribute(), "ranges": ranges,
                  "labels": layer.labelsEnabled(),
                  "label_field": layer.labeling().settings().fieldName,
                  "title": layer.metadata().title(),
                  "licences": layer.metadata().licenses()}), flush=True)
# QGIS 3.22 can crash tearing down its providers: the answer is out, skip the teardown
import os
os._exit(0)
"""


def _has_qgis() -> bool:
    import subprocess
    from pathlib import Path

    if not Path(_QGIS_PYTHON).exists():
        return False
    probe = subprocess.run([_QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True,
                           timeout=60, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _has_qgis(), reason="PyQGIS is not installed (Debian package "
                    "python3-qgis): QGIS itself is needed to open the styled layer")
def test_qgis_opens_the_layer_with_the_stored_style(published, cells):
    import json
    import os
    import subprocess

    run = subprocess.run([_QGIS_PYTHON, "-c", _QGIS_PROBE, str(published["gpkg"])],
                         capture_output=True, text=True, timeout=120, check=True,
                         env={"PATH": os.environ.get("PATH", "/usr/bin"),
                              "HOME": os.environ.get("HOME", "/tmp"),
                              "QT_QPA_PLATFORM": "offscreen"})
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["valid"] and (seen["type"], seen["attr"]) == ("graduatedSymbol", "rank")
    classes = rank_classes(cells)
    assert [r[2] for r in seen["ranges"]] == [c.colour for c in classes]
    assert all(r[3] == 2 for r in seen["ranges"])  # fill + the boxes' outline layer
    assert seen["labels"] and '"rank"' in seen["label_field"]
    assert "naive-mean" in seen["title"]
    assert any("Open Government Licence" in text for text in seen["licences"])
