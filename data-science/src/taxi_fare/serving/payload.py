"""Request bodies of the online endpoint: JSON to validated feature columns.

Requests use the payload of Azure ML's no-code MLflow deployments, so a client can switch
between this deployment and a no-code one:

- split form:   ``{"input_data": {"columns": [...], "index": [...], "data": [[...], ...]}}``
- records form: ``{"input_data": [{"distance": 2.1, ...}, ...]}``

Columns are matched by name against the model signature, never by position. Bad input is
a ``RequestError`` carrying the 4xx status to answer with: non-JSON body, no ``input_data``,
rows without column names, missing, duplicate or unknown columns, text, null, NaN or
infinity where a number belongs, a number beyond ``MAX_ABS_VALUE`` (no trip feature comes
near it; beyond it a model's arithmetic can overflow), JSON nested too deeply, no rows, or
more rows than ``SCORE_MAX_ROWS`` (default 10000, answered with 413). Unknown extra columns
are refused rather than ignored: a client sending a column the model does not know has a
stale or misspelt schema, and dropping it silently is how such bugs hide.
"""

from __future__ import annotations

import functools
import json
import math
import os
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

MAX_ROWS_ENV = "SCORE_MAX_ROWS"
DEFAULT_MAX_ROWS = 10_000
#: Largest magnitude accepted in a feature cell (coordinates, miles, calendar parts).
MAX_ABS_VALUE = 1e9

_NUMBER = (float, int)  # the types json.loads gives numbers (type() is exact: not bool)
#: MLflow column types a JSON number can fill: (numpy dtype, whole numbers only).
NUMERIC_TYPES: dict[str, tuple[str, bool]] = {
    "double": ("float64", False),
    "float": ("float32", False),
    "long": ("int64", True),
    "integer": ("int32", True),
}


class RequestError(ValueError):
    """A request the client must fix; carries the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Column(NamedTuple):
    """One model input column; a NamedTuple because the inference server imports the entry
    script without registering it in sys.modules, which dataclasses need."""

    name: str
    dtype: str  # numpy dtype the model expects
    whole: bool  # integer column: values must be whole numbers


def max_rows() -> int:
    """Row limit per request, from ``SCORE_MAX_ROWS`` (default 10000)."""
    raw = os.environ.get(MAX_ROWS_ENV, "")
    if not raw:
        return DEFAULT_MAX_ROWS
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{MAX_ROWS_ENV}={raw!r} is not an integer") from None
    if value < 1:
        raise ValueError(f"{MAX_ROWS_ENV}={value} must be at least 1")
    return value


def _refuse_constant(token: str) -> float:
    raise RequestError(f"input contains {token}; only finite numbers are accepted")


def parse_body(raw: str | bytes) -> Any:
    """JSON-decode a request body; NaN and Infinity literals are refused at parse time."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RequestError:
        raise
    except RecursionError:
        raise RequestError("body is nested too deeply to be a table of rows") from None
    except (ValueError, TypeError) as exc:
        raise RequestError(f"body is not valid JSON: {exc}") from None


def rows_by_column(body: Any, limit: int) -> tuple[list[str], list[list[Any]]]:
    """Turn either request form into (column names, row values in the same order).

    Raises RequestError for anything but a named, non-empty table within the row limit.
    """
    if not isinstance(body, dict) or "input_data" not in body:
        raise RequestError('request has no "input_data" key')
    data = body["input_data"]
    if isinstance(data, dict):
        if "columns" not in data:
            raise RequestError(
                'input_data has no "columns": rows without column names are refused, '
                "send the split form with columns or the records form"
            )
        columns, rows = data["columns"], data.get("data")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise RequestError('input_data "columns" must be a list of column names')
        if not isinstance(rows, list):
            raise RequestError('input_data "data" must be a list of rows')
        _check_count(len(rows), limit)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                size = len(row) if isinstance(row, list) else type(row).__name__
                raise RequestError(f"row {i} has {size} values for {len(columns)} columns")
        return columns, rows
    if isinstance(data, list):
        _check_count(len(data), limit)
        if not all(isinstance(r, dict) for r in data):
            raise RequestError(
                "input_data rows must be objects naming their columns; bare lists are refused "
                "because their column order cannot be checked"
            )
        names = list(data[0])
        for i, record in enumerate(data):
            if list(record) != names and set(record) != set(names):
                missing = sorted(set(names) - set(record))
                extra = sorted(set(record) - set(names))
                raise RequestError(
                    f"row {i} has different columns from row 0 (missing {missing}, extra {extra})"
                )
        return names, [[record[c] for c in names] for record in data]
    raise RequestError("input_data must be an object with columns and data, or a list of records")


def _check_count(rows: int, limit: int) -> None:
    if rows == 0:
        raise RequestError("input_data has no rows")
    if rows > limit:
        raise RequestError(f"{rows} rows exceed the limit of {limit} rows per request", status=413)


def check_names(columns: list[str], expected: tuple[Column, ...]) -> list[int]:
    """Positions in ``columns`` of the signature's columns, in signature order.

    RequestError for duplicate, missing or unknown column names. Clients send the same
    column list request after request, so the answer for a list is kept (a few lists).
    """
    return list(_positions(tuple(columns), expected))


@functools.lru_cache(maxsize=32)
def _positions(columns: tuple[str, ...], expected: tuple[Column, ...]) -> tuple[int, ...]:
    """``check_names`` for hashable arguments; a refused list raises, and is not kept."""
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise RequestError(f"duplicate columns: {', '.join(dupes)}")
    position = {name: i for i, name in enumerate(columns)}
    missing = [c.name for c in expected if c.name not in position]
    if missing:
        raise RequestError(f"missing columns: {', '.join(missing)}")
    names = {c.name for c in expected}
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise RequestError(f"unknown columns (not in the model signature): {', '.join(unknown)}")
    return tuple(position[c.name] for c in expected)


def check_value(value: Any, col: Column, row: int) -> None:
    """RequestError unless ``value`` is a finite JSON number ``col`` can hold."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = json.dumps(value)[:40]
        raise RequestError(f"column {col.name!r} row {row}: expected a number, got {shown}")
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"column {col.name!r} row {row}: {value} is not a finite number")
    if abs(value) > MAX_ABS_VALUE:
        shown = json.dumps(value)[:40]
        raise RequestError(
            f"column {col.name!r} row {row}: {shown} is beyond {MAX_ABS_VALUE:g} in magnitude"
        )
    if col.whole and isinstance(value, float) and not value.is_integer():
        raise RequestError(f"column {col.name!r} row {row}: expected a whole number, got {value}")


def one_row(columns: list[str], row: list[Any], expected: tuple[Column, ...]) -> list[float]:
    """A single row's values as plain floats in signature order (float64 columns only).

    The same checks as ``to_columns`` without a numpy array per column: on a one-row
    request numpy's per-call cost is most of the validation's.
    """
    values = [row[j] for j in _positions(tuple(columns), expected)]
    # The usual request: numbers within bounds for float columns, accepted in one pass
    # (NaN fails the comparison, bool is not int here); anything else is checked cell by
    # cell, which names the first bad cell.
    if all(type(v) in _NUMBER and -MAX_ABS_VALUE <= v <= MAX_ABS_VALUE for v in values) and (
        not any(c.whole for c in expected)
    ):
        return [float(v) for v in values]
    for col, value in zip(expected, values, strict=True):
        check_value(value, col, 0)
    return [float(v) for v in values]


def to_columns(
    columns: list[str], rows: list[list[Any]], expected: tuple[Column, ...]
) -> dict[str, npt.NDArray[Any]]:
    """Validate names and values against the signature; one typed array per column."""
    positions = check_names(columns, expected)
    values: dict[str, npt.NDArray[Any]] = {}
    for col, j in zip(expected, positions, strict=True):
        cells = [row[j] for row in rows]
        for i, v in enumerate(cells):
            check_value(v, col, i)
        try:
            values[col.name] = np.asarray(cells, dtype=col.dtype)
        except OverflowError:
            raise RequestError(
                f"column {col.name!r}: a value is out of range for {col.dtype}"
            ) from None
        if not np.isfinite(values[col.name]).all():
            raise RequestError(f"column {col.name!r}: a value is out of range for {col.dtype}")
    return values


def stack_columns(
    values: dict[str, npt.NDArray[Any]], expected: tuple[Column, ...]
) -> npt.NDArray[Any]:
    """The validated columns as one 2-D array in signature order (signature of one dtype)."""
    block = np.empty((len(values[expected[0].name]), len(expected)), dtype=expected[0].dtype)
    for j, col in enumerate(expected):
        block[:, j] = values[col.name]
    return block


def to_frame(columns: list[str], rows: list[list[Any]], expected: tuple[Column, ...]) -> Any:
    """Validate names and values against the signature; return a DataFrame in signature order."""
    values = to_columns(columns, rows, expected)
    if len({c.dtype for c in expected}) == 1:
        # One block, no per-column consolidation: most of a one-row request's frame cost.
        return pd.DataFrame(stack_columns(values, expected), columns=[c.name for c in expected])
    return pd.DataFrame(values)
