"""What a claim check found (:class:`ClaimResult`): the estimates, the series, the verdict
and the settings, with a text summary and the report folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hotspot.core.atomic import atomic_path
from hotspot.evaluation.claims.its import Estimate
from hotspot.evaluation.claims.report import ESTIMATE_COLUMNS, check_out_folder, write_report
from hotspot.evaluation.claims.series import ClaimSeries
from hotspot.evaluation.claims.verdict import Verdict, change_text


@dataclass(frozen=True)
class ClaimResult:
    """What a claim check found: the estimates table, the series, the verdict, the settings.

    ``details`` keeps each method's full :class:`Estimate` (with the fitted curves and
    placebo distributions the plots use).
    """

    estimates: pd.DataFrame
    series: ClaimSeries
    verdict: Verdict
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Estimate] = field(default_factory=dict, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The estimates table: ``method, estimate, ci_low, ci_high, p_value, note``."""
        return self.estimates[ESTIMATE_COLUMNS].copy()

    def estimate(self, method: str) -> Estimate:
        """One method's full estimate."""
        return self.details[method]

    def claim_text(self) -> str:
        """The claim in one line: area, period, category and claimed change."""
        s = self.settings
        claimed = s.get("claimed_rr")
        claim = f"{change_text(claimed)} claimed" if claimed is not None else "no size claimed"
        return (f"{s.get('area', 'treated area')}, {self.series.start}..{self.series.end}, "
                f"category {s.get('category') or 'all'}: {claim}")

    def summary(self) -> str:
        """Plain text: the verdict, its headline and one line per method."""
        lines = [f"claim: {self.claim_text()}", f"verdict: {self.verdict.category}",
                 f"  {self.verdict.headline}"]
        for row in self.estimates.itertuples(index=False):
            ci = (f" [{row.ci_low:.3f}, {row.ci_high:.3f}]"
                  if np.isfinite(row.ci_low) and np.isfinite(row.ci_high) else "")
            p = f" p={row.p_value:.3f}" if np.isfinite(row.p_value) else ""
            est = f"{row.estimate:.3f}" if np.isfinite(row.estimate) else "n/a"
            lines.append(f"  {row.method:<18} {est}{ci}{p}")
        return "\n".join(lines)

    def save(self, out_dir: Path | str) -> dict[str, Path]:
        """Write the report folder atomically and return the paths of its files.

        The whole folder is built under a temporary name and renamed into place, so a
        failure leaves the previous report (or nothing). An existing folder is replaced
        only if it is empty or holds an earlier claim report (``estimates.csv`` or a
        staggered rollout's ``effects.csv``).
        """
        out_dir = Path(out_dir)
        check_out_folder(out_dir)
        with atomic_path(out_dir) as tmp:
            tmp.mkdir(parents=True)
            written = write_report(self, tmp)
        return {key: out_dir / path.name for key, path in written.items()}
