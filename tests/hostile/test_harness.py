"""The harness itself can fail: a case whose expectation is wrong is caught."""

from __future__ import annotations

import pytest

from tests.hostile.harness import Case, check, copy_store


def test_a_wrong_expectation_fails(tmp_path, base_store):
    case = Case("missing-store", lambda root: ("cube", "--store", root / "nowhere"),
                error="this message is not what cube says")
    with pytest.raises(AssertionError, match="does not match"):
        check(case, tmp_path)


def test_a_changed_store_is_caught(tmp_path, base_store):
    def setup(root):
        copy_store(base_store, root / "store")

    def mutate(root):
        return ("cube", "--store", root / "store", "--cell", "250")

    case = Case("rebuild", mutate, exit_code=0, untouched=("store",), setup=setup)
    with pytest.raises(AssertionError, match="changed"):
        check(case, tmp_path)
