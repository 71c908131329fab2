"""Opening a local MLflow sqlite store safely: one creator at a time, never a stranger's file.

MLflow creates and migrates a sqlite store on first open; two processes doing that at
once race on the schema (one ends in an SQLAlchemy traceback). ``open_store`` makes
the first open under an exclusive lock beside the database, and refuses, with one
line, a file that is not an SQLite database: it never overwrites or repairs it.

Locks are ``flock`` locks on ``<db>.<purpose>.lock`` files: the kernel drops them when
their process dies, even by SIGKILL, so a killed run never leaves a lock that blocks
the next one (the empty lock file that stays behind holds nothing). Non-sqlite
tracking URIs (Azure ML's ``azureml://``) are left to their server.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from taxi_fare.errors import TaxiFareError

log = logging.getLogger(__name__)

SQLITE_PREFIX = "sqlite:///"
#: First 16 bytes of every SQLite 3 database (https://www.sqlite.org/fileformat.html 1.3.1).
SQLITE_HEADER = b"SQLite format 3\x00"
#: How long a second process waits for a lock before giving up with a clear message.
LOCK_TIMEOUT_S = 300.0
_POLL_S = 0.05


class StoreError(TaxiFareError):
    """A local MLflow store cannot be opened as it is."""


def sqlite_path(uri: str | None) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for any other URI."""
    if not uri or not uri.startswith(SQLITE_PREFIX):
        return None
    return Path(uri.removeprefix(SQLITE_PREFIX))


def check_database(path: Path) -> None:
    """Refuse a file that is not an SQLite database (a missing or empty one is new)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the MLflow store ({exc.strerror})") from None
    if not head:
        return
    problem = None if head == SQLITE_HEADER else "not an SQLite database"
    if problem is None:
        import sqlite3

        try:  # read-only: a damaged file is reported, never written to
            with contextlib.closing(
                sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            ) as db:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            problem = f"a damaged SQLite database ({exc})"
    if problem:
        raise StoreError(
            f"{path}: {problem}, so not a usable MLflow store; it was left untouched: "
            "restore it from a backup, or move it aside to start an empty store"
        )


@contextmanager
def file_lock(path: Path, what: str, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``, waiting up to ``timeout`` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{path}: still held by another process after {timeout:.0f} s ({what}); "
                        "retry when it has finished"
                    ) from None
                time.sleep(_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_path(database: Path, purpose: str) -> Path:
    return database.with_name(f"{database.name}.{purpose}.lock")


@contextmanager
def store_lock(uri: str | None, purpose: str) -> Iterator[bool]:
    """Exclusive lock named ``purpose`` on a sqlite store; yields False (no lock) elsewhere."""
    database = sqlite_path(uri)
    if database is None:
        yield False
        return
    with file_lock(lock_path(database, purpose), f"{purpose} of {database}"):
        yield True


def open_store(uri: str | None) -> None:
    """Make sure a sqlite store exists and is one: created (schema and all) by one process.

    Call before the first MLflow call on ``uri``. An existing database is only checked;
    a new one is created under the ``create`` lock, so a second process waits and then
    finds it made. Errors name the file and what to do.
    """
    database = sqlite_path(uri)
    if database is None:
        return
    check_database(database)
    from mlflow import MlflowClient

    # Also when the file exists: it may be one another process is still creating.
    with store_lock(uri, "create"):
        check_database(database)
        if database.is_file() and database.stat().st_size:
            return  # made by the process that held the lock before us
        database.parent.mkdir(parents=True, exist_ok=True)
        log.info("creating MLflow store %s", database)
        # Made beside its name and renamed into place: a creator killed mid-schema leaves
        # only the scratch file, which the next creator replaces.
        scratch = database.with_name(f".{database.name}.creating")
        scratch.unlink(missing_ok=True)
        try:
            # The tracking store creates every table (registry ones too) and stamps the schema.
            MlflowClient(tracking_uri=f"{SQLITE_PREFIX}{scratch}").search_experiments(max_results=1)
        except Exception as exc:  # MLflow and SQLAlchemy raise many types here
            raise StoreError(f"{database}: cannot create the MLflow store ({exc})") from None
        os.replace(scratch, database)


def ensure_experiment(client: object, uri: str | None, name: str, artifact_location: str) -> str:
    """Id of experiment ``name``, created if missing; two processes at once both get it.

    Without the lock both would miss it and the second ``create_experiment`` would fail
    with RESOURCE_ALREADY_EXISTS.
    """
    with store_lock(uri, "create"):
        found = client.get_experiment_by_name(name)  # type: ignore[attr-defined]
        if found is not None:
            return str(found.experiment_id)
        return str(client.create_experiment(name, artifact_location=artifact_location))  # type: ignore[attr-defined]
