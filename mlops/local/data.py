"""Local data assets: ``mlops data create`` / ``mlops data list``, and ``azureml:NAME@latest``
/ ``azureml:NAME:VERSION`` resolved to a folder or file on this machine.

Registered versions live under ``$MLOPS_HOME/data/<name>/<version>/`` as a snapshot of the
data (``az ml data create`` uploads a local path, so later edits do not change a version)
plus ``asset.json``. A reference resolves to a registered version first; failing that, to
a data spec in the repository with that name (and version), as if CI had created it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from mlops import settings
from mlops.amlspec.catalogue import Catalogue
from mlops.amlspec.files import YDict, is_local, local_path, read
from mlops.amlspec.references import asset_ref, datastore_path
from mlops.errors import MlopsError

DATA_TYPES = ("uri_folder", "uri_file", "mltable")
_META = "asset.json"


@dataclass(frozen=True)
class DataAsset:
    """One registered version."""

    name: str
    version: str
    type: str
    path: str  # the snapshot (a folder, or a file for uri_file)
    source: str  # what was registered
    description: str = ""


def data_root() -> Path:
    return settings.mlops_home() / "data"


def datastore_root() -> Path:
    """Where ``azureml://datastores/<ds>/paths/...`` lives locally."""
    return settings.mlops_home() / "datastores"


def list_assets(name: str | None = None) -> list[DataAsset]:
    """Registered versions, by name then version (numeric versions in numeric order)."""
    root = data_root()
    found: list[DataAsset] = []
    if not root.is_dir():
        return found
    for meta in sorted(root.glob(f"{name or '*'}/*/{_META}")):
        try:
            found.append(DataAsset(**json.loads(meta.read_text())))
        except (OSError, ValueError, TypeError) as exc:
            raise MlopsError(f"{meta}: unreadable data asset record ({exc})") from None
    return sorted(found, key=lambda a: (a.name, _version_key(a.version)))


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)


def create(spec_file: Path, name: str | None = None, version: str | None = None) -> DataAsset:
    """Register a data spec's local path as a new version (a snapshot copy).

    Without a version the next integer is taken, as Azure ML auto-increments a data asset
    created without one (azure-ai-ml 1.35.2 azure/ai/ml/entities/_assets/asset.py:
    ``_auto_increment_version = self.name and not self._version``). A version that exists
    is refused: asset versions are immutable.
    """
    spec_file = Path(spec_file).resolve()
    doc = read(spec_file)
    if not isinstance(doc, YDict):
        raise MlopsError(f"{spec_file}:{doc.line}: {doc.message}")
    kind = str(doc.get("type", "uri_folder"))
    if kind not in DATA_TYPES:
        raise MlopsError(
            f"{spec_file}:{doc.key_line('type')}: type {kind!r} is not one of "
            f"{', '.join(DATA_TYPES)}"
        )
    name = name or (doc.get("name") if isinstance(doc.get("name"), str) else None)
    if not name:
        raise MlopsError(f"{spec_file}:{doc.line}: a data asset needs a name (or --name)")
    raw_path = doc.get("path")
    if not isinstance(raw_path, str):
        raise MlopsError(f"{spec_file}:{doc.line}: a data asset needs a path")
    if not is_local(raw_path):
        raise MlopsError(
            f"{spec_file}:{doc.key_line('path')}: path {raw_path!r} is not local; "
            "the twin registers local files and folders only"
        )
    source = local_path(spec_file.parent, raw_path)
    if kind == "uri_file" and not source.is_file():
        raise MlopsError(f"{spec_file}:{doc.key_line('path')}: {source} is not a file")
    if kind != "uri_file" and not source.is_dir():
        raise MlopsError(f"{spec_file}:{doc.key_line('path')}: {source} is not a folder")
    existing = list_assets(name)
    given = version or (None if doc.get("version") is None else str(doc.get("version")))
    if given is None:
        numbers = [int(a.version) for a in existing if a.version.isdigit()]
        given = str(max(numbers, default=0) + 1)
    elif any(a.version == given for a in existing):
        raise MlopsError(
            f"data asset {name} version {given} already exists (versions are immutable)"
        )
    target = data_root() / name / given
    staging = target.with_name(f".{given}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    files = staging / "files"
    if kind == "uri_file":
        files.mkdir(parents=True)
        shutil.copy2(source, files / source.name)
        snapshot = target / "files" / source.name
    else:
        shutil.copytree(source, files)
        snapshot = target / "files"
    description = doc.get("description") if isinstance(doc.get("description"), str) else ""
    asset = DataAsset(name, given, kind, str(snapshot), str(source), description.strip())
    (staging / _META).write_text(json.dumps(asdict(asset), indent=2) + "\n")
    staging.rename(target)  # the version appears whole, or not at all
    return asset


def resolve(reference: str, catalogue: Catalogue | None, where: str) -> Path:
    """The local path an ``azureml:`` data reference (or datastore URI) stands for."""
    store = datastore_path(reference)
    if store is not None:
        return datastore_root() / store[0] / store[1]
    ref = asset_ref(reference)
    if ref is None:
        raise MlopsError(f"{where}: '{reference}' is not a data asset reference")
    if ref.registry is not None:
        raise MlopsError(f"{where}: '{reference}' lives in an Azure ML registry; not local")
    if ref.label not in (None, "latest"):
        raise MlopsError(f"{where}: label '@{ref.label}' is not known locally (only @latest)")
    registered = list_assets(ref.name)
    if ref.version is not None:
        registered = [a for a in registered if a.version == ref.version]
    if registered:
        return Path(registered[-1].path)
    entry = catalogue.find("data", ref) if catalogue is not None else None
    spec_path = entry.doc.get("path") if entry is not None else None
    if entry is not None and isinstance(spec_path, str) and is_local(spec_path):
        return local_path(entry.path.parent, spec_path)
    raise MlopsError(
        f"{where}: data asset '{ref}' is neither registered locally (mlops data list) "
        "nor defined in the repository"
    )
