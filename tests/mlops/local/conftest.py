"""A toy pipeline (not taxi-specific) that the runner tests execute: tiny scripts, no MLflow
import in the steps, so a whole run costs a few subprocess starts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

SCRIPTS = {
    # make.py: writes the numbers 1..n and records the MLflow variables it was given.
    "make.py": """
        import argparse, json, os, pathlib
        p = argparse.ArgumentParser()
        p.add_argument("--n", type=int, required=True)
        p.add_argument("--raw", required=True)
        p.add_argument("--out", required=True)
        a = p.parse_args()
        out = pathlib.Path(a.out)
        files = sorted(str(f.relative_to(a.raw)) for f in pathlib.Path(a.raw).rglob("*.txt"))
        (out / "numbers.json").write_text(json.dumps(list(range(1, a.n + 1))))
        env = {k: os.environ.get(k) for k in ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "TOY")}
        (out / "seen.json").write_text(json.dumps({"files": files, "env": env}))
        print("made", a.n, "numbers")
    """,
    # total.py: sums the numbers and scales them; --note is optional in the component.
    "total.py": """
        import argparse, json, pathlib
        p = argparse.ArgumentParser()
        p.add_argument("--numbers", required=True)
        p.add_argument("--scale", type=float, required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--note")
        a = p.parse_args()
        numbers = json.loads((pathlib.Path(a.numbers) / "numbers.json").read_text())
        result = {"total": sum(numbers) * a.scale, "note": a.note}
        (pathlib.Path(a.out) / "total.json").write_text(json.dumps(result))
    """,
    # fail.py: a step that fails the way step scripts do: one "error:" line, exit 1.
    "fail.py": """
        import sys
        print("working on it")
        print("error: numbers.json: column 'n' has value -1", file=sys.stderr)
        sys.exit(1)
    """,
    # automl.py: the AutoML stand-in; writes the flags it received.
    "automl.py": """
        import argparse, json, pathlib
        p = argparse.ArgumentParser()
        p.add_argument("--train_data", required=True)
        p.add_argument("--model_output", required=True)
        p.add_argument("--primary_metric", required=True)
        p.add_argument("--time_budget_seconds", type=int, required=True)
        p.add_argument("--max_trials", type=int)
        a = p.parse_args()
        (pathlib.Path(a.model_output) / "flags.json").write_text(json.dumps(vars(a)))
    """,
}

COMPONENTS = {
    "make.yml": """
        type: command
        name: toy_make
        inputs:
          raw: {type: uri_folder}
          n: {type: integer, default: 4, min: 1, max: 100}
        outputs:
          numbers: {type: uri_folder}
        code: ../src
        command: >-
          python make.py --n ${{inputs.n}} --raw ${{inputs.raw}} --out ${{outputs.numbers}}
    """,
    "total.yml": """
        type: command
        name: toy_total
        inputs:
          numbers: {type: uri_folder}
          scale: {type: number, default: 1.0, min: 0.0, max: 10.0}
          note: {type: string, optional: true}
        outputs:
          result: {type: uri_folder}
        code: ../src
        command: >-
          python total.py --numbers ${{inputs.numbers}} --scale ${{inputs.scale}}
          --out ${{outputs.result}} $[[--note ${{inputs.note}}]]
    """,
    "fail.yml": """
        type: command
        name: toy_fail
        inputs:
          numbers: {type: uri_folder}
        outputs:
          nothing: {type: uri_folder}
        code: ../src
        command: python fail.py --in ${{inputs.numbers}} --out ${{outputs.nothing}}
    """,
    "train.yml": """
        type: command
        name: toy_automl_stand_in
        inputs:
          train_data: {type: uri_folder}
          target_column_name: {type: string, default: y, enum: [y]}
          primary_metric:
            type: string
            default: r2_score
            enum: [r2_score, normalized_root_mean_squared_error]
          time_budget_seconds: {type: integer, default: 60, min: 1, max: 3600}
          max_trials: {type: integer, optional: true, min: 1, max: 1000}
          allowed_algorithms: {type: string, default: LightGBM}
          enable_vote_ensemble: {type: boolean, default: true}
        outputs:
          model_output: {type: mlflow_model}
        code: ../src
        command: >-
          python automl.py --train_data ${{inputs.train_data}}
          --model_output ${{outputs.model_output}}
          --primary_metric ${{inputs.primary_metric}}
          --time_budget_seconds ${{inputs.time_budget_seconds}}
          $[[--max_trials ${{inputs.max_trials}}]]
    """,
}

# Jobs are written out of dependency order on purpose: the loader must sort them.
PIPELINE = """
    type: pipeline
    experiment_name: toy
    settings:
      default_compute: azureml:cpu-cluster
    inputs:
      raw_data: {type: uri_folder, path: azureml:toy-raw@latest}
      n: 4
      scale: 2.5
    jobs:
      total:
        type: command
        component: ./components/total.yml
        inputs:
          numbers: ${{parent.jobs.make.outputs.numbers}}
          scale: ${{parent.inputs.scale}}
          note: made ${{parent.inputs.n}} numbers
      make:
        type: command
        component: ./components/make.yml
        inputs:
          raw: ${{parent.inputs.raw_data}}
          n: ${{parent.inputs.n}}
        environment_variables:
          TOY: "yes"
"""

DATA_ASSET = """
    type: uri_folder
    name: toy-raw
    path: ./raw
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def write_toy_tree(root: Path) -> Path:
    """Scripts, components, a data asset and ``pipeline.yml`` under ``root``; returns root."""
    for name, text in SCRIPTS.items():
        _write(root / "src" / name, text)
    for name, text in COMPONENTS.items():
        _write(root / "components" / name, text)
    _write(root / "pipeline.yml", PIPELINE)
    _write(root / "data.yml", DATA_ASSET)
    _write(root / "raw" / "a.txt", "a\n")
    _write(root / "raw" / "nested" / "b.txt", "b\n")
    return root


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh toy tree per test module."""
    return write_toy_tree(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory):
    """An ``MLOPS_HOME`` of this module's own, so MLflow stores are not shared across files."""
    home = tmp_path_factory.mktemp("mlops-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_HOME", str(home))
        yield home
