"""mlops ado expand: templates, typed parameters, ${{ }} insertion and each, variable precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.ado import expressions as ex
from mlops.ado.errors import AdoError
from mlops.ado.expand import compile_pipeline, dump, variable_values
from mlops.settings import REPO_ROOT


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")


def _compile(tmp_path: Path, files: dict[str, str], params: dict[str, str] | None = None):
    _write(tmp_path, files)
    return compile_pipeline(tmp_path / "p.yml", params, root=tmp_path)


STEPS_TEMPLATE = """
parameters:
  - name: who
    type: string
  - name: times
    type: number
    default: 2
  - name: loud
    type: boolean
    default: false
  - name: colour
    type: string
    default: blue
    values: [blue, green]
steps:
  - ${{ each n in split('a,b', ',') }}:
    - bash: echo ${{ parameters.who }}-${{ n }}
  - ${{ if parameters.loud }}:
    - bash: echo LOUD
  - ${{ elseif eq(parameters.times, 3) }}:
    - bash: echo three
  - ${{ else }}:
    - bash: echo quiet
  - bash: echo ${{ parameters.colour }}
    env:
      TIMES: ${{ parameters.times }}
      LOUD: ${{ parameters.loud }}
"""


def test_step_template_inlined_with_typed_parameters_and_insertion(tmp_path: Path) -> None:
    pipeline = """
parameters:
  - name: loud
    type: boolean
    default: false
steps:
  - template: t/steps.yml
    parameters:
      who: me
      loud: ${{ parameters.loud }}
      times: 3
"""
    compiled = _compile(tmp_path, {"p.yml": pipeline, "t/steps.yml": STEPS_TEMPLATE})
    steps = compiled.doc["steps"]
    assert [s["bash"] for s in steps] == [
        "echo me-a",
        "echo me-b",
        "echo three",
        "echo blue",
    ]
    assert steps[-1]["env"] == {"TIMES": 3, "LOUD": False}
    loud = compile_pipeline(tmp_path / "p.yml", {"loud": "TRUE"}, root=tmp_path)
    assert [s["bash"] for s in loud.doc["steps"]][2] == "echo LOUD"
    # Booleans render as Azure DevOps prints them.
    assert ex.to_str(loud.doc["steps"][-1]["env"]["LOUD"]) == "True"


@pytest.mark.parametrize(
    ("passed", "message"),
    [
        (
            "      who: me\n      colour: red\n",
            "The 'colour' parameter value 'red' is not a valid value",
        ),
        (
            "      who: me\n      times: lots\n",
            "The 'times' parameter value 'lots' is not a valid Number",
        ),
        (
            "      who: me\n      loud: maybe\n",
            "The 'loud' parameter value 'maybe' is not a valid Boolean",
        ),
        ("      times: 1\n", "A value for the 'who' parameter must be provided"),
        ("      who: me\n      whom: you\n", "Unexpected parameter 'whom'"),
    ],
)
def test_bad_template_parameters_are_one_line_at_the_reference(
    tmp_path: Path, passed: str, message: str
) -> None:
    pipeline = "steps:\n  - bash: echo first\n  - template: t/steps.yml\n    parameters:\n" + passed
    with pytest.raises(AdoError) as info:
        _compile(tmp_path, {"p.yml": pipeline, "t/steps.yml": STEPS_TEMPLATE})
    assert message in str(info.value)
    assert str(info.value).startswith("p.yml:3: ")
    assert "\n" not in str(info.value)


def test_run_parameters_from_the_command_line_are_typed(tmp_path: Path) -> None:
    pipeline = """
parameters:
  - name: trainer
    type: string
    default: automl
    values: [automl, random_forest]
  - name: stacks
    type: object
    default: [a]
  - name: minutes
    type: number
    default: 5
jobs:
  - ${{ each stack in parameters.stacks }}:
    - job: plan_${{ stack }}
      timeoutInMinutes: ${{ parameters.minutes }}
      steps:
        - bash: echo ${{ parameters.trainer }}
"""
    compiled = _compile(
        tmp_path,
        {"p.yml": pipeline},
        {"trainer": "random_forest", "stacks": "[x, y]", "minutes": "7"},
    )
    jobs = compiled.doc["jobs"]
    assert [j["job"] for j in jobs] == ["plan_x", "plan_y"]
    assert jobs[0]["timeoutInMinutes"] == 7
    assert jobs[1]["steps"][0]["bash"] == "echo random_forest"
    with pytest.raises(AdoError, match=r"^p\.yml:2: The 'trainer' parameter value 'rf'"):
        compile_pipeline(tmp_path / "p.yml", {"trainer": "rf"}, root=tmp_path)
    with pytest.raises(AdoError, match="Unexpected parameter 'nope'"):
        compile_pipeline(tmp_path / "p.yml", {"nope": "1"}, root=tmp_path)


def test_variable_templates_and_precedence(tmp_path: Path) -> None:
    files = {
        "vars/common.yml": "variables:\n  colour: red\n  size: small\n",
        "p.yml": """
variables:
  - name: colour
    value: green
  - template: vars/common.yml
  - name: size
    value: large
stages:
  - stage: s
    variables:
      colour: stage-${{ variables.colour }}
    jobs:
      - job: j
        variables:
          - name: size
            value: job
        steps:
          - bash: echo ${{ variables.colour }} ${{ variables.size }}
""",
    }
    compiled = _compile(tmp_path, files)
    root = variable_values(compiled.doc["variables"])
    assert root == {"colour": "red", "size": "large"}  # the later definition wins
    stage = compiled.doc["stages"][0]
    assert variable_values(stage["variables"]) == {"colour": "stage-red"}
    step = stage["jobs"][0]["steps"][0]
    assert step["bash"] == "echo stage-red job"  # job over stage over pipeline


def test_mapping_level_if_else_and_missing_template(tmp_path: Path) -> None:
    files = {
        "p.yml": """
parameters:
  - name: apply
    type: boolean
    default: true
steps:
  - bash: echo hi
    ${{ if parameters.apply }}:
      displayName: Apply
    ${{ else }}:
      displayName: Plan
""",
    }
    compiled = _compile(tmp_path, files)
    assert compiled.doc["steps"][0]["displayName"] == "Apply"
    _write(tmp_path, {"q.yml": "steps:\n  - bash: echo\n  - template: nowhere.yml\n"})
    with pytest.raises(AdoError, match=r"^q\.yml:3: template nowhere\.yml not found$"):
        compile_pipeline(tmp_path / "q.yml", root=tmp_path)
    _write(tmp_path, {"r.yml": "steps:\n  - ${{ else }}:\n    - bash: echo\n"})
    with pytest.raises(AdoError, match=r"^r\.yml:2: else without a preceding if"):
        compile_pipeline(tmp_path / "r.yml", root=tmp_path)
    _write(tmp_path, {"s.yml": "steps:\n  - bash: echo ${{ nosuch(1) }}\n"})
    with pytest.raises(AdoError, match=r"^s\.yml:2: Unrecognized function: 'nosuch'"):
        compile_pipeline(tmp_path / "s.yml", root=tmp_path)


def test_expressions_follow_the_documented_casting() -> None:
    ctx = ex.Context({"variables": {"Flag": "True"}, "parameters": {"n": 3}})
    assert ex.evaluate_text("eq(variables['flag'], 'true')", ctx) is True  # case-insensitive
    assert ex.evaluate_text("eq(parameters.n, '3')", ctx) is True  # right cast to number
    assert ex.evaluate_text("and(ne(1, 2), not(false), or(false, 'x'))", ctx) is True
    assert ex.evaluate_text("format('{0}-{1}', 'a', parameters.n)", ctx) == "a-3"
    assert ex.evaluate_text("join(' ', split('a,b', ','))", ctx) == "a b"
    assert ex.evaluate_text("coalesce('', variables.missing, 'z')", ctx) == "z"
    assert ex.evaluate_text("in('b', 'a', 'B')", ctx) is True
    with pytest.raises(ex.ExpressionError, match="succeeded"):
        ex.evaluate_text("succeeded()", ctx)


def test_every_pipeline_of_the_repository_expands(tmp_path: Path) -> None:
    pipelines = sorted((REPO_ROOT / "mlops" / "devops-pipelines").glob("*.yml"))
    assert len(pipelines) >= 9
    for path in pipelines:
        text = dump(compile_pipeline(path, root=REPO_ROOT))
        assert "${{" not in text, path.name
        assert "template:" not in text, path.name
    training = compile_pipeline(
        REPO_ROOT / "mlops/devops-pipelines/dev-model-training.yml",
        {"trainer": "random_forest"},
        root=REPO_ROOT,
    )
    text = dump(training)
    assert "pipeline.yml" in text and "pipeline-automl.yml" not in text
    for infra in sorted((REPO_ROOT / "infrastructure" / "pipelines").glob("*.yml")):
        compiled = compile_pipeline(infra, {"userObjectId": "00000000-0000-0000-0000-000000000001"})
        assert "${{" not in dump(compiled)


def test_cli_prints_the_compiled_pipeline_or_one_error_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    _write(
        tmp_path,
        {
            "p.yml": "parameters:\n  - name: n\n    type: number\n"
            "steps:\n  - bash: echo ${{ parameters.n }}\n"
        },
    )
    ok = subprocess.run(
        [sys.executable, "-m", "mlops", "ado", "expand", "p.yml", "--param", "n=3"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ok.returncode == 0 and "bash: echo 3" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "mlops", "ado", "expand", "p.yml", "--param", "n=three"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.strip() == "p.yml:2: The 'n' parameter value 'three' is not a valid Number"
