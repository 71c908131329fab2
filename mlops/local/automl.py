"""Map an Azure ML AutoML regression node onto the local FLAML stand-in component.

Azure runs ``type: automl`` nodes itself; the local twin runs a command component in their
place (``components/train.yml`` next to the pipeline, which calls ``train.py``/FLAML). This
module is the one place that translates the node's settings into that component's inputs.
Every setting is either mapped, explicitly ignored because it only concerns Azure compute,
or rejected: nothing is dropped silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops.errors import MlopsError

log = logging.getLogger(__name__)

# Settings that only steer Azure compute or bookkeeping; they do not change the model.
IGNORED = frozenset(
    {
        "compute",
        "resources",
        "queue_settings",
        "name",
        "display_name",
        "description",
        "tags",
        "experiment_name",
        "log_verbosity",
        "limits.max_concurrent_trials",
        "limits.max_nodes",
        "limits.max_cores_per_trial",
        "training.enable_model_explainability",
    }
)
# The local trainer has no stacking, so this may only be set to false.
MUST_BE_FALSE = frozenset({"training.enable_stack_ensemble"})
_VOTE = "training.enable_vote_ensemble"
_BEST_MODEL = "best_model"


@dataclass(frozen=True)
class AutoMLStandIn:
    """Inputs for the stand-in component and the node-output -> component-output names."""

    inputs: dict[str, Any]
    outputs: dict[str, str]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _algorithm(name: str, where: str) -> str:
    # The algorithm table lives once, beside the trainer that runs it (taxi_fare.automl);
    # imported here, not at the top, so `mlops` commands without an AutoML node stay light.
    from taxi_fare.automl import azure_algorithm
    from taxi_fare.models import ModelError

    try:
        return azure_algorithm(name)
    except ModelError as exc:
        raise MlopsError(f"{where}: {exc}") from None


def _flag(value: Any, key: str, where: str) -> bool:
    if value in (True, "true", "True"):
        return True
    if value in (False, "false", "False"):
        return False
    raise MlopsError(f"{where}: AutoML setting '{key}: {value}' is not true or false")


def _flatten(node: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("limits", "training", "featurization") and isinstance(value, Mapping):
            flat.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            flat[key] = value
    return flat


def map_automl_node(
    node: Mapping[str, Any], where: str, time_budget_seconds: int | None = None
) -> AutoMLStandIn:
    """Translate an AutoML regression node's settings into stand-in component inputs.

    ==========================================  =========================================
    AutoML node setting                         stand-in input
    ==========================================  =========================================
    training_data                               train_data
    target_column_name                          target_column_name
    primary_metric                              primary_metric (snake case)
    limits.timeout_minutes                      time_budget_seconds (x 60)
    limits.max_trials                           max_trials
    training.allowed_training_algorithms        allowed_algorithms (comma-separated)
    training.enable_vote_ensemble               enable_vote_ensemble (Azure's default: true)
    featurization.mode                          must be off (FLAML has no featurization;
                                                featurize.py's derived features come first)
    outputs.best_model                          output model_output
    ==========================================  =========================================

    ``time_budget_seconds`` (``mlops train --time-budget``) overrides the node's timeout.
    Any other setting, a task other than regression, stack ensembling on or AutoML's
    featurization on raises MlopsError naming the setting. ``limits.max_trials`` caps the
    trial count that train.py plans from the time budget.
    """
    flat = _flatten(node)
    if flat.pop("type", "automl") != "automl":
        raise MlopsError(f"{where}: not an AutoML node")
    task = flat.pop("task", None)
    if task != "regression":
        raise MlopsError(f"{where}: AutoML task '{task}' has no local equivalent (regression only)")
    inputs: dict[str, Any] = {}
    outputs: dict[str, str] = {}
    for key, value in flat.items():
        if key == "training_data":
            inputs["train_data"] = value
        elif key == "target_column_name":
            inputs["target_column_name"] = value
        elif key == "primary_metric":
            inputs["primary_metric"] = _snake(str(value))
        elif key == "limits.timeout_minutes":
            inputs["time_budget_seconds"] = int(float(value) * 60)
        elif key == "limits.max_trials":
            inputs["max_trials"] = value
        elif key == "training.allowed_training_algorithms":
            names = [value] if isinstance(value, str) else list(value)
            inputs["allowed_algorithms"] = ",".join(_algorithm(str(n), where) for n in names)
        elif key == "outputs":
            unknown = sorted(set(value or {}) - {_BEST_MODEL})
            if unknown:
                raise MlopsError(f"{where}: AutoML output '{unknown[0]}' has no local equivalent")
            outputs[_BEST_MODEL] = "model_output"
        elif key == "featurization.mode":
            # YAML 1.1 reads a bare off as false; Azure's own examples quote it.
            if str(value).lower() not in ("off", "false"):
                raise MlopsError(
                    f"{where}: AutoML setting 'featurization.mode: {value}' has no local "
                    'equivalent (FLAML does not featurize); set it to "off"'
                )
        elif key == _VOTE:
            inputs["enable_vote_ensemble"] = _flag(value, key, where)
        elif key in MUST_BE_FALSE:
            if value not in (False, "false", "False"):
                raise MlopsError(
                    f"{where}: AutoML setting '{key}: {value}' has no local equivalent"
                )
        elif key in IGNORED:
            log.info(
                "%s: AutoML setting '%s' only applies on Azure ML; ignored locally", where, key
            )
        else:
            raise MlopsError(
                f"{where}: AutoML setting '{key}' has no local (FLAML) equivalent; "
                "remove it or run this pipeline on Azure ML"
            )
    if "train_data" not in inputs:
        raise MlopsError(f"{where}: AutoML node needs 'training_data'")
    # Azure AutoML ensembles unless told not to ("ensemble models ... are enabled by
    # default", Microsoft Learn, concept-automated-ml); the stand-in follows.
    inputs.setdefault("enable_vote_ensemble", True)
    if time_budget_seconds is not None:
        inputs["time_budget_seconds"] = time_budget_seconds
    outputs.setdefault(_BEST_MODEL, "model_output")
    return AutoMLStandIn(inputs=inputs, outputs=outputs)
