"""Run folders are replaced whole (``core.atomic.replace_folder``): never two runs mixed."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from hotspot import publish
from hotspot.core.atomic import replace_folder
from hotspot.core.errors import ConfigError, DataError


def _tree(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _old_run(tmp_path):
    out = tmp_path / "out"
    with replace_folder(out, owned=("a.txt", "b.txt")) as staging:
        (staging / "a.txt").write_text("old a")
        (staging / "b.txt").write_text("old b")
    return out


def test_a_run_replaces_the_folder_whole(tmp_path):
    out = _old_run(tmp_path)
    with replace_folder(out, owned=("a.txt", "b.txt")) as staging:
        (staging / "a.txt").write_text("new a")
    assert _tree(out) == {out.relative_to(out) / "a.txt": b"new a"}  # b.txt was the old run's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("fault", [RuntimeError("killed"), OSError(errno.ENOSPC, "full")])
def test_a_failure_midway_keeps_the_old_folder_and_leaves_no_staging(tmp_path, fault):
    out = _old_run(tmp_path)
    before = _tree(out)
    expected = DataError if isinstance(fault, OSError) else RuntimeError
    with pytest.raises(expected), replace_folder(out, owned=("a.txt", "b.txt")) as staging:
        (staging / "a.txt").write_text("new a")
        raise fault
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_foreign_files_and_a_file_as_folder_are_refused_before_any_work(tmp_path):
    (tmp_path / "mine.txt").write_text("x")
    with (pytest.raises(ConfigError, match=r"holds files this command did not write \(mine"),
          replace_folder(tmp_path, owned=("a.txt",))):
        pytest.fail("must not start")
    with (pytest.raises(ConfigError, match="is a file, not a folder"),
          replace_folder(tmp_path / "mine.txt")):
        pytest.fail("must not start")


def test_a_killed_runs_leftovers_are_cleared_and_its_old_version_restored(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # killed between its two renames: the previous version sits under .old-, no target
    (tmp_path / f".out.old-{dead}-0123abcd").mkdir()
    (tmp_path / f".out.old-{dead}-0123abcd" / "a.txt").write_text("previous")
    (tmp_path / f".out.staging-{dead}-89abcdef").mkdir()
    live = tmp_path / f".out.staging-{os.getpid()}-00000000"
    live.mkdir()  # a live run's staging is never touched
    with replace_folder(tmp_path / "out", owned=("a.txt",)) as staging:
        assert (tmp_path / "out" / "a.txt").read_text() == "previous"
        (staging / "a.txt").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "out"]


def test_publish_killed_midway_keeps_the_previous_forecast(forecast, cube, tmp_path,
                                                          monkeypatch):
    out = tmp_path / "out"
    publish.publish_forecast(forecast, cube, out)
    before = _tree(out)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "write_text_atomic", killed)
    with pytest.raises(KeyboardInterrupt):
        publish.publish_forecast(forecast, cube, out)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
