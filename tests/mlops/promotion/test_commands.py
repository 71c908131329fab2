"""The promotion CLI: output and exit codes; bad input is one `error:` line and no change."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from mlops.cli import main
from mlops.promotion import promote
from mlops.registry import local_registry
from tests.mlops.promotion.promotion_support import FakeDeployer, Home, snapshot


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def staged(home: Home, deployer: FakeDeployer) -> Home:
    """Version 3 passed stage and runs in stage; version 1 is in the registry, failed stage."""
    with pytest.raises(Exception, match="stage tests failed"):
        promote.promote("stage", 1, deployer, stage_data=home.stage_data)
    promote.promote("stage", 3, deployer, stage_data=home.stage_data)
    return home


def test_models_json_shows_tags_champion_released_and_deployed(
    staged: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(["models", "--env", "stage", "--json"], capsys)
    assert code == 0
    view = json.loads(out)
    assert (view["store"], view["champion"], view["released"], view["deployed"]) == (
        "registry", 3, 3, 3,
    )  # fmt: skip
    rows = {row["version"]: row for row in view["versions"]}
    assert rows[3]["stage_passed"] and not rows[1]["stage_passed"]
    assert rows[3]["released_in"] == ["stage"] and rows[1]["released_in"] == []
    assert rows[3]["lineage"]["git_commit"] == "0123abc"
    assert rows[3]["metrics"]["root_mean_squared_error"] > 0.5
    assert rows[1]["tags"]["stage_passed"] == "false"

    code, out, _ = _run(["models"], capsys)
    assert code == 0
    assert out.splitlines()[0] == "taxi-fare in dev (store dev)"
    assert out.splitlines()[-1].startswith("3        yes")


def test_release_check(staged: Home, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["release", "check", "--env", "stage"], capsys)
    assert code == 0 and "version 3 of taxi-fare in the local registry store: ok" in out

    prod = staged.releases / "prod.yml"
    prod.write_text(prod.read_text().replace("version: null", "version: 1"))
    before = snapshot(staged)
    code, _, err = _run(["release", "check", "--env", "prod"], capsys)
    assert code == 1
    assert "version 1 of taxi-fare has not passed stage" in _error_line(err)

    prod.write_text(prod.read_text().replace("version: 1", "version: 8"))
    code, _, err = _run(["release", "check", "--env", "prod"], capsys)
    assert code == 1 and "names version 8 of taxi-fare, which the local" in _error_line(err)

    prod.write_text("model: {name: taxi-fare}\n")
    code, _, err = _run(["release", "check", "--env", "prod"], capsys)
    assert code == 1 and f"{prod}: key 'rollout': missing" in _error_line(err)
    prod.unlink()
    code, _, err = _run(["rollback", "--env", "prod"], capsys)
    assert code == 1 and "prod.yml: release file not found" in _error_line(err)
    assert {k: v for k, v in snapshot(staged).items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["promote", "--to", "stage", "--version", "9"], "version 9 of taxi-fare does not exist"),
        (["promote", "--to", "prod", "--version", "1"], "version 1 of taxi-fare has not passed"),
        (["promote", "--to", "prod", "--version", "2"], "version 2 of taxi-fare is not in the"),
        (["rollback", "--env", "stage"], "no previous release of stage"),
        (["rollback", "--env", "dev"], "cannot roll back 'dev'"),
        (["models", "--env", "qa"], "unknown environment 'qa'"),
    ],
)
def test_bad_commands_print_one_error_and_change_nothing(
    staged: Home, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    before = snapshot(staged)
    code, _, err = _run(argv, capsys)
    assert code == 1
    assert message in _error_line(err)
    assert snapshot(staged) == before


def test_record_stage_result_file(
    staged: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = tmp_path / "stage-result.json"
    result.write_text(json.dumps({"version": 1, "rows": 50, "passed": True, "reason": "rerun",
                                  "metrics": {"r2_score": 0.5}}))  # fmt: skip
    code, out, _ = _run(["release", "record-stage", "--result", str(result)], capsys)
    assert code == 0 and "recorded stage_passed=true on version 1" in out
    entry = local_registry.registry_version(1)
    assert entry is not None and entry.tags["stage_reason"] == "rerun" and entry.stage_passed
    before = snapshot(staged)
    result.write_text("{not json")
    code, _, err = _run(["release", "record-stage", "--result", str(result)], capsys)
    assert code == 1 and f"{result}: not valid JSON" in _error_line(err)
    assert snapshot(staged) == before


class _FormulaHandler(BaseHTTPRequestHandler):
    """A scoring endpoint speaking the Azure ML request shapes: cost = 3 + 2.5 * distance."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        data = body.get("input_data") if isinstance(body, dict) else None
        if isinstance(data, dict):
            column = data["columns"].index("distance")
            distances = [row[column] for row in data["data"]]
        elif isinstance(data, list):
            distances = [row["distance"] for row in data]
        else:
            self.send_response(400)
            self.end_headers()
            return
        payload = json.dumps([3.0 + 2.5 * float(d) for d in distances]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FormulaHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/score"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_stage_test_scores_through_http_and_tags_the_registry_version(
    staged: Home, endpoint_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out" / "stage-result.json"
    argv = ["release", "stage-test", "--url", endpoint_url, "--stage-data",
            str(staged.stage_data), "--output", str(output)]  # fmt: skip
    code, out, _ = _run(argv, capsys)
    assert code == 0, out
    assert "stage tests passed for version 3" in out
    result = json.loads(output.read_text())
    assert result["passed"] is True and result["rows"] == 200
    assert 0.8 < result["metrics"]["root_mean_squared_error"] < 1.2  # the noise of the data
    entry = local_registry.registry_version(3)
    assert entry is not None and entry.tags["stage_tested_at"] == result["tested_at"]

    stage = staged.releases / "stage.yml"
    stage.write_text(stage.read_text().replace("version: 3", "version: 1"))
    code, out, _ = _run(argv, capsys)  # v1's dev metrics cannot be met: a fail, recorded
    assert code == 1 and "stage tests FAILED for version 1" in out
    assert json.loads(output.read_text())["passed"] is False

    stage.write_text(stage.read_text().replace("version: 1", "version: 2"))
    output.unlink()
    code, _, err = _run(argv, capsys)  # never shared: refused before scoring anything
    assert code == 1 and "names version 2 of taxi-fare, which the local" in _error_line(err)
    assert not output.exists()


def test_promote_raw_data_excludes_the_training_split_of_the_versions_run(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from taxi_fare.split import write_split
    from taxi_fare.stage import build_stage_set

    from mlops import settings
    from mlops.datagen.generator import generate
    from mlops.promotion import commands

    generate(400, tmp_path / "raw", seed=5)
    everything = build_stage_set([tmp_path / "raw"], newest_fraction=1.0, min_rows=1).table
    run_id = local_registry.dev_version(3).tags["pipeline_run_id"]
    write_split(everything.iloc[::2], settings.runs_dir() / run_id / "prep_data" / "train_data")
    target = tmp_path / "stage-data"
    commands._prepare_stage_data([tmp_path / "raw"], None, 3, target)
    report = json.loads((target / "stage_report.json").read_text())
    assert report["excluded_training_rows"] == len(everything.iloc[::2])
    assert report["rows_eligible"] == len(everything) - len(everything.iloc[::2])
    assert report["rows_selected"] == len(pd.read_parquet(target / "data.parquet")) > 20
    assert "training rows excluded" in capsys.readouterr().out
    (target / "stale.txt").write_text("from an earlier set")
    commands._prepare_stage_data([tmp_path / "raw"], None, 3, target)  # replaced as a whole
    assert sorted(p.name for p in target.iterdir()) == ["MLTable", "data.parquet",
                                                        "stage_report.json"]  # fmt: skip
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".stage-data-")] == []


def test_share_without_a_workspace_says_which_settings_are_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AML_SUBSCRIPTION_ID", "AML_RESOURCE_GROUP", "AML_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = _run(["release", "share", "--version", "3", "--workspace", "mlw-x"], capsys)
    assert code == 1
    line = _error_line(err)
    assert "--subscription-id (or AML_SUBSCRIPTION_ID)" in line
    assert "--resource-group (or AML_RESOURCE_GROUP)" in line and "--workspace" not in line
