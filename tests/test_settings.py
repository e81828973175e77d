"""The one settings object: precedence, model parameters and one-line errors."""

import pytest

from hotspot.core.errors import ConfigError
from hotspot.settings import load_settings


def test_precedence_is_defaults_then_file_then_environment_then_options(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text('[hotspot]\nmodel = "naive-last"\nseed = 1\nn_bootstrap = 500\n')
    assert load_settings(environ={}).model == "naive-mean"
    from_file = load_settings(config, environ={})
    assert (from_file.model, from_file.seed, from_file.n_bootstrap) == ("naive-last", 1, 500)
    from_env = load_settings(config, environ={"HOTSPOT_SEED": "2"})
    assert from_env.seed == 2 and from_env.model == "naive-last"
    explicit = load_settings(config, environ={"HOTSPOT_SEED": "2"}, seed=3, model=None)
    assert explicit.seed == 3 and explicit.model == "naive-last"


def test_model_params_from_file_and_environment(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text('[hotspot.model_params.etas-grid]\nbackground_time = "seasonal"\n'
                      '[hotspot.model_params.naive-mean]\nk = 6\n')
    settings = load_settings(config, environ={})
    assert settings.model_params == {"etas-grid": {"background_time": "seasonal"},
                                     "naive-mean": {"k": 6}}
    env = load_settings(environ={"HOTSPOT_MODEL_PARAMS": '{"naive-mean": {"k": 3}}'})
    assert env.model_params == {"naive-mean": {"k": 3}}
    with pytest.raises(ConfigError, match="HOTSPOT_MODEL_PARAMS must be JSON"):
        load_settings(environ={"HOTSPOT_MODEL_PARAMS": "naive-mean.k=3"})


@pytest.mark.parametrize(
    ("text", "message"),
    [("[hotspot]\ncoverages = [0.05, 5]\n", "setting 'coverages'"),
     ("[hotspot]\nunknown = 1\n", "setting 'unknown'"),
     ("[hotspot\n", "is not valid TOML")],
)
def test_bad_settings_name_the_setting(tmp_path, text, message):
    config = tmp_path / "s.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})


def test_missing_config_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})
