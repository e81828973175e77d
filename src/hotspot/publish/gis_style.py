"""forecast.gpkg for QGIS: a default style and layer metadata stored in the file itself.

QGIS reads a GeoPackage's ``layer_styles`` table (its own schema, the one QGIS writes
with "Save style... in database") and applies the row marked ``useAsDefault`` when the
layer is opened, so the cells open coloured by the shared rank classes
(``publish.scale``), the top-N boxes outlined and labelled with their rank, instead of
as a single-colour grid. The style is QML (a graduated renderer on ``rank``) with an SLD
twin for other clients.

Metadata goes three ways, each read by different tools: GDAL's ``IDENTIFIER`` and
``DESCRIPTION`` layer options (``gpkg_contents``: the title and abstract every GPKG
reader shows), GDAL layer metadata items (``ogrinfo``), and a QGIS metadata document in
``gpkg_metadata`` referenced from ``gpkg_metadata_reference`` (QGIS's Metadata tab).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hotspot.publish.cells import ForecastInfo
from hotspot.publish.scale import BOX_COLOUR, RankClass

STYLE_NAME = "hotspot rank classes"
#: The expression QGIS evaluates per cell for the boxes' outline and rank label.
BOX_TEST = '"in_boxes"'
QGIS_MD_URI = "http://mrcc.com/qgis.dtd"

_LAYER_STYLES = """CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
  styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""
# the GeoPackage 1.2+ metadata extension's tables, as the standard defines them
_METADATA = """CREATE TABLE IF NOT EXISTS gpkg_metadata (
  id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL,
  md_scope TEXT NOT NULL DEFAULT 'dataset', md_standard_uri TEXT NOT NULL,
  mime_type TEXT NOT NULL DEFAULT 'text/xml', metadata TEXT NOT NULL DEFAULT '')"""
_METADATA_REFERENCE = """CREATE TABLE IF NOT EXISTS gpkg_metadata_reference (
  reference_scope TEXT NOT NULL, table_name TEXT, column_name TEXT, row_id_value INTEGER,
  timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  md_file_id INTEGER NOT NULL, md_parent_id INTEGER,
  CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES gpkg_metadata(id),
  CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES gpkg_metadata(id))"""


def layer_metadata(info: ForecastInfo, attribution: str | None) -> tuple[dict[str, str], str]:
    """The layer's metadata items (target, model, period, cutoff, boxes, licence, study
    area) and its one-paragraph abstract."""
    items = {"target": info.target_name, "target_title": info.target_title,
             "model": info.model, "period": info.target_label, "cutoff": str(info.cutoff),
             "boxes": str(info.boxes), "licence": attribution or "",
             "study_area": info.area_summary}
    abstract = (f"{info.target_title} forecast for {info.target_label} by {info.model}: "
                f"{info.counted} per cell, ranked by density (rank 1 highest); the top "
                f"{info.boxes} cells are the patrol boxes (in_boxes). "
                f"{info.area_summary} {attribution or ''}").strip()
    return items, abstract


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    value = hex_colour.lstrip("#")
    return ",".join(str(int(value[i:i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"


def _props(props: Mapping[str, str]) -> str:
    # QGIS >= 3.26 reads the Option map, earlier 3.x the prop list: both are written
    options = "".join(f'<Option name="{k}" type="QString" value={quoteattr(v)}/>'
                      for k, v in props.items())
    legacy = "".join(f'<prop k="{k}" v={quoteattr(v)}/>' for k, v in props.items())
    return f'<Option type="Map">{options}</Option>{legacy}'


def _fill_layer(props: Mapping[str, str], defined: str = "") -> str:
    return (f'<layer class="SimpleFill" enabled="1" pass="0" locked="0">{_props(props)}'
            f"{defined}</layer>")


def _box_outline_expression() -> str:
    return f"CASE WHEN {BOX_TEST} THEN 'solid' ELSE 'no' END"


def _symbol(index: int, colour: str) -> str:
    fill = _fill_layer({"color": _rgba(colour), "style": "solid",
                        "outline_color": "160,160,160,255", "outline_style": "solid",
                        "outline_width": "0.1", "outline_width_unit": "MM"})
    # the boxes' outline: a second, brushless layer whose stroke only the top N draw
    defined = (
        '<data_defined_properties><Option type="Map"><Option name="name" type="QString" '
        'value=""/><Option name="properties" type="Map"><Option name="outlineStyle" '
        'type="Map"><Option name="active" type="bool" value="true"/><Option '
        f'name="expression" type="QString" value={quoteattr(_box_outline_expression())}/>'
        '<Option name="type" type="int" value="3"/></Option></Option><Option name="type" '
        'type="QString" value="collection"/></Option></data_defined_properties>')
    outline = _fill_layer({"color": "0,0,0,0", "style": "no",
                           "outline_color": _rgba(BOX_COLOUR), "outline_style": "solid",
                           "outline_width": "0.7", "outline_width_unit": "MM"}, defined)
    return (f'<symbol type="fill" name="{index}" alpha="1" clip_to_extent="1" '
            f'force_rhr="0">{fill}{outline}</symbol>')


def _labeling() -> str:
    label = f'CASE WHEN {BOX_TEST} THEN "rank" END'
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName={quoteattr(label)} isExpression="1" fontSize="9" '
        'fontSizeUnit="Point" fontWeight="75" textColor="0,0,0,255" textOpacity="1" '
        'fontFamily="Sans Serif" namedStyle="Bold">'
        '<text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" '
        'bufferColor="255,255,255,255" bufferOpacity="1"/></text-style>'
        '<placement placement="1" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0"/>'
        '<rendering obstacle="0" upsidedownLabels="0" displayAll="1"/>'
        "</settings></labeling>")


def style_qml(classes: list[RankClass]) -> str:
    """The QGIS style document: graduated on ``rank`` by the given classes, the boxes
    outlined (a data-defined stroke) and labelled with their rank."""
    # QGIS ranges include their upper value and (but for the first) exclude the lower:
    # half-way edges make integer ranks fall in exactly one, whichever rule applies
    ranges = "".join(
        f'<range render="true" symbol="{i}" lower="{cls.first - 0.5}" '
        f'upper="{cls.last + 0.5}" label={quoteattr(cls.label)}/>'
        for i, cls in enumerate(classes))
    symbols = "".join(_symbol(i, cls.colour) for i, cls in enumerate(classes))
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0-Firenze" styleCategories="Symbology|Labeling" '
        'labelsEnabled="1">'
        '<renderer-v2 type="graduatedSymbol" attr="rank" graduatedMethod="GraduatedColor" '
        'symbollevels="0" forceraster="0" enableorderby="0" referencescale="-1">'
        f"<ranges>{ranges}</ranges><symbols>{symbols}</symbols>"
        '<mode name="manual"/><rotation/><sizescale/></renderer-v2>'
        f"{_labeling()}</qgis>\n")


def style_sld(classes: list[RankClass], layer: str) -> str:
    """The same classes as an OGC SLD 1.1 (GeoServer, other clients): one rule per class
    on ``rank`` and one outlining the boxes."""
    rules = "".join(
        f"<se:Rule><se:Name>{escape(cls.label)}</se:Name><ogc:Filter>"
        "<ogc:PropertyIsBetween><ogc:PropertyName>rank</ogc:PropertyName>"
        f"<ogc:LowerBoundary><ogc:Literal>{cls.first}</ogc:Literal></ogc:LowerBoundary>"
        f"<ogc:UpperBoundary><ogc:Literal>{cls.last}</ogc:Literal></ogc:UpperBoundary>"
        "</ogc:PropertyIsBetween></ogc:Filter><se:PolygonSymbolizer><se:Fill>"
        f'<se:SvgParameter name="fill">{cls.colour}</se:SvgParameter></se:Fill>'
        '<se:Stroke><se:SvgParameter name="stroke">#a0a0a0</se:SvgParameter>'
        '<se:SvgParameter name="stroke-width">0.3</se:SvgParameter></se:Stroke>'
        "</se:PolygonSymbolizer></se:Rule>"
        for cls in classes)
    boxes = (
        "<se:Rule><se:Name>top boxes</se:Name><ogc:Filter><ogc:PropertyIsEqualTo>"
        "<ogc:PropertyName>in_boxes</ogc:PropertyName><ogc:Literal>1</ogc:Literal>"
        "</ogc:PropertyIsEqualTo></ogc:Filter><se:PolygonSymbolizer><se:Stroke>"
        f'<se:SvgParameter name="stroke">{BOX_COLOUR}</se:SvgParameter>'
        '<se:SvgParameter name="stroke-width">2</se:SvgParameter></se:Stroke>'
        "</se:PolygonSymbolizer><se:TextSymbolizer><se:Label><ogc:PropertyName>rank"
        "</ogc:PropertyName></se:Label></se:TextSymbolizer></se:Rule>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<StyledLayerDescriptor version="1.1.0" '
        'xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" '
        'xmlns:se="http://www.opengis.net/se">'
        f"<NamedLayer><se:Name>{escape(layer)}</se:Name><UserStyle>"
        f"<se:Name>{escape(STYLE_NAME)}</se:Name><se:FeatureTypeStyle>{rules}{boxes}"
        "</se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>\n")


def qgis_metadata(identifier: str, title: str, abstract: str, keywords: Mapping[str, str],
                  licence: str) -> str:
    """A QGIS layer metadata document (what the Metadata tab shows)."""
    words = "".join(f"<keyword>{escape(f'{k}: {v}')}</keyword>" for k, v in keywords.items())
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0-Firenze">'
        f"<identifier>{escape(identifier)}</identifier><parentidentifier></parentidentifier>"
        "<language>eng</language><type>dataset</type>"
        f"<title>{escape(title)}</title><abstract>{escape(abstract)}</abstract>"
        f'<keywords vocabulary="hotspot">{words}</keywords>'
        f"<licenses><license>{escape(licence)}</license></licenses>"
        "</qgis>\n")


def _register_extension(db: sqlite3.Connection, table: str) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name "
               "TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT "
               "NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))")
    # NULL column names never collide in the UNIQUE constraint: look before inserting
    known = db.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND "
                       "extension_name = 'gpkg_metadata'", (table,)).fetchone()
    if known is None:
        db.execute("INSERT INTO gpkg_extensions VALUES (?, NULL, 'gpkg_metadata', "
                   "'http://www.geopackage.org/spec120/#extension_metadata', 'read-write')",
                   (table,))


def style_geopackage(
    path: Path,
    layer: str,
    classes: list[RankClass],
    *,
    title: str,
    abstract: str,
    keywords: Mapping[str, str],
    licence: str,
) -> None:
    """Add the default QGIS style and a QGIS metadata document for ``layer`` to the
    GeoPackage at ``path`` (a file GDAL has finished writing; any name)."""
    db = sqlite3.connect(path)
    try:
        with db:  # one transaction: the style and metadata land together or not at all
            _write_style(db, layer, classes, title=title, abstract=abstract,
                         keywords=keywords, licence=licence)
    finally:
        db.close()


def _write_style(db: sqlite3.Connection, layer: str, classes: list[RankClass], *,
                 title: str, abstract: str, keywords: Mapping[str, str], licence: str) -> None:
    (geometry_column,) = db.execute(
        "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
        (layer,)).fetchone()
    db.execute(_LAYER_STYLES)
    # QGIS registers its style table as an attributes table: GPKG readers list it
    db.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier) "
               "VALUES ('layer_styles', 'attributes', 'layer_styles')")
    db.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
    db.execute(
        "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
        "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
        "owner, ui) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', NULL)",
        (layer, geometry_column, STYLE_NAME, style_qml(classes), style_sld(classes, layer),
         "Cells by forecast rank class (rank 1 darkest), top boxes outlined with rank"))
    db.execute(_METADATA)
    db.execute(_METADATA_REFERENCE)
    _register_extension(db, "gpkg_metadata")
    _register_extension(db, "gpkg_metadata_reference")
    cursor = db.execute(
        "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
        "VALUES ('dataset', ?, 'text/xml', ?)",
        (QGIS_MD_URI, qgis_metadata(layer, title, abstract, keywords, licence)))
    db.execute("INSERT INTO gpkg_metadata_reference (reference_scope, table_name, "
               "md_file_id) VALUES ('table', ?, ?)", (layer, cursor.lastrowid))
