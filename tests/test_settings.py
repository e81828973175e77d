"""The one settings object: precedence, sections, earlier flat keys, one-line errors."""

import pytest

from hotspot.core.errors import ConfigError
from hotspot.settings import load_settings


@pytest.fixture(autouse=True)
def _no_hotspot_environment(monkeypatch):
    import os

    for name in [n for n in os.environ if n.startswith("HOTSPOT_")]:
        monkeypatch.delenv(name)


def test_precedence_is_defaults_then_file_then_environment_then_options(tmp_path, monkeypatch):
    config = tmp_path / "s.toml"
    config.write_text('[hotspot.forecast]\nmodel = "naive-last"\n'
                      '[hotspot.backtest]\nseed = 1\nn_bootstrap = 500\n')
    assert load_settings().forecast.model == "auto"
    from_file = load_settings(config)
    assert (from_file.forecast.model, from_file.backtest.seed,
            from_file.backtest.n_bootstrap) == ("naive-last", 1, 500)
    monkeypatch.setenv("HOTSPOT_BACKTEST__SEED", "2")
    from_env = load_settings(config)
    assert from_env.backtest.seed == 2 and from_env.backtest.n_bootstrap == 500
    explicit = load_settings(config, seed=3, model=None)
    assert explicit.backtest.seed == 3 and explicit.forecast.model == "naive-last"


def test_earlier_flat_keys_still_work(tmp_path, monkeypatch):
    config = tmp_path / "s.toml"
    config.write_text('[hotspot]\nmodel = "naive-last"\nseed = 1\nbacktest_periods = 3\n'
                      'models = ["naive-mean"]\n')
    settings = load_settings(config)
    assert settings.forecast.model == "naive-last" and settings.backtest.seed == 1
    assert settings.backtest.periods == 3 and settings.backtest.baselines == ("naive-mean",)
    monkeypatch.setenv("HOTSPOT_SEED", "2")
    monkeypatch.setenv("HOTSPOT_COVERAGES", "0.05,0.1")
    env = load_settings(config)
    assert env.backtest.seed == 2 and env.backtest.coverages == (0.05, 0.1)
    monkeypatch.setenv("HOTSPOT_BACKTEST__SEED", "4")  # the nested name wins
    assert load_settings(config).backtest.seed == 4


def test_paths_in_the_file_are_relative_to_it(tmp_path):
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "s.toml"
    config.write_text('[hotspot]\nstore = "../store"\n[hotspot.nightly.outputs]\n'
                      'runs_dir = "runs"\n')
    settings = load_settings(config)
    assert settings.store == tmp_path / "store"
    assert settings.nightly.outputs.runs_dir == tmp_path / "conf" / "runs"
    assert load_settings(config, store="elsewhere").store.name == "elsewhere"


def test_model_params_from_file_and_environment(tmp_path, monkeypatch):
    config = tmp_path / "s.toml"
    config.write_text('[hotspot.model_params.etas-grid]\nbackground_time = "seasonal"\n'
                      '[hotspot.model_params.naive-mean]\nk = 6\n')
    settings = load_settings(config)
    assert settings.model_params == {"etas-grid": {"background_time": "seasonal"},
                                     "naive-mean": {"k": 6}}
    monkeypatch.setenv("HOTSPOT_MODEL_PARAMS", '{"naive-mean": {"k": 3}}')
    assert load_settings().model_params == {"naive-mean": {"k": 3}}
    monkeypatch.setenv("HOTSPOT_MODEL_PARAMS", "naive-mean.k=3")
    with pytest.raises(ConfigError, match="HOTSPOT_MODEL_PARAMS must be JSON"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "message"),
    [("[hotspot.backtest]\ncoverages = [0.05, 5]\n", "setting 'backtest.coverages'"),
     ("[hotspot]\nunknown = 1\n", "setting 'unknown'"),
     ("[hotspot.backtest]\nn_bootstrap = 5\n", "setting 'backtest.n_bootstrap'"),
     ("[hotspot.forecast]\nmodel = 'magic'\n", "unknown model 'magic'"),
     ("[hotspot\n", "is not valid TOML"),
     ("[other]\nx = 1\n", r"has no \[hotspot\] table")],
)
def test_bad_settings_name_the_setting(tmp_path, text, message):
    config = tmp_path / "s.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_bad_environment_names_the_setting(monkeypatch):
    monkeypatch.setenv("HOTSPOT_BACKTEST__N_BOOTSTRAP", "ten")
    with pytest.raises(ConfigError, match="setting 'backtest.n_bootstrap'"):
        load_settings()


def test_missing_config_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("data", "message"),
    [(b'[hotspot]\narea_filter = "NAME=Bishopsg\xe2te"\n', r"is not UTF-8 text \(byte 38\)"),
     (b"hotspot = 5\n", "'hotspot' is 5, not a table"),
     (b"[hotspot]\nbacktest = 5\n", r"backtest is 5, not a table: .*\[hotspot.backtest\]"),
     (b"[hotspot.nightly]\nsources = 'x'\n", "hotspot.nightly.sources is 'x', not a table")],
)
def test_unreadable_config_files_are_one_config_error(tmp_path, data, message):
    config = tmp_path / "s.toml"
    config.write_bytes(data)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, backtest={"n_bootstrap": 500})  # an option must not hide it


def test_a_config_folder_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="is a folder: pass a TOML file"):
        load_settings(tmp_path)


def test_a_config_file_with_a_byte_order_mark_is_read(tmp_path):
    config = tmp_path / "s.toml"
    config.write_bytes("\ufeff[hotspot.backtest]\nseed = 7\n".encode())
    assert load_settings(config).backtest.seed == 7


def test_targets_boxes_offsets_and_auto_settings(tmp_path, monkeypatch):
    config = tmp_path / "s.toml"
    config.write_text('[hotspot]\ntarget = "crime, harm"\nharm_weights = "w.csv"\n'
                      '[hotspot.target_groups]\nnight = ["Burglary", "Robbery"]\n'
                      '[hotspot.backtest]\nboxes = 5\noffsets = 4\n'
                      '[hotspot.forecast]\nselect_by = "pai"\nselect_coverage = 0.05\n'
                      'candidates = ["naive-mean", "kde"]\n')
    settings = load_settings(config)
    assert settings.targets == ["crime", "harm"] and settings.target_set
    assert settings.target_groups == {"night": ["Burglary", "Robbery"]}
    assert (settings.backtest.boxes, settings.backtest.offsets) == (5, 4)
    assert settings.forecast.candidates == ("naive-mean", "kde")
    # one harm table: the nightly harm rankings default to the target's weights
    assert settings.harm_weights == tmp_path / "w.csv" == settings.nightly.harm.weights
    assert not load_settings().target_set and load_settings().targets == ["all"]
    monkeypatch.setenv("HOTSPOT_BACKTEST__BOXES", "7")
    assert load_settings(config).backtest.boxes == 7
    assert load_settings(config, target="burglary").targets == ["burglary"]


def test_the_selection_scores_match_the_selection_module():
    from hotspot.evaluation.selection import SCORES
    from hotspot.settings_sections import COVERAGE_SCORES, SELECT_SCORES

    assert set(SELECT_SCORES) == set(SCORES)
    assert set(COVERAGE_SCORES) == {name for name, (takes, _) in SCORES.items() if takes}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"backtest": {"offsets": 3}}, "'backtest.offsets': must be 1, 2 or 4"),
     ({"backtest": {"boxes": 0}}, "'backtest.boxes'"),
     ({"target": " , "}, "'target': ' , ' names no target"),
     ({"model": "magic"}, "unknown model 'magic'"),
     ({"forecast": {"candidates": ["naive-mean", "magic"]}}, "unknown model 'magic'"),
     ({"forecast": {"select_by": "accuracy"}}, "unknown score 'accuracy'"),
     ({"forecast": {"select_by": "pai"}}, "set forecast.select_coverage"),
     ({"forecast": {"select_by": "pai", "select_coverage": 0.03}}, "not one of backtest.cov")],
)
def test_bad_target_and_auto_settings_are_one_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(**overrides)
