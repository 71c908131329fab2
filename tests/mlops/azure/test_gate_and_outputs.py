"""Gate decision variables (fail closed) and downloading step outputs into a flat layout."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from taxi_fare.gate import Decision, GatePolicy, decide
from taxi_fare.step_files import StepFileError, read_decision, read_model_info

from mlops.azure.gate import consistent, decision_variables, model_info_variables, output_lines
from mlops.azure.outputs import download_outputs
from mlops.azure.vso import set_variable
from mlops.cli import main
from mlops.errors import MlopsError

METRICS = {
    "root_mean_squared_error": 3.1,
    "mean_absolute_error": 2.0,
    "r2_score": 0.9,
    "mean_absolute_percentage_error": 0.1,
}


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _decision(promote: bool, reason: str, champion_version: int | None = None) -> dict[str, Any]:
    """decision.json as evaluate writes it, with the verdict and reason given."""
    made = decide(METRICS, None, GatePolicy(), champion_version)
    return {**made.to_dict(), "promote": promote, "reason": reason}


def _info(registered: bool, version: int | None) -> dict[str, Any]:
    return {"registered": registered, "name": "taxi-fare", "version": version, "run_id": "r",
            "reason": "gate"}  # fmt: skip


def test_decision_becomes_output_variables(tmp_path: Path) -> None:
    decision = _write(tmp_path / "decision.json", _decision(True, "rmse 3.1 < 3.4; ok", 2))
    info = _write(tmp_path / "model_info.json", _info(True, 3))
    variables = decision_variables(read_decision(decision))
    variables.update(model_info_variables(read_model_info(info)))
    assert output_lines(variables) == [
        "##vso[task.setvariable variable=promote;isOutput=true]true",
        "##vso[task.setvariable variable=reason;isOutput=true]rmse 3.1 < 3.4%3B ok",
        "##vso[task.setvariable variable=champion_version;isOutput=true]2",
        "##vso[task.setvariable variable=registered;isOutput=true]true",
        "##vso[task.setvariable variable=model_version;isOutput=true]3",
    ]


def test_vso_escaping_keeps_a_value_from_breaking_the_command() -> None:
    assert set_variable("x", "a]b\n%c") == "##vso[task.setvariable variable=x]a%5Db%0A%AZP25c"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"promote": "false"}, "key 'promote' must be true or false, got 'false'"),
        ({"reason": " "}, "key 'reason' must be a non-empty string"),
        ({"champion_version": "2"}, "'champion_version'"),
    ],
)
def test_bad_decision_files_fail_closed(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path / "decision.json", {**_decision(True, "x"), **change})
    with pytest.raises(StepFileError, match=message.replace("(", r"\(")) as info:
        read_decision(path)
    assert str(info.value).startswith(f"{path}: ")


def test_missing_or_unreadable_decision_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StepFileError, match="decision file not found"):
        read_decision(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StepFileError, match="not readable JSON"):
        read_decision(tmp_path / "broken.json")
    with pytest.raises(StepFileError, match="must hold a JSON object, got list"):
        read_decision(_write(tmp_path / "list.json", [1, 2]))


def test_registration_must_follow_the_decision(tmp_path: Path) -> None:
    decision = _write(tmp_path / "d.json", _decision(False, "worse"))
    info = _write(tmp_path / "m.json", _info(True, 4))
    with pytest.raises(MlopsError, match="registered=true contradicts promote=false"):
        consistent(read_decision(decision), read_model_info(info), tmp_path / "d.json", info)
    bad = _write(tmp_path / "bad.json", _info(True, 0))
    with pytest.raises(StepFileError, match="'version' must be an integer >= 1"):
        read_model_info(bad)


def test_the_variables_come_from_a_decision_not_a_dict() -> None:
    decision = Decision(**{**_decision(False, " refused \n"), "champion_version": None})
    assert decision_variables(decision) == {
        "promote": "false",
        "reason": "refused",
        "champion_version": "",
    }


@pytest.mark.parametrize(
    ("decision", "info", "piece"),
    [
        ({"promote": "yes", "reason": "x"}, None, "promote"),
        (None, _info(True, None), "'version' must be a positive integer when registered"),
        ("promote-false", _info(True, 2), "registered=true contradicts promote=false"),
    ],
)
def test_gate_decision_cli_prints_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], decision: Any, info: Any, piece: str
) -> None:
    if decision is None:
        decision = _decision(True, "better")
    elif decision == "promote-false":
        decision = _decision(False, "worse")
    args = ["azure", "gate-decision", "--file", str(_write(tmp_path / "decision.json", decision))]
    if info is not None:
        args += ["--model-info", str(_write(tmp_path / "model_info.json", info))]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and piece in err and len(err.splitlines()) == 1


def test_gate_decision_cli_prints_the_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    decision = _write(tmp_path / "decision.json", _decision(True, "better", 1))
    info = _write(tmp_path / "model_info.json", _info(True, 2))
    main(["azure", "gate-decision", "--file", str(decision), "--model-info", str(info)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "##vso[task.setvariable variable=promote;isOutput=true]true"
    assert lines[-1] == "##vso[task.setvariable variable=model_version;isOutput=true]2"


class FakeJobs:
    """A pipeline job with two steps; download writes named-outputs/<output>/ like the SDK."""

    def __init__(self, files: dict[tuple[str, str], dict[str, str]]) -> None:
        self.files = files
        self.downloads: list[tuple[str, str]] = []

    def list(self, parent_job_name: str) -> list[SimpleNamespace]:
        assert parent_job_name == "pipe-1"
        return [
            SimpleNamespace(name="child-eval", display_name="evaluate"),
            SimpleNamespace(name="child-reg", display_name="register"),
        ]

    def download(self, name: str, download_path: str, output_name: str) -> None:
        self.downloads.append((name, output_name))
        for rel, text in self.files.get((name, output_name), {}).items():
            target = Path(download_path) / "named-outputs" / output_name / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def _client(files: dict[tuple[str, str], dict[str, str]]) -> SimpleNamespace:
    return SimpleNamespace(jobs=FakeJobs(files))


FILES = {
    ("child-eval", "evaluation_output"): {"decision.json": "{}", "report.md": "# r"},
    ("child-reg", "model_info_output"): {"model_info.json": "{}"},
}


def test_step_outputs_land_in_one_folder_per_step(tmp_path: Path) -> None:
    client = _client(FILES)
    placed = download_outputs(
        client,
        "pipe-1",
        [],
        tmp_path / "out",
        expect=["evaluate/decision.json", "register/model_info.json"],
        step_outputs=["evaluate:evaluation_output", "register:model_info_output"],
    )
    assert sorted(placed) == ["evaluate", "register"]
    assert (tmp_path / "out" / "evaluate" / "report.md").read_text() == "# r"
    assert client.jobs.downloads == [
        ("child-eval", "evaluation_output"),
        ("child-reg", "model_info_output"),
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["evaluate", "register"]


def test_missing_expected_file_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(MlopsError, match=r"expected file evaluate/metrics\.json is missing"):
        download_outputs(
            _client(FILES),
            "pipe-1",
            [],
            tmp_path / "out",
            expect=["evaluate/metrics.json"],
            step_outputs=["evaluate:evaluation_output"],
        )
    assert list((tmp_path / "out").iterdir()) == []


def test_unknown_step_and_empty_output_are_named(tmp_path: Path) -> None:
    with pytest.raises(MlopsError, match=r"has no step 'train'; steps: \['evaluate', 'register'\]"):
        download_outputs(_client(FILES), "pipe-1", [], tmp_path, step_outputs=["train:model"])
    with pytest.raises(MlopsError, match="output 'quality' is empty or missing"):
        download_outputs(_client(FILES), "pipe-1", [], tmp_path, step_outputs=["evaluate:quality"])
    with pytest.raises(MlopsError, match="must look like STEP:OUTPUT"):
        download_outputs(_client(FILES), "pipe-1", [], tmp_path, step_outputs=["evaluate"])
    with pytest.raises(MlopsError, match="at least one"):
        download_outputs(_client(FILES), "pipe-1", [], tmp_path)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["azure", "download-outputs", "--name", "j", "--dest", "out"], "at least one --output"),
        (
            ["azure", "download-outputs", "--name", "j", "--dest", "out", "--step-output", "x"],
            "must look like STEP:OUTPUT",
        ),
        (["azure", "wait-job", "--name", "j", "--timeout-minutes", "5"], "no workspace given"),
        (["azure", "wait-job", "--name", "j", "--timeout-minutes", "0"], "must be positive"),
    ],
)
def test_cli_refuses_bad_arguments_before_touching_azure(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for var in ("AML_SUBSCRIPTION_ID", "AML_RESOURCE_GROUP", "AML_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
