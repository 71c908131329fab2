"""Follow an Azure ML job to a terminal state, within a timeout, surviving token expiry."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops.errors import MlopsError

log = logging.getLogger(__name__)

SUCCEEDED = "Completed"
# Azure ML terminal states other than success; each fails the pipeline step.
FAILED_STATES = frozenset({"Failed", "Canceled", "NotResponding"})
TERMINAL_STATES = FAILED_STATES | {SUCCEEDED}


@dataclass(frozen=True)
class WaitPolicy:
    """How long and how patiently to wait."""

    timeout_s: float
    poll_s: float = 30.0
    max_auth_refreshes: int = 3  # consecutive auth failures tolerated, each after a refresh
    max_transient_errors: int = 5  # consecutive network/5xx errors tolerated
    cancel_on_timeout: bool = True

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise MlopsError(f"--timeout-minutes must be positive, got {self.timeout_s / 60:g}")
        if self.poll_s <= 0:
            raise MlopsError(f"--poll-seconds must be positive, got {self.poll_s:g}")


def is_auth_error(exc: BaseException) -> bool:
    """An expired or rejected token (the refresh path), as opposed to any other failure."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if isinstance(exc, ClientAuthenticationError):
        return True
    return isinstance(exc, HttpResponseError) and getattr(exc, "status_code", None) == 401


def is_transient(exc: BaseException) -> bool:
    """Network hiccups and server-side errors worth another poll."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    status = getattr(exc, "status_code", None)
    return (
        isinstance(exc, HttpResponseError)
        and status is not None
        and (status >= 500 or status == 429)
    )


class JobWaiter:
    """Polls ``client.jobs.get(name).status``; ``refresh`` returns a client with a new credential.

    ``clock`` and ``sleep`` are injectable so tests run without waiting.
    """

    def __init__(
        self,
        client: Any,
        refresh: Callable[[], Any],
        policy: WaitPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.refresh = refresh
        self.policy = policy
        self.clock = clock
        self.sleep = sleep

    def _status(self, name: str) -> tuple[str, str]:
        job = self.client.jobs.get(name)
        return str(job.status), str(getattr(job, "studio_url", "") or "")

    def wait(self, name: str) -> str:
        """Return ``Completed`` or raise ``MlopsError`` naming the job and why."""
        deadline = self.clock() + self.policy.timeout_s
        last_status = ""
        auth_failures = transient_failures = 0
        while True:
            try:
                status, url = self._status(name)
                auth_failures = transient_failures = 0
            except Exception as exc:
                if is_auth_error(exc):
                    auth_failures += 1
                    if auth_failures > self.policy.max_auth_refreshes:
                        raise MlopsError(
                            f"job {name}: authentication still failing after "
                            f"{self.policy.max_auth_refreshes} token refreshes: {exc}"
                        ) from exc
                    log.info("job %s: token rejected (%s); refreshing the credential", name, exc)
                    self.client = self.refresh()
                    continue
                if is_transient(exc):
                    transient_failures += 1
                    if transient_failures > self.policy.max_transient_errors:
                        raise MlopsError(
                            f"job {name}: {transient_failures} consecutive errors reading its "
                            f"status, last: {exc}"
                        ) from exc
                    log.warning("job %s: transient error reading status (%s); retrying", name, exc)
                    status = ""
                else:
                    raise MlopsError(f"job {name}: cannot read its status: {exc}") from exc
            if status and status != last_status:
                log.info("job %s: %s %s", name, status, url)
                last_status = status
            if status == SUCCEEDED:
                return status
            if status in FAILED_STATES:
                raise MlopsError(f"job {name} ended {status}; see {url or 'Azure ML studio'}")
            if self.clock() >= deadline:
                self._on_timeout(name, last_status)
            self.sleep(min(self.policy.poll_s, max(deadline - self.clock(), 0.0)))

    def _on_timeout(self, name: str, status: str) -> None:
        minutes = self.policy.timeout_s / 60
        action = "left running"
        if self.policy.cancel_on_timeout:
            try:
                self.client.jobs.begin_cancel(name)
                action = "cancel requested"
            except Exception as exc:  # the timeout is the error to report; cancel is best effort
                log.warning("job %s: cancel after timeout failed: %s", name, exc)
                action = f"cancel failed ({exc})"
        raise MlopsError(
            f"job {name} still {status or 'unknown'} after {minutes:g} minutes ({action}); "
            "raise --timeout-minutes and the job's timeoutInMinutes together"
        )
