"""The Prefect side of a library ``Step``: run each named step as a task.

The library writes each run's step order once (``hotspot.pipeline.run_pipeline``,
``hotspot.nightly.run_nightly``) and sends every step through a ``step`` callable; the
flows pass :func:`task_step`, so the Prefect UI shows one task per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

from hotspot.pipeline import Step

T = TypeVar("T")


def task_step(retries: Mapping[str, tuple[int, float]] | None = None) -> Step:
    """A :class:`~hotspot.pipeline.Step` running each step as a Prefect task named after
    it; ``retries`` gives ``(retries, delay_s)`` by step name (downloads only)."""

    def step(name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        n_retries, delay_s = (retries or {}).get(name, (0, 0.0))
        as_task = task(fn, name=name, cache_policy=NO_CACHE, retries=n_retries,
                       retry_delay_seconds=delay_s)
        return as_task(*args, **kwargs)

    return step
