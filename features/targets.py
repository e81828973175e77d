"""Forecast targets: what a model forecasts from a cube — one crime type, a named group,
all crime but anti-social behaviour, every row, or harm-weighted counts.

Police patrol against particular crimes, not against a total that is one-third anti-social
behaviour, so a forecast names its *target*. A target is resolved against the cube's own
category values (:func:`resolve_target`) and applied by one weighted sum over the cube's
``category_counts`` (:func:`apply_target`): every model then reads the targeted ``counts``
through its usual door, and nothing else in the cube changes.

Names. The canonical (command-line, file-name) form of a name is :func:`target_slug`:
lower case, each run of non-alphanumerics one hyphen (``"Violence and sexual offences"`` →
``violence-and-sexual-offences``). Matching is on that form, so ``Burglary``, ``burglary``
and ``BURGLARY`` are one target. Reserved names:

- ``all``: every category (the cube's plain ``counts``);
- ``crime``: every category except anti-social behaviour, which is not a crime;
- ``harm``: every category weighted by its harm (``features.harm``; shipped weights unless
  others are given), so models forecast expected harm and rankings follow harm.

Groups come from the shipped, editable ``data/target_groups.csv`` (``group,category,note``:
``property``, ``violence``, ``street``); groups from the configuration override or extend
them, and a group shadows a category of the same name. A group is usable when at least
one of its categories is in the cube; names of categories the data lacks are ignored, so a
group can list historic names (``Violent crime``, before 2013-05) next to current ones.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError, DataError
from hotspot.core.resources import embedded_path
from hotspot.features.harm import (
    HarmWeights,
    harm_per_crime,
    load_harm_weights,
    read_table_csv,
)

GROUP_COLUMNS = ("group", "category", "note")
ALL, CRIME, HARM = "all", "crime", "harm"
RESERVED = (ALL, CRIME, HARM)
#: Canonical form of the one police.uk category that is not a crime.
ASB = "anti-social-behaviour"
#: Cube attributes a target writes; applying another target replaces all of them.
TARGET_ATTRS = ("target", "target_label", "target_categories", "target_weights")
#: Harm per crime of a cell under a harm target: the last ``HARM_WINDOW`` periods, shrunk
#: towards the study area's ratio with the weight of ``HARM_PRIOR_CRIMES`` crimes.
HARM_WINDOW = 12
HARM_PRIOR_CRIMES = 5.0

_LABELS = {ALL: "All categories", CRIME: "All crime except anti-social behaviour",
           HARM: "Crime harm (days)"}


@dataclass(frozen=True)
class Target:
    """What a forecast counts: the cube categories it sums, with weights for harm.

    ``name`` is the canonical form (CLI, file names, metrics); ``label`` is for people;
    ``weights`` (one per category) is ``None`` for plain counts.
    """

    name: str
    label: str
    categories: tuple[str, ...]
    weights: tuple[float, ...] | None = None

    @property
    def weighted(self) -> bool:
        return self.weights is not None


def target_slug(name: str) -> str:
    """The canonical form of a target or category name: lower case, runs of
    non-alphanumerics one hyphen, no hyphen at either end."""
    return re.sub(r"[\W_]+", "-", str(name).lower()).strip("-")


# ------------------------------------------------------------------------ groups


def load_target_groups(path: Path | str | None = None) -> dict[str, tuple[str, ...]]:
    """Groups by canonical name from a ``group,category,note`` table (``#`` lines are
    comments); default the shipped ``data/target_groups.csv``."""
    path = Path(path) if path else embedded_path("target_groups.csv")
    if not path.exists():
        raise DataError(f"target groups file {path} not found: pass a CSV with columns "
                        "group,category,note")
    return dict(_groups_cached(str(path.resolve()), path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _groups_cached(path_text: str, mtime_ns: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    path = Path(path_text)
    table, _ = read_table_csv(path, "target groups", ("group", "category"),
                              "group,category,note")
    names = table["group"].map(target_slug)
    cats = table["category"].str.strip()
    if ((names == "") | (cats == "")).any():
        raise DataError(f"target groups file {path} has a row without a group or category")
    reserved = sorted(set(names) & set(RESERVED))
    if reserved:
        raise DataError(f"target groups file {path} uses the reserved name(s) "
                        f"{', '.join(reserved)}: rename the group")
    groups: dict[str, list[str]] = {}
    for name, category in zip(names, cats, strict=True):
        groups.setdefault(name, []).append(category)
    return tuple((name, tuple(members)) for name, members in groups.items())


def _merged_groups(groups: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """Shipped groups, overridden or extended by ``groups`` (from the configuration)."""
    merged = load_target_groups()
    for raw, members in (groups or {}).items():
        name = target_slug(raw)
        if not name or name in RESERVED:
            raise ConfigError(f"target group {raw!r} cannot be used as a group name: "
                              f"choose one other than {', '.join(RESERVED)}")
        if isinstance(members, str) or not members or not all(
                isinstance(m, str) and m.strip() for m in members):
            raise ConfigError(f"target group {raw!r} must list one or more category names, "
                              f"got {members!r}")
        merged[name] = tuple(m.strip() for m in members)
    return merged


# ------------------------------------------------------------------------ resolving


def available_targets(categories: Sequence[str],
                      groups: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Every valid target name for a cube with these categories: the reserved names, the
    groups (shipped and ``groups``), then each category's canonical name."""
    named = [*RESERVED, *sorted(_merged_groups(groups))]
    slugs = sorted({target_slug(c) for c in categories} - set(named) - {""})
    return named + slugs


def resolve_target(
    name: str,
    categories: Sequence[str],
    *,
    groups: Mapping[str, Sequence[str]] | None = None,
    harm_weights: HarmWeights | None = None,
) -> Target:
    """The target ``name`` for a cube whose category values are ``categories``.

    ``ConfigError`` for an unknown name (listing the valid ones); ``DataError`` when the
    target matches none of the cube's categories, or (``harm``) a category has no weight.
    """
    slug = target_slug(name)
    cube_categories = [str(c) for c in categories]
    by_slug = [target_slug(c) for c in cube_categories]
    merged = _merged_groups(groups)
    if slug == ALL:
        chosen = cube_categories
    elif slug == CRIME:
        chosen = [c for c, s in zip(cube_categories, by_slug, strict=True) if s != ASB]
    elif slug == HARM:
        weights = harm_weights if harm_weights is not None else load_harm_weights()
        vector = weights.vector(cube_categories)  # raises DataError naming missing ones
        return Target(HARM, _LABELS[HARM], tuple(cube_categories),
                      tuple(float(w) for w in vector))
    elif slug in merged:
        wanted = {target_slug(m) for m in merged[slug]}
        chosen = [c for c, s in zip(cube_categories, by_slug, strict=True) if s in wanted]
        if not chosen:
            raise DataError(f"target group {slug!r} ({', '.join(merged[slug])}) matches none "
                            f"of the cube's categories ({', '.join(cube_categories)}): choose "
                            "another target or edit the group")
        return Target(slug, f"{slug.replace('-', ' ').capitalize()} group", tuple(chosen))
    elif slug and slug in by_slug:
        chosen = [c for c, s in zip(cube_categories, by_slug, strict=True) if s == slug]
        return Target(slug, chosen[0], tuple(chosen))
    else:
        raise ConfigError(f"unknown target {name!r}: choose from "
                          + ", ".join(available_targets(cube_categories, groups)))
    if not chosen:
        raise DataError(f"target {slug!r} matches none of the cube's categories "
                        f"({', '.join(cube_categories) or 'none'}): choose another target")
    return Target(slug, _LABELS[slug], tuple(chosen))


# ------------------------------------------------------------------------ cubes


def apply_target(cube: xr.Dataset, target: Target) -> xr.Dataset:
    """The cube with ``counts`` replaced by the target's (time, cell) counts — int32 for a
    count target, float64 harm for a weighted one — and the target in its attributes.

    Always derived from ``category_counts`` (kept as it is), so re-targeting a targeted
    cube is exact; every other variable, coordinate and attribute is kept. A weighted sum
    only: dask-backed cubes stay lazy.
    """
    has_categories = "category_counts" in cube and cube.sizes.get("category", 0) > 0
    if has_categories:
        index = {str(c): i for i, c in enumerate(cube["category"].values)}
        missing = [c for c in target.categories if c not in index]
        if missing:
            raise DataError(f"target {target.name!r} needs categories the cube lacks "
                            f"({', '.join(missing)}): resolve the target against this cube")
        chosen = cube["category_counts"].isel(category=[index[c] for c in target.categories])
        if target.weighted:
            w = xr.DataArray(np.asarray(target.weights, dtype=np.float64), dims="category")
            counts = xr.dot(chosen.astype(np.float64), w, dim="category")
        else:
            counts = chosen.sum("category", dtype=np.int64).astype(np.int32)
        counts = counts.transpose("time", "cell").assign_attrs(cube["counts"].attrs)
        out = cube.assign(counts=counts)
    elif target.name == ALL and not target.weighted:
        out = cube.copy()
    else:
        raise DataError(f"cube has no category counts, so only target 'all' applies, not "
                        f"{target.name!r}: rebuild the cube with 'hotspot cube'")
    attrs = {k: v for k, v in cube.attrs.items() if k not in TARGET_ATTRS}
    attrs.update(target=target.name, target_label=target.label,
                 target_categories=json.dumps(list(target.categories)))
    if target.weighted:
        attrs["target_weights"] = json.dumps(list(target.weights))
    out.attrs = attrs
    return out


def cube_target(cube: xr.Dataset) -> str:
    """The canonical name of the cube's target (``all`` for an untargeted cube)."""
    return str(cube.attrs.get("target", ALL))


def target_of(cube: xr.Dataset) -> Target | None:
    """The target a cube was given by :func:`apply_target`, or ``None`` if it has none."""
    if "target_categories" not in cube.attrs:
        return None
    weights = cube.attrs.get("target_weights")
    return Target(
        name=cube_target(cube),
        label=cube.attrs.get("target_label", cube_target(cube)),
        categories=tuple(json.loads(cube.attrs["target_categories"])),
        weights=None if weights is None else tuple(float(w) for w in json.loads(weights)),
    )


def target_events(events: pd.DataFrame, target: Target) -> pd.DataFrame:
    """The events of the target's categories (matched on the canonical form, as names
    are); event models fit the process of the crimes the target counts."""
    if "category" not in events.columns:
        raise DataError(f"events have no 'category' column, so they cannot be cut to target "
                        f"{target.name!r}: pass the canonical events table")
    wanted = {target_slug(c) for c in target.categories}
    values = pd.unique(events["category"].dropna())
    keep = [v for v in values if target_slug(v) in wanted]
    return events.loc[events["category"].isin(keep)]


def target_harm_per_crime(history: xr.Dataset, target: Target, *,
                          window: int = HARM_WINDOW,
                          prior_crimes: float = HARM_PRIOR_CRIMES) -> np.ndarray:
    """Each cell's harm per crime of a weighted target over the last ``window`` periods,
    shrunk as :func:`features.harm.harm_per_crime`: what turns an event model's expected
    crimes into expected harm."""
    if not target.weighted:
        raise DataError(f"target {target.name!r} has no weights: harm per crime needs 'harm'")
    index = {str(c): i for i, c in enumerate(history["category"].values)}
    recent = history["category_counts"].isel(
        time=slice(-window, None), category=[index[c] for c in target.categories])
    counts = np.asarray(recent.values, dtype=float).sum(axis=0)  # (category, cell)
    harm = np.asarray(target.weights, dtype=float) @ counts
    return harm_per_crime(harm, counts.sum(axis=0), prior_crimes)
