"""Compile an Azure DevOps pipeline the way Azure DevOps does before a run starts.

What happens here, with the documentation it follows:

- Parameters are typed and defaulted (``string``, ``number``, ``boolean``, ``object``,
  ``stringList``, the step/job/stage kinds) and ``values:`` is enforced
  (https://learn.microsoft.com/en-us/azure/devops/pipelines/process/runtime-parameters,
  https://learn.microsoft.com/en-us/azure/devops/pipelines/process/template-parameters).
- ``${{ }}`` template expressions are evaluated with conditional insertion (``if``,
  ``elseif``, ``else``) and ``each`` over lists and mappings
  (https://learn.microsoft.com/en-us/azure/devops/pipelines/process/template-expressions).
  A string that is exactly one expression keeps the expression's type; otherwise the
  values are rendered into the text.
- Templates are inlined for stages, jobs, steps and variables; a path is relative to
  the file that references it, or to the repository root when it starts with ``/``
  (https://learn.microsoft.com/en-us/azure/devops/pipelines/process/templates).
- Variables: the most locally scoped definition wins (job over stage over pipeline), and
  inside one ``variables:`` list a later definition overrides an earlier one, variable
  templates included in place
  (https://learn.microsoft.com/en-us/azure/devops/pipelines/process/variables).
  ``${{ variables.x }}`` sees the variables of the enclosing scopes defined in YAML, as
  written (macros ``$(...)`` are left for run time).

Every mistake is an :class:`~mlops.ado.errors.AdoError`: ``file:line: message``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.ado import expressions as ex
from mlops.ado.errors import AdoError, ExpressionError
from mlops.yamlload import YDict, YList, error_line, error_message, load

_IF = re.compile(r"^\$\{\{\s*if\s+(.+?)\s*\}\}$", re.DOTALL)
_ELSEIF = re.compile(r"^\$\{\{\s*elseif\s+(.+?)\s*\}\}$", re.DOTALL)
_ELSE = re.compile(r"^\$\{\{\s*else\s*\}\}$")
_EACH = re.compile(r"^\$\{\{\s*each\s+([A-Za-z_]\w*)\s+in\s+(.+?)\s*\}\}$", re.DOTALL)
_INSERT = re.compile(r"^\$\{\{\s*insert\s*\}\}$")
_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_FULL = re.compile(r"^\s*\$\{\{(.*?)\}\}\s*$", re.DOTALL)

TEMPLATE_KINDS = ("stages", "jobs", "steps", "variables")
_SCALAR_TYPES = ("string", "number", "boolean")
_SINGLE = {"step", "job", "deployment", "stage", "container"}
_LISTS = {"stepList", "jobList", "deploymentList", "stageList", "containerList"}
PARAMETER_TYPES = (*_SCALAR_TYPES, "object", "stringList", *sorted(_SINGLE), *sorted(_LISTS))
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class Node(dict):
    """A compiled mapping that remembers the file and line it came from."""

    file: str = ""
    line: int = 1


def plain(value: Any) -> Any:
    """Plain dicts and lists (for YAML/JSON output)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def find_root(path: Path) -> Path:
    """The repository a pipeline belongs to: git's top level, else the pipeline's folder."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=path.resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
        return Path(done.stdout.strip()).resolve()
    except (OSError, subprocess.CalledProcessError):
        return path.resolve().parent


@dataclass
class Scope:
    """What a ``${{ }}`` expression sees at one place of one file."""

    file: str
    parameters: Mapping[str, Any]
    variables: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)  # ``each`` loop variables

    def context(self) -> ex.Context:
        return ex.Context(
            {"parameters": self.parameters, "variables": self.variables, **self.extra}
        )

    def with_variables(self, variables: Mapping[str, Any]) -> Scope:
        return Scope(self.file, self.parameters, {**self.variables, **variables}, self.extra)

    def with_extra(self, name: str, value: Any) -> Scope:
        return Scope(self.file, self.parameters, self.variables, {**self.extra, name: value})


@dataclass
class Compiled:
    """A pipeline after compilation: the document and the typed run parameters."""

    path: Path
    root: Path
    doc: Node
    parameters: dict[str, Any]


class Expander:
    """Loads files under one repository root and compiles pipelines from them."""

    def __init__(self, root: Path, predefined: Mapping[str, str] | None = None) -> None:
        self.root = root.resolve()
        self.predefined = dict(predefined or {})
        self._files: dict[Path, Any] = {}
        self._depth = 0

    # Files ------------------------------------------------------------------------------

    def rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def load(self, path: Path, referenced_at: tuple[str, int] | None = None) -> Any:
        path = path.resolve()
        if path not in self._files:
            if not path.is_file():
                file, line = referenced_at or (self.rel(path), 1)
                raise AdoError(file, line, f"template {self.rel(path)} not found")
            try:
                doc = load(path.read_text(encoding="utf-8"), strings=True)
            except yaml.YAMLError as exc:
                raise AdoError(self.rel(path), error_line(exc), error_message(exc)) from None
            if not isinstance(doc, YDict):
                raise AdoError(self.rel(path), 1, "expected a mapping at the top level")
            self._files[path] = doc
        return self._files[path]

    def resolve(self, raw: str, file: str, line: int) -> Path:
        path_part, _, repo = raw.partition("@")
        if repo and repo != "self":
            raise AdoError(file, line, f"template {raw}: other repositories are not available here")
        if path_part.startswith("/"):
            return self.root / path_part.lstrip("/")
        return (self.root / file).parent / path_part

    # Pipelines --------------------------------------------------------------------------

    def compile(self, path: Path, given: Mapping[str, str] | None = None) -> Compiled:
        """Compile an entry pipeline with run parameters given as text (``--param``)."""
        file = self.rel(path)
        doc = self.load(path)
        typed = bind_parameters(doc, dict(given or {}), file, 1, from_text=True)
        scope = Scope(file, typed, self.predefined)
        if "extends" in doc:
            doc = self._extends(doc, scope)
            scope = Scope(doc.file, doc.parameters_bound, self.predefined)  # type: ignore[attr-defined]
        compiled = self._mapping(doc, scope, 1, skip=("parameters", "extends"))
        return Compiled(path.resolve(), self.root, compiled, typed)

    def _extends(self, doc: YDict, scope: Scope) -> Any:
        ext = doc["extends"]
        line = doc.key_line("extends")
        if not isinstance(ext, YDict) or not isinstance(ext.get("template"), str):
            raise AdoError(scope.file, line, "extends needs a template")
        target = self.resolve(self._text(ext["template"], scope, line), scope.file, line)
        tdoc = self.load(target, (scope.file, line))
        passed = self._value(ext.get("parameters") or YDict(), scope, line)
        bound = bind_parameters(tdoc, passed, self.rel(target), ext.key_line("template"))
        merged = YDict({k: v for k, v in doc.items() if k not in ("extends", "parameters")})
        merged.line, merged.key_lines = doc.line, dict(doc.key_lines)
        for key, value in tdoc.items():
            if key != "parameters":
                merged[key] = value
                merged.key_lines[key] = tdoc.key_line(key)
        merged.file = self.rel(target)  # type: ignore[attr-defined]
        merged.parameters_bound = bound  # type: ignore[attr-defined]
        return merged

    # Rendering --------------------------------------------------------------------------

    def _text(self, value: Any, scope: Scope, line: int) -> str:
        rendered = self._value(value, scope, line)
        if not isinstance(rendered, str):
            raise AdoError(scope.file, line, f"expected text, got {ex.to_str(rendered)!r}")
        return rendered

    def _eval(self, text: str, scope: Scope, line: int) -> Any:
        try:
            return ex.evaluate_text(text.strip(), scope.context())
        except ExpressionError as exc:
            raise AdoError(scope.file, line, str(exc)) from None

    def _string(self, text: str, scope: Scope, line: int) -> Any:
        if "${{" not in text:
            return text
        full = _FULL.match(text)
        if full and "${{" not in full.group(1):
            return self._eval(full.group(1), scope, line)
        return _EXPR.sub(lambda m: ex.to_str(self._eval(m.group(1), scope, line)), text)

    def _value(self, node: Any, scope: Scope, line: int, kind: str | None = None) -> Any:
        if isinstance(node, str):
            return self._string(node, scope, line)
        if isinstance(node, YDict):
            return self._mapping(node, scope, line)
        if isinstance(node, YList):
            return self._list(node, scope, kind)
        if isinstance(node, dict):  # values produced by expressions (objects)
            return Node({k: v for k, v in node.items()})
        return node

    def _directive_entries(self, node: YDict, scope: Scope) -> list[tuple[Any, Any, Scope, int]]:
        """The mapping's entries after ``if``/``elseif``/``else``/``each`` at this level."""
        entries: list[tuple[Any, Any, Scope, int]] = []
        chain: bool | None = None  # None: no open if-chain; True: a branch was taken
        for key, value in node.items():
            line = node.key_line(key)
            if not isinstance(key, str) or "${{" not in key:
                chain = None
                entries.append((key, value, scope, line))
                continue
            inserted = self._directive(key, value, scope, line, chain)
            if inserted is None:  # an expression as the key itself
                chain = None
                name = self._string(key, scope, line)
                entries.append((ex.to_str(name), value, scope, line))
                continue
            chain, chosen = inserted
            for value_scope in chosen:
                if not isinstance(value, YDict):
                    raise AdoError(
                        scope.file,
                        line,
                        f"{key}: in a mapping, the inserted value must be a mapping",
                    )
                entries.extend(self._directive_entries(value, value_scope))
        return entries

    def _directive(
        self, key: str, value: Any, scope: Scope, line: int, chain: bool | None
    ) -> tuple[bool | None, list[Scope]] | None:
        """For a directive key: the new chain state and the scopes to insert ``value`` with."""
        if match := _IF.match(key):
            taken = ex.to_bool(self._eval(match.group(1), scope, line))
            return taken, [scope] if taken else []
        if match := _ELSEIF.match(key):
            if chain is None:
                raise AdoError(scope.file, line, "elseif without a preceding if")
            if chain:
                return True, []
            taken = ex.to_bool(self._eval(match.group(1), scope, line))
            return taken, [scope] if taken else []
        if _ELSE.match(key):
            if chain is None:
                raise AdoError(scope.file, line, "else without a preceding if")
            return None, [] if chain else [scope]
        if match := _EACH.match(key):
            collection = self._eval(match.group(2), scope, line)
            name = match.group(1)
            if isinstance(collection, Mapping):
                items = [Node({"key": k, "value": v}) for k, v in collection.items()]
            elif isinstance(collection, list):
                items = list(collection)
            elif collection is None:
                items = []
            else:
                raise AdoError(scope.file, line, f"each: {match.group(2)} is not a list or mapping")
            return None, [scope.with_extra(name, item) for item in items]
        if _INSERT.match(key):
            raise AdoError(scope.file, line, "${{ insert }} is not supported by this twin")
        stripped = key.strip()
        if stripped.startswith("${{") and re.match(r"^\$\{\{\s*(if|elseif|else|each)\b", stripped):
            raise AdoError(scope.file, line, f"malformed directive {key!r}")
        return None

    def _mapping(self, node: YDict, scope: Scope, line: int, skip: tuple[str, ...] = ()) -> Node:
        entries = [e for e in self._directive_entries(node, scope) if e[0] not in skip]
        result = Node()
        result.file, result.line = scope.file, node.line
        # Variables first: ${{ variables.x }} in the sibling keys sees them.
        inner = scope
        for key, value, entry_scope, key_line in entries:
            if key == "variables":
                variables = self._variables(value, entry_scope, key_line)
                result["variables"] = variables
                inner = scope.with_variables(variable_values(variables))
        for key, value, entry_scope, key_line in entries:
            if key == "variables":
                continue
            here = inner if entry_scope is scope else entry_scope.with_variables(inner.variables)
            kind = key if key in TEMPLATE_KINDS else None
            value_line = node.value_line(key) if key in node else key_line
            if isinstance(value, YList):
                result[key] = self._list(value, here, kind)
            else:
                result[key] = self._value(value, here, value_line)
        return result

    def _list_items(self, node: YList, scope: Scope) -> list[tuple[Any, Scope, int]]:
        """The list's items after directives, each with the scope it is rendered in."""
        items: list[tuple[Any, Scope, int]] = []
        chain: bool | None = None
        for index, item in enumerate(node):
            line = node.item_line(index)
            key = next(iter(item)) if isinstance(item, YDict) and len(item) == 1 else None
            inserted = (
                self._directive(key, item[key], scope, line, chain)
                if isinstance(key, str) and "${{" in key
                else None
            )
            if inserted is None:
                chain = None
                items.append((item, scope, line))
                continue
            chain, chosen = inserted
            value = item[key]  # type: ignore[index]
            for item_scope in chosen:
                if isinstance(value, YList):
                    items.extend(self._list_items(value, item_scope))
                elif value is not None and value != "":
                    items.append((value, item_scope, line))
        return items

    def _list(self, node: YList, scope: Scope, kind: str | None) -> list[Any]:
        result: list[Any] = []
        for item, item_scope, line in self._list_items(node, scope):
            if kind in TEMPLATE_KINDS and isinstance(item, YDict) and "template" in item:
                result.extend(self._template(item, item_scope, kind, line))
            else:
                result.append(self._value(item, item_scope, line))
        return result

    def _template(self, ref: YDict, scope: Scope, kind: str, line: int) -> list[Any]:
        raw = self._text(ref["template"], scope, ref.key_line("template"))
        target = self.resolve(raw, scope.file, line)
        doc = self.load(target, (scope.file, line))
        file = self.rel(target)
        if kind not in doc:
            found = [k for k in TEMPLATE_KINDS if k in doc] or ["nothing"]
            raise AdoError(
                scope.file, line, f"template {raw} is used for {kind} but holds {', '.join(found)}"
            )
        extra = [k for k in ref if k not in ("template", "parameters")]
        if extra:
            raise AdoError(
                scope.file, ref.key_line(extra[0]), f"unexpected key {extra[0]!r} next to template"
            )
        passed = ref.get("parameters")
        if passed is not None and not isinstance(passed, YDict):
            raise AdoError(scope.file, ref.key_line("parameters"), "parameters must be a mapping")
        values = self._mapping(passed, scope, line) if passed is not None else Node()
        bound = bind_parameters(doc, values, scope.file, line, template=file)
        self._depth += 1
        if self._depth > 100:  # Azure DevOps stops at 100 nested template files
            raise AdoError(scope.file, line, "templates nest deeper than 100 levels")
        try:
            inner = Scope(file, bound, scope.variables)
            body = doc[kind]
            if kind == "variables":  # mapping or list form
                return self._variables(body, inner, doc.key_line(kind))
            if not isinstance(body, YList):
                raise AdoError(file, doc.key_line(kind), f"{kind} must be a list")
            # A template's own variables (next to steps/jobs) are not allowed in Azure DevOps.
            return self._list(body, inner, kind)
        finally:
            self._depth -= 1

    def _variables(self, node: Any, scope: Scope, line: int) -> list[Node]:
        """A ``variables:`` block as a list of ``{name, value}`` / ``{group}`` items."""
        items: list[Node] = []
        if isinstance(node, YDict):  # mapping form
            for key, value, entry_scope, key_line in self._directive_entries(node, scope):
                items.append(self._variable(str(key), value, entry_scope, key_line))
            return items
        if not isinstance(node, YList):
            raise AdoError(scope.file, line, "variables must be a mapping or a list")
        current = scope
        for item, item_scope, item_line in self._list_items(node, scope):
            if not isinstance(item, YDict):
                raise AdoError(scope.file, item_line, "a variables item must be a mapping")
            item_scope = item_scope.with_variables(variable_values(items))
            if "template" in item:
                items.extend(self._template(item, item_scope, "variables", item_line))
            elif "group" in item:
                group = Node(group=self._text(item["group"], item_scope, item_line))
                group.file, group.line = scope.file, item_line
                items.append(group)
            elif "name" in item:
                name = self._text(item["name"], item_scope, item_line)
                variable = self._variable(name, item.get("value", ""), item_scope, item_line)
                if "readonly" in item:
                    variable["readonly"] = self._value(item["readonly"], item_scope, item_line)
                items.append(variable)
            else:
                raise AdoError(
                    scope.file, item_line, "a variables item needs name, group or template"
                )
            current = item_scope
        del current
        return items

    def _variable(self, name: str, value: Any, scope: Scope, line: int) -> Node:
        if isinstance(value, YDict | YList):
            raise AdoError(scope.file, line, f"variable {name}: a value must be text")
        rendered = self._value(value, scope, line)
        if isinstance(rendered, dict | list):
            raise AdoError(scope.file, line, f"variable {name}: a value must be text")
        variable = Node(name=name, value=ex.to_str(rendered) if rendered is not None else "")
        variable.file, variable.line = scope.file, line
        return variable


def variable_values(items: list[Any]) -> dict[str, str]:
    """Name -> value of a compiled variables list; a later definition wins."""
    values: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and "name" in item:
            values[str(item["name"])] = str(item.get("value", ""))
    return values


# Parameters -----------------------------------------------------------------------------


def declared_parameters(doc: YDict, file: str, strict: bool = True) -> dict[str, YDict]:
    """Declared parameters by name (list form, or the legacy ``name: default`` mapping).

    ``strict=False`` (the offline checks, which report a bad declaration by their own
    rules) skips a malformed declaration instead of raising.
    """
    raw = doc.get("parameters") if isinstance(doc, dict) else None
    result: dict[str, YDict] = {}
    if raw is None:
        return result
    if isinstance(raw, YDict):
        for name, default in raw.items():
            legacy = YDict({"name": name, "type": "object", "default": default})
            legacy.line, legacy.key_lines = raw.key_line(name), {}
            result[str(name)] = legacy
        return result
    if not isinstance(raw, YList):
        if not strict:
            return result
        raise AdoError(file, doc.key_line("parameters"), "parameters must be a list")
    for index, item in enumerate(raw):
        line = raw.item_line(index)
        try:
            if not isinstance(item, YDict) or not isinstance(item.get("name"), str):
                raise AdoError(file, line, "a parameter needs a name")
            ptype = item.get("type", "string")
            if ptype not in PARAMETER_TYPES:
                raise AdoError(
                    file,
                    item.key_line("type"),
                    f"parameter {item['name']}: unknown type {ptype!r}",
                )
            if item["name"] in result:
                raise AdoError(file, line, f"parameter {item['name']} is declared twice")
        except AdoError:
            if strict:
                raise
            continue
        result[item["name"]] = item
    return result


def values_problem(name: str, decl: Mapping[str, Any], value: Any) -> str | None:
    """Why a typed value is not among the declaration's ``values:``, or None."""
    allowed = decl.get("values")
    if not isinstance(allowed, list):
        return None
    candidates = value if str(decl.get("type", "string")) == "stringList" else [value]
    for candidate in candidates:
        if not any(ex.equals(ex.to_str(candidate), str(a)) for a in allowed):
            return (
                f"The '{name}' parameter value '{ex.to_str(candidate)}' is not a valid "
                f"value (allowed: {', '.join(str(a) for a in allowed)})"
            )
    return None


def parameter_problem(name: str, decl: Mapping[str, Any], raw: Any) -> str | None:
    """Why ``raw`` is not a valid value of the declared parameter (type, then ``values:``),
    or None: the expander's own rules, for checks that have no file/line to raise at."""
    try:
        value = coerce(name, str(decl.get("type", "string")), raw, "", 0)
    except AdoError as exc:
        return exc.message
    return values_problem(name, decl, value)


def bind_parameters(
    doc: YDict,
    given: Mapping[str, Any],
    file: str,
    line: int,
    *,
    template: str | None = None,
    from_text: bool = False,
) -> dict[str, Any]:
    """Typed values of every declared parameter: given ones checked, the rest defaulted.

    ``file``/``line`` is where the values come from (the template reference, or 1 for
    the run); ``template`` is the file declaring them. ``from_text`` parses ``object``
    values given on the command line as YAML.
    """
    where = template or file
    declared = declared_parameters(doc, where)
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            target = f" of {template}" if template else ""
            raise AdoError(file, line, f"Unexpected parameter '{name}'{target} (declared: {known})")
    values: dict[str, Any] = {}
    for name, decl in declared.items():
        ptype = str(decl.get("type", "string"))
        if name in given:
            raw, src_file, src_line = given[name], file, decl.line if from_text else line
            if from_text and ptype in ("object", "stringList", *_SINGLE, *_LISTS):
                try:
                    raw = load(str(raw), strings=True)
                except yaml.YAMLError as exc:
                    raise AdoError(file, line, f"parameter {name}: {error_message(exc)}") from None
        elif "default" in decl:
            raw, src_file, src_line = decl["default"], where, decl.key_line("default")
        else:
            raise AdoError(
                file,
                decl.line if from_text else line,
                f"A value for the '{name}' parameter must be provided"
                + (f" (template {template})" if template else ""),
            )
        value = coerce(name, ptype, raw, src_file, src_line)
        problem = values_problem(name, decl, value) if name in given else None
        if problem:
            raise AdoError(src_file, src_line, problem)
        values[name] = value
    return values


def coerce(name: str, ptype: str, raw: Any, file: str, line: int) -> Any:
    """A parameter value converted to its declared type, or a one-line error."""

    def fail(what: str) -> AdoError:
        shown = ex.to_str(raw)
        return AdoError(file, line, f"The '{name}' parameter value '{shown}' is not a valid {what}")

    if ptype == "string":
        if isinstance(raw, dict | list):
            raise fail("String")
        return ex.to_str(raw)
    if ptype == "number":
        if isinstance(raw, (bool, dict | list)):
            raise fail("Number")
        if isinstance(raw, int | float):
            return raw
        text = str(raw).strip()
        if not _NUMBER.match(text):
            raise fail("Number")
        number = float(text)
        return (
            int(number)
            if number.is_integer() and "." not in text and "e" not in text.lower()
            else number
        )
    if ptype == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise fail("Boolean")
    if ptype == "stringList":
        if isinstance(raw, str):
            return [raw]
        if not isinstance(raw, list) or any(isinstance(v, dict | list) for v in raw):
            raise fail("list of strings")
        return [ex.to_str(v) for v in raw]
    if ptype in _SINGLE:
        if not isinstance(raw, dict):
            raise fail(f"{ptype} (a mapping)")
        return raw
    if ptype in _LISTS:
        if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
            raise fail(f"{ptype} (a list of mappings)")
        return raw
    return raw  # object


def compile_pipeline(
    path: Path,
    params: Mapping[str, str] | None = None,
    root: Path | None = None,
    predefined: Mapping[str, str] | None = None,
) -> Compiled:
    """Compile ``path`` (an entry pipeline) under its repository root."""
    if not path.is_file():
        raise AdoError(str(path), 1, "pipeline file not found")
    expander = Expander(root or find_root(path), predefined)
    return expander.compile(path, params)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (scripts) as ``|`` blocks, as they were written."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if "\n" in text:
        cleaned = "\n".join(line.rstrip() for line in text.split("\n"))
        return dumper.represent_scalar("tag:yaml.org,2002:str", cleaned, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_Dumper.add_representer(str, _str)


def dump(compiled: Compiled) -> str:
    """The compiled pipeline as YAML."""
    return yaml.dump(
        plain(compiled.doc), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
