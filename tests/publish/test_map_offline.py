"""map.html works offline: headless Chromium with no network draws every cell and the
rank labels, and the page links nothing from a CDN."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from hotspot.publish import publish_forecast
from hotspot.publish.scale import CLASS_COLOURS

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p and Path(p).exists()), None)
WINDOW = (1000, 800)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium'): the "
                             "offline map screenshot test needs a headless browser")


def _chromium(page: Path, profile: Path, *args: str, timeout_s: float = 90.0) -> str:
    """Run headless Chromium on ``page`` with every host name unresolvable; return its
    stdout. The browser gets its own process group, killed whole afterwards."""
    command = [
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--disable-background-networking", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
        f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--hide-scrollbars", "--virtual-time-budget=5000", *args, page.as_uri()]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               start_new_session=True, text=True)
    try:
        out, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pytest.fail(f"headless Chromium did not finish in {timeout_s:g} s")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # helpers it left behind
        process.wait()
    assert process.returncode == 0, f"chromium exited {process.returncode}"
    return out


@pytest.fixture(scope="module")
def cells(published) -> gpd.GeoDataFrame:
    return gpd.read_file(published["gpkg"], layer="cells")


@pytest.fixture(scope="module")
def page(published) -> Path:
    return published["html"]


@pytest.fixture(scope="module")
def rendered(page, tmp_path_factory):
    """The page's DOM after its script ran, its screenshot, and the screenshot of the
    same page with the rank labels hidden (RGB arrays)."""
    work = tmp_path_factory.mktemp("chromium")
    dom = _chromium(page, work / "profile-dom", "--dump-dom")
    # the same page, labels hidden: what differs between the two shots is the labels
    unlabelled = work / "unlabelled.html"
    unlabelled.write_text(page.read_text().replace(
        "</head>", "<style>.hs-rank { visibility: hidden; }</style></head>", 1))
    shots = []
    for name, html in (("map", page), ("unlabelled", unlabelled)):
        shot = work / f"{name}.png"
        _chromium(html, work / f"profile-{name}", f"--screenshot={shot}")
        shots.append(np.asarray(Image.open(shot).convert("RGB"), dtype=int))
    return dom, shots[0], shots[1]


def _labels(dom: str) -> list[int]:
    """The rank written in each rank label of the rendered DOM."""
    return [int(m.group(1)) for m in re.finditer(
        r"<div[^>]*class=\"[^\"]*hs-rank[^\"]*\"[^>]*>(\d+)</div>", dom)]


def test_html_links_no_script_or_stylesheet(page):
    text = page.read_text()
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", text, re.IGNORECASE)
    assert not re.search(r"@import\s+(url\()?[\"']?(https?:)?//", text, re.IGNORECASE)
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "code.jquery", "bootstrapcdn"):
        assert cdn not in text
    assert "L.map(" in text and "Leaflet 1.9.4" in text  # the library itself is inline


def test_html_draws_every_cell_with_attribution(page, cells):
    text = page.read_text()
    assert text.count('"type":"Feature"') >= len(cells)  # every cell, not only the top
    assert all(f'"cell":"{c}"' in text for c in cells["cell_id"])
    assert "Open Government Licence v3.0" in text
    assert "Contains OS data © Crown copyright and database right" in text
    # OSM is credited by the tile layer, once a tile has loaded: not in the fixed credits
    fixed = re.search(r'"attribution":"([^"]*)"', text).group(1)
    assert "OpenStreetMap" not in fixed and "OpenStreetMap" in text


@needs_chromium
def test_offline_dom_has_every_rank_label(rendered, cells):
    dom, _, _ = rendered
    n_boxes = int(cells["in_boxes"].sum())
    assert n_boxes == 20
    ranks = sorted(_labels(dom))
    assert ranks == list(range(1, n_boxes + 1))
    assert dom.count("leaflet-interactive") >= len(cells)  # one SVG path per cell


@needs_chromium
def test_offline_screenshot_shows_cells_and_labels(rendered):
    _, image, unlabelled = rendered
    assert image.shape[:2] == (WINDOW[1], WINDOW[0])
    red, blue = image[..., 0], image[..., 2]
    # class fills at 0.8 opacity over the white background, no tiles behind them
    warm = (red > 200) & (blue < 190) & (red - blue > 50)
    assert warm.mean() > 0.15, f"only {warm.mean():.1%} of the page shows coloured cells"
    darkest = np.array([int(CLASS_COLOURS[0][i:i + 2], 16) for i in (1, 3, 5)])
    blended = 0.8 * darkest + 0.2 * 255
    near_darkest = (np.abs(image - blended).max(axis=-1) < 25).sum()
    assert near_darkest > 100, "the darkest class (rank 1) is not on the page"
    # the labels: 20 separate spots where the two shots differ, dark digits in each
    changed = np.abs(image - unlabelled).max(axis=-1) > 40
    spots, n_spots = ndimage.label(ndimage.binary_dilation(changed, iterations=2))
    dark = image.max(axis=-1) < 90
    with_digits = [i for i in range(1, n_spots + 1) if (dark & (spots == i)).sum() >= 4]
    assert n_spots == len(with_digits) == 20, f"{n_spots} spots changed, " \
        f"{len(with_digits)} with dark digits: expected the 20 rank labels"


def test_names_from_the_data_cannot_break_out_of_the_page(forecast, cube, area, tmp_path):
    hostile = area.parts.assign(NAME=["</script><b>x</b>"] + list(area.parts["NAME"][1:]))
    paths = publish_forecast(forecast, cube, tmp_path / "out", area_parts=hostile)
    text = paths["html"].read_text()
    # one closing tag per script element: Leaflet, the data, the page's own script
    assert text.count("</script>") == 3
    assert "<\\/script><b>x<\\/b>" in text  # the name is there, as data
