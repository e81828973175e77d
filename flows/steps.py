"""The Prefect side of a library ``Step``: run each named step as a task.

The library writes each run's step order once (``hotspot.pipeline.run_pipeline``,
``hotspot.nightly.run_nightly``) and sends every step through a ``step`` callable; the
flows pass :func:`task_step`, so the Prefect UI shows one task per step. Only steps that
talk to the network get retries: a local computation that failed once fails the same way
again, and retrying it only delays the failure (and its notification).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from hotspot.pipeline import Step

T = TypeVar("T")

#: ``(retries, first delay in seconds)``; each further delay doubles.
Retry = tuple[int, float]


def step_task(name: str, fn: Callable[..., T], retry: Retry | None = None) -> Task[..., T]:
    """``fn`` as a Prefect task named ``name``, uncached, with ``retry``'s retries at
    exponentially growing delays (``delay, 2 delay, 4 delay, ...``); none without."""
    n_retries, delay_s = retry or (0, 0.0)
    return task(fn, name=name, cache_policy=NO_CACHE, retries=n_retries,
                retry_delay_seconds=exponential_backoff(delay_s) if n_retries else 0)


def task_step(retries: Mapping[str, Retry] | None = None) -> Step:
    """A :class:`~hotspot.pipeline.Step` running each step as a Prefect task named after
    it; ``retries`` gives ``(retries, first delay_s)`` by step name (downloads only)."""

    def step(name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return step_task(name, fn, (retries or {}).get(name))(*args, **kwargs)

    return step
