"""Package step: the AutoML best model behind the derived-feature stage, as one MLflow model.

The AutoML node (FLAML locally) trains on featurize.py's derived features; clients send
the 20 trip features. This step puts ``DerivedFeatures`` in front of the best model and
saves the two as one MLflow sklearn model with the 20-column signature, the shape of
train2.py's model, which evaluate, register and the endpoints use.

It loads the best model, so it runs where the model's runtime is: on Azure the AutoML
environment (``taxi-fare-automl-env``), locally the project's venv. The packaged model
keeps the best model's own ``requirements.txt``: it needs exactly that runtime too.

    python package.py --best_model out/best --sample_data out/train --model_output out/model
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from taxi_fare.steps import run_step

log = logging.getLogger("package")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--best_model", type=Path, required=True, help="AutoML best_model")
    parser.add_argument(
        "--sample_data", type=Path, required=True, help="prep's train split (20 features + cost)"
    )
    parser.add_argument("--model_output", type=Path, required=True)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    import mlflow.sklearn
    from mlflow.models import Model
    from taxi_fare.automl import model_input_columns, package
    from taxi_fare.models import (
        MODEL_REQUIREMENTS,
        ModelError,
        check_output_folder,
        load_model,
        save_model,
    )
    from taxi_fare.schema import FEATURES
    from taxi_fare.split import read_split

    check_output_folder(args.model_output)
    columns = model_input_columns(args.best_model)
    try:
        best = mlflow.sklearn.load_model(str(args.best_model))
    except Exception as exc:  # an ImportError of the AutoML runtime, a broken pickle, ...
        raise ModelError(
            f"{args.best_model}: cannot load best_model here ({exc!r}); run this step in an "
            "environment with the packages of the model's requirements.txt"
        ) from exc
    sample = read_split(args.sample_data)
    pipeline = package(best, columns, sample)
    own = Model.load(str(args.best_model / "MLmodel")).metadata or {}
    metadata = {
        "trainer": "automl",
        "estimator": str(own.get("estimator") or type(best).__name__),
        "packaged_from": "automl best_model",
        # Azure AutoML records the curated image it trained in (MLmodel metadata).
        **{k: str(v) for k, v in own.items() if k.startswith("azureml.")},
    }
    requirements = args.best_model / "requirements.txt"
    save_model(
        pipeline,
        args.model_output,
        sample,
        metadata,
        requirements=requirements if requirements.is_file() else MODEL_REQUIREMENTS,
    )
    # The packaged model must load and answer here, in its own runtime, before anyone
    # evaluates or serves it.
    example = sample.loc[:, list(FEATURES)].head(5)
    predicted = load_model(args.model_output).predict(example)
    if len(predicted) != len(example):
        raise ModelError(f"{args.model_output}: the packaged model answered {len(predicted)} rows")
    log.info(
        "packaged %s behind the derived-feature stage (%d columns from 20) into %s",
        metadata["estimator"],
        len(columns),
        args.model_output,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
