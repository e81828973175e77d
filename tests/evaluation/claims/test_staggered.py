"""Staggered rollouts: the rollout CSV, the stacked panel's clean controls, and a plant on
the shipped City of London sample (three wards, three start months, known thinning)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from hotspot.core.area import load_area
from hotspot.core.errors import ConfigError, DataError
from hotspot.core.resources import embedded_path
from hotspot.evaluation.claims.rollout import looks_like_rollout, read_rollout
from hotspot.evaluation.claims.stacked import build_stacks
from hotspot.evaluation.claims.staggered import evaluate_staggered
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.store import read_events

from .conftest import write_store

WARDS = embedded_path("boundaries", "city-of-london-wards.gpkg")
#: 14 months of the shipped sample, before the Covid-19 months.
MONTHS = tuple(str(m) for m in pd.period_range("2019-01", "2020-02", freq="M"))
#: unit -> (start, planted rate ratio). Chosen among busy wards whose unplanted data show
#: no change at these starts (asserted below), so the truth is the planted ratio.
PLAN = {"Tower": ("2019-08", 0.6), "Farringdon Within": ("2019-10", 0.7),
        "Castle Baynard": ("2019-12", 0.5)}


def _rollout_csv(path: Path, plan: dict[str, tuple[str, float]]) -> Path:
    path.write_text("unit,start\n" + "".join(f"{u},{s}\n" for u, (s, _) in plan.items()))
    return path


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict[str, Path]:
    """The sample as a store, and a copy whose PLAN wards lose events after their start
    (each event kept with probability = the planted ratio, seeded)."""
    root = tmp_path_factory.mktemp("staggered")
    base = root / "base"
    ingest_police_uk([embedded_path("police-uk", m) for m in MONTHS], base,
                     area=load_area(WARDS))
    events = read_events(base)
    wards = load_area(WARDS).parts.set_index("NAME")
    month = pd.PeriodIndex(pd.DatetimeIndex(events["time"]), freq="M")
    rng = np.random.default_rng(5)
    keep = np.ones(len(events), bool)
    for unit, (start, ratio) in PLAN.items():
        inside = shapely.contains_xy(wards.geometry[unit], events["x"].to_numpy(),
                                     events["y"].to_numpy())
        hit = inside & np.asarray(month >= pd.Period(start, "M"))
        keep &= ~(hit & (rng.random(len(events)) >= ratio))
    planted = write_store(root / "planted", events[keep])
    return {"base": base, "planted": planted, "rollout": _rollout_csv(root / "r.csv", PLAN)}


@pytest.fixture(scope="module")
def planted(city):
    return evaluate_staggered(city["planted"], WARDS, city["rollout"], buffer_m=0,
                              n_placebo=20)


def test_unplanted_data_show_no_cohort_effect(city):
    result = evaluate_staggered(city["base"], WARDS, city["rollout"], buffer_m=0,
                                n_placebo=5)
    for start, _ in PLAN.values():
        row = result.effect(start)
        assert row["ci_low"] < 1 < row["ci_high"], (start, row.to_dict())


def test_staggered_plant_recovers_each_cohort_within_its_ci(planted):
    for unit, (start, ratio) in PLAN.items():
        row = planted.effect(start)
        assert row["units"] == unit
        assert row["ci_low"] < ratio < row["ci_high"], (unit, row.to_dict())
        assert row["ci_high"] < 1  # and the drop is found
        assert row["n_controls"] >= 10
    overall = planted.effect("overall")
    assert 0.5 < overall["estimate"] < 0.75 and overall["ci_high"] < 1
    pre = planted.event_study[planted.event_study["months_since_start"] < -1]
    post = planted.event_study[planted.event_study["months_since_start"] >= 0]
    assert (pre["ci_low"] < 1).mean() >= 0.8 and (pre["ci_high"] > 1).mean() >= 0.8
    assert post["estimate"].median() < 0.8


def test_staggered_report_files(planted, tmp_path):
    paths = planted.save(tmp_path / "out")
    events = pd.read_csv(paths["event_study"])
    assert {"months_since_start", "estimate", "ci_low", "ci_high"} <= set(events.columns)
    assert events.loc[events["months_since_start"] == -1, "estimate"].item() == 1.0
    effects = pd.read_csv(paths["effects"])
    assert effects["group"].tolist() == ["2019-08", "2019-10", "2019-12", "overall"]
    controls = pd.read_csv(paths["controls"])
    treated = controls[controls["unit"].isin(PLAN)]
    assert (treated["reason"] == "part of the treated area").all()
    for key in ("plot_event_study", "plot_controls"):
        assert paths[key].stat().st_size > 5000
    assert "event_study.png" in paths["report_md"].read_text()


def test_clean_controls_are_never_or_not_yet_treated():
    months = pd.period_range("2019-01", "2020-06", freq="M")
    counts = pd.DataFrame(10.0, index=months, columns=["a", "b", "c", "n1", "n2", "n3"])
    rollout = pd.DataFrame({"unit": ["a", "b", "c"],
                            "start": [pd.Period(p, "M") for p in ("2019-07", "2019-10",
                                                                  "2020-06")],
                            "end": [pd.Period("2019-09", "M"), pd.Period("2019-12", "M"),
                                    pd.NaT]})
    panel = build_stacks(counts, rollout, ["n1", "n2", "n3"], pre_months=6,
                         end=months[-1])
    units = panel.groupby("stack")["unit"].unique().map(set).to_dict()
    # a's window 2019-01..2019-09: b and c start later, both are clean controls
    assert units["2019-07"] == {"a", "b", "c", "n1", "n2", "n3"}
    # b's window 2019-04..2019-12: a was treated inside it (never a control); c still clean
    assert units["2019-10"] == {"b", "c", "n1", "n2", "n3"}
    # c's window runs to 2020-06: a and b were treated before, so neither is a control
    assert units["2020-06"] == {"c", "n1", "n2", "n3"}
    a = panel[(panel["stack"] == "2019-07") & (panel["unit"] == "a")]
    assert a["d"].sum() == 3 and a["month"].max() == "2019-09"
    assert set(a.loc[a["post"], "rel"]) == {0, 1, 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("place,start\nTower,2019-08\n", "header"),
        ("unit,start\nTower,2019-13\n", "line 2: start '2019-13' is not a month"),
        ("unit,start,end\nTower,2019-08,2019-02\n", "line 2: end 2019-02 is before start"),
        ("unit,start\nTower,2019-08\nTower,2019-09\n", "line 3: unit 'Tower' is listed twice"),
        ("unit,start\nAtlantis,2019-08\n", "line 2: unit 'Atlantis' matches no polygon"),
        ("unit,start\nTower,2019-08,2019-09,x\n", "line 2: 4 fields"),
        ("unit,start\n,2019-08\n", "line 2: the unit name is blank"),
    ],
)
def test_bad_rollout_rows_are_one_line_config_errors(tmp_path, text, message):
    path = tmp_path / "rollout.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_rollout(path, known_units=["Tower", "Cheap"])
    assert "\n" not in str(info.value)


def test_rollout_reads_optional_ends_and_is_told_from_a_month(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("unit,start,end\nTower,2019-08,2019-12\nCheap,2019-10,\n")
    table = read_rollout(path, known_units=["Tower", "Cheap"])
    assert table["end"].iloc[0] == pd.Period("2019-12", "M") and pd.isna(table["end"].iloc[1])
    assert looks_like_rollout(str(path)) and not looks_like_rollout("2019-08")
    with pytest.raises(DataError, match="not found"):
        read_rollout(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("unit,start\n")
    with pytest.raises(DataError, match="no rows"):
        read_rollout(tmp_path / "empty.csv")


def test_staggered_with_controls_from_a_second_store(tmp_path):
    from .test_controls import _split_stores

    main, other, cells = _split_stores(tmp_path)  # block (2, 2) drops 40 % from 2020-01
    rollout = tmp_path / "r.csv"
    rollout.write_text("unit,start\nc22,2020-01\nc12,2019-10\n")
    result = evaluate_staggered(main, cells, rollout, controls=cells, controls_store=other,
                                buffer_m=0, n_placebo=5)
    kept = result.control_units[result.control_units["status"] == "kept"]["unit"]
    assert len(kept) == 18 and all(int(u[1]) >= 3 for u in kept)  # the east store's blocks
    planted, untouched = result.effect("2020-01"), result.effect("2019-10")
    assert planted["ci_low"] < 0.6 < planted["ci_high"] and planted["ci_high"] < 1
    assert untouched["ci_low"] < 1 < untouched["ci_high"]
