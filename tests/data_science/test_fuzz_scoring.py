"""Property-based fuzzing of score.run and of the real inference server's /score route.

Any body (random JSON of any shape and type, unicode, NaN and infinities, huge and
tiny numbers, deep nesting, batches up to and past the row limit, raw bytes) is
answered with either 200 and one finite prediction per row, or a 4xx whose JSON
``message`` is one line; never a 5xx, never a hang, and the server still answers after.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from mlops.endpoints.local_server import LocalServer
from tests.endpoint_models import FEATURES

LIMIT = 50  # SCORE_MAX_ROWS of the fuzzed endpoints: batches go up to it and past it

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis folder in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --------------------------------------------------------------------------- payloads

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1, 10**309]),
)
cells = st.one_of(
    numbers,
    st.none(),
    st.booleans(),
    st.text(max_size=20),
    st.lists(numbers, max_size=3),
    st.dictionaries(st.text(max_size=5), numbers, max_size=2),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=30)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=10), inner, max_size=6)
    ),
    max_leaves=40,
)
column_names = st.one_of(
    st.permutations(list(FEATURES)),
    st.lists(st.sampled_from(FEATURES), max_size=22),
    st.permutations(list(FEATURES)).map(lambda names: [*names, "surcharge"]),
    st.lists(st.text(max_size=12), max_size=22),
)


@st.composite
def records_bodies(draw: st.DrawFn) -> Any:
    """Records form: mostly right columns, values anywhere from plausible to absurd."""
    rows = draw(st.integers(min_value=0, max_value=LIMIT + 2))
    plausible = st.one_of(st.floats(min_value=-1e9, max_value=1e9), st.integers(-(10**9), 10**9))
    noisy = draw(st.booleans())  # half the bodies are valid tables: they must score
    out = []
    for _ in range(rows):
        names = draw(column_names) if noisy and draw(st.integers(0, 9)) == 0 else list(FEATURES)
        value = cells if noisy and draw(st.integers(0, 4)) == 0 else plausible
        out.append({name: draw(value) for name in names})
    return {"input_data": out}


@st.composite
def split_bodies(draw: st.DrawFn) -> Any:
    """Split form: columns in any order (or wrong), rows of any width and content."""
    columns = draw(column_names)
    rows = draw(st.integers(min_value=0, max_value=LIMIT + 2))
    width = len(columns) if draw(st.integers(0, 5)) else draw(st.integers(0, 25))
    value = st.one_of(st.floats(min_value=-1e3, max_value=1e3), cells)
    data = [[draw(value) for _ in range(width)] for _ in range(rows)]
    table: dict[str, Any] = {"columns": columns, "data": data}
    if draw(st.booleans()):
        table["index"] = list(range(rows))
    return {"input_data": table}


def deep(depth: int, kind: str) -> str:
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    return '{"input_data": ' + opening * depth + "1" + closing * depth + "}"


def to_bytes(body: Any) -> bytes:
    """JSON with NaN/Infinity literals as Python writes them, sometimes mangled unicode."""
    return json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")


payloads = st.one_of(
    records_bodies().map(to_bytes),
    split_bodies().map(to_bytes),
    json_values.map(to_bytes),
    st.fixed_dictionaries({"input_data": json_values}).map(to_bytes),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(deep, st.integers(1, 200_000), st.sampled_from(["list", "dict"])).map(str.encode),
)


def check_answer(status: int, body: Any, sent: bytes) -> None:
    """200 with finite predictions, one per row, or a 4xx with a one-line message."""
    if currently_in_test_context():  # --hypothesis-show-statistics counts each status
        event(f"HTTP {status}")
    assert status < 500, (status, body, sent[:300])
    if status == 200:
        assert isinstance(body, list) and body, body
        assert all(isinstance(p, float) and math.isfinite(p) for p in body), body
        rows = json.loads(sent)["input_data"]
        n = len(rows["data"]) if isinstance(rows, dict) else len(rows)
        assert len(body) == n <= LIMIT
    else:
        assert 400 <= status < 500 and isinstance(body, dict), (status, body)
        message = body.get("message")
        assert isinstance(message, str) and message, body
        assert "\n" not in message and "\r" not in message, message


# --------------------------------------------------------------------------- score.run


@pytest.fixture(scope="module")
def scorer(models: dict[str, Path]) -> Iterator[Any]:
    """score.py initialised in this process with the good model, as a worker would be."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZUREML_MODEL_DIR", str(models["good"]))
        patch.setenv("SCORE_MAX_ROWS", str(LIMIT))
        import score

        score.init()
        yield score
        score._MODEL = None  # module state of the entry script


def answer(score: Any, body: bytes) -> tuple[int, Any]:
    result = score.run(body)
    if isinstance(result, list):
        return 200, result
    return result.status_code, json.loads(result.get_data())


@FUZZ
@given(body=payloads)
def test_run_answers_every_payload_with_4xx_or_finite_predictions(scorer: Any, body: bytes) -> None:
    check_answer(*answer(scorer, body), body)


def test_run_known_hard_cases(scorer: Any) -> None:
    """Cases the fuzzer found: kept as plain examples so they run on every change."""
    row = dict.fromkeys(FEATURES, 1.0)
    for body in [
        deep(100_000, "list"),
        deep(5_000, "dict"),
        json.dumps({"input_data": [{**row, "distance": 1e308}]}),
        json.dumps({"input_data": [{**row, "distance": -1e300}]}),
        json.dumps({"input_data": [{**row, "pickup_hour": 10**400}]}),
        json.dumps(
            {"input_data": [{**{k: v for k, v in row.items() if k != "vendor"}, "v\nx": 1}]}
        ),
        json.dumps({"input_data": [row] * LIMIT}),
        json.dumps({"input_data": [row] * (LIMIT + 1)}),
    ]:
        status, reply = answer(scorer, body.encode())
        check_answer(status, reply, body.encode())
    assert answer(scorer, json.dumps({"input_data": [row] * LIMIT}).encode())[0] == 200


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def server(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    log = tmp_path_factory.mktemp("fuzz-server") / "server.log"
    endpoint = LocalServer(models["good"], log_file=log, env={"SCORE_MAX_ROWS": str(LIMIT)})
    try:
        endpoint.start()
        yield endpoint
    finally:
        endpoint.stop()
    assert endpoint._proc is None or endpoint._proc.poll() is not None


@pytest.mark.e2e
@settings(FUZZ, max_examples=60)
@given(body=payloads)
def test_endpoint_answers_every_payload_with_4xx_or_finite_predictions(
    server: LocalServer, body: bytes
) -> None:
    response = requests.post(
        server.score_url, data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    try:
        reply = response.json()
    except ValueError:
        pytest.fail(f"HTTP {response.status_code} without a JSON body: {response.text[:200]}")
    check_answer(response.status_code, reply, body)


@pytest.mark.e2e
def test_endpoint_alive_after_fuzzing(server: LocalServer) -> None:
    """Runs after the fuzz test in file order: the same worker still loads and scores."""
    assert requests.get(server.url + "/", timeout=10).status_code == 200
    row = dict.fromkeys(FEATURES, 1.0)
    response = requests.post(server.score_url, json={"input_data": [row]}, timeout=30)
    assert response.status_code == 200 and len(response.json()) == 1
