"""Create an online or batch endpoint if it is missing; never re-apply its spec blindly.

An endpoint spec does not carry the endpoint's live state: an online endpoint's
``traffic`` (owned by ``mlops rollout azure``) and a batch endpoint's
``defaults.deployment_name`` (set by the create-deployment template). Re-applying the
file with ``az ml <kind>-endpoint update --file`` PUTs the entity built from the file
alone, so the live state is overwritten with empty values:

- azure-cli-extensions src/machinelearningservices/azext_mlv2/manual/custom/online_endpoint.py:
  ``ml_online_endpoint_update`` PUTs ``parameters``, which ``_ml_online_endpoint_show``
  builds with ``load_online_endpoint(source=file)`` when ``--file`` is given.
- azure-ai-ml 1.35.2 azure/ai/ml/entities/_endpoint/online_endpoint.py:
  ``OnlineEndpoint.__init__`` (``self.traffic = dict(traffic) if traffic else {}``) and
  ``_to_rest_online_endpoint`` (sends that ``traffic``).

So a live endpoint is left alone. When its settings (description, auth mode, tags)
really must follow the spec, ``apply_settings`` PUTs the spec with the live traffic,
mirror traffic and batch defaults copied in, so nothing the rollout owns moves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError

log = logging.getLogger(__name__)

KINDS = ("online", "batch")
# Settings the spec owns; everything else on a live endpoint is live state or Azure's.
SETTINGS = ("description", "auth_mode", "tags")
# Live state a PUT must carry back, per kind.
LIVE_STATE = {"online": ("traffic", "mirror_traffic"), "batch": ("defaults",)}


def load_endpoint(kind: str, spec: Path, name: str) -> Any:
    """The endpoint entity of ``spec`` under ``name`` (the SDK loaders, as the CLI uses)."""
    from azure.ai.ml import load_batch_endpoint, load_online_endpoint

    if not spec.is_file():
        raise MlopsError(f"{spec}: endpoint spec not found")
    loader = load_online_endpoint if kind == "online" else load_batch_endpoint
    return loader(source=str(spec), params_override=[{"name": name}])


def _operations(client: Any, kind: str) -> Any:
    return client.online_endpoints if kind == "online" else client.batch_endpoints


def _not_found(exc: BaseException) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError)


def _normalised(name: str, value: Any) -> Any:
    if name == "tags":
        return {str(k): str(v) for k, v in (value or {}).items()}
    if name == "auth_mode" and isinstance(value, str):
        return value.lower()
    return value or None


def settings_drift(wanted: Any, live: Any) -> dict[str, tuple[Any, Any]]:
    """Spec settings whose live value differs: name -> (live, spec)."""
    drift = {}
    for name in SETTINGS:
        spec_value = _normalised(name, getattr(wanted, name, None))
        live_value = _normalised(name, getattr(live, name, None))
        if spec_value != live_value:
            drift[name] = (live_value, spec_value)
    return drift


def ensure_endpoint(
    client: Any,
    kind: str,
    spec: Path,
    name: str,
    *,
    apply_settings: bool = False,
    load: Callable[[str, Path, str], Any] = load_endpoint,
) -> str:
    """``created``, ``exists`` (left as it is) or ``updated`` (settings, live state kept)."""
    if kind not in KINDS:
        raise MlopsError(f"endpoint kind {kind!r}: expected one of {', '.join(KINDS)}")
    ops = _operations(client, kind)
    try:
        live = ops.get(name)
    except Exception as exc:
        if not _not_found(exc):
            raise MlopsError(f"{kind} endpoint {name}: cannot look it up: {exc}") from exc
        live = None
    wanted = load(kind, spec, name)
    if live is None:
        ops.begin_create_or_update(wanted).result()
        log.info("%s endpoint %s created from %s", kind, name, spec)
        return "created"
    drift = settings_drift(wanted, live)
    if not drift:
        log.info("%s endpoint %s exists and matches %s; unchanged", kind, name, spec)
        return "exists"
    shown = "; ".join(f"{k}: live {v[0]!r}, spec {v[1]!r}" for k, v in sorted(drift.items()))
    if not apply_settings:
        log.warning(
            "%s endpoint %s differs from %s (%s); left as it is: pass --apply-settings to "
            "update these settings (live traffic is kept)",
            kind,
            name,
            spec,
            shown,
        )
        return "exists"
    for field in LIVE_STATE[kind]:
        setattr(wanted, field, getattr(live, field, None))
    ops.begin_create_or_update(wanted).result()
    log.info("%s endpoint %s settings updated (%s); live state kept", kind, name, shown)
    return "updated"
