"""JobWaiter: terminal states, token refresh, transient errors and the timeout, without waiting."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

from mlops.azure.jobs import JobWaiter, WaitPolicy
from mlops.errors import MlopsError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeJobs:
    """Plays back statuses; an Exception in the script is raised instead of returned."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.cancelled: list[str] = []

    def get(self, name: str) -> SimpleNamespace:
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        return SimpleNamespace(status=item, studio_url=f"https://ml.azure.com/runs/{name}")

    def begin_cancel(self, name: str) -> None:
        self.cancelled.append(name)


def _waiter(script: list[Any], timeout_s: float = 600, refresh: Any = None) -> tuple:
    clock = FakeClock()
    client = SimpleNamespace(jobs=FakeJobs(script))
    policy = WaitPolicy(timeout_s=timeout_s, poll_s=30)
    waiter = JobWaiter(client, refresh or (lambda: client), policy, clock=clock, sleep=clock.sleep)
    return waiter, client, clock


def _http(status: int) -> HttpResponseError:
    error = HttpResponseError(message=f"status {status}")
    error.status_code = status
    return error


def test_follows_a_job_to_completion() -> None:
    waiter, _, clock = _waiter(["NotStarted", "Running", "Running", "Completed"])
    assert waiter.wait("job-1") == "Completed"
    assert clock.sleeps == [30, 30, 30]


@pytest.mark.parametrize("state", ["Failed", "Canceled", "NotResponding"])
def test_a_failed_or_cancelled_job_fails_the_step(state: str) -> None:
    waiter, _, _ = _waiter(["Running", state])
    with pytest.raises(MlopsError, match=f"job job-1 ended {state}"):
        waiter.wait("job-1")


def test_token_expiry_refreshes_the_client_and_carries_on() -> None:
    fresh = SimpleNamespace(jobs=FakeJobs(["Completed"]))
    refreshed: list[int] = []

    def refresh() -> SimpleNamespace:
        refreshed.append(1)
        return fresh

    waiter, _, _ = _waiter(["Running", ClientAuthenticationError("token expired")], refresh=refresh)
    assert waiter.wait("job-1") == "Completed"
    assert refreshed == [1]


def test_auth_failing_after_every_refresh_is_an_error() -> None:
    stale = SimpleNamespace(jobs=FakeJobs([_http(401)]))
    waiter, _, _ = _waiter([_http(401)], refresh=lambda: stale)
    with pytest.raises(MlopsError, match="authentication still failing after 3 token refreshes"):
        waiter.wait("job-1")


def test_transient_errors_are_retried_then_given_up() -> None:
    waiter, _, _ = _waiter([ServiceRequestError("reset"), _http(503), "Completed"])
    assert waiter.wait("job-1") == "Completed"
    waiter, _, _ = _waiter([_http(500)])
    with pytest.raises(MlopsError, match="6 consecutive errors"):
        waiter.wait("job-1")


def test_a_client_error_is_not_retried() -> None:
    waiter, _, clock = _waiter([_http(404)])
    with pytest.raises(MlopsError, match="cannot read its status"):
        waiter.wait("job-1")
    assert clock.sleeps == []


def test_timeout_cancels_the_job_and_says_which_limit_to_raise() -> None:
    waiter, client, clock = _waiter(["Running"], timeout_s=90)
    with pytest.raises(MlopsError, match=r"still Running after 1\.5 minutes \(cancel requested\)"):
        waiter.wait("job-1")
    assert client.jobs.cancelled == ["job-1"]
    assert clock.now == 90


def test_policy_refuses_nonsense_limits() -> None:
    with pytest.raises(MlopsError, match="--timeout-minutes must be positive"):
        WaitPolicy(timeout_s=0)
    with pytest.raises(MlopsError, match="--poll-seconds must be positive"):
        WaitPolicy(timeout_s=60, poll_s=0)
