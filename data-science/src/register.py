"""Register step: register the challenger only when the gate's decision says promote.

    python register.py --model_input out/model --evaluation_output out/eval \
        --model_info_output out/model_info --quality_report out/quality

Writes ``model_info.json``. Re-running it for the same model returns the version
registered the first time instead of adding another. A missing or unreadable
``decision.json`` is an error: nothing is registered and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from taxi_fare.errors import TaxiFareError
from taxi_fare.gate import read_decision
from taxi_fare.metrics import METRIC_NAMES
from taxi_fare.registry import MODEL_UUID_TAG, find_by_tag, model_uuid, register
from taxi_fare.steps import mlflow_run, run_step

log = logging.getLogger("register")

MODEL_INFO_FILE = "model_info.json"
UNKNOWN = "unknown"


class RegisterError(TaxiFareError):
    """The inputs of the register step do not fit together."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_input", type=Path, required=True)
    parser.add_argument("--evaluation_output", type=Path, required=True)
    parser.add_argument("--model_info_output", type=Path, required=True)
    parser.add_argument("--model_name", default="taxi-fare")
    parser.add_argument("--trainer", choices=("rf", "automl"), default="rf")
    parser.add_argument(
        "--quality_report",
        type=Path,
        default=None,
        help="prep's quality_report folder: its data_fingerprint becomes a tag",
    )
    return parser.parse_args(argv)


def data_fingerprint(folder: Path | None) -> str:
    if folder is None:
        return UNKNOWN
    path = folder / "quality.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["data_fingerprint"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RegisterError(f"{path}: cannot read data_fingerprint ({exc!r})") from None
    if not isinstance(value, str) or not value:
        raise RegisterError(f"{path}: data_fingerprint is {value!r}, not a fingerprint")
    return value


def git_commit(run_tags: dict[str, str]) -> str:
    """The source commit: CI variables, then MLflow's source tag, then git itself."""
    for variable in ("GIT_COMMIT", "BUILD_SOURCEVERSION"):
        if os.environ.get(variable):
            return os.environ[variable]
    if run_tags.get("mlflow.source.git.commit"):
        return run_tags["mlflow.source.git.commit"]
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout.strip() or UNKNOWN
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN


def write_info(folder: Path, info: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")


def run(args: argparse.Namespace) -> int:
    # Everything is checked before the registry is touched or a file is written.
    decision = read_decision(args.evaluation_output)
    uuid = model_uuid(args.model_input)
    decided_for = decision.get("challenger_model_uuid")
    if decided_for is not None and decided_for != uuid:
        raise RegisterError(
            f"{args.evaluation_output / 'decision.json'}: decided for model {decided_for}, "
            f"but {args.model_input} holds model {uuid}"
        )
    fingerprint = data_fingerprint(args.quality_report)
    info: dict[str, Any] = {
        "registered": False,
        "name": args.model_name,
        "version": None,
        "run_id": None,
        "reason": decision["reason"],
    }

    import mlflow
    from mlflow import MlflowClient

    with mlflow_run("register") as run_:
        run_id = run_.info.run_id
        info["run_id"] = run_id
        if not decision["promote"]:
            log.info("not registering: %s", decision["reason"])
            mlflow.set_tag("registered", "false")
            write_info(args.model_info_output, info)
            return 0
        client = MlflowClient()
        existing = find_by_tag(client, args.model_name, MODEL_UUID_TAG, uuid)
        if existing is not None:
            log.info(
                "model %s is already version %d of %s", uuid, existing.version, args.model_name
            )
            info.update(
                registered=True,
                version=existing.version,
                run_id=existing.run_id,
                reason=f"already registered as version {existing.version} "
                f"(same model {uuid}); no new version",
            )
            write_info(args.model_info_output, info)
            return 0
        run_tags = client.get_run(run_id).data.tags
        tags = {
            "git_commit": git_commit(run_tags),
            "data_fingerprint": fingerprint,
            "pipeline_run_id": run_tags.get("mlflow.parentRunId", run_id),
            "trainer": args.trainer,
            MODEL_UUID_TAG: uuid,
            **{name: repr(float(decision["challenger"][name])) for name in METRIC_NAMES},
        }
        mlflow.log_artifacts(str(args.model_input), artifact_path="model")
        version = register(f"runs:/{run_id}/model", args.model_name, tags)
        mlflow.set_tags({"registered": "true", "registered_version": str(version.version)})
    log.info("registered %s version %d (%s)", args.model_name, version.version, decision["reason"])
    info.update(registered=True, version=version.version)
    write_info(args.model_info_output, info)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
