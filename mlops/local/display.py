"""Progress of a local pipeline run on the terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlops.local.runner import StepResult

_STYLE = {"succeeded": "green", "failed": "bold red", "skipped": "yellow", "running": "cyan"}


class RichDisplay:
    """One line per step as it starts and ends, a spinner while it runs, a table at the end."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._status: Any = None

    def step_started(self, result: StepResult) -> None:
        if self.console.is_terminal:
            self._status = self.console.status(f"[cyan]{escape(result.name)}[/] running")
            self._status.start()
        else:
            self.console.print(f"{result.name}: running")

    def step_finished(self, result: StepResult, tail: list[str]) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        style = _STYLE.get(result.state, "")
        self.console.print(
            f"{escape(result.name)}: [{style}]{result.state}[/] in {result.seconds:.1f} s"
        )
        if tail:
            self.console.print(f"[bold]last lines of {escape(str(result.log))}:[/]", soft_wrap=True)
            for line in tail:
                self.console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)

    def table(self, steps: list[StepResult]) -> None:
        """The final step / state / duration table."""
        table = Table("step", "state", "duration")
        for step in steps:
            style = _STYLE.get(step.state, "")
            duration = f"{step.seconds:.1f} s" if step.state in ("succeeded", "failed") else "-"
            table.add_row(step.name, f"[{style}]{step.state}[/]", duration)
        self.console.print(table)
