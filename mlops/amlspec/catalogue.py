"""Named assets the repository defines (data, environments, components, models), so that
``azureml:NAME@latest`` / ``azureml:NAME:VERSION`` can be checked and resolved offline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlops.amlspec.files import YDict, read
from mlops.amlspec.kinds import kind_of
from mlops.amlspec.references import AssetRef


@dataclass(frozen=True)
class Entry:
    """One spec that defines a named asset."""

    kind: str  # data | environment | component | model
    name: str
    version: str | None
    path: Path
    doc: YDict


@dataclass
class Catalogue:
    """Spec files by kind and name; ``models`` also holds model names pipelines register."""

    entries: dict[str, dict[str, list[Entry]]] = field(default_factory=dict)
    models: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, files: Iterable[Path]) -> Catalogue:
        catalogue = cls()
        for path in sorted({p.resolve() for p in files}):
            doc = read(path)
            if not isinstance(doc, YDict) or ("dependencies" in doc and "$schema" not in doc):
                continue
            kind = kind_of(path, doc)
            if kind in ("data", "environment", "component", "model"):
                catalogue.add(kind, path, doc)
        return catalogue

    @classmethod
    def scan(cls, *folders: Path) -> Catalogue:
        """Every spec under the folders (recursively, skipping hidden folders)."""
        files: list[Path] = []
        for folder in folders:
            if folder.is_dir():
                files += [
                    p
                    for p in folder.rglob("*.y*ml")
                    if p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(folder).parts)
                ]
        return cls.of(files)

    def add(self, kind: str, path: Path, doc: YDict) -> None:
        name = doc.get("name")
        if not isinstance(name, str):
            return
        version = doc.get("version")
        entry = Entry(kind, name, None if version is None else str(version), path, doc)
        self.entries.setdefault(kind, {}).setdefault(name, []).append(entry)
        if kind == "model":
            self.models.add(name)
        # A pipeline registers models under its ``model_name`` input default.
        inputs = doc.get("inputs")
        if kind == "component" and isinstance(inputs, YDict):
            default = inputs.get("model_name")
            if isinstance(default, YDict) and isinstance(default.get("default"), str):
                self.models.add(default["default"])

    def names(self, kind: str) -> set[str]:
        if kind == "model":
            return set(self.models)
        return set(self.entries.get(kind, {}))

    def find(self, kind: str, ref: AssetRef) -> Entry | None:
        """The spec a reference names: its version, or the highest version for latest."""
        found = self.entries.get(kind, {}).get(ref.name, [])
        if ref.version is not None:
            return next((e for e in found if e.version == ref.version), None)
        if not found:
            return None
        return max(found, key=lambda e: _version_key(e.version))


def _version_key(version: str | None) -> tuple[int, int, str]:
    if version is None:
        return (0, 0, "")
    return (1, int(version), "") if version.isdigit() else (1, -1, version)
