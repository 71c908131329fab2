"""Turn the Azure errors a user can cause into one line that says what to do.

Where they come from: DefaultAzureCredential raises ClientAuthenticationError when no
credential can get a token (azure-identity 1.27 azure/identity/_credentials/chained.py:
ChainedTokenCredential.get_token; CredentialUnavailableError, a subclass, from a single
credential). Azure ML's REST clients map 401 to ClientAuthenticationError, 404 to
ResourceNotFoundError and raise HttpResponseError for anything else, 403 included
(azure-ai-ml 1.35.2 azure/ai/ml/_restclient/arm_ml_service/operations/_operations.py,
``error_map`` + ``map_error``). ClientAuthenticationError and ResourceNotFoundError are
HttpResponseError subclasses (azure-core azure/core/exceptions.py), so the order of the
checks below matters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from mlops.aml_client import WorkspaceRef
from mlops.errors import MlopsError


def _short(exc: BaseException, limit: int = 240) -> str:
    text = str(getattr(exc, "message", None) or exc)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return first if len(first) <= limit else first[: limit - 3] + "..."


def explain(exc: BaseException, doing: str, ref: WorkspaceRef, not_found: str = "") -> str | None:
    """The one line for ``exc`` while ``doing``; None when it is not an Azure error we know."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
    )

    status = getattr(exc, "status_code", None)
    if isinstance(exc, ClientAuthenticationError) or status == 401:
        return (
            f"{doing}: not signed in to Azure ({_short(exc, 160)}); run `az login` "
            "(or use a managed or workload identity) and try again"
        )
    if isinstance(exc, HttpResponseError) and status == 403:
        return (
            f"{doing}: no access to workspace {ref.workspace} (resource group "
            f"{ref.resource_group}, subscription {ref.subscription_id}); ask for the "
            "'AzureML Data Scientist' role on it, or pick another workspace with "
            "--subscription/--resource-group/--workspace"
        )
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        hint = not_found or (
            "check the names in config-infra-<env>.yml (`mlops azure names --env ...`) or "
            "pass --subscription/--resource-group/--workspace"
        )
        return f"{doing}: not found ({_short(exc, 160)}); {hint}"
    if isinstance(exc, ServiceRequestError):
        return f"{doing}: cannot reach Azure ({_short(exc, 160)}); check the network or proxy"
    if isinstance(exc, HttpResponseError):
        return f"{doing}: Azure ML refused the request (HTTP {status}): {_short(exc)}"
    try:
        from azure.ai.ml.exceptions import MlException
    except ImportError:  # pragma: no cover - the SDK is a pinned dependency
        return None
    if isinstance(exc, MlException):
        return f"{doing}: {sdk_message(exc)}"
    return None


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sdk_message(exc: BaseException) -> str:
    """The gist of an SDK error. Validation at submit comes formatted for a terminal: colours,
    then one ``(x) <problem>`` line per problem under "Details:" (azure-ai-ml 1.35.2
    azure/ai/ml/_exception_helper.py:log_and_raise_error, format_create_validation_error)."""
    text = ANSI.sub("", str(getattr(exc, "message", None) or exc))
    details = [" ".join(m.split()) for m in re.findall(r"^\s*\(x\)\s*(.+)$", text, re.MULTILINE)]
    if details:
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        return f"invalid job: {details[0][:300]}{more}"
    return _short(ANSI.sub("", text))


def _is_auth(exc: BaseException | None) -> bool:
    from azure.core.exceptions import ClientAuthenticationError

    return isinstance(exc, ClientAuthenticationError)


@contextmanager
def azure_errors(doing: str, ref: WorkspaceRef, not_found: str = "") -> Iterator[None]:
    """Re-raise known Azure errors (also when wrapped in an MlopsError) as one-line MlopsErrors."""
    try:
        yield
    except MlopsError as exc:
        # A helper already said what failed; only a sign-in or access problem underneath is
        # worth restating, since the fix (az login, a role) is not in its message.
        cause = exc.__cause__
        if cause is None or not (
            _is_auth(cause) or getattr(cause, "status_code", None) in (401, 403)
        ):
            raise
        raise MlopsError(str(explain(cause, doing, ref, not_found))) from exc
    except Exception as exc:
        line = explain(exc, doing, ref, not_found)
        if line is None:
            raise
        raise MlopsError(line) from exc
