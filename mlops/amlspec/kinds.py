"""Which Azure ML spec a YAML file is: from ``$schema`` when given, else from its keys."""

from __future__ import annotations

import re
from pathlib import Path

from mlops.amlspec.files import YDict

# ``$schema`` file name (lower case, without ``.schema.json``) -> kind of spec.
SCHEMA_KINDS = {
    "pipelinejob": "job",
    "commandjob": "job",
    "sweepjob": "job",
    "sparkjob": "job",
    "commandcomponent": "component",
    "pipelinecomponent": "component",
    "parallelcomponent": "component",
    "sparkcomponent": "component",
    "data": "data",
    "environment": "environment",
    "model": "model",
    "managedonlineendpoint": "online_endpoint",
    "kubernetesonlineendpoint": "online_endpoint",
    "managedonlinedeployment": "online_deployment",
    "kubernetesonlinedeployment": "online_deployment",
    "batchendpoint": "batch_endpoint",
    "batchdeployment": "batch_deployment",
    "modelbatchdeployment": "model_batch_deployment",
    "pipelinecomponentbatchdeployment": "pipeline_component_batch_deployment",
    "schedule": "schedule",  # create_job (mlops/azureml/train/schedule.yml)
    "monitorschedule": "schedule",  # create_monitor (mlops/azureml/monitoring/)
}
_SCHEMA_NAME = re.compile(r"/([\w.]+)\.schema\.json$", re.IGNORECASE)
KINDS = frozenset(SCHEMA_KINDS.values())


def kind_of(path: Path, doc: YDict) -> str | None:
    """Kind from ``$schema`` when given, else from the keys the spec holds."""
    schema = doc.get("$schema")
    if isinstance(schema, str) and (match := _SCHEMA_NAME.search(schema)):
        kind = SCHEMA_KINDS.get(match.group(1).lower())
        if kind is not None:
            if kind == "batch_deployment" and doc.get("type") == "model":
                return "model_batch_deployment"
            if kind == "batch_deployment" and doc.get("type") == "pipeline":
                return "pipeline_component_batch_deployment"
            return kind
    if "create_job" in doc or "create_monitor" in doc:
        return "schedule"
    batch = "batch" in path.as_posix().lower()
    if "endpoint_name" in doc:
        if not batch:
            return "online_deployment"
        by_type = {
            "model": "model_batch_deployment",
            "pipeline": "pipeline_component_batch_deployment",
        }
        return by_type.get(str(doc.get("type")), "batch_deployment")
    if "auth_mode" in doc:
        return "batch_endpoint" if batch else "online_endpoint"
    if "jobs" in doc or doc.get("type") == "automl":
        return "component" if "components" in path.parts else "job"
    if "command" in doc or doc.get("type") in ("command", "parallel", "spark"):
        return "component" if "version" in doc or "components" in path.parts else "job"
    if "image" in doc or "conda_file" in doc or "build" in doc:
        return "environment"
    if doc.get("type") in ("mlflow_model", "custom_model", "triton_model"):
        return "model"
    if "path" in doc:
        return "data"
    return None
