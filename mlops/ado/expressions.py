"""The Azure DevOps expression language: one parser for ``${{ }}``, ``$[ ]`` and ``condition:``.

Semantics follow https://learn.microsoft.com/en-us/azure/devops/pipelines/process/expressions
(literals, property dereference and index syntax, functions, job status check functions,
type casting): comparisons convert the right operand to the left one's type, and string
comparison is ordinal and case-insensitive; function names are case-insensitive too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlops.ado.errors import ExpressionError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<ident>[A-Za-z_][\w-]*)
      | (?P<punct>[()\[\],.])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Index:
    target: Any
    key: Any  # a node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"unexpected symbol {text[pos:].strip()[:20]!r} in {text!r}")
        kind = match.lastgroup or ""
        result.append((kind, match.group(kind)))
        pos = match.end()
    return result


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            want = f"'{value}'" if value else "a value"
            got = "the end" if token is None else repr(token[1])
            raise ExpressionError(f"expected {want} but found {got} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        if not self.tokens:
            raise ExpressionError("empty expression")
        node = self.expression()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return node

    def expression(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            node: Any = Literal(value[1:-1].replace("''", "'"))
        elif kind == "number":
            node = Literal(float(value) if any(c in value for c in ".eE") else int(value))
        elif kind == "ident":
            lowered = value.lower()
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                self.take("(")
                args: list[Any] = []
                if self.peek() is not None and self.peek()[1] != ")":  # type: ignore[index]
                    args.append(self.expression())
                    while self.peek() is not None and self.peek()[1] == ",":  # type: ignore[index]
                        self.take(",")
                        args.append(self.expression())
                self.take(")")
                node = Call(lowered, tuple(args))
            elif lowered in ("true", "false"):
                node = Literal(lowered == "true")
            elif lowered == "null":
                node = Literal(None)
            else:
                node = Name(value)
        elif value == "(":
            node = self.expression()
            self.take(")")
        else:
            raise ExpressionError(f"unexpected {value!r} in {self.text!r}")
        while self.peek() is not None and self.peek()[1] in (".", "["):  # type: ignore[index]
            if self.take()[1] == ".":
                kind, prop = self.take()
                if kind not in ("ident", "number"):
                    raise ExpressionError(f"expected a property name after '.' in {self.text!r}")
                node = Index(node, Literal(prop))
            else:
                key = self.expression()
                self.take("]")
                node = Index(node, key)
        return node


_CACHE: dict[str, Any] = {}


def parse(text: str) -> Any:
    """The syntax tree of an expression (cached: the same texts recur in every template)."""
    if text not in _CACHE:
        _CACHE[text] = _Parser(text).parse()
    return _CACHE[text]


# Values ---------------------------------------------------------------------------------


def to_bool(value: Any) -> bool:
    """Type casting to Boolean: null, '', 0 and false are false; everything else true."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def to_str(value: Any) -> str:
    """How Azure DevOps renders a value into text: True/False, integral numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    return json.dumps(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(text)
        except ValueError:
            return math.nan
    return math.nan


def _convert_like(left: Any, right: Any) -> Any:
    """The right operand cast to the left operand's type (the documented comparison rule)."""
    if isinstance(left, bool):
        return to_bool(right)
    if isinstance(left, int | float):
        return to_number(right)
    if isinstance(left, str):
        return to_str(right)
    return right


def equals(left: Any, right: Any) -> bool:
    right = _convert_like(left, right)
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if isinstance(left, int | float) and not isinstance(left, bool):
        return float(left) == float(right)
    return bool(left == right)


def _compare(left: Any, right: Any) -> int:
    right = _convert_like(left, right)
    if isinstance(left, str):
        a, b = left.casefold(), str(right).casefold()
    elif isinstance(left, bool | int | float):
        a, b = to_number(left), to_number(right)  # type: ignore[assignment]
    else:
        raise ExpressionError(f"cannot compare {to_str(left)!r} and {to_str(right)!r}")
    return (a > b) - (a < b)


def _index(target: Any, key: Any) -> Any:
    if isinstance(target, Mapping):
        if key in target:
            return target[key]
        wanted = to_str(key).casefold()
        for name, value in target.items():  # property names are case-insensitive
            if str(name).casefold() == wanted:
                return value
        return None
    if isinstance(target, list | tuple):
        number = to_number(key)
        if math.isnan(number) or not float(number).is_integer():
            return None
        position = int(number)
        return target[position] if 0 <= position < len(target) else None
    return None


def _format(template: Any, *args: Any) -> str:
    text = to_str(template)

    def put(match: re.Match[str]) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        position = int(match.group(1))
        if position >= len(args):
            raise ExpressionError(f"format: no argument {{{position}}} in {text!r}")
        return to_str(args[position])

    return re.sub(r"\{\{|\}\}|\{(\d+)(?::[^}]*)?\}", put, text)


def _length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise ExpressionError(f"length: {to_str(value)!r} has no length")


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list | tuple):
        return any(equals(item, needle) for item in haystack)
    return to_str(needle).casefold() in to_str(haystack).casefold()


def _contains_value(collection: Any, needle: Any) -> bool:
    values = collection.values() if isinstance(collection, Mapping) else collection
    if not isinstance(values, Sequence | type({}.values())) or isinstance(values, str):
        return False
    return any(equals(item, needle) for item in values)


def _join(separator: Any, collection: Any) -> str:
    if isinstance(collection, list | tuple):
        return to_str(separator).join(to_str(item) for item in collection)
    return to_str(collection)


def _split(text: Any, separator: Any) -> list[str]:
    return to_str(text).split(to_str(separator))


def _replace(text: Any, old: Any, new: Any) -> str:
    return to_str(text).replace(to_str(old), to_str(new))


def _coalesce(*args: Any) -> Any:
    return next((a for a in args if a is not None and a != ""), None)


# Pure functions by lower-case name, with (min, max) argument counts.
FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Any]]] = {
    "eq": (2, 2, equals),
    "ne": (2, 2, lambda a, b: not equals(a, b)),
    "gt": (2, 2, lambda a, b: _compare(a, b) > 0),
    "ge": (2, 2, lambda a, b: _compare(a, b) >= 0),
    "lt": (2, 2, lambda a, b: _compare(a, b) < 0),
    "le": (2, 2, lambda a, b: _compare(a, b) <= 0),
    "not": (1, 1, lambda a: not to_bool(a)),
    "in": (1, None, lambda a, *rest: any(equals(a, r) for r in rest)),
    "notin": (1, None, lambda a, *rest: not any(equals(a, r) for r in rest)),
    "contains": (2, 2, _contains),
    "containsvalue": (2, 2, _contains_value),
    "startswith": (2, 2, lambda a, b: to_str(a).casefold().startswith(to_str(b).casefold())),
    "endswith": (2, 2, lambda a, b: to_str(a).casefold().endswith(to_str(b).casefold())),
    "format": (1, None, _format),
    "join": (2, 2, _join),
    "split": (2, 2, _split),
    "replace": (3, 3, _replace),
    "lower": (1, 1, lambda a: to_str(a).lower()),
    "upper": (1, 1, lambda a: to_str(a).upper()),
    "trim": (1, 1, lambda a: to_str(a).strip()),
    "length": (1, 1, _length),
    "coalesce": (1, None, _coalesce),
    "converttojson": (1, 1, lambda a: json.dumps(_plain(a), indent=2)),
}
# Short-circuiting functions, evaluated lazily.
_LAZY = ("and", "or", "iif")
# The job status check functions; the runner supplies them (None = not available here).
STATUS_FUNCTIONS = ("succeeded", "failed", "succeededorfailed", "always", "canceled")


@dataclass
class Context:
    """Named values (``parameters``, ``variables``, ``dependencies``, loop variables, ...)."""

    values: Mapping[str, Any]
    status: Callable[[str, tuple[str, ...]], bool] | None = None  # runtime only
    where: str = "template expression"

    def lookup(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        folded = name.casefold()
        for key, value in self.values.items():
            if key.casefold() == folded:
                return value
        raise ExpressionError(f"Unrecognized value: '{name}' (not available in a {self.where})")


def evaluate(node: Any, context: Context) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return context.lookup(node.name)
    if isinstance(node, Index):
        return _index(evaluate(node.target, context), evaluate(node.key, context))
    if isinstance(node, Call):
        return _call(node, context)
    raise ExpressionError(f"cannot evaluate {node!r}")  # pragma: no cover - parser output only


def _call(node: Call, context: Context) -> Any:
    name, args = node.name, node.args
    if name in _LAZY:
        if name == "iif":
            if len(args) != 3:
                raise ExpressionError("iif takes 3 arguments")
            chosen = args[1] if to_bool(evaluate(args[0], context)) else args[2]
            return evaluate(chosen, context)
        if len(args) < 2:
            raise ExpressionError(f"{name} takes at least 2 arguments")
        for arg in args:
            value = to_bool(evaluate(arg, context))
            if name == "and" and not value:
                return False
            if name == "or" and value:
                return True
        return name == "and"
    if name in STATUS_FUNCTIONS:
        if context.status is None:
            raise ExpressionError(f"{name}() is a job status function: only allowed in conditions")
        names = tuple(to_str(evaluate(a, context)) for a in args)
        return context.status(name, names)
    if name not in FUNCTIONS:
        raise ExpressionError(f"Unrecognized function: '{name}'")
    low, high, function = FUNCTIONS[name]
    if len(args) < low or (high is not None and len(args) > high):
        count = str(low) if low == high else f"{low} or more"
        raise ExpressionError(f"{name} takes {count} arguments, got {len(args)}")
    return function(*(evaluate(a, context) for a in args))


def evaluate_text(text: str, context: Context) -> Any:
    return evaluate(parse(text), context)
