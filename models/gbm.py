"""``gbm``: gradient-boosted trees with a Poisson loss on the feature table.

scikit-learn ``HistGradientBoostingRegressor(loss="poisson")`` (log link: the trees add
up to ``log μ``) on the same past-only rows as ``glm`` (``features.design``; counts left
raw, trees do not need a transform): the last ``max_periods`` periods (default 36 months,
104 weeks, 365 days), at most ``max_rows`` rows (150,000, a seeded subset beyond).
Missing lags (near the start of the history) stay NaN: the trees route them natively.
Defaults: 100 trees, learning rate 0.1, 15 leaves, at least 20 rows a leaf, L2 penalty 1,
no early stopping (every tree is grown; deterministic for a given ``random_state``).
Longer horizons are forecast recursively like ``glm``; like it, the fit runs on
``n_threads`` OpenMP/BLAS threads (default 1).

``fitted_params`` holds the number of trees and, as the convergence trace, the mean
training Poisson loss (``exp(f) − y·f``, the deviance up to a constant) before the first
and after every tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from hotspot.core.errors import ConfigError
from hotspot.models.glm import DEFAULT_MAX_ROWS, TabularForecaster


class GBMForecaster(TabularForecaster):
    """Poisson-loss histogram gradient boosting on past-only features."""

    name = "gbm"
    drop_missing = False

    def __init__(self, lags: Sequence[int] | None = None, max_periods: int | None = None,
                 seasonality: str = "harmonic", interactions: bool = True,
                 max_rows: int = DEFAULT_MAX_ROWS, max_iter: int = 100,
                 learning_rate: float = 0.1, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 20, l2_regularization: float = 1.0,
                 random_state: int = 0, n_threads: int = 1) -> None:
        super().__init__(lags, max_periods, seasonality, interactions, max_rows, n_threads)
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def _validate_params(self) -> None:
        if int(self.max_iter) < 1 or not 0 < self.learning_rate <= 1:
            raise ConfigError("gbm max_iter must be >= 1 and learning_rate in (0, 1]")
        super()._validate_params()

    def _fit_rows(self, features: pd.DataFrame, y: np.ndarray) -> None:
        self.columns_ = list(features.columns)
        # "Early stopping" that can never stop (patience longer than the run) on the training
        # rows is how the estimator records its training loss after every tree for free.
        max_iter = int(self.max_iter)
        self.model_ = HistGradientBoostingRegressor(
            loss="poisson", learning_rate=float(self.learning_rate), max_iter=max_iter,
            max_leaf_nodes=int(self.max_leaf_nodes), min_samples_leaf=int(self.min_samples_leaf),
            l2_regularization=float(self.l2_regularization), early_stopping=True,
            scoring="loss", validation_fraction=None, n_iter_no_change=max_iter + 1,
            random_state=int(self.random_state),
        )
        self.model_.fit(features.to_numpy(dtype=float), y)
        self.trace_ = (-np.asarray(self.model_.train_score_, dtype=float)).tolist()

    def _predict_rows(self, features: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(features[self.columns_].to_numpy(dtype=float))

    def fitted_params(self) -> dict[str, Any]:
        return {"n_trees": int(self.model_.n_iter_), "n_rows": self.n_rows_,
                "lags": list(self.design_options_["lags"]),
                "train_loss_trace": self.trace_}
