"""Check a claim like "a six-month trial in one neighbourhood cut crime by 12 %".

:func:`evaluate_claim` (:mod:`.evaluate`) reads a store and a treated area, builds monthly
series for the area, a buffer ring around it and comparable control units (:mod:`.series`),
and :func:`analyse_series` (:mod:`.analyse`) runs, side by side:

============================  ==================================================
``its``                       interrupted time series (:mod:`.its`)
``cits``                      comparative ITS, controls' total as covariate (:mod:`.cits`)
``sts``                       structural time series, statsmodels (:mod:`.sts`)
``did``, ``did_pretrend``     difference in differences + pre-trend check (:mod:`.did`)
``synthetic_control``         synthetic control + in-space placebo (:mod:`.synth`)
``placebo_time``              ITS at fake start dates (:mod:`.placebo`)
``power``, ``mde``            NB rate ratio test power and MDE (:mod:`.power`)
``rtm``                       regression to the mean (:mod:`.rtm`)
``wdq``, ``buffer``           displacement ring (:mod:`.displacement`, DiD of the ring)
============================  ==================================================

then a plain-words verdict (:mod:`.verdict`), all in a :class:`ClaimResult`
(:mod:`.result`, written out by :mod:`.report`). Rate ratios are treated /
counterfactual: 0.88 is a 12 % drop; :func:`parse_claimed` (:mod:`.claimed`) reads the
claim. The shipped calibration table (:mod:`.calibration`, measured by
``benchmarks/bench_claims.py``) puts each method's false-positive rate and CI coverage on
real data in its note; only the methods it calls calibrated drive the verdict, and fewer
than two of them give "cannot tell from this data". ``did_fepois`` (pyfixest) and
``synth_pysyncon`` (pysyncon) run only when asked for (the benchmark evaluates them).
"""

from hotspot.evaluation.claims.analyse import METHOD_ORDER, analyse_series
from hotspot.evaluation.claims.calibration import DEFAULT_CALIBRATION, load_calibration
from hotspot.evaluation.claims.claimed import parse_claimed
from hotspot.evaluation.claims.evaluate import evaluate_claim
from hotspot.evaluation.claims.its import Estimate
from hotspot.evaluation.claims.result import ClaimResult
from hotspot.evaluation.claims.series import ClaimSeries
from hotspot.evaluation.claims.verdict import Verdict

__all__ = ["DEFAULT_CALIBRATION", "METHOD_ORDER", "ClaimResult", "ClaimSeries", "Estimate",
           "Verdict", "analyse_series", "evaluate_claim", "load_calibration", "parse_claimed"]
