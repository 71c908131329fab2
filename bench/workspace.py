"""The bench's scratch folder and the inputs several benches share (made once, on demand).

Everything lives under one work folder: generated raw CSVs, prep's split folders, the
trained model, and an MLflow store and ``MLOPS_HOME`` of its own, so a bench run never
touches the repository's ``.mlops/``. Building an input here is never timed.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.procs import run_measured

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
SRC = REPO_ROOT / "data-science" / "src"
SEED = 7
#: ``make train``'s TIME_BUDGET: the AutoML model the online bench serves is that one.
AUTOML_BUDGET_SECONDS = 60


@dataclass(frozen=True)
class Sizes:
    """How big each bench is: quick (a few minutes on 2 cores) or full (10 million rows)."""

    mode: str
    prep_rows: int
    train_rows: int
    batch_rows: int
    online_requests: int
    online_warmup: int
    #: Timed runs of each side of a ratio, alternating ours and the floor; the fastest
    #: counts, which filters out the moments another process held the CPU.
    repeats: int

    @classmethod
    def quick(cls) -> Sizes:
        # 50,000 training rows: the fit (about 45 s on 2 quiet cores) dominates the step's
        # fixed costs, as on real data; at 20,000 rows start-up and saving were a third.
        return cls("quick", 1_000_000, 50_000, 300_000, 1_000, 100, 2)

    @classmethod
    def full(cls) -> Sizes:
        return cls("full", 10_000_000, 200_000, 2_000_000, 4_000, 200, 1)


class Workspace:
    """Paths and lazily built shared inputs of one bench run."""

    def __init__(self, root: Path, sizes: Sizes) -> None:
        self.root = root
        self.sizes = sizes
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs = root / "logs"
        self._store_ready = False

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for measured subprocesses: our own MLflow store and MLOPS_HOME."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_RUN")}
        env.update(
            MLFLOW_TRACKING_URI=self.tracking_uri,
            MLOPS_HOME=str(self.root / "mlops-home"),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def ensure_store(self) -> None:
        """Create the MLflow store before any timing: its first use runs migrations (seconds)."""
        if self._store_ready:
            return
        code = "import mlflow; mlflow.MlflowClient().search_experiments()"
        run_measured([sys.executable, "-c", code], env=self.env(), log_file=self.logs / "store.log")
        self._store_ready = True

    def raw_data(self) -> Path:
        """Generated raw TLC CSVs (green and yellow) of ``prep_rows`` rows in total."""
        folder = self.root / f"raw-{self.sizes.prep_rows}"
        done = folder / ".complete"
        if not done.exists():
            from mlops.datagen.generator import generate

            log.info("generating %s raw rows in %s", f"{self.sizes.prep_rows:,}", folder)
            files_per_kind = max(2, self.sizes.prep_rows // 1_000_000)
            generate(self.sizes.prep_rows, folder, SEED, files_per_kind)
            done.write_text("")
        return folder

    @property
    def prep_out(self) -> Path:
        return self.root / "prep"

    def splits(self) -> tuple[Path, Path]:
        """prep's train and test folders; prep runs here (untimed) if the prep bench did not."""
        train, test = self.prep_out / "train", self.prep_out / "test"
        if not (train / "data.parquet").exists() or not (test / "data.parquet").exists():
            self.ensure_store()
            run_measured(self.prep_command(self.raw_data()), env=self.env(),
                         log_file=self.logs / "prep-untimed.log")  # fmt: skip
        return train, test

    def prep_command(self, raw: Path) -> list[str]:
        out = self.prep_out
        return [
            sys.executable, str(SRC / "prep.py"), "--raw_data", str(raw),
            "--train_data", str(out / "train"), "--test_data", str(out / "test"),
            "--quality_report", str(out / "quality"), "--seed", str(SEED),
        ]  # fmt: skip

    def train_subset(self) -> Path:
        """A split folder with a seeded sample of ``train_rows`` rows of prep's train split."""
        folder = self.root / f"train-{self.sizes.train_rows}"
        if not (folder / "data.parquet").exists():
            import pandas as pd
            from taxi_fare.split import write_split

            train, _ = self.splits()
            table = pd.read_parquet(train / "data.parquet")
            rows = min(self.sizes.train_rows, len(table))
            write_split(table.sample(n=rows, random_state=SEED).reset_index(drop=True), folder)
        return folder

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    def train2_command(self, train_data: Path, model_output: Path) -> list[str]:
        return [
            sys.executable, str(SRC / "train2.py"), "--train_data", str(train_data),
            "--model_output", str(model_output), "--seed", str(SEED),
        ]  # fmt: skip

    @property
    def automl_model_dir(self) -> Path:
        return self.root / "automl-model"

    def automl_commands(self, train_data: Path, work: Path) -> list[list[str]]:
        """``make train``'s AutoML path on ``train_data``: featurize, the AutoML node of
        pipeline-automl.yml as the local twin runs it (60 s budget), package."""
        import yaml

        from mlops.local.automl import map_automl_node

        spec = REPO_ROOT / "mlops/azureml/train/pipeline-automl.yml"
        node = yaml.safe_load(spec.read_text())["jobs"]["train"]
        stand_in = map_automl_node(node, str(spec), time_budget_seconds=AUTOML_BUDGET_SECONDS)
        features, best = work / "features", work / "best"
        options = [
            arg
            for key, value in sorted(stand_in.inputs.items())
            if key != "train_data"
            for arg in (f"--{key}", str(value).lower() if isinstance(value, bool) else str(value))
        ]
        py = sys.executable
        return [
            [py, str(SRC / "featurize.py"), "--train_data", str(train_data),
             "--features_data", str(features)],
            [py, str(SRC / "train.py"), "--train_data", str(features), "--model_output",
             str(best), "--seed", str(SEED), *options],
            [py, str(SRC / "package.py"), "--best_model", str(best), "--sample_data",
             str(train_data), "--model_output", str(self.automl_model_dir)],
        ]  # fmt: skip

    def automl_model(self) -> Path:
        """The packaged AutoML model (the default trainer's) on the train bench's rows;
        trained here, untimed, once."""
        if not (self.automl_model_dir / "MLmodel").exists():
            import shutil

            self.ensure_store()
            work = self.root / "automl-work"
            shutil.rmtree(work, ignore_errors=True)
            for i, argv in enumerate(self.automl_commands(self.train_subset(), work)):
                run_measured(argv, env=self.env(), log_file=self.logs / f"automl-{i}.log")
        return self.automl_model_dir

    def model(self) -> Path:
        """The train2 model of the train bench; trained here (untimed) if it did not run."""
        if not (self.model_dir / "MLmodel").exists():
            self.ensure_store()
            run_measured(self.train2_command(self.train_subset(), self.model_dir), env=self.env(),
                         log_file=self.logs / "train2-untimed.log")  # fmt: skip
        return self.model_dir
