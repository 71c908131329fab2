"""Each Azure ML spec through the azure-ai-ml loader of its kind, then ``_validate()``.

azure-ai-ml is slow to import (seconds), so it is imported once, inside ``check``,
and only when there are specs. Its errors come as marshmallow JSON with a yaml
path and sometimes a ``file#line N`` location; both are turned into file lines.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlops.checks.aml_specs import RULE, AmlProject, AmlSpec, discover
from mlops.checks.findings import Finding, to_json
from mlops.errors import MlopsError
from mlops.yamlload import YDict, line_at

_LOCATION = re.compile(r"^(.*)#line (\d+)$")
_MAX_MESSAGE = 240
# Unknown step-level keys are reported by the binding linter with the allowed keys.
_STEP_KEY = re.compile(r"^jobs\.[^.]+\.[^.]+$")


def _loaders() -> dict[str, Callable[..., Any]]:
    from azure.ai.ml import (
        load_batch_deployment,
        load_batch_endpoint,
        load_component,
        load_data,
        load_environment,
        load_job,
        load_model,
        load_online_deployment,
        load_online_endpoint,
    )
    from azure.ai.ml.entities._load_functions import (
        load_model_batch_deployment,
        load_pipeline_component_batch_deployment,
    )

    return {
        "job": load_job,
        "component": load_component,
        "data": load_data,
        "environment": load_environment,
        "model": load_model,
        "online_endpoint": load_online_endpoint,
        "online_deployment": load_online_deployment,
        "batch_endpoint": load_batch_endpoint,
        "batch_deployment": load_batch_deployment,
        "model_batch_deployment": load_model_batch_deployment,
        "pipeline_component_batch_deployment": load_pipeline_component_batch_deployment,
        "schedule": _load_schedule,
    }


def _load_schedule(path: Path) -> Any:
    """A job or monitor schedule, checked as ``az ml schedule create`` checks it: azure-ai-ml
    1.35.2 operations/_schedule_operations.py:begin_create_or_update validates a
    JobSchedule, and only builds the REST body of a MonitorSchedule (its _validate is
    not implemented)."""
    from azure.ai.ml.entities import MonitorSchedule
    from azure.ai.ml.entities._load_functions import (
        _load_common_raising_marshmallow_error,
        _try_load_yaml_dict,
        load_schedule,
    )

    try:
        entity = load_schedule(path)
    except NotImplementedError:
        # load_common (_load_functions.py) reports a schema error through
        # _create_schema_for_validation, which MonitorSchedule lacks: load it again
        # without that step to raise the marshmallow error itself.
        data = _try_load_yaml_dict(path)
        _load_common_raising_marshmallow_error(MonitorSchedule, data, str(path), [])
        raise
    if isinstance(entity, MonitorSchedule):
        entity._to_rest_object()
        return None
    return entity


def _short(message: Any) -> str:
    text = " ".join(str(message).split())
    # azure-ai-ml appends long how-to-reference hints after the first sentence group.
    text = text.split("; Not a valid URL.")[0]
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _path_parts(yaml_path: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in yaml_path.split(".") if p]


def _finding(project: AmlProject, spec: AmlSpec, entry: dict[str, Any]) -> Finding:
    """A diagnostic as a finding, placed in the file and line it points at."""
    yaml_path = str(entry.get("path") or "")
    message = _short(entry.get("message", "invalid"))
    text = f"{message} (at {yaml_path})" if yaml_path else message
    location = _LOCATION.match(str(entry.get("location") or ""))
    if location:
        where = Path(location.group(1))
        if where.resolve() != spec.path:
            return Finding(project.rel(where), int(location.group(2)), RULE, text)
    return Finding(spec.rel, _line(spec.doc, yaml_path), RULE, text)


def _line(doc: YDict, yaml_path: str) -> int:
    return line_at(doc, _path_parts(yaml_path))


def _diagnostics(exc: Exception) -> list[dict[str, Any]]:
    """The error entries of a marshmallow/azure-ai-ml validation message, if it carries JSON."""
    text = str(exc)
    start = text.find("{")
    if start < 0:
        return []
    try:
        payload, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return []
    if not isinstance(payload, dict):
        return []
    errors = payload.get("errors")
    if isinstance(errors, list):  # azure-ai-ml's own format: path, message, location
        return [e for e in errors if isinstance(e, dict)]
    return list(_marshmallow_messages(payload, ""))  # plain marshmallow: {field: [messages]}


def _marshmallow_messages(node: Any, path: str) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _marshmallow_messages(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list) and all(isinstance(m, str) for m in node):
        yield {"path": path, "message": "; ".join(node)}
    elif isinstance(node, list):
        for item in node:
            yield from _marshmallow_messages(item, path)
    else:
        yield {"path": path, "message": str(node)}


def _component_files(spec: AmlSpec) -> list[Path]:
    """Local component files a pipeline spec points at."""
    jobs = spec.doc.get("jobs")
    files = []
    if isinstance(jobs, YDict):
        for job in jobs.values():
            ref = job.get("component") if isinstance(job, YDict) else None
            if isinstance(ref, str) and not ref.startswith("azureml:"):
                files.append((spec.path.parent / ref.removeprefix("file:")).resolve())
    return files


def _check_one(
    project: AmlProject, spec: AmlSpec, loader: Callable[..., Any], failed: set[Path]
) -> list[Finding]:
    try:
        entity = loader(spec.path)
    except Exception as exc:  # azure-ai-ml raises many types; all mean "does not load"
        entries = _diagnostics(exc)
        if entries:
            return [_finding(project, spec, e) for e in entries]
        if any(path in failed for path in _component_files(spec)):
            return []  # the broken component is reported on its own file
        first = str(exc).strip().splitlines()
        detail = first[0] if first else type(exc).__name__
        return [Finding(spec.rel, 1, RULE, f"azure-ai-ml cannot load it: {_short(detail)}")]
    validate = getattr(entity, "_validate", None)
    if validate is None:
        return []
    try:
        result = validate()
    except Exception as exc:  # some entities raise instead of returning a result
        return [Finding(spec.rel, 1, RULE, f"azure-ai-ml validation failed: {_short(exc)}")]
    to_dict = getattr(result, "_to_dict", None)
    if to_dict is None:
        return []  # this entity type validates nothing offline beyond loading
    report = to_dict()
    findings = [_finding(project, spec, e) for e in report.get("errors", [])]
    for warning in report.get("warnings", []):
        if not _STEP_KEY.match(str(warning.get("path", ""))):
            findings.append(_finding(project, spec, warning))
    return findings


def check(project: AmlProject) -> list[Finding]:
    """Load and validate every spec; components first so pipelines can defer to them."""
    if not project.specs:
        return []
    # Experimental-class notices (logged while azure-ai-ml imports, on its own
    # stderr handler) are noise here; silence them and azure-ai-ml's INFO chatter.
    logging.getLogger("azure.ai.ml._utils._experimental").setLevel(logging.ERROR)
    loaders = _loaders()
    quiet = logging.getLogger("azure.ai.ml")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        findings: list[Finding] = []
        failed: set[Path] = set()
        order = sorted(project.specs.values(), key=lambda s: (s.kind != "component", s.rel))
        for spec in order:
            found = _check_one(project, spec, loaders[spec.kind], failed)
            if found:
                failed.add(spec.path)
            findings.extend(found)
        return findings
    finally:
        quiet.setLevel(level)


def start(root: Path) -> subprocess.Popen[str]:
    """Run ``check`` over ``root`` in a child interpreter, so the slow azure-ai-ml import
    overlaps the Azure DevOps checks; collect the result with ``collect``."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlops.checks.aml_load", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def collect(child: subprocess.Popen[str]) -> list[Finding]:
    out, err = child.communicate(timeout=600)
    if child.returncode != 0:
        problem = err.strip().splitlines()
        raise MlopsError(f"Azure ML spec check failed: {problem[-1] if problem else '?'}")
    return [Finding(**entry) for entry in json.loads(out)]


def _main(argv: list[str]) -> None:
    print(to_json(check(discover(Path(argv[0])))))


if __name__ == "__main__":
    _main(sys.argv[1:])
