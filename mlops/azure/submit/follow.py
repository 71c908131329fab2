"""Follow a submitted pipeline job to a terminal state, showing the job and its steps (rich).

Polling ``jobs.get`` (status) and ``jobs.list(parent_job_name=...)`` (one child job per
step, named by ``display_name`` as :func:`mlops.azure.outputs.step_jobs` relies on) is what
``az ml job stream`` does in spirit without tailing logs; ``jobs.stream`` itself prints the
SDK's own text and cannot be interrupted cleanly (azure-ai-ml 1.35.2
azure/ai/ml/operations/_job_operations.py:stream, list). A KeyboardInterrupt is left to the
caller: detaching never cancels the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mlops.azure.jobs import SUCCEEDED, TERMINAL_STATES, is_transient
from mlops.errors import MlopsError

log = logging.getLogger(__name__)

_STYLE = {
    "Completed": "green",
    "Failed": "bold red",
    "Canceled": "yellow",
    "NotResponding": "bold red",
    "Running": "cyan",
}


class JobDisplay(Protocol):
    def update(self, status: str, steps: dict[str, str]) -> None: ...

    def close(self) -> None: ...


class RichJobDisplay:
    """A live job/steps table on a terminal; one plain line per change otherwise (CI, logs)."""

    def __init__(
        self,
        job_name: str,
        step_names: Sequence[str],
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console or Console()
        self.job_name = job_name
        self.step_names = list(step_names)
        self.clock = clock
        self.started = clock()
        self._live: Live | None = None
        self._last: tuple[str, dict[str, str]] | None = None

    def _render(self, status: str, steps: dict[str, str]) -> Group:
        elapsed = int(self.clock() - self.started)
        head = Text.from_markup(
            f"job [bold]{escape(self.job_name)}[/]  "
            f"[{_STYLE.get(status, '')}]{escape(status)}[/]  {elapsed // 60:d}:{elapsed % 60:02d}"
        )
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("step")
        table.add_column("status")
        for name in [*self.step_names, *(n for n in steps if n not in self.step_names)]:
            state = steps.get(name, "-")
            table.add_row(escape(name), f"[{_STYLE.get(state, '')}]{escape(state)}[/]")
        return Group(head, table)

    def update(self, status: str, steps: dict[str, str]) -> None:
        if self.console.is_terminal:
            if self._live is None:
                self._live = Live(console=self.console, refresh_per_second=2, transient=False)
                self._live.start()
            self._live.update(self._render(status, steps))
            return
        previous_status, previous_steps = self._last or ("", {})
        if status != previous_status:
            self.console.print(f"job {self.job_name}: {status}", highlight=False, markup=False)
        for name, state in steps.items():
            if previous_steps.get(name) != state:
                self.console.print(f"  {name}: {state}", highlight=False, markup=False)
        self._last = (status, dict(steps))

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def step_statuses(client: Any, name: str) -> dict[str, str]:
    """Status of each step's child job, by step name. The SDK yields None for a child it
    cannot parse (operations/_run_operations.py:_translate_from_rest_object); skipped."""
    children = client.jobs.list(parent_job_name=name)
    return {str(c.display_name): str(c.status) for c in children if c is not None}


def follow(
    client: Any,
    name: str,
    display: JobDisplay,
    *,
    poll_s: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
    max_transient_errors: int = 5,
) -> Any:
    """Poll until the job is terminal and return it; transient errors are retried a few times."""
    failures = 0
    while True:
        try:
            job = client.jobs.get(name)
            steps = step_statuses(client, name)
            failures = 0
        except Exception as exc:
            if not is_transient(exc):
                raise
            failures += 1
            if failures > max_transient_errors:
                raise MlopsError(
                    f"job {name}: {failures} errors in a row reading its status, last: {exc}"
                ) from exc
            log.warning("job %s: transient error reading status (%s); retrying", name, exc)
            sleep(poll_s)
            continue
        status = str(job.status)
        display.update(status, steps)
        if status in TERMINAL_STATES:
            return job
        sleep(poll_s)


__all__ = ["SUCCEEDED", "JobDisplay", "RichJobDisplay", "follow", "step_statuses"]
