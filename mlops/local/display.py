"""Progress of a local pipeline run on the terminal (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlops.local.runner import StepResult

_STYLE = {
    "succeeded": "green",
    "reused": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "running": "cyan",
}


def _state(result: StepResult) -> str:
    style = _STYLE.get(result.state, "")
    return f"[{style}]{result.state}[/]"


class RichDisplay:
    """Live progress on a terminal (one line per step: spinner, state, elapsed time), plain
    lines otherwise (logs, CI); a step / state / duration table at the end."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def step_started(self, result: StepResult) -> None:
        if not self.console.is_terminal:
            self.console.print(f"{result.name}: running", highlight=False)
            return
        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(finished_text=" "),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self._progress.start()
        label = f"{escape(result.name):<12} {_state(result)}"
        self._tasks[result.name] = self._progress.add_task(label, total=1)

    def step_finished(self, result: StepResult, tail: list[str]) -> None:
        if self._progress is not None and result.name in self._tasks:
            task = self._tasks[result.name]
            label = f"{escape(result.name):<12} {_state(result)}"
            self._progress.update(task, description=label, completed=1)
            self._progress.stop_task(task)
        else:
            self.console.print(
                f"{escape(result.name)}: {_state(result)} in {result.seconds:.1f} s",
                highlight=False,
            )
        if tail:
            self.console.print(f"[bold]last lines of {escape(str(result.log))}:[/]", soft_wrap=True)
            for line in tail:
                self.console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)

    def close(self) -> None:
        """Stop the live display (idempotent); call before printing anything else."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def table(self, steps: list[StepResult]) -> None:
        """The final step / state / duration table."""
        self.close()
        table = Table("step", "state", "duration")
        for step in steps:
            duration = f"{step.seconds:.1f} s" if step.state in ("succeeded", "failed") else "-"
            if step.state == "reused":
                duration = f"reused ({step.reused_from})"
            table.add_row(escape(step.name), _state(step), duration)
        self.console.print(table)
