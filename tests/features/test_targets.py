"""Forecast targets: names, groups, harm weights, and the targeted cube."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hotspot.core.errors import ConfigError, DataError
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.features.harm import load_harm_weights, observed_harm
from hotspot.features.targets import (
    Target,
    apply_target,
    available_targets,
    cube_target,
    load_target_groups,
    resolve_target,
    target_of,
    target_slug,
)
from hotspot.ingest.police_api_records import CURRENT_CATEGORIES

CATEGORIES = ["Anti-social behaviour", "Burglary", "Robbery", "Shoplifting",
              "Violence and sexual offences"]


@pytest.fixture
def typed_cube(square_area):
    """12 months on the 4 x 3 grid, events of five categories at seeded random places."""
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = square_area.geometry.bounds
    n = 600
    events = pd.DataFrame({
        "time": pd.to_datetime(rng.choice(pd.date_range("2019-01-01", periods=12, freq="MS"), n)),
        "x": rng.uniform(minx + 1, maxx - 1, n), "y": rng.uniform(miny + 1, maxy - 1, n),
        "category": rng.choice(CATEGORIES, n, p=[0.4, 0.2, 0.1, 0.2, 0.1]),
    })
    return build_cube(events, build_grid(square_area, 150), "M", source="synthetic")


# ------------------------------------------------------------------------ names


@pytest.mark.parametrize("name, slug", [
    ("Violence and sexual offences", "violence-and-sexual-offences"),
    ("Break and Enter Residential/Other", "break-and-enter-residential-other"),
    ("  Anti-social behaviour ", "anti-social-behaviour"),
    ("VEHICLE   CRIME", "vehicle-crime"),
    ("theft_from--the person!", "theft-from-the-person"),
])
def test_target_slug_is_lower_case_with_single_hyphens(name, slug):
    assert target_slug(name) == slug


@pytest.mark.parametrize("spelling", ["Burglary", "burglary", "BURGLARY", " burglary "])
def test_category_names_resolve_case_insensitively(spelling):
    assert resolve_target(spelling, CATEGORIES) == Target("burglary", "Burglary", ("Burglary",))


def test_cli_form_with_hyphens_resolves_to_the_cube_category():
    target = resolve_target("violence-and-sexual-offences", CATEGORIES)
    assert target.categories == ("Violence and sexual offences",)
    assert target.label == "Violence and sexual offences"
    assert not target.weighted


def test_crime_excludes_anti_social_behaviour_and_all_keeps_it():
    crime = resolve_target("crime", CATEGORIES)
    assert crime.categories == tuple(c for c in CATEGORIES if c != "Anti-social behaviour")
    assert resolve_target("ALL", CATEGORIES).categories == tuple(CATEGORIES)


def test_unknown_target_lists_every_valid_name():
    with pytest.raises(ConfigError) as info:
        resolve_target("burglery", CATEGORIES)
    message = str(info.value)
    assert message.startswith("unknown target 'burglery': choose from all, crime, harm, "
                              "property, street, violence, anti-social-behaviour, burglary, ")
    assert "\n" not in message
    assert message == ("unknown target 'burglery': choose from "
                       + ", ".join(available_targets(CATEGORIES)))


# ------------------------------------------------------------------------ groups


def test_shipped_groups_cover_police_uk_categories():
    groups = load_target_groups()
    assert set(groups) == {"property", "violence", "street"}
    assert set(groups["property"]) <= set(CURRENT_CATEGORIES)
    assert len(groups["property"]) == 7
    # in the cube's own category order, whatever the table's
    assert set(resolve_target("violence", CURRENT_CATEGORIES).categories) == {
        "Violence and sexual offences", "Robbery", "Possession of weapons"}
    assert set(resolve_target("Street", CURRENT_CATEGORIES).categories) == {
        "Robbery", "Theft from the person"}


def test_shipped_street_group_says_it_is_the_home_office_sense():
    from hotspot.core.resources import embedded_path

    table = pd.read_csv(embedded_path("target_groups.csv"), comment="#")
    assert table.loc[table["group"] == "street", "note"].str.contains("Home Office").all()


def test_group_uses_the_categories_present_and_fails_when_none_are():
    assert resolve_target("property", CATEGORIES).categories == ("Burglary", "Shoplifting")
    with pytest.raises(DataError, match="target group 'street' .* matches none"):
        resolve_target("street", ["Burglary", "Drugs"])


def test_user_groups_override_and_extend_shipped_ones():
    groups = {"Property": ["burglary"], "Night Time": ["Robbery", "violence-and-sexual-offences"]}
    assert resolve_target("property", CATEGORIES, groups=groups).categories == ("Burglary",)
    night = resolve_target("night-time", CATEGORIES, groups=groups)
    assert night.categories == ("Robbery", "Violence and sexual offences")
    assert "night-time" in available_targets(CATEGORIES, groups)


@pytest.mark.parametrize("groups, message", [
    ({"crime": ["Burglary"]}, "cannot be used as a group name"),
    ({"mine": []}, "must list one or more category names"),
    ({"mine": "Burglary"}, "must list one or more category names"),
])
def test_bad_user_groups_are_config_errors(groups, message):
    with pytest.raises(ConfigError, match=message):
        resolve_target("burglary", CATEGORIES, groups=groups)


@pytest.mark.parametrize("text, message", [
    ("group,note\nproperty,x\n", "lacks the column 'category'"),
    ("group,category,note\nharm,Burglary,x\n", "reserved name"),
    ("group,category,note\n,Burglary,x\n", "without a group or category"),
])
def test_bad_group_tables_are_data_errors(tmp_path, text, message):
    path = tmp_path / "groups.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_target_groups(path)


# ------------------------------------------------------------------------ harm


def test_harm_weights_every_category_with_the_shipped_weights():
    target = resolve_target("harm", CATEGORIES)
    assert target.weighted and target.categories == tuple(CATEGORIES)
    assert target.weights == tuple(load_harm_weights().vector(CATEGORIES))
    assert target.weights[CATEGORIES.index("Robbery")] == 365.0


def test_harm_with_a_missing_weight_raises_the_clear_data_error(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("category,weight_days,note\nBurglary,40,n\n")
    with pytest.raises(DataError, match="no weight for 1 category in the data: Robbery"):
        resolve_target("harm", ["Burglary", "Robbery"], harm_weights=load_harm_weights(path))


# ------------------------------------------------------------------------ cubes


def test_apply_target_sums_the_target_categories(typed_cube):
    target = resolve_target("property", typed_cube["category"].values)
    out = apply_target(typed_cube, target)
    expected = typed_cube["category_counts"].sel(
        category=["Burglary", "Shoplifting"]).values.sum(axis=1)
    np.testing.assert_array_equal(out["counts"].values, expected)
    assert out["counts"].dtype == np.int32 and out["counts"].dims == ("time", "cell")
    assert 0 < out["counts"].values.sum() < typed_cube["counts"].values.sum()
    assert out["category_counts"].identical(typed_cube["category_counts"])
    assert out.drop_vars("counts").drop_attrs().identical(
        typed_cube.drop_vars("counts").drop_attrs())
    assert {k: v for k, v in out.attrs.items() if not k.startswith("target")} == typed_cube.attrs
    assert cube_target(out) == "property" and cube_target(typed_cube) == "all"
    assert out.attrs["target_label"] == "Property group"
    assert json.loads(out.attrs["target_categories"]) == ["Burglary", "Shoplifting"]
    assert "target_weights" not in out.attrs
    assert "target" not in typed_cube.attrs  # the input is not changed


def test_apply_all_reproduces_the_plain_counts(typed_cube):
    out = apply_target(typed_cube, resolve_target("all", typed_cube["category"].values))
    assert out["counts"].identical(typed_cube["counts"])


def test_apply_harm_gives_float_harm_per_cell(typed_cube):
    target = resolve_target("harm", typed_cube["category"].values)
    out = apply_target(typed_cube, target)
    assert out["counts"].dtype == np.float64
    np.testing.assert_allclose(out["counts"].values,
                               observed_harm(typed_cube, load_harm_weights()).values)
    assert json.loads(out.attrs["target_weights"]) == list(target.weights)
    assert target_of(out) == target


def test_retargeting_re_derives_from_category_counts(typed_cube):
    categories = typed_cube["category"].values
    harm = apply_target(typed_cube, resolve_target("harm", categories))
    again = apply_target(harm, resolve_target("robbery", categories))
    direct = apply_target(typed_cube, resolve_target("robbery", categories))
    assert again.identical(direct)
    assert "target_weights" not in again.attrs
    assert target_of(typed_cube) is None


def test_apply_target_keeps_a_dask_cube_lazy(typed_cube):
    lazy = typed_cube.chunk({"time": 4})
    out = apply_target(lazy, resolve_target("harm", typed_cube["category"].values))
    assert out["counts"].chunks is not None
    np.testing.assert_allclose(
        out["counts"].values,
        apply_target(typed_cube, resolve_target("harm", CATEGORIES))["counts"].values)


def test_apply_target_refuses_categories_the_cube_lacks(typed_cube):
    with pytest.raises(DataError, match="needs categories the cube lacks \\(Drugs\\)"):
        apply_target(typed_cube, Target("drugs", "Drugs", ("Drugs",)))
