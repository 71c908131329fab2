"""The stable split (a row's side is a function of the row) and the fair gate built on it.

Unit tests of ``taxi_fare.split``, then one store per module: train on files A, then on
A plus B with the same seed, and on another seed, through prep -> train2 -> evaluate ->
register, checking which rows the gate judged on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import evaluate
import numpy as np
import pandas as pd
import prep
import pytest
import register
import train2
from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.split import (
    KEY_COLUMNS,
    SplitError,
    SplitSpec,
    holdout_fraction,
    is_test,
    row_hashes,
    seeded_split,
    split_columns,
)

NAME = "taxi-fare"
SRC = Path(__file__).resolve().parents[2] / "data-science" / "src"


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({name: rng.normal(size=n) for name in KEY_COLUMNS})


def keys(frame: pd.DataFrame) -> set[tuple[float, ...]]:
    return set(map(tuple, frame[list(KEY_COLUMNS)].to_numpy().tolist()))


# --------------------------------------------------------------------------- the split itself


def test_hash_is_pinned_across_processes_and_versions() -> None:
    """A fixed row hashes to a fixed value: in this process and in a fresh one."""
    row = {name: [float(i) + 0.25] for i, name in enumerate(KEY_COLUMNS)}
    here = int(row_hashes(row, 42)[0])
    code = (
        "from taxi_fare.split import KEY_COLUMNS, row_hashes;"
        "row = {n: [float(i) + 0.25] for i, n in enumerate(KEY_COLUMNS)};"
        "print(int(row_hashes(row, 42)[0]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=SRC, capture_output=True, text=True, check=True
    )
    assert int(done.stdout) == here == 831693392823599196


def test_side_depends_on_the_row_alone() -> None:
    """Reordering, adding rows or cutting the table into pieces never moves a row."""
    base = table(2000)
    side = is_test(base, SplitSpec(42, 0.3))
    shuffled = base.sample(frac=1.0, random_state=1)
    assert (is_test(shuffled, SplitSpec(42, 0.3)) == side[shuffled.index.to_numpy()]).all()
    grown = pd.concat([table(3000, seed=9), base], ignore_index=True)
    assert (is_test(grown, SplitSpec(42, 0.3))[3000:] == side).all()
    pieces = np.concatenate(
        [is_test(base.iloc[i : i + 7], SplitSpec(42, 0.3)) for i in range(0, 2000, 7)]
    )
    assert (pieces == side).all()
    assert not (is_test(base, SplitSpec(43, 0.3)) == side).all()  # the seed matters


def test_test_share_is_close_to_test_size() -> None:
    big = table(200_000, seed=3)
    for test_size in (0.1, 0.3, 0.5):
        share = float(is_test(big, SplitSpec(7, test_size)).mean())
        # Binomial sd at 200,000 rows is at most 0.0011: 0.005 is over four of them.
        assert abs(share - test_size) < 0.005, (test_size, share)


def test_larger_test_size_keeps_every_test_row() -> None:
    rows = table(5000)
    small, large = is_test(rows, SplitSpec(42, 0.2)), is_test(rows, SplitSpec(42, 0.3))
    assert large[small].all() and large.sum() > small.sum()


def test_duplicates_and_signed_zero_share_a_side() -> None:
    rows = pd.concat([table(50)] * 3, ignore_index=True)
    fraction = holdout_fraction(rows, 5).reshape(3, 50)
    assert (fraction[0] == fraction[1]).all() and (fraction[1] == fraction[2]).all()
    zeros = {name: np.array([0.0, -0.0]) for name in KEY_COLUMNS}
    first, second = holdout_fraction(zeros, 5)
    assert first == second


def test_split_needs_rows_on_both_sides() -> None:
    with pytest.raises(SplitError, match="need rows on both sides"):
        seeded_split(pd.concat([table(1)] * 5, ignore_index=True), 0.3, 42)
    with pytest.raises(SplitError, match="test_size must be between 0 and 1"):
        SplitSpec(1, 1.5)


def test_split_columns_agrees_with_is_test() -> None:
    rows = table(500)
    train, test = split_columns({k: v.to_numpy().copy() for k, v in rows.items()}, 0.3, 11)
    mask = is_test(rows, SplitSpec(11, 0.3))
    assert len(test[TARGET]) == mask.sum() and len(train[TARGET]) == (~mask).sum()
    assert keys(pd.DataFrame(test)) == keys(rows[mask])


def test_split_tags_round_trip() -> None:
    spec = SplitSpec(8, 0.25)
    assert SplitSpec.from_tags(spec.tags()) == spec
    assert SplitSpec.from_tags({"split_seed": "8"}) is None
    with pytest.raises(SplitError, match="split tags"):
        SplitSpec.from_tags({**spec.tags(), "split_seed": "eight"})


# --------------------------------------------------------------------------- the fair gate


def args(**flags: object) -> list[str]:
    return [item for key, value in flags.items() for item in (f"--{key}", str(value))]


def run_prep(out: Path, *raw: Path, seed: int = 42) -> Path:
    argv = [
        "--raw_data",
        *map(str, raw),
        *args(
            train_data=out / "train",
            test_data=out / "test",
            quality_report=out / "quality",
            seed=seed,
        ),
    ]
    assert prep.main(argv) == 0
    return out


def fit(split: Path) -> Path:
    model = split / "model"
    # A few hundred rows: small leaves and enough trees that twice the rows reliably wins
    # (with train2's defaults' leaves of 10 and 8 trees it can lose by chance).
    argv = args(train_data=split / "train", model_output=model, n_estimators=24, max_depth=10,
                min_samples_leaf=2, seed=1)  # fmt: skip
    assert train2.main(argv) == 0
    return model


def gate(model: Path, split: Path, out: Path, *extra: str) -> dict:
    argv = [*args(model_input=model, test_data=split / "test", evaluation_output=out), *extra]
    assert evaluate.main(argv) == 0
    return json.loads((out / "decision.json").read_text())


def enrol(model: Path, evaluation: Path, split: Path) -> dict:
    out = evaluation.parent / f"{evaluation.name}-info"
    argv = args(
        model_input=model,
        evaluation_output=evaluation,
        model_info_output=out,
        quality_report=split / "quality",
    )
    assert register.main(argv) == 0
    return json.loads((out / "model_info.json").read_text())


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory, raw_folder: Path, tracking_uri: str) -> dict:
    """Files A (600 trips) trained and registered, then A plus B (600 more) the same way."""
    from mlops.datagen.generator import generate

    work = tmp_path_factory.mktemp("grown")
    more = work / "raw-b"
    generate(600, more, seed=21, files_per_kind=1)
    first = run_prep(work / "a", raw_folder)
    first_model = fit(first)
    first_decision = gate(first_model, first, work / "eval-a")
    first_info = enrol(first_model, work / "eval-a", first)
    second = run_prep(work / "ab", raw_folder, more)
    second_model = fit(second)
    second_decision = gate(second_model, second, work / "eval-ab")
    second_info = enrol(second_model, work / "eval-ab", second)
    return {
        "work": work,
        "raw": (raw_folder, more),
        "first": first,
        "second": second,
        "second_model": second_model,
        "decisions": (first_decision, second_decision),
        "infos": (first_info, second_info),
    }


def test_grown_data_keeps_training_rows_out_of_the_test_split(grown: dict) -> None:
    first_train = keys(pd.read_parquet(grown["first"] / "train/data.parquet"))
    first_test = keys(pd.read_parquet(grown["first"] / "test/data.parquet"))
    second_test = keys(pd.read_parquet(grown["second"] / "test/data.parquet"))
    second_train = keys(pd.read_parquet(grown["second"] / "train/data.parquet"))
    assert not first_train & second_test
    assert first_test <= second_test and first_train <= second_train


def test_model_trained_on_more_data_wins_on_rows_neither_saw(grown: dict) -> None:
    first_decision, second_decision = grown["decisions"]
    assert first_decision["promote"] is True and grown["infos"][0]["version"] == 1
    assert second_decision["champion_version"] == 1
    # Same seed: the champion trained on none of the new test rows, so all are judged.
    assert second_decision["judged_rows"] == second_decision["test_rows"] > 300
    assert second_decision["promote"] is True, second_decision["reason"]
    assert grown["infos"][1]["registered"] is True and grown["infos"][1]["version"] == 2
    from mlflow import MlflowClient

    tags = MlflowClient().get_model_version(NAME, "2").tags
    assert SplitSpec.from_tags(tags) == SplitSpec(42, 0.3)
    assert tags["gate_champion_version"] == "1"


def test_other_seed_judges_only_rows_the_champion_did_not_train_on(grown: dict) -> None:
    work = grown["work"]
    resplit = run_prep(work / "ab-seed8", *grown["raw"], seed=8)
    test = pd.read_parquet(resplit / "test/data.parquet")
    unseen = is_test(test, SplitSpec(42, 0.3))  # the champion (v2) split with seed 42
    decision = gate(grown["second_model"], resplit, work / "eval-seed8")
    assert decision["champion_version"] == 2 and decision["test_rows"] == len(test)
    assert decision["judged_rows"] == int(unseen.sum()) < len(test)
    assert decision["champion_split"]["seed"] == 42 and decision["split"]["seed"] == 8
    # The champion is this very model: on the judged rows both score the same.
    assert decision["champion"] == pytest.approx(decision["challenger"])
    assert decision["promote"] is False


def test_too_few_unseen_rows_fail_closed(grown: dict) -> None:
    work = grown["work"]
    decision = gate(
        grown["second_model"], grown["second"], work / "eval-few", "--min_test_rows", "100000"
    )
    assert decision["promote"] is False
    assert decision["reason"].startswith("fail closed: champion version 2: only ")
    assert "fewer than min_test_rows 100000" in decision["reason"]
    assert decision["judged_rows"] == decision["test_rows"]


def test_champion_without_a_recorded_split_fails_closed(grown: dict) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    saved = client.get_model_version(NAME, "2").tags
    client.delete_model_version_tag(NAME, "2", "split_seed")
    try:
        decision = gate(grown["second_model"], grown["second"], grown["work"] / "eval-untagged")
    finally:
        client.set_model_version_tag(NAME, "2", "split_seed", saved["split_seed"])
    assert decision["promote"] is False
    assert "records no split" in decision["reason"]
    assert set(FEATURES) <= set(pd.read_parquet(grown["second"] / "test/data.parquet").columns)
