"""Blue/green rollout: the pure decisions, the loop, and the local twin with real servers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import requests

from mlops.cli import main
from mlops.endpoints.local_endpoint import LocalEndpoint, TrafficSplitter
from mlops.endpoints.rollout import (
    Plan,
    RolloutError,
    decide,
    parse_traffic,
    plan_rollout,
    run_rollout,
)
from mlops.endpoints.smoke import SmokeResult
from tests.endpoint_models import SAMPLES

STEPS = (10, 50, 100)


# Pure decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"blue": 100, "green": 0}', {"blue": 100, "green": 0}),
        ("blue=90, green=10", {"blue": 90, "green": 10}),
        ("", {}),
        ("{}", {}),
    ],
)
def test_parse_traffic_accepts_az_json_and_pairs(text: str, expected: dict[str, int]) -> None:
    assert parse_traffic(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("{blue: 100", "not valid JSON"), ("blue", "not colour=percent"), ("blue=all", "'all'")],
)
def test_parse_traffic_refuses_garbage(text: str, fragment: str) -> None:
    with pytest.raises(RolloutError, match=fragment):
        parse_traffic(text)


def test_plan_moves_new_version_to_the_idle_colour_in_steps() -> None:
    plan = plan_rollout({"blue": 100, "green": 0}, STEPS)
    assert (plan.live, plan.target) == ("blue", "green")
    assert plan.before == {"blue": 100, "green": 0}
    assert plan.stages == (
        {"green": 10, "blue": 90},
        {"green": 50, "blue": 50},
        {"green": 100, "blue": 0},
    )


def test_plan_from_green_targets_blue() -> None:
    plan = plan_rollout({"green": 100}, (25, 100))
    assert (plan.live, plan.target) == ("green", "blue")
    assert plan.stages == ({"blue": 25, "green": 75}, {"blue": 100, "green": 0})


def test_first_deployment_goes_to_blue_in_one_step() -> None:
    plan = plan_rollout({}, STEPS)
    assert plan == Plan(live=None, target="blue", before={}, stages=({"blue": 100},))


@pytest.mark.parametrize(
    ("traffic", "fragment"),
    [
        ({"blue": 50, "green": 50}, "traffic is split"),
        ({"blue": 100, "canary": 0}, "deployments canary"),
        ({"blue": 60}, "adds up to 60%"),
        ({"blue": 120, "green": -20}, "outside 0..100"),
    ],
)
def test_plan_refuses_endpoints_a_rollout_cannot_start_from(
    traffic: dict[str, int], fragment: str
) -> None:
    with pytest.raises(RolloutError, match=fragment):
        plan_rollout(traffic, STEPS)


@pytest.mark.parametrize(
    ("steps", "fragment"),
    [
        ((), "empty"),
        ((50, 10, 100), "strictly increasing"),
        ((10, 50), "must end at 100"),
        ((0, 100), "from 1 to 100"),
    ],
)
def test_plan_refuses_bad_steps(steps: tuple[int, ...], fragment: str) -> None:
    with pytest.raises(RolloutError, match=fragment):
        plan_rollout({"blue": 100}, steps)


def test_decide_shifts_after_each_pass_and_finishes_at_the_last_step() -> None:
    plan = plan_rollout({"blue": 100}, STEPS)
    first = decide(plan, 0, True)
    assert (first.action, first.traffic) == ("shift", {"green": 10, "blue": 90})
    assert decide(plan, 2, True).traffic == {"green": 100, "blue": 0}
    done = decide(plan, 3, True)
    assert (done.action, done.traffic) == ("done", {"green": 100, "blue": 0})


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_decide_rolls_back_to_the_traffic_before_on_any_failure(stage: int) -> None:
    plan = plan_rollout({"blue": 100}, STEPS)
    decision = decide(plan, stage, False, "HTTP 500")
    assert decision.action == "rollback"
    assert decision.traffic == {"blue": 100}
    assert "HTTP 500" in decision.reason


def test_decide_refuses_a_stage_outside_the_plan() -> None:
    with pytest.raises(RolloutError, match=r"outside 0..3"):
        decide(plan_rollout({"blue": 100}, STEPS), 4, True)


# The loop, against an in-memory endpoint --------------------------------------------------


class MemoryEndpoint:
    """An executor that records every call; ``fail_at`` makes a smoke test fail."""

    def __init__(
        self,
        traffic: dict[str, int],
        fail_at: tuple[int, str | None] | None = None,
        deploy_error: bool = False,
        traffic_error_at: int | None = None,
    ) -> None:
        self.current = dict(traffic)
        self.fail_at = fail_at
        self.deploy_error = deploy_error
        self.traffic_error_at = traffic_error_at
        self.history: list[dict[str, int]] = []
        self.deployed: list[str] = []
        self.stage = 0

    def traffic(self) -> dict[str, int]:
        return dict(self.current)

    def deploy(self, colour: str) -> None:
        if self.deploy_error:
            raise RuntimeError("quota exceeded")
        self.deployed.append(colour)

    def set_traffic(self, traffic: Mapping[str, int]) -> None:
        if self.traffic_error_at is not None and len(self.history) == self.traffic_error_at:
            self.traffic_error_at = None
            raise RuntimeError("conflict")
        self.current = dict(traffic)
        self.history.append(dict(traffic))
        self.stage += 1

    def smoke(self, colour: str | None) -> SmokeResult:
        ok = self.fail_at != (self.stage, colour)
        return SmokeResult(url="mem", ok=ok, reason="" if ok else "HTTP 500: boom")


def test_rollout_walks_every_step_when_smoke_tests_pass() -> None:
    endpoint = MemoryEndpoint({"blue": 100, "green": 0})
    outcome = run_rollout(endpoint, STEPS)
    assert outcome.ok
    assert endpoint.deployed == ["green"]
    assert [h["green"] for h in endpoint.history] == [10, 50, 100]
    assert outcome.traffic == {"green": 100, "blue": 0}


@pytest.mark.parametrize(
    ("fail_at", "shifts"),
    [((0, "green"), 0), ((1, "green"), 1), ((2, None), 2), ((3, "green"), 3)],
)
def test_rollout_restores_traffic_at_the_first_failed_smoke_test(
    fail_at: tuple[int, str | None], shifts: int
) -> None:
    endpoint = MemoryEndpoint({"blue": 100, "green": 0}, fail_at=fail_at)
    outcome = run_rollout(endpoint, STEPS)
    assert not outcome.ok
    assert len(endpoint.history) == shifts + 1  # the shifts made, then the restore
    assert endpoint.history[-1] == {"blue": 100, "green": 0}
    assert endpoint.current == {"blue": 100, "green": 0}
    assert "HTTP 500: boom" in outcome.reason


def test_failed_deploy_leaves_the_live_colour_serving() -> None:
    endpoint = MemoryEndpoint({"blue": 100, "green": 0}, deploy_error=True)
    outcome = run_rollout(endpoint, STEPS)
    assert not outcome.ok
    assert "quota exceeded" in outcome.reason
    assert endpoint.history == [{"blue": 100, "green": 0}]


def test_failed_traffic_change_rolls_back() -> None:
    endpoint = MemoryEndpoint({"blue": 100, "green": 0}, traffic_error_at=1)
    outcome = run_rollout(endpoint, STEPS)
    assert not outcome.ok
    assert "setting traffic failed: conflict" in outcome.reason
    assert endpoint.current == {"blue": 100, "green": 0}


def test_a_rollback_that_fails_is_reported_loudly() -> None:
    class Stuck(MemoryEndpoint):
        def set_traffic(self, traffic: Mapping[str, int]) -> None:
            if traffic.get("green", 0) == 0:
                raise RuntimeError("endpoint locked")
            super().set_traffic(traffic)

    endpoint = Stuck({"blue": 100, "green": 0}, fail_at=(1, "green"))
    with pytest.raises(RolloutError, match=r"restoring traffic .* ALSO failed"):
        run_rollout(endpoint, STEPS)


def test_router_splits_by_weight_and_honours_the_deployment_header() -> None:
    router = TrafficSplitter()
    router.backends = {"blue": "http://b", "green": "http://g"}
    router.set_traffic({"blue": 90, "green": 10})
    picks = [router.pick(None) for _ in range(100)]
    assert picks.count("green") == 10 and picks.count("blue") == 90
    assert router.pick("green") == "green"
    assert router.pick("purple") is None


# The local twin: two real servers behind the router ---------------------------------------


class CrashingGreen(LocalEndpoint):
    """The new colour's server dies as soon as it takes traffic (a crash under load)."""

    crash = False

    def set_traffic(self, traffic: Mapping[str, int]) -> None:
        super().set_traffic(traffic)
        if self.crash and traffic.get("green", 0) > 0:
            self.servers["green"].stop()


@pytest.fixture(scope="module")
def endpoint(
    models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CrashingGreen]:
    """A local endpoint whose blue serves the good model with all traffic; always stopped."""
    ep = CrashingGreen(log_dir=tmp_path_factory.mktemp("rollout-logs"), latency_ms=5000)
    try:
        ep.start()
        ep.deploy_model("blue", models["good"])
        ep.set_traffic({"blue": 100})
        yield ep
    finally:
        ep.stop()


def _score(url: str, colour: str | None = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if colour:
        headers["azureml-model-deployment"] = colour
    body = (SAMPLES / "sample-records.json").read_text()
    return requests.post(url, data=body, headers=headers, timeout=30)


def _endpoint_predictions(ep: LocalEndpoint, n: int = 10) -> set[float]:
    return {round(_score(ep.score_url).json()[0], 6) for _ in range(n)}


@pytest.mark.e2e
def test_nan_model_never_takes_traffic(endpoint: CrashingGreen, models: dict[str, Path]) -> None:
    before = _endpoint_predictions(endpoint)
    endpoint.next_model = models["nan"]
    outcome = run_rollout(endpoint, STEPS)
    assert not outcome.ok
    assert outcome.traffic == {"blue": 100}
    assert endpoint.traffic() == {"blue": 100}
    assert outcome.log[1].startswith("stage 0: rollback")  # failed at 0% traffic
    assert _endpoint_predictions(endpoint) == before
    # The broken colour answers a model fault as JSON 500, never with NaN in the body.
    direct = _score(endpoint.score_url, "green")
    assert direct.status_code == 500
    assert direct.json()["message"].startswith("scoring failed: model returned a non-finite")


@pytest.mark.e2e
def test_crash_after_taking_traffic_puts_traffic_back(
    endpoint: CrashingGreen, models: dict[str, Path]
) -> None:
    before = _endpoint_predictions(endpoint)
    endpoint.next_model = models["shifted"]
    endpoint.crash = True
    try:
        outcome = run_rollout(endpoint, STEPS)
    finally:
        endpoint.crash = False
    assert not outcome.ok
    assert outcome.log[1].startswith("stage 0: shift")  # passed at 0%, took 10%, then died
    assert outcome.log[2].startswith("stage 1: rollback")
    assert endpoint.traffic() == {"blue": 100}
    assert _endpoint_predictions(endpoint) == before


@pytest.mark.e2e
def test_healthy_new_version_takes_all_traffic(
    endpoint: CrashingGreen, models: dict[str, Path]
) -> None:
    old = _endpoint_predictions(endpoint)
    endpoint.next_model = models["shifted"]
    outcome = run_rollout(endpoint, STEPS)
    assert outcome.ok, outcome.verdict()
    assert endpoint.traffic() == {"green": 100, "blue": 0}
    new = _endpoint_predictions(endpoint)
    assert len(old) == len(new) == 1
    assert new.pop() == pytest.approx(old.pop() + 1.0, abs=1e-3)  # shifted = good + 1 USD
    # Next rollout would go back to blue, the idle colour.
    assert (
        json.loads(json.dumps(plan_rollout(endpoint.traffic(), STEPS).to_dict()))["target"]
        == "blue"
    )


# The CLI ------------------------------------------------------------------------------------


def test_rollout_plan_cli_prints_json(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    release = tmp_path / "prod.yml"
    release.write_text(
        "model:\n  name: taxi-fare\n  version: 3\n  registry: mlr-taxifare-0001\n"
        "rollout:\n  steps: [20, 100]\n  latency_ms: 300\n"
    )
    main(["rollout", "plan", "--traffic", '{"green": 100, "blue": 0}', "--release", str(release)])
    plan = json.loads(capsys.readouterr().out)
    assert plan["target"] == "blue"
    assert plan["stages"] == [{"blue": 20, "green": 80}, {"blue": 100, "green": 0}]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["rollout", "plan", "--traffic", "blue=50,green=50", "--steps", "10,100"], "split"),
        (["rollout", "plan", "--traffic", "blue=100", "--steps", "10,x"], "--steps '10,x'"),
        (["rollout", "plan", "--traffic", "blue=100"], "give --release FILE or --steps"),
    ],
)
def test_rollout_cli_errors_are_one_line(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and fragment in err and "\n" not in err


def test_rollout_azure_refuses_a_release_without_a_version(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    release = tmp_path / "stage.yml"
    release.write_text(
        "model:\n  name: taxi-fare\n  version: null\n  registry: mlr-taxifare-0001\n"
        "rollout:\n  steps: [10, 100]\n  latency_ms: 500\n"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["rollout", "azure", "--endpoint", "ep-x", "--release", str(release)])
    assert exit_info.value.code == 1
    assert "model taxi-fare has no released version yet" in capsys.readouterr().err
