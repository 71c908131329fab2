"""Prep step: validate, merge and clean raw trips, engineer the 20 features, split.

Each row's side of the split is a stable hash of the row and the seed (taxi_fare.split),
so adding files never moves a trip that was trained on into the test split, and each
file is prepared on its own (taxi_fare.prep_file) before a combine step adds up the
counts and writes the folders (taxi_fare.combine): memory follows the largest file.

    python prep.py --raw_data data/sample --train_data out/train --test_data out/test \
        --quality_report out/quality
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from taxi_fare.cleaning import top_reasons
from taxi_fare.combine import prep_inputs
from taxi_fare.split import SplitSpec
from taxi_fare.step_files import QUALITY_FILE
from taxi_fare.steps import mlflow_run, run_step

log = logging.getLogger("prep")


def _fraction(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} must be between 0 and 1")
    return share


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--raw_data",
        nargs="+",
        required=True,
        help="raw green/yellow CSV files or folders, or a feature-table CSV",
    )
    parser.add_argument("--train_data", type=Path, required=True)
    parser.add_argument("--test_data", type=Path, required=True)
    parser.add_argument("--quality_report", type=Path, required=True)
    parser.add_argument("--test_size", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--max_drop_fraction",
        type=_fraction,
        default=0.2,
        help="fail when more than this share of rows is dropped",
    )
    return parser.parse_args(argv)


def warm_up_mlflow() -> threading.Thread:
    """Import mlflow, and open an existing sqlite store, on a thread while the data is read.

    Both cost seconds of pure Python that do not depend on the data, while the main
    thread spends its time in pyarrow and numpy, which release the GIL. A store that
    does not exist yet is left alone, so a run that fails on its input creates nothing;
    any failure here is left for the real MLflow calls at the end to report.
    """

    def warm() -> None:
        try:
            import mlflow

            uri = mlflow.get_tracking_uri()
            if uri.startswith("sqlite:///") and Path(uri.removeprefix("sqlite:///")).is_file():
                mlflow.search_experiments(max_results=1)
        except Exception as exc:  # reported by the real call, with its own message
            log.debug("MLflow warm-up failed: %s", exc)

    thread = threading.Thread(target=warm, name="mlflow-warm-up", daemon=True)
    thread.start()
    return thread


def run(args: argparse.Namespace) -> int:
    spec = SplitSpec(args.seed, args.test_size)  # a bad test_size fails before any reading
    mlflow_ready = warm_up_mlflow()
    # Each file's rows are written once, into staging folders; the totals are checked
    # before the output folders are renamed into place (taxi_fare.combine.prep_inputs).
    outputs = (args.train_data, args.test_data, args.quality_report)
    quality = prep_inputs(
        args.raw_data, spec, outputs, args.max_drop_fraction, source=" ".join(args.raw_data)
    )
    data_fingerprint = quality.data_fingerprint
    rows_read, dropped = quality.rows_read, quality.dropped
    rows_kept, train_rows, test_rows = quality.rows_kept, quality.train_rows, quality.test_rows
    if any(dropped.values()):
        log.info(
            "dropped %s of %s rows: %s",
            f"{rows_read - rows_kept:,}",
            f"{rows_read:,}",
            top_reasons(dropped, limit=len(dropped)),
        )
    report = args.quality_report / QUALITY_FILE
    log.info(
        "kept %s rows: %s train, %s test; fingerprint %s",
        f"{rows_kept:,}",
        f"{train_rows:,}",
        f"{test_rows:,}",
        data_fingerprint[:12],
    )

    mlflow_ready.join()
    import mlflow

    with mlflow_run("prep"):
        mlflow.log_params(
            {
                "test_size": args.test_size,
                "seed": args.seed,
                "split_method": spec.method,
                "max_drop_fraction": args.max_drop_fraction,
                "input_files": len(quality.files),
            }
        )
        mlflow.set_tag("data_fingerprint", data_fingerprint)
        mlflow.log_metrics(
            {
                "rows_read": rows_read,
                "rows_kept": rows_kept,
                "train_rows": train_rows,
                "test_rows": test_rows,
                **{f"dropped_{k}": v for k, v in dropped.items()},
            }
        )
        mlflow.log_artifact(str(report), artifact_path="quality")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
