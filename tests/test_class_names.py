"""Names that say one thing (issue 16 #4): one class per name where two would be confused.

Every class under ``mlops/`` and ``data-science/src`` is read with ``ast``. The names the
issue called out are defined once, and no class is named like a module of another part
(``LocalRegistry`` beside ``local_registry.py`` was such a case) unless it is listed
below as one half of the same thing.
"""

from __future__ import annotations

import ast
import functools
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "mlops", ROOT / "data-science" / "src")

#: Defined exactly once in the whole code base.
UNIQUE = ("Decision", "InputError", "LocalEndpoint", "LocalRegistryStore", "RequestError")

#: class -> the module it is named like, with why the two belong together.
SAME_THING = {
    # the Display protocol of each runner; display.py holds its rich implementation
    ("Display", "display"): "the runner's progress interface and its terminal implementation",
    # amlspec's model of a component spec; local/component.py runs one
    ("Component", "component"): "the spec and the twin's runner of the same component",
    # an Azure DevOps stage of the pipeline model; taxi_fare/stage.py is the stage test set,
    # a name both products use for their own thing (not one of ours to rename)
    ("Stage", "stage"): "Azure DevOps' term; the stage environment's test set is another",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@functools.cache
def _classes() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = defaultdict(list)
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    found[node.name].append(path.relative_to(ROOT))
    return found


def _modules() -> set[str]:
    return {p.stem for root in SOURCES for p in root.rglob("*.py")}


def test_the_called_out_names_are_defined_once() -> None:
    classes = _classes()
    twice = {name: [str(p) for p in classes[name]] for name in UNIQUE if len(classes[name]) > 1}
    assert twice == {}, f"defined more than once: {twice}"
    assert all(classes[name] for name in UNIQUE), "a name vanished: strike it from UNIQUE"


def test_no_class_is_named_like_another_module() -> None:
    modules = _modules()
    clashes = sorted(
        (name, str(path))
        for name, paths in _classes().items()
        for path in paths
        if _snake(name) in modules
        and path.stem != _snake(name)
        and (name, _snake(name)) not in SAME_THING
    )
    assert clashes == [], f"classes named like a module elsewhere: {clashes}"


def test_every_listed_pair_still_exists() -> None:
    modules, classes = _modules(), _classes()
    gone = [pair for pair in SAME_THING if pair[0] not in classes or pair[1] not in modules]
    assert gone == [], f"strike from SAME_THING: {gone}"
