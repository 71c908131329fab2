"""Loading a pipeline YAML: components, bindings, dependency order, and every refusal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlops.amlspec.expressions import Expr, ExpressionError, find, parse
from mlops.errors import MlopsError
from mlops.local.component import load_component, render_command
from mlops.local.pipeline import load_pipeline, resolve_step_inputs
from mlops.local.runner import pipeline_values, plan_data, stage_data


def _variant(toy: Path, tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the toy pipeline with one text replaced, next to the toy components."""
    text = (toy / "pipeline.yml").read_text()
    assert old in text, old
    path = toy / f"variant-{tmp_path.name}.yml"
    path.write_text(text.replace(old, new))
    return path


def test_jobs_run_in_dependency_order(toy: Path) -> None:
    pipeline = load_pipeline(toy / "pipeline.yml")
    assert [s.name for s in pipeline.steps] == ["make", "total"]
    assert pipeline.step("total").dependencies() == ["make"]
    assert pipeline.experiment_name == "toy"


def test_azureml_data_input_resolves_to_the_local_data_asset(toy: Path) -> None:
    pipeline = load_pipeline(toy / "pipeline.yml")
    assert pipeline.inputs["raw_data"].value == toy / "raw"


def test_step_inputs_resolve_from_parent_and_job_outputs(toy: Path, tmp_path: Path) -> None:
    pipeline = load_pipeline(toy / "pipeline.yml")
    values = pipeline_values(pipeline, {"scale": 3})
    produced = {("make", "numbers"): tmp_path}
    resolved = resolve_step_inputs(pipeline.step("total"), values, produced)
    assert resolved == {"numbers": tmp_path, "scale": 3.0, "note": "made 4 numbers"}


def test_binding_expressions_parse() -> None:
    assert parse("parent.inputs.seed") == Expr("parent", "seed", section="inputs")
    assert parse("parent.jobs.prep.outputs.train_data") == Expr(
        "job", "train_data", section="outputs", job="prep"
    )
    text = "a ${{parent.inputs.x}} b ${{ parent.jobs.j.outputs.o }}"
    assert list(find(text)) == [
        Expr("parent", "x", section="inputs"),
        Expr("job", "o", section="outputs", job="j"),
    ]
    with pytest.raises(ExpressionError, match=r"'\$\{\{parent.foo\}\}' is not an Azure ML"):
        parse("parent.foo")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "${{parent.jobs.make.outputs.numbers}}",
            "${{parent.jobs.maker.outputs.numbers}}",
            r"jobs.total.inputs.numbers: \$\{\{parent.jobs.maker.outputs.numbers\}\}: there is no "
            r"job 'maker' \(jobs: make, total\)",
        ),
        (
            "${{parent.jobs.make.outputs.numbers}}",
            "${{parent.jobs.make.outputs.nums}}",
            r"job 'make' has no output 'nums' \(make.yml has: numbers\)",
        ),
        (
            "scale: ${{parent.inputs.scale}}",
            "scale: ${{parent.inputs.scal}}",
            r"the pipeline declares no input 'scal' \(has: n, raw_data, scale\)",
        ),
        (
            "scale: ${{parent.inputs.scale}}",
            "scael: ${{parent.inputs.scale}}",
            "jobs.total.inputs.scael: total.yml declares no input 'scael'",
        ),
        ("scale: ${{parent.inputs.scale}}", "scale: 11", r"jobs.total.inputs.scale: 11.0 is above"),
        ("./components/make.yml", "./components/nope.yml", r"component: './components/nope.yml'"),
        ("./components/make.yml", "azureml:toy_mak:1", "component 'toy_mak' is not defined"),
        ("type: command\n    component: ./components/make.yml", "type: parallel", "'parallel'"),
    ],
    ids=[
        "unknown-job",
        "unknown-output",
        "unknown-parent-input",
        "unknown-component-input",
        "literal-out-of-bounds",
        "missing-component",
        "remote-component",
        "unsupported-job-type",
    ],
)
def test_bad_pipelines_are_refused_before_running(
    toy: Path, tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(MlopsError, match=message):
        load_pipeline(_variant(toy, tmp_path, old, new))


def test_a_dependency_cycle_is_refused(toy: Path, tmp_path: Path) -> None:
    path = _variant(
        toy,
        tmp_path,
        "n: ${{parent.inputs.n}}",
        "n: ${{parent.inputs.n}}\n      raw: ${{parent.jobs.total.outputs.result}}",
    )
    # "raw" twice in a mapping: YAML keeps the last, so make now reads total's output.
    with pytest.raises(MlopsError, match="jobs form a dependency cycle: total -> make -> total"):
        load_pipeline(path)


def test_not_a_pipeline_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("type: command\ncommand: echo\n")
    with pytest.raises(MlopsError, match=r"p.yml:1: not a pipeline job"):
        load_pipeline(path)
    with pytest.raises(MlopsError, match="pipeline file not found"):
        load_pipeline(tmp_path / "missing.yml")


def test_unknown_override_is_refused(toy: Path) -> None:
    pipeline = load_pipeline(toy / "pipeline.yml")
    with pytest.raises(MlopsError, match=r"has no input 'seed' \(inputs: n, raw_data, scale\)"):
        pipeline_values(pipeline, {"seed": 1})


def test_command_rendering(toy: Path, tmp_path: Path) -> None:
    component = load_component(toy / "components" / "total.yml")
    out = tmp_path / "with space"
    without = render_command(
        component, {"numbers": "/n", "scale": 2.0, "note": None}, {"result": out}
    )
    assert without == [
        sys.executable,
        "total.py",
        "--numbers",
        "/n",
        "--scale",
        "2.0",
        "--out",
        str(out),
    ]
    note = render_command(
        component, {"numbers": "/n", "scale": 2.0, "note": "hi there"}, {"result": out}
    )
    assert note[-2:] == ["--note", "hi there"]


def test_component_refusals(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    bad = tmp_path / "c.yml"
    bad.write_text("type: command\ncode: src\ncommand: python x.py\ninputs:\n  a: {type: strng}\n")
    with pytest.raises(MlopsError, match=r"inputs.a: unsupported type 'strng'"):
        load_component(bad)
    bad.write_text("type: command\ncode: nowhere\ncommand: python x.py\n")
    with pytest.raises(MlopsError, match="code: 'nowhere' does not exist"):
        load_component(bad)
    bad.write_text("type: command\ncode: src\ncommand: python x.py ${{inputs.b}}\n")
    with pytest.raises(MlopsError, match=r"c.yml:3: command uses \$\{\{inputs.b\}\} but inputs:"):
        load_component(bad)


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ("n", 0, "0 is below the minimum 1"),
        ("n", 2.5, "2.5 is not a valid integer"),
        ("n", True, "True is not a valid integer"),
        ("n", "four", "'four' is not a valid integer"),
    ],
)
def test_input_coercion_refusals(toy: Path, spec: str, value: object, message: str) -> None:
    component = load_component(toy / "components" / "make.yml")
    with pytest.raises(MlopsError, match=f"where: {message}"):
        component.inputs[spec].coerce(value, "where")


def test_input_coercion_converts() -> None:
    from mlops.local.component import InputSpec

    assert InputSpec("x", "integer").coerce("7", "w") == 7
    assert InputSpec("x", "number").coerce(2, "w") == 2.0
    assert InputSpec("x", "boolean").coerce("False", "w") is False
    with pytest.raises(MlopsError, match="'c' is not one of a, b"):
        InputSpec("x", "string", enum=("a", "b")).coerce("c", "w")


def test_automl_node_maps_onto_the_stand_in(toy: Path, tmp_path: Path) -> None:
    path = toy / f"automl-{tmp_path.name}.yml"
    path.write_text(
        (toy / "pipeline.yml").read_text()
        + """  train:
    type: automl
    task: regression
    training_data: ${{parent.jobs.make.outputs.numbers}}
    target_column_name: y
    primary_metric: R2Score
    limits: {timeout_minutes: 2, max_trials: 3}
"""
    )
    pipeline = load_pipeline(path, time_budget=5)
    step = pipeline.step("train")
    assert step.automl and step.component.name == "toy_automl_stand_in"
    assert step.output_name("best_model") == "model_output"
    values = pipeline_values(pipeline, {})
    resolved = resolve_step_inputs(step, values, {("make", "numbers"): tmp_path})
    assert resolved["primary_metric"] == "r2_score"
    assert resolved["time_budget_seconds"] == 5
    assert resolved["max_trials"] == 3

    wrong_target = path.read_text().replace("target_column_name: y", "target_column_name: z")
    path.write_text(wrong_target)
    with pytest.raises(MlopsError, match="job 'train' input 'target_column_name': 'z' is not one"):
        load_pipeline(path)


# --data: files and folders become one folder the first step reads.


def test_one_folder_is_used_as_it_is(toy: Path) -> None:
    assert stage_data(plan_data([toy / "raw"]), Path("/unused")) == toy / "raw"


def test_files_and_folders_merge_into_one_tree(toy: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("c\n")
    staged = stage_data(plan_data([toy / "raw", extra]), tmp_path / "staged")
    files = sorted(str(p.relative_to(staged)) for p in staged.rglob("*.txt"))
    assert files == ["a.txt", "extra.txt", "nested/b.txt"]
    assert (staged / "nested").is_dir() and not (staged / "nested").is_symlink()
    assert (staged / "nested" / "b.txt").read_text() == "b\n"


def test_data_refusals(toy: Path, tmp_path: Path) -> None:
    with pytest.raises(MlopsError, match=r"--data: .*missing.csv does not exist"):
        plan_data([tmp_path / "missing.csv"])
    clash = tmp_path / "a.txt"
    clash.write_text("other\n")
    with pytest.raises(MlopsError, match=r"would both be a.txt"):
        plan_data([toy / "raw", clash])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MlopsError, match="--data: no files in"):
        plan_data([empty])


def test_automl_settings_bound_to_pipeline_inputs_follow_overrides(
    toy: Path, tmp_path: Path
) -> None:
    path = toy / f"automl-bound-{tmp_path.name}.yml"
    text = (
        (toy / "pipeline.yml").read_text().replace("  scale: 2.5\n", "  scale: 2.5\n  trials: 3\n")
    )
    path.write_text(
        text
        + """  train:
    type: automl
    task: regression
    training_data: ${{parent.jobs.make.outputs.numbers}}
    limits:
      timeout_minutes: 1
      max_trials: ${{parent.inputs.trials}}
"""
    )
    assert load_pipeline(path).step("train").bindings["max_trials"] == 3
    assert load_pipeline(path, overrides={"trials": 9}).step("train").bindings["max_trials"] == 9
    with pytest.raises(MlopsError, match="max_trials': 0 is below the minimum 1"):
        load_pipeline(path, overrides={"trials": 0})
    with pytest.raises(MlopsError, match=r"has no input 'trails' \(inputs: n, raw_data, scale"):
        load_pipeline(path, overrides={"trails": 9})
