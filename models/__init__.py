"""Forecasters: one file per model, all behind ``models.base.BaseForecaster``.

Importing this package registers every model; use ``make_model(name)``.
"""

if __name__ != "hotspot.models":  # the folder is installed as hotspot.models only
    raise ImportError(f"import this package as hotspot.models, not as {__name__}: "
                      "install the project (pip install .) and use the hotspot namespace")

from hotspot.models import (  # noqa: F401  (registers them)
    ensemble,
    etas_grid,
    gbm,
    glm,
    kde,
    naive_last,
    naive_longrun,
    naive_mean,
    prospective_hotspot,
    rfg_harm,
    self_exciting_counts,
    sepp,
)
from hotspot.models.registry import (
    available_models,
    make_model,
    parse_model_names,
    parse_model_params,
)

__all__ = ["available_models", "make_model", "parse_model_names", "parse_model_params"]
