"""The champion/challenger gate as a pure function, and decision.json reading (fail closed)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from taxi_fare.gate import GateError, GatePolicy, decide, fail_closed
from taxi_fare.step_files import StepFileError, read_decision, write_decision

CHAMPION = {
    "root_mean_squared_error": 3.0,
    "mean_absolute_error": 2.0,
    "r2_score": 0.90,
    "mean_absolute_percentage_error": 0.10,
}


def better(**changes: float) -> dict[str, float]:
    return {**CHAMPION, **changes}


def test_first_model_is_promoted_as_bootstrap() -> None:
    decision = decide(CHAMPION, None, GatePolicy())
    assert decision.promote is True and decision.would_promote is True
    assert "bootstrap" in decision.reason
    assert decision.champion is None and decision.champion_version is None


def test_identical_challenger_is_not_promoted() -> None:
    decision = decide(dict(CHAMPION), CHAMPION, GatePolicy(), champion_version=4)
    assert decision.promote is False
    assert "champion version 4" in decision.reason and "not better" in decision.reason


def test_float_noise_is_not_an_improvement() -> None:
    """The same forest can score a few ulps apart (threaded tree sums): still not better."""
    noisy = better(root_mean_squared_error=3.0 - 4e-16)
    assert decide(noisy, CHAMPION, GatePolicy()).promote is False


def test_worse_challenger_is_refused() -> None:
    decision = decide(better(root_mean_squared_error=3.5), CHAMPION, GatePolicy(), 1)
    assert decision.promote is False
    assert "3.5000 is not better than the champion's 3.0000" in decision.reason


def test_better_challenger_is_promoted() -> None:
    decision = decide(better(root_mean_squared_error=2.7), CHAMPION, GatePolicy(), 2)
    assert decision.promote is True
    primary = decision.checks[0]
    assert primary["metric"] == "root_mean_squared_error"
    assert primary["improvement"] == pytest.approx(0.3)
    assert primary["relative_improvement"] == pytest.approx(0.1)


def test_zero_champion_keeps_the_decision_finite(tmp_path: Path) -> None:
    decision = decide(
        better(r2_score=0.1), better(r2_score=0.0), GatePolicy(primary_metric="r2_score")
    )
    assert decision.promote and decision.checks[0]["relative_improvement"] == 1.0
    write_decision(decision, tmp_path)
    json.loads((tmp_path / "decision.json").read_text(), parse_constant=pytest.fail)


def test_minimum_improvements() -> None:
    challenger = better(root_mean_squared_error=2.9)
    assert not decide(challenger, CHAMPION, GatePolicy(min_improvement=0.2)).promote
    assert decide(challenger, CHAMPION, GatePolicy(min_improvement=0.05)).promote
    refused = decide(challenger, CHAMPION, GatePolicy(min_relative_improvement=0.05))
    assert not refused.promote and "min_relative_improvement" in refused.reason


def test_guardrail_blocks_a_better_primary() -> None:
    challenger = better(root_mean_squared_error=2.5, mean_absolute_error=2.2)
    refused = decide(challenger, CHAMPION, GatePolicy(guardrail_tolerance=0.05))
    assert not refused.promote
    assert "guardrail mean_absolute_error worsens from 2.0000 to 2.2000" in refused.reason
    assert decide(challenger, CHAMPION, GatePolicy(guardrail_tolerance=0.15)).promote


def test_higher_is_better_primary() -> None:
    policy = GatePolicy(primary_metric="r2_score")
    assert decide(better(r2_score=0.92), CHAMPION, policy).promote
    assert not decide(better(r2_score=0.88), CHAMPION, policy).promote
    assert policy.to_dict()["direction"] == "higher_is_better"


def test_dry_run_records_the_verdict_but_never_promotes() -> None:
    policy = GatePolicy(mode="dry_run")
    good = decide(better(root_mean_squared_error=2.0), CHAMPION, policy)
    assert good.promote is False and good.would_promote is True
    assert good.reason.startswith("dry_run") and "enforce would promote" in good.reason
    assert decide(CHAMPION, None, policy).promote is False


def test_off_promotes_and_says_what_enforce_would_do() -> None:
    decision = decide(better(root_mean_squared_error=9.0), CHAMPION, GatePolicy(mode="off"))
    assert decision.promote is True and decision.would_promote is False
    assert "enforce would refuse" in decision.reason


def test_fail_closed() -> None:
    decision = fail_closed(CHAMPION, GatePolicy(mode="off"), "champion cannot be loaded", 3)
    assert decision.promote is False and decision.reason.startswith("fail closed")


def test_bad_policy_and_metrics() -> None:
    with pytest.raises(GateError, match="gate_mode: 'strict'"):
        GatePolicy(mode="strict")
    with pytest.raises(GateError, match="'accuracy'"):
        GatePolicy(primary_metric="accuracy")
    with pytest.raises(GateError, match="min_improvement: -1"):
        GatePolicy(min_improvement=-1)
    with pytest.raises(GateError, match="challenger metrics: 'r2_score' is nan"):
        decide(better(r2_score=float("nan")), None, GatePolicy())


def test_decision_round_trip(tmp_path: Path) -> None:
    decision = replace(
        decide(better(root_mean_squared_error=2.0), CHAMPION, GatePolicy(), 5),
        challenger_model_uuid="abc",
    )
    write_decision(decision, tmp_path)
    assert read_decision(tmp_path) == decision
    assert read_decision(tmp_path / "decision.json") == decision  # the file itself, too
    data = json.loads((tmp_path / "decision.json").read_text())
    assert data["promote"] is True and data["champion_version"] == 5
    assert list(data)[-1] == "challenger_model_uuid"  # where evaluate has always put it


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "decision file not found"),
        ("{not json", "not readable JSON"),
        ("[]", "must hold a JSON object, got list"),
        (
            '{"promote": "true", "reason": "x", "mode": "enforce"}',
            "key 'promote' must be true or false, got 'true'",
        ),
        ('{"promote": true, "reason": "", "mode": "enforce"}', "'reason' must be a non-empty"),
        ('{"promote": true, "reason": "x", "mode": "strict"}', "'mode' must be one of enforce"),
        ('{"promote": true, "reason": "x", "mode": "enforce"}', "key 'challenger' is missing"),
        (
            '{"promote": true, "reason": "x", "mode": "enforce", "challenger": {"r2_score": 1}}',
            "key 'challenger.root_mean_squared_error' is missing",
        ),
    ],
)
def test_unreadable_decision_is_refused(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "decision.json").write_text(content)
    with pytest.raises(StepFileError, match=message) as info:
        read_decision(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'decision.json'}: ")
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("champion_version", "2", "key 'champion_version' must be an integer or null, got '2'"),
        ("champion_version", True, "'champion_version' must be an integer or null, got True"),
        ("policy", None, "key 'policy' must be a JSON object, got None"),
        ("split", [1], "key 'split' must be a JSON object, got [1]"),
        ("champion", {"r2_score": "x"}, "key 'champion.root_mean_squared_error' is missing"),
        ("judged_rows", -1, "key 'judged_rows' must be an integer >= 0 or null, got -1"),
        ("challenger_model_uuid", 7, "key 'challenger_model_uuid' must be a string or null"),
    ],
)
def test_a_wrong_field_of_a_written_decision_is_named(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    path = write_decision(decide(CHAMPION, CHAMPION, GatePolicy(), 2), tmp_path)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, key: value}))
    with pytest.raises(StepFileError, match=re.escape(message)):
        read_decision(path)


def test_decision_json_is_plain_json(tmp_path: Path) -> None:
    write_decision(decide(CHAMPION, None, GatePolicy()), tmp_path)
    data = json.loads((tmp_path / "decision.json").read_text())
    assert data["policy"]["primary_metric"] == "root_mean_squared_error"
    assert data["policy"]["direction"] == "lower_is_better"
