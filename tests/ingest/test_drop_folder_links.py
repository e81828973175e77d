"""The drop-folder scan follows linked folders (issue 13, item 1): a drop folder whose
months are links is seen, not reported as "nothing new" forever."""

from __future__ import annotations

import os

from hotspot.ingest.drop_folder import scan_drop_folder


def test_linked_month_folders_are_scanned(tmp_path):
    real = tmp_path / "real" / "2020-01"
    real.mkdir(parents=True)
    (real / "2020-01-city-of-london-street.csv").write_text("Crime ID,Month\n")
    drop = tmp_path / "drop"
    drop.mkdir()
    os.symlink(real, drop / "2020-01", target_is_directory=True)
    os.symlink(drop, drop / "loop", target_is_directory=True)  # entered once, no hang
    items = scan_drop_folder(drop)
    assert [item.months for item in items] == [("2020-01",)]
