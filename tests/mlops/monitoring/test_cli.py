"""``mlops monitor``: JSON shape, exit codes 0 and 3, the report, collected targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops import settings
from mlops.cli import main
from mlops.monitoring.spec import load_monitor_spec, spec_path


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    _run.err = captured.err  # type: ignore[attr-defined]
    return code, captured.out


@pytest.fixture(scope="module")
def files(tmp_path_factory, trips, baseline) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("monitor-cli")
    out = {"baseline": root / "baseline.parquet", "fresh": root / "fresh.parquet",
           "shifted": root / "shifted.csv"}  # fmt: skip
    baseline.features.assign(cost=baseline.labels).to_parquet(out["baseline"])
    trips(3_000, 31).features.to_parquet(out["fresh"])
    trips(3_000, 32, distance_scale=1.6).features.to_csv(out["shifted"], index=False)
    return out


def test_json_shape_and_exit_0_when_nothing_breached(files, tiny_model, capsys):
    code, out = _run(
        [
            "monitor",
            "--target",
            str(files["fresh"]),
            "--baseline",
            str(files["baseline"]),
            "--model-dir",
            str(tiny_model),
            "--json",
        ],
        capsys,
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"signals", "breached"} and doc["breached"] is False
    keys = {"signal", "feature", "metric", "value", "threshold", "breached"}
    assert all(set(s) == keys for s in doc["signals"])
    spec = load_monitor_spec(spec_path("dev"))
    assert {s["signal"] for s in doc["signals"]} == {s.name for s in spec.signals}
    drift = [s for s in doc["signals"] if s["signal"] == "data_drift"]
    assert len(drift) == len(spec.features)  # one metric per feature per data type
    prediction = [s for s in doc["signals"] if s["signal"] == "prediction_drift"]
    assert [s["feature"] for s in prediction] == ["cost"]


def test_exit_3_and_report_when_breached(files, tiny_model, tmp_path, capsys):
    report = tmp_path / "report"
    code, out = _run(["monitor", "--target", str(files["shifted"]), "--baseline",
                      str(files["baseline"]), "--model-dir", str(tiny_model),
                      "--report", str(report)], capsys)  # fmt: skip
    assert code == 3
    assert "breached: data_drift distance normalized_wasserstein_distance" in out
    text = (report / "report.md").read_text()
    assert "| data_drift | distance | normalized_wasserstein_distance |" in text
    assert "![distance](distance.png)" in text
    for png in ("overview.png", "distance.png", "cost.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_target_is_what_the_endpoint_collected(
    files, tiny_model, trips, capsys, monkeypatch, tmp_path
):
    import numpy as np
    from taxi_fare.collect import ParquetCollector

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))  # only this test's requests are collected

    table = trips(3_000, 33)
    sink = ParquetCollector(settings.collected_dir("dev"), tuple(table.features.columns),
                            "online", flush_seconds=3600)  # fmt: skip
    block = table.features.to_numpy()
    for start in range(0, len(block), 100):  # requests of 100 rows
        part = block[start : start + 100]
        sink(part, list(np.full(len(part), 12.5)))
    sink.close()
    code, out = _run(["monitor", "--baseline", str(files["baseline"]), "--model-dir",
                      str(tiny_model), "--json"], capsys)  # fmt: skip
    doc = json.loads(out)
    # The collected predictions (a constant 12.5) are judged, not re-computed ones.
    flagged = {(s["signal"], s["feature"]) for s in doc["signals"] if s["breached"]}
    assert code == 3 and flagged == {("prediction_drift", "cost"), ("prediction_drift_psi", "cost")}


def test_unknown_environment_is_one_line(capsys):
    code, _ = _run(["monitor", "--env", "qa"], capsys)
    assert code == 1
    assert _run.err.strip().splitlines() == [  # type: ignore[attr-defined]
        "error: unknown environment 'qa': expected one of dev, stage, prod"
    ]
