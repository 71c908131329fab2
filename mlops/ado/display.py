"""Progress of an ``mlops ado run`` on the terminal (rich): stages, jobs, steps, failures."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from mlops.ado.runner import JobRecord, StageRecord, StepRecord

_MARK = {
    "Succeeded": "[green]✓[/]",
    "SucceededWithIssues": "[yellow]![/]",
    "Failed": "[red]✗[/]",
    "Skipped": "[dim]-[/]",
}


class RichDisplay:
    """One line per stage, job and finished step; a spinner while a step runs."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self._status: Any = None

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def stage_started(self, stage: StageRecord) -> None:
        self.console.print(f"[bold]stage {escape(stage.name)}[/]: {escape(stage.display)}")

    def stage_finished(self, stage: StageRecord) -> None:
        mark = _MARK.get(stage.result, "?")
        self.console.print(f"{mark} stage {escape(stage.name)}: {stage.result}")

    def job_started(self, job: JobRecord) -> None:
        where = f" (environment {job.environment})" if job.environment else ""
        self.console.print(f"  [bold]job {escape(job.name)}[/]{where}: {escape(job.display)}")

    def job_finished(self, job: JobRecord) -> None:
        reason = f" ({escape(job.reason)})" if job.reason else ""
        self.console.print(
            f"  {_MARK.get(job.result, '?')} job {escape(job.name)}: {job.result}{reason}"
        )

    def step_started(self, job: JobRecord, step: StepRecord) -> None:
        self._stop_status()
        if self.console.is_terminal:
            self._status = self.console.status(f"    {escape(step.display)}")
            self._status.start()

    def step_finished(self, job: JobRecord, step: StepRecord, tail: list[str]) -> None:
        self._stop_status()
        seconds = f" {step.seconds:.1f}s" if step.seconds else ""
        reason = f" ({escape(step.reason)})" if step.reason and step.result != "Succeeded" else ""
        self.console.print(
            f"    {_MARK.get(step.result, '?')} {escape(step.display)}{seconds}{reason}"
        )
        for issue in step.issues:
            colour = "red" if issue.get("type") == "error" else "yellow"
            self.console.print(
                f"      [{colour}]{escape(issue.get('type', ''))}: "
                f"{escape(issue.get('message', ''))}[/]"
            )
        if step.result == "Failed" and tail:
            self.console.print(f"      [dim]last lines of {escape(step.log or 'the step')}:[/]")
            for line in tail:
                self.console.print(f"      [dim]|[/] {escape(line)}", soft_wrap=True)
