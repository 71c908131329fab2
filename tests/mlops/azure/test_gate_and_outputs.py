"""Gate decision variables (fail closed) and downloading step outputs into a flat layout."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlops.azure.gate import consistent, decision_variables, model_info_variables, output_lines
from mlops.azure.outputs import download_outputs
from mlops.azure.vso import set_variable
from mlops.cli import main
from mlops.errors import MlopsError


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_decision_becomes_output_variables(tmp_path: Path) -> None:
    decision = _write(
        tmp_path / "decision.json",
        {"promote": True, "reason": "rmse 3.1 < 3.4; ok", "champion_version": 2},
    )
    info = _write(tmp_path / "model_info.json", {"registered": True, "version": 3})
    variables = decision_variables(decision)
    variables.update(model_info_variables(info))
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
    "content,message",
    [
        ({"promote": "false", "reason": "x"}, "key 'promote' must be true or false, got 'false'"),
        ({"promote": True, "reason": " "}, "key 'reason' must be a non-empty string"),
        ({"promote": True, "reason": "x", "champion_version": "2"}, "'champion_version'"),
        ([1, 2], "must be a JSON object, got list"),
    ],
)
def test_bad_decision_files_fail_closed(tmp_path: Path, content: object, message: str) -> None:
    path = _write(tmp_path / "decision.json", content)
    with pytest.raises(MlopsError, match=message.replace("(", r"\(")) as info:
        decision_variables(path)
    assert str(path) in str(info.value)


def test_missing_or_unreadable_decision_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MlopsError, match="decision file not found"):
        decision_variables(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(MlopsError, match="not readable JSON"):
        decision_variables(tmp_path / "broken.json")


def test_registration_must_follow_the_decision(tmp_path: Path) -> None:
    decision = _write(tmp_path / "d.json", {"promote": False, "reason": "worse"})
    info = _write(tmp_path / "m.json", {"registered": True, "version": 4})
    with pytest.raises(MlopsError, match="registered=true contradicts promote=false"):
        consistent(
            decision_variables(decision), model_info_variables(info), tmp_path / "d.json", info
        )
    bad = _write(tmp_path / "bad.json", {"registered": True, "version": 0})
    with pytest.raises(MlopsError, match="positive integer when registered"):
        model_info_variables(bad)


def test_gate_decision_cli_prints_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "decision.json", {"promote": "yes", "reason": "x"})
    with pytest.raises(SystemExit) as exit_info:
        main(["azure", "gate-decision", "--file", str(path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "promote" in err and len(err.splitlines()) == 1


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
    with pytest.raises(MlopsError, match="expected file evaluate/metrics.json is missing"):
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
