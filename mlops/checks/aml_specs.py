"""The Azure ML specs of a repository: found, parsed with lines, and told apart by kind."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.checks.findings import Finding
from mlops.checks.yamlload import YDict, error_line, error_message, load

RULE = "aml-schema"
SPEC_GLOBS = ("mlops/azureml/**/*.yml", "mlops/azureml/**/*.yaml")

# ``$schema`` file name (lower case, without ``.schema.json``) -> kind of spec.
_SCHEMA_KINDS = {
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
}
_SCHEMA_NAME = re.compile(r"/([\w.]+)\.schema\.json$", re.IGNORECASE)
KINDS = frozenset(_SCHEMA_KINDS.values())


@dataclass
class AmlSpec:
    """One Azure ML YAML spec; ``doc`` keeps YAML 1.1 scalar types, as azure-ai-ml reads them."""

    path: Path
    rel: str
    doc: YDict
    kind: str


@dataclass
class AmlProject:
    """Every spec under ``mlops/azureml`` plus what loading them found wrong."""

    root: Path
    specs: dict[Path, AmlSpec] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def of_kind(self, *kinds: str) -> list[AmlSpec]:
        return [s for s in self.specs.values() if s.kind in kinds]


def kind_of(path: Path, doc: YDict) -> str | None:
    """Kind from ``$schema`` when given, else from the keys the spec holds."""
    schema = doc.get("$schema")
    if isinstance(schema, str) and (match := _SCHEMA_NAME.search(schema)):
        kind = _SCHEMA_KINDS.get(match.group(1).lower())
        if kind is not None:
            if kind == "batch_deployment" and doc.get("type") == "model":
                return "model_batch_deployment"
            if kind == "batch_deployment" and doc.get("type") == "pipeline":
                return "pipeline_component_batch_deployment"
            return kind
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


def discover(root: Path) -> AmlProject:
    """Parse every spec; unreadable or unrecognisable files become findings."""
    project = AmlProject(root.resolve())
    for pattern in SPEC_GLOBS:
        for path in sorted(project.root.glob(pattern)):
            if not path.is_file() or path.resolve() in project.specs:
                continue
            rel = project.rel(path)
            try:
                doc: Any = load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                message = f"YAML: {error_message(exc)}"
                project.findings.append(Finding(rel, error_line(exc), RULE, message))
                continue
            if not isinstance(doc, YDict):
                project.findings.append(Finding(rel, 1, RULE, "not a YAML mapping"))
                continue
            if "dependencies" in doc and "$schema" not in doc:
                continue  # a conda file that specs point at, not a spec
            kind = kind_of(path, doc)
            if kind is None:
                project.findings.append(
                    Finding(
                        rel,
                        1,
                        RULE,
                        "cannot tell which Azure ML spec this is; add a $schema line "
                        "(https://azuremlschemas.azureedge.net/latest/<kind>.schema.json)",
                    )
                )
                continue
            project.specs[path.resolve()] = AmlSpec(path.resolve(), rel, doc, kind)
    return project
