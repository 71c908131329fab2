"""Local release history: an append-only log per environment, and the promotion lock.

``$MLOPS_HOME/<env>/release-history.jsonl`` gets one line per release or rollback and
is never rewritten (it is the local audit log, as git history is on Azure). The
current release stack is derived from it: a release pushes a version, a rollback
pops one, so rolling back twice walks two releases back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlops import settings
from mlops.errors import MlopsError

HISTORY_FILE = "release-history.jsonl"
LOCK_FILE = "promotion.lock"


@dataclass(frozen=True)
class HistoryEntry:
    action: str  # "release" or "rollback"
    version: int  # the version the environment runs after this entry
    at: str
    left: int | None = None  # the version a rollback replaced

    def to_json(self) -> str:
        return json.dumps(
            {"action": self.action, "version": self.version, "at": self.at, "left": self.left}
        )


def history_path(env: str) -> Path:
    return settings.store_dir(env) / HISTORY_FILE


def read_history(env: str) -> list[HistoryEntry]:
    """All entries, oldest first; a corrupt line is an error naming file and line."""
    path = history_path(env)
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            entry = HistoryEntry(
                action=str(raw["action"]),
                version=int(raw["version"]),
                at=str(raw["at"]),
                left=None if raw.get("left") is None else int(raw["left"]),
            )
        except (ValueError, KeyError, TypeError):
            raise MlopsError(f"{path}: line {number} is not a release history entry") from None
        if entry.action not in ("release", "rollback"):
            raise MlopsError(f"{path}: line {number}: unknown action {entry.action!r}")
        entries.append(entry)
    return entries


def release_stack(entries: list[HistoryEntry]) -> list[int]:
    """Versions released and not rolled back, oldest first; the last one is running."""
    stack: list[int] = []
    for entry in entries:
        if entry.action == "release":
            stack.append(entry.version)
        elif stack:
            stack.pop()
    return stack


def current_version(env: str) -> int | None:
    stack = release_stack(read_history(env))
    return stack[-1] if stack else None


def append_history(env: str, entry: HistoryEntry) -> None:
    path = history_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(entry.to_json() + "\n")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def promotion_lock() -> Iterator[None]:
    """Hold the one local promotion lock; a second promotion fails at once, changing nothing."""
    from filelock import FileLock, Timeout

    path = settings.mlops_home() / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise MlopsError(
            f"another promotion or rollback is running (lock {path} is held); nothing was changed"
        ) from None
    try:
        yield
    finally:
        lock.release()
