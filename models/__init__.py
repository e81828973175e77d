"""Forecasters: one file per model, all behind ``hotspot.models.base.BaseForecaster``.

Models are found by name (``make_model("kde")``); a model's module, and the libraries it
needs, are imported only when it is first asked for.
"""

if __name__ != "hotspot.models":  # the folder is installed as hotspot.models only
    raise ImportError(f"import this package as hotspot.models, not as {__name__}: "
                      "install the project (pip install .) and use the hotspot namespace")

from hotspot.models.params import parse_model_params, parse_param_grid
from hotspot.models.registry import available_models, make_model, model_tag, parse_model_names

__all__ = ["available_models", "make_model", "model_tag", "parse_model_names",
           "parse_model_params", "parse_param_grid"]
