"""`mlops generate-data`: write NYC TLC-shaped green and yellow CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.errors import MlopsError


def generate_data(
    rows: Annotated[int, typer.Option("--rows", help="Total number of trips over both kinds.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the CSVs to.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same files.")] = 42,
    files_per_kind: Annotated[
        int, typer.Option("--files-per-kind", help="CSV files per kind.")
    ] = 2,
    distance_scale: Annotated[
        float,
        typer.Option(
            "--distance-scale", help="Stretch trip lengths (1 = as 2016; e.g. 1.5 for drift)."
        ),
    ] = 1.0,
) -> None:
    """Write green_*.csv and yellow_*.csv trip records (about 35% green)."""
    from mlops.datagen.generator import generate  # numpy and pandas: only this command

    try:
        files = generate(rows, out, seed, files_per_kind, distance_scale)
    except ValueError as exc:
        raise MlopsError(str(exc)) from exc
    total = sum(f.rows for f in files)
    typer.echo(f"wrote {total:,} rows in {len(files)} files to {out}")


def register(app: typer.Typer) -> None:
    app.command("generate-data")(generate_data)
