"""Register step: register the challenger only when the gate's decision says promote.

    python register.py --model_input out/model --evaluation_output out/eval \
        --model_info_output out/model_info --quality_report out/quality

Writes ``model_info.json``. Re-running it for the same model returns the version
registered the first time instead of adding another. A missing or unreadable
``decision.json`` is an error: nothing is registered and nothing is written.

Registration is a compare-and-set: the champion is read again, under an exclusive lock
on a local sqlite store, and the model is registered only if it is still the version
the gate judged against; otherwise nothing is registered and the step fails naming
both versions (a second training that finished later cannot overwrite a better
champion). On Azure ML the same re-read runs against the workspace registry with
``search_model_versions`` (supported there, as tags are; aliases and stages are not:
https://learn.microsoft.com/azure/machine-learning/how-to-manage-models-mlflow), and
the training pipeline's exclusive lock on the dev environment keeps two registrations
from interleaving.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from taxi_fare.errors import TaxiFareError
from taxi_fare.gate import Decision
from taxi_fare.metrics import METRIC_NAMES
from taxi_fare.registry import MODEL_UUID_TAG, champion, find_by_tag, model_uuid, register
from taxi_fare.split import SplitError, SplitSpec
from taxi_fare.step_files import (
    DECISION_FILE,
    ModelInfo,
    read_decision,
    read_quality,
    write_model_info,
)
from taxi_fare.steps import mlflow_run, run_step
from taxi_fare.store import store_lock

log = logging.getLogger("register")

UNKNOWN = "unknown"
#: Tag on each registered version: the champion version the gate judged it against.
JUDGED_AGAINST_TAG = "gate_champion_version"


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
    """prep's fingerprint of the data (``quality.json``), or ``unknown`` without a folder."""
    return UNKNOWN if folder is None else read_quality(folder).data_fingerprint


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


def split_tags(decision: Decision, where: Path) -> dict[str, str]:
    """The challenger's split as tags, so a later gate can tell which rows it trained on."""
    raw = decision.split
    try:
        if not isinstance(raw, dict):
            raise SplitError(f"key 'split' is {raw!r}")
        spec = SplitSpec(int(raw["seed"]), float(raw["test_size"]), str(raw["method"]))
    except (SplitError, KeyError, TypeError, ValueError) as exc:
        raise RegisterError(
            f"{where}: records no usable challenger split ({exc}); re-run evaluate.py"
        ) from None
    return spec.tags()


def check_champion_unchanged(client: Any, name: str, judged_against: int | None) -> None:
    """The compare of compare-and-set: refuse when the champion moved since the gate ran."""
    current = champion(client, name)
    now = None if current is None else current.version
    if now != judged_against:
        judged = "no champion" if judged_against is None else f"version {judged_against}"
        raise RegisterError(
            f"the champion of {name} changed since the gate ran: it judged against {judged}, "
            f"but version {now} is the champion now (another training registered it); "
            "nothing registered: re-run training to be judged against the new champion"
        )


def run(args: argparse.Namespace) -> int:
    # Everything is checked before the registry is touched or a file is written.
    decision = read_decision(args.evaluation_output)
    uuid = model_uuid(args.model_input)
    decision_file = args.evaluation_output / DECISION_FILE
    decided_for = decision.challenger_model_uuid
    if decided_for is not None and decided_for != uuid:
        raise RegisterError(
            f"{decision_file}: decided for model {decided_for}, "
            f"but {args.model_input} holds model {uuid}"
        )
    fingerprint = data_fingerprint(args.quality_report)
    lineage_split = split_tags(decision, decision_file) if decision.promote else {}

    import mlflow
    from mlflow import MlflowClient

    with mlflow_run("register") as run_:
        run_id = run_.info.run_id
        info = ModelInfo(False, args.model_name, None, run_id, decision.reason)
        if not decision.promote:
            log.info("not registering: %s", decision.reason)
            mlflow.set_tag("registered", "false")
            write_model_info(info, args.model_info_output)
            return 0
        client = MlflowClient()
        existing = find_by_tag(client, args.model_name, MODEL_UUID_TAG, uuid)
        if existing is not None:
            log.info(
                "model %s is already version %d of %s", uuid, existing.version, args.model_name
            )
            info = replace(
                info,
                registered=True,
                version=existing.version,
                run_id=existing.run_id,
                reason=f"already registered as version {existing.version} "
                f"(same model {uuid}); no new version",
            )
            write_model_info(info, args.model_info_output)
            return 0
        run_tags = client.get_run(run_id).data.tags
        judged_against = decision.champion_version
        tags = {
            "git_commit": git_commit(run_tags),
            "data_fingerprint": fingerprint,
            "pipeline_run_id": run_tags.get("mlflow.parentRunId", run_id),
            "trainer": args.trainer,
            MODEL_UUID_TAG: uuid,
            JUDGED_AGAINST_TAG: "none" if judged_against is None else str(judged_against),
            **lineage_split,
            **{name: repr(float(decision.challenger[name])) for name in METRIC_NAMES},
        }
        with store_lock(mlflow.get_tracking_uri(), "register"):
            check_champion_unchanged(client, args.model_name, judged_against)
            mlflow.log_artifacts(str(args.model_input), artifact_path="model")
            version = register(f"runs:/{run_id}/model", args.model_name, tags)
        mlflow.set_tags({"registered": "true", "registered_version": str(version.version)})
    log.info("registered %s version %d (%s)", args.model_name, version.version, decision.reason)
    info = replace(info, registered=True, version=version.version)
    write_model_info(info, args.model_info_output)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
