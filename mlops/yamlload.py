"""YAML loading that remembers where every key and list item sits (1-based lines).

Two flavours: ``typed`` resolves scalars as YAML 1.1 does (Azure ML reads files
that way); ``strings`` keeps every scalar a string, as Azure DevOps does, so
``true``, ``1`` or ``null`` are never coerced before schema validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

try:  # the C parser is several times faster; the constructors stay in Python
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _BaseLoader = yaml.SafeLoader


class YDict(dict):
    """A mapping with the line of the mapping itself and of each key."""

    line: int = 1
    key_lines: dict[Any, int]
    # For scalar values: the line their text starts on (block scalars start below the key).
    value_lines: dict[Any, int]

    def key_line(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)

    def value_line(self, key: Any) -> int:
        return getattr(self, "value_lines", {}).get(key, self.key_line(key))


class YList(list):
    """A sequence with the line of the sequence itself and of each item."""

    line: int = 1
    item_lines: list[int]

    def item_line(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> YDict:
    loader.flatten_mapping(node)
    result = YDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    result.value_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            key = str(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.ScalarNode):
            block = value_node.style in ("|", ">")
            result.value_lines[key] = value_node.start_mark.line + (2 if block else 1)
    return result


def _sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> YList:
    result = YList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _string(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


class TypedLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Standard scalar resolution, line-tracking containers."""


class StringLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Every scalar is a string (Azure DevOps semantics), line-tracking containers."""


for _loader in (TypedLoader, StringLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
for _tag in (
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG,
):
    StringLoader.add_constructor(_tag, _string)


def load(text: str, *, strings: bool = False) -> Any:
    """Parse one YAML document; raises ``yaml.YAMLError`` with a mark on bad syntax."""
    return yaml.load(text, Loader=StringLoader if strings else TypedLoader)


def load_file(path: Path, *, strings: bool = False) -> Any:
    return load(path.read_text(encoding="utf-8"), strings=strings)


def error_line(exc: yaml.YAMLError) -> int:
    """Line (1-based) a YAML syntax error points at, or 1."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else 1


def error_message(exc: yaml.YAMLError) -> str:
    """One line saying what is wrong, e.g. "while parsing a block mapping: expected <block end>"."""
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    text = ": ".join(str(p) for p in parts if p)
    if not text:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else type(exc).__name__
    return text


def line_at(doc: Any, path: list[Any] | tuple[Any, ...]) -> int:
    """Line of the deepest element of ``path`` (keys and indexes) that exists in ``doc``."""
    line = getattr(doc, "line", 1)
    node = doc
    for part in path:
        if isinstance(node, YDict) and part in node:
            line = node.key_line(part)
            node = node[part]
        elif isinstance(node, YList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_line(part)
            node = node[part]
        else:
            break
    return line
