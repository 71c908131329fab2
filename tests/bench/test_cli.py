from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import cli
from bench.results import Target, check_document, measured


def test_only_accepts_known_benches(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(["--only", "nonsense"])
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err
    args = cli.parse_args(["--only", "prep", "--only", "online", "--full"])
    assert args.only == ["prep", "online"] and args.full


def test_failing_bench_becomes_not_measured_rows(monkeypatch, tmp_path: Path) -> None:
    def broken(ws: object) -> list:
        raise RuntimeError("inference server exited with code 3")

    monkeypatch.setattr(cli.importlib, "import_module", lambda name: SimpleNamespace(run=broken))
    rows = cli.run_bench("online", SimpleNamespace())
    assert [r.name for r in rows] == [
        "online_rps_vs_noop", "online_automl_rps_vs_noop", "online_rps_vs_mlflow", "online_p99",
        "online_automl_p99",
    ]  # fmt: skip
    assert all(r.ours is None and r.met is None for r in rows)
    assert rows[0].details["not_measured"] == "RuntimeError: inference server exited with code 3"


def test_main_writes_a_valid_document_and_prints_the_table(monkeypatch, tmp_path, capsys) -> None:
    def fake(ws: object) -> list:
        return [measured("train2_time", "s", "bare fit", 11.0, 10.0, Target("ratio", "<=", 1.15))]

    monkeypatch.setattr(cli.importlib, "import_module", lambda name: SimpleNamespace(run=fake))
    output = tmp_path / "results.json"
    argv = ["--only", "train", "--output", str(output), "--workdir", str(tmp_path / "ws")]
    assert cli.main(argv) == 0
    doc = json.loads(output.read_text())
    assert check_document(doc) == []
    assert doc["mode"] == "quick"
    assert doc["command"] == "python -m bench " + " ".join(argv)
    assert [r["name"] for r in doc["results"]] == ["train2_time"]
    assert doc["results"][0]["met"] is True
    assert "| train2_time" in capsys.readouterr().out


def _fake_train_bench(monkeypatch) -> None:
    def fake(ws: object) -> list:
        return [measured("train2_time", "s", "bare fit", 11.0, 10.0, Target("ratio", "<=", 1.15))]

    monkeypatch.setattr(cli.importlib, "import_module", lambda name: SimpleNamespace(run=fake))


def test_partial_run_leaves_the_default_results_file_alone(monkeypatch, tmp_path, capsys) -> None:
    _fake_train_bench(monkeypatch)
    default = tmp_path / "results.json"
    default.write_text('{"committed": true}')
    monkeypatch.setattr(cli, "DEFAULT_OUTPUT", default)
    assert cli.main(["--only", "train", "--workdir", str(tmp_path / "ws")]) == 0
    assert default.read_text() == '{"committed": true}'
    out = capsys.readouterr().out
    assert "| train2_time" in out and "partial run (--only): not written" in out


def test_complete_run_writes_the_default_results_file(monkeypatch, tmp_path, capsys) -> None:
    _fake_train_bench(monkeypatch)
    default = tmp_path / "results.json"
    monkeypatch.setattr(cli, "DEFAULT_OUTPUT", default)
    assert cli.main(["--workdir", str(tmp_path / "ws")]) == 0
    doc = json.loads(default.read_text())
    assert check_document(doc) == []
    # every bench ran (all faked): one row per bench module
    assert len(doc["results"]) == len(cli.BENCHES)
    assert f"written to {default}" in capsys.readouterr().out
