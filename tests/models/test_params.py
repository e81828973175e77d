"""The one ``--param MODEL.KEY=VALUE`` grammar, for single runs and for grids."""

import pytest

from hotspot.core.errors import ConfigError
from hotspot.models.params import parse_model_params, parse_param_grid, parse_param_value


def test_values_are_json_where_they_parse_and_text_otherwise():
    assert parse_param_value("3") == 3 and parse_param_value("0.5") == 0.5
    assert parse_param_value("true") is True and parse_param_value("[1, 2]") == [1, 2]
    assert parse_param_value("seasonal") == "seasonal"


def test_options_go_on_top_of_the_configured_parameters():
    params = parse_model_params(["naive-mean.k=6", "kde.n_holdout=3"],
                                {"naive-mean": {"k": 3}, "glm": {"family": "negbin"}})
    assert params == {"naive-mean": {"k": 6}, "kde": {"n_holdout": 3},
                      "glm": {"family": "negbin"}}


@pytest.mark.parametrize(("option", "message"), [
    ("naive-mean:k=6", "is not MODEL.KEY=VALUE"),
    ("naive-mean.k", "is not MODEL.KEY=VALUE"),
    ("naive-mean.k=3|6", "gives 2 values"),
    ("naive-mean.k=0", "k must be at least 1"),
    ("naive-mean.window=3", "bad parameter"),
    ("nope.k=3", "unknown model 'nope'"),
])
def test_bad_options_fail_before_any_work(option, message):
    with pytest.raises(ConfigError, match=message):
        parse_model_params([option])


def test_a_grid_is_the_product_of_each_keys_values():
    grid = parse_param_grid(["naive-mean.k=3|6", "kde.n_holdout=2|4", "kde.floor_share=0.1"],
                            {"glm": {"family": "negbin"}})
    assert grid["naive-mean"] == [{"k": 3}, {"k": 6}]
    assert grid["kde"] == [{"n_holdout": 2, "floor_share": 0.1},
                           {"n_holdout": 4, "floor_share": 0.1}]
    assert grid["glm"] == [{"family": "negbin"}]
    with pytest.raises(ConfigError, match="k must be at least 1"):
        parse_param_grid(["naive-mean.k=3|0"])
