"""Raw CSV rows for hand-made inputs, shared by the step tests."""

from __future__ import annotations

from pathlib import Path

from taxi_fare.schema import GREEN_COLUMNS, YELLOW_COLUMNS

GREEN_HEADER = ",".join(GREEN_COLUMNS)
YELLOW_HEADER = ",".join(YELLOW_COLUMNS)
GREEN_ROW = (
    "2,2016-03-26 17:10:19,2016-03-26 17:22:34,3,2.04,,,-73.905188,40.732425,-73.8772,"
    "40.720004,1,N,2,10.0,0.0,0.5,0.3,0.0,0.0,,10.8,1"
)
YELLOW_ROW = (
    "1,2016-03-07 22:04:12,2016-03-07 22:15:28,1,2.18,,,-74.009222,40.714145,-73.992591,"
    "40.731901,1,N,1,9.0,0.5,0.5,0.3,0.0,0.0,10.3"
)


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def green_rows(n: int) -> list[str]:
    """``n`` distinct trips like GREEN_ROW (the pickup second varies).

    The split puts identical trips on the same side, so a split test needs distinct ones.
    """
    return [GREEN_ROW.replace("17:10:19", f"17:10:{i % 60:02d}", 1) for i in range(n)]
