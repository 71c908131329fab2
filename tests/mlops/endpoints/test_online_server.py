"""score.py in the real Azure ML inference server: both request forms and every bad input."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import requests

from mlops.cli import main
from mlops.endpoints.local_server import LocalServer, free_port
from mlops.endpoints.smoke import check_predictions, load_sample, smoke_test
from mlops.errors import MlopsError
from tests.endpoint_models import FEATURES, SAMPLES

pytestmark = pytest.mark.e2e

HEADERS = {"Content-Type": "application/json"}


def expected_cost(row: dict[str, float]) -> float:
    """What the ``good`` test model learnt exactly: 3 + 2.5 * distance + 0.1 * passengers."""
    return 3.0 + 2.5 * row["distance"] + 0.1 * row["passengers"]


def records() -> list[dict[str, Any]]:
    return json.loads((SAMPLES / "sample-records.json").read_text())["input_data"]


def split() -> dict[str, Any]:
    return json.loads((SAMPLES / "sample-split.json").read_text())


def post(server: LocalServer, body: str | bytes) -> requests.Response:
    return requests.post(server.score_url, data=body, headers=HEADERS, timeout=30)


def test_records_form_scores_each_row_by_name(good_server: LocalServer) -> None:
    rows = records()
    resp = post(good_server, json.dumps({"input_data": rows}))
    assert resp.status_code == 200, resp.text
    predictions = resp.json()
    assert isinstance(predictions, list)  # the bare list a no-code MLflow deployment returns
    assert predictions == pytest.approx([expected_cost(r) for r in rows], abs=1e-3)


def test_split_form_matches_columns_by_name_not_position(good_server: LocalServer) -> None:
    body = split()
    table = body["input_data"]
    rows = [dict(zip(table["columns"], values, strict=True)) for values in table["data"]]
    straight = post(good_server, json.dumps(body)).json()
    # Same rows with the columns reversed: a positional scorer would now mix them up.
    table["columns"] = list(reversed(table["columns"]))
    table["data"] = [list(reversed(values)) for values in table["data"]]
    reversed_resp = post(good_server, json.dumps(body))
    assert reversed_resp.status_code == 200, reversed_resp.text
    assert straight == pytest.approx([expected_cost(r) for r in rows], abs=1e-3)
    assert reversed_resp.json() == pytest.approx(straight, abs=1e-9)


def test_liveness_route_answers(good_server: LocalServer) -> None:
    assert requests.get(good_server.url + "/", timeout=10).status_code == 200


def _with(change: Any) -> str:
    rows = copy.deepcopy(records())
    change(rows)
    return json.dumps({"input_data": rows})


def _drop(*names: str) -> Any:
    def change(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            for name in names:
                del row[name]

    return change


def _set(name: str, value: Any, every_row: bool = False) -> Any:
    def change(rows: list[dict[str, Any]]) -> None:
        for row in rows if every_row else rows[1:2]:
            row[name] = value

    return change


def _split_with(data: Any, columns: Any = FEATURES) -> str:
    table: dict[str, Any] = {"data": data}
    if columns is not None:
        table["columns"] = list(columns)
    return json.dumps({"input_data": table})


ROW = [1.5] * len(FEATURES)

BAD_INPUTS = [
    ("not-json", b"distance=2.3", 400, "not valid JSON"),
    ("no-input-data", json.dumps({"data": [ROW]}), 400, 'no "input_data"'),
    ("bare-list-rows", json.dumps({"input_data": [ROW]}), 400, "bare lists are refused"),
    ("split-without-columns", _split_with([ROW], columns=None), 400, 'no "columns"'),
    (
        "missing-columns",
        _with(_drop("vendor", "pickup_hour")),
        400,
        "missing columns: vendor, pickup_hour",
    ),
    ("unknown-column", _with(_set("tip_amount", 2.0, every_row=True)), 400, "unknown columns"),
    ("text-for-number", _with(_set("distance", "two miles")), 400, "column 'distance' row 1"),
    ("null-for-number", _with(_set("passengers", None)), 400, "column 'passengers' row 1"),
    ("ragged-records", _with(_set("tip_amount", 2.0)), 400, "extra ['tip_amount']"),
    ("empty-records", json.dumps({"input_data": []}), 400, "no rows"),
    ("empty-split", _split_with([]), 400, "no rows"),
    ("nan-literal", _with(_set("distance", 0.0)).replace("0.0", "NaN", 1), 400, "NaN"),
    (
        "infinity-literal",
        _split_with([[*ROW[:-1], "X"]]).replace('"X"', "Infinity"),
        400,
        "Infinity",
    ),
    (
        "overflow-to-inf",
        _split_with([["X", *ROW[1:]]]).replace('"X"', "1e999"),
        400,
        "column 'distance' row 0",
    ),
    ("short-row", _split_with([ROW[:-1]]), 400, "row 0 has 19 values for 20 columns"),
    ("too-many-rows", _split_with([ROW] * 51), 413, "51 rows exceed the limit of 50"),
]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_a_one_line_4xx_and_server_keeps_serving(
    good_server: LocalServer, body: str | bytes, status: int, fragment: str
) -> None:
    resp = post(good_server, body)
    assert resp.status_code == status, resp.text
    assert "\n" not in resp.text.strip()
    assert "Traceback" not in resp.text
    message = resp.json()["message"]
    assert fragment in message
    # The next correct request is still answered correctly.
    rows = records()
    again = post(good_server, json.dumps({"input_data": rows}))
    assert again.status_code == 200
    assert again.json() == pytest.approx([expected_cost(r) for r in rows], abs=1e-3)


def test_row_limit_allows_exactly_the_limit(good_server: LocalServer) -> None:
    resp = post(good_server, _split_with([ROW] * 50))
    assert resp.status_code == 200, resp.text
    values = resp.json()
    assert len(values) == 50 and all(math.isfinite(v) for v in values)


# The smoke test, against the same server ------------------------------------------------


def test_smoke_test_passes_on_a_healthy_endpoint(good_server: LocalServer) -> None:
    result = smoke_test(good_server.score_url, latency_ms=10_000)
    assert result.ok, result.reason
    assert result.rows == 5  # 3 split rows + 2 records
    assert result.verdict().startswith(f"smoke test passed for {good_server.score_url}: 5 rows")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"latency_ms": 1e-6}, "exceeds the 1e-06 ms budget"),
        ({"high": 5.0}, "outside the sane range [0, 5]"),
    ],
)
def test_smoke_test_fails_on_budget_or_insane_predictions(
    good_server: LocalServer, kwargs: dict[str, float], fragment: str
) -> None:
    result = smoke_test(good_server.score_url, **kwargs)
    assert not result.ok
    assert fragment in result.reason
    assert result.verdict().startswith("smoke test FAILED")


def test_smoke_test_fails_on_a_wrong_route_or_a_dead_port(good_server: LocalServer) -> None:
    wrong = smoke_test(good_server.url + "/nowhere")
    assert not wrong.ok and "HTTP 404" in wrong.reason
    dead = smoke_test(f"http://127.0.0.1:{free_port()}/score", timeout_s=5)
    assert not dead.ok and "request failed" in dead.reason


def test_smoke_test_cli_exit_codes(good_server: LocalServer, capsys: pytest.CaptureFixture) -> None:
    main(["smoke-test", "--url", good_server.score_url, "--latency-ms", "10000"])
    assert capsys.readouterr().out.startswith("smoke test passed")
    with pytest.raises(SystemExit) as failed:
        main(["smoke-test", "--url", good_server.url + "/nowhere"])
    assert failed.value.code == 1
    assert "smoke test FAILED" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "sample request not found"),
        ("{", "not valid JSON"),
        ('{"rows": []}', "no input_data"),
        ('{"input_data": []}', "sample has no rows"),
    ],
)
def test_bad_sample_files_are_named(tmp_path: Path, content: str | None, fragment: str) -> None:
    path = tmp_path / "sample.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(MlopsError, match=fragment) as err:
        load_sample(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"predictions": [1.0]}, "response is dict"),
        ([1.0], "1 predictions for 2 rows"),
        ([1.0, "x"], "prediction 1 is not a number"),
        ([1.0, True], "prediction 1 is not a number"),
        ([1.0, float("inf")], "prediction 1 is not finite"),
        ([1.0, -3.0], "outside the sane range"),
    ],
)
def test_check_predictions_names_the_problem(payload: Any, fragment: str) -> None:
    assert fragment in (check_predictions(payload, 2, 0.0, 1000.0) or "")


def test_check_predictions_accepts_sane_values() -> None:
    assert check_predictions([0.0, 999.5], 2, 0.0, 1000.0) is None
