"""The Python the monitoring pipelines call: busiest colour, collector JSONL, queueing a run."""

from __future__ import annotations

import json

import pytest

from mlops.errors import MlopsError
from mlops.monitoring.data import read_table
from mlops.monitoring.queue import queue_pipeline
from mlops.monitoring.render import busiest_deployment
from mlops.monitoring.spec import load_monitor_spec, spec_path

FEATURES = load_monitor_spec(spec_path("dev")).features


def test_busiest_deployment():
    assert busiest_deployment('{"blue": 10, "green": 90}') == "green"
    for bad in ("{}", "[1]", '{"blue": 0}', "nope", '{"blue": "all"}'):
        with pytest.raises(MlopsError, match="--traffic"):
            busiest_deployment(bad)


def test_collector_jsonl_files_are_read_by_record(tmp_path, trips):
    rows = trips(2_000, 41).features.head(5)
    records = rows.to_dict(orient="records")
    day = tmp_path / "model_inputs" / "2026" / "12" / "01" / "07"
    day.mkdir(parents=True)
    events = [{"specversion": "1.0", "type": "azureml.inference.model_inputs",
               "data": records[:2]}, {"specversion": "1.0", "data": records[2:]}]  # fmt: skip
    (day / "abc.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    table = read_table(tmp_path, FEATURES)
    assert table.rows == 5
    assert table.features["distance"].tolist() == rows["distance"].tolist()
    (day / "bad.jsonl").write_text('{"data": "oops"}\n')
    with pytest.raises(MlopsError, match=r"bad.jsonl: line 1 has no list of records"):
        read_table(tmp_path, FEATURES)


class _Response:
    def __init__(self, status: int, body: dict) -> None:
        self.status_code, self._body, self.text = status, body, json.dumps(body)

    def json(self) -> dict:
        return self._body


class _Session:
    def __init__(self, listing: _Response, run: _Response) -> None:
        self.listing, self.run, self.calls = listing, run, []

    def get(self, url, headers, timeout):
        self.calls.append(("GET", url, headers, None))
        return self.listing

    def post(self, url, json, headers, timeout):  # requests' keywords
        self.calls.append(("POST", url, headers, json))
        return self.run


def test_queue_pipeline_finds_it_by_name_and_runs_it_on_main():
    listing = _Response(
        200, {"value": [{"id": 3, "name": "x"}, {"id": 7, "name": "dev-model-training"}]}
    )
    session = _Session(listing, _Response(200, {"id": 1234}))
    run = queue_pipeline("https://dev.azure.com/org/", "taxi", "dev-model-training", "tok",
                         session=session)  # fmt: skip
    assert run == 1234
    (_, get_url, headers, _), (_, post_url, _, body) = session.calls
    assert get_url == "https://dev.azure.com/org/taxi/_apis/pipelines?api-version=7.1"
    assert post_url == "https://dev.azure.com/org/taxi/_apis/pipelines/7/runs?api-version=7.1"
    assert headers == {"Authorization": "Bearer tok"}
    assert body == {"resources": {"repositories": {"self": {"refName": "refs/heads/main"}}}}


@pytest.mark.parametrize(
    ("listing", "run", "needle"),
    [
        (_Response(401, {}), _Response(200, {"id": 1}), "HTTP 401"),
        (_Response(200, {"value": []}), _Response(200, {"id": 1}), "no pipeline named"),
        (_Response(200, {"value": [{"id": 1, "name": "p"}]}), _Response(403, {}), "HTTP 403"),
    ],
)
def test_queue_pipeline_failures_are_one_line(listing, run, needle):
    with pytest.raises(MlopsError, match=needle):
        queue_pipeline(
            "https://dev.azure.com/org", "taxi", "p", "tok", session=_Session(listing, run)
        )


def test_queue_pipeline_needs_the_job_token():
    with pytest.raises(MlopsError, match="SYSTEM_ACCESSTOKEN"):
        queue_pipeline("https://dev.azure.com/org", "taxi", "p", "")
