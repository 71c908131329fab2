"""The arrows inside ``mlops`` run one way (DESIGN.md section 2, docs/architecture.md).

Every module under ``mlops/`` is parsed with ``ast`` and every import is read, the
function-local ones and those under ``if TYPE_CHECKING:`` included, since a hidden
import is still an arrow. Command areas stand on the floors; no area imports another
sideways except where ``ALLOWED`` says so with a reason. There are no exceptions: an
import against the table fails here with its file and line.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

MLOPS = Path(__file__).resolve().parents[2] / "mlops"

#: Floors every part of mlops may stand on.
BASE = {"errors", "settings", "yamlload", "aml_client"}
#: The floors of the command areas (DESIGN.md: areas "stand on registry, local, amlspec").
AREA_FLOORS = BASE | {"registry", "local", "amlspec"}

#: Which parts of mlops a part may import besides itself (taxi_fare and libraries are
#: always allowed; taxi_fare never imports mlops, tested under tests/data_science).
ALLOWED: dict[str, set[str]] = {
    # floors
    "errors": set(),
    "settings": {"errors"},
    "yamlload": set(),
    # the Azure ML client factory; the ado area plugs its emulator in (aml_client.use_emulator)
    "aml_client": {"errors"},
    "registry": {"errors", "settings"},
    "amlspec": BASE,
    "local": BASE | {"amlspec", "registry"},
    # command areas
    "endpoints": AREA_FLOORS,
    # issue 16 #1: promotion wires the endpoints' local deployer, scoring client and smoke test
    "promotion": AREA_FLOORS | {"endpoints"},
    "monitoring": AREA_FLOORS,
    "azure": AREA_FLOORS,
    # the az emulator of `mlops ado run` serves and scores the endpoints it emulates with the
    # endpoints area's local inference server, traffic router and batch scorer (one serving
    # path for `mlops serve`, the local deployer and the emulated Azure); endpoints never
    # import ado, so this is a layer, not a loop
    "ado": AREA_FLOORS | {"endpoints"},
    # DESIGN.md: checks are "offline rules over amlspec, the Azure DevOps model and config";
    # `mlops validate` compiles pipelines with ado's expander rather than keeping a second one
    "checks": AREA_FLOORS | {"ado"},
    "datagen": BASE,
    # the command line registers every area's sub-app
    "cli": {"*"},
    "__main__": {"*"},
}


def _module_name(path: Path, root: Path = MLOPS) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path = MLOPS) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, at any depth."""
    module = _module_name(path, root)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return found


def _part(module: str) -> str:
    """``mlops.promotion.commands`` -> ``promotion``; ``mlops.errors`` -> ``errors``."""
    return module.split(".")[1]


@functools.cache
def _arrows() -> list[tuple[str, int, str]]:
    arrows = []
    for path in sorted(MLOPS.rglob("*.py")):
        module = _module_name(path)
        if module == "mlops":
            continue
        for line, target in _imports(path):
            if target.startswith("mlops.") and _part(target) != _part(module):
                arrows.append((module, line, target))
    return arrows


def _breaks(module: str, target: str) -> bool:
    allowed = ALLOWED[_part(module)]
    return "*" not in allowed and _part(target) not in allowed


def test_every_part_of_mlops_has_a_row_in_the_table() -> None:
    parts = {_part(_module_name(p)) for p in MLOPS.rglob("*.py") if p != MLOPS / "__init__.py"}
    assert parts - ALLOWED.keys() == set(), "add the new package to ALLOWED (and the docs)"


def test_imports_run_only_the_allowed_directions() -> None:
    wrong = [
        f"{module.replace('.', '/')}.py:{line}: {module} imports {target}"
        for module, line, target in _arrows()
        if _breaks(module, target)
    ]
    assert wrong == [], "\n".join(wrong)


def test_the_floors_import_no_command_area() -> None:
    areas = {"endpoints", "promotion", "monitoring", "azure", "ado", "checks", "datagen"}
    for floor in ("registry", "amlspec", "local", "errors", "settings", "yamlload", "aml_client"):
        assert ALLOWED[floor] & areas == set(), floor


def test_no_two_parts_import_each_other() -> None:
    edges = {(_part(m), _part(t)) for m, _, t in _arrows() if "*" not in ALLOWED[_part(m)]}
    loops = sorted((a, b) for a, b in edges if (b, a) in edges and a < b)
    assert loops == [], f"packages importing each other: {loops}"


@pytest.mark.parametrize(
    ("source", "module", "target"),
    [
        (
            "def f():\n    from mlops.promotion import promote\n",
            "mlops.endpoints.x",
            "mlops.promotion",
        ),
        ("from ..promotion import promote\n", "mlops.registry.x", "mlops.promotion"),
        (
            "if TYPE_CHECKING:\n    import mlops.azure.jobs\n",
            "mlops.registry.x",
            "mlops.azure.jobs",
        ),
    ],
)
def test_the_reader_sees_hidden_and_relative_imports(
    tmp_path: Path, source: str, module: str, target: str
) -> None:
    root = tmp_path / "mlops"
    path = root / Path(*module.split(".")[1:]).with_suffix(".py")
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert target in [t for _, t in _imports(path, root)]
    assert _breaks(module, target)
