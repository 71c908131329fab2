"""One monitor run: read and check both inputs, predict, compute the signals; retrain."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlops import settings
from mlops.errors import MlopsError
from mlops.monitoring.data import LABEL, Table, read_table
from mlops.monitoring.lineage import Lineage, served_lineage, training_split
from mlops.monitoring.signals import Result, compute
from mlops.monitoring.spec import MonitorSpec, load_monitor_spec, spec_path

log = logging.getLogger(__name__)

#: Below this many target rows the distance thresholds are no longer reliable (the
#: sampling noise of a normalized Wasserstein distance is about 3/sqrt(rows)).
MIN_RELIABLE_ROWS = 1_000


@dataclass
class MonitorRun:
    spec: MonitorSpec
    baseline: Table
    target: Table
    baseline_path: Path
    target_path: Path
    lineage: Lineage | None
    baseline_predictions: np.ndarray | None
    target_predictions: np.ndarray | None
    results: list[Result]

    @property
    def breached(self) -> bool:
        return any(r.breached for r in self.results)


def _predict(model_dir: Path, frame: pd.DataFrame) -> np.ndarray:
    import mlflow.pyfunc

    found = sorted(p.parent for p in model_dir.rglob("MLmodel"))  # az ml model download nests it
    if len(found) != 1:
        raise MlopsError(
            f"{model_dir}: expected one MLflow model (MLmodel file), found {len(found)}"
        )
    model = mlflow.pyfunc.load_model(str(found[0]))
    return np.asarray(model.predict(frame), dtype="float64").reshape(-1)


def monitor(
    env: str,
    target: Path | None = None,
    baseline: Path | None = None,
    model_dir: Path | None = None,
) -> MonitorRun:
    """Compare ``target`` (default: what ``env``'s endpoints collected) with ``baseline``
    (default: the training split of the model ``env`` serves)."""
    spec = load_monitor_spec(spec_path(env))
    target_path = target or settings.collected_dir(env)
    if target is None and not target_path.is_dir():
        raise MlopsError(
            f"{target_path}: nothing collected yet for {env} (serve with `mlops serve --env "
            f"{env}` or pass --target)"
        )
    target_table = read_table(target_path, spec.features)  # bad input fails before anything
    baseline_table = read_table(baseline, spec.features) if baseline is not None else None
    lineage = None
    if baseline is None or model_dir is None:
        if _has_store(env):
            lineage = served_lineage(env)
        elif baseline is None:
            raise MlopsError(
                f"no model registered for {env} yet ({settings.tracking_uri(_store(env))}): "
                "train one (`mlops train`) or pass --baseline"
            )
        else:
            log.warning("no model served in %s: prediction drift needs --model-dir", env)
    baseline_path = baseline or training_split(lineage)  # type: ignore[arg-type]
    if baseline_table is None:
        baseline_table = read_table(baseline_path, spec.features)
    if target_table.rows < MIN_RELIABLE_ROWS:
        log.warning(
            "target has %d rows: below %d the drift thresholds flag sampling noise",
            target_table.rows, MIN_RELIABLE_ROWS,
        )  # fmt: skip
    model = model_dir or (lineage.model_dir if lineage is not None else None)
    base_pred = tgt_pred = None
    if model is not None:
        base_pred = _predict(model, _complete(baseline_table.features))
        tgt_pred = target_table.predictions
        if tgt_pred is None or np.isnan(tgt_pred).any():
            tgt_pred = _predict(model, _complete(target_table.features))
    results = compute(spec, baseline_table.features, target_table.features, base_pred, tgt_pred)
    return MonitorRun(spec, baseline_table, target_table, baseline_path, target_path,
                      lineage, base_pred, tgt_pred, results)  # fmt: skip


def _store(env: str) -> str:
    """The store the served model of ``env`` comes from (model_source.served_model)."""
    return env if env == "dev" else settings.REGISTRY


def _has_store(env: str) -> bool:
    """Whether that store exists: looking a model up in a missing one would create it."""
    return (settings.store_dir(_store(env)) / "mlflow.db").is_file()


def _complete(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a null cannot be scored (score.py refuses them): fill with the column
    median so prediction drift covers every row; the data quality signal reports nulls."""
    if not frame.isna().any().any():
        return frame
    return frame.fillna(frame.median(numeric_only=True))


def retrain(run: MonitorRun, trainer: str | None = None) -> None:
    """Run the training pipeline on the baseline's rows plus the target's (same gate).

    Training happens in dev, as on Azure (the monitoring pipeline queues dev-model-training);
    the candidate is registered only if it beats the dev champion on the same test rows.
    """
    from mlops.local.commands import train

    for name, table, path in (("baseline", run.baseline, run.baseline_path),
                              ("target", run.target, run.target_path)):  # fmt: skip
        if table.labels is None or np.isnan(table.labels).any():
            raise MlopsError(
                f"--retrain: {path} ({name}) has no {LABEL!r} for every row; collected "
                "requests carry no labels: pass labelled trips (raw TLC CSVs or a feature "
                "table) as --target"
            )
    trainer = trainer or (run.lineage.trainer if run.lineage else None) or "rf"
    settings.mlops_home().mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="retrain-", dir=settings.mlops_home()))
    for name, table in (("baseline", run.baseline), ("target", run.target)):
        frame = table.features.copy()
        frame.insert(0, LABEL, table.labels)
        frame.to_csv(folder / f"{name}.csv", index=False)  # the feature-table layout
    log.info("retraining (%s) on %s baseline + %s target rows in %s",
             trainer, f"{run.baseline.rows:,}", f"{run.target.rows:,}", folder)  # fmt: skip
    train(data=[folder], trainer=trainer, env="dev")
