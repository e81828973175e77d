"""Synthetic control with pysyncon's weights (``synth_pysyncon``), for comparison.

pysyncon's ``Synth`` solves the Abadie-Diamond-Hainmueller problem; here its predictors
are the pre-period months of the normalised series (as in :mod:`.synth`) with equal
``custom_V`` (pysyncon rescales each predictor row by its spread across units), so only
the inner quadratic programme (SciPy SLSQP) is solved. The rate ratio, placebo-in-space
p-value and placebo-scaled interval are those of :func:`~hotspot.evaluation.claims.synth
.fit_synth`, so the two rows differ only in how the weights are found.

Why the hand-written solver stays the default: one pysyncon fit takes ~50 ms against
~0.05 ms for ``scipy.optimize.nnls`` and the placebo inference refits once per control
unit; pysyncon's own placebo test (``PlaceboTest``) and conformal intervals
(``Synth.confidence_interval``, test inversion by repeated refits) cost seconds to minutes
per claim; with the full nested V optimisation a single fit takes ~10 s. The benchmark
measures this row on a subset of its draws.
"""

from __future__ import annotations

import warnings

import numpy as np

from hotspot.evaluation.claims.its import LEVEL, Estimate
from hotspot.evaluation.claims.synth import fit_synth


def pysyncon_weights(target: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Donor weights from pysyncon ``Synth.fit`` with equal ``custom_V``."""
    import pandas as pd
    from pysyncon import Synth

    months = [f"m{i}" for i in range(len(target))]
    cols = [f"u{k}" for k in range(donors.shape[1])]
    z0 = pd.DataFrame(donors, index=months, columns=cols)
    z1 = pd.Series(target, index=months, name="treated")
    model = Synth()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X0=z0, X1=z1, Z0=z0, Z1=z1, custom_V=np.ones(len(target)))
    w = np.clip(np.asarray(model.W, dtype=float), 0.0, None)
    return w / w.sum() if w.sum() > 0 else np.full(donors.shape[1], 1.0 / donors.shape[1])


def fit_synth_pysyncon(treated: np.ndarray, controls: np.ndarray, post: np.ndarray, *,
                       control_ids: list[str] | None = None, level: float = LEVEL) -> Estimate:
    """Synthetic control rate ratio with pysyncon's weights (module docstring)."""
    e = fit_synth(treated, controls, post, control_ids=control_ids, level=level,
                  weights=pysyncon_weights, method="synth_pysyncon")
    if not np.isfinite(e.estimate):
        return e
    return Estimate(e.method, e.estimate, e.ci_low, e.ci_high, e.p_value,
                    f"pysyncon Synth weights (equal custom V); {e.note}", e.extra)
