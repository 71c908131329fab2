"""The prep floor: read the same CSVs with pyarrow and write the same rows as parquet.

Run as ``python -m bench.prep_floor OUT_DIR CSV [CSV ...]``: one parquet file per CSV
(green and yellow files have different columns, so they are not concatenated).
"""

from __future__ import annotations

import sys
from pathlib import Path


def convert(csv_files: list[Path], out_dir: Path) -> int:
    """Read each CSV with pyarrow (multi-threaded) and write it as parquet; return rows."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = 0
    for path in csv_files:
        table = pcsv.read_csv(path)
        pq.write_table(table, out_dir / f"{path.stem}.parquet")
        rows += table.num_rows
    return rows


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m bench.prep_floor OUT_DIR CSV [CSV ...]", file=sys.stderr)
        return 2
    rows = convert([Path(a) for a in args[1:]], Path(args[0]))
    print(f"rows {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
