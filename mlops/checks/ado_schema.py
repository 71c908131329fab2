"""Azure DevOps YAML against the Azure Pipelines JSON schema that check-jsonschema vendors."""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

from mlops.checks.findings import Finding
from mlops.yamlload import YDict, YList, line_at

RULE = "ado-schema"

# Which schema definition a document is checked against, by its kind.
_DEFINITIONS = {
    "pipeline": "pipeline",
    "steps": "stepsTemplate",
    "jobs": "jobsTemplate",
    "stages": "stagesTemplate",
    "variables": "variablesTemplate",
}


def is_expression(text: Any) -> bool:
    return isinstance(text, str) and text.strip().startswith("${{") and text.strip().endswith("}}")


def unnest(data: Any) -> Any:
    """Lift the bodies of ``${{ if/each/else }}`` keys into their parent, keeping lines.

    The same transform check-jsonschema applies for Azure Pipelines (after the
    azure-pipelines language server): the schema knows nothing of template
    expressions, so their contents are validated as if the condition held.
    """
    if isinstance(data, YDict):
        out = YDict()
        out.line, out.key_lines = data.line, {}
        for key, value in data.items():
            new = unnest(value)
            if is_expression(key):
                if isinstance(new, YDict):
                    for sub_key, sub_value in new.items():
                        out[sub_key] = sub_value
                        out.key_lines[sub_key] = new.key_line(sub_key)
                continue
            out[key] = new
            out.key_lines[key] = data.key_line(key)
        return out
    if isinstance(data, YList):
        out_list = YList()
        out_list.line, out_list.item_lines = data.line, []
        for index, item in enumerate(data):
            if isinstance(item, YDict) and len(item) == 1 and is_expression(next(iter(item))):
                body = unnest(next(iter(item.values())))
                if isinstance(body, YList):
                    out_list.extend(body)
                    out_list.item_lines.extend(body.item_lines)
                else:
                    out_list.append(body)
                    out_list.item_lines.append(getattr(body, "line", data.item_line(index)))
                continue
            out_list.append(unnest(item))
            out_list.item_lines.append(data.item_line(index))
        return out_list
    return data


def kind_of(doc: Any) -> str | None:
    """``pipeline``, a template kind (``steps``/``jobs``/``stages``/``variables``), or None.

    A template holds ``parameters:`` and exactly one body key; anything else with
    stages, jobs, steps or extends is an entry pipeline.
    """
    if not isinstance(doc, dict):
        return None
    keys = set(doc) - {"parameters"}
    if len(keys) == 1 and (body := next(iter(keys))) in ("steps", "jobs", "stages", "variables"):
        return body
    if keys & {"stages", "jobs", "steps", "extends", "phases"}:
        return "pipeline"
    if keys == set() and "parameters" in doc:
        return None
    return "pipeline"


@functools.cache
def _schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "azure-pipelines.json").read_text(encoding="utf-8"))


_TRUE_FALSE = re.compile(r"^(true|false|yes|no|on|off|y|n)$", re.IGNORECASE)
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _expression(value: str) -> bool:
    value = value.strip()
    return value.startswith(("${{", "$(", "$[")) and value.endswith(("}}", ")", "]"))


def _is_boolean(checker: Any, instance: Any) -> bool:
    if isinstance(instance, str):
        return bool(_TRUE_FALSE.match(instance)) or _expression(instance)
    return isinstance(instance, bool)


def _is_number(checker: Any, instance: Any) -> bool:
    if isinstance(instance, str):
        return bool(_NUMBER.match(instance.strip())) or _expression(instance)
    return isinstance(instance, int | float) and not isinstance(instance, bool)


def _is_integer(checker: Any, instance: Any) -> bool:
    if isinstance(instance, str):
        return instance.strip().lstrip("+-").isdigit() or _expression(instance)
    return isinstance(instance, int) and not isinstance(instance, bool)


def _task_pattern(branch: Any) -> re.Pattern[str] | None:
    task = branch.get("properties", {}).get("task") if isinstance(branch, dict) else None
    pattern = task.get("pattern") if isinstance(task, dict) else None
    return re.compile(pattern, re.IGNORECASE) if isinstance(pattern, str) else None


_TASK_BRANCHES: dict[int, list[re.Pattern[str] | None]] = {}


def _any_of(validator: Any, any_of: list[Any], instance: Any, schema: Any) -> Any:
    """``anyOf`` that tries only the branch of the step's own task.

    The task definition is an anyOf of several hundred task schemas, each picked by
    a ``task: Name@N`` pattern; trying them all for every step is what makes plain
    validation slow. A step is judged by the branches its task name matches (all of
    them when none does, so an unknown task is still reported as such).
    """
    from jsonschema.exceptions import ValidationError

    indexes: list[int] = list(range(len(any_of)))
    if isinstance(instance, dict) and len(any_of) > 50:
        key = id(any_of)
        if key not in _TASK_BRANCHES:
            _TASK_BRANCHES[key] = [_task_pattern(b) for b in any_of]
        patterns = _TASK_BRANCHES[key]
        if all(pattern is not None for pattern in patterns):
            task = instance.get("task")
            if not isinstance(task, str):
                narrowed = [0]  # no task name: every branch fails the same way; one says why
            else:
                narrowed = [i for i, p in enumerate(patterns) if p is not None and p.search(task)]
            indexes = narrowed or indexes
    errors = []
    for index in indexes:  # as jsonschema's anyOf, keeping each branch's original index
        branch_errors = list(validator.descend(instance, any_of[index], schema_path=index))
        if not branch_errors:
            return
        errors.extend(branch_errors)
    yield ValidationError(
        f"{instance!r} is not valid under any of the given schemas", context=errors
    )


@functools.cache
def _validator(definition: str) -> Any:
    import jsonschema

    # Azure DevOps reads every scalar as a string and converts on use; the schema's
    # task inputs still say boolean/number, so those types accept their string forms.
    checker = jsonschema.Draft7Validator.TYPE_CHECKER.redefine_many(
        {"boolean": _is_boolean, "number": _is_number, "integer": _is_integer}
    )
    cls = jsonschema.validators.extend(
        jsonschema.Draft7Validator, {"anyOf": _any_of}, type_checker=checker
    )
    schema = _schema()
    root = {
        "$schema": schema["$schema"],
        "$ref": f"#/definitions/{definition}",
        "definitions": schema["definitions"],
    }
    return cls(root)


def _branch_applies(branch: dict[str, Any], instance: Any) -> bool:
    """Does this anyOf branch describe the instance (required keys, discriminator values)?"""
    if not isinstance(instance, dict):
        return True
    if not all(key in instance for key in branch.get("required", ())):
        return False
    for key, prop in branch.get("properties", {}).items():
        value = instance.get(key)
        if not isinstance(value, str) or not isinstance(prop, dict):
            continue
        if "pattern" in prop and not re.search(prop["pattern"], value, re.IGNORECASE):
            return False
        if "enum" in prop and value.lower() not in {str(e).lower() for e in prop["enum"]}:
            return False
    return True


def _literal(schema: dict[str, Any]) -> list[str]:
    """The values a string schema allows when it is a ``^value$`` pattern or an enum."""
    if "enum" in schema:
        return [str(e) for e in schema["enum"]]
    literal = re.fullmatch(r"\^([\w@.-]+)\$", schema.get("pattern", ""))
    if literal:
        return [literal.group(1)]
    return []


def _discriminated(error: Any) -> str | None:
    """Message for an anyOf where no branch accepts a discriminating value (task name, type)."""
    branches = error.schema.get(error.validator)
    if not isinstance(branches, list):
        return None
    instance = error.instance
    if isinstance(instance, str):
        allowed = [v for b in branches if isinstance(b, dict) for v in _literal(b)]
        if allowed and len(allowed) == len(branches):
            if len(allowed) > 20:
                where = error.absolute_path[-1] if error.absolute_path else "value"
                return f"unknown {where} {instance!r}"
            return f"{instance!r} is not one of {', '.join(allowed)}"
        return None
    if isinstance(instance, dict):
        for key in ("task", "type"):
            value = instance.get(key)
            if not isinstance(value, str):
                continue
            props = [b.get("properties", {}).get(key) for b in branches if isinstance(b, dict)]
            if props and all(isinstance(p, dict) and _literal(p) for p in props):
                known = {v.lower() for p in props for v in _literal(p)}
                if value.lower() not in known:
                    return f"unknown {key} {value!r}"
    return None


def _leaves(error: Any) -> list[tuple[Any, str | None]]:
    """The errors a person should read: anyOf/oneOf descended into the branch that applies.

    A step with ``bash:`` is judged by the bash branch, an AzureCLI@2 task by that
    task's inputs, so the message names the misspelt key instead of "is not valid
    under any of the given schemas". Every problem inside that branch is kept, so
    two broken steps give two findings.
    """
    if not error.context:
        return [(error, None)]
    if (special := _discriminated(error)) is not None:
        return [(error, special)]
    branches: dict[int, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    alternatives = error.schema.get(error.validator)
    candidates = []
    for index, subs in branches.items():
        branch = alternatives[index] if isinstance(alternatives, list) else {}
        if any(s.validator == "required" and not s.relative_path for s in subs):
            continue
        if any(s.validator == "type" and not s.relative_path for s in subs):
            continue
        if isinstance(branch, dict) and not _branch_applies(branch, error.instance):
            continue
        depth = max(len(s.path) for s in subs)
        candidates.append((-depth, len(subs), index, subs))
    if not candidates:
        return [(error, None)]
    candidates.sort(key=lambda c: c[:3])
    return [leaf for sub in candidates[0][3] for leaf in _leaves(sub)]


def _message(error: Any, special: str | None) -> str:
    location = ".".join(str(p) for p in error.absolute_path)
    if special is not None:
        text = special
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(str(k) for k in error.instance if k not in allowed)
        text = f"unknown key {', '.join(repr(u) for u in unknown)}"
    else:
        text = error.message
        if len(text) > 200:
            text = text[:197] + "..."
    return f"{text} (at {location})" if location else text


def check(rel_path: str, doc: Any, kind: str) -> list[Finding]:
    """Schema findings of one Azure DevOps document of a known kind."""
    flat = unnest(doc)
    validator = _validator(_DEFINITIONS[kind])
    # One finding per line and problem: the same unknown task is seen from the step and
    # from its task key; the deeper location is kept.
    chosen: dict[tuple[int, str], tuple[int, Finding]] = {}
    leaves = [leaf for error in validator.iter_errors(flat) for leaf in _leaves(error)]
    for best, special in leaves:
        path = list(best.absolute_path)
        if best.validator == "additionalProperties" and isinstance(best.instance, dict):
            allowed = set(best.schema.get("properties", {}))
            unknown = [k for k in best.instance if k not in allowed]
            if unknown:
                path.append(unknown[0])
        line = line_at(flat, path)
        finding = Finding(rel_path, line, RULE, _message(best, special))
        key = (line, special or finding.message)
        if key not in chosen or chosen[key][0] < len(path):
            chosen[key] = (len(path), finding)
    return [finding for _, finding in chosen.values()]
