"""The default baseline: the training split of the model an environment serves.

The served version comes from mlops.registry.model_source (dev: the champion; stage and
prod: their release file); its ``pipeline_run_id`` lineage tag (register.py) names the
local pipeline run whose prep step wrote ``runs/<run id>/prep/train_data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops import settings
from mlops.errors import MlopsError
from mlops.registry import local_registry, model_source

RUN_TAG = "pipeline_run_id"


@dataclass(frozen=True)
class Lineage:
    env: str
    name: str
    version: int
    model_dir: Path
    run_id: str | None
    trainer: str | None

    @property
    def train_split(self) -> Path | None:
        if not self.run_id:
            return None
        return settings.runs_dir() / self.run_id / "prep" / "train_data"


def served_lineage(env: str) -> Lineage:
    """The served model of ``env`` with its files cached locally and its lineage tags."""
    model = model_source.served_model(env)
    if model.store == "dev":
        info = local_registry.dev_version(model.version, model.name)
    else:
        info = local_registry.registry_version(model.version, model.name)
    tags = info.tags if info is not None else {}
    return Lineage(
        env, model.name, model.version, model.path, tags.get(RUN_TAG), tags.get("trainer")
    )


def training_split(lineage: Lineage) -> Path:
    """The served model's training split; MlopsError saying what is missing and what to do."""
    split = lineage.train_split
    what = f"{lineage.env} serves {lineage.name} version {lineage.version}"
    if split is None:
        raise MlopsError(f"{what}, which has no {RUN_TAG} tag; pass --baseline")
    if not (split / "data.parquet").is_file():
        raise MlopsError(f"{what}; its training split {split} is gone; pass --baseline")
    return split
