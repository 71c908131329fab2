"""Local release history: an append-only log per environment, and the promotion lock.

``$MLOPS_HOME/<env>/release-history.jsonl`` gets one line per release or rollback and
is never rewritten (it is the local audit log, as git history is on Azure). The
current release stack is derived from it: a release pushes a version, a rollback
pops one, so rolling back twice walks two releases back.

A release changes two files, the release file and the history. Before touching either,
``begin`` writes ``<env>/promotion-journal.json`` (written beside and renamed into place)
naming both changes; ``finish`` removes it once both are made. A promotion killed in
between leaves the journal, and the next promotion or rollback (under the same lock)
completes it first with ``pending``, so the two files never disagree for longer than a
killed run takes to be followed by another.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlops import settings
from mlops.errors import MlopsError

HISTORY_FILE = "release-history.jsonl"
LOCK_FILE = "promotion.lock"
JOURNAL_FILE = "promotion-journal.json"


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
        handle.write(entry.to_json() + "\n")  # one write: a kill leaves the line whole or absent


def journal_path(env: str) -> Path:
    return settings.store_dir(env) / JOURNAL_FILE


@dataclass(frozen=True)
class Journal:
    """A release in progress: the version the release file gets, the history entry to add."""

    env: str
    version: int | None
    entry: HistoryEntry | None


def begin(env: str, version: int | None, entry: HistoryEntry | None) -> Journal:
    """Record the intent durably before the release file or the history change."""
    path = journal_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"version": version, "entry": None if entry is None else json.loads(entry.to_json())}
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(payload) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return Journal(env, version, entry)


def pending(env: str) -> Journal | None:
    """The journal a killed promotion left behind, if any; an unreadable one is an error."""
    path = journal_path(env)
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entry = raw["entry"]
        return Journal(
            env,
            None if raw["version"] is None else int(raw["version"]),
            None
            if entry is None
            else HistoryEntry(
                str(entry["action"]),
                int(entry["version"]),
                str(entry["at"]),
                None if entry.get("left") is None else int(entry["left"]),
            ),
        )
    except (ValueError, KeyError, TypeError):
        raise MlopsError(
            f"{path}: unreadable promotion journal; compare the release file with "
            f"{history_path(env)} by hand, then delete it"
        ) from None


def record(journal: Journal) -> None:
    """Add the journal's history entry unless the history already ends with it (idempotent)."""
    if journal.entry is None:
        return
    entries = read_history(journal.env)
    if not entries or entries[-1] != journal.entry:
        append_history(journal.env, journal.entry)


def finish(journal: Journal) -> None:
    journal_path(journal.env).unlink(missing_ok=True)


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
