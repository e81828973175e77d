"""Forecasters: one file per model, all behind ``models.base.BaseForecaster``.

Importing this package registers every model; use ``make_model(name)``.
"""

from models import (  # noqa: F401  (registers them)
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
from models.registry import (
    available_models,
    make_model,
    parse_model_names,
    parse_model_params,
)

__all__ = ["available_models", "make_model", "parse_model_names", "parse_model_params"]
