"""Progress reporting that library code can call without knowing about the terminal.

Library functions take an optional ``progress`` callback; the command line passes one
that drives a rich progress bar, tests and flows pass nothing.

A description may carry what is being worked on now after :data:`DETAIL_SEP`
(``with_detail("backtest", "kde 2020-08")``): bars are keyed by the part before it, so
one bar per step moves on while its detail column names the current model. A callback
that knows nothing of details still works: it just sees a longer description.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress_bar import ProgressBar
from rich.text import Text

#: ``progress(description, done, total)``: ``done`` of ``total`` steps finished.
ProgressCallback = Callable[[str, int, int], None]

#: Between a step's name and what it works on now, in a description.
DETAIL_SEP = " :: "


def no_progress(description: str, done: int, total: int) -> None:
    """The default callback: report nothing."""


def with_detail(step: str, detail: str) -> str:
    """The description of ``step`` while it works on ``detail`` (a model, a period)."""
    return f"{step}{DETAIL_SEP}{detail}"


def split_detail(description: str) -> tuple[str, str]:
    """``(step, detail)`` of a description; the detail is ``""`` when there is none."""
    step, _, detail = description.partition(DETAIL_SEP)
    return step, detail


class _Counted(MofNCompleteColumn):
    """``done/total``; blank on a stage line, which has no total."""

    def render(self, task: Task) -> Text:
        return Text("") if task.total is None else super().render(task)


class _Eta(TimeRemainingColumn):
    """``eta H:MM:SS`` from the pace so far; blank on a stage line."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text.assemble(("eta ", "progress.remaining"), super().render(task))


class _Bar(BarColumn):
    """The bar of a counted step; a stage line shows its spinner only."""

    def render(self, task: Task) -> Text | ProgressBar:
        return Text("") if task.total is None else super().render(task)


class ProgressBars:
    """The callback :func:`rich_progress` yields: ``bars(description, done, total)`` draws
    one bar per step, and :meth:`stage` shows a spinner line for work that has no count
    yet (loading libraries, opening the cube), replaced when the next stage or bar
    starts."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._tasks: dict[str, TaskID] = {}
        self._stage: TaskID | None = None

    def stage(self, text: str) -> None:
        """Show ``text`` with a spinner until the next stage or the first bar."""
        self._end_stage()
        self._stage = self._bar.add_task(text, total=None, detail="")
        self.refresh()  # drawn now, not at the next tick: heavy imports may follow

    def refresh(self) -> None:
        """Draw the bars now."""
        self._bar.refresh()

    def _end_stage(self) -> None:
        if self._stage is not None:
            self._bar.remove_task(self._stage)
            self._stage = None

    def __call__(self, description: str, done: int, total: int) -> None:
        step, detail = split_detail(description)
        if step not in self._tasks:
            self._end_stage()
            self._tasks[step] = self._bar.add_task(step, total=total, detail=detail)
        self._bar.update(self._tasks[step], completed=done, total=total, detail=detail)


@contextmanager
def rich_progress(console: Console | None = None) -> Iterator[ProgressBars]:
    """Yield a :class:`ProgressBars` that draws on ``console`` (default stderr): per step
    a bar with ``done/total``, elapsed time, an ETA and the current detail (the model)."""
    console = console or Console(stderr=True)
    columns = (
        SpinnerColumn(finished_text=" "),
        # markup off: descriptions name files and models, printed as they are
        TextColumn("{task.description}", markup=False),
        _Bar(),
        _Counted(),
        TimeElapsedColumn(),
        _Eta(),
        TextColumn("{task.fields[detail]}", markup=False),
    )
    # Off a terminal (CI logs, pipes) a live bar only adds blank lines around the output.
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        yield ProgressBars(bar)
