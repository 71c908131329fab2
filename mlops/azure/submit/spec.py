"""Load the pipeline YAML with azure-ai-ml, with the overrides a submit applies, and name the job.

The loading is what ``az ml job create --file F --set K=V`` does: ``load_job(source=F,
params_override=[{K: V}, ...])`` (azure-cli-extensions
src/machinelearningservices/azext_mlv2/manual/custom/job.py:ml_job_create). The job gets its
name here, before anything is sent, so a submit that is interrupted or fails half-way can
always say which job to look for (``--name`` of ``az ml job create`` sets the same field).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

TRAIN_DIR = REPO_ROOT / "mlops" / "azureml" / "train"
TRAINERS = {"automl": "pipeline-automl.yml", "random_forest": "pipeline.yml"}
TRAINER_ALIASES = {"rf": "random_forest"}  # the name `mlops train --trainer` uses
DATA_TYPES = frozenset({"uri_folder", "uri_file", "mltable"})
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 10x faster


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` through libyaml when available (same errors, with marks)."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader


ASSET_REF = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?:(?P<sep>[@:])(?P<sel>[^@:/]+))?$")


@dataclass(frozen=True)
class AssetRef:
    """``name@label`` or ``name:version`` of a workspace asset (``azureml:`` prefix dropped)."""

    name: str
    version: str | None = None
    label: str | None = None

    @classmethod
    def parse(cls, text: str) -> AssetRef | None:
        """None for anything that is not a short workspace reference (ARM ids, registries)."""
        body = text.removeprefix("azureml:")
        match = ASSET_REF.match(body)
        if match is None:
            return None
        sel = match.group("sel")
        if match.group("sep") == "@":
            return cls(match.group("name"), label=sel)
        return cls(match.group("name"), version=sel)

    def uri(self) -> str:
        if self.label is not None:
            return f"azureml:{self.name}@{self.label}"
        if self.version is not None:
            return f"azureml:{self.name}:{self.version}"
        return f"azureml:{self.name}"

    def __str__(self) -> str:
        return self.uri().removeprefix("azureml:")


@dataclass
class LoadedPipeline:
    path: Path
    job: Any  # azure.ai.ml.entities.PipelineJob
    name: str
    data_input: str | None
    data_assets: list[AssetRef] = field(default_factory=list)
    environments: list[AssetRef] = field(default_factory=list)
    computes: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


def pipeline_path(trainer: str | None, pipeline: Path | None) -> tuple[str, Path]:
    """The trainer's pipeline YAML, or the one given; both at once is refused."""
    if pipeline is not None and trainer is not None:
        raise MlopsError("give --trainer or --pipeline, not both")
    if pipeline is not None:
        if not pipeline.is_file():
            raise MlopsError(f"--pipeline {pipeline}: no such file")
        return "custom", pipeline.resolve()
    name = TRAINER_ALIASES.get(trainer or "automl", trainer or "automl")
    if name not in TRAINERS:
        raise MlopsError(f"--trainer {trainer!r}: expected one of {', '.join(TRAINERS)}")
    return name, TRAIN_DIR / TRAINERS[name]


def job_name(experiment: str, now: datetime | None = None) -> str:
    """A unique job name: experiment, UTC time, random suffix (letters, digits and '-')."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    stem = re.sub(r"[^A-Za-z0-9\-]", "-", experiment).strip("-") or "job"
    return f"{stem}-{stamp}-{secrets.token_hex(3)}"


def parse_sets(items: Sequence[str]) -> list[tuple[str, Any]]:
    """``NAME=VALUE`` pairs; values are YAML scalars (``7`` is a number), as in ``mlops train``."""
    pairs = []
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise MlopsError(f"--set {item!r}: expected NAME=VALUE")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError as exc:
            raise MlopsError(f"--set {item!r}: value is not valid YAML ({exc})") from None
        pairs.append((name, value))
    return pairs


def read_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping; a syntax error names file, line and column."""
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MlopsError(f"{path}: cannot read ({exc})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise MlopsError(f"{where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise MlopsError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != "pipeline":
        raise MlopsError(f"{path}: not an Azure ML pipeline job (expected 'type: pipeline')")
    return data


def check_components(spec: dict[str, Any], path: Path) -> None:
    """Local component files exist and parse; the SDK's own errors for these name no file."""
    for step, node in (spec.get("jobs") or {}).items():
        ref = node.get("component") if isinstance(node, dict) else None
        if not isinstance(ref, str) or ref.startswith("azureml:") or "://" in ref:
            continue
        component = (path.parent / ref).resolve()
        if not component.is_file():
            raise MlopsError(f"{path}: jobs.{step}.component = {ref!r}: no such file {component}")
        try:
            safe_load(component.read_text(encoding="utf-8"))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"{component}:{mark.line + 1}:{mark.column + 1}" if mark else str(component)
            raise MlopsError(f"{where}: invalid YAML: {exc.problem}") from None
        except (OSError, yaml.YAMLError) as exc:
            raise MlopsError(f"{component}: cannot read component ({exc})") from None


def data_inputs(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Pipeline-level inputs that are data (uri_folder, uri_file, mltable)."""
    inputs = spec.get("inputs") or {}
    return {
        name: value
        for name, value in inputs.items()
        if isinstance(value, dict) and value.get("type") in DATA_TYPES
    }


def data_override(value: str, input_name: str, input_type: str) -> tuple[Any, AssetRef | None]:
    """``--data``: an existing local path (uploaded by the SDK at submit) or ``NAME@VERSION``."""
    path = Path(value).expanduser()
    if path.exists():
        if input_type == "uri_file" and not path.is_file():
            raise MlopsError(f"--data {value}: input {input_name!r} is a uri_file; give a file")
        if input_type != "uri_file" and not path.is_dir():
            raise MlopsError(
                f"--data {value}: input {input_name!r} is a {input_type}; give a folder"
            )
        if input_type == "mltable" and not (path / "MLTable").is_file():
            raise MlopsError(
                f"--data {value}: an mltable input needs an MLTable file in the folder"
            )
        return {"type": input_type, "path": str(path.resolve())}, None
    name, sep, selector = value.removeprefix("azureml:").partition("@")
    if not sep or not name or not selector or AssetRef.parse(f"{name}@{selector}") is None:
        raise MlopsError(
            f"--data {value!r}: no such file or folder, and not NAME@VERSION "
            "(e.g. taxi-fare-raw@3 or taxi-fare-raw@latest)"
        )
    ref = (
        AssetRef(name, label="latest") if selector == "latest" else AssetRef(name, version=selector)
    )
    return {"type": input_type, "path": ref.uri()}, ref


def build_overrides(
    spec: dict[str, Any],
    path: Path,
    *,
    name: str,
    experiment: str,
    compute: str,
    tags: dict[str, str],
    sets: Sequence[tuple[str, Any]],
    data: str | None,
) -> tuple[list[dict[str, Any]], str | None, AssetRef | None]:
    """params_override for load_job, the data input's name and the asset ``--data`` names.

    Experiment and default compute are set as run-pipeline.yml does with ``az ml job create
    --set``. A bare ``--set NAME`` must be a pipeline input (as in ``mlops train``); a dotted
    one (``jobs.train.limits.max_trials``) is passed on as ``az ml job create --set`` would.
    """
    overrides: list[dict[str, Any]] = [
        {"name": name},
        {"experiment_name": experiment},
        {"settings.default_compute": f"azureml:{compute}"},
    ]
    overrides += [{f"tags.{key}": value} for key, value in tags.items()]
    inputs = spec.get("inputs") or {}
    datas = data_inputs(spec)
    for key, value in sets:
        if "." in key:
            overrides.append({key: value})
            continue
        if key not in inputs:
            known = ", ".join(sorted(inputs)) or "none"
            raise MlopsError(f"--set {key}: {path.name} has no input {key!r} (inputs: {known})")
        if key in datas:
            raise MlopsError(f"--set {key}: {key!r} is a data input; use --data")
        overrides.append({f"inputs.{key}": value})
    data_input = next(iter(datas)) if len(datas) == 1 else None
    data_ref: AssetRef | None = None
    if data is not None:
        if data_input is None:
            found = ", ".join(sorted(datas)) or "none"
            raise MlopsError(
                f"--data: {path.name} needs exactly one data input to replace, has {found}; "
                "use --set inputs.<name>.path=... instead"
            )
        value, data_ref = data_override(data, data_input, str(datas[data_input]["type"]))
        overrides.append({f"inputs.{data_input}": value})
    return overrides, data_input, data_ref


def validation_line(exc: BaseException, path: Path) -> str:
    """One line out of the SDK's schema error (a JSON list of errors inside a long text)."""
    text = str(getattr(exc, "message", None) or exc)
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        try:
            errors = json.loads(text[start : end + 1]).get("errors") or []
        except (ValueError, AttributeError):
            errors = []
        if errors:
            first = errors[0]
            where = str(first.get("location") or path).replace("#line ", ":")
            message = " ".join(str(first.get("message", "")).split())
            field_ = first.get("path", "")
            value = first.get("value")
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            shown = f" = {value!r}" if value is not None else ""
            return f"{where}: {field_}{shown}: {message[:300]}{more}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{path}: {' '.join(lines[:3])[:400]}"


def load_pipeline(
    path: Path,
    *,
    name: str,
    experiment: str,
    compute: str,
    tags: dict[str, str],
    sets: Sequence[tuple[str, Any]] = (),
    data: str | None = None,
) -> LoadedPipeline:
    """The PipelineJob to submit (azure-ai-ml 1.35.2 azure/ai/ml/_load_functions.py:load_job)."""
    from azure.ai.ml import load_job
    from azure.ai.ml.exceptions import ValidationException
    from marshmallow import ValidationError

    spec = read_yaml(path)
    check_components(spec, path)
    overrides, data_input, _ = build_overrides(
        spec,
        path,
        name=name,
        experiment=experiment,
        compute=compute,
        tags=tags,
        sets=sets,
        data=data,
    )
    try:
        job = load_job(source=path, params_override=overrides)
    except (ValidationException, ValidationError) as exc:
        raise MlopsError(validation_line(exc, path)) from exc
    loaded = LoadedPipeline(path=path, job=job, name=name, data_input=data_input)
    loaded.steps = list(job.jobs)
    loaded.data_assets = _data_refs(job, list(data_inputs(spec)), path.parent)
    loaded.environments = _environment_refs(job)
    loaded.computes = _compute_refs(job)
    return loaded


def _data_refs(job: Any, names: Sequence[str], base: Path) -> list[AssetRef]:
    """Data assets the loaded job's data inputs name (after every override).

    The SDK drops the ``azureml:`` prefix when it loads a reference, so a value counts as an
    asset when it carries a version or label and is not a local path next to the YAML.
    """
    refs: list[AssetRef] = []
    for input_name in names:
        value = job.inputs[input_name].result()
        raw = getattr(value, "path", None)
        if not isinstance(raw, str) or (base / raw).exists():
            continue
        ref = AssetRef.parse(raw)
        if ref is not None and (ref.version or ref.label) and ref not in refs:
            refs.append(ref)
    return refs


def _environment_refs(job: Any) -> list[AssetRef]:
    """Environments named by the steps' components (strings; inline ones travel with the job)."""
    refs: list[AssetRef] = []
    for node in job.jobs.values():
        component = getattr(node, "component", None)
        for env in (getattr(component, "environment", None), getattr(node, "environment", None)):
            if isinstance(env, str):
                ref = AssetRef.parse(env)
                if ref is not None and ref not in refs:
                    refs.append(ref)
    return refs


def _compute_refs(job: Any) -> list[str]:
    names: list[str] = []
    candidates = [getattr(job.settings, "default_compute", None), getattr(job, "compute", None)]
    candidates += [getattr(node, "compute", None) for node in job.jobs.values()]
    for value in candidates:
        if isinstance(value, str) and value:
            name = value.removeprefix("azureml:")
            if "/" not in name and name not in names:
                names.append(name)
    return names
