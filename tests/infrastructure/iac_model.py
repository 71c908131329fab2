"""Read the Terraform and Bicep stacks into one comparable model.

Both stacks are parsed (python-hcl2, pycep-parser) and every resource instance is evaluated for a
scenario (variable / parameter values) by a small evaluator that knows the expression forms the
stacks use. What it cannot resolve becomes ``UNKNOWN`` (never equal to a real value) or a ``Ref``
to another resource's attribute, so an unsupported construct makes the comparison fail instead
of passing silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from pycep import BicepParser


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Ref:
    """An attribute of another resource or module output, known only at deploy time."""

    path: str


@dataclass
class Instance:
    """One deployed resource: its ARM-ish kind, where it is declared, its evaluated body."""

    kind: str
    symbol: str  # "<file or module>:<type>.<name>" for error messages and name checks
    body: dict[str, Any]
    bindings: dict[str, Any] = field(default_factory=dict)
    api_version: str = ""  # Bicep declarations (Terraform azapi carries it in body["type"])


# --------------------------------------------------------------------------------- Terraform


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quotes and brackets."""
    parts, depth, quote, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i += len(sep)
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _closing(text: str, start: int) -> int:
    """Index of the bracket closing the one at ``start`` (quotes respected)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack, quote, i = [], False, start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch in pairs:
            stack.append(pairs[ch])
        elif stack and ch == stack[-1]:
            stack.pop()
            if not stack:
                return i
        i += 1
    raise ValueError(f"unbalanced expression: {text!r}")


_FOR_LIST = re.compile(r"^\[\s*for\s+(\w+)\s+in\s+(.+?)\s*:\s*(.+?)\s*\]$", re.S)
_FOR_MAP = re.compile(
    r"^\{\s*for\s+(\w+)\s*,\s*(\w+)\s+in\s+(.+?)\s*:\s*(\w+)\s*=>\s*(\w+)\s*(?:if\s+(.+))?\}$", re.S
)


def _load_tf_dir(directory: Path) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for key, blocks in _parse_hcl(path.read_text()).items():
            if key != "__comments__":
                merged.setdefault(key, []).extend(blocks)
    return merged


@cache
def _parse_hcl(text: str) -> dict[str, Any]:
    """Parsed by content, so the mutated copies of the negative tests re-parse one file only."""
    return hcl2.loads(text)


def _key(raw: str) -> str:
    return raw.strip('"')


def load_tfvars(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        raw = hcl2.load(handle)
    evaluator = TfEvaluator(path.parent, {})
    return {k: evaluator.value(v) for k, v in raw.items() if k != "__comments__"}


class TfEvaluator:
    """Evaluates one Terraform module (a directory) for given variable values."""

    def __init__(self, directory: Path, variables: dict[str, Any]) -> None:
        self.directory = directory
        self.blocks = _load_tf_dir(directory) if directory.is_dir() else {}
        declared = {}
        for block in self.blocks.get("variable", []):
            for name, conf in block.items():
                declared[_key(name)] = conf
        self.vars = {
            name: variables.get(name, self.value(conf["default"]) if "default" in conf else UNKNOWN)
            for name, conf in declared.items()
        }
        self.locals: dict[str, Any] = {}
        for block in self.blocks.get("locals", []):
            self.locals.update({k: v for k, v in block.items() if k != "__comments__"})
        self._local_cache: dict[str, Any] = {}
        self._module_cache: dict[str, Any] = {}

    # -- values
    def value(self, raw: Any, bind: dict[str, Any] | None = None) -> Any:
        bind = bind or {}
        if isinstance(raw, bool | int | float) or raw is None:
            return raw
        if isinstance(raw, list):
            return [self.value(item, bind) for item in raw]
        if isinstance(raw, dict):
            return {
                _key(k): self.value(v, bind)
                for k, v in raw.items()
                if k not in ("__is_block__", "__comments__", "__start_line__", "__end_line__")
            }
        text = raw.strip()
        if text.startswith("${") and _closing(text, 1) == len(text) - 1:
            return self.expr(text[2:-1], bind)
        return self.expr(text, bind)

    def template(self, body: str, bind: dict[str, Any]) -> Any:
        out, i = [], 0
        while (start := body.find("${", i)) >= 0:
            out.append(body[i:start])
            end = _closing(body, start + 1)
            part = self.expr(body[start + 2 : end], bind)
            if part is UNKNOWN or isinstance(part, list | dict):
                return UNKNOWN
            out.append(f"<{part.path}>" if isinstance(part, Ref) else str(part))
            i = end + 1
        out.append(body[i:])
        return "".join(out)

    def expr(self, text: str, bind: dict[str, Any]) -> Any:
        text = text.strip()
        if text.startswith("(") and _closing(text, 0) == len(text) - 1:
            return self.expr(text[1:-1], bind)
        if (match := _FOR_MAP.match(text)) is not None:
            key_name, value_name, source, key_out, value_out, cond = match.groups()
            items = self.expr(source, bind)
            if not isinstance(items, dict):
                return UNKNOWN
            result = {}
            for key, val in items.items():
                inner = {**bind, key_name: key, value_name: val}
                if cond is None or self.expr(cond, inner) is True:
                    result[inner[key_out]] = inner[value_out]
            return result
        if (match := _FOR_LIST.match(text)) is not None:
            item_name, source, body = match.groups()
            items = self.expr(source, bind)
            if not isinstance(items, list):
                return UNKNOWN
            return [self.expr(body, {**bind, item_name: item}) for item in items]
        question = _split_top(text, "?")
        if len(question) == 2:
            branches = _split_top(question[1], ":")
            cond = self.expr(question[0], bind)
            if not isinstance(cond, bool) or len(branches) != 2:
                return UNKNOWN
            return self.expr(branches[0] if cond else branches[1], bind)
        for op in ("||", "&&", "==", "!=", ">=", "<=", ">", "<"):
            parts = _split_top(text, op)
            if len(parts) == 2:
                left, right = self.expr(parts[0], bind), self.expr(parts[1], bind)
                return _binary(op, left, right)
        if text.startswith("!"):
            inner = self.expr(text[1:], bind)
            return (not inner) if isinstance(inner, bool) else UNKNOWN
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return float(text) if "." in text else int(text)
        if text.startswith('"') and _closing_quote(text) == len(text) - 1:
            return self.template(text[1:-1], bind)
        if text.startswith("["):
            inner = text[1:-1].strip()
            parts = _split_top(inner, ",") if inner else []
            return [self.expr(p, bind) for p in parts if p.strip()]
        if text == "{}":
            return {}
        call = re.match(r"^(\w+)\(", text)
        if call and _closing(text, call.end() - 1) == len(text) - 1:
            raw_args = _split_top(text[call.end() : -1], ",")
            args = [self.expr(a, bind) for a in raw_args if a.strip()]
            return _tf_function(call.group(1), args)
        return self.reference(text, bind)

    def reference(self, text: str, bind: dict[str, Any]) -> Any:
        tokens = re.findall(r"[\w-]+|\[[^\]]*\]", text)
        if not tokens or "".join(t if t.startswith("[") else "." + t for t in tokens)[1:] != text:
            return UNKNOWN
        head = tokens[0]
        if head in bind:
            current, rest = bind[head], tokens[1:]
        elif head == "var" and len(tokens) > 1:
            current, rest = self.vars.get(tokens[1], UNKNOWN), tokens[2:]
        elif head == "local" and len(tokens) > 1:
            current, rest = self.local(tokens[1]), tokens[2:]
        elif head == "each" and "each" in bind:
            current, rest = bind["each"], tokens[1:]
        elif head == "module" and len(tokens) > 1:
            current, rest = self.module_outputs(tokens[1]), tokens[2:]
        else:
            # Another resource's attribute: keep its path, with index keys evaluated (so
            # zone[zone].id inside a for expression names the zone it points at).
            path = tokens[0]
            for token in tokens[1:]:
                if token.startswith("["):
                    key = self.expr(token[1:-1], bind)
                    path += f"[{key!r}]" if not isinstance(key, Ref) else f"[{key.path}]"
                else:
                    path += f".{token}"
            return Ref(path)
        for token in rest:
            key = self.expr(token[1:-1], bind) if token.startswith("[") else token
            in_dict = isinstance(current, dict) and isinstance(key, str) and key in current
            in_list = isinstance(current, list) and isinstance(key, int) and key < len(current)
            if in_dict or in_list:
                current = current[key]
            elif isinstance(current, Ref):
                current = Ref(f"{current.path}.{key}")
            else:
                return UNKNOWN
        return current

    def local(self, name: str) -> Any:
        if name not in self._local_cache:
            raw = self.locals.get(name)
            self._local_cache[name] = UNKNOWN if raw is None else self.value(raw)
        return self._local_cache[name]

    # -- modules and resources
    def module_blocks(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for block in self.blocks.get("module", []):
            for name, conf in block.items():
                yield _key(name), conf

    def module_instances(self, name: str) -> list[tuple[dict[str, Any], TfEvaluator]]:
        conf = dict(self.module_blocks())[name]
        source = self.directory / self.value(conf["source"])
        result = []
        for bind in self._expansions(conf, {}):
            args = {k: self.value(v, bind) for k, v in conf.items() if k not in _META}
            result.append((bind, TfEvaluator(source.resolve(), args)))
        return result

    def module_outputs(self, name: str) -> Any:
        if name not in self._module_cache:
            conf = dict(self.module_blocks())[name]
            outputs = []
            for bind, child in self.module_instances(name):
                values = {}
                for block in child.blocks.get("output", []):
                    for out_name, out_conf in block.items():
                        values[_key(out_name)] = child.value(out_conf["value"])
                outputs.append((bind.get("each", {}).get("key"), values))
            if "for_each" in conf:
                self._module_cache[name] = dict(outputs)
            else:
                self._module_cache[name] = outputs[0][1] if outputs else UNKNOWN
        return self._module_cache[name]

    def _expansions(self, conf: dict[str, Any], bind: dict[str, Any]) -> list[dict[str, Any]]:
        if "for_each" in conf:
            items = self.value(conf["for_each"], bind)
            if isinstance(items, list):
                items = {item: item for item in items}
            if not isinstance(items, dict):
                raise AssertionError(f"{self.directory}: cannot evaluate {conf['for_each']}")
            return [{**bind, "each": {"key": k, "value": v}} for k, v in items.items()]
        if "count" in conf:
            count = self.value(conf["count"], bind)
            if not isinstance(count, int):
                raise AssertionError(f"{self.directory}: cannot evaluate count {conf['count']}")
            return [{**bind, "count": {"index": i}} for i in range(count)]
        return [bind]

    def instances(self, label: str) -> Iterator[Instance]:
        for block in self.blocks.get("resource", []):
            for rtype, named in block.items():
                for rname, conf in named.items():
                    for bind in self._expansions(conf, {}):
                        body = {k: self.value(v, bind) for k, v in conf.items() if k not in _META}
                        yield Instance(
                            kind=_key(rtype),
                            symbol=f"{label}:{_key(rtype)}.{_key(rname)}",
                            body=body,
                            bindings=bind,
                        )
        for name, _conf in self.module_blocks():
            for _bind, child in self.module_instances(name):
                yield from child.instances(f"{label}/module.{name}")


_META = {"source", "for_each", "count", "depends_on", "lifecycle", "__is_block__", "__comments__"}


def _closing_quote(text: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "$" and text.startswith("${", i):
            i = _closing(text, i + 1) + 1
            continue
        if text[i] == '"':
            return i
        i += 1
    return -1


def _binary(op: str, left: Any, right: Any) -> Any:
    if any(v is UNKNOWN or isinstance(v, Ref) for v in (left, right)):
        return UNKNOWN
    if op == "||":
        return bool(left) or bool(right)
    if op == "&&":
        return bool(left) and bool(right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    try:
        return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[op]
    except TypeError:
        return UNKNOWN


def _tf_function(name: str, args: list[Any]) -> Any:
    if any(a is UNKNOWN for a in args):
        return UNKNOWN
    if name == "length" and len(args) == 1 and isinstance(args[0], list | dict | str):
        return len(args[0])
    if name in ("toset", "tolist") and len(args) == 1 and isinstance(args[0], list):
        return list(dict.fromkeys(args[0]))
    if name == "merge" and all(isinstance(a, dict) for a in args):
        merged: dict[str, Any] = {}
        for arg in args:
            merged.update(arg)
        return merged
    if name == "contains" and len(args) == 2 and isinstance(args[0], list):
        return args[1] in args[0]
    return UNKNOWN


# ------------------------------------------------------------------------------------- Bicep


def parse_bicep(path: Path) -> dict[str, Any]:
    return _parse_bicep_text(path.read_text())


@cache
def _parse_bicep_text(text: str) -> dict[str, Any]:
    return BicepParser().parse(text=text)


@cache
def _parse_bicep_expression(text: str) -> Any:
    return BicepParser().parse(text=f"var x = {text}\n")["variables"]["x"]["value"]


def load_bicep_parameters(path: Path) -> dict[str, Any]:
    return {k: v["value"] for k, v in json.loads(path.read_text())["parameters"].items()}


class BicepEvaluator:
    """Evaluates one Bicep file for given parameter values."""

    def __init__(self, path: Path, params: dict[str, Any]) -> None:
        self.path = path
        self.tree = parse_bicep(path)
        self.bind: dict[str, Any] = {}
        self.params = {}
        for name, decl in (self.tree.get("parameters") or {}).items():
            default = self.value(decl["default"]) if decl.get("default") is not None else UNKNOWN
            self.params[name] = params.get(name, default)
        self._vars: dict[str, Any] = {}

    def var(self, name: str) -> Any:
        if name not in self._vars:
            self._vars[name] = self.value(self.tree["variables"][name]["value"], {})
        return self._vars[name]

    def lookup(self, name: str, bind: dict[str, Any]) -> Any:
        if name in bind:
            return bind[name]
        if name in self.params:
            return self.params[name]
        if name in (self.tree.get("variables") or {}):
            return self.var(name)
        return Ref(name)

    def value(self, node: Any, bind: dict[str, Any] | None = None) -> Any:
        bind = bind or {}
        if node is None or isinstance(node, bool | int | float):
            return node
        if isinstance(node, str):
            if "${" in node:
                return self.interpolate(node, bind)
            found = self.lookup(node, bind)
            declared = node in bind or node in self.params
            # A parameter or loop item holding another resource's attribute stays that Ref.
            return node if isinstance(found, Ref) and not declared else found
        if isinstance(node, list):
            return [self.value(item, bind) for item in node]
        if "operator" in node and len(node) == 1:
            return self.operator(node["operator"], bind)
        if "function" in node and len(node) == 1:
            return self.function(node["function"], bind)
        if "loop_type" in node:
            return [self.value(node["config"], b) for b in self.loop(node, bind)]
        return {
            k.strip("'"): self.value(v, bind) for k, v in node.items() if not k.startswith("__")
        }

    def interpolate(self, text: str, bind: dict[str, Any]) -> Any:
        out, i = [], 0
        while (start := text.find("${", i)) >= 0:
            out.append(text[i:start])
            end = text.index("}", start)
            part = self.value(_parse_bicep_expression(text[start + 2 : end]), bind)
            if part is UNKNOWN or isinstance(part, list | dict):
                return UNKNOWN
            out.append(f"<{part.path}>" if isinstance(part, Ref) else str(part))
            i = end + 1
        out.append(text[i:])
        return "".join(out)

    def access(self, base: Any, key: Any, bind: dict[str, Any]) -> Any:
        """``base.key`` where pycep nests the rest of the expression into ``key``."""
        if isinstance(key, dict) and "operator" in key:
            op = key["operator"]
            operands = op["operands"]
            if op["type"] == "property_accessor":
                return self.access(
                    self.access(base, operands["operand_1"], bind), operands["operand_2"], bind
                )
            if op["type"] == "index_accessor":
                inner = self.access(base, operands["operand_1"], bind)
                return self.index(inner, self.value(operands["operand_2"], bind))
            if "operand_1" in operands and "operand_2" in operands:
                # pycep reads `a.b == c` as `a.(b == c)`: apply the access to the left side.
                left = self.access(base, operands["operand_1"], bind)
                return self._apply(op["type"], left, self.value(operands["operand_2"], bind))
            return UNKNOWN
        if not isinstance(key, str):
            return UNKNOWN
        if isinstance(base, Ref):
            return Ref(f"{base.path}.{key}")
        if isinstance(base, dict) and key in base:
            return base[key]
        return UNKNOWN

    def operator(self, op: dict[str, Any], bind: dict[str, Any]) -> Any:
        kind, operands = op["type"], op["operands"]
        if kind == "conditional":
            cond = self.value(operands["condition"], bind)
            if not isinstance(cond, bool):
                return UNKNOWN
            return self.value(operands["true_value" if cond else "false_value"], bind)
        if kind == "not":
            inner = self.value(operands["bool_value"], bind)
            return (not inner) if isinstance(inner, bool) else UNKNOWN
        if kind == "property_accessor":
            first = operands["operand_1"]
            base = self.lookup(first, bind) if isinstance(first, str) else self.value(first, bind)
            return self.access(base, operands["operand_2"], bind)
        if kind == "index_accessor":
            return self.index(
                self.value(operands["operand_1"], bind), self.value(operands["operand_2"], bind)
            )
        if "operand_1" in operands and "operand_2" in operands:
            return self._apply(
                kind,
                self.value(operands["operand_1"], bind),
                self.value(operands["operand_2"], bind),
            )
        return UNKNOWN

    @staticmethod
    def index(base: Any, key: Any) -> Any:
        if isinstance(base, dict) and isinstance(key, str) and key in base:
            return base[key]
        if isinstance(base, list) and isinstance(key, int) and key < len(base):
            return base[key]
        if isinstance(base, Ref) and isinstance(key, int | str):
            return Ref(f"{base.path}[{key!r}]")
        return UNKNOWN

    @staticmethod
    def _apply(kind: str, left: Any, right: Any) -> Any:
        ops = {"and": "&&", "or": "||", "equals": "==", "not_equals": "!="}
        return _binary(ops[kind], left, right) if kind in ops else UNKNOWN

    def function(self, fn: dict[str, Any], bind: dict[str, Any]) -> Any:
        kind, params = fn["type"], fn.get("parameters") or {}
        if kind == "environment":
            return {"suffixes": {"storage": "core.windows.net"}}
        if kind == "filter":
            items = self.value(params["input_array"], bind)
            lam = params["expression"]["detail"]
            if not isinstance(items, list):
                return UNKNOWN
            kept = []
            for item in items:
                verdict = self.value(lam["expression"], {**bind, lam["var_1"]: item})
                if not isinstance(verdict, bool):
                    return UNKNOWN
                if verdict:
                    kept.append(item)
            return kept
        args = {k: self.value(v, bind) for k, v in params.items()}
        if any(v is UNKNOWN for v in args.values()):
            return UNKNOWN
        if kind == "empty":
            value = args["item_to_test"]
            if isinstance(value, Ref):
                return False  # another resource's id or output: known to exist at deploy time
            return len(value) == 0 if isinstance(value, list | dict | str) else UNKNOWN
        if kind == "union" and all(isinstance(v, dict) for v in args.values()):
            merged: dict[str, Any] = {}
            for value in args.values():
                merged.update(value)
            return merged
        if kind == "resource_id" and not args.get("resource_group_name"):
            names = [args[k] for k in ("resource_name_1", "resource_name_2") if args.get(k)]
            if any(isinstance(n, Ref) for n in names):
                return UNKNOWN
            return "/".join(["", "providers", args["resource_type"], *map(str, names)])
        if kind == "replace" and all(isinstance(v, str) for v in args.values()):
            return args["original_string"].replace(args["old_string"], args["new_string"])
        if kind == "subscription_resource_id":
            names = [args[k] for k in ("resource_name_1", "resource_name_2") if args.get(k)]
            return "/".join(["", "providers", args["resource_type"], *map(str, names)])
        return UNKNOWN

    def loop(self, node: dict[str, Any], bind: dict[str, Any]) -> list[dict[str, Any]]:
        loop = node["loop_type"]
        if loop["type"] not in ("array", "array_index"):
            raise AssertionError(f"{self.path}: unsupported loop {loop}")
        detail = loop["detail"]
        items = self.value(detail["array_name"], bind)
        if not isinstance(items, list):
            raise AssertionError(f"{self.path}: cannot evaluate loop over {detail['array_name']}")
        index = detail.get("index_name")
        return [
            {**bind, detail["item_name"]: item, **({index: i} if index else {})}
            for i, item in enumerate(items)
        ]

    def _expansions(self, node: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(bindings, config) for each deployed copy of a resource or module declaration."""
        if "loop_type" in node:
            return [(b, node["config"]) for b in self.loop(node, {})]
        if "condition" in node and "config" in node:
            cond = self.value(node["condition"])
            if not isinstance(cond, bool):
                raise AssertionError(f"{self.path}: cannot evaluate condition {node['condition']}")
            return [({}, node["config"])] if cond else []
        return [({}, node)]

    def instances(self, label: str) -> Iterator[Instance]:
        for symbol, res in (self.tree.get("resources") or {}).items():
            if res["existing"]:
                continue
            for bind, conf in self._expansions(res["config"]):
                yield Instance(
                    kind=res["type"],
                    symbol=f"{label}:{symbol}",
                    body={k: self.value(v, bind) for k, v in conf.items()},
                    bindings=bind,
                    api_version=res.get("api_version") or "",
                )
        for symbol, mod in (self.tree.get("modules") or {}).items():
            child_path = (self.path.parent / mod["detail"]["path"]).resolve()
            for bind, conf in self._expansions(mod["config"]):
                params = {k: self.value(v, bind) for k, v in (conf.get("params") or {}).items()}
                child = BicepEvaluator(child_path, params)
                yield from child.instances(f"{label}/{symbol}({child_path.stem})")

    def existing_types(self) -> dict[str, str]:
        return {
            symbol: res["type"]
            for symbol, res in (self.tree.get("resources") or {}).items()
            if res["existing"]
        }


def bicep_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.bicep"))


def bicep_declared_kinds(root: Path) -> set[str]:
    kinds = set()
    for path in bicep_files(root):
        for res in (parse_bicep(path).get("resources") or {}).values():
            if not res["existing"]:
                kinds.add(res["type"])
    return kinds


def terraform_declared_types(root: Path) -> dict[str, set[str]]:
    """Resource type -> ARM types named in it (azapi resources carry theirs in ``type``)."""
    found: dict[str, set[str]] = {}
    for directory in sorted({p.parent for p in root.rglob("*.tf")}):
        for block in _load_tf_dir(directory).get("resource", []):
            for rtype, named in block.items():
                for conf in named.values():
                    arm = _key(conf.get("type", "")).split("@")[0] if "azapi" in rtype else ""
                    found.setdefault(_key(rtype), set()).update({arm} if arm else set())
    return found


# ------------------------------------------------------------------------- the shared model

# Terraform resource type -> the ARM resource kinds it creates (a Bicep declaration each).
TF_TO_ARM: dict[str, tuple[str, ...]] = {
    "azurerm_resource_group": ("Microsoft.Resources/resourceGroups",),
    "azurerm_virtual_network": ("Microsoft.Network/virtualNetworks",),
    # Bicep declares the subnet (and its NSG association) inside the virtual network.
    "azurerm_subnet": ("Microsoft.Network/virtualNetworks",),
    "azurerm_subnet_network_security_group_association": ("Microsoft.Network/virtualNetworks",),
    "azurerm_network_security_group": ("Microsoft.Network/networkSecurityGroups",),
    "azurerm_user_assigned_identity": ("Microsoft.ManagedIdentity/userAssignedIdentities",),
    "azurerm_private_dns_zone": ("Microsoft.Network/privateDnsZones",),
    "azurerm_private_dns_zone_virtual_network_link": (
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
    ),
    "azurerm_log_analytics_workspace": ("Microsoft.OperationalInsights/workspaces",),
    "azurerm_application_insights": ("Microsoft.Insights/components",),
    # blob_properties is a block of the account in azurerm; the queue service Bicep declares is
    # only the parent of the queue diagnostic setting, which azurerm addresses by id.
    "azurerm_storage_account": (
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Storage/storageAccounts/blobServices",
        "Microsoft.Storage/storageAccounts/queueServices",
        "Microsoft.Insights/diagnosticSettings",
    ),
    "azurerm_key_vault": ("Microsoft.KeyVault/vaults",),
    "azurerm_container_registry": ("Microsoft.ContainerRegistry/registries",),
    "azurerm_machine_learning_compute_cluster": (
        "Microsoft.MachineLearningServices/workspaces/computes",
    ),
    "azurerm_role_assignment": ("Microsoft.Authorization/roleAssignments",),
    "azurerm_private_endpoint": (
        "Microsoft.Network/privateEndpoints",
        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
    ),
    "azurerm_monitor_diagnostic_setting": ("Microsoft.Insights/diagnosticSettings",),
}

TF_PRINCIPALS = {
    "data.azurerm_user_assigned_identity.compute.principal_id": "compute",
    "data.azurerm_user_assigned_identity.workspace.principal_id": "workspace",
}
TF_SCOPES = {
    "azapi_resource.workspace.id": "workspace",
    "azurerm_storage_account.this.id": "storage",
    "azurerm_container_registry.this.id": "container_registry",
    "data.azurerm_resource_group.env.id": "resource_group",
}
BICEP_PRINCIPALS = {
    "network.outputs.computeIdentityPrincipalId": "compute",
    "network.outputs.workspaceIdentityPrincipalId": "workspace",
}
# role-assignments.bicep: the `scope:` symbol of each loop (none = the resource group).
BICEP_SCOPES = {
    "workspace": "workspace",
    "storage": "storage",
    "containerRegistry": "container_registry",
    None: "resource_group",
}

# What a private endpoint or an outbound rule points at, in one vocabulary. The registry's
# storage and ACR are read from the registry's regionDetails at deploy time (a path substring).
TARGETS = {
    "azapi_resource.workspace.id": "workspace",
    "azurerm_storage_account.this.id": "storage",
    "azurerm_key_vault.this.id": "key_vault",
    "azurerm_container_registry.this.id": "container_registry",
    "data.azapi_resource.registry.id": "registry",
    "azapi_resource.registry.id": "registry",
    "workspace.id": "workspace",
    "storage.id": "storage",
    "keyVault.id": "key_vault",
    "containerRegistry.id": "container_registry",
    "sharedRegistry.id": "registry",
    "registry.outputs.registryId": "registry",
}


def target(value: Any) -> str:
    if isinstance(value, Ref):
        if value.path in TARGETS:
            return TARGETS[value.path]
        if "regionDetails" in value.path and "storageAccountDetails" in value.path:
            return "registry_storage"
        if "regionDetails" in value.path and "acrDetails" in value.path:
            return "registry_acr"
        return value.path
    return repr(value)


# Declared resource -> naming-scheme key (common.md). Terraform data sources count too: the
# later stacks look earlier stacks' resources up by name.
TF_NAMED = {
    "aml-vnet:azurerm_resource_group.env": "resource_group",
    "aml-vnet:azurerm_virtual_network.env": "virtual_network",
    "aml-vnet:azurerm_user_assigned_identity.workspace": "workspace_identity",
    "aml-vnet:azurerm_user_assigned_identity.compute": "compute_identity",
    "aml-managed-smi:data.azurerm_resource_group.env": "resource_group",
    "aml-managed-smi:data.azurerm_user_assigned_identity.workspace": "workspace_identity",
    "aml-managed-smi:data.azurerm_user_assigned_identity.compute": "compute_identity",
    "aml-managed-smi:azurerm_log_analytics_workspace.this": "log_analytics",
    "aml-managed-smi:azurerm_application_insights.this": "application_insights",
    "aml-managed-smi:azurerm_storage_account.this": "storage_account",
    "aml-managed-smi:azurerm_key_vault.this": "key_vault",
    "aml-managed-smi:azurerm_container_registry.this": "container_registry",
    "aml-managed-smi:azapi_resource.workspace": "workspace",
    "aml-managed-smi:azurerm_machine_learning_compute_cluster.cpu": "compute_cluster",
    "aml-registry-smi:azurerm_resource_group.shared": "registry_resource_group",
    "aml-registry-smi:azapi_resource.registry": "registry",
    "aml-registry-smi:azurerm_log_analytics_workspace.shared": "shared_log_analytics",
}
BICEP_NAMED = {
    "main:rg": "resource_group",
    "main/network(network):vnet": "virtual_network",
    "main/network(network):workspaceIdentity": "workspace_identity",
    "main/network(network):computeIdentity": "compute_identity",
    "main/workspace(workspace):logAnalytics": "log_analytics",
    "main/workspace(workspace):appInsights": "application_insights",
    "main/workspace(workspace):storage": "storage_account",
    "main/workspace(workspace):keyVault": "key_vault",
    "main/workspace(workspace):containerRegistry": "container_registry",
    "main/workspace(workspace):workspace": "workspace",
    "main/compute(compute):cluster": "compute_cluster",
    "registry:rg": "registry_resource_group",
    "registry/registry(registry):registry": "registry",
    "registry/registry(registry):logAnalytics": "shared_log_analytics",
}


@dataclass
class StackModel:
    """What one stack deploys for one environment (or the shared registry), comparably."""

    flavour: str
    instances: list[Instance]

    def of_kind(self, kind: str) -> list[Instance]:
        return [i for i in self.instances if i.kind == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of_kind(kind)
        if len(found) != 1:
            raise AssertionError(f"{self.flavour}: expected one {kind}, found {len(found)}")
        return found[0].body


def _dig(body: Any, *path: Any) -> Any:
    for key in path:
        try:
            body = body[key]
        except (KeyError, IndexError, TypeError):
            return UNKNOWN
    return body


def _enabled(value: Any) -> Any:
    """'Enabled'/'Disabled' (ARM) -> bool, like azurerm's *_enabled arguments."""
    if isinstance(value, str):
        return {"Enabled": True, "Disabled": False}.get(value, UNKNOWN)
    return value


def terraform_env(root: Path, env: str, overrides: dict[str, Any]) -> StackModel:
    instances = []
    for stack in ("aml-vnet", "aml-managed-smi"):
        variables = {**load_tfvars(root / stack / "env" / f"{env}.tfvars"), **overrides}
        evaluator = TfEvaluator(root / stack, variables)
        instances += [*evaluator.instances(stack), *_tf_data(evaluator, stack)]
    return StackModel("terraform", instances)


def terraform_shared(root: Path, overrides: dict[str, Any]) -> StackModel:
    variables = {**load_tfvars(root / "aml-registry-smi" / "env" / "shared.tfvars"), **overrides}
    evaluator = TfEvaluator(root / "aml-registry-smi", variables)
    return StackModel("terraform", list(evaluator.instances("aml-registry-smi")))


def _tf_data(evaluator: TfEvaluator, label: str) -> Iterator[Instance]:
    for block in evaluator.blocks.get("data", []):
        for dtype, named in block.items():
            for dname, conf in named.items():
                if "for_each" in conf:
                    continue
                body = {k: evaluator.value(v) for k, v in conf.items() if k not in _META}
                yield Instance(
                    f"data.{_key(dtype)}", f"{label}:data.{_key(dtype)}.{_key(dname)}", body
                )


def bicep_env(root: Path, env: str, overrides: dict[str, Any]) -> StackModel:
    params = {**load_bicep_parameters(root / "env" / f"{env}.parameters.json"), **overrides}
    return StackModel("bicep", list(BicepEvaluator(root / "main.bicep", params).instances("main")))


def bicep_shared(root: Path, overrides: dict[str, Any]) -> StackModel:
    params = {**load_bicep_parameters(root / "env" / "shared.parameters.json"), **overrides}
    evaluator = BicepEvaluator(root / "registry.bicep", params)
    return StackModel("bicep", list(evaluator.instances("registry")))


def names(model: StackModel) -> dict[str, list[str]]:
    """Naming-scheme key -> the names the stack gives resources of that key."""
    table = TF_NAMED if model.flavour == "terraform" else BICEP_NAMED
    found: dict[str, list[str]] = {}
    for inst in model.instances:
        if inst.symbol in table:
            found.setdefault(table[inst.symbol], []).append(inst.body.get("name", UNKNOWN))
    return found


def role_assignments(model: StackModel, user_id: str) -> list[tuple[str, str, str]]:
    """(principal, role definition GUID, scope) of every role assignment the stack makes."""
    result = []
    for inst in model.of_kind("Microsoft.Authorization/roleAssignments") + model.of_kind(
        "azurerm_role_assignment"
    ):
        if model.flavour == "terraform":
            principal_id, role_id = inst.body["principal_id"], inst.body["role_definition_id"]
            scope = inst.body["scope"]
            scope_kind = TF_SCOPES.get(scope.path, scope.path) if isinstance(scope, Ref) else scope
            principals = TF_PRINCIPALS
        else:
            principal_id = _dig(inst.body, "properties", "principalId")
            role_id = _dig(inst.body, "properties", "roleDefinitionId")
            scope_kind = BICEP_SCOPES.get(inst.body.get("scope"), repr(inst.body.get("scope")))
            principals = BICEP_PRINCIPALS
        if principal_id == user_id:
            principal = "user"
        elif isinstance(principal_id, Ref):
            principal = principals.get(principal_id.path, principal_id.path)
        else:
            principal = repr(principal_id)
        guid = role_id.rsplit("/", 1)[-1] if isinstance(role_id, str) else repr(role_id)
        result.append((principal, guid, scope_kind))
    return sorted(result)


def private_endpoints(model: StackModel) -> list[str]:
    """Private link sub-resources that get a private endpoint (one entry per endpoint)."""
    if model.flavour == "terraform":
        groups = [
            _dig(i.body, "private_service_connection", 0, "subresource_names")
            for i in model.of_kind("azurerm_private_endpoint")
        ]
    else:
        groups = [
            _dig(i.body, "properties", "privateLinkServiceConnections", 0, "properties", "groupIds")
            for i in model.of_kind("Microsoft.Network/privateEndpoints")
        ]
    return sorted(g for group in groups for g in (group if isinstance(group, list) else [group]))


def _zone_names(ids: Any) -> list[str] | Any:
    """Zone names out of zone ids (Terraform data source paths or Bicep resourceId strings)."""
    if not isinstance(ids, list):
        return UNKNOWN
    names = []
    for zone_id in ids:
        text = zone_id.path if isinstance(zone_id, Ref) else str(zone_id)
        found = re.search(r"(privatelink\.[a-z0-9.-]+)", text)
        names.append(found.group(1) if found else repr(zone_id))
    return sorted(names)


def private_endpoint_targets(model: StackModel) -> list[tuple[str, str, tuple[str, ...]]]:
    """(sub-resource, what it points at, the DNS zones it registers in) per private endpoint."""
    found = []
    if model.flavour == "terraform":
        for inst in model.of_kind("azurerm_private_endpoint"):
            psc = _dig(inst.body, "private_service_connection", 0)
            groups = _dig(psc, "subresource_names")
            zone_ids = _dig(inst.body, "private_dns_zone_group", 0, "private_dns_zone_ids")
            zones = _zone_names(zone_ids)
            found.append(
                (
                    "+".join(groups) if isinstance(groups, list) else repr(groups),
                    target(_dig(psc, "private_connection_resource_id")),
                    tuple(zones) if isinstance(zones, list) else ("UNKNOWN",),
                )
            )
        return sorted(found)
    pending: dict[str, list[Any]] = {}
    for inst in model.instances:
        label = inst.symbol.rsplit(":", 1)[0]
        if inst.kind == "Microsoft.Network/privateEndpoints":
            conn = _dig(inst.body, "properties", "privateLinkServiceConnections", 0, "properties")
            groups = _dig(conn, "groupIds")
            pending.setdefault(label, []).append(
                [
                    "+".join(groups) if isinstance(groups, list) else repr(groups),
                    target(_dig(conn, "privateLinkServiceId")),
                    ("UNKNOWN",),
                ]
            )
        elif inst.kind == "Microsoft.Network/privateEndpoints/privateDnsZoneGroups":
            # A zone group follows its endpoint in the same module copy.
            configs = _dig(inst.body, "properties", "privateDnsZoneConfigs")
            ids = (
                [_dig(c, "properties", "privateDnsZoneId") for c in configs]
                if isinstance(configs, list)
                else UNKNOWN
            )
            zones = _zone_names(ids)
            open_ = [e for e in pending.get(label, []) if e[2] == ("UNKNOWN",)]
            if open_:
                open_[0][2] = tuple(zones) if isinstance(zones, list) else ("UNKNOWN",)
    return sorted(tuple(e) for entries in pending.values() for e in entries)  # type: ignore[misc]


def outbound_rules(model: StackModel) -> dict[str, Any]:
    """The workspace managed network's outbound rules: name -> (type, destination)."""
    if model.flavour == "terraform":
        rules = _dig(_tf_workspace(model), "body", "properties", "managedNetwork", "outboundRules")
    else:
        rules = _dig(model.one(_WORKSPACE), "properties", "managedNetwork", "outboundRules")
    if not isinstance(rules, dict):
        return {"<rules>": repr(rules)}
    out = {}
    for name, rule in rules.items():
        dest = _dig(rule, "destination")
        if isinstance(dest, dict):
            dest = (
                target(dest.get("serviceResourceId")),
                dest.get("subresourceTarget"),
                dest.get("sparkEnabled"),
            )
        out[name] = (_dig(rule, "type"), dest)
    return out


def network(model: StackModel) -> dict[str, Any]:
    """Address space of the environment's virtual network and its private subnet."""
    if model.flavour == "terraform":
        vnet = model.one("azurerm_virtual_network")
        subnet = model.one("azurerm_subnet")
        return {
            "vnet.address_space": vnet["address_space"],
            "subnet.address_prefixes": subnet["address_prefixes"],
        }
    props = model.one("Microsoft.Network/virtualNetworks")["properties"]
    return {
        "vnet.address_space": _dig(props, "addressSpace", "addressPrefixes"),
        "subnet.address_prefixes": [_dig(props, "subnets", 0, "properties", "addressPrefix")],
    }


def private_dns_zones(model: StackModel) -> list[str]:
    kind = (
        "azurerm_private_dns_zone"
        if model.flavour == "terraform"
        else ("Microsoft.Network/privateDnsZones")
    )
    return sorted(i.body.get("name", UNKNOWN) for i in model.of_kind(kind))


_WORKSPACE = "Microsoft.MachineLearningServices/workspaces"
_REGISTRY = "Microsoft.MachineLearningServices/registries"


def _tf_workspace(model: StackModel) -> dict[str, Any]:
    """The Terraform stack's workspace: an azapi_resource of the workspace type."""
    found = [
        i.body
        for i in model.of_kind("azapi_resource")
        if str(i.body.get("type", "")).startswith(_WORKSPACE + "@")
    ]
    if len(found) != 1:
        raise AssertionError(f"terraform: expected one workspace, found {len(found)}")
    return found[0]


def security(model: StackModel) -> dict[str, Any]:
    """The security-relevant settings of an environment stack, in one vocabulary."""
    if model.flavour == "terraform":
        ws_res = _tf_workspace(model)
        ws = _dig(ws_res, "body", "properties")
        st = model.one("azurerm_storage_account")
        kv = model.one("azurerm_key_vault")
        acr = model.one("azurerm_container_registry")
        cc = model.one("azurerm_machine_learning_compute_cluster")
        subnet = model.one("azurerm_subnet")
        return {
            "subnet.default_outbound_access": subnet["default_outbound_access_enabled"],
            "subnet.private_endpoint_network_policies": subnet["private_endpoint_network_policies"],
            "subnet.network_security_group": len(
                model.of_kind("azurerm_subnet_network_security_group_association")
            )
            == 1,
            "workspace.public_network_access": _enabled(_dig(ws, "publicNetworkAccess")),
            "workspace.ip_allowlist": _dig(ws, "ipAllowlist"),
            "workspace.isolation_mode": _dig(ws, "managedNetwork", "isolationMode"),
            "workspace.firewall_sku": _dig(ws, "managedNetwork", "firewallSku"),
            "workspace.system_datastores_auth_mode": _dig(ws, "systemDatastoresAuthMode"),
            "workspace.provision_network_now": _dig(ws, "provisionNetworkNow"),
            "workspace.api_version": str(ws_res.get("type", "")).split("@")[-1],
            "workspace.identity": _dig(ws_res, "identity", 0, "type"),
            "storage.public_network_access": st["public_network_access_enabled"],
            "storage.firewall_default_action": _dig(st, "network_rules", 0, "default_action"),
            "storage.ip_rules": _dig(st, "network_rules", 0, "ip_rules"),
            "storage.blob_public_access": st["allow_nested_items_to_be_public"],
            "storage.shared_key_access": st["shared_access_key_enabled"],
            "storage.local_users": st["local_user_enabled"],
            "storage.min_tls": st["min_tls_version"],
            "storage.https_only": st["https_traffic_only_enabled"],
            "storage.replication": f"{st['account_tier']}_{st['account_replication_type']}",
            "storage.blob_delete_retention_days": _dig(
                st, "blob_properties", 0, "delete_retention_policy", 0, "days"
            ),
            "key_vault.public_network_access": kv["public_network_access_enabled"],
            "key_vault.firewall_default_action": _dig(kv, "network_acls", 0, "default_action"),
            "key_vault.rbac_authorization": kv["enable_rbac_authorization"],
            "key_vault.purge_protection": kv["purge_protection_enabled"],
            "key_vault.soft_delete_retention_days": kv["soft_delete_retention_days"],
            "container_registry.admin_user": acr["admin_enabled"],
            "container_registry.anonymous_pull": acr["anonymous_pull_enabled"],
            "container_registry.quarantine": acr["quarantine_policy_enabled"],
            "container_registry.public_network_access": acr["public_network_access_enabled"],
            "compute.node_public_ip": cc["node_public_ip_enabled"],
            "compute.ssh_public_access": cc["ssh_public_access_enabled"],
            "compute.local_auth": cc["local_auth_enabled"],
            "compute.identity": _dig(cc, "identity", 0, "type"),
            "compute.vm_size": cc["vm_size"],
            "compute.min_nodes": _dig(cc, "scale_settings", 0, "min_node_count"),
            "compute.max_nodes": _dig(cc, "scale_settings", 0, "max_node_count"),
            "compute.idle_before_scale_down": _dig(
                cc, "scale_settings", 0, "scale_down_nodes_after_idle_duration"
            ),
        }
    ws = model.one(_WORKSPACE)["properties"]
    ws_identity = _dig(model.one(_WORKSPACE), "identity", "type")
    st = model.one("Microsoft.Storage/storageAccounts")["properties"]
    kv = model.one("Microsoft.KeyVault/vaults")["properties"]
    acr = model.one("Microsoft.ContainerRegistry/registries")["properties"]
    cluster = model.one("Microsoft.MachineLearningServices/workspaces/computes")
    cc = cluster["properties"]
    local_auth_off = cc.get("disableLocalAuth", UNKNOWN)
    subnets = _dig(model.one("Microsoft.Network/virtualNetworks"), "properties", "subnets")
    subnet = (
        _dig(subnets, 0, "properties") if isinstance(subnets, list) and len(subnets) == 1 else {}
    )
    return {
        "subnet.default_outbound_access": _dig(subnet, "defaultOutboundAccess"),
        "subnet.private_endpoint_network_policies": _dig(subnet, "privateEndpointNetworkPolicies"),
        "subnet.network_security_group": isinstance(_dig(subnet, "networkSecurityGroup"), dict),
        "workspace.public_network_access": _enabled(ws["publicNetworkAccess"]),
        "workspace.ip_allowlist": ws.get("ipAllowlist", []),
        "workspace.isolation_mode": _dig(ws, "managedNetwork", "isolationMode"),
        "workspace.firewall_sku": _dig(ws, "managedNetwork", "firewallSku"),
        "workspace.system_datastores_auth_mode": _dig(ws, "systemDatastoresAuthMode"),
        "workspace.provision_network_now": _dig(ws, "provisionNetworkNow"),
        "workspace.api_version": model.of_kind(_WORKSPACE)[0].api_version,
        "workspace.identity": ws_identity,
        "storage.public_network_access": _enabled(st["publicNetworkAccess"]),
        "storage.firewall_default_action": _dig(st, "networkAcls", "defaultAction"),
        "storage.ip_rules": [r.get("value") for r in _dig(st, "networkAcls", "ipRules")],
        "storage.blob_public_access": st["allowBlobPublicAccess"],
        "storage.shared_key_access": st["allowSharedKeyAccess"],
        "storage.local_users": st["isLocalUserEnabled"],
        "storage.min_tls": st["minimumTlsVersion"],
        "storage.https_only": st["supportsHttpsTrafficOnly"],
        "storage.replication": _dig(model.one("Microsoft.Storage/storageAccounts"), "sku", "name"),
        "storage.blob_delete_retention_days": _dig(
            model.one("Microsoft.Storage/storageAccounts/blobServices"),
            "properties",
            "deleteRetentionPolicy",
            "days",
        ),
        "key_vault.public_network_access": _enabled(kv["publicNetworkAccess"]),
        "key_vault.firewall_default_action": _dig(kv, "networkAcls", "defaultAction"),
        "key_vault.rbac_authorization": kv["enableRbacAuthorization"],
        "key_vault.purge_protection": kv["enablePurgeProtection"],
        "key_vault.soft_delete_retention_days": kv["softDeleteRetentionInDays"],
        "container_registry.admin_user": acr["adminUserEnabled"],
        "container_registry.anonymous_pull": acr["anonymousPullEnabled"],
        "container_registry.quarantine": _enabled(
            {"enabled": "Enabled", "disabled": "Disabled"}.get(
                str(_dig(acr, "policies", "quarantinePolicy", "status")), "?"
            )
        ),
        "container_registry.public_network_access": _enabled(acr["publicNetworkAccess"]),
        "compute.node_public_ip": _dig(cc, "properties", "enableNodePublicIp"),
        "compute.ssh_public_access": _enabled(
            _dig(cc, "properties", "remoteLoginPortPublicAccess")
        ),
        "compute.local_auth": (not local_auth_off) if isinstance(local_auth_off, bool) else UNKNOWN,
        "compute.identity": _dig(cluster, "identity", "type"),
        "compute.vm_size": _dig(cc, "properties", "vmSize"),
        "compute.min_nodes": _dig(cc, "properties", "scaleSettings", "minNodeCount"),
        "compute.max_nodes": _dig(cc, "properties", "scaleSettings", "maxNodeCount"),
        "compute.idle_before_scale_down": _dig(
            cc, "properties", "scaleSettings", "nodeIdleTimeBeforeScaleDown"
        ),
    }


def registry_security(model: StackModel) -> dict[str, Any]:
    if model.flavour == "terraform":
        reg = [
            i.body
            for i in model.of_kind("azapi_resource")
            if str(i.body.get("type", "")).startswith(_REGISTRY)
        ]
        props = _dig(reg, 0, "body", "properties")
    else:
        props = model.one(_REGISTRY)["properties"]
    return {
        "registry.public_network_access": _enabled(_dig(props, "publicNetworkAccess")),
        "registry.storage_blob_public_access": _dig(
            props,
            "regionDetails",
            0,
            "storageAccountDetails",
            0,
            "systemCreatedStorageAccount",
            "allowBlobPublicAccess",
        ),
        "registry.acr_sku": _dig(
            props, "regionDetails", 0, "acrDetails", 0, "systemCreatedAcrAccount", "acrAccountSku"
        ),
    }
