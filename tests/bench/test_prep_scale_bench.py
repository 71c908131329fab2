"""bench.prep_scale_bench's inputs: the 3N set is generated with the N set's rows per file
and three times the files, and the driver command it times runs per-file prep."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench.prep_scale_bench import driver_command, make_data
from bench.workspace import SRC


def rows_per_file(folder: Path) -> list[int]:
    return sorted(sum(1 for _ in p.open()) - 1 for p in folder.glob("*.csv"))


def test_three_times_the_files_of_the_same_size(tmp_path: Path) -> None:
    base, triple = make_data(tmp_path, 400, 2)
    assert rows_per_file(base) == [70, 70, 130, 130]
    assert rows_per_file(triple) == sorted([70, 70, 130, 130] * 3)  # same file size, 3x files
    small = {p.read_bytes() for p in base.glob("*.csv")}
    assert not small & {p.read_bytes() for p in triple.glob("*.csv")}  # trips of their own
    assert make_data(tmp_path, 400, 2) == (base, triple)  # kept, not regenerated

    out = tmp_path / "out"
    done = subprocess.run(driver_command(base, out, 1), cwd=SRC, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (out / "rows/parallel_run_step.txt").open()]
    assert sorted(Path(r["path"]).name for r in rows) == sorted(p.name for p in base.glob("*.csv"))
    assert sum(r["rows"] for r in rows) == 400
    assert len(list((out / "train").glob("*.parquet"))) == 4
