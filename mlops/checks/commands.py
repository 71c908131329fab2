"""``mlops validate``: offline checks of every Azure-facing file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.checks.findings import to_json
from mlops.checks.run import validate as run


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders whose findings to show (default: everything)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print findings as a JSON list of objects.")
    ] = False,
    root: Annotated[
        Path | None,
        typer.Option(
            help="Repository root to analyse (default: the nearest folder upwards from the "
            "current one that holds .git or pyproject.toml)."
        ),
    ] = None,
) -> None:
    """Check Azure ML specs, Azure DevOps YAML and config-infra files; exit 1 on any finding.

    One line per finding, `path:line: rule: message`, sorted.
    """
    findings = run(root or repository_root(Path.cwd()), paths or (), parallel=True)
    if json_output:
        typer.echo(to_json(findings))
    else:
        for finding in findings:
            typer.echo(str(finding))
        if findings:
            typer.echo(f"{len(findings)} finding(s)", err=True)
    if findings:
        raise typer.Exit(1)


def repository_root(start: Path) -> Path:
    """The nearest folder from ``start`` upwards holding ``.git`` or ``pyproject.toml``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists() or (folder / "pyproject.toml").is_file():
            return folder
    return start


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
