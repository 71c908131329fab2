"""Model data collection for the scoring scripts: each request's inputs and predictions.

Two sinks, chosen by the environment the script runs in (the script never asks where):

- Azure ML online deployment with ``data_collector`` enabled: the Model Data Collector
  library (``azureml-ai-monitoring``), collections ``model_inputs`` and ``model_outputs``,
  as https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data
  documents for a custom scoring script. The deployment sets ``AZUREML_MDC_ENABLED`` /
  ``AZUREML_MDC_CONFIG_PATH`` (azureml-ai-monitoring 1.0.0 azureml/ai/monitoring/config/
  config.py:init_config reads them); without them the library stays off, and so do we.
- Local twin: ``TAXI_FARE_COLLECT_DIR`` names a folder (the ``mlops`` launchers set it
  to ``$MLOPS_HOME/<env>/collected``). Rows are buffered in memory and flushed as one
  parquet file per flush into hourly partitions ``date=YYYY-MM-DD/hour=HH/``: a request
  only appends two references to a list, the write happens every ``FLUSH_SECONDS`` (or
  ``FLUSH_ROWS``) on a background thread and at exit.

Collection never fails a request: a sink error is logged and the rows are dropped.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

logger = logging.getLogger(__name__)

# Not datetime.UTC (3.11+): score.py also serves AutoML models in the curated AutoML image,
# whose Python is 3.10 (mlops/azureml/train/automl-env.yml).
UTC = timezone.utc  # noqa: UP017

DIR_ENV = "TAXI_FARE_COLLECT_DIR"
PREDICTION = "prediction"
COLLECTED_AT = "collected_at"
FLUSH_SECONDS = 5.0
FLUSH_ROWS = 5_000


class Sink(Protocol):
    def __call__(self, features: Any, predictions: Sequence[float]) -> None: ...


def collector(columns: Sequence[str], source: str) -> Sink | None:
    """The sink for this process, or None when collection is off."""
    folder = os.environ.get(DIR_ENV, "")
    if folder:
        return ParquetCollector(Path(folder), tuple(columns), source)
    if os.environ.get("AZUREML_MDC_CONFIG_PATH") or (
        os.environ.get("AZUREML_MDC_ENABLED", "").lower() == "true"
    ):
        return _azure_collector(tuple(columns))
    return None


def _azure_collector(columns: tuple[str, ...]) -> Sink | None:
    try:
        import pandas as pd
        from azureml.ai.monitoring import Collector
    except ImportError:
        logger.warning("data collection is enabled but azureml-ai-monitoring is not installed")
        return None
    # Names match the deployment's data_collector.collections (online-deployment.yml).
    inputs = Collector(name="model_inputs", on_error=lambda e: logger.warning("collect: %s", e))
    outputs = Collector(name="model_outputs", on_error=lambda e: logger.warning("collect: %s", e))

    def sink(features: Any, predictions: Sequence[float]) -> None:
        frame = features if isinstance(features, pd.DataFrame) else pd.DataFrame(
            np.asarray(features), columns=list(columns)
        )  # fmt: skip
        context = inputs.collect(frame)  # correlates the outputs with these inputs
        outputs.collect(pd.DataFrame({"cost": list(predictions)}), context)

    logger.info("collecting model_inputs and model_outputs with the Azure ML data collector")
    return sink


class ParquetCollector:
    """Buffers rows and writes them as parquet files under hourly partitions of ``root``."""

    def __init__(
        self,
        root: Path,
        columns: tuple[str, ...],
        source: str,
        flush_seconds: float = FLUSH_SECONDS,
        flush_rows: int = FLUSH_ROWS,
    ) -> None:
        self.root = root
        self.columns = columns
        self.source = source
        self.flush_rows = flush_rows
        self._lock = threading.Lock()
        self._pending: list[tuple[float, Any, Sequence[float]]] = []
        self._rows = 0
        self._files = itertools.count()
        self._tag = f"{source}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(flush_seconds,), name="collect-flush", daemon=True
        )
        self._thread.start()
        atexit.register(self.close)
        logger.info("collecting model inputs and predictions in %s", root)

    def __call__(self, features: Any, predictions: Sequence[float]) -> None:
        with self._lock:
            self._pending.append((time.time(), features, predictions))
            self._rows += len(predictions)
            full = self._rows >= self.flush_rows
        if full:
            self.flush()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.flush()

    def flush(self) -> list[Path]:
        """Write what is buffered; returns the files written (one per hour touched)."""
        with self._lock:
            pending, self._pending, self._rows = self._pending, [], 0
        if not pending:
            return []
        try:
            return self._write(pending)
        except Exception:  # a full disk must not take the endpoint down
            logger.exception("dropped %d collected requests", len(pending))
            return []

    def _write(self, pending: list[tuple[float, Any, Sequence[float]]]) -> list[Path]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        blocks = [np.asarray(f, dtype="float64").reshape(len(p), -1) for _, f, p in pending]
        values = np.concatenate(blocks)
        predictions = np.concatenate([np.asarray(p, dtype="float64") for _, _, p in pending])
        stamps = np.concatenate([np.full(len(p), t) for t, _, p in pending])
        hours = (stamps // 3600).astype("int64")
        written = []
        for hour in np.unique(hours):
            rows = hours == hour
            table = pa.table(
                {
                    **{name: values[rows, j] for j, name in enumerate(self.columns)},
                    PREDICTION: predictions[rows],
                    COLLECTED_AT: pa.array(
                        (stamps[rows] * 1e6).astype("int64"), pa.timestamp("us", tz="UTC")
                    ),
                }
            )
            start = datetime.fromtimestamp(int(hour) * 3600, UTC)
            folder = self.root / f"date={start:%Y-%m-%d}" / f"hour={start:%H}"
            folder.mkdir(parents=True, exist_ok=True)
            final = folder / f"{self._tag}-{next(self._files):06d}.parquet"
            partial = folder / f".{final.name}.partial"  # readers skip dot files
            pq.write_table(table, partial)
            os.replace(partial, final)
            written.append(final)
        return written

    def close(self) -> None:
        """Stop the timer and write what is left (also registered with atexit)."""
        self._stop.set()
        self.flush()
